"""What the answerers need of a chat model. The providers that offer one are
chosen in registry.py (`ASSISTANT_LLM_PROVIDER`).

A new provider is one new file in this folder (a class with `complete` and
`stream`, raising `LLMError` for every failure of its vendor) and one
`register` line in registry.py, or, from outside the repo, a dotted path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class ChatModel(Protocol):
    """A chat model: OpenAI-style messages in, text out. Every failure
    (unreachable, too slow, refused, malformed) is raised as `LLMError`, and
    neither call outlives `deadline` (a `time.monotonic()` value)."""

    def complete(self, messages: list[dict], max_tokens: int | None = None, deadline: float | None = None) -> str:
        """The whole completion."""
        ...

    def stream(self, messages: list[dict], deadline: float | None = None) -> Iterator[str]:
        """The completion in text deltas, as they arrive."""
        ...
