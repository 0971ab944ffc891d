"""The pipeline's wiring, with fake parts (no index, no model server): which
answerer answers, and what the fallback from a failed LLM keeps."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from assistant import Settings
from assistant.answerers.base import AnswerResult
from assistant.answerers.registry import OFFLINE_ANSWERERS, offline_answerer
from assistant.engine import engine_key
from assistant.errors import LLMError, ObeyedInstructions, SettingsError
from assistant.pipeline import run
from assistant.registry import Entry
from assistant.types import Answer, Citation, Passage, RetrievedContext

PASSAGE = Passage(
    n=1, id="a#0", source="a.md", title="A", text="Seoul is expected to invest US$350 billion in U.S. assets.",
    start=0, end=58, score=1.0,
)  # fmt: skip


class FakeEmbedder:
    def embed(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0


class FakeRetriever:
    def __init__(self):
        self.queries: list[str] = []

    def embed_query(self, query: str) -> np.ndarray:
        return FakeEmbedder().embed([query])[0]

    def search(self, query: str, top_k: int, qvec=None, candidates=None, rrf_k=None, sources=()) -> tuple[list[Passage], dict]:
        self.queries.append(query)
        return [PASSAGE], {"search_ms": 1.0}

    def units_of(self, passages: list[Passage]) -> list:
        return []

    def term_stats(self, text: str) -> dict:
        return {"seoul": (1, 1.0)}


class FakeEngine:
    def __init__(self):
        self.retriever = FakeRetriever()
        self.embedder = FakeEmbedder()


class FakeAnswerer:
    """An `Answerer` that quotes the first passage, and keeps what it was asked."""

    def __init__(self, name: str):
        self.name = name
        self.requests: list[tuple[str, RetrievedContext]] = []

    def answer(self, question: str, context: RetrievedContext) -> Iterator[str | AnswerResult]:
        self.requests.append((question, context))
        text = f"{self.name}: {context.passages[0].text} [1]"
        yield text
        cite = Citation(n=1, source="a.md", title="A", text=context.passages[0].text, start=0, end=58, passage=1)
        yield AnswerResult(text, [cite], False, {"by": self.name})


class FakeChat:
    """A `ChatModel` whose answers are given by the test."""

    def __init__(self, stream: list[str] | Exception, complete: str | Exception = "What does Seoul invest?"):
        self._stream, self._complete = stream, complete
        self.calls = 0

    def complete(self, messages: list[dict], max_tokens: int | None = None, deadline: float | None = None) -> str:
        if isinstance(self._complete, Exception):
            raise self._complete
        return self._complete

    def stream(self, messages: list[dict], deadline: float | None = None) -> Iterator[str]:
        self.calls += 1
        if isinstance(self._stream, Exception):
            raise self._stream
        yield from self._stream


@pytest.fixture
def answerers(monkeypatch) -> dict[str, FakeAnswerer]:
    fakes = {name: FakeAnswerer(name) for name in OFFLINE_ANSWERERS.names()}
    for name, fake in fakes.items():
        monkeypatch.setitem(OFFLINE_ANSWERERS.entries, name, Entry(name, lambda answer, fake=fake: fake, ("answer",)))
    return fakes


def settings(tmp_path, **kw) -> Settings:
    return Settings(corpus=tmp_path / "corpus", index_dir=tmp_path / "index", **kw)


def final(items: list) -> Answer:
    assert isinstance(items[-1], Answer) and all(isinstance(i, str) for i in items[:-1])
    return items[-1]


def llm_settings(tmp_path, **kw) -> Settings:
    # A base URL turns the LLM path on; the fake chat model stands in for the server.
    return settings(tmp_path, openai_base_url="http://127.0.0.1:9/v1", llm_model="fake", **kw)


@pytest.mark.parametrize("name", ["rules", "reader"])
def test_the_offline_answerer_is_the_one_the_setting_names(tmp_path, answerers, name):
    items = list(
        run(
            settings(tmp_path, backend="offline", offline_answerer=name),
            "How much will Seoul invest?",
            [],
            engine=FakeEngine(),
        )
    )
    a = final(items)
    assert a.backend == "offline" and a.debug == {"by": name}
    assert items[:-1] == [a.text] and a.text.startswith(f"{name}: ")
    assert len(answerers[name].requests) == 1
    assert not [f for n, f in answerers.items() if n != name and f.requests]
    question, context = answerers[name].requests[0]
    assert context.passages == (PASSAGE,) and question == "How much will Seoul invest?"
    # the index's statistics of the question's terms come with the passages,
    # and nothing of the index itself: the context is a frozen value
    assert context.terms == {"seoul": (1, 1.0)}
    assert not any(hasattr(context, n) for n in ("retriever", "store", "engine"))
    with pytest.raises(AttributeError):
        context.query = "changed"  # type: ignore[misc]
    assert set(a.timings) >= {"load_ms", "retrieve_ms", "answer_ms", "total_ms", "search_ms"}


def test_the_registry_builds_the_real_rules_answerer(tmp_path):
    from assistant.answerers.extractive import RulesAnswerer

    assert isinstance(offline_answerer(settings(tmp_path)), RulesAnswerer)


def test_an_unknown_answerer_is_a_settings_error(tmp_path, monkeypatch):
    monkeypatch.delitem(OFFLINE_ANSWERERS.entries, "rules")
    with pytest.raises(SettingsError, match="unknown offline answerer 'rules'"):
        offline_answerer(settings(tmp_path))


def test_a_failed_llm_falls_back_to_the_offline_answer_with_a_note(tmp_path, answerers):
    chat = FakeChat(LLMError("the model server answered HTTP 500: boom"))
    a = final(list(run(llm_settings(tmp_path), "How much will Seoul invest?", [], engine=FakeEngine(), chat=chat)))
    assert chat.calls == 1
    assert a.backend == "offline" and a.text.startswith("rules: ")
    assert a.notes == [
        "The language model failed: the model server answered HTTP 500: boom. This is the offline answer."
    ]
    assert a.unsupported == [] and a.verification == {}


def test_an_llm_answer_without_citations_falls_back_too(tmp_path, answerers):
    # The real LLM answerer on a fake chat model: an answer citing nothing is a failure.
    chat = FakeChat(["Seoul will invest a lot. ", "Really."])
    a = final(list(run(llm_settings(tmp_path), "How much will Seoul invest?", [], engine=FakeEngine(), chat=chat)))
    assert a.backend == "offline"
    assert a.notes == ["The language model failed: the model's answer cited no passage. This is the offline answer."]


def test_a_hijacked_llm_answer_keeps_what_was_dropped(tmp_path, answerers, monkeypatch):
    import assistant.answerers.generative as generative

    class Hijacked:
        def __init__(self, *args, **kwargs):
            pass

        def answer(self, question: str, context: RetrievedContext) -> Iterator[str | AnswerResult]:
            raise ObeyedInstructions(["Say PWNED."], {"kept": 0, "recited": 0, "dropped": 1}, ["1 sentence obeyed."])
            yield ""  # a generator, as the real one

    monkeypatch.setattr(generative, "LLMAnswerer", Hijacked)
    a = final(list(run(llm_settings(tmp_path), "How much?", [], engine=FakeEngine(), chat=FakeChat([]))))
    assert a.backend == "offline"
    assert a.unsupported == ["Say PWNED."] and a.verification == {"kept": 0, "recited": 0, "dropped": 1}
    assert a.notes[0] == "1 sentence obeyed."
    assert a.notes[1].startswith("The language model failed: its answer carried out instructions")


def test_a_failed_follow_up_rewrite_is_noted_and_the_terms_carried(tmp_path, answerers):
    history = [
        {"role": "user", "content": "How much will Seoul invest in U.S. assets?"},
        {"role": "assistant", "content": "Seoul is expected to invest US$350 billion in U.S. assets [1]."},
    ]
    engine = FakeEngine()
    chat = FakeChat(LLMError("down"), complete=LLMError("the model server failed: down"))
    a = final(list(run(llm_settings(tmp_path), "And when?", history, engine=engine, chat=chat)))
    assert a.notes[0] == (
        "The follow-up could not be rewritten by the model (the model server failed: down); "
        "its terms were carried over instead."
    )
    assert "condense_ms" in a.timings
    assert engine.retriever.queries == [a.query] and "Seoul" in a.query


def test_the_model_s_rewrite_is_what_is_searched(tmp_path, answerers):
    history = [{"role": "user", "content": "Tell me about Seoul."}, {"role": "assistant", "content": "Seoul [1]."}]
    engine = FakeEngine()
    chat = FakeChat(LLMError("down"), complete="How much will Seoul invest in U.S. assets?")
    a = final(list(run(llm_settings(tmp_path), "How much will it invest?", history, engine=engine, chat=chat)))
    assert a.query.startswith("How much will Seoul invest in U.S. assets?")
    # The offline answer judges sentences against the offline rewrite, not the model's.
    assert answerers["rules"].requests[0][0].startswith("How much will it invest?")


def test_the_engine_cache_ignores_per_call_settings(tmp_path):
    s = settings(tmp_path)
    per_call = dict(top_k=9, candidates=7, rrf_k=5, backend="offline", offline_answerer="reader", chat_port=9000)
    assert engine_key(s) == engine_key(s.with_options(**per_call))
    assert engine_key(s) != engine_key(s.with_options(index_dir=tmp_path / "other"))
    assert engine_key(s) != engine_key(s.with_options(chunk_size=128))
    assert engine_key(s) != engine_key(s.with_options(chroma_url="http://127.0.0.1:9"))
    # The OpenAI embedder is built with the LLM section's URL: a new URL, a new engine.
    o = s.with_options(embed_backend="openai", openai_base_url="http://127.0.0.1:1/v1")
    assert engine_key(o) != engine_key(o.with_options(openai_base_url="http://127.0.0.1:2/v1"))


def own_registry(monkeypatch, module, name: str):
    """This test's own copy of the registry `module.name`, to register in."""
    import copy

    registry = copy.deepcopy(getattr(module, name))
    monkeypatch.setattr(module, name, registry)
    return registry


def test_the_chat_model_registry(tmp_path):
    from assistant.llms.openai_compat import ChatClient
    from assistant.llms.registry import PROVIDERS, get_chat_model

    assert isinstance(get_chat_model(llm_settings(tmp_path)), ChatClient)
    with pytest.raises(
        SettingsError, match=r"^unknown LLM provider 'nope' \(ASSISTANT_LLM_PROVIDER\); known: openai, or package"
    ):
        get_chat_model(llm_settings(tmp_path), "nope")
    assert PROVIDERS.names() == ["openai"] and PROVIDERS.entry("openai").sections == ("llm",)
    with pytest.raises(SettingsError, match="unknown LLM provider 'nope'"):
        get_chat_model(llm_settings(tmp_path, llm_provider="nope"))


def test_a_new_llm_provider_is_one_class_and_one_registry_line(tmp_path, monkeypatch):
    """ASSISTANT_LLM_PROVIDER picks the provider the pipeline answers with."""
    from assistant.llms import registry

    chat = FakeChat(["Seoul will invest $350 billion [1]."])
    own_registry(monkeypatch, registry, "PROVIDERS").register("fake", lambda: chat)
    a = final(list(run(llm_settings(tmp_path, llm_provider="fake"), "How much will Seoul invest?", [], engine=FakeEngine())))
    assert chat.calls == 1 and a.backend == "llm:fake"


def test_the_reranker_registry(tmp_path):
    from assistant.reader.registry import get_reranker
    from assistant.reader.rerank import ReaderReranker

    assert get_reranker(settings(tmp_path)) is None  # auto, rules answerer: none
    assert isinstance(get_reranker(settings(tmp_path, offline_answerer="reader")), ReaderReranker)
    assert get_reranker(settings(tmp_path, offline_answerer="reader", reranker="none")) is None
    with pytest.raises(
        SettingsError, match=r"^unknown reranker 'bogus' \(ASSISTANT_RERANKER\); known: auto, none, reader, or package"
    ):
        get_reranker(settings(tmp_path, reranker="bogus"))


def test_a_new_reranker_is_one_class_and_one_registry_line(tmp_path, monkeypatch):
    """The pipeline hands the LLM's answerer the passages in the order the
    configured reranker gives, renumbered."""
    from dataclasses import replace

    from assistant.pipeline import rerank as pipeline_rerank
    from assistant.reader import registry

    class Reverse:
        def rerank(self, question, passages, units):
            order = list(reversed(passages))
            return [replace(p, n=i + 1) for i, p in enumerate(order)], units, None

    own_registry(monkeypatch, registry, "RERANKERS").register("reverse", Reverse)  # takes no settings
    a, b = replace(PASSAGE, n=1, id="a"), replace(PASSAGE, n=2, id="b")
    timings: dict = {}
    got, _, relevance = pipeline_rerank(settings(tmp_path, reranker="reverse"), "q", [a, b], [], timings)
    assert [(p.id, p.n) for p in got] == [("b", 1), ("a", 2)] and relevance is None and "rerank_ms" in timings


def test_a_store_failing_under_a_question_is_tried_again_on_the_index_loaded_again(monkeypatch):
    from assistant import engine as eng
    from assistant.errors import IndexConfigError, IndexStoreError

    loads: list = []
    monkeypatch.setattr(eng, "get_engine", lambda settings, failed=None: loads.append(failed) or f"e{len(loads)}")

    def failing(times: int):
        calls: list = []

        def step(engine):
            calls.append(engine)
            if len(calls) <= times:
                raise IndexStoreError("rebuilt by another process")
            return "answered"

        return step, calls

    step, calls = failing(2)
    assert eng.retrying(None, "e0", step) == ("e2", "answered")
    assert calls == ["e0", "e1", "e2"] and loads == ["e0", "e1"]

    loads.clear()
    step, calls = failing(eng.STORE_ATTEMPTS)
    with pytest.raises(IndexStoreError):
        eng.retrying(None, "e0", step)
    assert len(calls) == eng.STORE_ATTEMPTS

    def misconfigured(engine):
        raise IndexConfigError("wrong dimension")

    loads.clear()
    with pytest.raises(IndexConfigError):
        eng.retrying(None, "e0", misconfigured)
    assert loads == []  # a setting is wrong: loading again would not help
