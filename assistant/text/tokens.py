"""The keyword tokenizer: the same tokens for the BM25 index (built by
`stores.bm25`) and for every stage that matches words (retrieval, citation,
condensing, the extractive answerer)."""

from __future__ import annotations

import logging

_STEMMER = None
# bm25s's own English list has 33 words; question words and auxiliaries
# ("what", "did", "has") would otherwise count as matches.
STOPWORDS = sorted(
    set(
        """
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves also may
might must shall us according tell please
""".split()
    )
)


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
