"""The index: the vector store (Chroma), the BM25 index, the manifest and the builder.

base.py      VectorIndex, the interface of a vector collection
chroma.py    Chroma: connection, collections, its errors wrapped (the only chromadb import)
bm25.py      the BM25 index over the chunks
manifest.py  manifest read/write, the settings signature, `manifest_from_store`
locks.py     one builder at a time; readers kept out of a rebuild
index.py     IndexStore, the handle on a built index; `wipe`
texts.py     the extracted texts the index keeps, which citations index
opening.py   a build's start (the store opened, the manifest taken); `refresh` of a server's cache
builder.py   IndexBuilder and `sync`: embeds and stores what `ingest.reading` reads, chunks and records
writer.py    the builder's writer thread
progress.py  a build's progress (files, segments, words/s, time left) as `types.IndexProgress` events
"""

from assistant.stores.backends import forget_local
from assistant.stores.base import VectorIndex
from assistant.stores.builder import IndexBuilder, sync
from assistant.stores.chroma import store_errors
from assistant.stores.index import IndexStore, manifest_from_store, read_all, wipe
from assistant.stores.locks import ensure_dir
from assistant.stores.manifest import signature
from assistant.stores.opening import refresh
from assistant.stores.report import SyncReport

__all__ = [
    "IndexBuilder", "IndexStore", "SyncReport", "VectorIndex", "ensure_dir", "forget_local", "manifest_from_store",
    "read_all", "refresh", "signature", "store_errors", "sync", "wipe",
]  # fmt: skip
