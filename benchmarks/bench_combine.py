"""Which sentence to quote: the reader alone, the rules' score, or a learned
combination of the reader with the retrieval signals the answerer already
has (issue 22: "a learned combination with today's features").

Every sentence of the retrieved passages (top_k passages of the real hybrid
retrieval, the answerer's own request) becomes a row: the reader's logit,
embedding cosine, IDF-weighted overlap (plain and softened), the passage's
rank, the sentence's length, and the same signals relative to the
question's best. A sentence is right when it holds a gold answer span of the
question's own article.

Split by article, nothing tuned on the figures' questions:
  fit   -- answerable questions of the validation articles (reader_data.split_articles,
           seed 13, never trained on), asked over the validation articles' corpus;
  score -- the two held-out SQuAD articles asked over the ten-article corpus.

    nice -n 10 .venv/bin/python benchmarks/bench_combine.py [--fit-questions 1500]

Features are cached in /tmp/bench-combine (keyed by reader card and data).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.apps.reader_data import split_articles  # noqa: E402
from assistant.evals import squad  # noqa: E402
from assistant.text.tokens import tokenize  # noqa: E402

CACHE = Path("/tmp/bench-combine")
TRAIN = ROOT / "evals/squad/squad1.1-train.json.gz"
TEN = ROOT / "evals/squad/squad2-10-articles.json"
FEATURES = ["logit", "cos", "lex", "lex_soft", "inv_rank", "log_words", "cos_rel", "lex_rel", "logit_rel", "first_of_passage"]


def capture_requests(path: Path, questions: list[squad.Question], workdir: Path) -> list:
    """Ask each question through the real pipeline and keep the offline
    answerer's request (passages, units, term stats): everything an answerer sees."""
    from assistant.answerers import registry
    from assistant.answerers.base import AnswerResult
    from assistant.api import answer, build_index
    from assistant.evals import squad_eval
    from assistant.settings import resolve_settings

    kept: list = []

    class Capture:
        def answer(self, request):
            kept.append(request)
            yield ""
            yield AnswerResult("", refused=True)

    settings = resolve_settings({"index_dir": workdir, "backend": "offline"})
    _, ss = squad_eval.prepare(path, squad_eval.check_file(path), settings, cache=workdir)
    build_index(settings=ss)
    registry.OFFLINE_ANSWERERS["rules"] = lambda s: Capture()
    out = []
    t = time.time()
    for i, q in enumerate(questions):
        kept.clear()
        answer(q.question, settings=ss.with_options(offline_answerer="rules"))
        out.append(kept[0] if kept else None)
        if (i + 1) % 200 == 0:
            print(f"  asked {i + 1}/{len(questions)} ({(i + 1) / (time.time() - t):.1f} q/s)", flush=True)
    return out


def rows_of(q: squad.Question, req, reader, file_of: dict[str, str]) -> dict | None:
    """Feature rows of every sentence the answerer could quote."""
    if req is None or not req.units:
        return None
    units = [u for u in req.units if not u.heading and len(u.text.split()) >= 4]
    if not units:
        return None
    query = req.query
    idf = {t: v for t, (_, v) in req.terms.items()}
    qt = set(tokenize([query])[0])
    w = {t: idf.get(t, 0.0) for t in qt}
    ws = {t: v**0.5 for t, v in w.items()}
    tw, tws = sum(w.values()) or 1.0, sum(ws.values()) or 1.0
    mat = np.stack([u.vector for u in units])
    cos = mat @ req.qvec
    toks = [set(t) for t in tokenize([u.text for u in units])]
    lex = np.array([sum(v for t, v in w.items() if t in s) / tw for s in toks])
    lex_soft = np.array([sum(v for t, v in ws.items() if t in s) / tws for s in toks])
    probs = reader.score(req.question, [" ".join(u.text.split()) for u in units])
    p = np.clip(probs, 1e-6, 1 - 1e-6)
    logit = np.log(p / (1 - p))
    seen: set[int] = set()
    first = []
    for u in units:
        first.append(float(u.passage not in seen))
        seen.add(u.passage)
    x = np.stack(
        [
            logit, cos, lex, lex_soft, 1.0 / np.array([u.passage for u in units]),
            np.log([len(u.text.split()) for u in units]), cos - cos.max(), lex - lex.max(), logit - logit.max(),
            np.array(first),
        ],
        axis=1,
    )  # fmt: skip
    gold_file = file_of[q.article]
    y = np.array(
        [
            float(Path(u.source).name == gold_file and any(u.start <= s and e <= u.end for s, e in q.spans))
            for u in units
        ]
    )
    return {"id": q.id, "x": x.astype(np.float32), "y": y, "passage": np.array([u.passage for u in units])}


def collect(name: str, path: Path, questions: list[squad.Question], reader, key: str) -> list[dict]:
    cache = CACHE / f"{name}-{key}.pkl"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    work = CACHE / f"work-{name}"
    print(f"{name}: asking {len(questions)} questions", flush=True)
    reqs = capture_requests(path, questions, work)
    file_of = {a.title: a.file for a in squad.load(path)}
    t = time.time()
    out = []
    for i, (q, r) in enumerate(zip(questions, reqs)):
        row = rows_of(q, r, reader, file_of)
        if row is not None:
            out.append(row)
        if (i + 1) % 200 == 0:
            print(f"  scored {i + 1}/{len(questions)} ({(i + 1) / (time.time() - t):.1f} q/s)", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(out))
    return out


def fit_lr(rows: list[dict], cols: list[int], c: float = 1.0):
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([r["x"][:, cols] for r in rows])
    y = np.concatenate([r["y"] for r in rows])
    m = LogisticRegression(C=c, max_iter=2000).fit(x, y)
    return m


class Listwise:
    """Softmax over each question's sentences (a conditional logit): the
    weights that put the right sentence first, which is what the answerer
    needs, rather than a probability per sentence. L2 on the weights."""

    def __init__(self, rows: list[dict], cols: list[int], l2: float = 1e-3):
        from scipy.optimize import minimize

        xs = [r["x"][:, cols].astype(np.float64) for r in rows if r["y"].any()]
        ys = [r["y"] / r["y"].sum() for r in rows if r["y"].any()]
        self.mu = np.concatenate(xs).mean(0)
        self.sd = np.concatenate(xs).std(0) + 1e-9
        xs = [(x - self.mu) / self.sd for x in xs]

        def loss(w):
            total, grad = 0.0, l2 * w
            for x, y in zip(xs, ys):
                z = x @ w
                z -= z.max()
                p = np.exp(z) / np.exp(z).sum()
                total -= float(y @ np.log(p + 1e-12))
                grad = grad + x.T @ (p - y)
            return total / len(xs) + 0.5 * l2 * float(w @ w), grad / len(xs)

        res = minimize(loss, np.zeros(len(cols)), jac=True, method="L-BFGS-B")
        self.w = res.x / self.sd  # in raw feature units
        self.coef_ = [self.w]

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return x @ self.w


def top1(rows: list[dict], score) -> float:
    """Share of questions with a right sentence anywhere whose best-scored sentence is right."""
    ok = [r for r in rows if r["y"].any()]
    return sum(r["y"][int(np.argmax(score(r)))] > 0 for r in ok) / max(1, len(ok))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit-questions", type=int, default=1500)
    ap.add_argument("--write", action="store_true", help="write the reader+cos+lex LR weights into the shipped card")
    args = ap.parse_args()
    from assistant.reader.model import get_reader

    reader = get_reader(None)
    card = (ROOT / "assistant/data/reader/card.json").read_bytes()
    key = hashlib.sha256(card + str(args.fit_questions).encode()).hexdigest()[:12]

    train, val, _ = split_articles(squad.load(TRAIN))
    val_path = CACHE / "validation.json"
    CACHE.mkdir(parents=True, exist_ok=True)
    raw = json.loads(__import__("gzip").decompress(TRAIN.read_bytes()))
    titles = {a.title for a in val}
    val_raw = [a for a in raw["data"] if a["title"] in titles]
    val_path.write_text(json.dumps({"version": "1.1", "data": val_raw}))
    vq = [q for a in squad.load(val_path) for q in a.questions if q.answerable]
    random.Random(13).shuffle(vq)
    vq = vq[: args.fit_questions]
    held = [q for a in squad.load(TEN) if a.title in squad.HELD_OUT for q in a.questions if q.answerable]

    fit_rows = collect("validation", val_path, vq, reader, key)
    test_rows = collect("held-out", TEN, held, reader, key)
    print(f"fit: {len(fit_rows)} questions of {len(val)} validation articles; held-out: {len(test_rows)} questions")
    idx = {f: i for i, f in enumerate(FEATURES)}

    def col(name):
        return lambda r: r["x"][:, idx[name]]

    table = {
        "reader alone": col("logit"),
        "cosine": col("cos"),
        "overlap": col("lex"),
        "rules score (0.6 cos + 0.4 soft overlap + 0.03/rank)": lambda r: 0.6 * r["x"][:, 1] + 0.4 * r["x"][:, 3]
        + 0.03 * r["x"][:, 4],
    }
    sets = {
        "LR reader+cos+lex": ["logit", "cos", "lex"],
        "LR reader+cos+lex+rank": ["logit", "cos", "lex", "inv_rank"],
        "LR all": FEATURES,
    }
    fitted = {}
    for name, feats in sets.items():
        cols = [idx[f] for f in feats]
        m = fit_lr(fit_rows, cols)
        fitted[name] = (feats, m)
        table[name] = lambda r, m=m, cols=cols: m.decision_function(r["x"][:, cols])
        lw = Listwise(fit_rows, cols)
        fitted[f"listwise {name[3:]}"] = (feats, lw)
        table[f"listwise {name[3:]}"] = lambda r, m=lw, cols=cols: m.decision_function(r["x"][:, cols])
    print(f"{'scorer':60s} {'fit top-1':>9s} {'held-out top-1':>14s}")
    for name, f in table.items():
        print(f"{name:60s} {top1(fit_rows, f):9.3f} {top1(test_rows, f):14.3f}")
    reach = sum(r["y"].any() for r in test_rows) / len(test_rows)
    print(f"held-out questions with a right sentence retrieved: {reach:.3f}")
    for name, (feats, m) in fitted.items():
        print(name, {f: round(float(w), 3) for f, w in zip(feats, m.coef_[0])})
    if args.write:
        # The shape Reader.combine reads: pointwise LR on reader logit, cosine
        # and overlap, the best held-out row (rank features do not carry over
        # from one corpus to another).
        feats, m = fitted["LR reader+cos+lex"]
        w = dict(zip(feats, (float(v) for v in m.coef_[0])))
        card_path = ROOT / "assistant/data/reader/card.json"
        c = json.loads(card_path.read_text())
        c["combine"] = {
            "bias": round(float(m.intercept_[0]), 4), "reader_logit": round(w["logit"], 4),
            "cosine": round(w["cos"], 4), "overlap": round(w["lex"], 4),
            "fit": f"{len(fit_rows)} answerable questions of the {len(val)} validation articles, every sentence of "
            "their retrieved passages (benchmarks/bench_combine.py --write)",
            "held_out_top1": {n: round(top1(test_rows, f), 4) for n, f in table.items()
                              if n in ("reader alone", "rules score (0.6 cos + 0.4 soft overlap + 0.03/rank)",
                                       "LR reader+cos+lex")},
        }  # fmt: skip
        card_path.write_text(json.dumps(c, indent=2) + "\n")
        print("wrote combine into", card_path)


if __name__ == "__main__":
    main()
