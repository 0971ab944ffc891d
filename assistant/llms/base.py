"""What the answerers need of a chat model, and the providers that offer it.

A new provider is one new file in this folder (a class with `complete` and
`stream`, raising `LLMError` for every failure of its vendor) and one line in
`PROVIDERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from assistant.errors import SettingsError
from assistant.settings import Settings


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


def _openai(settings: Settings) -> ChatModel:
    # Imported on first use: the openai client is a heavy import.
    from assistant.llms.openai_compat import ChatClient

    return ChatClient(settings.llm)  # its own section only


# Provider name -> factory. "openai" is any OpenAI-compatible server (OpenAI,
# vLLM, Ollama, llama.cpp server, LM Studio), set by OPENAI_BASE_URL.
PROVIDERS: dict[str, Callable[[Settings], ChatModel]] = {
    "openai": _openai,
}


def get_chat_model(settings: Settings, provider: str | None = None) -> ChatModel:
    """A chat model of `provider` (default: `ASSISTANT_LLM_PROVIDER`) for these
    settings (one per answer: it holds that answer's deadline watchdog)."""
    provider = provider or settings.llm_provider
    try:
        factory = PROVIDERS[provider]
    except KeyError:
        raise SettingsError(f"unknown LLM provider {provider!r}; known: {', '.join(PROVIDERS)}") from None
    return factory(settings)
