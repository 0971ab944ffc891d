"""The offline answerer: extractive, cited, and willing to say "the sources
don't say".

A cheap pre-score (embedding similarity plus IDF-weighted term overlap)
picks the sentences of the retrieved passages worth reading; the reader, a
(question, sentence) cross-encoder this project trains (reader.py), gives
each the probability that it answers the question. The answer quotes the
best sentence, and more only when the reader is nearly as sure of them,
each cited by its exact span in the original file. It refuses when the
question names something the corpus never mentions, or when no sentence
reaches the reader's calibrated threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from . import prompts
from .cite import instruction_like
from .condense import alias_tokens, split_context
from .reader import Reader
from .retrieve import Retriever, Unit
from .store import tokenize
from .types import Citation, Passage

# Weights of the cheap pre-score that picks which sentences the reader reads
# (the reader costs ~4 ms a sentence on 2 cores; see README "Speed").
W_SEM, W_LEX = 0.6, 0.4  # pre-score = W_SEM * cosine + W_LEX * term overlap
W_PASSAGE = 0.03  # bonus for sentences of higher-ranked passages (divided by rank)
# IDF is softened so that one rare word cannot outweigh the question's subject.
IDF_POWER = 0.5
CARRIED_WEIGHT = 0.25  # weight of conversation terms in a follow-up's overlap
MAX_DUP_SIM = 0.85  # sentences this similar to a chosen one are repeats
REPEAT_SIM = 0.8  # sentences this similar to the previous answer were said already
# A further sentence is quoted only when the reader is nearly as sure of it as
# of the best one: one sentence when one suffices.
KEEP_RATIO = 0.85

_LEAD = re.compile(
    r"^(?:however|additionally|meanwhile|moreover|furthermore|in addition|in contrast|consequently|"
    r"as a result|in particular|also|still|yet|besides|therefore|thus|indeed|in fact|accordingly|"
    r"on the other hand|at the same time|in summary|overall|above all|ultimately|first|second|third|"
    r"finally|similarly|likewise|nevertheless|nonetheless|instead|currently|now)\s*,\s+",
    re.I,
)
# Sentences that lean on the one before them: a pronoun, or a "therefore".
_PRONOUN_START = re.compile(
    r"^(?:he|she|they|his|her|their|it|its|this|these|those|that|such|consequently|as a result|therefore|thus|"
    r"hence|accordingly|for this reason|because of this)\b",
    re.I,
)
# Function words a question capitalises that are not names (English grammar,
# not a corpus's vocabulary).
_NOT_NAMES = set(
    """what who whom when where why how which is are was were do does did can could will would should has have
    had and but or the a an in on of to for according tell me please give list name explain describe summarize
    summarise i if so then""".split()
)


@dataclass
class Scored:
    unit: Unit
    pre: float  # cheap pre-score (cosine and term overlap)
    sem: float
    prob: float = 0.0  # the reader's probability that the sentence answers


def question_names(question: str) -> list[str]:
    """Capitalised words of the question that look like names (not its first word)."""
    words = re.findall(r"[A-Za-zÀ-ÿ][\w'’\-]*", question)
    names = []
    for i, w in enumerate(words):
        if i == 0 or not w[0].isupper() or w.lower() in _NOT_NAMES:
            continue
        names.append(w.rstrip("'’s") if w.endswith(("'s", "’s")) else w)
    return names


def missing_names(question: str, retriever: Retriever) -> list[str]:
    """Names in the question that no indexed passage contains."""
    out = []
    for name in question_names(question):
        toks = tokenize([name])[0]
        if toks and all(retriever.doc_freq(t) == 0 for t in toks):
            out.append(name)
    return out


def _sentence_for_answer(text: str) -> str:
    s = re.sub(r"\s+", " ", text).strip()
    s = _LEAD.sub("", s)
    if s and s[0].islower():
        s = s[0].upper() + s[1:]
    return s


def _with_marker(sentence: str, n: int) -> str:
    m = re.search(r"[.!?]+$", sentence)
    if m:
        return f"{sentence[: m.start()]} [{n}]{m.group(0)}"
    return f"{sentence} [{n}]."


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
        out.append(Scored(u, score, float(sem)))
    return out


def offline_answer(
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
    reasons = prompts.load_json("refusal_reasons.json")
    refusal = prompts.load("refusal.txt")
    threshold = reader.threshold if threshold is None else threshold

    def refuse(key: str, debug: dict | None = None, **kw) -> tuple[str, list[Citation], bool, dict]:
        reason = prompts.render(reasons[key], **kw)
        return prompts.render(refusal, reason=reason), [], True, {**(debug or {}), "refusal": key}

    if not passages:
        return refuse("empty_index")
    gone = missing_names(own, retriever)
    # A name the corpus never mentions ("Macron") is a subject it cannot
    # speak to; "Pyongyang–Moscow" with Moscow absent may still be answerable.
    if gone and len(gone) > 0.5 * len(question_names(own)):
        return refuse("missing_names", names=", ".join(dict.fromkeys(gone)))
    units = retriever.units_of(passages)
    scored = [
        s
        for s in pre_score(own, query, qvec, units, retriever, avoid)
        # An instruction planted in a passage is not an answer to quote.
        if not s.unit.heading and len(s.unit.text.split()) >= 4 and s.pre > -1 and not instruction_like(s.unit.text)
    ]
    scored.sort(key=lambda s: -s.pre)
    scored = scored[:candidates]
    if not scored:
        return refuse("weak")
    probs = reader.score(question, [re.sub(r"\s+", " ", s.unit.text).strip() for s in scored])
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
        if any(float(s.unit.vector @ c.unit.vector) > MAX_DUP_SIM for c in chosen):
            continue
        if any(
            c.unit.source == s.unit.source
            and abs(c.unit.index - s.unit.index) <= 1
            and _PRONOUN_START.match(s.unit.text)
            for c in chosen
        ):
            continue
        chosen.append(s)
    # Read in the order the sources tell it when they come from one document.
    if len({c.unit.source for c in chosen}) == 1:
        chosen.sort(key=lambda s: s.unit.index)

    parts: list[str] = []
    citations: list[Citation] = []
    for s in chosen:
        u = s.unit
        start, end, text = u.start, u.end, u.text
        # A sentence opening with "He"/"This" is read with the one before it.
        prev = by_key.get((u.source, u.index - 1))
        said = [u.text]
        if _PRONOUN_START.match(u.text) and prev is not None and not prev.heading:
            start, text, said = prev.start, f"{prev.text} {u.text}", [prev.text, u.text]
        n = len(citations) + 1
        citations.append(
            Citation(
                n=n,
                source=u.source,
                title=u.title,
                text=re.sub(r"\s+", " ", text).strip(),
                start=start,
                end=end,
                passage=u.passage,
                score=round(s.prob, 4),
            )
        )
        parts.extend(_with_marker(_sentence_for_answer(t), n) for t in said)  # every sentence cited
    debug["chosen"] = [round(s.prob, 4) for s in chosen]
    return " ".join(parts), citations, False, debug
