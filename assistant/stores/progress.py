"""A build's progress as people read it (`types.IndexProgress`): which file
and segment is being read, the words embedded and their rate, and the time
left at that rate.

The time left is counted in bytes, the one measure known of every file
before it is read: the files the build expects to index (new, or changed
since the manifest's size and modification time) are the work; a file found
unchanged or skipped is taken off it at once, an item (a file, or the
segments of a large file it stands for) once its group is embedded (the
model is the slow part: storing follows within a group). The rate is that of
the bytes embedded over the last few groups (`WINDOW`; with one group, since
the first item went to be embedded): recent, so that neither hashing the
unchanged files nor starting the model's process (the first groups: a 1.5 MB
file was said to need 5 min with 2.7 min to go when the rate counted from
the start) slows it for long. It is given only once a first group is
embedded (reading alone runs far ahead of the model). Between two groups the
time left counts down from what the last one said.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from assistant.ingest.records import Pending
from assistant.types import IndexProgress

OnProgress = Callable[[IndexProgress], None]
WINDOW = 4  # embedded groups the rate is measured over


def expected_work(files: list[Path], corpus: Path, manifest: dict) -> dict[str, int]:
    """Source -> bytes to index, for every corpus file: 0 for one whose size
    and modification time are those the manifest has of its stored version
    (or of its last skip), which the build will find unchanged."""
    work = {}
    for path in files:
        source = path.relative_to(corpus).as_posix()
        try:
            st = path.stat()
        except OSError:
            work[source] = 0  # the reader says what is wrong with it
            continue
        entry = manifest["files"].get(source)
        skipped = manifest.get("skipped", {}).get(source)
        same = entry is not None and (entry.get("size"), entry.get("mtime_ns")) == (st.st_size, st.st_mtime_ns)
        same = same or (skipped is not None and skipped[:2] == [st.st_size, st.st_mtime_ns])
        work[source] = 0 if same else st.st_size
    return work


class ProgressTracker:
    """Counts a build's progress and hands an `IndexProgress` to `report` (if
    any) at each file, each segment and each embedded group. Called from the
    build's thread, and from its writer thread for a file found unusable as it
    is stored: one lock, under which `report` is called too, so that what it
    is given is always in order.
    `clock` is for tests."""

    def __init__(self, report: OnProgress | None, work: dict[str, int], clock: Callable[[], float] = time.monotonic):
        self.report, self.work, self.clock = report, work, clock
        self.lock = threading.Lock()
        self.started = clock()
        self.working_since: float | None = None  # when the first item went to be embedded
        self.total = sum(work.values())
        self.credited: dict[str, int] = {}  # bytes of the work taken off, per file
        self.embedded_bytes = 0  # bytes embedded by this build (for the rate)
        self.words = 0
        self.groups: deque[tuple[float, int, int]] = deque(maxlen=WINDOW)  # when, bytes and words embedded by then
        self.rate: tuple[float, float, float] | None = None  # bytes/s, words/s, and when they were measured
        self.done: set[str] = set()
        self.where = IndexProgress(files=len(work))

    def _credit(self, source: str, nbytes: int) -> None:
        have = self.credited.get(source, 0)
        self.credited[source] = min(self.work.get(source, 0), have + nbytes)

    def reading(self, i: int, source: str, segment: int = 0, segments: int = 0) -> None:
        """The reader is at file `i` (0-based), segment `segment` of `segments` (1-based; 0 of 0: a whole file)."""
        with self.lock:
            if segment and segments and source not in self.credited:
                # A large file continued where an earlier build stopped: its first segments are stored.
                self._credit(source, self.work.get(source, 0) * (segment - 1) // segments)
            event = "segment" if segments else "file"
            self.where = replace(self.where, event=event, file=i + 1, source=source, segment=segment, segments=segments)
            self._emit()

    def queued(self) -> None:
        with self.lock:
            if self.working_since is None:
                self.working_since = self.clock()

    def finished(self, source: str) -> None:
        """The file needs no indexing (unchanged, or skipped): its work is done."""
        with self.lock:
            self._credit(source, self.work.get(source, 0))
            self.done.add(source)

    def embedded(self, items: list[Pending]) -> None:
        """A group of items is embedded."""
        with self.lock:
            for p in items:
                size = p.stat["size"]
                nbytes = size if p.part is None else size * (p.part.end - p.part.first) // p.part.count
                self.embedded_bytes += nbytes
                self._credit(p.source, size if p.whole else nbytes)
                self.words += sum(len(u.text.split()) for u in p.units)
                if p.whole:
                    self.done.add(p.source)
            self._measure()
            self.where = replace(self.where, event="embedded")
            self._emit()

    def _measure(self) -> None:
        now = self.clock()
        if not self.groups:
            self.groups.append((self.working_since or self.started, 0, 0))
        self.groups.append((now, self.embedded_bytes, self.words))
        since, nbytes, words = self.groups[0]
        if (seconds := now - since) > 0:
            self.rate = ((self.embedded_bytes - nbytes) / seconds, (self.words - words) / seconds, now)

    def _emit(self) -> None:
        if self.report is None:
            return
        now = self.clock()
        words_per_s = left = None
        done = sum(self.credited.values())
        if self.rate is not None and self.rate[0] > 0:
            rate, words_per_s, measured = self.rate
            left = max(0.0, max(0, self.total - done) / rate - (now - measured))
        self.where = replace(self.where, files_done=len(self.done), words=self.words, words_per_s=words_per_s,
                             seconds_left=left, fraction=done / self.total if self.total else None,
                             elapsed=now - self.started)  # fmt: skip
        self.report(self.where)
