"""Static token vectors (`ASSISTANT_EMBED_BACKEND=static`, the `fast`
profile): a text's vector is the mean of its word pieces' vectors, looked up
in a table distilled from the default embedder, all-MiniLM-L6-v2, with
model2vec (`benchmarks/make_static_embedder.py`, its card in
assistant/data/static/card.json). No network runs, so indexing costs little
more than reading and chunking; what it loses against MiniLM is measured by
`benchmarks/bench_corpus_scale.py` (README "Scale"). The table ships int8
with a scale per row (7.6 MB). The lookup is numpy: model2vec's own package
would do the same and pull in its dependencies."""

from __future__ import annotations

import json
from functools import cache

import numpy as np

from assistant.resources import data_path
from assistant.settings import EmbedSettings

MAX_PIECES = 512  # as model2vec encodes: a text's first 512 word pieces


@cache  # the table loads once per process (~30 ms)
def _table():
    from tokenizers import Tokenizer

    folder = data_path("static")
    vectors = np.load(folder / "vectors.npy").astype(np.float32) * np.load(folder / "scales.npy")[:, None]
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_PIECES)
    return tokenizer, vectors, card


class StaticEmbedder:
    sections = ("embed",)

    def __init__(self, embed: EmbedSettings):
        self.batch_size = embed.embed_batch_size
        tokenizer, vectors, card = _table()
        self.dim = int(vectors.shape[1])
        self.id = f"minilm-static-{self.dim}-{card['sha256']['vectors.npy'][:8]}"

    def embed(self, texts: list[str]) -> np.ndarray:
        tokenizer, vectors, _ = _table()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, enc in enumerate(tokenizer.encode_batch(list(texts), add_special_tokens=False)):
            if enc.ids:
                out[i] = vectors[enc.ids].mean(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out[:, 0] += norms[:, 0] == 0  # a text with no known piece still gets a unit vector
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def worker(self):
        return None  # a lookup: no child process is worth its start
