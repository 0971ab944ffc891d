"""A build's progress (issue 25): the `IndexProgress` events of a build with a
large file read in segments, the time left they estimate, and a build
cancelled at a committed point that the next build completes without
embedding again what was committed. On the `test` profile (hashed embedder,
in-memory store), with small segments and groups so that a ~40 KB file makes
several of each."""

from __future__ import annotations

import json
import threading

from assistant import build_index
from assistant.embedders import get_embedder
from assistant.ingest.records import Part, Pending
from assistant.stores import sync
from assistant.stores.progress import ProgressTracker, expected_work
from assistant.types import IndexProgress

from conftest import annals

SEGMENT = 2048
GROUP = 64  # sentences
BIG = "big.txt"


class Counting:
    """The profile's embedder, counting the sentences it embeds."""

    def __init__(self, settings):
        self.inner = get_embedder(settings)
        self.id, self.dim = self.inner.id, self.inner.dim
        self.texts = 0
        self.words = 0

    def embed(self, texts):
        self.texts += len(texts)
        self.words += sum(len(t.split()) for t in texts)
        return self.inner.embed(texts)

    def worker(self):
        return None


def with_big_file(settings):
    (settings.corpus / BIG).write_text(annals(600), encoding="utf-8")
    return settings


def build(settings, embedder=None, **kw):
    return sync(settings, embedder or get_embedder(settings), segment_chars=SEGMENT, group_units=GROUP, **kw)


def manifest(settings) -> dict:
    return json.loads((settings.index_dir / "manifest.json").read_text())


def test_the_events_of_a_build_count_up_to_their_totals(hashed_settings):
    s = with_big_file(hashed_settings)
    events: list[IndexProgress] = []
    embedder = Counting(s)
    report = build(s, embedder, progress=events.append)
    files = sorted(p.name for p in s.corpus.iterdir())
    assert {e.files for e in events} == {len(files)}
    # Each file in order, each segment of the big one in order, once.
    reading = [(e.source, e.segment, e.segments) for e in events if e.event != "embedded"]
    segments = max(e.segments for e in events)
    assert segments >= 10
    assert [r for r in reading if r[0] == BIG] == [(BIG, 0, 0)] + [(BIG, k, segments) for k in range(1, segments + 1)]
    assert [r[0] for r in reading if r[1] == 0] == files
    # Counts only go up, and end at the totals.
    for key in ("file", "files_done", "words", "fraction"):
        values = [getattr(e, key) for e in events]
        assert values == sorted(values), key
    last = events[-1]
    assert (last.file, last.files_done, last.fraction) == (len(files), len(files), 1.0)
    assert last.words == embedder.words and embedder.texts == report.units  # every sentence, embedded once
    # No rate, and no time left, until a first group is embedded; both from then on.
    first = next(i for i, e in enumerate(events) if e.event == "embedded")
    assert all(e.words_per_s is None and e.seconds_left is None for e in events[:first])
    assert all(e.words_per_s > 0 and e.seconds_left is not None for e in events[first:])
    assert last.seconds_left == 0
    assert sum(e.event == "embedded" for e in events) >= 3  # several groups: the file was not stored in one go


def test_the_old_callback_is_given_each_file_and_segment(hashed_settings, monkeypatch):
    from assistant.ingest import files

    monkeypatch.setattr(files, "SEGMENT_CHARS", SEGMENT)
    s = with_big_file(hashed_settings)
    calls, events = [], []
    build_index(settings=s, progress=lambda i, n, label: calls.append((i, n, label)), on_progress=events.append)
    count = max(e.segments for e in events)
    big = [(0, 3, BIG)] + [(0, 3, f"{BIG} (segment {k}/{count})") for k in range(1, count + 1)]
    assert calls == big + [(1, 3, "ferry.md"), (2, 3, "museum.md")]


def test_a_cancelled_build_keeps_what_it_committed_and_the_next_one_goes_on(hashed_settings):
    s = with_big_file(hashed_settings)
    cancel = threading.Event()

    def stop_after_first_group(e: IndexProgress):
        if e.event == "embedded":
            cancel.set()

    first = Counting(s)
    report = build(s, first, progress=stop_after_first_group, cancel=cancel)
    assert report.stopped
    m = manifest(s)
    assert not m["complete"] and set(m["files"]) == set()  # the big file comes first: no file is whole yet
    done, segments = m["partial"][BIG]["segments_done"], m["partial"][BIG]["segments"]
    assert 0 < done < segments
    assert report.partial == {BIG: (done, segments)} and (report.indexed, report.files) == (0, 3)
    assert report.stopped_line() == f"Stopped: 0 of 3 files indexed; {BIG} indexed up to segment {done} of {segments}"
    committed_units = m["partial"][BIG]["units"]
    assert first.texts >= committed_units  # a group read after the commit may have been embedded, then dropped

    second = Counting(s)
    report = build(s, second)
    assert not report.stopped and sorted(report.added) == [BIG, "ferry.md", "museum.md"]
    whole = manifest(s)
    assert whole["complete"] and not whole["partial"]
    total_units = sum(f["units"] for f in whole["files"].values())
    assert second.texts == total_units - committed_units  # nothing committed is embedded again
    # The same index as one build makes in one go.
    assert stored(s) == stored(clean(s))


def stored(settings) -> list[tuple]:
    """What the in-memory store holds of the index: each record's collection, id, text and metadata."""
    from assistant.stores import memory

    held = [(name, i) for (d, name), i in memory._STORES.items() if d == str(settings.index_dir.resolve())]
    return sorted((name, rid, doc or "", json.dumps(meta, sort_keys=True)) for name, i in held
                  for rid, (_, meta, doc) in i.records.items())  # fmt: skip


def clean(settings):
    from assistant import Settings

    other = Settings(profile="test", corpus=settings.corpus, index_dir=settings.index_dir.parent / "clean")
    build(other)
    return other


def test_a_cancel_before_anything_is_embedded_stops_with_nothing_indexed(hashed_settings):
    cancel = threading.Event()
    cancel.set()
    report = build(hashed_settings, cancel=cancel)
    assert report.stopped and report.stopped_line() == "Stopped: 0 of 2 files indexed"
    assert not build(hashed_settings).stopped and manifest(hashed_settings)["complete"]


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def item(source: str, size: int, words: int, part: Part | None = None) -> Pending:
    from assistant.ingest.chunk import Unit

    units = [Unit(0, 0, 5, 5, " ".join(["word"] * words))]
    return Pending(source, None, units, [], "sha", {"size": size, "mtime_ns": 1}, False, part)


def test_time_left_is_the_rate_of_embedded_bytes_over_what_remains():
    clock, events = Clock(), []
    work = {"a.txt": 1000, "big.txt": 4000, "same.txt": 0}
    t = ProgressTracker(events.append, work, clock=clock)
    t.reading(0, "a.txt")
    t.queued()
    assert events[-1].seconds_left is None and events[-1].words_per_s is None  # estimating
    clock.now += 10
    t.embedded([item("a.txt", 1000, 500)])  # 1000 bytes and 500 words in 10 s
    assert events[-1].words_per_s == 50 and events[-1].seconds_left == 40  # 4000 bytes left at 100 B/s
    assert events[-1].fraction == 0.2
    t.reading(1, "big.txt", 3, 4)  # continued at its third of four segments: half of it was stored before
    assert events[-1].seconds_left == 20
    t.finished("same.txt")  # unchanged: it was no work
    clock.now += 10
    t.embedded([item("big.txt", 4000, 500, Part(2, 2, 3, 4, 1024, 0, 0, 0))])  # a quarter more: 2000 bytes in 20 s
    e = events[-1]
    assert (e.event, e.words, e.files_done, e.seconds_left) == ("embedded", 1000, 2, 10)  # 1000 bytes left at 100 B/s
    assert e.fraction == 0.8  # by bytes: the big file weighs its size


def test_the_expected_work_leaves_out_files_the_manifest_has_as_they_are(tmp_path):
    (tmp_path / "same.txt").write_text("same")
    (tmp_path / "new.txt").write_text("new text")
    st = (tmp_path / "same.txt").stat()
    m = {"files": {"same.txt": {"size": st.st_size, "mtime_ns": st.st_mtime_ns}}, "skipped": {}}
    assert expected_work(sorted(tmp_path.iterdir()), tmp_path, m) == {"new.txt": 8, "same.txt": 0}


def test_a_cancelled_build_keeps_the_skips_of_the_files_it_did_not_reach(hashed_settings):
    s = with_big_file(hashed_settings)
    (s.corpus / "zz_bad.txt").write_bytes(b"caf\xe9 au lait\n")  # not UTF-8: skipped, its reason kept
    build(s)
    said = manifest(s)["skipped"]["zz_bad.txt"]
    (s.corpus / BIG).write_text(annals(700), encoding="utf-8")  # changed: work for the next build
    cancel = threading.Event()
    report = build(s, progress=lambda e: e.event == "embedded" and cancel.set(), cancel=cancel)
    assert report.stopped and manifest(s)["skipped"] == {"zz_bad.txt": said}  # the library still lists it as skipped


def test_the_rate_is_that_of_the_last_groups_not_of_a_slow_start():
    clock, events = Clock(), []
    t = ProgressTracker(events.append, {"big.txt": 10_000}, clock=clock)
    t.reading(0, "big.txt", 1, 10)
    t.queued()
    clock.now += 100  # the model's process starting: the first group took 100 s
    t.embedded([item("big.txt", 10_000, 100, Part(0, 0, 1, 10, 1024, 0, 0, 0))])
    assert events[-1].seconds_left == 900  # 9,000 bytes at 10 B/s
    for k in range(1, 5):  # then a group every 10 s
        clock.now += 10
        t.embedded([item("big.txt", 10_000, 100, Part(k, k, k + 1, 10, 1024, 0, 0, 0))])
    e = events[-1]
    assert (e.words_per_s, e.seconds_left) == (10, 50)  # 5,000 bytes at 100 B/s, not at 5,000 / 140 s
    clock.now += 20  # between two groups the time left counts down
    t.reading(0, "big.txt", 7, 10)
    assert events[-1].seconds_left == 30
