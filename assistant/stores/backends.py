"""The vector stores by name (`ASSISTANT_VECTOR_STORE`), in the one registry
shape (assistant/registry.py). A new one is a module with a `VectorBackend`
(see `base.py`) whose collections are `VectorIndex`es, plus one `register`
line below, or, from outside the repo, a dotted path:
`ASSISTANT_VECTOR_STORE=mypkg.store:MyBackend`. A backend is built from the
settings sections it names, then the embedder's id: `get_backend` gives it
them from the whole settings, `backend_from` from the index and chroma
sections an `IndexStore` holds."""

from __future__ import annotations

from pathlib import Path

from assistant.errors import SettingsError
from assistant.registry import Entry, Registry
from assistant.settings import ChromaSettings, IndexSettings, Settings
from assistant.stores.base import VectorBackend
from assistant.stores.chroma import ChromaBackend
from assistant.stores.locks import building_here
from assistant.stores.memory import MemoryBackend

BACKENDS: Registry[VectorBackend] = Registry("vector store", "ASSISTANT_VECTOR_STORE")
BACKENDS.register("chroma", ChromaBackend, "chroma", "index")
BACKENDS.register("memory", MemoryBackend, "index")  # the test profile: nothing on disk


def _entry(name: str) -> Entry[VectorBackend]:
    """The entry of store `name`; an unknown name is a one-line SettingsError.
    A store named by a dotted path is registered under that path, so that
    `forget_local` and `local_dirs` (a rebuild's clean-up) know its files too."""
    if name not in BACKENDS.names():  # a dotted path (or an unknown name: SettingsError here)
        entry = BACKENDS.entry(name)
        BACKENDS.register(name, entry.factory, *entry.sections)
    return BACKENDS.entry(name)


def get_backend(settings: Settings, embedder_id: str) -> VectorBackend:
    """The store `settings.vector_store` names, for the embedder `embedder_id`,
    built from the sections it takes; an unknown name is a one-line SettingsError."""
    name = settings.vector_store
    _entry(name)
    return BACKENDS.build(name, settings, embedder_id)


def backend_from(index: IndexSettings, chroma: ChromaSettings, embedder_id: str) -> VectorBackend:
    """The store `index.vector_store` names, built from the index and chroma
    sections alone (an `IndexStore` given no backend): all a store of this
    repository takes. A store that takes another section is a SettingsError
    here; build it with `get_backend`, from the whole settings."""
    name = index.vector_store
    entry = _entry(name)
    given = {"index": index, "chroma": chroma}
    missing = [s for s in entry.sections if s not in given]
    if missing:
        raise SettingsError(
            f"vector store {name!r} (ASSISTANT_VECTOR_STORE) takes the {', '.join(missing)} settings section: "
            "build it with stores.backends.get_backend(settings, embedder_id) and give it to the IndexStore"
        )
    return entry.factory(*(given[s] for s in entry.sections), embedder_id)


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
