"""The index builder: brings the index in line with the corpus folder.

A build is idempotent: unchanged files (same sha256) are skipped, changed
files have their chunks replaced, deleted files have them removed. Files are
committed to the manifest only after their chunks are stored, so an
interrupted build resumes where it stopped and is never taken as complete.
In a changed file, the sentences the stored version had too (same content
hash; the collections are the embedder's own) keep their stored vectors:
only new or changed sentences are embedded (`IndexStore.stored_vectors`).
A writer thread stores each group of files while the next is embedded; in a
build of more than one group the model runs in a child process of its own
(`Embedder.worker()`), because Chroma's adds hold this process's GIL. A large
file is read and embedded in segments (`ingest.Segments`, `ingest.records.Part`),
and the manifest's `partial` entry records how many of its segments are
stored, so a build stopped inside it continues it there.

Server mode: every build stamps the chunks collection with a build token
("building:<id>" while it runs, "<id>" when done) and the manifest records
the token it matches. A token that differs means another client changed the
server: the manifest is then derived again from the chunks' metadata (each
carries its file's sha256 and chunk count, and a segment's chunks which
segments they stand for) and the BM25 index rebuilt from the server's documents.

The files are read, cleaned and chunked by an `ingest.reading.CorpusReader`,
which hands its items to the builder (its `Sink`): the builder answers what
the index holds of a file and records skips; reading stays below the stores.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from assistant.embedders.base import Embedder, EmbedJob
from assistant.errors import CorpusError
from assistant.ingest import files as ingest
from assistant.ingest.readers import corpus_suffixes
from assistant.ingest.reading import CorpusReader, unexpected
from assistant.ingest.records import Batch, Pending, item_records
from assistant.settings import ChromaSettings, IndexSettings, Settings
from assistant.stores.backends import get_backend
from assistant.stores.base import VectorBackend
from assistant.stores.locks import build_lock
from assistant.stores.manifest import signature
from assistant.stores.opening import open_for_build
from assistant.stores.progress import OnProgress, ProgressTracker, expected_work
from assistant.stores.report import SyncReport
from assistant.stores.texts import keep_text, prune_texts
from assistant.stores.writer import Writer

log = logging.getLogger(__name__)


class IndexBuilder:
    """One build of the index in `index.index_dir` from `index.corpus` (see the
    module docstring), stored where the chroma section says, by `embedder`.
    `new_backend` makes the vector store of each store the build opens
    (unset: the one `index.vector_store` names, from these two sections).

    Changed files are embedded in groups of about `group_units` sentences, so
    that batches span small files; stored groups are committed to the manifest
    at most every `commit_every` seconds (and at the end), which bounds both
    the work an interruption loses and the cost of rewriting the manifest.

    A file of more than `segment_chars` bytes (default `ingest.SEGMENT_CHARS`)
    is read, cleaned and chunked a segment at a time, each segment a pending
    item of its own: memory is bounded by the group, not by the file.
    `progress` is given an `IndexProgress` at each file, segment and stored
    group (`stores.progress`). Once `cancel` is set, reading stops at the next
    file or segment, what was embedded is stored and committed (a group with
    the model is dropped), and the build ends with `report.stopped`, its
    manifest unfinished: the next build goes on from what is committed.
    `reuse=False` embeds every sentence of a changed file again (benchmarks)."""

    def __init__(
        self,
        index: IndexSettings,
        chroma: ChromaSettings,
        embedder: Embedder,
        progress: OnProgress | None = None,
        group_units: int = 1024,
        commit_every: float = 1.0,
        segment_chars: int | None = None,
        reuse: bool = True,
        new_backend: Callable[[], VectorBackend] | None = None,
        cancel: threading.Event | None = None,
    ):
        self.reuse_vectors = reuse
        self.index, self.chroma, self.new_backend = index, chroma, new_backend
        self.embedder, self.progress, self.cancel = embedder, progress, cancel
        self.group_units, self.commit_every = group_units, commit_every
        self.segment_chars = segment_chars or ingest.SEGMENT_CHARS
        self.report = SyncReport()
        self.corpus = Path(index.corpus)
        self.index_dir = Path(index.index_dir)
        self.sig = signature(index, chroma, embedder.id)
        self.lock = threading.Lock()  # the writer thread and this one both touch the manifest
        self.token: str | None = None  # this build's token, once it writes to the server
        self.pending: list[Pending] = []
        self.pending_units = 0
        self.worker: EmbedJob | None = None  # the model in a child process, from the second group on
        self.in_worker: list[Pending] | None = None  # the group it is embedding
        self.held: tuple | None = None  # the first group, embedded here, until the second is with the model
        self.unrecorded: set[str] = set()  # files whose records could not be made (writer thread)

    # -- the build ----------------------------------------------------------
    def run(self, rebuild: bool = False) -> SyncReport:
        t0 = time.perf_counter()
        report = self.report
        files, report.warnings = ingest.scan_corpus(self.corpus, self.index.file_types)  # CorpusError if none
        if not files:
            suffixes = "/".join(corpus_suffixes(self.index.file_types))
            raise CorpusError(f"No {suffixes} files in corpus folder {self.corpus}")
        with build_lock(self.index_dir), ExitStack() as rebuilding:
            store, manifest, resuming = open_for_build(
                self.index, self.chroma, self.embedder, report, files, rebuild, rebuilding, self.new_backend
            )
            self.store, self.manifest, self.resuming = store, manifest, resuming
            self.indexed = set(manifest["files"])  # files with a whole version in the index, as the build starts
            work = expected_work(files, self.corpus, manifest) if self.progress else {}
            self.tracker = ProgressTracker(self.progress, work)
            self.max_batch = store.max_batch_size()
            self.last_commit = time.monotonic()
            self.writer = Writer()
            with ExitStack() as cleanup:
                # Run last to first, each even if one before it raised: what was
                # embedded is stored and committed, even on an error.
                cleanup.callback(self.commit, True)
                cleanup.callback(self.close_worker)
                cleanup.callback(self.writer.close)
                cleanup.callback(self.store_held)
                # What the last build skipped, kept until this build says otherwise.
                skipped = dict(manifest.get("skipped", {}))
                manifest["skipped"] = {}
                self.reader = CorpusReader(
                    self.index, self, skipped=skipped, warnings=report.warnings, segment_chars=self.segment_chars
                )
                self.reader.read_files(files)
                if self.reader.stopped:
                    self.pending = []  # not embedded yet: read again by the next build
                else:
                    self.flush_last()
            if self.reader.stopped:
                self.stopped(files)
            else:
                self.finish(self.reader.seen, self.reader.unfinished)
        report.seconds = time.perf_counter() - t0
        return report

    def stopped(self, files: list[Path]) -> None:
        """Cancelled: the manifest stays unfinished, the files not reached keep
        the skips the last build found (the library lists them); say what is indexed."""
        report, manifest = self.report, self.manifest
        unread = {s: e for s, e in self.reader.was_skipped.items() if s not in self.reader.seen}
        manifest["skipped"] = unread | manifest["skipped"]
        self.store.write_manifest(manifest)
        sources = [p.relative_to(self.corpus).as_posix() for p in files]
        report.stopped, report.files = True, len(sources)
        report.indexed = sum(s in manifest["files"] for s in sources)
        report.partial = {s: (e["segments_done"], e["segments"]) for s, e in manifest["partial"].items()}
        self.store.close()

    def finish(self, seen: set[str], unfinished: set[str]) -> None:
        """Drop what the corpus no longer has, rebuild BM25, mark the manifest complete."""
        store, manifest, report = self.store, self.manifest, self.report
        for source in sorted((set(manifest["files"]) | set(manifest["partial"])) - seen):
            self.drop(source)
            report.removed.append(source)
        for source in sorted(set(manifest["partial"]) | unfinished):
            self.drop(source)  # a large file left unfinished: it changed while being read
            if source in self.indexed:
                report.removed.append(source)
        if self.resuming:
            # An interrupted build may have stored chunks of a file it never
            # committed, and that file may be gone now.
            in_store = {m["source"] for _, m in store.read_all(store.chunks, ["metadatas"])}
            for source in sorted(in_store - set(manifest["files"])):
                self.drop(source)
                report.removed.append(source)
        t = time.perf_counter()
        if report.changed or unfinished or report.rebuilt or report.refreshed or not (self.index_dir / "bm25").is_dir():
            store.write_bm25()
        report.bm25_seconds = time.perf_counter() - t
        report.chunks = sum(f["chunks"] for f in manifest["files"].values())
        report.units = sum(f["units"] for f in manifest["files"].values())
        prune_texts(self.index_dir, {f["sha256"] for f in manifest["files"].values()})
        if not manifest["files"]:
            store.write_manifest(manifest)
            raise CorpusError(f"No usable document in corpus folder {self.corpus}: " + "; ".join(report.warnings))
        if self.token is not None:
            store.set_server_build(self.token)
            manifest["server_build"] = self.token
        elif store.remote:
            manifest["server_build"] = store.server_build()
        manifest["complete"] = True
        manifest["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        store.write_manifest(manifest)
        store.close()

    # -- what the reader asks and hands over (`ingest.reading.Sink`) ----------
    def stored(self, source: str) -> tuple[dict | None, dict | None]:
        return self.manifest["files"].get(source), self.manifest["partial"].get(source)

    def unchanged(self, source: str, stat: dict) -> None:
        with self.lock:
            self.manifest["files"][source].update(stat)
        self.report.unchanged.append(source)
        self.tracker.finished(source)

    def reading(self, i: int, source: str, segment: int = 0, segments: int = 0) -> None:
        self.tracker.reading(i, source, segment, segments)

    def stopping(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def unusable(self, source: str, error: Exception, st, stored: bool, digest: str | None = None) -> None:
        msg = f"skipped {source}: {error}"
        log.warning(msg)
        self.report.warnings.append(msg)
        with self.lock:
            self.manifest["skipped"][source] = self.reader.skip_entry(st, error, digest)
        self.tracker.finished(source)
        if stored:
            self.drop_later(source)  # a file that became unreadable loses its chunks

    def reusable(self, source: str) -> dict[str, np.ndarray]:
        return self.store.stored_vectors(source) if self.reuse_vectors else {}

    # -- the manifest and the store (writer thread) ---------------------------
    def commit(self, force: bool = False) -> None:
        if force or time.monotonic() - self.last_commit >= self.commit_every:
            with self.lock:
                self.store.write_manifest(self.manifest)
            self.last_commit = time.monotonic()

    def writing(self) -> None:
        """Stamp the server before the first write (server mode), so that
        other clients see it changing and a resumed build matches it. A
        build that writes nothing leaves the token, and their caches, be."""
        if self.store.remote and self.token is None:
            self.token = uuid.uuid4().hex
            self.store.set_server_build(f"building:{self.token}")
            with self.lock:
                self.manifest["server_build"] = f"building:{self.token}"
            self.commit(force=True)

    def drop(self, source: str) -> None:
        self.writing()
        # Units go first: a file with units always has its chunks, so the
        # chunks alone tell which files an interrupted build left behind.
        with self.store.guard():
            self.store.units.delete(where={"source": source})
            self.store.chunks.delete(where={"document_id": source})  # as llama-index deletes a document
        with self.lock:
            self.manifest["files"].pop(source, None)
            self.manifest["partial"].pop(source, None)

    def drop_later(self, source: str) -> None:
        """Drop a file's records once what is queued is stored."""
        self.writer.submit(self.drop, source)

    def store_group(self, group: list[Pending], vecs: np.ndarray) -> None:
        """Store and commit the files of one embedded group (writer thread).
        One add per collection for the whole group: each Chroma add has a
        fixed cost that per-file adds of small files paid many times."""
        store, report, manifest = self.store, self.report, self.manifest
        ts = time.perf_counter()
        self.writing()
        units, heads, chunks, offset = Batch(), Batch(), Batch(), 0
        recorded = []
        for p in group:
            doc_vecs = vecs[offset : offset + len(p.units)]
            offset += len(p.units)
            if p.source in self.unrecorded:
                continue  # an earlier part of this file could not be recorded
            mine = Batch(), Batch(), Batch()
            try:
                item_records(p, doc_vecs, *mine)
            except Exception as e:  # this file's records cannot be made: it is skipped, the others stored
                self.unrecorded.add(p.source)
                st = SimpleNamespace(st_size=p.stat["size"], st_mtime_ns=p.stat["mtime_ns"])
                self.unusable(p.source, unexpected(p.source, e), st, True, p.digest)
                continue
            recorded.append(p)
            if getattr(p.doc, "extracted", False):  # the text citations index (PDF, Word, HTML)
                keep_text(self.index_dir, p.digest, p.doc.clean.original, p.doc.pages)
            report.tokens += sum(u.tokens for u in p.units)
            first = len(chunks.ids)
            for whole, part in zip((units, heads, chunks), mine):
                whole.extend(part)
            if p.fresh and (p.replaces or self.resuming):
                self.drop(p.source)  # also clears chunks left by an interrupted build
            elif self.resuming:
                # A file continued where an interrupted build stopped: its
                # segments committed stay; this item's records may have
                # been stored after the last commit (Chroma would ignore
                # adds of ids it has), and are written again.
                with store.guard():
                    store.units.delete(ids=p.unit_ids())
                    store.chunks.delete(ids=chunks.ids[first:])
        b = self.max_batch
        with store.guard():
            for s in range(0, len(chunks.ids), b):
                store.chunks.add(chunks.ids[s : s + b], chunks.embeddings[s : s + b], chunks.metadatas[s : s + b],
                                 chunks.documents[s : s + b])  # fmt: skip
            for part in (units, heads):
                for s in range(0, len(part.ids), b):
                    e = s + b
                    store.units.add(part.ids[s:e], np.stack(part.embeddings[s:e]), part.metadatas[s:e],
                                    part.documents[s:e] or None)  # fmt: skip
        with self.lock:
            for p in recorded:
                n_chunks, n_units = p.totals()
                entry = {"sha256": p.digest, "title": p.doc.title, "chunks": n_chunks, "units": n_units, **p.stat,
                         "indexed_at": time.time()}  # fmt: skip
                if getattr(p.doc, "pages", None):  # the Documents view shows a PDF's page count
                    entry["pages"] = len(p.doc.pages)
                if p.whole:
                    manifest["files"][p.source] = entry
                    manifest["partial"].pop(p.source, None)
                else:
                    entry |= {"segments_done": p.part.end, "segments": p.part.count, "segment_size": p.part.size}
                    manifest["partial"][p.source] = entry
        for p in recorded:
            if p.whole:
                (report.updated if p.source in self.indexed else report.added).append(p.source)
        self.commit()
        report.store_seconds += time.perf_counter() - ts

    # -- embedding ------------------------------------------------------------
    def add(self, p: Pending, more: bool) -> None:
        self.tracker.queued()
        self.pending.append(p)
        self.pending_units += len(p.units)
        if self.pending_units >= self.group_units:
            self.flush(more=more)

    def assemble(self, group: list[Pending], new: np.ndarray | None) -> np.ndarray:
        """The group's vectors in unit order: the known ones and, in order, the newly embedded ones."""
        self.tracker.embedded(group)
        self.report.embedded += 0 if new is None else len(new)
        if all(not p.known for p in group):
            return new
        rows, k = [], 0
        for p in group:
            for u in p.units:
                if u.index in p.known:
                    rows.append(p.known[u.index])
                    self.report.reused += 1
                else:
                    rows.append(new[k])
                    k += 1
        return np.stack(rows).astype(np.float32, copy=False)

    def flush(self, more: bool) -> None:
        """Embed the pending files' sentences in one go (batches across
        files) and hand them to the writer.

        When more files follow and the embedder can run in a child process
        (`embedder.worker()`), the first group is embedded here while that
        process starts; every later group is sent to it, and this process
        reads and chunks the next group while the writer stores the
        previous one: Chroma's adds hold this process's GIL, not the
        model's. For that reason the first group is stored only once the
        second is with the model: stored at once, it kept this process
        from chunking the second, and the model idle (0.75 s at 1k chunks).
        A group whose every vector is known is stored as it is, in order."""
        report = self.report
        group, self.pending, self.pending_units = self.pending, [], 0
        embedded = now = None
        if self.in_worker is not None:
            vecs, seconds = self.worker.result()
            report.embed_seconds += seconds
            embedded, self.in_worker = (self.in_worker, self.assemble(self.in_worker, vecs)), None
        if group:
            texts = [t for p in group for t in p.to_embed()]
            if not texts:
                now = (group, self.assemble(group, None))
            elif self.worker is not None:
                self.worker.submit(texts)
                self.in_worker = group
            else:
                if more:
                    self.worker = self.embedder.worker()  # None: it cannot run in a child process
                    report.embed_process = self.worker is not None
                te = time.perf_counter()
                vecs = self.assemble(group, self.embedder.embed(texts))
                report.embed_seconds += time.perf_counter() - te
                if self.worker is not None:
                    self.held = (group, vecs)
                else:
                    now = (group, vecs)
        if self.held is not None and (self.in_worker is not None or not group or now is not None):
            self.writer.submit(self.store_group, *self.held)
            self.held = None
        for job in (embedded, now):  # groups are stored in the order they were read
            if job is not None:
                self.writer.submit(self.store_group, *job)

    def flush_last(self) -> None:
        """Flush what is left. With the model in its own process, the last
        group goes in quarters: only the store of the last quarter then
        waits for the model to finish, not that of a whole group."""
        if self.worker is not None and self.pending:
            rest, self.pending, size = self.pending, [], 0
            for p in rest:
                self.pending.append(p)
                size += len(p.units)
                if size >= max(1, self.group_units // 4):
                    self.flush(more=True)
                    size = 0
        while self.pending or self.in_worker is not None or self.held is not None:
            self.flush(more=False)

    def store_held(self) -> None:
        if self.held is not None:  # the model process failed before it took the second group
            self.writer.submit(self.store_group, *self.held)

    def close_worker(self) -> None:
        if self.worker is not None:
            self.worker.close()


def sync(
    settings: Settings,
    embedder: Embedder,
    rebuild: bool = False,
    progress: OnProgress | None = None,
    group_units: int = 1024,
    commit_every: float = 1.0,
    segment_chars: int | None = None,
    reuse: bool = True,
    cancel: threading.Event | None = None,
) -> SyncReport:
    """Bring the index in `settings.index_dir` in line with `settings.corpus` (see `IndexBuilder`),
    in the vector store `settings.vector_store` names, built from the sections it takes."""
    new_backend = partial(get_backend, settings, embedder.id)
    return IndexBuilder(
        settings.index, settings.chroma, embedder, progress, group_units, commit_every, segment_chars, reuse, new_backend,
        cancel,
    ).run(rebuild)  # fmt: skip
