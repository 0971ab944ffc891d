"""Reading the corpus for a build: each file read, cleaned and chunked into
pending items (a whole file, or a segment of a large one), handed to the
index builder to be embedded and stored; of a changed file, the stored
vectors of the sentences it still has are taken with it.

This layer sits below the embedders and the stores, so the reader knows the
index only through `Sink`, which `stores.builder.IndexBuilder` implements:
what the index holds of a file, and where the reader's findings go."""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.errors import FileChanged
from assistant.ingest.files import Segments, file_digest, open_file, read_doc, too_large
from assistant.ingest.readers import reader_for
from assistant.ingest.records import Part, Pending, unit_hash
from assistant.settings import IndexSettings

log = logging.getLogger(__name__)


def reading_key(index: IndexSettings) -> str:
    """What decides whether a file can be read besides its bytes: the
    reading settings (of the index section) and the readers' code. A
    skipped file is read again when one changes (a longer timeout, a newer reader)."""
    reading = {k: v for k, v in index.model_dump().items() if k.startswith(("read_", "max_file"))}
    return json.dumps([_version(), reading], sort_keys=True, default=str)


@lru_cache(maxsize=1)
def _version() -> str:
    """The readers' code, by content: a change to any of them (a better PDF
    header rule, a new zip check) reads the files they skipped again, with
    no version number to remember to bump."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):  # all of ingest/, this module too
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def unexpected(source: str, e: Exception) -> ValueError:
    """The skip reason of an error: a reader's ValueError as it is; one no
    reader foresaw (a bug, or a library's surprise on an odd file) as its
    type and message on one line, the traceback in the debug log."""
    if isinstance(e, ValueError):
        return e
    log.debug("reading %s failed", source, exc_info=e)
    msg = " ".join(str(e).split()) or "no message"
    return ValueError(f"{type(e).__name__}: {msg[:300]}")


class Sink(Protocol):
    """What the reader asks of the index being built and hands to it
    (`stores.builder.IndexBuilder`). Entries are the manifest's (see
    `stores.manifest`), passed down: this layer cannot import it."""

    def stored(self, source: str) -> tuple[dict | None, dict | None]:
        """The index's entries of `source`: its whole stored version, and
        the segments stored of a large file stored in part (None: none)."""
        ...

    def unchanged(self, source: str, stat: dict) -> None:
        """The stored version is this file's content: only its stat changed."""
        ...

    def unusable(self, source: str, error: Exception, st, stored: bool, digest: str | None = None) -> None:
        """Skip the file for `error`; `stored`: the index may hold chunks of it, to be dropped."""
        ...

    def reusable(self, source: str) -> dict[str, np.ndarray]:
        """Sentence content hash -> stored vector, of the stored version of a changed file ({}: none to reuse)."""
        ...

    def add(self, p: Pending, more: bool) -> None:
        """Embed and store `p`; `more`: other files follow."""
        ...

    def reading(self, i: int, source: str, segment: int = 0, segments: int = 0) -> None:
        """The reader is at file `i` (0-based) of the corpus, at segment
        `segment` of `segments` (1-based) of a large one (0 of 0: a whole file)."""
        ...

    def stopping(self) -> bool:
        """The build is to stop: read nothing more (what was handed over is the builder's)."""
        ...


class CorpusReader:
    """Reads the corpus files of one build in order (`read_files`) and hands
    each pending item to `sink.add`. `index` is the index section (the
    corpus, the reading limits, the chunking), `skipped` what the last
    build skipped (the manifest's `skipped`), `warnings` the build's list of them.
    Between items (a file, a segment) it tells the sink where it is and asks
    whether to stop; `stopped` says whether it did, before the end."""

    def __init__(
        self,
        index: IndexSettings,
        sink: Sink,
        skipped: dict[str, list],
        warnings: list[str],
        segment_chars: int,
    ):
        self.index, self.sink, self.was_skipped, self.warnings = index, sink, skipped, warnings
        self.segment_chars = segment_chars
        self.stopped = False
        self.corpus = Path(index.corpus)
        self.root = self.corpus.resolve()
        self.key = reading_key(index)
        self.chunking = (index.chunk_size, index.chunk_overlap, index.unit_max_tokens)
        self.files: list[Path] = []
        self.seen: set[str] = set()
        self.unfinished: set[str] = set()  # large files that changed while being read
        self.stored_vectors: dict[str, np.ndarray] = {}  # of the file being read, when it replaces a stored version

    def queue(self, p: Pending, more: bool) -> None:
        if p.replaces and self.stored_vectors:
            reuse(p, self.stored_vectors)
        self.sink.add(p, more=more)

    def skip_entry(self, st, error: Exception, digest: str | None = None) -> list:
        """The manifest's `skipped` entry of a file skipped for `error`. The
        reason is kept for the library's list of documents (`assistant.library`);
        the content hash and the reading settings, to skip it unread next time."""
        entry = [st.st_size, st.st_mtime_ns, str(error)]
        return entry + ([digest, self.key] if digest else [])

    def skipped_before(self, source: str, size: int, digest: str) -> str | None:
        """The reason this very content (hash and size) was skipped by the
        last build, read with the same settings and code, else None. A file
        that failed once fails again: a broken 6 MB PDF or a zip bomb is not
        parsed again by every build (`assistant index --rebuild` retries)."""
        entry = self.was_skipped.get(source)
        if entry and len(entry) >= 5 and entry[0] == size and entry[3:5] == [digest, self.key]:
            return entry[2]
        return None

    def read_files(self, files: list[Path]) -> None:
        from assistant.ingest.chunk import chunk_doc

        sink = self.sink
        self.files = files
        for i, path in enumerate(self.files):
            source = path.relative_to(self.corpus).as_posix()
            more = i + 1 < len(self.files)
            if sink.stopping():
                self.stopped = True
                break
            sink.reading(i, source)
            try:
                fh, st = open_file(path, self.root)
            except (OSError, ValueError) as e:
                self.warnings.append(f"skipped {source}: {e}")
                continue
            with fh:
                stat = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
                old, done = sink.stored(source)
                # The store may hold chunks of this file (of this version or another).
                stored = old is not None or done is not None
                segs = None
                big = too_large(st.st_size, self.index.max_file_mb)
                if big:  # not even read: a huge file must not stall the build
                    self.seen.add(source)
                    sink.unusable(source, ValueError(big), st, stored)
                    continue
                try:
                    # Only a reader whose text is the file's bytes decoded can
                    # be read in segments; others take the whole file.
                    if st.st_size > self.segment_chars and reader_for(path).streamable:
                        segs = Segments(fh, st, self.segment_chars)  # streams the file once
                        digest = segs.sha256
                    if segs is None or len(segs.segments) == 1:
                        fh.seek(0)
                        data, segs = fh.read(), None
                        digest = file_digest(data)
                except OSError as e:
                    self.warnings.append(f"skipped {source}: {e}")
                    continue
                except ValueError as e:  # binary, not UTF-8
                    self.seen.add(source)
                    sink.unusable(source, e, st, stored)
                    continue
                self.seen.add(source)
                reason = self.skipped_before(source, st.st_size, digest)
                if reason is not None:
                    sink.unusable(source, ValueError(reason), st, stored, digest)
                    continue
                if old and old.get("sha256") == digest:
                    sink.unchanged(source, stat)
                    continue
                # Another version is stored: its unchanged chunks keep their vectors.
                self.stored_vectors = sink.reusable(source) if old is not None else {}
                if segs is not None:
                    try:
                        self.segmented(i, path, source, segs, stat, old is not None, done or {}, more)
                    except (OSError, FileChanged) as e:
                        msg = f"skipped {source}: {e}; the next build indexes it"
                        log.warning(msg)
                        self.warnings.append(msg)
                        self.unfinished.add(source)
                    except Exception as e:  # as below: this file is skipped, the build goes on
                        # A failure a reader did not foresee may come after some segments were queued.
                        queued = stored or not isinstance(e, ValueError)
                        sink.unusable(source, unexpected(source, e), st, queued, digest)
                    continue
            try:
                doc = read_doc(path, self.corpus, data, self.index.read_timeout, self.index.read_memory_mb)
                units, chunks = chunk_doc(doc, *self.chunking)
            except Exception as e:  # one file's failure is its skip reason, never the whole build's
                sink.unusable(source, unexpected(source, e), st, stored, digest)
                continue
            self.queue(Pending(source, doc, units, chunks, digest, stat, stored), more=more)
        self.stored_vectors = {}

    def segmented(
        self, i: int, path: Path, source: str, segs: Segments, stat: dict, old: bool, done: dict, more: bool
    ) -> None:
        """Queue a large file a segment at a time, from the first segment
        not stored yet when an interrupted build stored the file's first
        ones (same content, same cuts; `done`, the index's entry of the
        segments stored), else from the start. Each segment is an item of
        its own (`Part`), queued once the next segment with text is read,
        so that the file's last item is known as such; a segment with no
        text after cleaning is counted with its neighbour. Cleaning rules
        that look at the whole document look at the segment: a line
        repeated within it is dropped (one repeated from an earlier segment
        is kept), a page footer only in the last one."""
        from assistant.ingest.chunk import chunk_doc
        from assistant.ingest.clean import clean_text, extract_title
        from assistant.ingest.files import SourceDoc

        count, sha = len(segs.segments), segs.sha256
        start, chunk_base, unit_base, title = 0, 0, 0, None
        if (done.get("sha256"), done.get("segments"), done.get("segment_size")) == (sha, count, self.segment_chars):
            if 0 < done["segments_done"] < count:
                start, chunk_base, unit_base = done["segments_done"], done["chunks"], done["units"]
                title = done["title"]
        replaces = old or (bool(done) and start == 0)  # another version may be stored
        item, first = None, start
        for k in range(start, count):
            if self.sink.stopping():  # the segments read and not queued are read again by the next build
                self.stopped = True
                return
            self.sink.reading(i, source, k + 1, count)
            ct = clean_text(segs.text(k), footer=k == count - 1)
            if title is None:
                title = extract_title(ct.text, fallback=path.stem)
            doc = SourceDoc(source=source, path=path, sha256=sha, title=title, clean=ct)
            units, chunks = [], []
            if ct.text.strip():
                units, chunks = chunk_doc(doc, *self.chunking, starts_doc=unit_base == 0)
            if not units:
                if item is not None:
                    item.part.end = first = k + 1
                continue
            if item is not None:
                self.queue(item, more=True)
            seg = segs.segments[k]
            part = Part(k, first, k + 1, count, self.segment_chars, seg.char_start, chunk_base, unit_base)
            item = Pending(source, doc, units, chunks, sha, stat, replaces, part)
            first, chunk_base, unit_base = k + 1, chunk_base + len(chunks), unit_base + len(units)
        if item is None:
            raise ValueError("empty after cleaning")
        item.part.last = True
        self.queue(item, more=more)


def reuse(p: Pending, stored: dict[str, np.ndarray]) -> None:
    """Take the stored vectors of `p`'s sentences the stored version had too."""
    for u in p.units:
        vec = stored.get(unit_hash(u.text))
        if vec is not None:
            p.known[u.index] = vec
