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


def split_sentences(text: str, final: bool = True) -> tuple[list[str], str]:
    """Complete sentences of `text` (markers after a full stop stay with their
    sentence) and the unfinished rest. With `final`, the rest is a sentence
    too; without it (streaming), a sentence counts only once the next one has
    begun."""
    out, start = [], 0
    for m in _BOUNDARY.finditer(text):
        if not m.group(1) and _ABBREV.search(text, 0, m.start()):
            continue  # "U.S. Trade", "Dr. Lee"
        if not final and m.end() >= len(text.rstrip()):
            break  # markers may still follow
        out.append(text[start : m.end()])
        start = m.end()
    rest = text[start:]
    if final and rest.strip():
        out.append(rest)
        rest = ""
    return [s.strip() for s in out if s.strip()], rest


def cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Split an answer into sentences, each with the citation numbers it
    carries (markers just after a full stop belong to that sentence)."""
    return [(strip_markers(s), markers(s)) for s in split_sentences(text)[0] if strip_markers(s)]


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
    missing += sorted(n for n in _names(claim) if n not in span_low)
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


class Verifier:
    """Checks each sentence of a model's answer against the retrieved passages.

    A sentence is kept when a passage it cites supports it, re-cited to the
    passage that does when it cites the wrong one (or none), and dropped when
    no retrieved passage supports it. Citations are renumbered in order of
    use and point at the best-supporting sentence span inside the passage,
    so a marker that matches no retrieved passage never reaches the user.
    """

    def __init__(self, passages: list, units: list, embed):
        self.passages = {p.n: p for p in passages}
        self.embed = embed
        self.units = units
        self.mat = np.stack([u.vector for u in units]) if units else np.zeros((0, 1), dtype=np.float32)
        # A unit may lie in two overlapping passages: index it under each.
        self.in_passage: dict[int, list[int]] = {
            p.n: [i for i, u in enumerate(units) if u.source == p.source and p.start <= u.start and u.end <= p.end]
            for p in passages
        }
        self.citations: list = []
        self._numbers: dict[tuple, int] = {}
        self.kept = self.recited = self.dropped = 0
        self.unsupported: list[str] = []
        self.refusals: list[str] = []
        self._unit_terms: list[set[str]] | None = None

    def _support(self, claim: str, vec: np.ndarray, terms: set[str], n: int):
        """(unit indices, Support) of the best-supporting span of passage n."""
        idx = self.in_passage.get(n, [])
        if not idx:
            return None, None
        sims = self.mat[idx] @ vec
        order = [idx[j] for j in np.argsort(-sims)[:2]]
        best = None
        for i in order:
            sup = check_support(claim, self.units[i].text, vec, self.units[i].vector, terms, self._terms(i))
            if sup.ok:
                return [i], sup
            best = best or ([i], sup)
        if len(order) == 2:  # a claim that joins two sentences of one passage
            a, b = sorted(order, key=lambda i: self.units[i].start)
            span_vec = self.units[a].vector + self.units[b].vector
            span_vec = span_vec / max(float(np.linalg.norm(span_vec)), 1e-12)
            text = f"{self.units[a].text} {self.units[b].text}"
            sup = check_support(claim, text, vec, span_vec, terms, self._terms(a) | self._terms(b))
            if sup.ok:
                return [a, b], sup
        return best

    def _terms(self, i: int) -> set[str]:
        if self._unit_terms is None:  # tokenized once, all units in one call
            self._unit_terms = [set(t) for t in tokenize([u.text for u in self.units])]
        return self._unit_terms[i]

    def _cite(self, n: int, unit_idx: list[int]) -> int:
        from .types import Citation

        first, last = self.units[unit_idx[0]], self.units[unit_idx[-1]]
        key = (n, first.start, last.end)
        if key not in self._numbers:
            p = self.passages[n]
            text = " ".join(self.units[i].text for i in range(unit_idx[0], unit_idx[-1] + 1) if i in unit_idx)
            self._numbers[key] = len(self.citations) + 1
            self.citations.append(
                Citation(
                    n=len(self.citations) + 1,
                    source=p.source,
                    title=p.title,
                    text=text,
                    start=first.start,
                    end=last.end,
                    passage=n,
                )  # fmt: skip
            )
        return self._numbers[key]

    def check(self, sentences: list[str]) -> list[str]:
        """Verified versions of raw answer sentences (dropped ones left out)."""
        pairs = [(strip_markers(s), markers(s)) for s in sentences]
        pairs = [(c, ns) for c, ns in pairs if c]
        if not pairs:
            return []
        all_terms = [set(t) for t in tokenize([c for c, _ in pairs])]
        # Quick path: a claim whose words are in a sentence of each passage it
        # cites is kept without embedding it (embedding is most of the cost).
        quick: dict[int, list[int]] = {}
        for k, ((claim, ns), terms) in enumerate(zip(pairs, all_terms)):
            found = [self._lexical(claim, terms, n) for n in dict.fromkeys(ns)] if ns else [None]
            if all(f is not None for f in found):
                quick[k] = found
        # Saying what the sources lack is no claim to cite.
        refusals = {k for k, (claim, ns) in enumerate(pairs) if not ns and REFUSAL.search(claim)}
        slow = [k for k in range(len(pairs)) if k not in quick and k not in refusals]
        vecs = dict(zip(slow, self.embed([pairs[k][0] for k in slow]))) if slow else {}
        out = []
        for k, ((claim, ns), terms) in enumerate(zip(pairs, all_terms)):
            if k in quick:
                self.kept += 1
                out.append(_with_markers(claim, [self._cite(n, [i]) for n, i in quick[k]]))
                continue
            if k in refusals:
                self.refusals.append(claim)
                out.append(claim)
                continue
            vec = vecs[k]
            kept = []
            for n in dict.fromkeys(ns):
                units, sup = self._support(claim, vec, terms, n) if n in self.passages else (None, None)
                if sup is not None and sup.ok:
                    kept.append(self._cite(n, units))
            if kept and len(kept) == len(set(ns)):
                self.kept += 1
            elif not kept:
                best = None
                # Re-cite: try the passages holding the sentences closest to the claim.
                ranked = np.argsort(-(self.mat @ vec))[:6] if len(self.units) else []
                for n in dict.fromkeys(n for i in ranked for n in self.in_passage if i in self.in_passage[n]):
                    units, sup = self._support(claim, vec, terms, n)
                    if sup is not None and sup.ok:
                        best = (n, units, sup)
                        break
                if best is None:
                    self.dropped += 1
                    self.unsupported.append(claim)
                    continue
                kept = [self._cite(best[0], best[1])]
                self.recited += 1
            else:
                self.recited += 1  # some markers were wrong: only the supporting ones stay
            out.append(_with_markers(claim, kept))
        return out

    def _lexical(self, claim: str, terms: set[str], n: int) -> tuple[int, int] | None:
        """(n, unit index) of a sentence of passage n that holds the claim's
        words, numbers and names; None if there is none."""
        for i in self.in_passage.get(n, []):
            if check_support(claim, self.units[i].text, None, None, terms, self._terms(i)).ok:
                return n, i
        return None


def _with_markers(claim: str, numbers: list[int]) -> str:
    m = re.search(r"[.!?]+[\"'”’)]*$", claim)
    body, end = (claim[: m.start()], claim[m.start() :]) if m else (claim, ".")
    return body + " " + "".join(f"[{k}]" for k in dict.fromkeys(numbers)) + end
