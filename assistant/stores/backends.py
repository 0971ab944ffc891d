"""The vector stores by name (`ASSISTANT_VECTOR_STORE`), in the one registry
shape (assistant/registry.py). A new one is a module with a `VectorBackend`
(see `base.py`) whose collections are `VectorIndex`es, plus one `register`
line below, or, from outside the repo, a dotted path:
`ASSISTANT_VECTOR_STORE=mypkg.store:MyBackend`. A backend is built from the
settings sections it names, then the embedder's id."""

from __future__ import annotations

from pathlib import Path

from assistant.registry import Registry
from assistant.settings import Settings
from assistant.stores.base import VectorBackend
from assistant.stores.chroma import ChromaBackend
from assistant.stores.locks import building_here
from assistant.stores.memory import MemoryBackend

BACKENDS: Registry[VectorBackend] = Registry("vector store", "ASSISTANT_VECTOR_STORE")
BACKENDS.register("chroma", ChromaBackend, "chroma", "index")
BACKENDS.register("memory", MemoryBackend, "index")  # the test profile: nothing on disk


def get_backend(settings: Settings, embedder_id: str) -> VectorBackend:
    """The store `settings.vector_store` names, for the embedder `embedder_id`;
    an unknown name is a one-line SettingsError. A store named by a dotted
    path is registered under that path once built, so that `forget_local`
    and `local_dirs` (a rebuild's clean-up) know its files too."""
    name = settings.vector_store
    if name not in BACKENDS.names():  # a dotted path (or an unknown name: SettingsError here)
        entry = BACKENDS.entry(name)
        BACKENDS.register(name, entry.factory, *entry.sections)
    return BACKENDS.build(name, settings, embedder_id)


def _classes() -> list:
    """The registered stores' classes (or factories), each once."""
    return list(dict.fromkeys(BACKENDS.entry(name).factory for name in BACKENDS.names()))


def forget_local(index_dir: Path, force: bool = False) -> None:
    """Every store's handles on the files of `index_dir` dropped; not while
    this process builds it (its handles are current then, see
    `locks.building_here`) unless `force` (the build deletes the files)."""
    if not force and building_here(index_dir):
        return
    for backend in _classes():
        if (forget := getattr(backend, "forget_local", None)) is not None:
            forget(index_dir)


def local_dirs() -> list[str]:
    """The folders of index_dir the stores keep their files in."""
    return [b.local_dir for b in _classes() if getattr(b, "local_dir", "")]
