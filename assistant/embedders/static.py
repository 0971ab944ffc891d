"""Static token vectors (`ASSISTANT_EMBED_BACKEND=static`, the `fast`
profile): a text's vector is the mean of its word pieces' vectors, looked up
in a table distilled from the default embedder, all-MiniLM-L6-v2, with
model2vec (`benchmarks/make_static_embedder.py`, its card in
assistant/data/static/card.json). No network runs, so indexing costs little
more than reading and chunking; what it loses against MiniLM is measured by
`benchmarks/bench_corpus_scale.py` (README "Scale"). The table ships as an
int8 ONNX graph (gather, dequantize, mean; 7.3 MB), run by onnxruntime like
the default embedder: model2vec's own package would do the same and pull in
its dependencies."""

from __future__ import annotations

import json
from functools import cache

import numpy as np

from assistant.resources import data_path
from assistant.settings import EmbedSettings

MAX_PIECES = 512  # as model2vec encodes: a text's first 512 word pieces


@cache  # the table loads once per process (~30 ms)
def _model():
    import onnxruntime as ort
    from tokenizers import Tokenizer

    folder = data_path("static")
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_padding()
    tokenizer.enable_truncation(MAX_PIECES)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # a lookup: threads would cost more than they save
    session = ort.InferenceSession(str(folder / "static.onnx"), options, providers=["CPUExecutionProvider"])
    return tokenizer, session, card


class StaticEmbedder:
    sections = ("embed",)

    def __init__(self, embed: EmbedSettings):
        self.batch_size = embed.embed_batch_size
        _, session, card = _model()
        self.dim = int(session.get_outputs()[0].shape[1])
        self.id = f"minilm-static-{self.dim}-{card['sha256']['static.onnx'][:8]}"

    def embed(self, texts: list[str]) -> np.ndarray:
        tokenizer, session, _ = _model()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if texts:
            encs = tokenizer.encode_batch(list(texts), add_special_tokens=False)
            ids = np.array([e.ids for e in encs], dtype=np.int64).reshape(len(texts), -1)
            mask = np.array([e.attention_mask for e in encs], dtype=np.float32).reshape(len(texts), -1)
            if ids.shape[1]:
                out = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out[:, 0] += norms[:, 0] == 0  # a text with no known piece still gets a unit vector
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def worker(self):
        return None  # a lookup: no child process is worth its start
