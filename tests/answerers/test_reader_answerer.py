"""The offline answerers on a hand-made `RetrievedContext`: no index, no
store, no embedder. What they read is in the context (units with vectors,
term statistics); the reader model is the shipped one."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from assistant.answerers.base import AnswerResult
from assistant.answerers.extractive import RulesAnswerer
from assistant.answerers.reader import ReaderAnswerer, question_features, ranked
from assistant.reader.model import Reader, get_reader
from assistant.text.tokens import tokenize
from assistant.types import Passage, RetrievedContext, Unit

DOC_A = (
    "The Harbour Museum of Tarnow opened in 1931 in the old customs house. "
    "Its first director was the historian Elena Wirth, who ran it until 1952. "
    "The museum holds 4,000 ship models and a library of charts."
)
DOC_B = "The town of Tarnow lies on the river Vell. Its harbour was rebuilt after a flood in 1910."


def _vec(text: str) -> np.ndarray:
    """A bag-of-words vector (hashed words), so cosine means shared words."""
    v = np.zeros(64, dtype=np.float32)
    for t in tokenize([text])[0]:
        v[sum(map(ord, t)) % 64] += 1.0
    return v / (np.linalg.norm(v) or 1.0)


def _units(source: str, text: str, passage: int) -> list[Unit]:
    out, start = [], 0
    for i, sentence in enumerate(s + "." for s in text.split(". ") if s):
        sentence = sentence.rstrip(".") + "."
        start = text.index(sentence.rstrip("."), start)
        v = _vec(sentence)
        out.append(
            Unit(
                f"{source}:{i}", source, source, sentence, start, start + len(sentence), False, i,
                v / np.linalg.norm(v), passage,
            )
        )  # fmt: skip
        start += len(sentence)
    return out


def _request(question: str, docs=(("a.txt", DOC_A), ("b.txt", DOC_B))) -> tuple[str, RetrievedContext]:
    units = [u for n, (src, text) in enumerate(docs, 1) for u in _units(src, text, n)]
    corpus = [set(tokenize([u.text])[0]) for u in units]
    terms = {}
    for t in set(tokenize([question])[0]):
        df = sum(t in c for c in corpus)
        terms[t] = (df, float(np.log(1 + (len(corpus) - df + 0.5) / (df + 0.5))))
    passages = [
        Passage(n=n, id=f"p{n}", source=src, title=src, text=text, start=0, end=len(text), score=1.0)
        for n, (src, text) in enumerate(docs, 1)
    ]
    return question, RetrievedContext(question, tuple(passages), tuple(units), terms, _vec(question))


def _answer(request: tuple[str, RetrievedContext], **kw) -> AnswerResult:
    *_, result = ReaderAnswerer(get_reader(), **kw).answer(*request)
    return result


def test_it_quotes_the_sentence_that_answers_and_cites_its_exact_span():
    req = _request("Who was the first director of the Harbour Museum?")
    # the calibrated threshold, not the learned refusal: that one reads the
    # cosine of real embeddings, and these vectors are hashed words
    r = _answer(req, threshold=get_reader().threshold)
    # one citation ("Its first director ..." is quoted with the sentence it leans on)
    assert not r.refused and "Elena Wirth" in r.text and len(r.citations) == 1
    assert set(re.findall(r"\[(\d+)\]", r.text)) == {"1"}
    c = r.citations[0]
    assert c.source == "a.txt" and DOC_A[c.start : c.end] == c.text
    # one sentence answers: nothing from the other document pads it
    assert all(c.source == "a.txt" for c in r.citations)


@pytest.mark.parametrize(
    "question, words",
    [("When did the museum open?", "1931"), ("How many ship models does the museum hold?", "4,000")],
)
def test_the_sentence_holding_the_asked_fact_wins(question, words):
    r = _answer(_request(question))
    assert not r.refused and words in r.text


def test_a_name_the_corpus_never_mentions_is_refused_before_reading():
    r = _answer(_request("What did Napoleon write?"))
    assert r.refused and r.debug["refusal"] == "missing_names" and "Napoleon" in r.text


def test_no_sentence_reaching_the_threshold_is_a_refusal():
    r = _answer(_request("What is the museum's annual budget?"), threshold=0.5)
    assert r.refused and r.debug["refusal"] == "weak" and r.debug["best_prob"] < r.debug["threshold"]
    # the same question at threshold 0 quotes its best guess
    assert not _answer(_request("What is the museum's annual budget?"), threshold=0.0).refused


def test_the_shipped_learned_refusal_refuses_what_the_documents_do_not_say():
    # no threshold asked for: the card's refusal model decides
    r = _answer(_request("What is the museum's annual budget?"))
    assert r.refused and r.debug["refusal"] == "weak" and r.debug["unanswerable"] >= get_reader().refusal["threshold"]
    r = _answer(_request("When did the Harbour Museum open?"))
    assert not r.refused and "1931" in r.text and r.debug["unanswerable"] < get_reader().refusal["threshold"]


def test_nothing_retrieved_is_the_empty_index_refusal():
    q, ctx = _request("Who was the first director?")
    r = _answer((q, replace(ctx, passages=(), units=())))
    assert r.refused and r.debug["refusal"] == "empty_index"
    *_, rules = RulesAnswerer().answer(q, replace(ctx, passages=(), units=()))
    assert rules.refused and rules.debug["refusal"] == "empty_index"


def test_the_rules_answer_from_the_same_hand_made_context():
    q, ctx = _request("Who was the first director of the Harbour Museum?")
    *pieces, r = RulesAnswerer(max_sentences=1).answer(q, ctx)
    assert pieces == [r.text] and not r.refused
    assert "Elena Wirth" in r.text and [c.source for c in r.citations] == ["a.txt"]
    assert DOC_A[r.citations[0].start : r.citations[0].end] == r.citations[0].text
    # a name the index never saw (document frequency 0 in the context) is refused before reading
    *_, r = RulesAnswerer().answer(*_request("Who was the first director of the Louvre?"))
    assert r.refused and r.debug["refusal"] == "missing_names"


def test_a_sentence_opening_with_she_is_read_with_the_name_before_it():
    # "She joined Northwind in 2020": its subject is only in the sentence
    # before, which names her; the question names her.
    from assistant.answerers.extractive import score_units

    doc = (
        "Priya Ramanathan runs the People team at Northwind. "
        "She joined Northwind in 2020 after eight years at Contoso, where she led recruiting. "
        "The company has offices in Leeds and Gdansk."
    )
    q, ctx = _request("When did Priya Ramanathan join the company?", docs=(("team.md", doc),))
    scored = {s.unit.index: s for s in score_units(q, q, ctx.qvec, list(ctx.units), ctx, "date")}
    # join + her name: two of the question's four terms, against one for the sentence without "She"
    assert scored[1].lex == pytest.approx(2 * scored[2].lex)
    # the sentence before is not retrieved: nothing to stand for
    alone = replace(ctx, units=tuple(u for u in ctx.units if u.index != 0))
    assert {s.unit.index: s for s in score_units(q, q, ctx.qvec, list(alone.units), alone, "date")}[1].lex == (
        pytest.approx(scored[2].lex)
    )


class _Torn:
    """A reader that gives chosen sentences chosen probabilities, to test
    how many sentences the answer quotes."""

    threshold = 0.0

    def __init__(self, probs: dict[str, float], mass: float, refusal: dict | None = None):
        self.probs, self.mass, self.refusal = probs, mass, refusal

    def unanswerable(self, features):
        return Reader.unanswerable(self, features)

    @property
    def card(self):
        return {"refusal": self.refusal}

    def score(self, question, sentences):
        return np.array([next((p for k, p in self.probs.items() if k in s), 0.01) for s in sentences], np.float32)

    def combine(self, probs, cosine, overlap):
        return probs


def test_it_quotes_one_sentence_when_the_reader_is_sure_and_more_when_it_is_torn():
    req = _request("When did the Harbour Museum open?")
    sure = _Torn({"opened in 1931": 0.95, "rebuilt after a flood": 0.3}, mass=0.6)
    *_, r = ReaderAnswerer(sure).answer(*req)
    assert [c.text for c in r.citations] == [DOC_A.split(". ")[0] + "."]
    torn = _Torn({"opened in 1931": 0.45, "rebuilt after a flood": 0.4}, mass=0.6)
    *_, r = ReaderAnswerer(torn).answer(*req)
    assert len(r.citations) == 2 and r.citations[0].source == "a.txt" and r.citations[1].source == "b.txt"


def test_the_shipped_reader_carries_its_calibrated_sentence_mass():
    assert 0.0 < get_reader().mass <= 1.0


def test_the_question_features_say_what_no_retrieved_sentence_holds():
    q, ctx = _request("How many ship models does the Harbour Museum lend abroad?")
    scored = ranked(q, q, ctx.qvec, list(ctx.units), {t: v for t, (_, v) in ctx.terms.items()}, get_reader())
    f = question_features(q, list(ctx.units), dict(ctx.terms), scored)
    # "lend" and "abroad" are in no sentence; "ship models" are in the best one
    assert 0.0 < f["uncovered_all"] <= f["uncovered_best"] < 1.0 and f["max_missing_idf"] > 0.0
    assert "4,000" in scored[0].unit.text and f["best"] > f["second"]
    q, ctx = _request("What ship models does the museum hold?")
    whole = question_features(q, list(ctx.units), dict(ctx.terms), scored)
    assert whole["uncovered_all"] == 0.0 and whole["max_missing_idf"] == 0.0


def test_the_learned_refusal_decides_and_an_asked_threshold_overrides_it():
    req = _request("When did the Harbour Museum open?")
    # "unanswerable" when the best sentence's logit is low: refuse below logit 0
    refusal = {"features": ["best"], "mean": [0.0], "scale": [1.0], "coef": [-4.0], "intercept": 0.0, "threshold": 0.5}
    *_, r = ReaderAnswerer(_Torn({"opened in 1931": 0.9}, mass=0.5, refusal=refusal)).answer(*req)
    assert not r.refused and r.debug["unanswerable"] == pytest.approx(1 / (1 + np.exp(4 * np.log(9))), abs=1e-4)
    *_, r = ReaderAnswerer(_Torn({"opened in 1931": 0.3}, mass=0.5, refusal=refusal)).answer(*req)
    assert r.refused and r.debug["refusal"] == "weak" and r.debug["unanswerable"] > 0.5
    # a threshold from the settings is the rule instead
    *_, r = ReaderAnswerer(_Torn({"opened in 1931": 0.3}, mass=0.5, refusal=refusal), threshold=0.2).answer(*req)
    assert not r.refused and "unanswerable" not in r.debug


def test_the_shipped_card_refusal_reads_features_the_answerer_computes():
    r = get_reader().refusal
    q, ctx = _request("When did the Harbour Museum open?")
    scored = ranked(q, q, ctx.qvec, list(ctx.units), {t: v for t, (_, v) in ctx.terms.items()}, get_reader())
    f = question_features(q, list(ctx.units), dict(ctx.terms), scored)
    assert set(r["features"]) <= set(f) and len(r["features"]) == len(r["mean"]) == len(r["scale"]) == len(r["coef"])
    assert 0.0 < r["threshold"] < 1.0 and "bench_decisions.py --write" in r["how"]
