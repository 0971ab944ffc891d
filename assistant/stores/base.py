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

    def query(self, vector: Sequence[float], n: int, include: Sequence[str]) -> Records:
        """The `n` records nearest `vector`, nearest first; "distances" are cosine distances."""
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
