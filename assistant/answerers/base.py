"""What every answerer takes and gives: the `Answerer` protocol.

An answerer reads one question's `RetrievedContext` (types.py: the passages,
their sentence units, the index's term statistics; no store in reach) and
yields the answer text (in one piece or several, each already verified),
then an `AnswerResult` as its last item. Its settings come once, when it is
built (registry.py); the pipeline (pipeline.py) turns the result into the
public `Answer`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from assistant.types import Citation, RetrievedContext


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
    by: str = "offline"  # what answered: "offline", or "llm:<model>"


class Answerer(Protocol):
    """Writes a cited answer from retrieved passages."""

    def answer(self, question: str, context: RetrievedContext) -> Iterator[str | AnswerResult]:
        """Text pieces as they are ready, then the `AnswerResult`, for
        `question` as it reads on its own (conversation terms it carries in
        brackets at its end). An LLM answerer raises `LLMError` when it fails
        before showing anything."""
        ...
