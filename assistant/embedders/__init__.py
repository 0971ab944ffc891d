"""Text to vectors: the protocol (base.py), the local MiniLM embedder and its
worker process (local.py, worker.py), the OpenAI embedder (openai.py), and
the registry below. A new embedder is one module plus one line in
`EMBEDDERS` (and its name in `EmbedSettings.embed_backend`)."""

from __future__ import annotations

from collections.abc import Callable

from assistant.embedders.base import Embedder, EmbedJob
from assistant.embedders.local import local_embedder
from assistant.embedders.openai import openai_embedder
from assistant.resources import offline_env
from assistant.settings import EmbedSettings, LLMSettings, Settings

# A factory gets its own section, and the LLM section for a server's key and URL.
EmbedderFactory = Callable[[EmbedSettings, LLMSettings], Embedder]

EMBEDDERS: dict[str, EmbedderFactory] = {
    "local": local_embedder,
    "openai": openai_embedder,
}


def get_embedder(settings: Settings) -> Embedder:
    """The embedder `settings.embed_backend` names (the local model is loaded once)."""
    offline_env()  # before the model's libraries load
    return EMBEDDERS[settings.embed_backend](settings.embed, settings.llm)


__all__ = ["EMBEDDERS", "EmbedJob", "Embedder", "EmbedderFactory", "get_embedder"]
