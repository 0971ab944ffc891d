"""The one sentence splitter: index units, answer verification and follow-ups.

Punkt (Kiss & Strunk 2006, nltk) with its English model is the field's
standard unsupervised splitter: its learned abbreviation list (u.s, dr, mr,
jan, gen, ...) and orthographic statistics tell "U.S. Trade Representative"
from "moved to the U.S. He". llama-index ships the model (punkt_tab) inside
its package, so nothing is downloaded at run time. An *untrained* punkt
(what llama-index's `globals_helper.punkt_tokenizer` is) knows no
abbreviation and cut "U.S." off its sentence. Three small rules on top glue
what punkt still cuts too eagerly: a piece starting in lowercase ("e.g.
apples"), a bare section number ("2.1."), and "No. 1" / "Vol. 3".
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nltk.tokenize.punkt import PunktSentenceTokenizer

# Abbreviations that precede a number ("No. 1", "pp. 4-5"): punkt's model
# lacks "no" on purpose (it ends sentences too), so glue only before a digit.
_NUMBER_ABBREV = re.compile(r"\b(?:No|Nos|Vol|Vols|Fig|Figs|Art|Arts|Ch|Sec|Pt|p|pp|no|nos|vol|fig|art|ch|sec)\.$")
_SECTION_NUMBER = re.compile(r"\d{1,2}(?:\.\d{1,2})*\.?")


@lru_cache(maxsize=1)
def _punkt() -> PunktSentenceTokenizer:
    if "nltk" in sys.modules:  # already paid for (indexing imports it)
        return _english()
    # nltk's package __init__ imports all of nltk, scikit-learn and scipy
    # included (nltk.classify): 1.3 s and both libraries on the first answer,
    # for a tokenizer that needs none of it. So punkt is loaded under a bare
    # stand-in for the package and sys.modules is then put back as it was:
    # a later `import nltk` still gets the real package, whole.
    before = set(sys.modules)
    spec = importlib.util.find_spec("nltk")
    if spec is None or not spec.submodule_search_locations:
        return _english()
    package = types.ModuleType("nltk")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    sys.modules["nltk"] = package
    try:
        return _english()  # the model is read inside the window too (nltk.data)
    finally:
        for name in set(sys.modules) - before:
            if name == "nltk" or name.startswith("nltk."):
                del sys.modules[name]


def _english() -> PunktSentenceTokenizer:
    """Punkt with its English model, from the folder llama-index-core ships
    (found without importing llama-index)."""
    import nltk.data
    from nltk.tokenize.punkt import PunktTokenizer

    spec = importlib.util.find_spec("llama_index.core")
    if spec and spec.origin:
        cache = str(Path(spec.origin).parent / "_static" / "nltk_cache")
        if cache not in nltk.data.path:
            nltk.data.path.append(cache)
    return PunktTokenizer("english")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`, in order, whitespace
    between them left out. Newlines are not boundaries by themselves: callers
    that treat lines as units split lines first."""
    spans: list[list[int]] = []
    for s, e in _punkt().span_tokenize(text):
        if spans and _continues(text[spans[-1][0] : spans[-1][1]], text[s:e]):
            spans[-1][1] = e
        else:
            spans.append([s, e])
    return [(s, e) for s, e in spans]


def _continues(previous: str, piece: str) -> bool:
    """Is `piece` the rest of the sentence `previous` was cut from?"""
    return (
        piece[:1].islower()
        or bool(_SECTION_NUMBER.fullmatch(previous))
        or (piece[:1].isdigit() and bool(_NUMBER_ABBREV.search(previous)))
    )


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` (see `sentence_spans`)."""
    return [text[s:e] for s, e in sentence_spans(text)]
