"""Question-time embedding (`refine_embed_backend`; the fast profile: "local").

An index built with a cheap embedder (the fast profile's static vectors)
finds passages well enough with BM25 beside it, but its sentence vectors
choose the quoted sentence worse than MiniLM's (README "Scale"). So at
question time the query and the sentences of the retrieved passages are
embedded again with a better embedder: tens of sentences per question
instead of every sentence of the corpus at build time. The same vectors
rerank: `refine_pool` * top_k passages come from the first pass, and the
top_k are kept by reciprocal rank fusion (as the hybrid retriever fuses) of
their BM25 rank and their best sentence's cosine to the query."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from assistant.embedders.base import Embedder
from assistant.embedders.registry import EMBEDDERS, get_embedder
from assistant.errors import SettingsError
from assistant.settings import RetrievalSettings, Settings
from assistant.types import Passage, Unit


def holders(passages: list[Passage], unit: Unit) -> list[int]:
    """The numbers of the passages that hold the unit (its offsets inside
    theirs): a unit lies in two passages where chunks overlap."""
    return [p.n for p in passages if p.source == unit.source and p.start <= unit.start and unit.end <= p.end]


def keep(passages: list[Passage], units: list[Unit], order: list[Passage]) -> tuple[list[Passage], list[Unit]]:
    """`order` (some of `passages`) renumbered 1..n, and the units any of
    them holds, each numbered by the first of them that holds it."""
    renumber = {p.n: i + 1 for i, p in enumerate(order)}
    moved = []
    for u in units:
        new = [renumber[n] for n in holders(passages, u) if n in renumber]
        if new:
            moved.append(replace(u, passage=min(new)))
    moved.sort(key=lambda u: (u.passage, u.index))
    return [replace(p, n=renumber[p.n]) for p in order], moved


class Refiner:
    """The query and the retrieved sentences embedded by `embedder`, and the
    passages reranked by them (see the module's docstring)."""

    def __init__(self, embedder: Embedder, retrieval: RetrievalSettings):
        self.embedder = embedder
        self.pool = retrieval.refine_pool
        self.rrf_k = retrieval.rrf_k

    def refine(
        self, query: str, passages: list[Passage], units: list[Unit], top_k: int
    ) -> tuple[list[Passage], list[Unit], np.ndarray]:
        """(the top_k passages renumbered, their units with this embedder's
        vectors, the query's vector by it)."""
        vecs = self.embedder.embed([query] + [u.text for u in units])
        qvec, units = vecs[0], [replace(u, vector=v) for u, v in zip(units, vecs[1:])]
        if len(passages) <= top_k:
            return passages, units, qvec
        best = dict.fromkeys((p.n for p in passages), -1.0)
        for u in units:
            cos = float(u.vector @ qvec)
            for n in holders(passages, u):
                best[n] = max(best[n], cos)
        by_meaning = sorted(passages, key=lambda p: (-best[p.n], p.n))
        fused = {p.n: 1.0 / (self.rrf_k + rank + 1) for rank, p in enumerate(by_meaning)}
        for p in passages:
            if p.scores.get("bm25_rank"):  # 0: not among BM25's candidates
                fused[p.n] += 1.0 / (self.rrf_k + p.scores["bm25_rank"])
        order = sorted(passages, key=lambda p: (-fused[p.n], p.n))[:top_k]
        order = [
            replace(p, score=round(fused[p.n], 6), scores={**p.scores, "refine": round(best[p.n], 4)}) for p in order
        ]
        kept, units = keep(passages, units, order)
        return kept, units, qvec


def get_refiner(settings: Settings) -> Refiner | None:
    """The question-time embedder `settings.refine_embed_backend` names, from
    the embedders' registry, or None ("none"); an unknown name is a one-line
    SettingsError."""
    name = settings.refine_embed_backend
    if name == "none":
        return None
    if name not in EMBEDDERS:
        known = ", ".join(EMBEDDERS.names())
        raise SettingsError(
            f"unknown refine embedder {name!r} (ASSISTANT_REFINE_EMBED_BACKEND); known: none, {known}, or package.module:Class"
        )
    return Refiner(get_embedder(settings, name), settings.retrieval)
