"""What a vector store is, to the builder and the retriever: one collection of
records (id, vector, flat metadata, optional text), one per kind of record
(chunks, sentence units). Chroma is the one implementation (`stores.chroma`);
another store implements these five calls and wraps its own errors into
`IndexStoreError` (a broken store: rebuild it) or `IndexConfigError` (a
setting is wrong or a server is away: a rebuild would not help)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

# Results are dicts of parallel lists: "ids" and each field asked for in
# `include` ("documents", "metadatas", "embeddings", and "distances" for a query).
Records = dict[str, list]


@runtime_checkable
class VectorIndex(Protocol):
    """One collection of records with vectors (cosine space)."""

    name: str

    def add(
        self, ids: list[str], vectors: Sequence, metadatas: list[dict], documents: list[str] | None = None
    ) -> None: ...

    def delete(self, ids: list[str] | None = None, where: dict | None = None) -> None:
        """Delete by id, or every record whose metadata matches `where` ({key: value})."""
        ...

    def query(self, vector: Sequence[float], n: int, include: Sequence[str], where: dict | None = None) -> Records:
        """The `n` records nearest `vector`, nearest first, among those whose
        metadata matches `where` (all when None); "distances" are cosine distances."""
        ...

    def get(
        self,
        ids: list[str] | None = None,
        where: dict | None = None,
        include: Sequence[str] = ("metadatas",),
        limit: int | None = None,
        offset: int | None = None,
    ) -> Records:
        """Records by id (missing ids are left out) or by metadata, or all (a page with limit/offset)."""
        ...

    def count(self) -> int: ...


@runtime_checkable
class VectorBackend(Protocol):
    """A vector store holding the collections of one index ("chunks" and
    "units", `indexes` once open), built from the settings and the embedder's
    id. Registered by name in `stores/backends.py` (`ASSISTANT_VECTOR_STORE`).
    `errors()` is a context manager that turns the store's own exceptions into
    ours. A remote store (`remote`) also keeps the build token that tells
    clients another one changed the index (`server_build`, `set_server_build`)
    and who wrote it last (`server_writer`)."""

    remote: bool
    indexes: dict[str, VectorIndex]
    local_dir: str  # the folder of index_dir it keeps its files in, if any ("" if none)

    @property
    def where(self) -> str: ...
    @property
    def is_open(self) -> bool: ...
    def open(self) -> None: ...
    def close(self) -> None: ...
    def errors(self): ...
    def collection_name(self, kind: str) -> str: ...
    def max_batch_size(self) -> int: ...
    def server_build(self) -> str | None: ...
    def server_writer(self) -> str | None: ...
    def set_server_build(self, token: str) -> None: ...
    def drop_collections(self) -> None: ...

    @staticmethod
    def forget_local(index_dir) -> None:
        """Drop this process's handles on the files in index_dir (another process changed them)."""
        ...
