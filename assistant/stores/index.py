"""The index store: Chroma collections (chunks and sentence units), a BM25
index and a manifest, kept in step with the corpus folder.

Layout of `index_dir`:
  chroma/         Chroma PersistentClient: collections `chunks-<embedder>` (in
                  llama-index's node format, see `ingest.records.item_records`) and
                  `units-<embedder>`; absent in server mode: the collections
                  live on the Chroma server named by `chroma_url`
  bm25/           bm25s index over the chunks (rebuilt whenever chunks change)
  manifest.json   per-file content hash and counts, settings signature, and
                  `complete`, which is true only after a build finished
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError, IndexStoreError
from assistant.ingest.records import unit_hash, unit_id
from assistant.settings import ChromaSettings, IndexSettings
from assistant.stores.backends import backend_from, forget_local, local_dirs
from assistant.stores.base import VectorBackend, VectorIndex
from assistant.stores.bm25 import load_bm25, write_bm25
from assistant.stores.locks import GENERATION, READERS, ensure_dir, generation, readers
from assistant.stores.manifest import MANIFEST, manifest_from_chunks, read_manifest, signature, write_manifest
from assistant.stores.panics import quiet_panics
from assistant.stores.texts import TEXTS

PAGE = 5000  # records per request when reading a whole collection


def read_all(index: VectorIndex, include: list[str], where: dict | None = None) -> Iterator[tuple]:
    """(id, *fields) of every record (matching `where`), read a page at a
    time: one request for a 100k-chunk collection would hold it all twice in
    memory, and a Chroma server may refuse the payload."""
    offset = 0
    while True:
        got = index.get(where=where, include=include, limit=PAGE, offset=offset)
        if not len(got["ids"]):
            return
        yield from zip(got["ids"], *(got[k] for k in include))
        offset += len(got["ids"])


class IndexStore:
    """Handles on the persisted index; opening it never builds anything.

    Built from the index and chroma sections, the embedder's id and, when
    known, its vector size (to check the collections against). `backend` is
    the vector store, built by the caller from its own sections
    (`backends.get_backend`); unset, the one `index.vector_store` names,
    built from these two sections (`backends.backend_from`)."""

    def __init__(
        self,
        index: IndexSettings,
        chroma: ChromaSettings,
        embedder_id: str,
        dim: int | None = None,
        backend: VectorBackend | None = None,
    ):
        self.index, self.chroma = index, chroma
        self.dir = Path(index.index_dir)
        self.embedder_id = embedder_id
        self.dim = dim
        self.backend = backend if backend is not None else backend_from(index, chroma, embedder_id)
        self.building = False  # this store belongs to a build, which holds the build lock
        self._generation = None  # of the embedded store when it was opened (see `guard`)

    @property
    def remote(self) -> bool:
        return self.backend.remote

    @property
    def where(self) -> str:
        return self.backend.where

    def collection_name(self, kind: str) -> str:
        return self.backend.collection_name(kind)

    # -- manifest -----------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST

    def read_manifest(self) -> dict | None:
        """The manifest, None if there is none; IndexStoreError if unreadable."""
        return read_manifest(self.manifest_path)

    def write_manifest(self, manifest: dict) -> None:
        write_manifest(self.manifest_path, manifest)

    def status(self) -> str:
        """'missing', 'incomplete', 'stale' (other settings), 'corrupt',
        'outdated' (the Chroma server changed since this cache was built) or
        'ready'. Raises IndexConfigError when the server cannot be reached."""
        try:
            m = self.read_manifest()
        except IndexStoreError:
            return "corrupt"
        if m is None:
            return "missing"
        if m.get("signature") != signature(self.index, self.chroma, self.embedder_id):
            return "stale"
        if not m.get("complete"):
            return "incomplete"
        if not (self.dir / "bm25").is_dir():
            return "incomplete"
        if self.remote and m.get("server_build") != self.server_build():
            return "outdated"
        return "ready"

    # -- vectors ------------------------------------------------------------
    @contextmanager
    def guard(self) -> Iterator[None]:
        """A context in which vendor errors of this store become ours (see
        `chroma.store_errors`), and in which, for a reader of an embedded
        store, no other process is rebuilding it (see `locks.readers`). A
        store opened before a rebuild is not touched after it: its handles
        point at deleted files, and sqlite would write its journal beside the
        new ones; the question is retried on the index loaded again."""
        local_reader = not (self.remote or self.building)
        with readers(self.dir, exclusive=False) if local_reader else nullcontext():
            if self.backend.is_open and local_reader and self._generation != generation(self.dir):
                raise IndexStoreError(f"{self.where} was rebuilt by another process since it was opened")
            with self.backend.errors():
                yield

    def _open(self) -> None:
        if self.backend.is_open:
            return
        try:
            # A damaged embedded store shows here: its panic lines are not printed (`panics`).
            with self.guard(), quiet_panics(not self.remote):
                if not self.remote:
                    ensure_dir(self.dir)
                    self._generation = generation(self.dir)
                self.backend.open()
                self.check_dim()
        except AssistantError:
            self.backend.close()
            raise

    def check_dim(self, dim: int | None = None) -> None:
        """IndexConfigError if the stored vectors are not of the embedder's size."""
        dim = dim or self.dim
        if not dim:
            return
        for index in (self.chunks, self.units):
            with self.guard():
                index.check_dim(dim)

    @property
    def chunks(self) -> VectorIndex:
        self._open()
        return self.backend.indexes["chunks"]

    @property
    def units(self) -> VectorIndex:
        self._open()
        return self.backend.indexes["units"]

    def max_batch_size(self) -> int:
        self._open()
        return self.backend.max_batch_size()

    def read_all(self, index: VectorIndex, include: list[str], where: dict | None = None) -> Iterator[tuple]:
        with self.guard():
            yield from read_all(index, include, where)

    def stored_vectors(self, source: str) -> dict[str, np.ndarray]:
        """The stored version of file `source`, for reuse by a build of a
        changed version: sentence content hash -> its stored vector. Read
        before the file's first item is stored, which deletes the old records.

        Keyed by sentence, not by chunk, because sentences are what is
        embedded (a chunk's vector is their mean), and because chunks are
        packed greedily: an edit that changes a sentence's length shifts
        every later chunk boundary of the file (or segment), so few chunks
        keep their hash (15 of 54 sentences in a chunk with an unchanged
        hash after a one-line edit of a seed article) while every other
        sentence is unchanged (53 of 54)."""
        text_of: dict[str, str] = {}  # unit id -> its text, sliced from a chunk that holds it
        for _, doc, meta in self.read_all(self.chunks, ["documents", "metadatas"], where={"source": source}):
            for index, rs, re_, *_ in json.loads(meta.get("units", "[]")):
                text_of.setdefault(unit_id(source, index), doc[rs:re_])
        found: dict[str, np.ndarray] = {}
        ids = list(text_of)
        for s in range(0, len(ids), PAGE):
            with self.guard():
                got = self.units.get(ids=ids[s : s + PAGE], include=["embeddings"])
            for uid, vec in zip(got["ids"], got["embeddings"]):
                found[unit_hash(text_of[uid])] = np.asarray(vec, dtype=np.float32)
        return found

    def headings(self) -> list[tuple[str, int, str]]:
        """(source, unit index, text) of every heading sentence (see `records`)."""
        with self.guard():
            got = self.units.get(where={"heading": True}, include=["documents", "metadatas"])
        return [(m["source"], int(m["unit"]), text) for text, m in zip(got["documents"], got["metadatas"])]

    def counts_match(self, manifest: dict) -> bool:
        """Whether the store holds as many chunks and sentences as the
        manifest says: an emptied or replaced store (its sqlite file truncated,
        its folder deleted) opens without an error and holds none."""
        files = list(manifest.get("files", {}).values()) + list(manifest.get("partial", {}).values())
        with self.guard(), quiet_panics(not self.remote):
            return (self.chunks.count(), self.units.count()) == (
                sum(int(f.get("chunks", 0)) for f in files),
                sum(int(f.get("units", 0)) for f in files),
            )

    # -- the Chroma server's build token ------------------------------------
    def server_build(self) -> str | None:
        """The build token the server's chunks collection carries (server mode)."""
        self._open()
        return self.backend.server_build()

    def server_writer(self) -> str | None:
        """The host and corpus folder that last wrote to the server's collections."""
        self._open()
        return self.backend.server_writer()

    def set_server_build(self, token: str) -> None:
        self._open()
        with self.guard():
            self.backend.set_server_build(token)

    def drop_collections(self) -> None:
        """Delete this index's collections on the Chroma server (server mode)."""
        self.backend.drop_collections()

    def close(self) -> None:
        self.backend.close()

    # -- BM25 ---------------------------------------------------------------
    def load_bm25(self):
        """(bm25s model, chunk ids in its row order)."""
        return load_bm25(self.dir / "bm25")

    def write_bm25(self) -> int:
        """Rebuild the BM25 index from the stored chunks."""
        return write_bm25(self.dir / "bm25", self.read_all(self.chunks, ["documents", "metadatas"]))


def manifest_from_store(store: IndexStore, sig: dict) -> dict:
    """The manifest a Chroma server's contents imply (see `manifest.manifest_from_chunks`)."""
    return manifest_from_chunks((meta for _, meta in store.read_all(store.chunks, ["metadatas"])), sig)


def _looks_like_ours(index_dir: Path) -> bool:
    """Only a folder that is empty or holds our index may be wiped."""
    if not index_dir.exists():
        return True
    allowed = {
        *local_dirs(),
        "bm25",
        "bm25.tmp",
        TEXTS,  # the extracted texts of PDF, Word and HTML files (stores/texts.py)
        READERS,
        GENERATION,
        GENERATION + ".tmp",
        MANIFEST,
        MANIFEST.replace(".json", ".tmp"),
        ".lock",
        "README.md",
        ".gitignore",
        ".gitkeep",
        "squad",  # `assistant eval --squad`: SQuAD corpora and their own indexes (see squad_eval.prepare)
        # the chat page's example questions (assistant.examples), checked against the index they came from
        "examples.json",
        "examples.json.tmp",
    }
    # The chat page's saved conversations (assistant.conversations), with their
    # write-ahead log and damaged copies set aside: kept by a rebuild.
    return all(p.name in allowed or p.name.startswith("conversations.sqlite3") for p in index_dir.iterdir())


def wipe(index_dir: Path, store: IndexStore | None = None) -> None:
    """Delete a built index (keeps README.md/.gitignore of the folder); in
    server mode, `store`'s collections on the server too."""
    if not _looks_like_ours(index_dir):
        raise IndexStoreError(f"Refusing to delete {index_dir}: it holds files that are not part of an index")
    # A store with no files under index_dir (a server, or memory) is emptied through its own call.
    if store is not None and (store.remote or not store.backend.local_dir):
        store.drop_collections()
    forget_local(index_dir, force=True)
    for name in (*local_dirs(), "bm25", "bm25.tmp", TEXTS):
        shutil.rmtree(index_dir / name, ignore_errors=True)
    for name in (MANIFEST, MANIFEST.replace(".json", ".tmp")):
        (index_dir / name).unlink(missing_ok=True)
