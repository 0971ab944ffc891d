"""Hybrid retrieval: BM25 and vector search fused by reciprocal rank fusion.

Queries go to the store's `VectorIndex`es and to bm25s directly rather than
through llama-index's retrievers: importing llama_index.core alone takes
~1.5 s here, which would blow the 3 s cold-start budget of `answer()`. The
chunks are stored as llama-index's ChromaVectorStore stores nodes, so
llama-index retrievers work on them too (see `embed.llama_embedding`).
"""

from __future__ import annotations

import json
import time
from bisect import bisect_right

import numpy as np

from assistant.embedders.base import Embedder
from assistant.ingest.records import unit_id
from assistant.stores.index import IndexStore
from assistant.text.tokens import tokenize
from assistant.types import Passage, Unit  # noqa: F401 (Unit: re-exported, where it used to live)


def _page(meta: dict, start: int) -> int | None:
    """The page of the chunk's text at offset `start` (PDF; see
    `ingest.records.item_records`): its first page, plus the pages that
    begin inside it at or before `start`."""
    if meta.get("page") in (None, ""):
        return None
    return int(meta["page"]) + bisect_right(json.loads(meta.get("page_starts") or "[]"), start)


def top_scores(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(index, score) of the k highest positive scores, best first (ties by index).

    Written here rather than taken from bm25s's `retrieve`: its top-k,
    `np.argpartition(scores, -k)`, takes ~14 ms on 100k chunks when most
    scores are 0 (numpy's selection degrades on that many ties at that end),
    against well under 1 ms for the same selection among the positive scores
    (measured with the scale benchmark's index)."""
    pos = np.flatnonzero(scores > 0)
    if len(pos) > k:
        pos = pos[np.argpartition(-scores[pos], k - 1)[:k]]
    order = pos[np.lexsort((pos, -scores[pos]))]
    return [(int(i), float(scores[i])) for i in order]


class Retriever:
    def __init__(self, store: IndexStore, embedder: Embedder, candidates: int = 20, rrf_k: int = 60):
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.bm25, self.bm25_ids = store.load_bm25()
        self.guard = store.guard  # store errors as ours: a query can be retried on the index loaded again
        scores = self.bm25.scores
        # Document frequency per BM25 token (bm25s stores a CSC matrix by token).
        self._df = np.diff(scores["indptr"]) if len(self.bm25_ids) else np.zeros(0)
        self.vocab = self.bm25.vocab_dict
        self.num_docs = len(self.bm25_ids)
        # Counted once: the engine is rebuilt when the index changes, and on a
        # Chroma server each count is a round trip.
        with self.guard():
            self.num_units = store.units.count()

    def doc_freq(self, token: str) -> int:
        i = self.vocab.get(token)
        return int(self._df[i]) if i is not None and i < len(self._df) else 0

    def idf(self, token: str) -> float:
        df = self.doc_freq(token)
        return float(np.log(1 + (self.num_docs - df + 0.5) / (df + 0.5)))

    def term_stats(self, text: str) -> dict[str, tuple[int, float]]:
        """(document frequency, IDF) of each BM25 term of `text`: what an
        answerer needs of the index's statistics, handed over with the
        passages so that it never reads the index itself."""
        return {t: (self.doc_freq(t), self.idf(t)) for t in set(tokenize([text])[0])}

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.embed([query])[0]

    def search(
        self,
        query: str,
        top_k: int,
        qvec: np.ndarray | None = None,
        candidates: int | None = None,
        rrf_k: int | None = None,
        sources: tuple[str, ...] = (),
    ) -> tuple[list[Passage], dict]:
        """The top_k passages for `query`, best first, and per-stage timings (ms).
        `candidates` and `rrf_k` (the retrieval settings) may be given per
        call, so that changing them does not load the index again. With
        `sources` (documents, from `resolve_sources`), only their passages
        are searched, by both sides: the top_k is the subset's own."""
        candidates = candidates or self.candidates
        rrf_k = rrf_k or self.rrf_k
        timings: dict[str, float] = {}
        if self.num_docs == 0:
            return [], timings
        t = time.perf_counter()
        if qvec is None:
            qvec = self.embed_query(query)
        timings["embed_ms"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        n = min(candidates, self.num_docs)
        where = {"source": {"$in": list(sources)}} if sources else None
        with self.guard():
            res = self.store.chunks.query(qvec.tolist(), n, include=["documents", "metadatas", "distances"], where=where)
        found: dict[str, tuple[str, dict]] = {}
        vec_rank: dict[str, int] = {}
        vec_score: dict[str, float] = {}
        for rank, (cid, doc, meta, dist) in enumerate(
            zip(res["ids"], res["documents"], res["metadatas"], res["distances"])
        ):
            if meta is None:  # deleted by another process since this engine loaded the index
                continue
            found[cid] = (doc, meta)
            vec_rank[cid] = rank
            vec_score[cid] = 1.0 - float(dist)  # cosine distance -> similarity
        # Sentence-level search finds a chunk by its single best sentence,
        # which a chunk's averaged vector can blur.
        with self.guard():
            res = self.store.units.query(
                qvec.tolist(), max(1, min(2 * candidates, self.num_units)), include=["metadatas", "distances"], where=where
            )
        sent_rank: dict[str, int] = {}
        sent_score: dict[str, float] = {}
        for meta, dist in zip(res["metadatas"], res["distances"]):
            if meta is None:  # as above
                continue
            for cid in filter(None, str(meta.get("chunks", "")).split(",")):
                if cid not in sent_rank:
                    sent_rank[cid] = len(sent_rank)
                    sent_score[cid] = 1.0 - float(dist)
        timings["vector_ms"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        bm_rank: dict[str, int] = {}
        bm_score: dict[str, float] = {}
        tokens = tokenize([query])[0]
        if tokens:
            scores = self.bm25.get_scores(tokens)
            if sources:
                scores = np.where(self._bm25_mask(sources), scores, 0.0)
            for rank, (i, s) in enumerate(top_scores(scores, n)):
                cid = self.bm25_ids[i]
                bm_rank[cid] = rank
                bm_score[cid] = s
        timings["bm25_ms"] = (time.perf_counter() - t) * 1000

        fused: dict[str, float] = {}
        for ranks in (vec_rank, sent_rank, bm_rank):
            for cid, r in ranks.items():
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (rrf_k + r + 1)
        best = sorted(fused, key=lambda c: (-fused[c], vec_rank.get(c, n)))[:top_k]
        missing = [c for c in best if c not in found]
        if missing:
            with self.guard():
                got = self.store.chunks.get(ids=missing, include=["documents", "metadatas"])
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                if meta is not None:
                    found[cid] = (doc, meta)
        passages = []
        for cid in best:
            if cid not in found:  # BM25 and Chroma disagree: index changed under us
                continue
            doc, meta = found[cid]
            passages.append(
                Passage(
                    n=len(passages) + 1,
                    id=cid,
                    source=meta["source"],
                    title=meta.get("title", ""),
                    text=doc,
                    start=int(meta["start"]),
                    end=int(meta["end"]),
                    score=round(fused[cid], 6),
                    chunk=int(meta.get("chunk", 0)),
                    page=int(meta["page"]) if meta.get("page") not in (None, "") else None,
                    scores={
                        "vector": round(vec_score.get(cid, 0.0), 4),
                        "sentence": round(sent_score.get(cid, 0.0), 4),
                        "bm25": round(bm_score.get(cid, 0.0), 4),
                        "vector_rank": vec_rank.get(cid, -1) + 1,
                        "bm25_rank": bm_rank.get(cid, -1) + 1,
                        "sentence_rank": sent_rank.get(cid, -1) + 1,
                    },
                )
            )
        return passages, timings

    def indexed_sources(self) -> list[str]:
        """The documents in the index (from its manifest), sorted."""
        return sorted((self.store.read_manifest() or {}).get("files", {}))

    def resolve_sources(self, wanted: tuple[str, ...]) -> tuple[str, ...]:
        """The indexed documents that `wanted` names: a document's path
        relative to the corpus, or a folder (every document under it).
        QuestionError, one line, for an entry that names none."""
        from assistant.errors import QuestionError

        known = self.indexed_sources()
        out: list[str] = []
        for entry in wanted:
            e = entry.strip().replace("\\", "/").strip("/")
            hit = [s for s in known if s == e or s.startswith(e + "/")] if e else []
            if not hit:
                some = ", ".join(known[:5]) + (f", … ({len(known)} in all)" if len(known) > 5 else "")
                raise QuestionError(f"no indexed document is {entry!r} or under it; indexed: {some or 'none'}")
            out.extend(h for h in hit if h not in out)
        return tuple(out)

    def _bm25_mask(self, sources: tuple[str, ...]) -> np.ndarray:
        """Which BM25 rows are chunks of `sources` (their ids asked of the store)."""
        with self.guard():
            got = self.store.chunks.get(where={"source": {"$in": list(sources)}}, include=[])
        ids = set(got["ids"])
        return np.fromiter((cid in ids for cid in self.bm25_ids), dtype=bool, count=len(self.bm25_ids))

    def units_of(self, passages: list[Passage]) -> list[Unit]:
        """The sentence units inside the passages (each once), with vectors.

        A unit record holds only its vector: its text is sliced from the
        passage, and its offsets come from the chunk's `units` key (see
        `ingest.records.item_records`)."""
        with self.guard():
            got = self.store.chunks.get(ids=[p.id for p in passages], include=["metadatas"])
        metas = dict(zip(got["ids"], got["metadatas"]))
        want: dict[str, tuple[Passage, list]] = {}  # unit id -> its first passage, its `units` entry
        for p in passages:
            meta = metas.get(p.id)
            if meta is None or "units" not in meta:
                continue
            for entry in json.loads(meta["units"]):
                want.setdefault(unit_id(p.source, entry[0]), (p, entry, meta))
        if not want:
            return []
        # A unit whose record is missing (the index changed under us) is left out.
        with self.guard():
            got = self.store.units.get(ids=list(want), include=["embeddings"])
        units = []
        for uid, vec in zip(got["ids"], got["embeddings"]):
            p, (index, rs, re_, start, end, heading), meta = want[uid]
            units.append(
                Unit(
                    id=uid,
                    source=p.source,
                    title=p.title,
                    text=p.text[rs:re_],
                    start=start,
                    end=end,
                    heading=bool(heading),
                    index=index,
                    vector=np.asarray(vec, dtype=np.float32),
                    passage=p.n,
                    page=_page(meta, start),
                )
            )
        units.sort(key=lambda u: (u.passage, u.index))
        return units
