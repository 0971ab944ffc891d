"""`Answer.timings` times the two sides of the hybrid search apart (issue 25):
the vector side (Chroma, or the store in memory: the chunk and the sentence
queries) as `vector_ms`, the keyword side (BM25) as `bm25_ms`, both within
`retrieve_ms`."""

from __future__ import annotations

from assistant import answer


def test_the_vector_and_the_bm25_side_are_timed_apart(hashed_settings):
    t = answer("When did the Harbour Museum open?", settings=hashed_settings).timings
    assert {"vector_ms", "bm25_ms", "retrieve_ms", "total_ms"} <= set(t)
    assert t["vector_ms"] >= 0 and t["bm25_ms"] >= 0
