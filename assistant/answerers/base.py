"""What every answerer takes and gives: the `Answerer` protocol.

An answerer reads the retrieved passages for one question and yields the
answer text (in one piece or several, each already verified), then an
`AnswerResult` as its last item. The pipeline (pipeline.py) turns that into
the public `Answer`. Offline answerers are picked by name in registry.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from assistant.retrieval.hybrid import Retriever, Unit
    from assistant.types import Citation, Passage


@dataclass
class AnswerRequest:
    """What an answerer needs to answer one question."""

    question: str  # the question as it reads on its own (conversation terms in brackets at its end)
    query: str  # what was searched: the question, its aliases and carried-over terms
    passages: list[Passage]
    retriever: Retriever  # sentence units, vectors and IDF of the loaded index
    qvec: np.ndarray | None = None  # the query's vector
    max_sentences: int = 3
    avoid: np.ndarray | None = None  # vectors of the previous answer's sentences (not to repeat)
    units: list[Unit] = field(default_factory=list)  # sentence units of the passages, for verification
    relevance: np.ndarray | None = None  # the reader's probability per unit, when it reranked
    # (document frequency, IDF) in the index of each term of the query and the question
    terms: dict[str, tuple[int, float]] = field(default_factory=dict)


@dataclass
class AnswerResult:
    """An answerer's last item: the whole answer and how it was reached."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    debug: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # LLM answers: sentences dropped for want of support, and the counts
    # kept / re-cited / dropped.
    unsupported: list[str] = field(default_factory=list)
    verification: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class Answerer(Protocol):
    """Writes a cited answer from retrieved passages."""

    def answer(self, request: AnswerRequest) -> Iterator[str | AnswerResult]:
        """Text pieces as they are ready, then the `AnswerResult`. An LLM
        answerer raises `LLMError` when it fails before showing anything."""
        ...
