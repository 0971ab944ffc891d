"""Citations: parse `[n]` markers and check that a cited span supports a claim.

The support check is local (no LLM): the claim's numbers and names must occur
in the cited text, and the claim must be close to it in meaning (MiniLM
cosine) or in words (share of the claim's content terms found). The eval
harness scores citation precision with it; LLM answers are verified with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.text.names import claim_names
from assistant.text.sentences import sentence_spans
from assistant.text.tokens import tokenize

# Claim-to-span thresholds: close in meaning, or in words.
MIN_SEMANTIC = 0.6
MIN_LEXICAL = 0.6

_MARKER = re.compile(r"\s*((?:\[\d+(?:\s*,\s*\d+)*\])+)")
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")


def markers(text: str) -> list[int]:
    """Every citation number in `text`, in order: `[1]`, `[1, 2]`, `[1][3]`."""
    return [int(n) for group in re.findall(r"\[(\d+(?:\s*,\s*\d+)*)\]", text) for n in re.split(r"\s*,\s*", group)]


def strip_markers(text: str) -> str:
    return re.sub(r"\s+([.!?,;:])", r"\1", _MARKER.sub("", text)).strip()


# Markers that open a sentence belong to the one before ("Two. [2] Three").
_LEADING_MARKERS = re.compile(r"\s*(?:\[\d+(?:\s*,\s*\d+)*\]\s*)+")
_WORD = re.compile(r"\w")


def split_sentences(text: str, final: bool = True) -> tuple[list[str], str]:
    """Complete sentences of `text` (the package's one splitter, see
    `assistant.text.sentences`; markers after a full stop stay with their
    sentence) and the unfinished rest. With `final`, the rest is a sentence
    too; without it (streaming), a sentence counts only once the next one has
    begun."""
    bounds = [list(span) for span in sentence_spans(text)]
    for k in range(1, len(bounds)):
        m = _LEADING_MARKERS.match(text, bounds[k][0], bounds[k][1])
        end = m.end() if m else bounds[k][0]
        if not _WORD.search(text, end, bounds[k][1]):
            end = bounds[k][1]  # nothing but markers and a full stop ("power.' [3].")
        if end > bounds[k][0]:
            bounds[k - 1][1] = bounds[k][0] = end
    bounds = [b for b in bounds if text[b[0] : b[1]].strip()]
    if not final:
        # The last sentence may go on or gain markers; and while the next one
        # is a single word, an abbreviation ("U.S. Tr") is still undecided.
        keep = len(bounds) - 1
        if keep > 0 and not re.search(r"\S\s+\S", text[bounds[-1][0] :]):
            keep -= 1
        bounds = bounds[: max(keep, 0)]
        rest = text[bounds[-1][1] :] if bounds else text
        return [text[s:e].strip() for s, e in bounds], rest
    return [text[s:e].strip() for s, e in bounds], ""


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Split an answer into sentences, each with the citation numbers it
    carries (markers just after a full stop belong to that sentence)."""
    return [(strip_markers(s), markers(s)) for s in split_sentences(text)[0] if strip_markers(s)]


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


@dataclass
class Support:
    ok: bool
    semantic: float
    lexical: float
    missing: list[str] = field(default_factory=list)


def check_support(
    claim: str,
    span: str,
    claim_vec: np.ndarray | None,
    span_vec: np.ndarray | None,
    claim_terms: set[str] | None = None,
    span_terms: set[str] | None = None,
) -> Support:
    """Does `span` support `claim`? Vectors are the embedder's, unit length;
    term sets may be passed in when already computed."""
    claim = strip_markers(claim)
    missing = sorted(n for n in _numbers(claim) if n not in _numbers(span))
    span_low = span.lower()
    missing += sorted(n for n in claim_names(claim) if n not in span_low)
    terms = claim_terms if claim_terms is not None else set(tokenize([claim])[0])
    found = span_terms if span_terms is not None else set(tokenize([span])[0])
    lexical = len(terms & found) / len(terms) if terms else 0.0
    # Without vectors (the quick check) only the words count.
    semantic = float(np.dot(claim_vec, span_vec)) if claim_vec is not None and span_vec is not None else 0.0
    ok = not missing and (semantic >= MIN_SEMANTIC or lexical >= MIN_LEXICAL)
    return Support(ok, round(semantic, 4), round(lexical, 4), missing)


# An answer that says the passages hold no answer (the system prompt asks for
# "The sources don't say."; models paraphrase it).
REFUSAL = re.compile(
    r"\b(?:sources?|passages?|documents?|context)\s+(?:don'?t|do not|does not|doesn'?t)\s+"
    r"(?:say|contain|mention|answer|provide|include|specify|state)|"
    r"\bnot (?:in|found in|mentioned in|stated in|covered by) the (?:sources|passages|documents|context)|"
    r"\bno (?:information|answer|mention) (?:in|from|about this in) the (?:sources|passages|documents|context)|"
    r"\b(?:cannot|can'?t|could not|couldn'?t) (?:find|answer)\b",
    re.I,
)
