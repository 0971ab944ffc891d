"""An `Answer` to the JSON a turn keeps, and back.

A saved answer outlives the code that wrote it: a row written before a field
was added (or after one was removed) must still load, so unknown keys are
dropped and missing ones take their defaults (or an empty value of their type).
"""

from __future__ import annotations

import dataclasses
import json

from assistant.errors import ConversationError
from assistant.types import Answer, Citation, Passage

_EMPTY = {"str": "", "int": 0, "float": 0.0, "bool": False}
CORPUS_KEY = "corpus"  # beside the Answer's own fields in a turn's JSON


def answer_to_json(answer: Answer, corpus: str = "") -> str:
    """The answer as JSON: `to_dict()` without `debug` (scores and reasons,
    not a stable contract, and often the bulk of it); with `corpus`, the
    folder it was answered from (`"corpus"`, which an Answer does not read
    back: the export reads its citations' spans there)."""
    if not isinstance(answer, Answer):
        raise ConversationError(f"a turn's answer must be an Answer, not {type(answer).__name__}")
    data = answer.to_dict()
    data.pop("debug", None)
    if corpus:
        data[CORPUS_KEY] = corpus
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: keep them, escaped
        text = json.dumps(data, separators=(",", ":"))
    return text


def _build(cls, data):
    """`cls(**data)` keeping only its fields; a required field that is missing
    gets the empty value of its type."""
    if not isinstance(data, dict):
        data = {}
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = data[f.name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            kwargs[f.name] = _EMPTY.get(kind, None)
    return cls(**kwargs)


def answer_from_dict(data: dict, question: str = "") -> Answer:
    """The Answer a saved dict stands for (citations and passages rebuilt)."""
    data = dict(data) if isinstance(data, dict) else {}
    data.setdefault("question", question)
    data.setdefault("text", "")
    data.pop("debug", None)
    citations = [_build(Citation, c) for c in _list(data.get("citations"))]
    passages = [_build(Passage, p) for p in _list(data.get("passages"))]
    ans = _build(Answer, {k: v for k, v in data.items() if k not in ("citations", "passages")})
    ans.citations, ans.passages = citations, passages
    return ans


def _list(value) -> list:
    return value if isinstance(value, list) else []
