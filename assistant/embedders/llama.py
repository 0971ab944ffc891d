"""The assistant's embedder as a llama-index `BaseEmbedding`, for use with
llama-index indexes and retrievers over the same Chroma collections."""

from __future__ import annotations

from assistant.embedders.base import Embedder


def llama_embedding(embedder: Embedder):
    """The embedder as a llama-index `BaseEmbedding`, for use with llama-index
    indexes and retrievers over the same Chroma collections."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class AssistantEmbedding(BaseEmbedding):
        _embedder: object = PrivateAttr()

        def __init__(self, inner, **kw):
            super().__init__(model_name=inner.id, embed_batch_size=getattr(inner, "batch_size", 32), **kw)
            self._embedder = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.embed([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._embedder.embed([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._embedder.embed(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return AssistantEmbedding(embedder)
