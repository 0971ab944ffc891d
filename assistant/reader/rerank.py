"""The reader as a reranker (`ASSISTANT_RERANKER=reader`, or `auto` when the
reader is the offline answerer); the rerankers are chosen in registry.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.reader.model import get_reader, rerank_passages
from assistant.settings import AnswerSettings


class ReaderReranker:
    """The trained reader: passages in order of their best sentence's
    probability of answering; each sentence's probability also tells the
    LLM answer's verifier which sentence of a passage answers."""

    def __init__(self, model: Path | None = None):
        self.reader = get_reader(model)

    def rerank(self, question: str, passages: list, units: list) -> tuple[list, list, np.ndarray | None]:
        relevance = self.reader.score(question, [" ".join(u.text.split()) for u in units])
        passages, units = rerank_passages(passages, units, relevance)
        return passages, units, relevance


def reader_reranker(answer: AnswerSettings) -> ReaderReranker:
    """The reader the answer section names (`reader_model`; unset: the shipped one)."""
    return ReaderReranker(answer.reader_model)
