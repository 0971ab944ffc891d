"""A vector store in this process's memory (`ASSISTANT_VECTOR_STORE=memory`,
the `test` profile, as PrivateGPT's mock mode): the same `VectorBackend`
calls as Chroma, exact cosine search with numpy, nothing on disk. What it
holds lasts as long as the process; a new process finds the manifest's
counts unmatched and builds again, which is what a lost store should do.

Written by hand because it is the point: a store with no dependency, fast
enough for the unit layer's small indexes, that shows what a backend must do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from assistant.errors import IndexConfigError
from assistant.settings import IndexSettings
from assistant.stores.base import Records

KINDS = ("chunks", "units")
# (index folder, collection name) -> its records; shared by the process's stores of one index
_STORES: dict[tuple[str, str], MemoryIndex] = {}
_LOCK = threading.Lock()

_OPS = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$in": lambda a, b: a in b,
}


def matches(meta: dict, where: dict | None) -> bool:
    """Chroma's metadata filter, the part this project uses: {key: value},
    {key: {"$lt": value}} and the other comparisons, and "$and"."""
    for key, want in (where or {}).items():
        if key == "$and":
            if not all(matches(meta, w) for w in want):
                return False
        elif isinstance(want, dict):
            if not all(_OPS[op](meta.get(key), v) for op, v in want.items()):
                return False
        elif meta.get(key) != want:
            return False
    return True


class MemoryIndex:
    """One collection: ids, unit vectors, metadata and documents, in insertion order."""

    def __init__(self, name: str, where: str):
        self.name, self.where = name, where
        self.records: dict[str, tuple[np.ndarray, dict, str | None]] = {}
        self.lock = threading.Lock()

    def add(self, ids: list[str], vectors: Sequence, metadatas: list[dict], documents: list[str] | None = None) -> None:
        docs = documents or [None] * len(ids)
        with self.lock:
            for i, v, m, d in zip(ids, vectors, metadatas, docs):
                vec = np.asarray(v, dtype=np.float32)
                self.records[i] = (vec / (np.linalg.norm(vec) or 1.0), dict(m), d)

    def delete(self, ids: list[str] | None = None, where: dict | None = None) -> None:
        with self.lock:
            gone = ids if ids is not None else [i for i, (_, m, _) in self.records.items() if matches(m, where)]
            for i in gone:
                self.records.pop(i, None)

    def _rows(self, ids, include, keys) -> Records:
        out: Records = {"ids": list(keys)}
        fields = {"embeddings": 0, "metadatas": 1, "documents": 2}
        for name in include:
            if name in fields:
                out[name] = [self.records[i][fields[name]] for i in keys]
        return out

    def query(self, vector: Sequence[float], n: int, include: Sequence[str], where: dict | None = None) -> Records:
        with self.lock:
            keys = [i for i, (_, m, _) in self.records.items() if matches(m, where)]
            if not keys:
                return {"ids": [], **{k: [] for k in include}}
            mat = np.stack([self.records[i][0] for i in keys])
            q = np.asarray(vector, dtype=np.float32)
            sims = mat @ (q / (np.linalg.norm(q) or 1.0))
            order = np.argsort(-sims, kind="stable")[:n]
            top = [keys[j] for j in order]
            out = self._rows(None, [k for k in include if k != "distances"], top)
        if "distances" in include:
            out["distances"] = [float(1.0 - sims[j]) for j in order]
        return out

    def get(
        self,
        ids: list[str] | None = None,
        where: dict | None = None,
        include: Sequence[str] = ("metadatas",),
        limit: int | None = None,
        offset: int | None = None,
    ) -> Records:
        with self.lock:
            if ids is not None:
                keys = [i for i in ids if i in self.records]
            else:
                keys = [i for i, (_, m, _) in self.records.items() if matches(m, where)]
            keys = keys[offset or 0 :][: limit if limit is not None else None]
            return self._rows(None, include, keys)

    def count(self) -> int:
        return len(self.records)

    def check_dim(self, dim: int) -> None:
        """IndexConfigError if the stored vectors are not of size `dim`."""
        first = next(iter(self.records.values()), None)
        if first is not None and len(first[0]) != dim:
            raise IndexConfigError(
                f"{self.name} in {self.where} holds {len(first[0])}-dimensional vectors, not {dim}: "
                "rebuild with `assistant index --rebuild`"
            )


class MemoryBackend:
    """The two collections of one index, in memory; built from the index section."""

    sections = ("index",)
    remote = False
    local_dir = ""  # nothing on disk

    def __init__(self, index: IndexSettings, embedder_id: str):
        self.index, self.embedder_id = index, embedder_id
        self.indexes: dict[str, MemoryIndex] = {}

    @property
    def where(self) -> str:
        return f"memory store of {Path(self.index.index_dir)}"

    @property
    def is_open(self) -> bool:
        return bool(self.indexes)

    def collection_name(self, kind: str) -> str:
        return f"{kind}-{self.embedder_id}"

    def open(self) -> None:
        key = str(Path(self.index.index_dir).resolve())
        with _LOCK:
            for kind in KINDS:
                name = self.collection_name(kind)
                self.indexes[kind] = _STORES.setdefault((key, name), MemoryIndex(name, self.where))

    def close(self) -> None:
        self.indexes = {}

    @contextmanager
    def errors(self) -> Iterator[None]:
        yield  # numpy raises nothing a store should translate

    def max_batch_size(self) -> int:
        return 10_000

    def server_build(self) -> str | None:
        return None

    def server_writer(self) -> str | None:
        return None

    def set_server_build(self, token: str) -> None:
        pass

    def drop_collections(self) -> None:
        forget(self.index.index_dir)
        self.close()

    @staticmethod
    def forget_local(index_dir) -> None:
        """Nothing to let go of: the records are the process's own, and a
        rebuild empties them through `delete` or `drop_collections`."""


def forget(index_dir) -> None:
    """Drop everything held for the index in `index_dir` (a rebuild starts empty)."""
    key = str(Path(index_dir).resolve())
    with _LOCK:
        for k in [k for k in _STORES if k[0] == key]:
            del _STORES[k]
