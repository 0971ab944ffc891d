"""The start of a build: open the store, decide whether to rebuild, and take
the manifest the build continues from (the local one, or in server mode the
one the server's contents imply). In server mode without a corpus at hand,
`refresh` takes that manifest alone, and the BM25 index with it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from assistant.embedders.base import Embedder
from assistant.errors import ForeignFilesError, IndexConfigError, IndexStoreError
from assistant.settings import ChromaSettings, IndexSettings, Settings
from assistant.stores.backends import get_backend
from assistant.stores.base import VectorBackend
from assistant.stores.chroma import writer_id
from assistant.stores.index import IndexStore, manifest_from_store, wipe
from assistant.stores.locks import build_lock, readers
from assistant.stores.manifest import MARKER, keep_times, signature
from assistant.stores.report import SyncReport

log = logging.getLogger(__name__)


def open_for_build(
    index: IndexSettings,
    chroma: ChromaSettings,
    embedder: Embedder,
    report: SyncReport,
    files: list[Path],
    rebuild: bool,
    rebuilding: ExitStack,
    new_backend: Callable[[], VectorBackend] | None = None,
) -> tuple[IndexStore, dict, bool]:
    """(store, manifest, resuming) for a build, which holds the build lock; a
    wipe holds the readers out until `rebuilding` closes. `resuming`: the
    store may hold leftovers of an interrupted build (or of another client).
    `new_backend` makes each store's vector store (unset: `IndexStore`'s own)."""
    corpus, index_dir, sig = Path(index.corpus), Path(index.index_dir), signature(index, chroma, embedder.id)
    readers_out = False

    def fresh_store() -> IndexStore:
        s = IndexStore(index, chroma, embedder.id, embedder.dim, new_backend() if new_backend else None)
        s.building = True
        return s

    def wipe_all(store: IndexStore | None = None) -> None:
        nonlocal readers_out
        if not chroma.chroma_url and not readers_out:
            rebuilding.enter_context(readers(index_dir, exclusive=True))
            readers_out = True
        wipe(index_dir, store)

    store = fresh_store()
    try:
        manifest = store.read_manifest()
    except IndexStoreError as e:
        log.warning("%s; rebuilding", e)
        manifest, rebuild = None, True
    if manifest is not None and manifest.get("signature") != sig:
        log.info("index was built with other settings; rebuilding")
        rebuild = True
    if rebuild:
        wipe_all(store)
        manifest = None
        report.rebuilt = True
    try:
        store._open()
        if not store.remote and manifest is not None and manifest.get("complete") and not store.counts_match(manifest):
            raise IndexStoreError(f"{store.where} does not hold what its manifest lists (emptied or replaced)")
    except IndexConfigError:
        raise
    except IndexStoreError as e:
        log.warning("%s; rebuilding", e)
        store.close()
        wipe_all()
        manifest, report.rebuilt = None, True
        store = fresh_store()
        store._open()
    if store.remote and (
        manifest is None
        or manifest.get("server_build") != store.server_build()
        or (manifest.get("complete") and not store.counts_match(manifest))
    ):
        # The server is not as this cache last left it (another client
        # wrote to it, or this is a new cache): start from its contents.
        manifest = keep_times(manifest_from_store(store, sig), manifest)
        report.refreshed = True
        writer = store.server_writer()
        listed = {p.relative_to(corpus).as_posix() for p in files}
        foreign = sorted(set(manifest.pop("stored")) - listed)
        if writer and writer != writer_id(index) and foreign and not rebuild:
            raise ForeignFilesError(
                f"{store.where}: collection {store.collection_name('chunks')} was last written from {writer}, "
                f"and holds {len(foreign)} file(s) that corpus folder {corpus} does not have "
                f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); indexing would delete them. "
                "Give this corpus its own ASSISTANT_CHROMA_NAMESPACE (or ASSISTANT_CHROMA_PREFIX), or run "
                "`assistant index --rebuild` to replace them with this folder's files."
            )
    # Leftovers of an interrupted build (or of another client) may be in
    # the store only when the manifest is not a finished one.
    with store.guard():
        resuming = (manifest is None or not manifest.get("complete")) and store.chunks.count() > 0
    if manifest is None:
        manifest = {"marker": MARKER, "signature": sig, "files": {}}
    manifest.setdefault("partial", {})  # large files stored in part (see `ingest.records.Part`)
    manifest["complete"] = False
    manifest.setdefault("skipped", {})  # read by the builder: a file skipped before is not read again
    store.write_manifest(manifest)
    return store, manifest, resuming


def refresh(settings: Settings, embedder: Embedder) -> SyncReport:
    """Server mode, without a corpus at hand: bring the local cache (manifest
    and BM25) in line with what the Chroma server holds."""
    t0 = time.perf_counter()
    report = SyncReport(refreshed=True)
    index, chroma = settings.index, settings.chroma
    with build_lock(Path(index.index_dir)):
        store = IndexStore(index, chroma, embedder.id, embedder.dim, get_backend(settings, embedder.id))
        token = store.server_build()
        try:
            previous = store.read_manifest()
        except IndexStoreError:
            previous = None
        manifest = keep_times(manifest_from_store(store, signature(index, chroma, embedder.id)), previous)
        manifest.pop("stored")
        if not manifest["files"]:
            raise IndexStoreError(f"{store.where} holds no index yet, and corpus folder {index.corpus} is not here")
        t = time.perf_counter()
        store.write_bm25()
        report.bm25_seconds = time.perf_counter() - t
        manifest |= {"complete": True, "server_build": token, "skipped": {}}
        store.write_manifest(manifest)
        report.unchanged = sorted(manifest["files"])
        report.chunks = sum(f["chunks"] for f in manifest["files"].values())
        report.units = sum(f["units"] for f in manifest["files"].values())
        store.close()
    report.seconds = time.perf_counter() - t0
    return report
