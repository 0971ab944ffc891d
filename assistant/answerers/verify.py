"""Verification of a model's answer, sentence by sentence, against the
retrieved passages (see `Verifier`): the support check is `cite.check_support`,
instruction sentences of the passages are never evidence."""

from __future__ import annotations

import re

import numpy as np

from assistant.answerers.cite import REFUSAL, check_support, markers, strip_markers
from assistant.answerers.instructions import find_instructions, instruction_payloads
from assistant.text.tokens import tokenize


class Verifier:
    """Checks each sentence of a model's answer against the retrieved passages.

    A sentence is kept when a passage it cites supports it, re-cited to the
    passage that does when it cites the wrong one (or none), and dropped when
    no retrieved passage supports it. Citations are renumbered in order of
    use and point at the best-supporting sentence span inside the passage,
    so a marker that matches no retrieved passage never reaches the user.

    Sentences of the passages that are instructions to the assistant (see
    `instruction_like`), and the quotes they ask it to repeat, are never
    support: `instructions` maps each passage number to its instruction
    sentences, and `obeyed` lists the dropped claims that only such a
    sentence would have supported (the model did what a document said).
    """

    def __init__(self, passages: list, units: list, embed, relevance: np.ndarray | None = None):
        self.passages = {p.n: p for p in passages}
        self.embed = embed
        self.units = units
        # The reader's probability that each unit answers the question: of the
        # sentences that support a claim, the citation points at the one that
        # answers (and carries that probability as its score).
        self.relevance = relevance if relevance is not None and len(relevance) == len(units) else None
        self.mat = np.stack([u.vector for u in units]) if units else np.zeros((0, 1), dtype=np.float32)
        # A unit may lie in two overlapping passages: index it under each.
        self.in_passage: dict[int, list[int]] = {
            p.n: [i for i, u in enumerate(units) if u.source == p.source and p.start <= u.start and u.end <= p.end]
            for p in passages
        }
        injected = find_instructions(units)
        self._injected = sorted(injected)
        self.instructions: dict[int, list[str]] = {
            n: [units[i].text for i in idx if i in injected]
            for n, idx in self.in_passage.items()
            if any(i in injected for i in idx)
        }
        # What can support a claim: every sentence but the instructions.
        self.evidence = {n: [i for i in idx if i not in injected] for n, idx in self.in_passage.items()}
        self.obeyed: list[str] = []
        self.citations: list = []
        self._numbers: dict[tuple, int] = {}
        self.kept = self.recited = self.dropped = 0
        self.unsupported: list[str] = []
        self.refusals: list[str] = []
        self._unit_terms: list[set[str]] | None = None

    def _support(self, claim: str, vec: np.ndarray, terms: set[str], n: int):
        """(unit indices, Support) of the best-supporting span of passage n."""
        idx = self.evidence.get(n, [])
        if not idx:
            return None, None
        sims = self.mat[idx] @ vec
        order = [idx[j] for j in np.argsort(-sims)[: 3 if self.relevance is not None else 2]]
        best = None
        supported = []
        for i in order:
            sup = check_support(claim, self.units[i].text, vec, self.units[i].vector, terms, self._terms(i))
            if sup.ok:
                if self.relevance is None:
                    return [i], sup
                supported.append((i, sup))
            best = best or ([i], sup)
        if supported:  # similarity order breaks ties
            i, sup = max(supported, key=lambda x: float(self.relevance[x[0]]))
            return [i], sup
        order = order[:2]
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
        from assistant.types import Citation

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
                    page=getattr(first, "page", None),
                    score=round(max(float(self.relevance[i]) for i in unit_idx), 4)
                    if self.relevance is not None
                    else 0.0,
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
                sims = self.mat @ vec if len(self.units) else np.zeros(0)
                sims[self._injected] = -np.inf  # never evidence
                ranked = np.argsort(-sims)[: min(6, len(self.units) - len(self._injected))]
                for n in dict.fromkeys(n for i in ranked for n in self.in_passage if i in self.in_passage[n]):
                    units, sup = self._support(claim, vec, terms, n)
                    if sup is not None and sup.ok:
                        best = (n, units, sup)
                        break
                if best is None:
                    self.dropped += 1
                    self.unsupported.append(claim)
                    if self._obeys(claim, vec, terms):
                        self.obeyed.append(claim)
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
        for i in self.evidence.get(n, []):
            if check_support(claim, self.units[i].text, None, None, terms, self._terms(i)).ok:
                return n, i
        return None

    def _obeys(self, claim: str, vec: np.ndarray, terms: set[str]) -> bool:
        """Would an instruction sentence, or the text it asks for, have
        supported this claim?"""
        for i in self._injected:
            u = self.units[i]
            if check_support(claim, u.text, vec, u.vector, terms, self._terms(i)).ok:
                return True
            if any(check_support(claim, p, None, None, terms).ok for p in instruction_payloads(u.text)):
                return True
        return False


def _with_markers(claim: str, numbers: list[int]) -> str:
    m = re.search(r"[.!?]+[\"'”’)]*$", claim)
    body, end = (claim[: m.start()], claim[m.start() :]) if m else (claim, ".")
    return body + " " + "".join(f"[{k}]" for k in dict.fromkeys(numbers)) + end
