"""Embeddings and retrieval with real components: the packaged ONNX model,
a real OpenAI-compatible HTTP server on 127.0.0.1, and Chroma."""

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from assistant import Settings, answer, build_index
from assistant.api import reset_engines
from assistant.embedders import get_embedder
from assistant.embedders.llama import llama_embedding
from assistant.embedders.local import LocalEmbedder, model_files


def test_local_model_ships_in_site_packages():
    model, tokenizer = model_files()
    assert "site-packages" in str(model) and model.stat().st_size > 10_000_000
    assert tokenizer.name == "tokenizer.json"


def test_local_embeddings_are_normalised_and_meaningful():
    e = LocalEmbedder(threads=1, batch_size=4)
    v = e.embed(
        [
            "Seoul will invest $350 billion in the US.",
            "South Korea pledges large US investment.",
            "Rice prices soared in Japan.",
        ]
    )
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert e.embed([]).shape == (0, 384)
    # Batching and ordering do not change the vectors.
    assert np.allclose(e.embed(["Rice prices soared in Japan."])[0], v[2], atol=1e-4)


def test_llama_index_wrapper(seeds_settings):
    emb = llama_embedding(get_embedder(seeds_settings))
    q = emb.get_query_embedding("tariffs on cars")
    assert len(q) == 384


def test_paraphrased_question_finds_the_passage(seeds_settings):
    # Article 002 says "North American dialogue" for North Korea–US talks.
    a = answer("What are the prospects for North Korea–US dialogue in 2025?", settings=seeds_settings)
    assert "002_ab5e4ddd43271aba.txt" in {p.source for p in a.passages[:3]}
    for p in a.passages:
        assert p.scores.keys() >= {"vector", "sentence", "bm25"}


class _FakeEmbeddings(BaseHTTPRequestHandler):
    """An OpenAI-compatible /v1/embeddings: hashed bag of words, 64 dims."""

    calls = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path.endswith("/embeddings"), self.path
        type(self).calls += 1
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(inputs):
            v = np.zeros(64)
            for w in re.findall(r"\w+", text.lower()):
                v[int(hashlib.md5(w.encode()).hexdigest(), 16) % 64] += 1
            data.append({"object": "embedding", "index": i, "embedding": v.tolist()})
        out = json.dumps(
            {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def embeddings_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeEmbeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_openai_embeddings_use_their_own_collections(embeddings_server, corpus_dir, tmp_path):
    reset_engines()
    local = Settings(corpus=corpus_dir, index_dir=tmp_path / "index")
    build_index(settings=local)
    remote = local.with_options(
        embed_backend="openai", embed_model="fake-embed", openai_base_url=embeddings_server, openai_api_key="sk-test"
    )
    report = build_index(settings=remote)
    assert report.rebuilt and len(report.added) == 5 and _FakeEmbeddings.calls > 0
    a = answer("What did Trump call his one-stop shopping approach?", settings=remote)
    assert a.passages and a.passages[0].source
    import chromadb

    names = {c.name for c in chromadb.PersistentClient(path=str(tmp_path / "index" / "chroma")).list_collections()}
    assert "chunks-openai-fake-embed" in names


def test_unreachable_embeddings_server_is_a_clear_error(corpus_dir, tmp_path):
    from assistant import AssistantError

    s = Settings(
        corpus=corpus_dir,
        index_dir=tmp_path / "i",
        embed_backend="openai",
        openai_base_url="http://127.0.0.1:9/v1",
        openai_api_key="x",
        openai_timeout=2,
    )
    with pytest.raises(AssistantError, match="OpenAI embeddings failed"):
        build_index(settings=s)


def test_corpus_changes_are_picked_up_on_the_next_start(corpus_dir, tmp_path):
    reset_engines()
    s = Settings(corpus=corpus_dir, index_dir=tmp_path / "index")
    assert not answer("What did the zebra commission decide?", settings=s).passages[0].text.count("zebra")
    (corpus_dir / "new.md").write_text(
        "# Zebra Commission\n\nThe zebra commission decided to cut tariffs to 7 percent.\n", encoding="utf-8"
    )
    reset_engines()  # a new process: the corpus is checked against the manifest
    a = answer("What did the zebra commission decide?", settings=s)
    assert "7 percent" in a.text and a.citations[0].source == "new.md"


def test_llama_index_reads_both_collections(seeds_settings):
    """Chunks are written through llama-index's ChromaVectorStore and read
    back as whole nodes. Sentence units are written straight to Chroma with
    only their vector, file and chunks (their text is in those chunks):
    llama-index reads them as nodes that lead to the chunk holding the answer."""
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.stores import IndexStore

    embedder = get_embedder(seeds_settings)
    store = IndexStore(seeds_settings.index, seeds_settings.chroma, embedder.id)
    question = "How much is Seoul expected to invest in the US?"
    found = {}
    for name, collection in (("chunks", store.chunks), ("units", store.units)):
        index = VectorStoreIndex.from_vector_store(
            ChromaVectorStore(chroma_collection=collection.collection), embed_model=llama_embedding(embedder)
        )
        found[name] = index.as_retriever(similarity_top_k=3).retrieve(question)
        assert len(found[name]) == 3 and all(n.node.metadata["source"] for n in found[name])
    assert all(n.node.get_content() for n in found["chunks"])
    assert any("350 billion" in n.node.get_content() for n in found["chunks"])
    chunk_ids = [cid for n in found["units"] for cid in n.node.metadata["chunks"].split(",")]
    texts = store.chunks.get(ids=chunk_ids, include=["documents"])["documents"]
    assert any("350 billion" in t for t in texts)


def test_bm25_top_scores_are_the_highest_positive_ones_best_first():
    import numpy as np

    from assistant.retrieval.hybrid import top_scores

    scores = np.zeros(100_000, dtype=np.float32)
    scores[[5, 70_000, 99_999, 42]] = [1.5, 3.0, 1.5, 0.5]
    assert top_scores(scores, 3) == [(70_000, 3.0), (5, 1.5), (99_999, 1.5)]  # ties by index
    assert top_scores(scores, 10) == [(70_000, 3.0), (5, 1.5), (99_999, 1.5), (42, 0.5)]  # zeros never count
    assert top_scores(np.zeros(10, dtype=np.float32), 5) == []
    rng = np.random.default_rng(0)
    dense = rng.random(5_000).astype(np.float32)
    want = sorted(range(5_000), key=lambda i: -dense[i])[:20]
    assert [i for i, _ in top_scores(dense, 20)] == want


def test_the_embedding_worker_ends_with_its_parent_even_on_kill_9(tmp_path):
    """After `kill -9` of `assistant index`, its embedding worker went on with
    the batch it held (up to a minute of both cores) before it saw EOF."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys, time\n"
        "from assistant.embedders.local import EmbedWorker\n"
        "w = EmbedWorker(1, 32)\n"
        "w.submit(['The harbour of Quillmoor has served ferries for two hundred years and more. ' * 8] * 20000)\n"
        "print(w._proc.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    time.sleep(1.0)  # the worker is embedding the batch

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split(") ")[1][0] != "Z"
        except FileNotFoundError:
            return False

    assert alive(worker)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10  # the batch alone takes minutes
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    gone = not alive(worker)
    if not gone:
        os.kill(worker, signal.SIGKILL)
    assert gone
