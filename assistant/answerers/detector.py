"""The instruction detector: does a sentence of a document tell its reader
(a model) what to answer, say, output, ignore, reveal or pretend?

A logistic regression over the sentence's MiniLM vector (the local embedder,
the same vectors the index stores for each sentence unit) and a few cheap
features, trained on instruction-like sentences and ordinary prose written or
sampled by benchmarks/detector_data.py; weights and card in assistant/data/detector/
(`benchmarks/train_detector.py` writes them, `benchmarks/bench_instructions.py`
prints the held-out figures). Prose that only reports an instruction ("the
ministry told exporters to file by May"), and a manual's own imperatives
("press the red button"), are negatives in its training data.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from functools import lru_cache
from threading import Lock

import numpy as np

from assistant.resources import DATA_DIR

WEIGHTS = DATA_DIR / "detector" / "weights.json"
_CACHE_SIZE = 8192  # the same passages come back question after question
DIM = 384  # MiniLM's vectors
# A few cheap features beside the vector: words that address a reader, speak
# of replying, name a model or a question, a quoted payload, reported speech,
# and fragments (too short, or few letters) that MiniLM places near anything.
# They stay because training data alone show they help: out-of-fold recall on
# unseen training families 0.986 with them, 0.952 without (L2 0.3, the
# chosen one, same out-of-fold FPR of 0.4 % on training SQuAD; every L2 of
# the grid gains 2.9 to 3.6 points: the card's selection_grid).
FEATURES = [
    re.compile(r"\byou(?:r|rs|rself)?\b", re.I),
    re.compile(r"\b(?:answer|respon|repl|say|said|output|print|writ|state|tell|repeat|claim|return)\w*", re.I),
    re.compile(
        r"\b(?:AI|A\.I\.|assistants?|chat ?bots?|bots?|models?|LLMs?|GPT[-\w]*|ChatGPT|Claude|Gemini|Copilot)\b"
    ),
    re.compile(
        r"\b(?:questions?|quer(?:y|ies)|users?|prompts?|instructions?|responses?|repl(?:y|ies)|answers?)\b", re.I
    ),
    re.compile(r"[\"“‘'«`][^\"“”‘’«»`]{1,80}[\"”’'»`]"),
    # reported speech: "..., the company said." / "Kim said: ..." / "according to"
    re.compile(
        r"[,”\"’']\s*(?:[\w.'’-]+\s+){0,5}?(?:said|says|told|tells|added|argue[sd]?|wrote|writes|warned|claim(?:s|ed)|"
        r"found|insisted|advised|noted|explained|reported|read|chanted|shouted|replied|announced)\b|\baccording\s+to\b|^\W*(?:[\w.'’-]+\s+){1,4}(?:said|says|wrote)\s*:",
        re.I,
    ),
]
FEATURE_SCALE = 0.3  # the features' size beside a unit-length vector


def features(texts: list[str]) -> np.ndarray:
    """The cheap features of each text, scaled, one row each."""
    out = np.zeros((len(texts), len(FEATURES) + 2), dtype=np.float32)
    for i, t in enumerate(texts):
        out[i, : len(FEATURES)] = [1.0 if f.search(t) else 0.0 for f in FEATURES]
        out[i, -2] = 1.0 if len(t.split()) < 4 else 0.0
        out[i, -1] = sum(c.isalpha() for c in t) / max(len(t), 1)
    return out * FEATURE_SCALE


@lru_cache(maxsize=1)
def model() -> tuple[np.ndarray, float, float]:
    """(weights, bias, threshold) of the shipped classifier."""
    d = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    return np.asarray(d["w"], dtype=np.float32), float(d["b"]), float(d["threshold"])


def inputs(texts: list[str], vectors: np.ndarray) -> np.ndarray:
    """The classifier's input: MiniLM vector and cheap features, one row a text."""
    return np.hstack([np.asarray(vectors, dtype=np.float32).reshape(-1, DIM), features(texts)])


def probabilities(texts: list[str], vectors: np.ndarray) -> np.ndarray:
    """P(instruction) of each text, given its MiniLM vector."""
    w, b, _ = model()
    return 1.0 / (1.0 + np.exp(-(inputs(texts, vectors) @ w + b)))


def embed(texts: list[str]) -> np.ndarray:
    from assistant.embedders.local import local_embedder
    from assistant.settings import EmbedSettings

    return local_embedder(EmbedSettings()).embed(list(texts))


_judged: OrderedDict[str, bool] = OrderedDict()
_lock = Lock()


def _remember(text: str, flag: bool) -> None:
    with _lock:
        _judged[text] = flag
        _judged.move_to_end(text)
        while len(_judged) > _CACHE_SIZE:
            _judged.popitem(last=False)


def instruction_flags(texts: list[str], vectors: list | None = None) -> list[bool]:
    """Is each of `texts` an instruction to the model? `vectors[i]`, when
    given and not None, is the MiniLM vector of `texts[i]` (the index's: it
    is not embedded again); a text judged before is not judged again."""
    with _lock:
        known = {t: _judged[t] for t in texts if t in _judged}
    todo = [i for i, t in enumerate(texts) if t not in known and t.strip()]
    if todo:
        vecs = np.zeros((len(todo), DIM), dtype=np.float32)
        have = [k for k, i in enumerate(todo) if vectors is not None and vectors[i] is not None]
        for k in have:
            vecs[k] = vectors[todo[k]]
        given = set(have)
        missing = [k for k in range(len(todo)) if k not in given]
        if missing:
            vecs[missing] = embed([texts[todo[k]] for k in missing])
        _, _, threshold = model()
        for i, p in zip(todo, probabilities([texts[i] for i in todo], vecs)):
            known[texts[i]] = bool(p >= threshold)
            _remember(texts[i], known[texts[i]])
    return [known.get(t, False) for t in texts]


def unit_flags(units: list) -> list[bool]:
    """`instruction_flags` of sentence units, with their own vectors when the
    index was built with the local MiniLM (one unit is embedded again to
    check: another embedder's vectors mean nothing to the classifier)."""
    texts = [u.text for u in units]
    with _lock:
        todo = [i for i, t in enumerate(texts) if t not in _judged]
    vecs = [getattr(units[i], "vector", None) for i in todo]
    if not todo or any(v is None or np.shape(v) != (DIM,) for v in vecs):
        return instruction_flags(texts)
    probe = embed([texts[todo[0]]])[0]
    if float(probe @ np.asarray(vecs[0], dtype=np.float32)) < 0.99:
        return instruction_flags(texts)
    own: list = [None] * len(texts)
    for i, v in zip(todo, vecs):
        own[i] = v
    return instruction_flags(texts, own)
