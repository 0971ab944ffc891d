"""The README's promises: its test command is CI's, its example runs."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"^python3 -m venv .*$", README, re.M)
    assert len(commands) == 2, "README must show exactly two set-up commands"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()
    assert "assistant chat" in commands[0]


def test_python_example_runs(seeds_settings, tmp_path):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    (tmp_path / "seeds").symlink_to(seeds_settings.corpus)
    env = {
        **os.environ,
        "ASSISTANT_CORPUS": str(seeds_settings.corpus),
        "ASSISTANT_INDEX_DIR": str(seeds_settings.index_dir),
    }
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "350 billion" in r.stdout


def _extending() -> str:
    part = README[README.index("## Extending") :]
    return part[: part.index("\n## ", 5)]


def _extending_blocks() -> dict[str, str]:
    """The README's Extending examples: the code of each new file (up to the
    registry line), by the file it is shown as (`mypkg/embed.py`, ...)."""
    out = {}
    for code in re.findall(r"```python\n(.*?)```", _extending(), re.S):
        first, _, rest = code.partition("\n")
        new_file = rest.split("\n# assistant/", 1)[0]  # the registry line, when shown, is in the repo
        out[first.removeprefix("# ")] = new_file
    return out


@pytest.fixture
def mypkg(tmp_path, monkeypatch):
    """The README's `mypkg/` examples written as a package on sys.path, and
    a copy of each registry to register them in (undone after the test)."""
    import copy
    import importlib

    from assistant.answerers import registry as answerers
    from assistant.embedders import registry as embedders
    from assistant.llms import registry as llms
    from assistant.reader import registry as reader
    from assistant.stores import backends

    for module, name in (
        (embedders, "EMBEDDERS"), (backends, "BACKENDS"), (reader, "RERANKERS"), (llms, "PROVIDERS"),
        (answerers, "OFFLINE_ANSWERERS"),
    ):  # fmt: skip
        monkeypatch.setattr(module, name, copy.deepcopy(getattr(module, name)))
    (tmp_path / "pkg" / "mypkg").mkdir(parents=True)
    (tmp_path / "pkg" / "mypkg" / "__init__.py").write_text("", encoding="utf-8")
    for path, code in _extending_blocks().items():
        if path.startswith("mypkg/"):
            (tmp_path / "pkg" / path).write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    yield importlib.import_module("mypkg")
    for name in [m for m in sys.modules if m == "mypkg" or m.startswith("mypkg.")]:
        del sys.modules[name]


def test_the_extending_examples_work(tmp_path, mypkg):
    """Each example class, plugged in as the README says: by the dotted path
    in its setting, and by its registry line; an unknown name is the README's line."""
    from dataclasses import replace
    from pathlib import Path

    from assistant import Settings
    from assistant.answerers import registry as answerers
    from assistant.answerers.base import AnswerResult
    from assistant.embedders import Embedder, get_embedder
    from assistant.embedders import registry as embedders
    from assistant.errors import LLMError, SettingsError
    from assistant.ingest.base import DocumentReader
    from assistant.llms import registry as llms
    from assistant.reader import registry as reader
    from assistant.retrieval.base import Reranker
    from assistant.stores import backends
    from assistant.types import Passage, RetrievedContext, Unit

    blocks = _extending_blocks()
    assert set(blocks) == {
        "mypkg/embed.py", "mypkg/store.py", "mypkg/rerank.py", "mypkg/llm.py", "mypkg/answer.py",
        "assistant/ingest/mail.py",
    }  # fmt: skip
    part = _extending()
    # the settings as the README writes them: ASSISTANT_EMBED_BACKEND=mypkg.embed:HashEmbedder, ...
    dotted = dict(re.findall(r"`ASSISTANT_(\w+)=(mypkg\.\w+:\w+)`", part))
    assert set(dotted) == {"EMBED_BACKEND", "VECTOR_STORE", "RERANKER", "LLM_PROVIDER", "OFFLINE_ANSWERER"}
    s = Settings(corpus=tmp_path, index_dir=tmp_path / "index", embed_batch_size=7, llm_model="echo-1")
    by_path = {name: s.with_options(**{name.lower(): path}) for name, path in dotted.items()}

    embedder = get_embedder(by_path["EMBED_BACKEND"])
    assert isinstance(embedder, Embedder) and embedder.batch_size == 7  # it was given the embed section
    vectors = embedder.embed(["The ferry leaves at noon", "the FERRY leaves at noon", "a bus"])
    assert vectors.shape == (3, 256) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.allclose(vectors[0], vectors[1]) and not np.allclose(vectors[0], vectors[2]) and embedder.worker() is None

    store = backends.get_backend(by_path["VECTOR_STORE"], embedder.id)
    assert type(store).__name__ == "MyBackend" and "mystore" in backends.local_dirs()

    p = Passage(n=1, id="a", source="2024.txt", title="", text="", start=0, end=0, score=0.0)
    q = replace(p, n=2, id="b", source="2025.txt")
    rr = reader.get_reranker(by_path["RERANKER"])
    assert isinstance(rr, Reranker)
    got, _, rel = rr.rerank("q", [p, q], [])
    assert [(x.id, x.n) for x in got] == [("b", 1), ("a", 2)] and rel is None

    model = llms.get_chat_model(by_path["LLM_PROVIDER"])
    assert model.model == "echo-1"  # it was given the llm section
    assert model.complete([{"role": "user", "content": "q"}]) == "The sources say so [1]."
    with pytest.raises(LLMError):
        model.complete([])

    # the answerer, on a context made by hand (no index): it was given the answer section
    first = answerers.offline_answerer(by_path["OFFLINE_ANSWERER"].with_options(max_sentences=2))
    assert first.max_sentences == 2
    u = Unit("u", "a.txt", "A", "The ferry leaves at noon.", 0, 25, False, 0, np.ones(4, np.float32) / 2, 1)
    *pieces, result = first.answer("When does the ferry leave?", RetrievedContext("ferry", (p,), (u,)))
    assert pieces == ["The ferry leaves at noon. [1]"] and isinstance(result, AnswerResult)
    assert result.citations[0].source == "a.txt" and not result.refused
    *_, empty = first.answer("When?", RetrievedContext("ferry"))
    assert empty.refused

    # an unknown name: the one line the README shows
    shown = re.search(r"^error: unknown embedder .*$", part, re.M).group(0)
    with pytest.raises(SettingsError) as e:
        get_embedder(s.with_options(embed_backend="hashed"))
    assert f"error: {e.value}" == shown

    # the registry lines, as the README shows them
    lines = list(
        dict.fromkeys(
            re.findall(r"`((EMBEDDERS|BACKENDS|RERANKERS|PROVIDERS|OFFLINE_ANSWERERS)\.register\(.*?\))`", part)
        )
    )
    assert [r for _, r in lines] == ["EMBEDDERS", "OFFLINE_ANSWERERS", "BACKENDS", "RERANKERS", "PROVIDERS"]
    names = {
        "EMBEDDERS": embedders.EMBEDDERS, "BACKENDS": backends.BACKENDS,
        "RERANKERS": reader.RERANKERS, "PROVIDERS": llms.PROVIDERS, "OFFLINE_ANSWERERS": answerers.OFFLINE_ANSWERERS,
    }  # fmt: skip
    classes = {
        "HashEmbedder": type(embedder), "MyBackend": type(store), "RecentFirst": type(rr), "EchoModel": type(model),
        "FirstSentence": type(first),
    }  # fmt: skip
    for line, _ in lines:
        eval(line, {**names, **classes})
    assert isinstance(get_embedder(s.with_options(embed_backend="mine")), type(embedder))
    assert isinstance(backends.get_backend(s.with_options(vector_store="mystore"), "e"), type(store))
    assert isinstance(reader.get_reranker(s.with_options(reranker="recent")), type(rr))
    assert llms.get_chat_model(s.with_options(llm_provider="echo")).model == "echo-1"
    assert isinstance(answerers.offline_answerer(s.with_options(offline_answerer="first")), type(first))

    ns: dict = {}
    exec(compile(blocks["assistant/ingest/mail.py"], "README.md", "exec"), ns)
    mail = ns["MailReader"]()
    assert isinstance(mail, DocumentReader)
    text = mail.read(b"Subject: Ferry times\nContent-Type: text/plain\n\nThe ferry leaves at noon.\n", Path("a.eml"))
    assert text.startswith("Ferry times") and "leaves at noon" in text
