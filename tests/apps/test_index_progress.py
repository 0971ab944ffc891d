"""Progress people can read (issue 25), in `assistant index` and the chat
page: the line ("report.txt — file 7 of 11, segment 12 of 24 · 1,850
words/s · about 3 min left"), the page's status and its Cancel, and Ctrl-C
in `assistant index`: stopped at a committed point, one line saying what is
indexed, exit 130, and the next run completes the index."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from assistant import Settings
from assistant.apps import progress as cli_progress
from assistant.apps.chat_docs import Progress, index_with_progress, progress_line
from assistant.apps.progress import progress_text, time_left
from assistant.stores.report import SyncReport
from assistant.types import IndexProgress

from conftest import annals

AT = IndexProgress(files=11, event="segment", file=7, source="docs/report.txt", segment=12, segments=24,
                   words=90_000, words_per_s=1850.4, seconds_left=175.0)  # fmt: skip


@pytest.mark.parametrize(
    "seconds, said",
    [(None, "estimating time left…"), (4, "a few seconds left"), (44, "about 40 s left"), (175, "about 3 min left"),
     (3600, "about 1 h left"), (5 * 3600 + 20 * 60, "about 5 h 20 min left")],
)  # fmt: skip
def test_time_left_is_said_as_people_say_it(seconds, said):
    assert time_left(seconds) == said


def test_the_progress_line_names_the_file_segment_rate_and_time_left():
    assert progress_text(AT) == "report.txt — file 7 of 11, segment 12 of 24 · 1,850 words/s · about 3 min left"
    first = IndexProgress(files=3, event="file", file=1, source="a.md")
    assert progress_text(first) == "a.md — file 1 of 3 · estimating time left…"


def test_the_page_says_where_indexing_is_and_what_a_cancel_left():
    assert progress_line(Progress()) == "Indexing: reading the files…"
    line = "Indexing report.txt — file 7 of 11, segment 12 of 24 · 1,850 words/s · about 3 min left"
    assert progress_line(Progress(event=AT)) == line
    odd = IndexProgress(files=1, file=1, source="my_*notes*.md")  # shown as itself, not as Markdown
    assert progress_line(Progress(event=odd)).startswith("Indexing my&#95;&#42;notes&#42;.md — file 1 of 1")
    stopping = Progress(event=AT)
    stopping.cancel.set()
    assert progress_line(stopping) == "Stopping at the next committed point…"
    stopped = SyncReport(stopped=True, files=11, indexed=7, partial={"report.txt": (12, 24)})
    assert progress_line(Progress(done=True, report=stopped)).startswith(
        "**Stopped:** 7 of 11 files indexed; report.txt indexed up to segment 12 of 24. The rest is indexed"
    )


def test_the_page_cancel_stops_the_build_and_says_what_is_indexed(hashed_settings):
    cancel = threading.Event()
    cancel.set()  # at once: nothing indexed, the report says so
    states = list(index_with_progress(hashed_settings, cancel=cancel))
    last = states[-1]
    assert last.done and last.error is None and last.report.stopped
    assert progress_line(last).startswith("**Stopped:** 0 of 2 files indexed. The rest")


@pytest.fixture
def big_corpus(hashed_settings, monkeypatch):
    """The test profile from the environment's settings, a ~200 KB file in
    2 KB segments: several groups of 1,024 sentences, so a build stores some
    before it ends."""
    from assistant import settings as settings_module
    from assistant.ingest import files

    monkeypatch.setattr(files, "SEGMENT_CHARS", 2048)
    monkeypatch.setattr(settings_module, "get_settings", lambda: Settings(profile="test"))
    (hashed_settings.corpus / "big.txt").write_text(annals(3000), encoding="utf-8")
    return hashed_settings


def test_ctrl_c_stops_assistant_index_at_a_committed_point_and_the_next_run_ends_it(big_corpus, monkeypatch, capsys):
    from assistant.apps.cli import main

    s = big_corpus
    shown = cli_progress.Lines.__call__

    def interrupt_after_first_group(self, p):
        shown(self, p)
        if p.event == "embedded" and not getattr(self, "sent", False):
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C in the terminal

    monkeypatch.setattr(cli_progress.Lines, "__call__", interrupt_after_first_group)
    args = ["index", "--corpus", str(s.corpus), "--index-dir", str(s.index_dir)]
    assert main(args) == 130
    out, err = capsys.readouterr()
    assert out == ""
    said = [line for line in err.splitlines() if line.startswith("Stopped:")]
    assert len(said) == 1 and said[0].startswith("Stopped: 0 of 3 files indexed; big.txt indexed up to segment ")
    assert said[0].endswith("; run `assistant index` to continue.")
    assert "big.txt — file 1 of 3, segment 1 of " in err  # the lines before it
    m = json.loads((s.index_dir / "manifest.json").read_text())
    assert not m["complete"] and m["partial"]["big.txt"]["segments_done"] >= 1

    monkeypatch.setattr(cli_progress.Lines, "__call__", shown)
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("3 added, 0 updated")
    m = json.loads((s.index_dir / "manifest.json").read_text())
    clean = Settings(profile="test", corpus=s.corpus, index_dir=s.index_dir.parent / "clean")
    assert main(["index", "--corpus", str(s.corpus), "--index-dir", str(clean.index_dir), "-q"]) == 0
    whole = json.loads((clean.index_dir / "manifest.json").read_text())

    def counts(files):
        return {k: (v["sha256"], v["chunks"], v["units"]) for k, v in files.items()}

    assert m["complete"] and not m["partial"] and counts(m["files"]) == counts(whole["files"])  # nothing lost
