"""The reader's offline answerer (`offline_answerer = "reader"`).

The reader (reader/model.py) is a (question, sentence) cross-encoder this
project trains on SQuAD 1.1 (`assistant train-reader`): it gives each
candidate sentence of the retrieved passages the probability that it
answers the question. The answer quotes the most probable sentence, and
further ones only while the reader is torn between them (the fewest best
sentences holding a calibrated share of the candidates' probability), each
cited by its exact span in the original file. It refuses when the question names
something the corpus never mentions, or when its learned refusal (card.json
"refusal": a logistic regression on how sure the reader is and how much of
the question no retrieved sentence holds, fitted on validation articles and
swapped-entity copies of their questions) calls the question unanswerable; a
`reader_threshold` in the settings replaces it with a threshold on the best
probability.

Not the default: on SQuAD's held-out articles it beats the rules of
`extractive.py` (more gold spans, and more unanswerable questions refused),
but on the gold set's blind news questions it still holds all key facts
less often (evals/README.md, issue 22).

Everything it reads comes in the request: the passages, their sentence units
with vectors, and the term statistics of the question's words. It never
calls back into the index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from assistant.answerers.base import AnswerResult
from assistant.answerers.instructions import find_instructions
from assistant.answerers.quote import (
    REPEAT_SIM,
    cited_answer,
    missing_names,
    question_names,
    refuse,
    refuse_early,
    repeats,
)  # fmt: skip
from assistant.reader.model import Reader, get_reader, logit
from assistant.rewrite.condense import split_context
from assistant.text.tokens import tokenize
from assistant.types import Citation, RetrievedContext, Unit


@dataclass
class Scored:
    unit: Unit
    sem: float  # cosine of the sentence and the query
    lex: float  # IDF-weighted share of the query's terms the sentence holds
    prob: float = 0.0  # the probability that the sentence answers (reader, cosine, overlap combined)
    raw: float = 0.0  # the reader's own probability


def candidates(
    query: str, qvec: np.ndarray, units: list[Unit], idf: dict[str, float], n: int, avoid: np.ndarray | None = None
) -> list[Scored]:
    """The sentences worth reading: the best n/2 by meaning (embedding
    cosine) and the best by words (IDF-weighted overlap), merged by rank so no
    weighting of one against the other is needed. Sentences much like `avoid`
    (the previous answer) were said already."""
    if not units:
        return []
    weights = {t: idf.get(t, 0.0) for t in set(tokenize([query])[0])}
    total = sum(weights.values()) or 1.0
    mat = np.stack([u.vector for u in units])
    sims = mat @ qvec
    repeat = (mat @ avoid.T).max(axis=1) if avoid is not None and len(avoid) else np.zeros(len(units))
    scored = []
    for u, sem, rep, toks in zip(units, sims, repeat, tokenize([u.text for u in units])):
        if rep > REPEAT_SIM or u.heading or len(u.text.split()) < 4:
            continue
        have = set(toks)
        scored.append(Scored(u, float(sem), sum(w for t, w in weights.items() if t in have) / total))
    by_sem = sorted(scored, key=lambda s: (-s.sem, s.unit.passage))
    by_lex = sorted(scored, key=lambda s: (-s.lex, -s.sem))
    out: dict[str, Scored] = {}
    for a, b in zip(by_sem, by_lex):
        for s in (a, b):
            if len(out) < n:
                out.setdefault(s.unit.id, s)
    return list(out.values())


def ranked(
    question: str, query: str, qvec: np.ndarray, units: list[Unit], idf: dict[str, float], reader: Reader,
    n: int = 16, avoid: np.ndarray | None = None,
) -> list[Scored]:  # fmt: skip
    """The candidates the reader reads (none of them planted instructions),
    with its probabilities, most probable first."""
    planted = {units[i].id for i in find_instructions(units)} if units else set()
    scored = [s for s in candidates(query, qvec, units, idf, n, avoid) if s.unit.id not in planted]
    if not scored:
        return []
    raw = reader.score(question, [re.sub(r"\s+", " ", s.unit.text).strip() for s in scored])
    probs = reader.combine(raw, np.array([s.sem for s in scored]), np.array([s.lex for s in scored]))
    for s, r, p in zip(scored, raw, probs):
        s.raw, s.prob = float(r), float(p)
    # Ties (rare) go to the sentence of the better-ranked passage.
    return sorted(scored, key=lambda s: (-s.prob, s.unit.passage))


def question_features(own: str, units: list[Unit], terms: dict[str, tuple[int, float]], scored: list[Scored]) -> dict:
    """What the refusal model (card.json "refusal") reads of a question: how
    sure the reader is of its best two sentences, and how much of what the
    question asks (its own terms, IDF-weighted) no retrieved sentence, or not
    the best one, holds: an unanswerable question often names a thing the
    passages do not."""
    idf = {t: v for t, (_, v) in terms.items()}
    qterms = {t: idf.get(t, 0.0) for t in set(tokenize([own])[0])}
    total = sum(qterms.values()) or 1.0
    have_all = set().union(*(set(t) for t in tokenize([u.text for u in units])))
    have_best = set(tokenize([scored[0].unit.text])[0])
    missing = [w for t, w in qterms.items() if t not in have_all]
    return {
        "best": float(logit(scored[0].prob)),
        "second": float(logit(scored[1].prob)) if len(scored) > 1 else -14.0,
        "uncovered_all": sum(missing) / total,
        "uncovered_best": sum(w for t, w in qterms.items() if t not in have_best) / total,
        "max_missing_idf": max(missing, default=0.0) / (max(qterms.values(), default=0.0) or 1.0),
        "missing_names": len(missing_names(own, {t: df for t, (df, _) in terms.items()}))
        / max(1, len(question_names(own))),
        "best_cos": scored[0].sem,
        "best_raw": float(logit(scored[0].raw)),
    }


def reader_answer(
    question: str,
    query: str,
    units: list[Unit],
    terms: dict[str, tuple[int, float]],
    qvec: np.ndarray,
    reader: Reader,
    max_sentences: int = 3,
    avoid: np.ndarray | None = None,
    n_candidates: int = 16,
    threshold: float | None = None,
) -> tuple[str, list[Citation], bool, dict]:
    """(text, citations, refused, debug) for the question from the retrieved
    sentence units. `terms`: (document frequency, IDF) of the query's words.

    `question` is the question as it reads on its own (`condense.condense`);
    words of the conversation it may carry in brackets at its end found the
    passages (they are in `query`)."""
    own, _ = split_context(question)
    # The card's learned refusal unless a threshold is asked for (settings).
    learned = threshold is None and reader.refusal is not None
    threshold = reader.threshold if threshold is None else threshold
    if (early := refuse_early(own, units, {t: df for t, (df, _) in terms.items()})) is not None:
        return early
    scored = ranked(question, query, qvec, units, {t: v for t, (_, v) in terms.items()}, reader, n_candidates, avoid)
    if not scored:
        return refuse("weak")
    best = scored[0]
    debug = {"best_prob": round(best.prob, 4), "threshold": round(threshold, 4), "read": len(scored)}
    if learned:
        debug["unanswerable"] = round(reader.unanswerable(question_features(own, units, terms, scored)), 4)
        if debug["unanswerable"] >= reader.refusal["threshold"]:
            return refuse("weak", debug)
    elif best.prob < threshold:
        return refuse("weak", debug)

    by_key = {(u.source, u.index): u for u in units}
    # The fewest best sentences that hold `mass` of the candidates' summed
    # probability: one when the reader is sure of it, more when it is torn
    # between them (a many-part question, or an answer it cannot place), so
    # the answer holds the right sentence more often for few words
    # (card.json "sentences", chosen on validation articles).
    total = sum(s.prob for s in scored) or 1.0
    chosen: list[Scored] = [best]
    held = best.prob / total
    for s in scored[1:]:
        if len(chosen) >= max_sentences or held >= reader.mass:
            break
        if s.prob < threshold or repeats(s.unit, [c.unit for c in chosen]):
            continue
        chosen.append(s)
        held += s.prob / total
    # Read in the order the sources tell it when they come from one document.
    if len({c.unit.source for c in chosen}) == 1:
        chosen.sort(key=lambda s: s.unit.index)

    text, citations = cited_answer([(s.unit, s.prob) for s in chosen], by_key)
    debug["chosen"] = [round(s.prob, 4) for s in chosen]
    return text, citations, False, debug


class ReaderAnswerer:
    """The `Answerer` of the reader."""

    def __init__(self, reader: Reader, candidates: int = 16, threshold: float | None = None, max_sentences: int = 3):
        self.reader, self.candidates, self.threshold = reader, candidates, threshold
        self.max_sentences = max_sentences

    @classmethod
    def from_settings(cls, answer) -> ReaderAnswerer:
        """Built from the answer section (`AnswerSettings`); the model loads once."""
        return cls(
            get_reader(answer.reader_model), answer.reader_candidates, answer.reader_threshold, answer.max_sentences
        )

    def answer(self, question: str, context: RetrievedContext) -> Iterator[str | AnswerResult]:
        """The whole answer at once, then its result."""
        if not context.passages:
            text, citations, refused, debug = refuse("empty_index")
        else:
            text, citations, refused, debug = reader_answer(
                question, context.query, list(context.units), dict(context.terms), context.qvec, self.reader,
                self.max_sentences, avoid=context.avoid, n_candidates=self.candidates, threshold=self.threshold,
            )  # fmt: skip
        yield text
        yield AnswerResult(text, citations, refused, debug)
