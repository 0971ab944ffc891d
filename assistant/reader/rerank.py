"""The rerankers, by name (`ASSISTANT_RERANKER`). A new one is a class with
`rerank` (`retrieval.base.Reranker`) plus one line in `RERANKERS`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.errors import SettingsError
from assistant.reader.model import get_reader, rerank_passages
from assistant.retrieval.base import Reranker


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


RERANKERS: dict[str, Callable[..., Reranker]] = {
    "reader": lambda settings: ReaderReranker(settings.reader_model),
}


def get_reranker(settings) -> Reranker | None:
    """The reranker the settings name; "auto" is the reader when it is the
    offline answerer (the passages the LLM reads then agree with it), else none."""
    name = settings.reranker
    if name == "auto":
        name = "reader" if settings.offline_answerer == "reader" else "none"
    if name == "none":
        return None
    if name not in RERANKERS:
        raise SettingsError(f"unknown reranker {name!r}; known: auto, none, {', '.join(sorted(RERANKERS))}")
    return RERANKERS[name](settings)
