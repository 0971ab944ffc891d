"""The trained reader against cheap learned scorers (issue 13, "compare
honestly"): logistic regression and LightGBM over the features the answerer
has today (dense cosine, IDF-weighted term overlap, BM25, sentence length,
position in the paragraph, answer type), alone and with the reader's score
as one more feature.

Pairs are `reader_train.build_pairs` (same seed) on SQuAD's eight training
articles and on the two held-out articles (`squad.HELD_OUT`). Every figure
in the table is on the held-out articles unless its row says otherwise:
per-question top-1 (is the best-scored sentence the one holding the answer,
answerable questions) and pair AUC (positive vs negative sentences), from
`reader_train.ranking_figures`, and the question-level AUC of the best
sentence's score, answerable vs unanswerable questions, over both articles
and inside Twilight Princess (all 160 held-out unanswerable questions are
there, so the pooled figure also measures the difference between articles).
The top-1 differences carry a 95 % bootstrap interval over questions.

Fitting: "training articles" rows are fitted on the training articles' pairs. The
reader was trained on those same pairs, so its score there is in-sample; the
"held-out 2-fold" rows fit the combination on one held-out article and score
the other (both ways), so no score a figure is computed on comes from a model
that saw its article.

    nice -n 15 .venv/bin/python benchmarks/bench_scorers.py [--reader /tmp/reader-full/reader.onnx]

Embeddings and reader scores are cached in /tmp/bench-scorers/ (7 min cold
on 2 cores, 15 s warm). Needs lightgbm for the LightGBM rows (`pip install
lightgbm`; skipped without it); logistic regression is numpy only.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.apps.reader_data import SEED, Pair, article_sentences, build_pairs  # noqa: E402
from assistant.apps.train_reader import ranking_figures  # noqa: E402
from assistant.evals import squad  # noqa: E402
from assistant.text.tokens import tokenize  # noqa: E402

CACHE = Path("/tmp/bench-scorers")
DATA = ROOT / "evals/squad/squad2-10-articles.json"
W_SEM, W_LEX, IDF_POWER = 0.6, 0.4, 0.5  # the rules answerer's scorer (extractive.py at 211fd4e, since deleted)

# (The answer-type rules, a feature here until issue 22, were deleted with the rules answerer.)
FEATURES = ["cosine", "overlap", "bm25", "bm25_rel", "log_words", "first_in_para", "pos_in_para"]


def sentence_positions(articles: list[squad.Article]) -> dict[str, tuple[int, int]]:
    """Sentence text -> (index in its paragraph, sentences in that paragraph),
    first occurrence; `Pair` does not carry it."""
    out: dict[str, tuple[int, int]] = {}
    for a in articles:
        sents = article_sentences(a)
        for ps, pe in a.paragraphs:
            inside = [t for s, _e, t in sents if ps <= s < pe]
            for i, t in enumerate(inside):
                out.setdefault(t, (i, len(inside)))
    return out


def _key(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
    return h.hexdigest()[:16]


def embed_cached(texts: list[str]) -> dict[str, np.ndarray]:
    from assistant.embedders import Embedder, get_embedder
    from assistant.settings import Settings

    uniq = sorted(set(texts))
    embedder: Embedder = get_embedder(Settings())  # the configured one: the local model by default
    path = CACHE / f"emb-{embedder.id}-{_key(uniq)}.npy"
    if path.is_file():
        mat = np.load(path)
    else:
        mat = embedder.embed(uniq)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, mat)
    return dict(zip(uniq, mat))


def features(pairs: list[Pair], articles: list[squad.Article], emb: dict[str, np.ndarray]) -> np.ndarray:
    """One row of FEATURES per pair. IDF and BM25 are over the sentences of
    `articles` (the pair's article set)."""
    import bm25s

    sents = [t for a in articles for _s, _e, t in article_sentences(a)]
    stoks = tokenize(sents)
    bm = bm25s.BM25()
    bm.index(stoks, show_progress=False)
    vocab = bm.vocab_dict
    n = len(sents)
    df: dict[str, int] = {}
    for toks in stoks:
        for t in set(toks):
            df[t] = df.get(t, 0) + 1
    sent_index = {t: i for i, t in reversed(list(enumerate(sents)))}
    positions = sentence_positions(articles)

    qcache: dict[str, tuple] = {}
    rows = np.zeros((len(pairs), len(FEATURES)), dtype=np.float64)
    sent_toks = dict(zip(sents, stoks))
    for r, p in enumerate(pairs):
        if p.question not in qcache:
            qt = sorted(set(tokenize([p.question])[0]))  # sorted: sums in a fixed order, same floats every run
            weights = {t: math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) ** IDF_POWER for t in qt}
            known = [t for t in qt if t in vocab]
            scores = bm.get_scores(known) if known else np.zeros(n)
            qcache[p.question] = (weights, scores, float(scores.max()) if len(scores) else 0.0)
        weights, scores, best = qcache[p.question]
        toks = set(sent_toks.get(p.sentence) or tokenize([p.sentence])[0])
        total = sum(weights.values()) or 1.0
        overlap = sum(w for t, w in weights.items() if t in toks) / total
        bm25 = float(scores[sent_index[p.sentence]]) if p.sentence in sent_index else 0.0
        idx, count = positions.get(p.sentence, (0, 1))
        rows[r] = [
            float(emb[p.question] @ emb[p.sentence]),
            overlap,
            bm25,
            bm25 / best if best > 0 else 0.0,
            math.log1p(len(p.sentence.split())),
            float(idx == 0),
            idx / max(1, count - 1),
        ]
    return rows


# --- models -----------------------------------------------------------------------------------
class LogReg:
    """L2-regularised logistic regression (Newton's method) on standardised
    features; `coefficients()` gives it back in raw feature units."""

    def __init__(self, l2: float = 1.0):
        self.l2 = l2

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogReg:
        self.mu, self.sd = x.mean(0), x.std(0) + 1e-9
        z = np.hstack([np.ones((len(x), 1)), (x - self.mu) / self.sd])
        w = np.zeros(z.shape[1])
        reg = np.full(z.shape[1], self.l2)
        reg[0] = 0.0
        for _ in range(50):
            p = 1 / (1 + np.exp(-(z @ w)))
            grad = z.T @ (p - y) + reg * w
            hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg)
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        self.w = w
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(self.w[0] + ((x - self.mu) / self.sd) @ self.w[1:])))

    def coefficients(self) -> tuple[float, np.ndarray]:
        """(bias, weights) such that p = sigmoid(bias + x @ weights) on raw features."""
        weights = self.w[1:] / self.sd
        return float(self.w[0] - (self.mu * weights).sum()), weights


class GBM:
    def __init__(self):
        import lightgbm

        self.model = lightgbm.LGBMClassifier(
            n_estimators=300,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=40,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.9,
            random_state=SEED,
            n_jobs=1,
            deterministic=True,
            force_col_wise=True,
            verbose=-1,
        )

    def fit(self, x: np.ndarray, y: np.ndarray) -> GBM:
        self.model.fit(x, y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(x)[:, 1]


def have_lightgbm() -> bool:
    try:
        import lightgbm  # noqa: F401
    except ImportError:
        return False
    return True


def reader_scores(model: Path, pairs: list[Pair], tag: str) -> np.ndarray:
    from assistant.reader.model import Reader

    st = model.stat()
    path = (
        CACHE
        / f"reader-{tag}-{_key(str(model), st.st_size, st.st_mtime_ns, [(p.question, p.sentence) for p in pairs])}.npy"
    )
    if path.is_file():
        return np.load(path)
    reader = Reader(model)
    out = np.concatenate(
        [reader.score_pairs([(p.question, p.sentence) for p in pairs[i : i + 64]]) for i in range(0, len(pairs), 64)]
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p.astype(np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


# --- figures ----------------------------------------------------------------------------------
def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def answerable_auc(pairs: list[Pair], scores: np.ndarray, answerable: dict[str, bool], only=None) -> float:
    """AUC of the question's best sentence score: answerable vs unanswerable
    (questions in `only` when given)."""
    best: dict[str, float] = {}
    for p, s in zip(pairs, scores):
        if only is None or p.qid in only:
            best[p.qid] = max(best.get(p.qid, -np.inf), float(s))
    pos = np.array([s for q, s in best.items() if answerable[q]])
    neg = np.array([s for q, s in best.items() if not answerable[q]])
    return _auc(pos, neg)


def top1_vector(pairs: list[Pair], scores: np.ndarray) -> dict[str, float]:
    """Per answerable question: 1 if its best-scored sentence is a positive
    (ties count as ranking_figures counts them)."""
    by_q: dict[str, list[tuple[float, float]]] = {}
    for p, s in zip(pairs, scores):
        by_q.setdefault(p.qid, []).append((float(s), p.label))
    return {q: max(c)[1] for q, c in by_q.items() if any(lab for _, lab in c)}


def tied_tops(pairs: list[Pair], scores: np.ndarray) -> int:
    """Answerable questions whose top score is shared by a positive and a negative."""
    by_q: dict[str, list[tuple[float, float]]] = {}
    for p, s in zip(pairs, scores):
        by_q.setdefault(p.qid, []).append((float(s), p.label))
    n = 0
    for c in by_q.values():
        top = max(s for s, _ in c)
        labels = {lab > 0 for s, lab in c if s == top}
        n += labels == {True, False}
    return n


def delta_ci(a: dict[str, float], b: dict[str, float], reps: int = 2000) -> tuple[float, float, float]:
    """Top-1 of a minus top-1 of b, with a 95 % bootstrap interval over questions."""
    qs = sorted(a)
    d = np.array([a[q] - b[q] for q in qs])
    rng = np.random.default_rng(SEED)
    boots = d[rng.integers(0, len(d), size=(reps, len(d)))].mean(1)
    return float(d.mean()), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reader", type=Path, default=Path("/tmp/reader-full/reader.onnx"))
    args = ap.parse_args()
    t0 = time.time()
    articles = squad.load(DATA)
    train_articles, held_out = squad.split(articles)
    train_pairs = build_pairs(train_articles, para_neg=4, hard_neg=3, swap_rate=0.0, seed=SEED)
    test_pairs = build_pairs(held_out, para_neg=4, hard_neg=3, swap_rate=0.0, seed=SEED)
    answerable = {q.id: q.answerable for a in held_out for q in a.questions}
    # The articles holding unanswerable questions (Twilight Princess: all 160 of
    # the held-out ones): the AUC inside them is free of article effects.
    mixed = [a for a in held_out if any(not q.answerable for q in a.questions)]
    in_mixed = {q.id for a in mixed for q in a.questions}
    print(
        f"pairs: training articles {len(train_pairs)} ({len({p.qid for p in train_pairs})} questions), "
        f"held-out articles {len(test_pairs)} ({len({p.qid for p in test_pairs})} questions, "
        f"{sum(not v for v in answerable.values())} unanswerable)",
        flush=True,
    )
    emb = embed_cached([p.question for p in train_pairs + test_pairs] + [p.sentence for p in train_pairs + test_pairs])
    print(f"embeddings: {time.time() - t0:.0f} s", flush=True)
    x_tr, x_te = features(train_pairs, train_articles, emb), features(test_pairs, held_out, emb)
    y_tr = np.array([p.label for p in train_pairs])
    y_te = np.array([p.label for p in test_pairs])
    print(f"features: {time.time() - t0:.0f} s", flush=True)

    rows: list[tuple[str, str, np.ndarray]] = []  # (name, fitted on, held-out scores)
    hand = W_SEM * x_te[:, 0] + W_LEX * x_te[:, 1]
    rows.append(("hand: 0.6*cosine + 0.4*overlap", "- (today's weights)", hand))
    lr = LogReg().fit(x_tr, y_tr)
    rows.append(("LR: features", "training articles", lr.predict(x_te)))
    gbm_ok = have_lightgbm()
    if gbm_ok:
        rows.append(("LightGBM: features", "training articles", GBM().fit(x_tr, y_tr).predict(x_te)))
    else:
        print("lightgbm is not installed: its rows are skipped (pip install lightgbm)")
    train_fig = {"LR: features": ranking_figures(train_pairs, lr.predict(x_tr))}

    # (label, feature names, model) of the logistic regressions whose weights are printed
    coefs: list[tuple[str, list[str], LogReg]] = [("LR: features, training articles", FEATURES, lr)]
    if args.reader.is_file():
        r_te = reader_scores(args.reader, test_pairs, "held-out")
        r_tr = reader_scores(args.reader, train_pairs, "train")
        print(f"reader scores: {time.time() - t0:.0f} s", flush=True)
        train_fig["reader"] = ranking_figures(train_pairs, r_tr)
        rows.append(("reader alone", "(trained on training articles)", r_te))
        xr_tr = np.hstack([x_tr, logit(r_tr)[:, None]])
        xr_te = np.hstack([x_te, logit(r_te)[:, None]])
        all_names = FEATURES + ["reader_logit"]
        small = [0, 1, len(FEATURES)]  # cosine, overlap, reader_logit
        small_names = [all_names[i] for i in small]
        in_sample = "training articles (reader in-sample)"
        m = LogReg().fit(xr_tr, y_tr)
        coefs.append(("LR: features + reader, training articles", all_names, m))
        rows.append(("LR: features + reader", in_sample, m.predict(xr_te)))
        m = LogReg().fit(xr_tr[:, small], y_tr)
        coefs.append(("LR: cosine + overlap + reader, training articles", small_names, m))
        rows.append(("LR: cosine + overlap + reader", in_sample, m.predict(xr_te[:, small])))
        if gbm_ok:
            rows.append(("LightGBM: features + reader", in_sample, GBM().fit(xr_tr, y_tr).predict(xr_te)))
        # Article-level two-fold on the held-out articles: fit on one, score the other.
        art_of = {q.id: a.title for a in held_out for q in a.questions}
        fold = np.array([art_of[p.qid] == held_out[0].title for p in test_pairs])
        for name, make, x in [
            ("LR: cosine + overlap", LogReg, xr_te[:, [0, 1]]),
            ("LR: features", LogReg, x_te),
            ("LR: features + reader", LogReg, xr_te),
            ("LR: cosine + overlap + reader", LogReg, xr_te[:, small]),
        ] + ([("LightGBM: features + reader", GBM, xr_te)] if gbm_ok else []):
            out = np.zeros(len(test_pairs))
            for f in (True, False):
                model = make().fit(x[fold == f], y_te[fold == f])
                out[fold != f] = model.predict(x[fold != f])
                if name == "LR: cosine + overlap + reader":
                    title = held_out[0 if f else 1].title
                    coefs.append((f"{name}, fitted on {title} only", small_names, model))
            rows.append((name, "held-out 2-fold (other held-out article)", out))
        coefs.append(
            ("LR: cosine + overlap + reader, both held-out articles", small_names, LogReg().fit(xr_te[:, small], y_te))
        )
    else:
        print(f"no reader model at {args.reader}: the reader rows are skipped")

    refs = {"hand": (hand, top1_vector(test_pairs, hand))}
    reader_row = next((s for n, _f, s in rows if n == "reader alone"), None)
    if reader_row is not None:
        refs["reader"] = (reader_row, top1_vector(test_pairs, reader_row))
    print()
    print(
        f"All figures on the HELD-OUT articles ({', '.join(squad.HELD_OUT)}): {len({p.qid for p in test_pairs})} questions,"
    )
    print(
        "top-1 over the answerable ones; pair AUC: positive vs negative sentences; answerable AUC: best sentence score"
    )
    print("per question, answerable vs unanswerable, over both articles and inside the articles that have")
    print(f"unanswerable questions ({', '.join(a.title for a in mixed)}: {len(in_mixed)} questions, ", end="")
    print(f"{sum(not answerable[q] for q in in_mixed)} unanswerable).")
    print("'fitted on' = where the scorer's weights were learned.")
    print(
        "Δ top-1: difference with the hand score / the reader, 95 % bootstrap interval over the answerable questions."
    )
    print()
    head = f"| {'scorer':<31} | {'fitted on':<41} | top-1  | pair AUC | answ. AUC | answ. AUC in art. | " + " | ".join(
        f"{'Δ top-1 vs ' + r:<24}" for r in refs
    )
    head += " |"
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    ties = {}
    for name, fitted, s in rows:
        fig = ranking_figures(test_pairs, s)
        ans = answerable_auc(test_pairs, s, answerable)
        ans_in = answerable_auc(test_pairs, s, answerable, in_mixed)
        mine = top1_vector(test_pairs, s)
        deltas = []
        for ref_scores, ref in refs.values():
            if s is ref_scores:
                deltas.append("-")
                continue
            d, lo, hi = delta_ci(mine, ref)
            deltas.append(f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        print(
            f"| {name:<31} | {fitted:<41} | {fig['top1']:.4f} | {fig['auc']:.4f}   | {ans:.4f}    | {ans_in:<17.4f} | "
            + " | ".join(f"{d:<24}" for d in deltas)
            + " |"
        )
        if n_ties := tied_tops(test_pairs, s):
            ties[name] = n_ties
    if ties:
        print(f"(a positive tied with a negative for the top score, counted right by ranking_figures: {ties})")
    print()
    print("In-sample, on the TRAINING articles' pairs (for the overfit check, not for comparison):")
    for name, fig in train_fig.items():
        print(f"  {name:<22} top-1 {fig['top1']:.4f}  pair AUC {fig['auc']:.4f}")
    print()
    print("LR coefficients, p = sigmoid(bias + sum w * feature), raw feature units (reader_logit = log(p / (1 - p))")
    print("of the reader's probability, p clipped to [1e-6, 1 - 1e-6]):")
    for label, names, model in coefs:
        b, w = model.coefficients()
        print(f"  {label}: bias {b:+.4f} " + " ".join(f"{n}={v:+.4f}" for n, v in zip(names, w)))
    print(f"\n{time.time() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
