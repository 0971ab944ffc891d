"""Chroma, the vector store: the connection (a PersistentClient in
`index_dir/chroma`, or an HttpClient for a Chroma server), the collections
`chunks-<embedder>` and `units-<embedder>` as `VectorIndex`es, and the
server's build token. The only module that imports chromadb or reads its
error messages: its errors leave here as `IndexStoreError` or, in server mode
(a server error is never taken for a corrupt store: that would wipe the
server), `IndexConfigError`."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from assistant.errors import AssistantError, IndexConfigError, IndexStoreError
from assistant.settings import ChromaSettings, IndexSettings
from assistant.stores.base import Records

log = logging.getLogger(__name__)

BUILD_KEY = "assistant_build"  # collection metadata key of the build token
WRITER_KEY = "assistant_writer"  # ... and of the host and corpus folder that last wrote it
KINDS = ("chunks", "units")


def fatal(e: BaseException) -> bool:
    return isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError))


@contextmanager
def store_errors(where: str, remote: bool) -> Iterator[None]:
    """Vendor errors of a store call as one of ours, with one line of message.

    chromadb raises its own types, httpx's, ValueError, and for a damaged
    sqlite file a pyo3 `PanicException`, which derives from BaseException, so
    `except Exception` lets it through as a traceback."""
    try:
        yield
    except AssistantError:
        raise
    except BaseException as e:
        if fatal(e):
            raise
        first = (str(e).strip().splitlines() or [""])[0][:300]
        # A server error is never taken for a corrupt store: that would wipe the server.
        cls = IndexConfigError if remote else IndexStoreError
        raise cls(f"{where} failed: {type(e).__name__}: {first}") from e


def corpus_namespace(corpus: Path) -> str:
    """The default namespace of a corpus on a Chroma server: its folder's absolute path."""
    return "c" + hashlib.sha1(str(Path(corpus).resolve()).encode()).hexdigest()[:10]


def writer_id(index: IndexSettings) -> str:
    """Who writes an index to a server: this host and the corpus folder
    (`index`: the index section)."""
    return f"{socket.gethostname()}:{Path(index.corpus).resolve()}"


READ_ONLY_COPY_LIMIT = 1 << 30  # bytes of a read-only store copied to a temporary folder to be read
_read_only_copies: dict[Path, Path] = {}
# Held while an embedded client is made and while one is dropped: chromadb
# keeps a class-level dict of systems per path and fills it without a lock,
# so two threads opening one store at once could get a half-started system
# ("'RustBindingsAPI' object has no attribute 'bindings'").
_LOCAL = threading.RLock()


def _local_path(index_dir: Path) -> Path:
    """Where to open the embedded store of `index_dir`. Chroma writes to its
    sqlite file even to read it, so a store in a read-only folder (a
    read-only mount, another user's files) is read from a temporary copy."""
    path = Path(index_dir) / "chroma"
    if not path.is_dir() or os.access(path, os.W_OK):
        return path
    if path not in _read_only_copies:
        import atexit
        import tempfile

        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        if size > READ_ONLY_COPY_LIMIT:
            raise IndexStoreError(
                f"Index folder {index_dir} is read-only and its Chroma store ({size >> 20:,} MB) too big to "
                "read from a copy: make it writable, or build the index in another --index-dir"
            )
        tmp = Path(tempfile.mkdtemp(prefix="assistant-read-only-"))
        atexit.register(shutil.rmtree, tmp, True)
        shutil.copytree(path, tmp / "chroma")
        log.info("index folder %s is read-only; reading its store from a copy in %s", index_dir, tmp)
        _read_only_copies[path] = tmp / "chroma"
    return _read_only_copies[path]


def chroma_client(chroma: ChromaSettings, index_dir: Path):
    """A PersistentClient in index_dir/chroma, or an HttpClient for `chroma_url`."""
    import chromadb
    from chromadb.config import Settings as ChromaConfig

    config = ChromaConfig(anonymized_telemetry=False)
    if not chroma.chroma_url:
        with _LOCAL:  # chromadb makes its one system per path without a lock
            return chromadb.PersistentClient(path=str(_local_path(index_dir)), settings=config)
    from urllib.parse import urlsplit

    url = chroma.chroma_url
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IndexConfigError(f"ASSISTANT_CHROMA_URL must look like http://host:port, not {url!r}")
    ssl = parts.scheme == "https"
    headers = {"Authorization": f"Bearer {chroma.chroma_token}"} if chroma.chroma_token else None
    if parts.path.strip("/"):
        config.chroma_server_api_default_path = parts.path.rstrip("/")
    where = f"Chroma server {url} (tenant {chroma.chroma_tenant}, database {chroma.chroma_database})"
    server = {"chroma_server_host": parts.hostname, "chroma_server_http_port": parts.port or (443 if ssl else 8000)}
    server |= {"chroma_server_ssl_enabled": ssl, "chroma_server_headers": headers}

    def connect():
        return chromadb.HttpClient(
            host=parts.hostname, port=server["chroma_server_http_port"], ssl=ssl, headers=headers,
            settings=config, tenant=chroma.chroma_tenant, database=chroma.chroma_database,
        )  # fmt: skip

    import httpx

    try:
        # chromadb's HTTP session has no timeout at all, and its constructor
        # already makes requests: a bounded heartbeat first, so that a hung or
        # absent server is a prompt error, and every later request is bounded.
        base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        httpx.get(f"{base}/api/v2/heartbeat", headers=headers, timeout=chroma.chroma_timeout).raise_for_status()
        try:
            client = connect()
        except Exception as e:
            if "not found" not in str(e).lower() or "database" not in str(e).lower():
                raise
            # A new database is created on first use, as a new index folder is.
            admin = chromadb.AdminClient(
                ChromaConfig(chroma_api_impl="chromadb.api.fastapi.FastAPI", anonymized_telemetry=False, **server)
            )
            admin.create_database(chroma.chroma_database, tenant=chroma.chroma_tenant)
            client = connect()
    except Exception as e:  # chromadb raises ValueError, httpx and its own errors
        raise IndexConfigError(f"{where} cannot be reached: {e}") from e
    session = getattr(getattr(client, "_server", None), "_session", None)
    if session is not None:
        session.timeout = httpx.Timeout(chroma.chroma_timeout)
    return client


def forget_local(index_dir: Path) -> None:
    """Drop this process's handles on the embedded store in `index_dir`, so
    that the next client reads it from disk (after another process changed it).

    chromadb keeps one system per path for the life of the process; after the
    files are deleted, a new client on the same path would reuse it and fail
    with "attempt to write a readonly database"."""
    path = Path(index_dir) / "chroma"
    try:
        from chromadb.api.shared_system_client import SharedSystemClient
    except ImportError:
        return
    with _LOCAL:
        system = SharedSystemClient._identifier_to_system.pop(str(path), None)
        SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    if system is not None:
        try:
            system.stop()
        except BaseException as e:  # a broken store may fail to stop (even panic); it is being dropped
            if fatal(e):
                raise


class ChromaIndex:
    """A Chroma collection as a `VectorIndex`; every call's vendor errors are ours."""

    def __init__(self, collection, where: str, remote: bool, embedder_id: str):
        self.collection = collection  # the raw handle, for tests and llama-index readers
        self.name: str = collection.name
        self.where, self.remote, self.embedder_id = where, remote, embedder_id

    def _errors(self):
        return store_errors(self.where, self.remote)

    # A Chroma server just resumed (after a pause or a restart) can answer a
    # read with a 500 "Internal error ... Nothing found on disk" while it
    # loads its segments: seen once in seven CI runs of the lost-server test.
    # Reads are idempotent, so they are tried again a little later.
    READ_RETRIES = (0.5, 1.0, 2.0, 4.0, 8.0)

    def _read(self, call):
        for pause in (*self.READ_RETRIES, None):
            try:
                with self._errors():
                    return call()
            except IndexConfigError as e:
                if pause is None or not self.remote or "InternalError" not in str(e):
                    raise
                log.warning("%s; trying again in %.1f s", e, pause)
                time.sleep(pause)

    def add(self, ids: list[str], vectors: Sequence, metadatas: list[dict], documents: list[str] | None = None) -> None:
        try:
            with self._errors():
                self.collection.add(ids=ids, embeddings=vectors, metadatas=metadatas, documents=documents)
        except IndexStoreError as e:
            if "dimension" in str(e) and len(vectors):
                self.check_dim(len(vectors[0]))  # says which collection and why
            raise

    def delete(self, ids: list[str] | None = None, where: dict | None = None) -> None:
        with self._errors():
            self.collection.delete(ids=ids, where=where)

    def query(self, vector: Sequence[float], n: int, include: Sequence[str], where: dict | None = None) -> Records:
        vec = vector.tolist() if hasattr(vector, "tolist") else list(vector)
        res = self._read(
            lambda: self.collection.query(query_embeddings=[vec], n_results=n, include=list(include), where=where)
        )
        return {k: res[k][0] for k in ("ids", *include)}

    def get(
        self,
        ids: list[str] | None = None,
        where: dict | None = None,
        include: Sequence[str] = ("metadatas",),
        limit: int | None = None,
        offset: int | None = None,
    ) -> Records:
        got = self._read(
            lambda: self.collection.get(ids=ids, where=where, include=list(include), limit=limit, offset=offset)
        )
        return {k: got[k] if got[k] is not None else [] for k in ("ids", *include)}

    def count(self) -> int:
        return self._read(self.collection.count)

    def check_dim(self, dim: int) -> None:
        """IndexConfigError if the stored vectors are not of size `dim`."""
        got = self.get(limit=1, include=["embeddings"])["embeddings"]
        if len(got) and len(got[0]) != dim:
            raise IndexConfigError(
                f"Collection {self.name} in {self.where} holds {len(got[0])}-dimensional vectors, but the "
                f"embedder {self.embedder_id} makes {dim}-dimensional ones: choose another "
                "ASSISTANT_CHROMA_PREFIX (or database), or rebuild with `assistant index --rebuild`."
            )


class ChromaBackend:
    """The connection and the two collections of one index; opening it never
    builds anything. Built from the chroma and index sections of the settings
    (stores/backends.py), and the embedder's id."""

    sections = ("chroma", "index")
    local_dir = "chroma"  # index_dir/chroma: the embedded store (absent in server mode)
    forget_local = staticmethod(forget_local)

    def __init__(self, chroma: ChromaSettings, index: IndexSettings, embedder_id: str):
        self.chroma, self.index = chroma, index
        self.embedder_id = embedder_id
        self.remote = bool(chroma.chroma_url)
        self._client = None
        self._namespace: str | None = None
        self.indexes: dict[str, ChromaIndex] = {}

    @property
    def where(self) -> str:
        s = self.chroma
        if self.remote:
            return f"Chroma server {s.chroma_url} (tenant {s.chroma_tenant}, database {s.chroma_database})"
        return f"Chroma store in {Path(self.index.index_dir) / 'chroma'}"

    def errors(self):
        return store_errors(self.where, self.remote)

    def collection_name(self, kind: str) -> str:
        base = f"{self.chroma.chroma_prefix}{kind}-{self.embedder_id}"
        return f"{base}-{self.namespace}" if self.remote else base

    @property
    def namespace(self) -> str | None:
        """Server mode: which corpus's collections this store uses. Set
        (`chroma_namespace`), or the corpus folder's own, or, for a client
        without the corpus folder, the one index of this prefix and embedder
        the server holds."""
        if not self.remote:
            return None  # an embedded store belongs to its index folder alone
        if self._namespace is None:
            if self.chroma.chroma_namespace:
                self._namespace = self.chroma.chroma_namespace
            elif Path(self.index.corpus).is_dir():
                self._namespace = corpus_namespace(Path(self.index.corpus))
            else:
                self._namespace = self._discover_namespace()
        return self._namespace

    def _discover_namespace(self) -> str:
        client = self._client or self._connect()
        head = f"{self.chroma.chroma_prefix}chunks-{self.embedder_id}-"
        with store_errors(self.where, True):
            found = {c.name[len(head) :]: c for c in client.list_collections() if c.name.startswith(head)}
        if not found:
            raise IndexStoreError(
                f"{self.where} holds no index yet, and corpus folder {self.index.corpus} is not here"
            )
        if len(found) > 1:
            names = "; ".join(
                f"{ns} ({(c.metadata or {}).get(WRITER_KEY, 'unknown corpus')})" for ns, c in sorted(found.items())
            )
            raise IndexConfigError(
                f"{self.where} holds the indexes of {len(found)} corpora and corpus folder {self.index.corpus} "
                f"is not here to say which: set ASSISTANT_CHROMA_NAMESPACE to one of {names}"
            )
        return next(iter(found))

    def _connect(self):
        return chroma_client(self.chroma, Path(self.index.index_dir))

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def open(self) -> None:
        """Connect and get (or create) both collections; call inside `errors()`."""
        self._client = self._connect()
        for kind in KINDS:
            # embedding_function=None: Chroma must never fall back to its
            # default model, which it would download.
            col = self._client.get_or_create_collection(
                self.collection_name(kind), embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
            self.indexes[kind] = ChromaIndex(col, self.where, self.remote, self.embedder_id)

    def max_batch_size(self) -> int:
        with self.errors():
            return self._client.get_max_batch_size()

    def server_meta(self) -> dict:
        with store_errors(self.where, True):
            return self._client.get_collection(self.collection_name("chunks")).metadata or {}

    def server_build(self) -> str | None:
        return self.server_meta().get(BUILD_KEY)

    def server_writer(self) -> str | None:
        return self.server_meta().get(WRITER_KEY)

    def set_server_build(self, token: str) -> None:
        with self.errors():
            self.indexes["chunks"].collection.modify(metadata={BUILD_KEY: token, WRITER_KEY: writer_id(self.index)})

    def drop_collections(self) -> None:
        """Delete this index's collections on the Chroma server (server mode)."""
        client = self._connect()
        with store_errors(self.where, True):
            present = {c.name for c in client.list_collections()}
            for kind in KINDS:
                if self.collection_name(kind) in present:
                    client.delete_collection(self.collection_name(kind))
        self.close()

    def close(self) -> None:
        self._client = None
        self.indexes = {}
