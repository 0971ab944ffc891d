"""What an embedder is (the index builder, the retriever and the benchmarks
use only this)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class EmbedJob(Protocol):
    """The same model in a child process: one job at a time, `submit` then
    `result` (embeddings, seconds spent), then the next; `close` at the end."""

    def submit(self, texts: list[str]) -> None: ...
    def result(self) -> tuple[np.ndarray, float]: ...
    def close(self) -> None: ...


@runtime_checkable
class Embedder(Protocol):
    """Texts to vectors. `id` names the model in the index signature (a new
    id means a new index); `dim` is the vector size, None until the first
    call when only the server knows it."""

    id: str
    dim: int | None
    batch_size: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 rows of unit length, one per text, in order."""
        ...

    def worker(self) -> EmbedJob | None:
        """The model in a child process for a long build, or None when it
        cannot run in one (a remote API: nothing to offload)."""
        ...
