"""The builder's reading side: each corpus file read, cleaned and chunked
into pending items (a whole file, or a segment of a large one), handed to
`add` to be embedded and stored; of a changed file, the stored vectors of
the sentences it still has are taken with it."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.errors import FileChanged
from assistant.ingest.files import Segments, file_digest, open_file, read_doc, too_large
from assistant.ingest.readers import reader_for
from assistant.settings import Settings
from assistant.stores.index import PAGE, IndexStore, unit_id
from assistant.stores.records import Part, Pending, unit_hash
from assistant.stores.report import SyncReport

log = logging.getLogger(__name__)


def reading_key(settings: Settings) -> str:
    """What decides whether a file can be read besides its bytes: the
    reading settings and the readers' code. A skipped file is read again
    when one changes (a longer timeout, a newer reader)."""
    reading = {k: v for k, v in settings.model_dump().items() if k.startswith(("read_", "max_file"))}
    return json.dumps([_version(), reading], sort_keys=True, default=str)


@lru_cache(maxsize=1)
def _version() -> str:
    """The readers' code, by content: a change to any of them (a better PDF
    header rule, a new zip check) reads the files they skipped again, with
    no version number to remember to bump."""
    import hashlib

    from assistant.ingest import files

    digest = hashlib.sha256()
    for path in sorted(Path(files.__file__).parent.glob("*.py")):
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


class ReadingSide:
    """`IndexBuilder`'s reading side (a mixin): `read_files` reads the corpus
    files in order and calls `add` for each pending item."""

    # Set by IndexBuilder before `read_files`:
    settings: Settings
    corpus: Path
    progress: Callable[[int, int, str], None] | None
    segment_chars: int
    reuse_vectors: bool
    store: IndexStore
    manifest: dict
    lock: threading.Lock
    report: SyncReport

    def add(self, p: Pending, more: bool) -> None:
        raise NotImplementedError

    def drop_later(self, source: str) -> None:
        """Drop a file's records once what is queued is stored."""
        raise NotImplementedError

    def queue(self, p: Pending, more: bool) -> None:
        if p.replaces and self.stored_vectors:
            self.reuse(p, self.stored_vectors)
        self.add(p, more=more)

    def unusable(self, source: str, error: Exception, st, stored: bool, digest: str | None = None) -> None:
        msg = f"skipped {source}: {error}"
        log.warning(msg)
        self.report.warnings.append(msg)
        with self.lock:
            # The reason is kept for the library's list of documents (`assistant.library`);
            # the content hash and the reading settings, to skip it unread next time.
            entry = [st.st_size, st.st_mtime_ns, str(error)]
            self.manifest["skipped"][source] = entry + ([digest, self.reading_key] if digest else [])
        if stored:
            self.drop_later(source)  # a file that became unreadable loses its chunks

    def skipped_before(self, source: str, size: int, digest: str) -> str | None:
        """The reason this very content (hash and size) was skipped by the
        last build, read with the same settings and code, else None. A file
        that failed once fails again: a broken 6 MB PDF or a zip bomb is not
        parsed again by every build (`assistant index --rebuild` retries)."""
        entry = self.was_skipped.get(source)
        if entry and len(entry) >= 5 and entry[0] == size and entry[3:5] == [digest, self.reading_key]:
            return entry[2]
        return None

    def read_files(self, files: list[Path]) -> None:
        from assistant.ingest.chunk import chunk_doc

        b, report, manifest = self, self.report, self.manifest
        self.files = files
        # What the last build skipped, kept until this build says otherwise.
        self.was_skipped: dict[str, list] = dict(manifest.get("skipped", {}))
        manifest["skipped"] = {}
        self.reading_key = reading_key(self.settings)
        self.root = self.corpus.resolve()
        s = self.settings
        self.chunking = (s.chunk_size, s.chunk_overlap, s.unit_max_tokens)
        self.seen: set[str] = set()
        self.unfinished: set[str] = set()  # large files that changed while being read
        self.stored_vectors: dict[str, np.ndarray] = {}  # of the file being read, when it replaces a stored version
        for i, path in enumerate(self.files):
            source = path.relative_to(b.corpus).as_posix()
            more = i + 1 < len(self.files)
            if b.progress:
                b.progress(i, len(self.files), source)
            try:
                fh, st = open_file(path, self.root)
            except (OSError, ValueError) as e:
                report.warnings.append(f"skipped {source}: {e}")
                continue
            with fh:
                stat = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
                old = manifest["files"].get(source)
                # The store may hold chunks of this file (of this version or another).
                stored = old is not None or source in manifest["partial"]
                segs = None
                big = too_large(st.st_size, self.settings.max_file_mb)
                if big:  # not even read: a huge file must not stall the build
                    self.seen.add(source)
                    self.unusable(source, ValueError(big), st, stored)
                    continue
                try:
                    # Only a reader whose text is the file's bytes decoded can
                    # be read in segments; others take the whole file.
                    if st.st_size > b.segment_chars and reader_for(path).streamable:
                        segs = Segments(fh, st, b.segment_chars)  # streams the file once
                        digest = segs.sha256
                    if segs is None or len(segs.segments) == 1:
                        fh.seek(0)
                        data, segs = fh.read(), None
                        digest = file_digest(data)
                except OSError as e:
                    report.warnings.append(f"skipped {source}: {e}")
                    continue
                except ValueError as e:  # binary, not UTF-8
                    self.seen.add(source)
                    self.unusable(source, e, st, stored)
                    continue
                self.seen.add(source)
                reason = self.skipped_before(source, st.st_size, digest)
                if reason is not None:
                    self.unusable(source, ValueError(reason), st, stored, digest)
                    continue
                if old and old.get("sha256") == digest:
                    with b.lock:
                        old.update(stat)
                    report.unchanged.append(source)
                    continue
                # Another version is stored: its unchanged chunks keep their vectors.
                self.stored_vectors = b.reusable(source) if old is not None and b.reuse_vectors else {}
                if segs is not None:
                    try:
                        self.segmented(i, path, source, segs, stat, old is not None, more)
                    except (OSError, FileChanged) as e:
                        msg = f"skipped {source}: {e}; the next build indexes it"
                        log.warning(msg)
                        report.warnings.append(msg)
                        self.unfinished.add(source)
                    except Exception as e:  # as below: this file is skipped, the build goes on
                        # A failure a reader did not foresee may come after some segments were queued.
                        queued = stored or not isinstance(e, ValueError)
                        self.unusable(source, unexpected(source, e), st, queued, digest)
                    continue
            try:
                doc = read_doc(path, b.corpus, data, self.settings.read_timeout, self.settings.read_memory_mb)
                units, chunks = chunk_doc(doc, *self.chunking)
            except Exception as e:  # one file's failure is its skip reason, never the whole build's
                self.unusable(source, unexpected(source, e), st, stored, digest)
                continue
            self.queue(Pending(source, doc, units, chunks, digest, stat, stored), more=more)
        self.stored_vectors = {}

    def segmented(self, i: int, path: Path, source: str, segs: Segments, stat: dict, old: bool, more: bool) -> None:
        """Queue a large file a segment at a time, from the first segment
        not stored yet when an interrupted build stored the file's first
        ones (same content, same cuts), else from the start. Each segment
        is an item of its own (`Part`), queued once the next segment with
        text is read, so that the file's last item is known as such; a
        segment with no text after cleaning is counted with its neighbour.
        Cleaning rules that look at the whole document look at the
        segment: a line repeated within it is dropped (one repeated from
        an earlier segment is kept), a page footer only in the last one."""
        from assistant.ingest.chunk import chunk_doc
        from assistant.ingest.clean import clean_text, extract_title
        from assistant.ingest.files import SourceDoc

        b = self
        count, sha = len(segs.segments), segs.sha256
        done = b.manifest["partial"].get(source) or {}
        start, chunk_base, unit_base, title = 0, 0, 0, None
        if (done.get("sha256"), done.get("segments"), done.get("segment_size")) == (sha, count, b.segment_chars):
            if 0 < done["segments_done"] < count:
                start, chunk_base, unit_base = done["segments_done"], done["chunks"], done["units"]
                title = done["title"]
        replaces = old or (bool(done) and start == 0)  # another version may be stored
        item, first = None, start
        for k in range(start, count):
            if b.progress:
                b.progress(i, len(self.files), f"{source} (segment {k + 1}/{count})")
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
            part = Part(k, first, k + 1, count, b.segment_chars, seg.char_start, chunk_base, unit_base)
            item = Pending(source, doc, units, chunks, sha, stat, replaces, part)
            first, chunk_base, unit_base = k + 1, chunk_base + len(chunks), unit_base + len(units)
        if item is None:
            raise ValueError("empty after cleaning")
        item.part.last = True
        self.queue(item, more=more)

    # -- reuse of stored vectors ----------------------------------------------
    def reusable(self, source: str) -> dict[str, np.ndarray]:
        """The stored version of a changed file, for reuse: sentence content
        hash -> its stored vector. Read before the file's first item is
        stored, which deletes the old records.

        Keyed by sentence, not by chunk, because sentences are what is
        embedded (a chunk's vector is their mean), and because chunks are
        packed greedily: an edit that changes a sentence's length shifts
        every later chunk boundary of the file (or segment), so few chunks
        keep their hash (15 of 54 sentences in a chunk with an unchanged
        hash after a one-line edit of a seed article) while every other
        sentence is unchanged (53 of 54)."""
        store = self.store
        text_of: dict[str, str] = {}  # unit id -> its text, sliced from a chunk that holds it
        for _, doc, meta in store.read_all(store.chunks, ["documents", "metadatas"], where={"source": source}):
            for index, rs, re_, *_ in json.loads(meta.get("units", "[]")):
                text_of.setdefault(unit_id(source, index), doc[rs:re_])
        found: dict[str, np.ndarray] = {}
        ids = list(text_of)
        for s in range(0, len(ids), PAGE):
            with store.guard():
                got = store.units.get(ids=ids[s : s + PAGE], include=["embeddings"])
            for uid, vec in zip(got["ids"], got["embeddings"]):
                found[unit_hash(text_of[uid])] = np.asarray(vec, dtype=np.float32)
        return found

    def reuse(self, p: Pending, stored: dict[str, np.ndarray]) -> None:
        """Take the stored vectors of `p`'s sentences the stored version had too."""
        for u in p.units:
            vec = stored.get(unit_hash(u.text))
            if vec is not None:
                p.known[u.index] = vec
