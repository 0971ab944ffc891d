"""Loaded indexes: one `Engine` (store, embedder, retriever) per index
configuration, cached, loaded again when another process rebuilt the index.

Building or repairing the index is its own step (`ensure_index`), taken by
`get_engine` before it opens one: the index is built on first use.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from assistant.errors import AssistantError, CorpusError, IndexConfigError, IndexStoreError
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.stores import IndexStore

log = logging.getLogger(__name__)

T = TypeVar("T")

def engine_key(settings: Settings) -> str:
    """The engine cache's key: the sections that choose the index, its store
    and the embedding model. Everything else (retrieval, answering, the LLM,
    the chat page) is read per call, so changing it loads nothing again.
    With any sections the embedder or the store is built from too (the
    OpenAI embedder: the LLM section's key and URL); an unknown embedder or
    store is a one-line SettingsError here."""
    from assistant.embedders.registry import EMBEDDERS
    from assistant.stores.backends import BACKENDS

    sections = ["index", "chroma", "embed"]
    for registry, name in ((EMBEDDERS, settings.embed_backend), (BACKENDS, settings.vector_store)):
        sections += [s for s in registry.entry(name).sections if s not in sections]
    return settings.key(*sections)


def _sync(settings: Settings, store: IndexStore, embedder, rebuild: bool = False, refresh_only: bool = False) -> None:
    from assistant.errors import ForeignFilesError
    from assistant.stores import refresh, sync

    # `store`'s handles, if a check opened it, point at what the build may
    # replace: let go of them, so the engine opens the index built (it took
    # them for another process's rebuild, and rebuilt a second time).
    store.close()

    if not refresh_only:
        log.info("building the index in %s from %s", settings.index_dir, settings.corpus)
        try:
            report = sync(settings, embedder, rebuild=rebuild)
            log.info("index: %s", report.summary())
            return
        except ForeignFilesError as e:
            # Nothing is deleted to answer a question: answer from what the server holds.
            log.warning("%s", e)
    log.info("refreshing the index cache in %s from %s", settings.index_dir, store.where)
    log.info("index: %s", refresh(settings, embedder).summary())


def _whole(store: IndexStore) -> bool:
    """The store holds what the manifest lists (an emptied store opens fine and holds nothing)."""
    try:
        return store.counts_match(store.read_manifest() or {})
    except IndexConfigError:
        raise
    except IndexStoreError as e:
        log.warning("%s", e)
        return False


def _corpus_unchanged(settings: Settings, store: IndexStore) -> bool:
    """Cheap check (sizes and mtimes) that the corpus matches the manifest."""
    from assistant.ingest.files import list_files

    try:
        manifest = store.read_manifest() or {}
        files = list_files(Path(settings.corpus), settings.file_types)
    except Exception:
        return False
    known = manifest.get("files", {})
    corpus = Path(settings.corpus)
    stats = {}
    for p in files:
        st = p.stat()
        stats[p.relative_to(corpus).as_posix()] = (st.st_size, st.st_mtime_ns)
    skipped = set(manifest.get("skipped", {}))
    if set(stats) - skipped != set(known):
        return False
    return all((known[s].get("size"), known[s].get("mtime_ns")) == stats[s] for s in known) and all(
        manifest["skipped"][s][:2] == list(stats[s]) for s in skipped if s in stats  # [size, mtime_ns, reason]
    )


def _writable(settings: Settings) -> bool:
    # A read-only index (a read-only mount, another user's folder) is
    # answered from as it is; it is not rebuilt, which would fail.
    index_dir = Path(settings.index_dir)
    return not index_dir.exists() or os.access(index_dir, os.W_OK)


def unbuildable(settings: Settings, status: str) -> AssistantError | None:
    """Why an index in `status` cannot be made ready here, or None. With no
    corpus folder (and no Chroma server to read from), a missing index is a
    corpus error (exit 3), but one that exists and is damaged, unfinished or
    built with other settings is an index error (exit 4): it is the index
    that cannot be used, as the README's exit codes say."""
    if status == "ready" or settings.chroma_url or Path(settings.corpus).is_dir():
        return None
    if status == "missing":
        return CorpusError(f"Corpus folder not found: {settings.corpus}")
    said = {"stale": "built with other settings", "incomplete": "unfinished"}.get(status, status)
    return IndexStoreError(
        f"the index in {settings.index_dir} is {said} and cannot be rebuilt: corpus folder not found: {settings.corpus}"
    )


def ensure_index(settings: Settings, store: IndexStore, embedder) -> None:
    """Build the index if it is missing, incomplete or damaged, and update it
    if the corpus changed since (when its folder can be written)."""
    status = store.status()
    if status == "ready" and not store.remote and not _whole(store):
        status = "damaged"
    has_corpus = Path(settings.corpus).is_dir()
    if status != "ready" and store.remote and not has_corpus:
        # Server mode with no corpus here: answer from what the server holds.
        _sync(settings, store, embedder, refresh_only=True)
    elif status != "ready":
        error = unbuildable(settings, status)
        if error is not None:
            raise error
        _sync(settings, store, embedder)
    elif not has_corpus:
        log.warning("corpus folder %s not found; answering from the existing index", settings.corpus)
    elif not _corpus_unchanged(settings, store):
        if _writable(settings):
            _sync(settings, store, embedder)
        else:
            log.warning("index folder %s is read-only; answering from it as it is", settings.index_dir)


def _close_store(store: IndexStore) -> None:
    from assistant.stores import forget_local

    store.close()
    if not store.remote:
        forget_local(store.dir)


class Engine:
    """A loaded index (store, embedder, retriever) for one configuration.

    It follows builds made by other processes: `changed()` notices a finished
    build (a new manifest, or a new build token on a Chroma server), and
    `get_engine` then loads the index again. Until then, and while another
    process is building, it answers from what it loaded. Built from the
    store and the embedder alone: it reads no settings."""

    SERVER_CHECK_EVERY = 2.0  # seconds between build-token checks on a Chroma server

    def __init__(self, store: IndexStore, embedder):
        """Opens the index `ensure_index` made ready; IndexStoreError if it cannot."""
        from assistant.retrieval.hybrid import Retriever

        self.embedder = embedder
        self.store = store
        self.stamp = self._stamp()
        self.build = self.store.server_build() if self.store.remote else None
        self.checked = time.monotonic()
        self.retriever = Retriever(self.store, self.embedder)
        _ = self.store.chunks  # opens Chroma; a broken store fails here

    def _stamp(self):
        try:
            st = os.stat(self.store.manifest_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def changed(self) -> bool:
        """Whether another process finished a build of this index since it was loaded."""
        if self.store.remote and time.monotonic() - self.checked >= self.SERVER_CHECK_EVERY:
            self.checked = time.monotonic()
            try:
                if self.store.server_build() != self.build:
                    return True
            except IndexStoreError:
                return False  # the server is away: keep answering from the cache; the query will say
        if self._stamp() == self.stamp:
            return False
        try:
            manifest = self.store.read_manifest()
        except IndexStoreError:
            return True
        # A build under way (incomplete manifest, or none while a rebuild starts):
        # keep answering from what is loaded until it is finished.
        return bool(manifest and manifest.get("complete"))

    def close(self) -> None:
        """Let go of the store, so that the next engine reads it from disk."""
        _close_store(self.store)


def _store(settings: Settings, embedder) -> IndexStore:
    """The index store of these settings: its sections, and the vector store
    they name, built from the sections that store takes."""
    from assistant.stores import IndexStore
    from assistant.stores.backends import get_backend

    return IndexStore(settings.index, settings.chroma, embedder.id, embedder.dim, get_backend(settings, embedder.id))


def load_engine(settings: Settings) -> Engine:
    """The index for these settings, built or repaired first if need be, opened."""
    from assistant.embedders import get_embedder

    embedder = get_embedder(settings)
    store = _store(settings, embedder)
    writable = _writable(settings)  # before a first build makes the folder
    ensure_index(settings, store, embedder)
    try:
        return Engine(store, embedder)
    except IndexConfigError:
        raise  # unreachable server, wrong dimension: a rebuild would not help
    except IndexStoreError as e:
        if not writable:
            raise
        log.warning("%s; rebuilding the index", e)
        _close_store(store)
        _sync(settings, store, embedder, rebuild=True)
        return Engine(store, embedder)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(settings: Settings, failed: Engine | None = None) -> Engine:
    """The loaded engine for these settings; loaded again when another process
    finished a build since, or when `failed` (the engine a question just
    failed on) is still the current one."""
    key = engine_key(settings)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is not None and (engine is failed or engine.changed()):
            log.info("the index in %s changed; loading it again", settings.index_dir)
            del _engines[key]
            engine.close()
            engine = None
        if engine is None:
            engine = _engines[key] = load_engine(settings)
        return engine


def refresh_engine(settings: Settings) -> None:
    """After a build made in this process: the loaded engine of these
    settings, if there is one, opened again on the index just built. Done
    at once, not at the next question, because the next build (another
    upload) may have started by then, and an engine keeps answering from
    what it loaded while a build is under way. Opened as it is: the build
    just made it whole, and `ensure_index` would wait for that next build."""
    from assistant.embedders import get_embedder

    key = engine_key(settings)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None or engine._stamp() == engine.stamp:
            return
        del _engines[key]
        # Only the store's handles: the build ran in this process on the same
        # chromadb system, which is current (dropping it would break another
        # thread's query or the next build under way).
        engine.store.close()
        try:
            embedder = get_embedder(settings)
            _engines[key] = Engine(_store(settings, embedder), embedder)
        except AssistantError as e:  # the next question loads it the usual way, and says what is wrong
            log.warning("%s", e)


# Attempts of one step on a store that another process keeps changing: the
# engine reloaded after a failure may itself be closed by another thread, or
# meet the next rebuild starting (two rebuilds in a row with two questions
# under way failed a second attempt on a loaded CI machine).
STORE_ATTEMPTS = 3


def retrying(settings: Settings, engine: Engine, step: Callable[[Engine], T]) -> tuple[Engine, T]:
    """(engine, step(engine)); when the store fails under it (another process
    rebuilt or changed the index), again on the index loaded again, up to
    STORE_ATTEMPTS times in all."""
    for attempt in range(1, STORE_ATTEMPTS + 1):
        try:
            return engine, step(engine)
        except IndexConfigError:
            raise
        except IndexStoreError as e:
            if attempt == STORE_ATTEMPTS:
                raise
            log.warning("%s; loading the index again", e)
            engine = get_engine(settings, failed=engine)
    raise AssertionError("unreachable")


def reset_engines() -> None:
    """Forget loaded indexes (after rebuilding one from another process)."""
    with _engines_lock:
        _engines.clear()
