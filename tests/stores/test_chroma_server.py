"""Client/server mode against a real `chroma run` server on 127.0.0.1: index,
re-index, answer and evals work as with the embedded store; a second client
without the corpus answers from the server; bad configurations fail clearly."""

import os
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant import IndexConfigError, IndexStoreError, Settings, answer, build_index
from assistant.api import reset_engines
from assistant.apps.cli import main
from assistant.embedders import get_embedder
from assistant.errors import ForeignFilesError
from assistant.stores import IndexStore, read_all

from servers import free_port, serve

pytestmark = pytest.mark.slow

QUESTION = "How much is Seoul expected to invest in the US?"


@contextmanager
def chroma_server(path: Path):
    """A real `chroma run` on a free 127.0.0.1 port: (url, process)."""
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if exe is None:
        pytest.fail("the `chroma` command (installed with chromadb) is missing")
    port = free_port()
    cmd = [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with serve(cmd, url + "/api/v2/heartbeat", "chroma run", timeout=30) as proc:
        yield url, proc


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    with chroma_server(tmp_path_factory.mktemp("chroma_server")) as (url, _):
        yield url


def server_records(settings: Settings) -> tuple[set[str], set[str], list[str]]:
    """(chunk sources, unit sources, chunk texts) as the server holds them."""
    store = IndexStore(settings.index, settings.chroma, get_embedder(settings).id)
    chunks = list(read_all(store.chunks, ["metadatas", "documents"]))
    units = list(read_all(store.units, ["metadatas"]))
    return {m["source"] for _, m, _ in chunks}, {m["source"] for _, m in units}, [d for _, _, d in chunks]


def test_index_reindex_and_answer_through_the_server(chroma_url, corpus_dir, tmp_path):
    reset_engines()
    s = Settings(corpus=corpus_dir, index_dir=tmp_path / "index", chroma_url=chroma_url, chroma_prefix="t1-")
    first = build_index(settings=s)
    assert len(first.added) == 5 and first.chunks > 20
    assert not (s.index_dir / "chroma").exists()  # the vectors are on the server
    sources, unit_sources, _ = server_records(s)
    assert len(sources) == 5 and unit_sources == sources
    a = answer(QUESTION, settings=s)
    assert not a.refused and "350 billion" in a.text and a.citations

    assert not build_index(settings=s).changed  # idempotent

    (corpus_dir / "004_b6b4be5490c3fc00.txt").write_text(
        "Trade Talks Update\n\nThe zebra tariff was cut to 3 percent on Tuesday.\n", encoding="utf-8"
    )
    (corpus_dir / "002_ab5e4ddd43271aba.txt").unlink()
    third = build_index(settings=s)
    assert third.updated == ["004_b6b4be5490c3fc00.txt"] and third.removed == ["002_ab5e4ddd43271aba.txt"]
    sources, unit_sources, texts = server_records(s)
    assert "002_ab5e4ddd43271aba.txt" not in sources | unit_sources  # no stale chunks on the server
    assert sum("zebra tariff" in t for t in texts) == 1 and not any("Acting President Han" in t for t in texts)
    reset_engines()
    a = answer("What was the zebra tariff cut to?", settings=s)
    assert "3 percent" in a.text and a.citations[0].source == "004_b6b4be5490c3fc00.txt"


def test_same_answers_as_the_embedded_store(chroma_url, seeds_settings, tmp_path):
    remote = seeds_settings.with_options(index_dir=tmp_path / "index", chroma_url=chroma_url, chroma_prefix="t2-")
    build_index(settings=remote)
    for q in (QUESTION, "What tariff did Trump threaten?", "Who is the president of South Korea?"):
        local, served = answer(q, settings=seeds_settings), answer(q, settings=remote)
        assert served.text == local.text
        assert [(c.source, c.start, c.end) for c in served.citations] == [
            (c.source, c.start, c.end) for c in local.citations
        ]


def test_a_second_client_follows_the_server(chroma_url, corpus_dir, tmp_path):
    """The keyword side stays consistent with the server: a client that did
    not build the index (and has no corpus) derives its BM25 index from the
    server's documents, and rebuilds it when another client changes them."""
    reset_engines()
    writer = Settings(corpus=corpus_dir, index_dir=tmp_path / "w", chroma_url=chroma_url, chroma_prefix="t3-")
    reader = writer.with_options(corpus=tmp_path / "no-corpus-here", index_dir=tmp_path / "r")
    build_index(settings=writer)
    assert "350 billion" in answer(QUESTION, settings=reader).text
    store = IndexStore(reader.index, reader.chroma, get_embedder(reader).id)
    assert store.status() == "ready"

    (corpus_dir / "000_5ee872053de253e0.txt").write_text(
        "Harbor Notes\n\nThe quokka summit in Busan ended with a pledge of 42 ferries.\n", encoding="utf-8"
    )
    build_index(settings=writer)
    assert store.status() == "outdated"
    reset_engines()  # a new process, or a new engine, of the reader
    a = answer("How many ferries were pledged at the quokka summit?", settings=reader)
    assert "42 ferries" in a.text and a.citations[0].source == "000_5ee872053de253e0.txt"
    assert store.status() == "ready"
    _, bm25_ids = store.load_bm25()
    assert set(bm25_ids) == {cid for cid, _ in read_all(store.chunks, ["metadatas"])}


def test_an_interrupted_build_on_the_server_resumes(chroma_url, corpus_dir, tmp_path):
    reset_engines()
    s = Settings(corpus=corpus_dir, index_dir=tmp_path / "index", chroma_url=chroma_url, chroma_prefix="t4-")
    embedder = get_embedder(s)

    class Flaky:
        id, dim, calls = embedder.id, embedder.dim, 0

        def embed(self, texts):
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("power cut")
            return embedder.embed(texts)

        def worker(self):
            return None  # the model runs in this process

    from assistant.stores import sync

    with pytest.raises(RuntimeError):
        sync(s, Flaky(), group_units=1)
    assert IndexStore(s.index, s.chroma, embedder.id).status() == "incomplete"
    report = build_index(settings=s)
    assert len(report.unchanged) == 2 and len(report.added) == 3
    assert len(server_records(s)[0]) == 5


def test_ask_on_the_command_line_with_no_corpus_answers_from_the_server(chroma_url, corpus_dir, tmp_path):
    """F11: the CLI does as the API and the README say: a client with no
    corpus folder answers from what the server holds (it exited 3, "Corpus
    folder not found")."""
    reset_engines()
    writer = Settings(corpus=corpus_dir, index_dir=tmp_path / "w", chroma_url=chroma_url, chroma_prefix="t11-")
    build_index(settings=writer)
    reset_engines()
    # In a process of its own: the environment is read once per process
    # (`settings.get_settings`), so an earlier test's reading would hide it.
    env = {**os.environ, "ASSISTANT_CHROMA_PREFIX": "t11-"}
    where = ["--corpus", str(tmp_path / "nonexistent"), "--index-dir", str(tmp_path / "r"), "--chroma-url", chroma_url]
    r = subprocess.run(
        [sys.executable, "-m", "assistant.apps.cli", "ask", *where, QUESTION], capture_output=True, text=True, env=env
    )
    code, out, err = r.returncode, r.stdout, r.stderr
    assert code == 0, err
    assert "350 billion" in out and "[1]" in out
    assert "reading it from the Chroma server" in err and "building it now" not in err


def test_unreachable_server_is_a_clear_error(tmp_path, corpus_dir, capsys):
    reset_engines()
    url = f"http://127.0.0.1:{free_port()}"
    s = Settings(corpus=corpus_dir, index_dir=tmp_path / "index", chroma_url=url)
    with pytest.raises(IndexConfigError, match="cannot be reached"):
        build_index(settings=s)
    with pytest.raises(IndexConfigError, match="cannot be reached"):
        answer(QUESTION, settings=s)
    code = main(
        ["ask", "--corpus", str(corpus_dir), "--index-dir", str(tmp_path / "index"), "--chroma-url", url, QUESTION]
    )
    err = capsys.readouterr().err
    assert code == 4 and "cannot be reached" in err and "Traceback" not in err
    assert not (tmp_path / "index" / "manifest.json").exists()


def test_a_hung_server_times_out_with_a_clear_error(tmp_path, corpus_dir):
    import socket
    import time

    reset_engines()
    with socket.socket() as hung:  # accepts connections (backlog), never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        s = Settings(corpus=corpus_dir, index_dir=tmp_path / "index", chroma_url=url, chroma_timeout=1.0)
        t = time.monotonic()
        with pytest.raises(IndexConfigError, match="cannot be reached"):
            answer(QUESTION, settings=s)
        assert time.monotonic() - t < 10


def test_no_corpus_and_an_empty_server_is_a_clear_error(chroma_url, tmp_path):
    reset_engines()
    s = Settings(corpus=tmp_path / "absent", index_dir=tmp_path / "index", chroma_url=chroma_url, chroma_prefix="t7-")
    with pytest.raises(IndexStoreError, match="holds no index yet"):
        answer(QUESTION, settings=s)


def test_a_new_database_is_created_on_first_use(chroma_url, corpus_dir, tmp_path):
    reset_engines()
    s = Settings(corpus=corpus_dir, index_dir=tmp_path / "index", chroma_url=chroma_url, chroma_database="fresh-db")
    assert "350 billion" in answer(QUESTION, settings=s).text


def test_vectors_of_another_dimension_are_refused_not_wiped(chroma_url, corpus_dir, tmp_path):
    import chromadb

    reset_engines()
    s = Settings(corpus=corpus_dir, index_dir=tmp_path / "index", chroma_url=chroma_url, chroma_prefix="t5-")
    store = IndexStore(s.index, s.chroma, get_embedder(s).id)
    port = int(chroma_url.rsplit(":", 1)[1])
    other = chromadb.HttpClient(host="127.0.0.1", port=port).get_or_create_collection(
        store.collection_name("chunks"), embedding_function=None
    )
    other.add(ids=["someone-else"], embeddings=[[0.5] * 1536], documents=["a document of another application"])
    with pytest.raises(IndexConfigError, match="1536-dimensional .* 384-dimensional"):
        build_index(settings=s)
    assert other.count() == 1  # nothing of theirs was deleted


def test_a_new_client_reuses_what_the_server_holds_and_repairs_partial_files(chroma_url, corpus_dir, tmp_path):
    """A client with an empty cache (or another machine) derives the manifest
    from the server: whole files are skipped, a file with chunks missing is
    indexed again, and a file the corpus no longer has is removed."""
    reset_engines()
    first = Settings(corpus=corpus_dir, index_dir=tmp_path / "a", chroma_url=chroma_url, chroma_prefix="t6-")
    build_index(settings=first)
    store = IndexStore(first.index, first.chroma, get_embedder(first).id)
    cut = [cid for cid, m in read_all(store.chunks, ["metadatas"]) if m["source"] == "001_822ce0cbe2c49b13.txt"]
    store.chunks.delete(ids=cut[:2])  # as if a build had stopped half-way through that file
    (corpus_dir / "003_e5f950a99eaab371.txt").unlink()

    second = first.with_options(index_dir=tmp_path / "b")
    report = build_index(settings=second)
    assert report.refreshed and sorted(report.unchanged) == [
        "000_5ee872053de253e0.txt", "002_ab5e4ddd43271aba.txt", "004_b6b4be5490c3fc00.txt",
    ]  # fmt: skip
    assert report.added == ["001_822ce0cbe2c49b13.txt"] and report.removed == ["003_e5f950a99eaab371.txt"]
    sources, unit_sources, _ = server_records(second)
    assert sources == unit_sources == {"000_5ee872053de253e0.txt", "001_822ce0cbe2c49b13.txt",
                                       "002_ab5e4ddd43271aba.txt", "004_b6b4be5490c3fc00.txt"}  # fmt: skip
    # The first client's cache is now outdated and follows on its next use.
    assert store.status() == "outdated"
    assert not build_index(settings=first).changed
    assert store.status() == "ready"


def test_two_corpora_on_one_server_never_delete_each_others_records(chroma_url, corpus_dir, tmp_path):
    """Same server, same prefix, different corpus folders: each corpus has
    collections of its own (the reliability report saw "120 removed")."""
    reset_engines()
    other = tmp_path / "other-corpus"
    other.mkdir()
    (other / "harbor.txt").write_text(
        "The quokka summit in Busan ended with a pledge of 42 ferries.\n", encoding="utf-8"
    )
    a = Settings(corpus=corpus_dir, index_dir=tmp_path / "a", chroma_url=chroma_url, chroma_prefix="t8-")
    b = Settings(corpus=other, index_dir=tmp_path / "b", chroma_url=chroma_url, chroma_prefix="t8-")
    build_index(settings=a)
    report = build_index(settings=b)
    assert report.added == ["harbor.txt"] and not report.removed
    assert not build_index(settings=a).changed
    assert len(server_records(a)[0]) == 5 and server_records(b)[0] == {"harbor.txt"}
    assert "350 billion" in answer(QUESTION, settings=a).text
    assert "42 ferries" in answer("How many ferries were pledged?", settings=b).text
    # A client with no corpus folder cannot tell which of the two to read: one line naming both.
    with pytest.raises(IndexConfigError, match="ASSISTANT_CHROMA_NAMESPACE to one of .*other-corpus"):
        answer(QUESTION, settings=a.with_options(corpus=tmp_path / "absent", index_dir=tmp_path / "c"))


def test_a_shared_namespace_refuses_to_delete_another_corpus_files(chroma_url, corpus_dir, tmp_path):
    """Two folders told to share one namespace: the second build would delete
    the first one's files, so it stops and names them; --rebuild takes over."""
    reset_engines()
    other = tmp_path / "other-corpus"
    other.mkdir()
    (other / "harbor.txt").write_text(
        "The quokka summit in Busan ended with a pledge of 42 ferries.\n", encoding="utf-8"
    )
    a = Settings(corpus=corpus_dir, index_dir=tmp_path / "a", chroma_url=chroma_url, chroma_namespace="shared")
    b = a.with_options(corpus=other, index_dir=tmp_path / "b")
    build_index(settings=a)
    with pytest.raises(ForeignFilesError, match=r"holds 5 file\(s\) .* \(000_5ee872053de253e0.txt, .*--rebuild"):
        build_index(settings=b)
    assert len(server_records(a)[0]) == 5  # nothing was deleted
    # Asking a question never deletes either: it answers from what the server holds.
    assert "350 billion" in answer(QUESTION, settings=b).text
    assert len(server_records(a)[0]) == 5
    report = build_index(settings=b, rebuild=True)
    assert report.added == ["harbor.txt"] and server_records(b)[0] == {"harbor.txt"}


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_a_server_lost_during_a_build_is_one_line_and_the_build_resumes(how, corpus_dir, tmp_path):
    """kill -9 or SIGSTOP of the server while `assistant index` writes to it: an
    IndexConfigError of one line (exit 4 in the CLI), not an httpx traceback."""
    from assistant.stores import sync

    reset_engines()
    with chroma_server(tmp_path / "server") as (url, proc):
        s = Settings(corpus=corpus_dir, index_dir=tmp_path / "index", chroma_url=url, chroma_timeout=3)
        embedder = get_embedder(s)

        class LosesTheServer:
            id, dim, calls = embedder.id, embedder.dim, 0

            def embed(self, texts):
                self.calls += 1
                if self.calls == 2:  # the first group is stored: the server goes away mid-build
                    proc.send_signal(signal.SIGKILL if how == "killed" else signal.SIGSTOP)
                return embedder.embed(texts)

            def worker(self):
                return None  # the model runs in this process

        with pytest.raises(IndexConfigError) as lost:
            sync(s, LosesTheServer(), group_units=200)
        assert "\n" not in str(lost.value) and url in str(lost.value)
        if how == "stopped":
            proc.send_signal(signal.SIGCONT)
            report = build_index(settings=s)  # the next run, once the server is back, finishes the build
            assert len(report.added) + len(report.unchanged) == 5 and IndexStore(s.index, s.chroma, embedder.id).status() == "ready"
