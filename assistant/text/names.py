"""Names in English text: people ("Industry Minister Ahn Duk-geun" -> "Ahn
Duk-geun"), places and the capitals that stand for states ("Pyongyang" ->
"North Korea", from the lexicon assistant/data/metonyms.json), and the names
a claim must share with the text that supports it. Generic rules and a world
lexicon, no word list of a corpus."""

from __future__ import annotations

import json
import re
from functools import cache

from assistant.resources import data_path
from assistant.text import lexicon

_NOT_NAME = lexicon.NAME_TITLES
_DEMONYM = re.compile(r"(?:n|an|ian|ese|ish|i)$")


@cache
def _place_words() -> frozenset[str]:
    """Words of the states and capitals in the metonyms data (a world
    lexicon, not the corpus's): "korea", "china", "u.s."."""
    words = set()
    for capital, states in metonyms().items():
        for name in [capital, *states]:
            words.update(w.lower() for w in name.split())
    return frozenset(words)


def is_place_word(word: str) -> bool:
    """A state or capital ("Korea") or its adjective ("Korean", "Chinese")."""
    w = word.lower()
    if w in _place_words():
        return True
    return bool(_DEMONYM.search(w)) and any(len(p) >= 4 and w.startswith(p[:4]) and w != p for p in _place_words())


_NAME_RUN = re.compile(r"[A-Z][a-zà-ÿ'’]+(?:-[A-Za-zà-ÿ]+)?(?:\s+[A-Z][a-zà-ÿ'’.]*(?:-[A-Za-zà-ÿ]+)?)*")


def _bare(word: str) -> str:
    """`word` without a possessive "'s" or trailing punctuation."""
    return re.sub(r"['’]s$", "", word.rstrip(".,;:")).rstrip(".,;:")


def person_names(text: str) -> list[str]:
    """Personal names in `text` (runs of two or more capitalised words, titles,
    offices and places taken out), in order of appearance."""
    out: list[str] = []
    for m in _NAME_RUN.finditer(text):
        # Titles and offices dropped: "Industry Minister Ahn Duk-geun" -> "Ahn Duk-geun".
        words = [
            _bare(w) for w in m.group(0).split() if _bare(w).lower() not in _NOT_NAME and not is_place_word(_bare(w))
        ]
        if (len(words) >= 2 or (len(words) == 1 and "-" in words[0])) and " ".join(words) not in out:
            out.append(" ".join(words))
    return out


@cache
def metonyms() -> dict[str, list[str]]:
    """Capitals and the states they stand for (assistant/data/metonyms.json)."""
    data = json.loads(data_path("metonyms.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def alias_pattern():
    names = sorted(metonyms(), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b")


def expand_aliases(query: str) -> str:
    """The query with the states its capitals stand for ("Pyongyang" ->
    "Pyongyang (North Korea)"), so either form in a source is found."""
    found = dict.fromkeys(m.group(1) for m in alias_pattern().finditer(query))
    extra = [a for name in found for a in metonyms()[name][:1] if a.lower() not in query.lower()]
    return f"{query} ({', '.join(extra)})" if extra else query


# A capitalised word or run not at a sentence start: a name a claim makes.
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zà-ÿ]+(?:[- ][A-Z][a-zà-ÿ]+)*")
_ADJECTIVE = re.compile(r"^[a-zà-ÿ]{3,}(?:ian|ean|can|ese|ish)$")  # "American", "Chinese": adjectives, not names


def claim_names(text: str) -> set[str]:
    """Lowercased names in `text` (capitalised runs past its first word,
    lone demonyms left out): the names a supporting span must contain."""
    names = {m.group(0).lower() for m in _NAME.finditer(text)}
    return {n for n in names if " " in n or "-" in n or not _ADJECTIVE.match(n)}
