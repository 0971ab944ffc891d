"""What retrieval offers the answer side (the pipeline, the answerers and
the benchmarks use only this), and the rerank slot between the two."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from assistant.types import Passage

if TYPE_CHECKING:
    from assistant.retrieval.hybrid import Unit


@runtime_checkable
class Retriever(Protocol):
    def embed_query(self, query: str) -> np.ndarray: ...

    def search(
        self,
        query: str,
        top_k: int,
        qvec: np.ndarray | None = None,
        candidates: int | None = None,
        rrf_k: int | None = None,
    ) -> tuple[list[Passage], dict]:
        """The top_k passages, best first, numbered 1..n, and timings (ms)."""
        ...

    def units_of(self, passages: list[Passage]) -> list[Unit]:
        """The sentences of these passages, with their vectors."""
        ...

    def idf(self, token: str) -> float:
        """How rare a keyword token is in the corpus (BM25's idf)."""
        ...


@runtime_checkable
class Reranker(Protocol):
    """Reorders retrieved passages by how well they answer the question.
    Returns (passages renumbered 1..n, units with their passage numbers
    moved along, each unit's relevance in [0, 1] or None)."""

    def rerank(
        self, question: str, passages: list[Passage], units: list[Unit]
    ) -> tuple[list[Passage], list[Unit], np.ndarray | None]: ...
