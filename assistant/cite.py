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

from .store import tokenize

# Claim-to-span thresholds: close in meaning, or in words.
MIN_SEMANTIC = 0.6
MIN_LEXICAL = 0.6

_MARKER = re.compile(r"\s*((?:\[\d+(?:\s*,\s*\d+)*\])+)")
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zà-ÿ]+(?:[- ][A-Z][a-zà-ÿ]+)*")


def markers(text: str) -> list[int]:
    """Every citation number in `text`, in order: `[1]`, `[1, 2]`, `[1][3]`."""
    return [int(n) for group in re.findall(r"\[(\d+(?:\s*,\s*\d+)*)\]", text) for n in re.split(r"\s*,\s*", group)]


def strip_markers(text: str) -> str:
    return re.sub(r"\s+([.!?,;:])", r"\1", _MARKER.sub("", text)).strip()


# End of a sentence: its closing punctuation, any markers after it, then a
# new sentence (capital, digit or quote) or the end of the text.
_BOUNDARY = re.compile(r"[.!?][\"'”’)]*((?:\s*\[\d+(?:\s*,\s*\d+)*\])*)(?=\s+[\"“'(]?[A-Z0-9]|\s*$)")


_ABBREV = re.compile(r"(?:\b[A-Za-z]\.)+[A-Za-z]?$|\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Inc|Co|vs|No|Gen|Gov|Sen|Rep)$")


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Split an answer into sentences, each with the citation numbers it
    carries (markers just after a full stop belong to that sentence)."""
    out, start = [], 0
    for m in _BOUNDARY.finditer(text):
        if not m.group(1) and _ABBREV.search(text, 0, m.start()):
            continue  # "U.S. Trade", "Dr. Lee"
        out.append(text[start : m.end()])
        start = m.end()
    if text[start:].strip():
        out.append(text[start:])
    return [(strip_markers(s), markers(s)) for s in out if strip_markers(s)]


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


_DEMONYM = re.compile(r"^[a-zà-ÿ]{3,}(?:ian|ean|can|ese|ish)$")  # "American", "Chinese": adjectives, not names


def _names(text: str) -> set[str]:
    names = {m.group(0).lower() for m in _NAME.finditer(text)}
    return {n for n in names if " " in n or "-" in n or not _DEMONYM.match(n)}


@dataclass
class Support:
    ok: bool
    semantic: float
    lexical: float
    missing: list[str] = field(default_factory=list)


def check_support(claim: str, span: str, claim_vec: np.ndarray, span_vec: np.ndarray) -> Support:
    """Does `span` support `claim`? Vectors are the embedder's, unit length."""
    claim = strip_markers(claim)
    missing = sorted(n for n in _numbers(claim) if n not in _numbers(span))
    span_low = span.lower()
    missing += sorted(n for n in _names(claim) if n not in span_low)
    terms = set(tokenize([claim])[0])
    found = set(tokenize([span])[0])
    lexical = len(terms & found) / len(terms) if terms else 0.0
    semantic = float(np.dot(claim_vec, span_vec))
    ok = not missing and (semantic >= MIN_SEMANTIC or lexical >= MIN_LEXICAL)
    return Support(ok, round(semantic, 4), round(lexical, 4), missing)
