"""The reader: the probability that a sentence answers a question.

A cross-encoder trained by this project (`assistant train-reader`, see
`apps/train_reader.py`): MiniLM weights fine-tuned on the whole SQuAD 1.1
training set (split by article; validation and held-out articles never
trained on), exported as int8 ONNX and shipped in `assistant/data/reader/`
with its tokenizer and `card.json` (data hash, split, base weights, command,
learning curve, figures, calibrated threshold). It runs on onnxruntime only.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError
from assistant.resources import data_path

READER_DIR = data_path("reader")
MAX_LEN = 128  # word pieces of question + sentence; longer sentences are cut


def logit(p):
    """log(p / (1 - p)), kept finite at 0 and 1 (floats or arrays)."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def load_tokenizer():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(READER_DIR / "tokenizer.json"))
    # Cut the sentence, never the question.
    tok.enable_truncation(max_length=MAX_LEN, strategy="only_second")
    tok.enable_padding()  # to the longest pair of the batch
    return tok


class Reader:
    """Scores (question, sentence) pairs with the shipped model."""

    def __init__(self, path: Path | None = None, threads: int = 2):
        import onnxruntime as ort

        path = Path(path or READER_DIR / "reader.onnx")
        if not path.is_file():
            raise AssistantError(f"The reader model is missing ({path}): reinstall the package.")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = load_tokenizer()
        card = path.parent / "card.json"
        self.card = json.loads(card.read_text()) if card.is_file() else {}
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        """Below this probability no sentence answers the question (calibrated,
        see card.json)."""
        return float(self.card.get("threshold", 0.5))

    @property
    def mass(self) -> float:
        """Share of the candidates' summed probability an answer's sentences
        hold before it stops adding more (card.json "sentences"; without it,
        one sentence)."""
        return float(self.card.get("sentences", {}).get("mass", 0.0))

    @property
    def refusal(self) -> dict | None:
        """The learned refusal of card.json ("refusal"; see
        benchmarks/bench_decisions.py), None when the card has none."""
        return self.card.get("refusal")

    def unanswerable(self, features: dict[str, float]) -> float:
        """The probability that no retrieved sentence answers the question: a
        logistic regression on question-level features (`answerers.reader.
        question_features`), standardised as it was fitted."""
        r = self.card["refusal"]
        x = np.array([features[f] for f in r["features"]], dtype=np.float64)
        z = ((x - np.array(r["mean"])) / np.array(r["scale"])) @ np.array(r["coef"]) + r["intercept"]
        return float(1.0 / (1.0 + np.exp(-z)))

    def combine(self, probs: np.ndarray, cosine: np.ndarray, overlap: np.ndarray) -> np.ndarray:
        """The answer probability from the reader's and two cheap signals
        (embedding cosine, IDF-weighted term overlap): a logistic regression
        whose weights are in card.json ("combine"; see benchmarks/bench_scorers.py).
        Measured there: the reader alone ranks answer sentences of unseen
        articles worse than cosine + overlap; together they rank better than either."""
        w = self.card.get("combine")
        if not w:
            return probs
        z = w["bias"] + w["cosine"] * cosine + w["overlap"] * overlap + w["reader_logit"] * logit(probs)
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def score_pairs(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        enc = self.tokenizer.encode_batch(pairs)
        feed = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        with self._lock:  # one onnxruntime run at a time: the two cores are its threads
            logits = self.session.run(None, feed)[0].reshape(-1)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def score(self, question: str, sentences: list[str]) -> np.ndarray:
        return self.score_pairs([(question, s) for s in sentences])


@lru_cache(maxsize=2)
def get_reader(path: Path | None = None) -> Reader:
    """The reader of `path` (default: the shipped model), loaded once."""
    return Reader(path)


def rerank_passages(passages: list, units: list, probs: np.ndarray) -> tuple[list, list]:
    """Passages in order of their best sentence's probability of answering
    (retrieval rank breaks ties), renumbered 1..n, and the units with their
    passage numbers moved along: what the LLM sees first is what answers."""
    from dataclasses import replace

    best: dict[int, float] = {}
    for u, p in zip(units, probs):
        best[u.passage] = max(best.get(u.passage, 0.0), float(p))
    order = sorted(passages, key=lambda p: (-best.get(p.n, 0.0), p.n))
    renumber = {p.n: i + 1 for i, p in enumerate(order)}
    new = [replace(p, n=renumber[p.n]) for p in order]
    moved = [replace(u, passage=renumber.get(u.passage, u.passage)) for u in units]
    return new, moved
