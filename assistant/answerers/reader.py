"""The reader's offline answerer (`ASSISTANT_OFFLINE_ANSWERER=reader`).

A cheap pre-score (embedding similarity plus IDF-weighted term overlap)
picks the sentences of the retrieved passages worth reading; the reader, a
(question, sentence) cross-encoder this project trains (reader.py), gives
each the probability that it answers the question, combined with the two
cheap signals by the logistic regression in its card. The answer quotes the
best sentence, and more only when it is nearly as sure of them, each cited
by its exact span in the original file. It refuses when the question names
something the corpus never mentions, or when no sentence reaches the
calibrated threshold.

Not the default: measured on the gold set and on held-out SQuAD articles it
does not yet beat the rules of `extractive.py` (see evals/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from assistant.answerers.base import AnswerRequest, AnswerResult
from assistant.answerers.condense import alias_tokens, split_context
from assistant.answerers.extractive import (
    CARRIED_WEIGHT,
    IDF_POWER,
    REPEAT_SIM,
    W_LEX,
    W_PASSAGE,
    W_SEM,
    cited_answer,
    refuse,
    refuse_early,
    repeats,
)
from assistant.answerers.instructions import find_instructions
from assistant.reader.model import Reader
from assistant.retrieval.hybrid import Retriever, Unit
from assistant.text.tokens import tokenize
from assistant.types import Citation, Passage

# A further sentence is quoted only when the reader is nearly as sure of it as
# of the best one: one sentence when one suffices.
KEEP_RATIO = 0.85


@dataclass
class Scored:
    unit: Unit
    pre: float  # cheap pre-score (cosine and term overlap)
    sem: float
    lex: float
    prob: float = 0.0  # the probability that the sentence answers


def pre_score(
    question: str,
    query: str,
    qvec: np.ndarray,
    units: list[Unit],
    retriever: Retriever,
    avoid: np.ndarray | None = None,
) -> list[Scored]:
    """Cheap scores of sentence units (similarity and IDF-weighted overlap with
    the question), to choose which ones the reader reads. For a follow-up, the
    terms carried over from the conversation count a quarter. Units much like
    `avoid` (the previous answer) are what was already said."""
    if not units:
        return []
    own = set(tokenize([question])[0])
    weights = {
        t: retriever.idf(t) ** IDF_POWER * (1.0 if t in own else CARRIED_WEIGHT) for t in set(tokenize([query])[0])
    }
    total = sum(weights.values()) or 1.0
    aliases = alias_tokens(query)
    mat = np.stack([u.vector for u in units])
    sims = mat @ qvec
    repeat = (mat @ avoid.T).max(axis=1) if avoid is not None and len(avoid) else np.zeros(len(units))
    out = []
    for u, sem, rep, utoks in zip(units, sims, repeat, tokenize([u.text for u in units])):
        toks = set(utoks)
        lex = sum(w for t, w in weights.items() if t in toks or any(a <= toks for a in aliases.get(t, ()))) / total
        score = W_SEM * float(sem) + W_LEX * lex + W_PASSAGE / u.passage
        if rep > REPEAT_SIM:
            score = -1.0  # said already: the reader need not read it
        out.append(Scored(u, score, float(sem), lex))
    return out


def reader_answer(
    question: str,
    query: str,
    passages: list[Passage],
    retriever: Retriever,
    qvec: np.ndarray,
    reader: Reader,
    max_sentences: int = 3,
    avoid: np.ndarray | None = None,
    candidates: int = 16,
    threshold: float | None = None,
    units: list[Unit] | None = None,
) -> tuple[str, list[Citation], bool, dict]:
    """(text, citations, refused, debug) for the question from the passages.

    `question` is the question as it reads on its own (`condense.condense`);
    words of the conversation it may carry in brackets at its end found the
    passages (they are in `query`) and count little in the pre-score.

    The reader (a cross-encoder trained by this project, see reader.py) gives
    each candidate sentence the probability that it answers `question`; the
    best one is the answer, further ones only when the reader is nearly as
    sure of them, and no sentence reaching the calibrated threshold is "the
    sources don't say"."""
    own, _ = split_context(question)
    threshold = reader.threshold if threshold is None else threshold
    if (early := refuse_early(own, passages, retriever)) is not None:
        return early
    units = units or retriever.units_of(passages)
    planted = {units[i].id for i in find_instructions(units)}
    scored = [
        s
        for s in pre_score(own, query, qvec, units, retriever, avoid)
        # An instruction planted in a passage is not an answer to quote.
        if not s.unit.heading and len(s.unit.text.split()) >= 4 and s.pre > -1 and s.unit.id not in planted
    ]
    scored.sort(key=lambda s: -s.pre)
    scored = scored[:candidates]
    if not scored:
        return refuse("weak")
    probs = reader.score(question, [re.sub(r"\s+", " ", s.unit.text).strip() for s in scored])
    probs = reader.combine(probs, np.array([s.sem for s in scored]), np.array([s.lex for s in scored]))
    for s, p in zip(scored, probs):
        s.prob = float(p)
    # Ties (rare) go to the sentence of the better-ranked passage.
    scored.sort(key=lambda s: (-s.prob, -s.pre))
    best = scored[0]
    debug = {"best_prob": round(best.prob, 4), "threshold": round(threshold, 4), "read": len(scored)}
    if best.prob < threshold:
        return refuse("weak", debug)

    by_key = {(u.source, u.index): u for u in units}
    chosen: list[Scored] = [best]
    for s in scored[1:]:
        if len(chosen) >= max_sentences or s.prob < max(threshold, KEEP_RATIO * best.prob):
            break
        if repeats(s.unit, [c.unit for c in chosen]):
            continue
        chosen.append(s)
    # Read in the order the sources tell it when they come from one document.
    if len({c.unit.source for c in chosen}) == 1:
        chosen.sort(key=lambda s: s.unit.index)

    text, citations = cited_answer([(s.unit, s.prob) for s in chosen], by_key)
    debug["chosen"] = [round(s.prob, 4) for s in chosen]
    return text, citations, False, debug


class ReaderAnswerer:
    """The `Answerer` of the reader (`offline_answerer = "reader"`)."""

    def __init__(self, reader: Reader, candidates: int = 16, threshold: float | None = None):
        self.reader, self.candidates, self.threshold = reader, candidates, threshold

    def answer(self, request: AnswerRequest) -> Iterator[str | AnswerResult]:
        """The whole answer at once, then its result."""
        text, citations, refused, debug = reader_answer(
            request.question, request.query, request.passages, request.retriever, request.qvec, self.reader,
            request.max_sentences, avoid=request.avoid, candidates=self.candidates, threshold=self.threshold,
            units=request.units,
        )  # fmt: skip
        yield text
        yield AnswerResult(text, citations, refused, debug)
