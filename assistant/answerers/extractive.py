"""The offline answerer: extractive, cited, and willing to say "the sources
don't say".

It scores every sentence of the retrieved passages against the question
(embedding similarity plus IDF-weighted term overlap), keeps those that hold
the expected answer type (a figure, a date, a name), picks up to three that
do not repeat each other, and cites each by its exact span in the original
file. It refuses when the question
names something the corpus never mentions, when it asks for a number, date or
name and no good sentence holds one, or when no sentence is close enough.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from assistant.answerers.base import AnswerResult
from assistant.answerers.instructions import find_instructions
from assistant.answerers.kinds import KIND_WORDS, counted_noun, has_kind, question_kind
from assistant.answerers.quote import REPEAT_SIM, cited_answer, question_names, refuse, repeats
from assistant.rewrite.condense import split_context
from assistant.text.lexicon import PERSONAL_PRONOUNS
from assistant.text.names import person_names
from assistant.text.tokens import tokenize
from assistant.types import Citation, Passage, RetrievedContext, Unit

# Score weights and thresholds, chosen on q001-q065 of the gold set; each
# stays because switching it off loses held-out questions (evals/README.md,
# "Hand rules of the rules answerer"; benchmarks/bench_rules_ablation.py).
W_SEM, W_LEX = 0.6, 0.4  # sentence score = W_SEM * cosine + W_LEX * term overlap
MIN_SCORE = 0.415  # below this the best sentence does not answer the question
KEEP_RATIO = 0.8  # further sentences must score this close to the best
KEEP_RATIO_TYPED = 0.85  # stricter when the question wants one figure, date or name
# A typed answer must score close to the best sentence, or at least share
# its specifics (term overlap) with the question.
TYPED_MIN_RATIO = 0.8
TYPED_MIN_LEX = 0.5
# IDF is softened so that one rare word ("threatened") cannot outweigh the
# question's subject ("tariff", "Trump").
IDF_POWER = 0.5
CARRIED_WEIGHT = 0.25  # weight of conversation terms in a follow-up's overlap
W_PASSAGE = 0.03  # bonus for sentences of higher-ranked passages (divided by rank)
TYPED_LIMIT = 2  # at most this many sentences for a figure, date or name
# Kept for a user's report, not for a figure (no held-out set has the case): a
# follow-up does not quote again what the last answer said.
REPEAT_PENALTY = 0.5  # score factor of a sentence much like the previous answer


@dataclass
class Scored:
    unit: Unit
    score: float
    sem: float
    lex: float
    has_kind: bool


def missing_names(question: str, context: RetrievedContext) -> list[str]:
    """Names in the question that no indexed passage contains."""
    out = []
    for name in question_names(question):
        toks = tokenize([name])[0]
        if toks and all(context.doc_freq(t) == 0 for t in toks):
            out.append(name)
    return out


def antecedent_names(unit: Unit, units: list[Unit]) -> set[str]:
    """The name tokens a sentence opening with a personal pronoun ("She
    joined Northwind in 2020") stands for: the people the sentence before it
    names, when that sentence was retrieved too. Kept for a user's report
    ("when did she join the company?"), which no held-out set holds."""
    first = unit.text.split(maxsplit=1)[:1]
    if not first or first[0].lower() not in PERSONAL_PRONOUNS:
        return set()
    before = next((v for v in units if v.source == unit.source and v.index == unit.index - 1), None)
    if before is None:
        return set()
    return {t for name in person_names(before.text) for t in tokenize([name])[0]}


def name_groups(query: str, weights: dict[str, float]) -> list[tuple[set[str], float]]:
    """A person's name is one term, matched by any of its parts: news writing
    gives the full name once, then the surname ("Han Duck-soo" ... "Han
    requested"), and a full name must not outweigh what is asked about it.
    The name's tokens leave `weights` for one group of the highest weight."""
    groups: list[tuple[set[str], float]] = []
    for name in person_names(query):
        toks = set(tokenize([name])[0]) & set(weights)
        if len(toks) > 1:
            groups.append((toks, max(weights.pop(t) for t in toks)))
    return groups


def score_units(
    question: str,
    query: str,
    qvec: np.ndarray,
    units: list[Unit],
    context: RetrievedContext,
    kind: str,
    avoid: np.ndarray | None = None,
) -> list[Scored]:
    """Score sentence units: similarity, IDF-weighted overlap with the question,
    answer type. For a follow-up, the terms carried over from the conversation
    count a quarter: they found the passages, the question picks the sentence.
    Units much like `avoid` (the previous answer) are what was already said."""
    own = set(tokenize([question])[0])
    weights = {
        t: context.idf(t) ** IDF_POWER * (1.0 if t in own else CARRIED_WEIGHT) for t in set(tokenize([query])[0])
    }
    groups = name_groups(query, weights)
    total = (sum(weights.values()) + sum(w for _, w in groups)) or 1.0
    if not units:
        return []
    mat = np.stack([u.vector for u in units])
    sims = mat @ qvec
    repeat = (mat @ avoid.T).max(axis=1) if avoid is not None and len(avoid) else np.zeros(len(units))
    out = []
    for u, sem, rep, utoks in zip(units, sims, repeat, tokenize([u.text for u in units])):
        toks = set(utoks) | antecedent_names(u, units)
        lex = (sum(w for t, w in weights.items() if t in toks) + sum(w for g, w in groups if g & toks)) / total
        score = W_SEM * float(sem) + W_LEX * lex + W_PASSAGE / u.passage
        if rep > REPEAT_SIM:
            score *= REPEAT_PENALTY
        out.append(Scored(u, score, float(sem), lex, has_kind(u.text, kind, question)))
    return out


def refuse_early(question: str, passages: list[Passage], context: RetrievedContext):
    """A refusal before any sentence is read (nothing indexed, or the question
    names what the corpus never mentions), else None."""
    if not passages:
        return refuse("empty_index")
    gone = missing_names(question, context)
    # "Macron" alone is a subject the corpus never mentions; "Pyongyang–Moscow"
    # with Moscow absent may still be answerable through "Russia".
    if gone and len(gone) > 0.5 * len(question_names(question)):
        return refuse("missing_names", names=", ".join(dict.fromkeys(gone)))
    return None


def offline_answer(
    question: str, context: RetrievedContext, max_sentences: int = 3
) -> tuple[str, list[Citation], bool, dict]:
    """(text, citations, refused, debug) for the question from the retrieved context.

    `question` is the question as it reads on its own (`condense.condense`);
    words of the conversation it carries in brackets at its end found the
    passages (they are in `context.query`) but do not say what is asked."""
    question, _ = split_context(question)
    if (early := refuse_early(question, list(context.passages), context)) is not None:
        return early
    kind = question_kind(question)
    units = list(context.units)
    planted = {units[i].id for i in find_instructions(units)}
    scored = [
        s
        for s in score_units(question, context.query, context.qvec, units, context, kind, context.avoid)
        # An instruction planted in a passage is not an answer to quote.
        if not s.unit.heading and s.unit.id not in planted
    ]
    scored.sort(key=lambda s: -s.score)
    if not scored:
        return refuse("weak")
    debug = {
        "kind": kind,
        "best_score": round(scored[0].score, 4),
        "best_sem": round(scored[0].sem, 4),
        "best_lex": round(scored[0].lex, 4),
    }
    if scored[0].score < MIN_SCORE:
        return refuse("weak", debug)
    typed = [s for s in scored if s.has_kind]
    counted = counted_noun(question)
    if counted:  # a count must be a count of the thing asked about
        typed = [s for s in typed if counted & set(tokenize([s.unit.text])[0])]
    # The passages are about the subject, but the sentences that speak to it
    # hold no figure/date/name: that is "the sources don't say".
    top = scored[0]
    if (
        not typed
        or typed[0].score < MIN_SCORE
        or (typed[0].score < TYPED_MIN_RATIO * top.score and typed[0].lex < TYPED_MIN_LEX * top.lex)
    ):
        return refuse("missing_kind", debug, kind=KIND_WORDS[kind])
    best = typed[0]

    by_key = {(u.source, u.index): u for u in units}
    chosen: list[Scored] = [best]
    limit = max_sentences if kind == "general" else min(TYPED_LIMIT, max_sentences)
    ratio = KEEP_RATIO if kind == "general" else KEEP_RATIO_TYPED
    for s in typed[1:]:
        if len(chosen) >= limit or s.score < best.score * ratio:
            break
        if repeats(s.unit, [c.unit for c in chosen]):
            continue
        chosen.append(s)

    text, citations = cited_answer([(s.unit, s.score) for s in chosen], by_key)
    debug["chosen"] = [round(s.score, 4) for s in chosen]
    return text, citations, False, debug


class RulesAnswerer:
    """The `Answerer` of these rules (`offline_answerer = "rules"`, the default)."""

    def __init__(self, max_sentences: int = 3):
        self.max_sentences = max_sentences

    def answer(self, question: str, context: RetrievedContext) -> Iterator[str | AnswerResult]:
        """The whole answer at once, then its result."""
        text, citations, refused, debug = offline_answer(question, context, self.max_sentences)
        yield text
        yield AnswerResult(text, citations, refused, debug)
