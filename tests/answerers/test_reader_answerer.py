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
from assistant.answerers.reader import ReaderAnswerer
from assistant.reader.model import get_reader
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
    r = _answer(req)
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
    r = _answer(_request("What is the museum's annual budget?"))
    assert r.refused and r.debug["refusal"] == "weak" and r.debug["best_prob"] < r.debug["threshold"]
    # the same question at threshold 0 quotes its best guess
    assert not _answer(_request("What is the museum's annual budget?"), threshold=0.0).refused


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
