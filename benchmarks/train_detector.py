"""Train the instruction detector (assistant/answerers/detector.py): a
logistic regression over MiniLM sentence vectors (and, as a candidate, a few
cheap features: detector.features), fitted by Newton's method (IRLS) with an
L2 penalty and balanced class weights, in numpy. Writes
assistant/data/detector/weights.json and card.json (command, seed, data hash,
selection grid, held-out figures). A few minutes on one core once the
sentence vectors are cached (/tmp/detector-vectors.npz).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_detector.py

Selection uses the training data only: for each variant of GRID (features
on/off x L2), out-of-fold scores (each positive family scored by a model that
never saw it, the negatives by five folds), the threshold (the lowest whose
out-of-fold false positive rate on the training SQuAD sentences is
<= MAX_FPR), and the out-of-fold recall on the positive families at that
threshold; the variant with the best Youden's J (that recall minus the
out-of-fold FPR on all training negatives, hard negatives included) wins.
Recall alone, at an FPR fixed on the SQuAD prose, chose the strongest L2,
which flagged a quarter of the training hard negatives (news about chatbots,
"Reply STOP to unsubscribe") out-of-fold for 0.4 point of recall: J weighs
those false alarms too. (That criterion was changed after that first grid,
on these out-of-fold figures only, before the held-out block was scored.)
The winner is fitted on all training data and only then is the held-out
block scored, once.
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
MAX_FPR = 0.004  # out-of-fold, on the training negatives: room under the 1 % target
# Candidates: with or without the cheap features, and the L2 penalty on the
# weights (not the bias). Judged on out-of-fold training figures only.
GRID = [(feats, l2) for feats in (False, True) for l2 in (0.1, 0.3, 1.0, 3.0)]


def fit(x: np.ndarray, y: np.ndarray, l2: float, iters: int = 25) -> tuple[np.ndarray, float]:
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


def out_of_fold(x: np.ndarray, y: np.ndarray, fam: list[str], l2: float) -> np.ndarray:
    """Each training sentence scored by a model that did not see it: a
    positive by one that never saw its family."""
    oof = np.zeros(len(y))
    fam_a = np.array(fam)
    for f in sorted({f for f, label in zip(fam, y) if label == 1}):
        held = fam_a == f
        w, b = fit(x[~held], y[~held], l2)
        oof[held] = prob(x[held], w, b)
    neg = np.flatnonzero(y == 0)
    for k in range(5):
        held = np.zeros(len(y), dtype=bool)
        held[neg[k::5]] = True
        w, b = fit(x[~held], y[~held], l2)
        oof[held] = prob(x[held], w, b)
    return oof


def oof_figures(oof: np.ndarray, y: np.ndarray, fam: np.ndarray) -> dict:
    """The threshold the rule picks from out-of-fold scores, and the
    out-of-fold recall and false positive rates at it."""
    # Ordinary prose sets the threshold; the hard negatives shape the fit.
    neg_scores = np.sort(oof[fam == "squad"])[::-1]
    # Rounded as shipped (weights.json), and the figures are at that value.
    threshold = round(float(neg_scores[int(MAX_FPR * len(neg_scores))] + 1e-6), 6)
    hit = oof >= threshold
    return {
        "threshold": threshold,
        "recall": round(float(hit[y == 1].mean()), 4),
        "fpr_squad": round(float(hit[fam == "squad"].mean()), 4),
        "fpr_hard_negatives": round(float(hit[(y == 0) & (fam != "squad")].mean()), 4),
        "fpr_negatives": round(float(hit[y == 0].mean()), 4),
        "recall_by_family": {f: round(float(hit[fam == f].mean()), 4) for f in sorted(set(fam[y == 1]))},
    }


def select(xs: dict[bool, np.ndarray], y: np.ndarray, fam: np.ndarray) -> list[dict]:
    """Out-of-fold figures of each variant of GRID, best first."""
    rows = []
    for k, (feats, l2) in enumerate(GRID, 1):
        t = time.time()
        row = {"features": feats, "l2": l2, **oof_figures(out_of_fold(xs[feats], y, list(fam), l2), y, fam)}
        rows.append(row)
        print(f"[{k}/{len(GRID)}] features {'on ' if feats else 'off'} L2 {l2:<4}: out-of-fold recall "
              f"{row['recall']:.4f}, FPR {row['fpr_squad']:.4f} SQuAD / {row['fpr_hard_negatives']:.4f} hard "
              f"negatives, threshold {row['threshold']:.3f} ({time.time() - t:.0f} s)", flush=True)  # fmt: skip
    for row in rows:
        row["youden_j"] = round(row["recall"] - row["fpr_negatives"], 4)
    return sorted(rows, key=lambda r: (-r["youden_j"], r["fpr_negatives"]))


def main() -> None:
    t0 = time.time()
    data = dd.build()
    train = data["train"]
    texts = [s for s, _, _ in train]
    y = np.array([label for _, label, _ in train], dtype=np.float64)
    fam = np.array([f for _, _, f in train])
    held_texts, offsets = dd.held_out_texts(data["held_out"])
    vecs = dd.embed_all(texts + held_texts)
    print(f"embedded {len(vecs)} sentences in {time.time() - t0:.0f} s", flush=True)
    xs = {False: vecs[: len(texts)], True: inputs(texts, vecs[: len(texts)])}

    grid = select(xs, y, fam)
    best = grid[0]
    print("features  L2    recall  FPR SQuAD  FPR hard  FPR all neg  (out of fold, training data only)")
    for r in grid:
        print(f"{'on ' if r['features'] else 'off'}       {r['l2']:<4}  {r['recall']:.4f}  {r['fpr_squad']:.4f}"
              f"     {r['fpr_hard_negatives']:.4f}    {r['fpr_negatives']:.4f}")  # fmt: skip
    print(f"chosen: features {'on' if best['features'] else 'off'}, L2 {best['l2']}", flush=True)

    # The winner on all training data; the held-out block is scored once, now.
    w, b = fit(xs[best["features"]], y, best["l2"])
    held_vecs = vecs[len(texts) :]
    hx = inputs(held_texts, held_vecs) if best["features"] else held_vecs
    threshold = best["threshold"]
    figs = dd.figures(prob(hx, w, b) >= threshold, data["held_out"], offsets)
    figs["out_of_fold_fpr_train_squad"] = best["fpr_squad"]
    figs["out_of_fold_fpr_train_hard_negatives"] = best["fpr_hard_negatives"]
    figs["out_of_fold_recall_train"] = best["recall"]
    figs["leave_one_family_out_recall"] = best["recall_by_family"]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "weights.json").write_text(
        json.dumps({"w": [round(float(v), 6) for v in w], "b": round(b, 6), "threshold": threshold}),
        encoding="utf-8",
    )
    card = {
        "model": "logistic regression over all-MiniLM-L6-v2 int8 sentence vectors (mean-pooled, unit length)",
        "command": "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_detector.py",
        "benchmark": ".venv/bin/python benchmarks/bench_instructions.py",
        "seed": dd.SEED,
        "data": "benchmarks/detector_data.py (templates written for it) + SQuAD 1.1 train articles",
        "data_sha256": dd.data_hash(data),
        "data_attribution": "SQuAD 1.1 (Rajpurkar, Zhang, Lopyrev and Liang, EMNLP 2016; Wikipedia text, CC BY-SA 4.0): "
        "sentences of its articles were negatives; none is shipped, only the weights",
        "l2": best["l2"],
        "features": (
            f"MiniLM vector (384) + 8 cheap features x {FEATURE_SCALE} (detector.features)"
            if best["features"]
            else "MiniLM vector (384) only"
        ),
        "choices": "chosen on out-of-fold training figures; held-out block used once. Features on/off and the L2 "
        "penalty: the variant of the grid below with the highest out-of-fold Youden's J, i.e. recall on the "
        "training positive families (each scored by a model that never saw its family) at its own out-of-fold "
        "threshold minus the out-of-fold FPR on all training negatives (hard negatives included); a first grid "
        "chose by recall alone, which picked L2 3 at 24.6 % out-of-fold FPR on the hard negatives, and the "
        "criterion was changed on those out-of-fold figures, before the held-out block was scored. The held-out "
        "block was scored once, for the chosen variant only, after the choice. The cheap features' regexes were "
        "written earlier, while an older version was compared on this block",
        "selection_grid": [{k: v for k, v in r.items() if k != "recall_by_family"} for r in grid],
        "threshold_rule": f"lowest with out-of-fold FPR <= {MAX_FPR} on the training SQuAD sentences",
        "threshold": threshold,
        "train": {
            "sentences": len(y),
            "instructions": int(y.sum()),
            "positive_families": sorted(set(fam[y == 1].tolist())),
            "negative_families": sorted(set(fam[y == 0].tolist())),
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
