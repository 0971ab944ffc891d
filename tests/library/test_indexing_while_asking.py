"""Questions while documents are being indexed (an upload indexed in a
thread of the same process, as the chat page does), builds made by another
process (`assistant index` in a shell), and the library in server mode."""

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant import Settings, answer, build_index
from assistant.api import reset_engines
from assistant.library import add_documents, documents, index_version

from conftest import SEEDS, indexed_corpus
from servers import free_port, serve

LAMP = "The Quillmoor lamp museum opened in 1911.\n"
FERRY = "The Brindle ferry crosses the bay in 25 minutes.\n"
Q_LAMP = "When did the Quillmoor lamp museum open?"
Q_FERRY = "How long does the Brindle ferry take to cross the bay?"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return indexed_corpus(tmp_path, {"lamp.txt": LAMP})


class PausedBuilds:
    """`builds` runs of build_index, one after the other in a thread (as a
    page indexes one upload after another), each held at its first file
    (the manifest then says a build is under way) until `release()`, or
    60 s at most, so that a question is asked at a known point of each."""

    def __init__(self, settings: Settings, builds: int):
        self.started = [threading.Event() for _ in range(builds)]
        self.released = [threading.Event() for _ in range(builds)]
        self.timed_out = [False] * builds
        self.current = -1
        self.labels: list[str] = []
        self.failed: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(settings, builds))
        self.thread.start()

    def _progress(self, i: int, n: int, label: str) -> None:
        self.labels.append(label)
        k = self.current
        if not self.started[k].is_set():
            self.started[k].set()
            self.timed_out[k] = not self.released[k].wait(60)

    def _run(self, settings: Settings, builds: int) -> None:
        try:
            for k in range(builds):
                self.current = k
                build_index(settings=settings, progress=self._progress)
        except BaseException as e:  # noqa: BLE001 - reported by release()
            self.failed.append(e)
            for e in self.started:
                e.set()

    def wait(self, k: int) -> None:
        assert self.started[k].wait(120), f"build {k} did not start"
        assert not self.failed, self.failed

    def release(self, k: int) -> bool:
        """Let build k go on; False when its timeout had let it go already."""
        self.released[k].set()
        if k == len(self.released) - 1:
            self.thread.join()
        assert not self.failed, self.failed
        return not self.timed_out[k]


def upload(settings: Settings, folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    assert all(u.ok for u in add_documents([folder / n for n in files], settings=settings))


def test_questions_while_uploads_are_indexed_are_answered_from_what_is_indexed(settings, tmp_path):
    assert "1911" in answer(Q_LAMP, settings=settings).text  # the page has its index loaded
    seeds = {p.name: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))[:2]}
    upload(settings, tmp_path / "up1", {"ferry.txt": FERRY, **seeds})
    builds = PausedBuilds(settings, 2)
    builds.wait(0)
    a = answer(Q_LAMP, settings=settings)  # while the build is held: answered, not waiting for it
    # A second upload, indexed right after the first (its build has listed its files already).
    upload(settings, tmp_path / "up2", {"tower.txt": "The Ostrel clock tower has 212 steps.\n"})
    assert builds.release(0), "the question waited for the build"
    assert "1911" in a.text and not a.refused

    # No question between the two builds: the first one's file answers during the second.
    builds.wait(1)
    a = answer(Q_FERRY, settings=settings)
    assert builds.release(1), "the question waited for the build"
    assert "25 minutes" in a.text and a.citations[0].source == "ferry.txt"
    assert "212" in answer("How many steps does the Ostrel clock tower have?", settings=settings).text
    assert {d.status for d in documents(settings=settings)} == {"indexed"}


def test_questions_never_fail_while_an_upload_is_indexed(settings, tmp_path):
    assert "1911" in answer(Q_LAMP, settings=settings).text
    upload(settings, tmp_path / "up", {p.name: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))[:3]})
    builder = threading.Thread(target=build_index, kwargs={"settings": settings})
    builder.start()
    answers = []
    while builder.is_alive():
        answers.append(answer(Q_LAMP, settings=settings))  # raises on failure
    builder.join()
    assert len(answers) >= 2 and all("1911" in a.text and not a.refused for a in answers)
    assert {d.status for d in documents(settings=settings)} == {"indexed"}


def test_a_build_in_another_process_is_seen_by_the_library_and_a_running_engine(settings):
    assert "ferry" not in answer(Q_FERRY, settings=settings).text.lower()
    version = index_version(settings=settings)
    (Path(settings.corpus) / "ferry.txt").write_text(FERRY, encoding="utf-8")
    assert {d.source: d.status for d in documents(settings=settings)} == {"lamp.txt": "indexed", "ferry.txt": "pending"}

    cmd = [sys.executable, "-m", "assistant.apps.cli", "index", "-q", "--corpus", str(settings.corpus),
           "--index-dir", str(settings.index_dir)]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr

    assert index_version(settings=settings) != version
    ferry = {d.source: d for d in documents(settings=settings)}["ferry.txt"]
    assert ferry.status == "indexed" and ferry.chunks == 1 and ferry.indexed_at is not None
    a = answer(Q_FERRY, settings=settings)  # the same engine as before, in this process
    assert "25 minutes" in a.text and a.citations[0].source == "ferry.txt"


@pytest.mark.slow
def test_the_library_in_server_mode(tmp_path, corpus_dir):
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    assert exe, "the `chroma` command (installed with chromadb) is missing"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [exe, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)]
    with serve(cmd, url + "/api/v2/heartbeat", "chroma run", timeout=30):
        reset_engines()
        s = Settings(corpus=corpus_dir, index_dir=tmp_path / "w", chroma_url=url)
        build_index(settings=s)
        docs = documents(settings=s)
        assert len(docs) == 5 and all(d.status == "indexed" and d.chunks > 0 and d.indexed_at for d in docs)
        times = {d.source: d.indexed_at for d in docs}

        # The server changed by another client: the manifest is derived again from
        # the chunks; unchanged files keep the time this cache knew.
        other = s.with_options(index_dir=tmp_path / "other")
        (corpus_dir / "new.txt").write_text(FERRY, encoding="utf-8")
        build_index(settings=other)
        build_index(settings=s)
        docs = {d.source: d for d in documents(settings=s)}
        assert all(docs[k].indexed_at == t for k, t in times.items())
        assert docs["new.txt"].status == "indexed" and docs["new.txt"].indexed_at is None  # indexed elsewhere

        # A client with no corpus folder lists what the server holds.
        reader = s.with_options(corpus=tmp_path / "no-corpus", index_dir=tmp_path / "r")
        answer(Q_FERRY, settings=reader)  # derives its cache from the server
        assert {d.source for d in documents(settings=reader)} == set(docs)
