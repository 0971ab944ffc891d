"""The question-time embedder (`refine_embed_backend`, retrieval/refine.py):
the query and the retrieved sentences embedded again, the passages reranked
by BM25 and their best sentence, and the answerer given those vectors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from assistant import Settings
from assistant.answerers.base import AnswerResult
from assistant.answerers.registry import OFFLINE_ANSWERERS
from assistant.embedders.registry import EMBEDDERS
from assistant.engine import engine_key
from assistant.errors import SettingsError
from assistant.pipeline import run
from assistant.registry import Entry
from assistant.retrieval.refine import Refiner, get_refiner
from assistant.settings import RetrievalSettings
from assistant.types import Passage, RetrievedContext, Unit

WORDS = ["ferry", "museum", "harbour", "rye"]


class KeywordEmbedder:
    """Vectors by which of WORDS a text holds: the "better" embedder."""

    id, dim, batch_size = "keywords", len(WORDS), 32

    def __init__(self, *sections):
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        v = np.array([[w in t.lower() for w in WORDS] for t in texts], dtype=np.float32) + 1e-3
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def worker(self):
        return None


STATIC = np.full(len(WORDS), 0.5, dtype=np.float32)  # the index's vectors: all alike


def passage(n: int, start: int, end: int, text: str, bm25_rank: int) -> Passage:
    return Passage(n, f"a#{n}", "a.md", "A", text, start, end, 1.0 / n, scores={"bm25_rank": bm25_rank})


def unit(start: int, text: str, n: int, index: int) -> Unit:
    return Unit(f"a:{index}", "a.md", "A", text, start, start + len(text), False, index, STATIC, n)


# Three passages of one file; the unit at 100 lies in passages 1 and 2 (chunks overlap).
PASSAGES = [
    passage(1, 0, 200, "The museum opened in 1931. The ferry leaves at noon.", bm25_rank=2),
    passage(2, 100, 300, "The ferry leaves at noon. It was built in Gdansk.", bm25_rank=0),
    passage(3, 300, 400, "The harbour was dredged in 1962.", bm25_rank=1),
]
UNITS = [
    unit(0, "The museum opened in 1931.", 1, 0),
    unit(100, "The ferry leaves at noon.", 1, 1),
    unit(200, "It was built in Gdansk.", 2, 2),
    unit(300, "The harbour was dredged in 1962.", 3, 3),
]


def refiner(pool: int = 3) -> Refiner:
    return Refiner(KeywordEmbedder(), RetrievalSettings(refine_pool=pool, rrf_k=60))


def test_the_query_and_every_unit_get_the_question_time_embedders_vectors():
    r = refiner()
    passages, units, qvec = r.refine("When does the ferry leave?", PASSAGES, UNITS, top_k=3)
    assert r.embedder.calls == [["When does the ferry leave?"] + [u.text for u in UNITS]]
    assert np.allclose(qvec, r.embedder.embed(["ferry"])[0])
    assert [u.text for u in units] == [u.text for u in UNITS]
    assert np.allclose(np.stack([u.vector for u in units]), r.embedder.embed([u.text for u in UNITS]))
    assert passages == PASSAGES  # no more passages than kept: none reranked


def test_the_top_k_are_kept_by_bm25_and_their_best_sentence_and_units_move_along():
    # By meaning: 1 and 2 (a ferry sentence each; 1 first by retrieval), then 3;
    # by BM25: 3, 1, and 2 not at all. Fused: 1 (0th and 2nd), 3 (2nd and 1st), 2.
    passages, units, _ = refiner().refine("When does the ferry leave?", PASSAGES, UNITS, top_k=2)
    assert [(p.id, p.n) for p in passages] == [("a#1", 1), ("a#3", 2)]
    assert passages[0].scores["refine"] == pytest.approx(1.0, abs=0.01) and passages[0].scores["bm25_rank"] == 2
    assert passages[0].score == pytest.approx(1 / 61 + 1 / 62, abs=1e-6) and passages[1].score == pytest.approx(
        1 / 63 + 1 / 61, abs=1e-6
    )
    # The unit only passage 2 held is gone; passage 3's is numbered 2 now.
    assert [(u.text, u.passage) for u in units] == [
        ("The museum opened in 1931.", 1), ("The ferry leaves at noon.", 1), ("The harbour was dredged in 1962.", 2)
    ]  # fmt: skip
    # A unit shared by a dropped passage and a kept one stays, numbered by the kept one.
    two = [replace(PASSAGES[0], scores={"bm25_rank": 0}), replace(PASSAGES[1], scores={"bm25_rank": 1})]
    passages, units, _ = refiner().refine("ferry", two, UNITS[:3], top_k=1)
    assert [p.id for p in passages] == ["a#2"] and [(u.index, u.passage) for u in units] == [(1, 1), (2, 1)]


class FakeRetriever:
    def __init__(self):
        self.top_ks: list[int] = []

    def embed_query(self, query: str) -> np.ndarray:
        return STATIC

    def search(self, query, top_k, qvec=None, candidates=None, rrf_k=None, sources=()):
        self.top_ks.append(top_k)
        return PASSAGES[:top_k], {}

    def units_of(self, passages):
        return [u for u in UNITS if u.passage <= len(passages)]

    def term_stats(self, text: str) -> dict:
        return {}


class FakeEngine:
    def __init__(self):
        self.retriever = FakeRetriever()
        self.embedder = KeywordEmbedder()


class Recorder:
    def __init__(self, *sections):
        self.contexts: list[RetrievedContext] = []

    def answer(self, question: str, context: RetrievedContext) -> Iterator[str | AnswerResult]:
        self.contexts.append(context)
        yield AnswerResult("x", [], False, {})


@pytest.fixture
def recorder(monkeypatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setitem(OFFLINE_ANSWERERS.entries, "rules", Entry("rules", lambda: rec))
    monkeypatch.setitem(EMBEDDERS.entries, "keywords", Entry("keywords", KeywordEmbedder))
    return rec


def ask(tmp_path, **options) -> tuple[FakeEngine, RetrievedContext, dict]:
    s = Settings(corpus=tmp_path, index_dir=tmp_path / "index", backend="offline", top_k=2, **options)
    engine = FakeEngine()
    *_, a = run(s, "When does the ferry leave?", [], engine=engine)
    return engine, a


def test_the_pipeline_hands_the_answerer_the_refined_vectors(tmp_path, recorder):
    engine, a = ask(tmp_path, refine_embed_backend="keywords", refine_pool=3)
    assert engine.retriever.top_ks == [6]  # pool * top_k retrieved, top_k kept
    context = recorder.contexts[0]
    assert [p.id for p in context.passages] == ["a#1", "a#3"] and "refine_ms" in a.timings
    assert np.allclose(context.qvec, KeywordEmbedder().embed(["ferry"])[0])
    assert not any(np.allclose(u.vector, STATIC) for u in context.units)


def test_the_default_has_no_refine_step(tmp_path, recorder):
    assert Settings().refine_embed_backend == "none" and get_refiner(Settings()) is None
    engine, a = ask(tmp_path)
    assert engine.retriever.top_ks == [2] and "refine_ms" not in a.timings
    context = recorder.contexts[0]
    assert np.allclose(context.qvec, STATIC) and all(np.allclose(u.vector, STATIC) for u in context.units)


def test_the_fast_profile_refines_with_the_default_embedder():
    s = Settings(profile="fast")
    assert (s.embed_backend, s.refine_embed_backend, s.refine_pool) == ("static", "local", 3)
    assert EMBEDDERS.entry(s.refine_embed_backend).factory is EMBEDDERS.entry(Settings().embed_backend).factory
    # A question-time setting: the index (its build, its cache key) is the same without it.
    assert engine_key(s) == engine_key(s.with_options(refine_embed_backend="none", refine_pool=1))


def test_an_unknown_refine_embedder_is_one_line():
    with pytest.raises(
        SettingsError, match=r"^unknown refine embedder 'bogus' \(ASSISTANT_REFINE_EMBED_BACKEND\); known: none, local"
    ):
        get_refiner(Settings(refine_embed_backend="bogus"))
