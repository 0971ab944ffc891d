"""A hashed bag-of-words embedder (`ASSISTANT_EMBED_BACKEND=hash`, the
`test` profile): no model to load, the same vector for the same words, and
cosine that counts shared word stems. Not for answering real questions: for
the unit layer and for trying a store or an answerer without waiting for
MiniLM. Written by hand because it is a dozen lines and must not download."""

from __future__ import annotations

import hashlib

import numpy as np

from assistant.settings import EmbedSettings
from assistant.text.tokens import tokenize


class HashEmbedder:
    sections = ("embed",)
    id = "hash-256"
    dim = 256

    def __init__(self, embed: EmbedSettings):
        self.batch_size = embed.embed_batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, words in enumerate(tokenize(list(texts))):
            for w in words:
                # md5, not hash(): the same bucket in every process (hash() is salted)
                rows[i, int.from_bytes(hashlib.md5(w.encode()).digest()[:4], "little") % self.dim] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        rows[:, 0] += (norms[:, 0] == 0)  # a text with no words still gets a unit vector
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)

    def worker(self):
        return None  # nothing worth a child process
