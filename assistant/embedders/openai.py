"""Embeddings from OpenAI or an OpenAI-compatible server
(`ASSISTANT_EMBED_BACKEND=openai`); they live in their own collections."""

from __future__ import annotations

import numpy as np

from assistant.embedders.local import normalize
from assistant.errors import AssistantError
from assistant.settings import EmbedSettings, LLMSettings


class OpenAIEmbedder:
    """Embeddings from OpenAI or an OpenAI-compatible server."""

    def __init__(
        self, embed: EmbedSettings, api_key: str | None = None, base_url: str | None = None, timeout: float = 30.0
    ):
        from openai import OpenAI

        self.model = embed.embed_model
        self.id = "openai-" + "".join(c if c.isalnum() else "-" for c in self.model)
        self.batch_size = embed.embed_batch_size
        self.client = OpenAI(
            api_key=api_key or "not-needed",
            base_url=base_url,
            timeout=timeout,
            max_retries=2,
        )
        self.dim: int | None = None

    def worker(self) -> None:
        return None  # a remote API: nothing to run in a child process

    def embed(self, texts: list[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for b in range(0, len(texts), self.batch_size):
            try:
                resp = self.client.embeddings.create(model=self.model, input=texts[b : b + self.batch_size])
            except Exception as e:  # openai raises many error types
                raise AssistantError(f"OpenAI embeddings failed: {e}") from e
            rows.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        arr = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
        self.dim = arr.shape[1] if len(texts) else self.dim
        return normalize(arr)


def openai_embedder(embed: EmbedSettings, llm: LLMSettings) -> OpenAIEmbedder:
    """The OpenAI embedder for the `embed` section, with the key, URL and
    timeout of the `llm` section (one server for both)."""
    return OpenAIEmbedder(embed, llm.openai_api_key, llm.openai_base_url, llm.openai_timeout)
