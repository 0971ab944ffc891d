"""The reader answerer on a hand-made context: no index, no store, no
embedder. What it reads is in the request (units with vectors, term
statistics); the reader model is the shipped one."""

from __future__ import annotations

import re

import numpy as np
import pytest

from assistant.answerers.base import AnswerRequest, AnswerResult
from assistant.answerers.reader import ReaderAnswerer
from assistant.reader.model import get_reader
from assistant.retrieval.hybrid import Unit
from assistant.text.tokens import tokenize
from assistant.types import Passage

DOC_A = (
    "The Harbour Museum of Tarnow opened in 1931 in the old customs house. "
    "Its first director was the historian Elena Wirth, who ran it until 1952. "
    "The museum holds 4,000 ship models and a library of charts."
)
DOC_B = "The town of Tarnow lies on the river Vell. Its harbour was rebuilt after a flood in 1910."


def _units(source: str, text: str, passage: int, rng) -> list[Unit]:
    out, start = [], 0
    for i, sentence in enumerate(s + "." for s in text.split(". ") if s):
        sentence = sentence.rstrip(".") + "."
        start = text.index(sentence.rstrip("."), start)
        v = rng.normal(size=16).astype(np.float32)
        out.append(
            Unit(
                f"{source}:{i}", source, source, sentence, start, start + len(sentence), False, i,
                v / np.linalg.norm(v), passage,
            )
        )  # fmt: skip
        start += len(sentence)
    return out


def _request(question: str, docs=(("a.txt", DOC_A), ("b.txt", DOC_B))) -> AnswerRequest:
    rng = np.random.default_rng(0)
    units = [u for n, (src, text) in enumerate(docs, 1) for u in _units(src, text, n, rng)]
    corpus = [set(tokenize([u.text])[0]) for u in units]
    terms = {}
    for t in set(tokenize([question])[0]):
        df = sum(t in c for c in corpus)
        terms[t] = (df, float(np.log(1 + (len(corpus) - df + 0.5) / (df + 0.5))))
    passages = [
        Passage(n=n, id=f"p{n}", source=src, title=src, text=text, start=0, end=len(text), score=1.0)
        for n, (src, text) in enumerate(docs, 1)
    ]
    qvec = rng.normal(size=16).astype(np.float32)
    return AnswerRequest(
        question, question, passages, retriever=None, qvec=qvec / np.linalg.norm(qvec), units=units, terms=terms
    )


def _answer(request: AnswerRequest, **kw) -> AnswerResult:
    *_, result = ReaderAnswerer(get_reader(), **kw).answer(request)
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
    req = _request("Who was the first director?")
    req.passages, req.units = [], []
    r = _answer(req)
    assert r.refused and r.debug["refusal"] == "empty_index"


def test_the_answerer_never_reads_the_index():
    # retriever=None above: a call back into the index would raise
    assert _request("Who?").retriever is None
