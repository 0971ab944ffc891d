"""The rerankers by name (`ASSISTANT_RERANKER`), in the one registry shape
(assistant/registry.py). A new one is a class with `rerank`
(`retrieval.base.Reranker`) plus one `register` line below, or, from
outside the repo, a dotted path: `ASSISTANT_RERANKER=mypkg.rerank:MyReranker`
(the class lists the settings sections it takes in `sections`).

Two names are not rerankers: "none" (passages as retrieved) and "auto" (the
reader when it is the offline answerer, so that the passages the LLM reads
agree with it; else none)."""

from __future__ import annotations

from assistant.errors import SettingsError
from assistant.reader.rerank import reader_reranker
from assistant.registry import Registry
from assistant.retrieval.base import Reranker
from assistant.settings import Settings

RERANKERS: Registry[Reranker] = Registry("reranker", "ASSISTANT_RERANKER")
RERANKERS.register("reader", reader_reranker, "answer")


def get_reranker(settings: Settings) -> Reranker | None:
    """The reranker `settings.reranker` names, or None ("none", or "auto"
    with the rules answerer); an unknown name is a one-line SettingsError."""
    name = settings.reranker
    if name == "auto":
        name = "reader" if settings.offline_answerer == "reader" else "none"
    if name == "none":
        return None
    if name not in RERANKERS:
        known = ", ".join(RERANKERS.names())
        raise SettingsError(
            f"unknown reranker {name!r} ({RERANKERS.setting}); known: auto, none, {known}, or package.module:Class"
        )
    return RERANKERS.build(name, settings)
