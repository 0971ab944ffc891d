"""Text to vectors: the protocol (base.py), the local MiniLM embedder and its
worker process (local.py, worker.py), the OpenAI embedder (openai.py), and
the registry (registry.py: `EMBEDDERS`, chosen by `ASSISTANT_EMBED_BACKEND`,
a registered name or a dotted path `package.module:Class`)."""

from __future__ import annotations

from assistant.embedders.base import Embedder, EmbedJob
from assistant.embedders.registry import EMBEDDERS, get_embedder

__all__ = ["EMBEDDERS", "EmbedJob", "Embedder", "get_embedder"]
