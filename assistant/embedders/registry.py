"""The embedders by name (`ASSISTANT_EMBED_BACKEND`), in the one registry
shape (assistant/registry.py). A new embedder is one module (a class with
`id`, `dim`, `batch_size`, `embed` and `worker`, see base.py) plus one
`register` line below, or, from outside the repo, a dotted path:
`ASSISTANT_EMBED_BACKEND=mypkg.embed:MyEmbedder` (the class lists the
settings sections it takes in `sections`)."""

from __future__ import annotations

from assistant.embedders.base import Embedder
from assistant.embedders.hashed import HashEmbedder
from assistant.embedders.local import local_embedder
from assistant.embedders.openai import openai_embedder
from assistant.embedders.static import StaticEmbedder
from assistant.registry import Registry
from assistant.resources import offline_env
from assistant.settings import Settings

EMBEDDERS: Registry[Embedder] = Registry("embedder", "ASSISTANT_EMBED_BACKEND")
EMBEDDERS.register("local", local_embedder, "embed")
# The LLM section too: one server (key, URL, timeout) for chat and embeddings.
EMBEDDERS.register("openai", openai_embedder, "embed", "llm")
EMBEDDERS.register("hash", HashEmbedder, "embed")  # the test profile: no model
EMBEDDERS.register("static", StaticEmbedder, "embed")  # the fast profile: distilled token vectors


def get_embedder(settings: Settings, backend: str | None = None) -> Embedder:
    """The embedder `backend` names, by default `settings.embed_backend` (the
    local model is loaded once); an unknown name is a one-line SettingsError."""
    offline_env()  # before the model's libraries load
    return EMBEDDERS.build(backend or settings.embed_backend, settings)
