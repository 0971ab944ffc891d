"""The vector stores, by name (`ASSISTANT_VECTOR_STORE`). A new one is a
module with a `VectorBackend` (see `base.py`) whose collections are
`VectorIndex`es, plus one line in `BACKENDS`."""

from __future__ import annotations

from pathlib import Path

from assistant.errors import SettingsError
from assistant.settings import Settings
from assistant.stores.base import VectorBackend
from assistant.stores.chroma import ChromaBackend
from assistant.stores.locks import building_here

BACKENDS: dict[str, type] = {
    "chroma": ChromaBackend,
}


def get_backend(settings: Settings, embedder_id: str) -> VectorBackend:
    name = settings.vector_store
    if name not in BACKENDS:
        raise SettingsError(f"ASSISTANT_VECTOR_STORE={name!r} is not valid: must be one of {', '.join(BACKENDS)}")
    return BACKENDS[name](settings, embedder_id)


def forget_local(index_dir: Path, force: bool = False) -> None:
    """Every store's handles on the files of `index_dir` dropped; not while
    this process builds it (its handles are current then, see
    `locks.building_here`) unless `force` (the build deletes the files)."""
    if not force and building_here(index_dir):
        return
    for backend in BACKENDS.values():
        backend.forget_local(index_dir)


def local_dirs() -> list[str]:
    return [b.local_dir for b in BACKENDS.values() if b.local_dir]
