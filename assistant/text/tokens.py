"""The keyword tokenizer: the same tokens for the BM25 index (built by
`stores.bm25`) and for every stage that matches words (retrieval, citation,
condensing, the extractive answerer)."""

from __future__ import annotations

import logging

from assistant.text.lexicon import STOPWORDS

_STEMMER = None


def stemmer():
    """The Snowball English stemmer, loaded once (a cache of a loaded model, like the embedder's)."""
    global _STEMMER
    import Stemmer

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG
    if _STEMMER is None:
        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


def tokenize(texts: list[str]) -> list[list[str]]:
    """BM25 tokens: lower-cased words, English stop words out, Snowball-stemmed
    (the same tokenization the index was built with)."""
    import bm25s

    return bm25s.tokenize(texts, stopwords=STOPWORDS, stemmer=stemmer(), return_ids=False, show_progress=False)
