"""The index store: Chroma collections (chunks and sentence units), a BM25
index and a manifest, kept in step with the corpus folder.

Layout of `index_dir`:
  chroma/         Chroma PersistentClient: collections `chunks-<embedder>` (written
                  through llama-index's ChromaVectorStore) and `units-<embedder>`
                  (written straight to Chroma, see `_records`); absent in server
                  mode: the collections live on the Chroma server named by `chroma_url`
  bm25/           bm25s index over the chunks (rebuilt whenever chunks change)
  manifest.json   per-file content hash and counts, settings signature, and
                  `complete`, which is true only after a build finished

`sync()` is idempotent: unchanged files (same sha256) are skipped, changed
files have their chunks replaced, deleted files have them removed. Files are
committed to the manifest only after their chunks are stored, so an
interrupted build resumes where it stopped and is never taken as complete.
A writer thread stores each group of files while the next is embedded; in a
build of more than one group the model runs in a child process of its own
(`embed.EmbedWorker`), because Chroma's adds hold this process's GIL. A large
file is read and embedded in segments (`ingest.Segments`, `_Part`), and the
manifest's `partial` entry records how many of its segments are stored, so a
build stopped inside it continues it there.

Server mode: the server is the truth and `index_dir` a cache of it. Every
build stamps the chunks collection with a build token ("building:<id>" while
it runs, "<id>" when done) and the manifest records the token it matches. A
token that differs means another client changed the server: the manifest is
then derived again from the chunks' metadata (each carries its file's sha256
and chunk count, and a segment's chunks which segments they stand for) and the
BM25 index rebuilt from the server's documents.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError, CorpusError, ForeignFilesError, IndexConfigError, IndexStoreError
from assistant.ingest import files as ingest
from assistant.ingest.files import Segments, file_digest, open_file, read_doc, scan_corpus
from assistant.settings import Settings

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 7
MARKER = "assistant-index"
BUILD_KEY = "assistant_build"  # collection metadata key of the build token
WRITER_KEY = "assistant_writer"  # ... and of the host and corpus folder that last wrote it
PAGE = 5000  # records per request when reading a whole collection


def doc_key(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()[:12]


def unit_id(source: str, index: int) -> str:
    return f"{doc_key(source)}:u{index}"


def _fatal(e: BaseException) -> bool:
    return isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError))


@contextmanager
def store_errors(where: str, remote: bool):
    """Vendor errors of a store call as one of ours, with one line of message.

    chromadb raises its own types, httpx's, ValueError, and for a damaged
    sqlite file a pyo3 `PanicException`, which derives from BaseException, so
    `except Exception` lets it through as a traceback."""
    try:
        yield
    except AssistantError:
        raise
    except BaseException as e:
        if _fatal(e):
            raise
        first = (str(e).strip().splitlines() or [""])[0][:300]
        # A server error is never taken for a corrupt store: that would wipe the server.
        cls = IndexConfigError if remote else IndexStoreError
        raise cls(f"{where} failed: {type(e).__name__}: {first}") from e


def corpus_namespace(corpus: Path) -> str:
    """The default namespace of a corpus on a Chroma server: its folder's absolute path."""
    return "c" + hashlib.sha1(str(Path(corpus).resolve()).encode()).hexdigest()[:10]


def writer_id(settings: Settings) -> str:
    return f"{socket.gethostname()}:{Path(settings.corpus).resolve()}"


def signature(settings: Settings, embedder_id: str) -> dict:
    """What the stored vectors and chunks depend on; a change means a rebuild."""
    return {
        "format": FORMAT,
        "embedder": embedder_id,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "unit_max_tokens": settings.unit_max_tokens,
        "corpus": str(Path(settings.corpus).resolve()),
        # Where the vectors are: another server or database is another index.
        "chroma": [
            settings.chroma_url,
            settings.chroma_tenant,
            settings.chroma_database,
            settings.chroma_prefix,
            settings.chroma_namespace,
        ]  # fmt: skip
        if settings.chroma_url
        else None,
    }


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    chunks: int = 0
    units: int = 0
    tokens: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0  # model time (in the child process when `embed_process`)
    embed_process: bool = False  # the model ran in a child process of its own (see EmbedWorker)
    store_seconds: float = 0.0  # Chroma writes and manifest commits (overlaps embedding)
    bm25_seconds: float = 0.0
    rebuilt: bool = False
    refreshed: bool = False  # the manifest was derived again from the Chroma server

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.warnings)} skipped; "
            f"{self.chunks} chunks in the index ({self.seconds:.1f} s)"
        )


READ_ONLY_COPY_LIMIT = 1 << 30  # bytes of a read-only store copied to a temporary folder to be read
_read_only_copies: dict[Path, Path] = {}


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


def _chroma_client(settings: Settings):
    """A PersistentClient in index_dir/chroma, or an HttpClient for `chroma_url`."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if not settings.chroma_url:
        return chromadb.PersistentClient(path=str(_local_path(settings.index_dir)), settings=chroma_settings)
    from urllib.parse import urlsplit

    url = settings.chroma_url
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IndexConfigError(f"ASSISTANT_CHROMA_URL must look like http://host:port, not {url!r}")
    ssl = parts.scheme == "https"
    headers = {"Authorization": f"Bearer {settings.chroma_token}"} if settings.chroma_token else None
    if parts.path.strip("/"):
        chroma_settings.chroma_server_api_default_path = parts.path.rstrip("/")
    where = f"Chroma server {url} (tenant {settings.chroma_tenant}, database {settings.chroma_database})"
    server = {"chroma_server_host": parts.hostname, "chroma_server_http_port": parts.port or (443 if ssl else 8000)}
    server |= {"chroma_server_ssl_enabled": ssl, "chroma_server_headers": headers}

    def connect():
        return chromadb.HttpClient(
            host=parts.hostname, port=server["chroma_server_http_port"], ssl=ssl, headers=headers,
            settings=chroma_settings, tenant=settings.chroma_tenant, database=settings.chroma_database,
        )  # fmt: skip

    import httpx

    try:
        # chromadb's HTTP session has no timeout at all, and its constructor
        # already makes requests: a bounded heartbeat first, so that a hung or
        # absent server is a prompt error, and every later request is bounded.
        base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        httpx.get(f"{base}/api/v2/heartbeat", headers=headers, timeout=settings.chroma_timeout).raise_for_status()
        try:
            client = connect()
        except Exception as e:
            if "not found" not in str(e).lower() or "database" not in str(e).lower():
                raise
            # A new database is created on first use, as a new index folder is.
            admin = chromadb.AdminClient(
                ChromaSettings(chroma_api_impl="chromadb.api.fastapi.FastAPI", anonymized_telemetry=False, **server)
            )
            admin.create_database(settings.chroma_database, tenant=settings.chroma_tenant)
            client = connect()
    except Exception as e:  # chromadb raises ValueError, httpx and its own errors
        raise IndexConfigError(f"{where} cannot be reached: {e}") from e
    session = getattr(getattr(client, "_server", None), "_session", None)
    if session is not None:
        session.timeout = httpx.Timeout(settings.chroma_timeout)
    return client


class IndexStore:
    """Handles on the persisted index; opening it never builds anything."""

    def __init__(self, settings: Settings, embedder_id: str, dim: int | None = None):
        self.settings = settings
        self.dir = Path(settings.index_dir)
        self.embedder_id = embedder_id
        self.dim = dim  # the embedder's vector size, when known, to check the collections against
        self._client = None
        self._chunks = None
        self._units = None
        self._namespace: str | None = None
        self.building = False  # this store belongs to a build, which holds the build lock
        self._generation = None  # of the embedded store when it was opened (see `guard`)

    @property
    def remote(self) -> bool:
        return bool(self.settings.chroma_url)

    @property
    def where(self) -> str:
        s = self.settings
        if self.remote:
            return f"Chroma server {s.chroma_url} (tenant {s.chroma_tenant}, database {s.chroma_database})"
        return f"Chroma store in {self.dir / 'chroma'}"

    def collection_name(self, kind: str) -> str:
        base = f"{self.settings.chroma_prefix}{kind}-{self.embedder_id}"
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
            s = self.settings
            if s.chroma_namespace:
                self._namespace = s.chroma_namespace
            elif Path(s.corpus).is_dir():
                self._namespace = corpus_namespace(Path(s.corpus))
            else:
                self._namespace = self._discover_namespace()
        return self._namespace

    def _discover_namespace(self) -> str:
        client = self._client or _chroma_client(self.settings)
        head = f"{self.settings.chroma_prefix}chunks-{self.embedder_id}-"
        with store_errors(self.where, True):
            found = {c.name[len(head) :]: c for c in client.list_collections() if c.name.startswith(head)}
        if not found:
            raise IndexStoreError(
                f"{self.where} holds no index yet, and corpus folder {self.settings.corpus} is not here"
            )
        if len(found) > 1:
            names = "; ".join(
                f"{ns} ({(c.metadata or {}).get(WRITER_KEY, 'unknown corpus')})" for ns, c in sorted(found.items())
            )
            raise IndexConfigError(
                f"{self.where} holds the indexes of {len(found)} corpora and corpus folder {self.settings.corpus} "
                f"is not here to say which: set ASSISTANT_CHROMA_NAMESPACE to one of {names}"
            )
        return next(iter(found))

    # -- manifest -----------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST

    def read_manifest(self) -> dict | None:
        """The manifest, None if there is none; IndexStoreError if unreadable."""
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise IndexStoreError(f"Index manifest {self.manifest_path} is corrupt: {e}") from e
        if not isinstance(data, dict) or data.get("marker") != MARKER:
            raise IndexStoreError(f"Index manifest {self.manifest_path} is corrupt or foreign")
        return data

    def write_manifest(self, manifest: dict) -> None:
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.manifest_path)  # atomic: readers see old or new

    def status(self) -> str:
        """'missing', 'incomplete', 'stale' (other settings), 'corrupt',
        'outdated' (the Chroma server changed since this cache was built) or
        'ready'. Raises IndexConfigError when the server cannot be reached."""
        try:
            m = self.read_manifest()
        except IndexStoreError:
            return "corrupt"
        if m is None:
            return "missing"
        if m.get("signature") != signature(self.settings, self.embedder_id):
            return "stale"
        if not m.get("complete"):
            return "incomplete"
        if not (self.dir / "bm25").is_dir():
            return "incomplete"
        if self.remote and m.get("server_build") != self.server_build():
            return "outdated"
        return "ready"

    # -- Chroma -------------------------------------------------------------
    @contextmanager
    def guard(self):
        """A context in which vendor errors of this store become ours (see
        `store_errors`), and in which, for a reader of an embedded store, no
        other process is rebuilding it (see `_readers`). A store opened
        before a rebuild is not touched after it: its handles point at
        deleted files, and sqlite would write its journal beside the new
        ones; the question is retried on the index loaded again."""
        with _readers(self.dir, exclusive=False) if not (self.remote or self.building) else nullcontext():
            if self._client is not None and not (self.remote or self.building):
                if self._generation != _generation(self.dir):
                    raise IndexStoreError(f"{self.where} was rebuilt by another process since it was opened")
            with store_errors(self.where, self.remote):
                yield

    def _open(self):
        if self._client is None:
            try:
                with self.guard():
                    if not self.remote:
                        ensure_dir(self.dir)
                        self._generation = _generation(self.dir)
                    self._client = _chroma_client(self.settings)
                    self._chunks = self._collection("chunks")
                    self._units = self._collection("units")
                    self.check_dim()
            except AssistantError:
                self._client = self._chunks = self._units = None
                raise
        return self._client

    def _collection(self, kind: str):
        # embedding_function=None: Chroma must never fall back to its default
        # model, which it would download.
        return self._client.get_or_create_collection(
            self.collection_name(kind),
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
        )

    def check_dim(self, dim: int | None = None) -> None:
        """IndexConfigError if the stored vectors are not of the embedder's size."""
        dim = dim or self.dim
        if not dim:
            return
        for col in (self._chunks, self._units):
            with self.guard():
                got = col.get(limit=1, include=["embeddings"])["embeddings"]
            if got is not None and len(got) and len(got[0]) != dim:
                raise IndexConfigError(
                    f"Collection {col.name} in {self.where} holds {len(got[0])}-dimensional vectors, but the "
                    f"embedder {self.embedder_id} makes {dim}-dimensional ones: choose another "
                    "ASSISTANT_CHROMA_PREFIX (or database), or rebuild with `assistant index --rebuild`."
                )

    def _server_meta(self) -> dict:
        self._open()
        with store_errors(self.where, True):
            return self._client.get_collection(self.collection_name("chunks")).metadata or {}

    def server_build(self) -> str | None:
        """The build token the server's chunks collection carries (server mode)."""
        return self._server_meta().get(BUILD_KEY)

    def server_writer(self) -> str | None:
        """The host and corpus folder that last wrote to the server's collections."""
        return self._server_meta().get(WRITER_KEY)

    def set_server_build(self, token: str) -> None:
        self._open()
        with self.guard():
            self._chunks.modify(metadata={BUILD_KEY: token, WRITER_KEY: writer_id(self.settings)})

    def counts_match(self, manifest: dict) -> bool:
        """Whether the store holds as many chunks and sentences as the
        manifest says: an emptied or replaced store (its sqlite file truncated,
        its folder deleted) opens without an error and holds none."""
        files = list(manifest.get("files", {}).values()) + list(manifest.get("partial", {}).values())
        with self.guard():
            return (self.chunks.count(), self.units.count()) == (
                sum(int(f.get("chunks", 0)) for f in files),
                sum(int(f.get("units", 0)) for f in files),
            )

    def drop_collections(self) -> None:
        """Delete this index's collections on the Chroma server (server mode)."""
        client = _chroma_client(self.settings)
        with store_errors(self.where, True):
            present = {c.name for c in client.list_collections()}
            for kind in ("chunks", "units"):
                if self.collection_name(kind) in present:
                    client.delete_collection(self.collection_name(kind))
        self.close()

    def read_all(self, collection, include: list[str]):
        with self.guard():
            yield from read_all(collection, include)

    @property
    def chunks(self):
        self._open()
        return self._chunks

    @property
    def units(self):
        self._open()
        return self._units

    def close(self) -> None:
        self._client = self._chunks = self._units = None

    # -- BM25 ---------------------------------------------------------------
    def load_bm25(self):
        """(bm25s model, chunk ids in its row order)."""
        import bm25s

        path = self.dir / "bm25"
        try:
            model = bm25s.BM25.load(str(path), load_corpus=False)
            ids = json.loads((path / "ids.json").read_text(encoding="utf-8"))
        except Exception as e:
            raise IndexStoreError(f"BM25 index in {path} is missing or corrupt: {e}") from e
        if int(model.scores.get("num_docs", -1)) != len(ids):
            raise IndexStoreError(f"BM25 index in {path} does not match its id list")
        return model, ids

    def _write_bm25(self) -> int:
        """Rebuild the BM25 index from the stored chunks with llama-index's
        BM25Retriever, so llama-index users can load it with
        `BM25Retriever.from_persist_dir`; `ids.json` lists the chunk id of
        each row for our own query path, which reads it with bm25s."""
        from llama_index.core.schema import TextNode
        from llama_index.retrievers.bm25 import BM25Retriever

        final = self.dir / "bm25"
        nodes = [
            TextNode(
                id_=cid,
                text=doc,
                metadata={"title": meta.get("title", ""), "source": meta["source"]},
                excluded_embed_metadata_keys=["source"],
                metadata_template="{value}",
            )
            for cid, doc, meta in self.read_all(self.chunks, ["documents", "metadatas"])
        ]
        if not nodes:  # bm25s cannot save an empty index
            shutil.rmtree(final, ignore_errors=True)
            return 0
        _stemmer()
        retriever = BM25Retriever(
            nodes=nodes, stemmer=_STEMMER, language=STOPWORDS, similarity_top_k=min(10, len(nodes))
        )
        tmp = self.dir / "bm25.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        retriever.persist(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps([n.node_id for n in nodes]), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        return len(nodes)


_STEMMER = None
# bm25s's own English list has 33 words; question words and auxiliaries
# ("what", "did", "has") would otherwise count as matches.
STOPWORDS = sorted(
    set(
        """
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves also may
might must shall us according tell please
""".split()
    )
)


def _stemmer():
    global _STEMMER  # a cache of a loaded model, like the embedder's
    import Stemmer

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG
    if _STEMMER is None:
        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


def tokenize(texts: list[str]) -> list[list[str]]:
    """BM25 tokens: lower-cased words, English stop words out, Snowball-stemmed
    (the same tokenization the index was built with)."""
    import bm25s

    return bm25s.tokenize(texts, stopwords=STOPWORDS, stemmer=_stemmer(), return_ids=False, show_progress=False)


def ensure_dir(index_dir: Path) -> None:
    """Create the index folder, or say in one line why it cannot be."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise IndexStoreError(f"Index folder {index_dir} is a file, not a folder: choose another --index-dir") from None
    except OSError as e:
        raise IndexStoreError(f"Index folder {index_dir} cannot be created: {e.strerror}") from None


READERS = ".readers"  # lock file: shared by readers' store calls, exclusive during a rebuild
GENERATION = ".generation"  # rewritten by every rebuild of the embedded store


def _generation(index_dir: Path):
    try:
        st = os.stat(Path(index_dir) / GENERATION)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


@contextmanager
def _readers(index_dir: Path, exclusive: bool):
    """The lock that keeps readers of an embedded store (a chat page, any
    process calling `answer()`) out of it while another process deletes and
    rebuilds it. Chroma's store is not meant for several processes: a reader
    whose sqlite connection outlived the files it opened, or that created the
    store again beside the builder, broke the build ("table collections
    already exists", "database disk image is malformed"). Readers hold it
    shared for each store call; a rebuild holds it exclusive from the wipe to
    the end, so questions asked meanwhile wait for the new index. Incremental
    builds do not take it: readers keep answering from what they loaded."""
    path = Path(index_dir) / READERS
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if exclusive else os.open(path, os.O_RDONLY)
    except OSError:
        if exclusive:
            raise
        yield  # no lock file (a read-only index, or one never built by this version): nothing rebuilds it
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        if exclusive:
            tmp = Path(index_dir) / (GENERATION + ".tmp")
            tmp.write_text(uuid.uuid4().hex, encoding="utf-8")
            os.replace(tmp, Path(index_dir) / GENERATION)  # stores opened before are now stale
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def _build_lock(index_dir: Path):
    ensure_dir(index_dir)
    try:
        fh = open(index_dir / ".lock", "w")
    except OSError as e:
        raise IndexStoreError(
            f"Index folder {index_dir} is read-only ({e.strerror}): it can be read, but not built or "
            "updated, here; build it where it is writable, or choose another --index-dir"
        ) from None
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # one builder at a time
        (index_dir / READERS).touch()  # so that readers of what this builds take their lock
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _looks_like_ours(index_dir: Path) -> bool:
    """Only a folder that is empty or holds our index may be wiped."""
    if not index_dir.exists():
        return True
    allowed = {
        "chroma",
        "bm25",
        "bm25.tmp",
        READERS,
        GENERATION,
        GENERATION + ".tmp",
        MANIFEST,
        MANIFEST.replace(".json", ".tmp"),
        ".lock",
        "README.md",
        ".gitignore",
        ".gitkeep",
        "squad",  # `assistant eval --squad`: SQuAD corpora and their own indexes (see squad_eval.prepare)
    }
    return all(p.name in allowed for p in index_dir.iterdir())


def forget_local(index_dir: Path) -> None:
    """Drop this process's handles on the embedded store in `index_dir`, so
    that the next client reads it from disk (after another process changed it)."""
    _forget_chroma(Path(index_dir) / "chroma")


def _forget_chroma(path: Path) -> None:
    """Drop chromadb's in-process cache of the store at `path`.

    chromadb keeps one system per path for the life of the process; after the
    files are deleted, a new client on the same path would reuse it and fail
    with "attempt to write a readonly database".
    """
    try:
        from chromadb.api.shared_system_client import SharedSystemClient
    except ImportError:
        return
    system = SharedSystemClient._identifier_to_system.pop(str(path), None)
    SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    if system is not None:
        try:
            system.stop()
        except BaseException as e:  # a broken store may fail to stop (even panic); it is being dropped
            if _fatal(e):
                raise


def read_all(collection, include: list[str]):
    """(id, *fields) of every record, read a page at a time: one request for
    a 100k-chunk collection would hold it all twice in memory, and a Chroma
    server may refuse the payload."""
    offset = 0
    while True:
        got = collection.get(include=include, limit=PAGE, offset=offset)
        if not got["ids"]:
            return
        yield from zip(got["ids"], *(got[k] for k in include))
        offset += len(got["ids"])


def wipe(index_dir: Path, store: IndexStore | None = None) -> None:
    """Delete a built index (keeps README.md/.gitignore of the folder); in
    server mode, `store`'s collections on the server too."""
    if not _looks_like_ours(index_dir):
        raise IndexStoreError(f"Refusing to delete {index_dir}: it holds files that are not part of an index")
    if store is not None and store.remote:
        store.drop_collections()
    _forget_chroma(index_dir / "chroma")
    for name in ("chroma", "bm25", "bm25.tmp"):
        shutil.rmtree(index_dir / name, ignore_errors=True)
    for name in (MANIFEST, MANIFEST.replace(".json", ".tmp")):
        (index_dir / name).unlink(missing_ok=True)


@dataclass
class _Part:
    """Where a pending item sits in a large file read in segments (see
    `ingest.Segments`): it holds segment `index`, chunked on its own, and
    stands for segments [first, end) (empty segments around it, which have
    no chunks, are counted with it); its units and chunks are numbered from
    `unit_base` and `chunk_base`, the counts of the segments before it."""

    index: int
    first: int
    end: int
    count: int  # segments in the file
    size: int  # the segment size the file was cut with
    char_start: int  # segment `index`'s offset in the file's text
    chunk_base: int
    unit_base: int
    last: bool = False


@dataclass
class _Pending:
    source: str
    doc: object
    units: list
    chunks: list
    digest: str
    stat: dict
    replaces: bool  # the store may hold chunks of another version of the file
    part: _Part | None = None  # None: the whole file

    @property
    def whole(self) -> bool:
        """The file is complete once this item is stored."""
        return self.part is None or self.part.last

    @property
    def fresh(self) -> bool:
        """The file's first item: nothing of this version is stored yet."""
        return self.part is None or self.part.first == 0

    def totals(self) -> tuple[int, int]:
        """(chunks, units) of the file up to and including this item."""
        base = (self.part.chunk_base, self.part.unit_base) if self.part else (0, 0)
        return base[0] + len(self.chunks), base[1] + len(self.units)

    def unit_ids(self) -> list[str]:
        base = self.part.unit_base if self.part else 0
        return [unit_id(self.source, base + u.index) for u in self.units]


@dataclass
class _Units:
    """Sentence-unit records, as `Collection.add` takes them."""

    ids: list[str] = field(default_factory=list)
    metadatas: list[dict] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)  # headings only (see `_records`)

    def append(self, uid: str, meta: dict, vec: np.ndarray, text: str | None = None) -> None:
        self.ids.append(uid)
        self.metadatas.append(meta)
        self.embeddings.append(vec)
        if text is not None:
            self.documents.append(text)


def _records(
    p: _Pending, vecs: np.ndarray, units: _Units, heads: _Units, NodeRelationship, RelatedNodeInfo, TextNode
) -> list:
    """One file's unit records (added to `units`, headings to `heads`) and its
    chunks as llama-index nodes (returned), with their vectors.

    Chunks go through llama-index's ChromaVectorStore, so llama-index can read
    them as nodes. Units, seven in eight of all records, are written to
    Chroma directly and hold only what a search by sentence needs: the file
    (for deletes) and the chunks that contain the sentence. Its text and
    offsets are in its chunks' `units` key, so `units_of` slices them from the
    passage. Chroma indexes every metadata key and document of every record:
    a unit with its text and seven keys cost 0.86 ms of CPU, this one 0.50
    (measured with 35k units), and on two cores that time is taken from the
    model. Headings keep their text and index, for `example_questions`."""
    from assistant.ingest.chunk import chunk_id

    part = p.part
    shift, ubase, cbase = (part.char_start, part.unit_base, part.chunk_base) if part else (0, 0, 0)

    def span(start: int, end: int) -> tuple[int, int]:
        s, e = p.doc.clean.to_original(start, end)
        return s + shift, e + shift

    cids = [chunk_id(p.source, c, part.index if part else 0) for c in p.chunks]
    in_chunks: dict[int, list[str]] = {}
    for c, cid in zip(p.chunks, cids):
        for j in c.units:
            in_chunks.setdefault(j, []).append(cid)
    for u, uid, v in zip(p.units, p.unit_ids(), vecs):
        meta = {"source": p.source, "chunks": ",".join(in_chunks.get(u.index, []))}
        if u.heading:
            heads.append(uid, meta | {"heading": True, "unit": ubase + u.index}, v, u.text)
        else:
            units.append(uid, meta, v)
    rel = {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=p.source)}
    # What the manifest says of the file, so it can be derived from a Chroma
    # server's contents alone (see the module docstring and
    # `manifest_from_store`): a file is whole when as many of its chunks are
    # stored as `file_chunks` says; of a file read in segments only the last
    # item knows that count, and every item says which segments it stands for.
    chunks, units_ = p.totals()
    file_meta: dict = {"file_sha256": p.digest}
    if p.whole:
        file_meta |= {"file_chunks": chunks, "file_units": units_}
    if part:
        file_meta |= {"segment": part.first, "segment_end": part.end, "segments": part.count}
        file_meta |= {"segment_size": part.size, "part_chunks": len(p.chunks), "chunks_through": chunks}
        file_meta |= {"units_through": units_}
    chunk_nodes = []
    for c, cid in zip(p.chunks, cids):
        # A chunk's vector is the token-weighted mean of its sentence vectors:
        # every token is embedded once, sentences stay within MiniLM's
        # 128-token training length, and no chunk is truncated.
        w = np.array([p.units[j].tokens for j in c.units], dtype=np.float32)
        cv = (vecs[c.units] * w[:, None]).sum(axis=0)
        cv /= max(float(np.linalg.norm(cv)), 1e-12)
        os_, oe = span(c.start, c.end)
        meta = {"source": p.source, "title": p.doc.title, "chunk": cbase + c.index, "start": os_, "end": oe}
        meta |= {"tokens": c.tokens, "hash": hashlib.sha256(c.text.encode()).hexdigest()[:16]}
        # Its sentences: index, offsets in the chunk's text, offsets in the
        # original file, heading flag (see `retrieve.Retriever.units_of`).
        sentences = []
        for j in c.units:
            u = p.units[j]
            sentences.append([ubase + j, u.start - c.start, u.end - c.start, *span(u.start, u.end), int(u.heading)])
        meta["units"] = json.dumps(sentences, separators=(",", ":"))
        meta |= file_meta
        chunk_nodes.append(TextNode(id_=cid, text=c.text, embedding=cv.tolist(), metadata=meta, relationships=rel))
    return chunk_nodes


def manifest_from_store(store: IndexStore, sig: dict) -> dict:
    """The manifest a Chroma server's contents imply: every file whose chunks
    are all there (a file cut short by an interrupted build is left out, and
    so is re-indexed or removed by the next sync, as is a file written by an
    older version, whose chunks lack the `units` key). Of a large file read in
    segments whose last segments are missing, the segments stored whole from
    its start are its `partial` entry, so the next sync continues it."""
    files: dict[str, dict] = {}
    stored: set[str] = set()
    for _, meta in store.read_all(store.chunks, ["metadatas"]):
        stored.add(meta["source"])
        if "units" not in meta:
            continue
        f = files.setdefault(
            meta["source"],
            {"sha256": meta.get("file_sha256"), "title": meta.get("title", ""), "chunks": 0, "parts": {}},
        )
        f["chunks"] += 1
        if meta.get("file_sha256") != f["sha256"]:
            f["mixed"] = True  # chunks of two versions: neither is whole
        if "file_chunks" in meta:  # a whole file's chunks, or the last segment's
            f["expected"], f["units"] = meta["file_chunks"], meta.get("file_units", 0)
        if "segment" in meta:
            part = f["parts"].setdefault(meta["segment"], dict(meta, stored=0))
            part["stored"] += 1
    whole, partial = {}, {}
    for source, f in files.items():
        parts, expected = f.pop("parts"), f.pop("expected", None)
        if not f["sha256"] or f.pop("mixed", False):
            continue
        if expected == f["chunks"]:
            whole[source] = f
            continue
        done, k = None, 0
        while k in parts and parts[k]["stored"] == parts[k]["part_chunks"]:
            done, k = parts[k], parts[k]["segment_end"]
        if done is not None and k < done["segments"]:
            partial[source] = {
                "sha256": f["sha256"], "title": f["title"], "segments_done": k, "segments": done["segments"],
                "segment_size": done["segment_size"], "chunks": done["chunks_through"], "units": done["units_through"],
            }  # fmt: skip
    # "stored": every file with records, whole or not (popped by the caller).
    return {
        "marker": MARKER, "signature": sig, "files": whole, "partial": partial, "complete": False,
        "stored": sorted(stored),
    }  # fmt: skip


def refresh(settings: Settings, embedder) -> SyncReport:
    """Server mode, without a corpus at hand: bring the local cache (manifest
    and BM25) in line with what the Chroma server holds."""
    t0 = time.perf_counter()
    report = SyncReport(refreshed=True)
    with _build_lock(Path(settings.index_dir)):
        store = IndexStore(settings, embedder.id, getattr(embedder, "dim", None))
        token = store.server_build()
        manifest = manifest_from_store(store, signature(settings, embedder.id))
        manifest.pop("stored")
        if not manifest["files"]:
            raise IndexStoreError(f"{store.where} holds no index yet, and corpus folder {settings.corpus} is not here")
        t = time.perf_counter()
        store._write_bm25()
        report.bm25_seconds = time.perf_counter() - t
        manifest |= {"complete": True, "server_build": token, "skipped": {}}
        store.write_manifest(manifest)
        report.unchanged = sorted(manifest["files"])
        report.chunks = sum(f["chunks"] for f in manifest["files"].values())
        report.units = sum(f["units"] for f in manifest["files"].values())
        store.close()
    report.seconds = time.perf_counter() - t0
    return report


class _Writer:
    """One background thread that stores what the caller has embedded, so the
    next group is embedded while this one is written. At most one job is in
    flight: memory stays bounded and jobs run in the order given."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-writer")
        self._job: Future | None = None

    def submit(self, fn, *args) -> None:
        self.wait()
        self._job = self._pool.submit(fn, *args)

    def wait(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.result()  # re-raises the writer's error here

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


def sync(
    settings: Settings,
    embedder,
    rebuild: bool = False,
    progress=None,
    group_units: int = 1024,
    commit_every: float = 1.0,
    segment_chars: int | None = None,
) -> SyncReport:
    """Bring the index in `settings.index_dir` in line with `settings.corpus`.

    Changed files are embedded in groups of about `group_units` sentences, so
    that batches span small files; stored groups are committed to the manifest
    at most every `commit_every` seconds (and at the end), which bounds both
    the work an interruption loses and the cost of rewriting the manifest.

    A file of more than `segment_chars` bytes (default `ingest.SEGMENT_CHARS`)
    is read, cleaned and chunked a segment at a time (`ingest.Segments`), each
    segment a pending item of its own: memory is bounded by the group, not by
    the file, and the manifest's `partial` entry records how many of its
    segments are stored, so an interrupted build continues the file where it
    stopped. `progress(i, n, label)` is called for each file and, in a large
    file, each segment ("name (segment k/S)")."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.ingest.chunk import chunk_doc
    from assistant.ingest.clean import clean_text, extract_title
    from assistant.ingest.files import SourceDoc

    segment_chars = segment_chars or ingest.SEGMENT_CHARS
    chunking = (settings.chunk_size, settings.chunk_overlap, settings.unit_max_tokens)

    t0 = time.perf_counter()
    report = SyncReport()
    corpus = Path(settings.corpus)
    files, report.warnings = scan_corpus(corpus, settings.file_types)  # CorpusError if no folder
    root = corpus.resolve()
    if not files:
        raise CorpusError(f"No {'/'.join(settings.file_types)} files in corpus folder {corpus}")
    index_dir = Path(settings.index_dir)
    sig = signature(settings, embedder.id)
    dim = getattr(embedder, "dim", None)

    with _build_lock(index_dir), ExitStack() as rebuilding:

        def fresh_store() -> IndexStore:
            s = IndexStore(settings, embedder.id, dim)
            s.building = True
            return s

        readers_out = False

        def wipe_all(store: IndexStore | None = None) -> None:
            nonlocal readers_out
            if not settings.chroma_url and not readers_out:
                rebuilding.enter_context(_readers(index_dir, exclusive=True))
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
            if (
                not store.remote
                and manifest is not None
                and manifest.get("complete")
                and not store.counts_match(manifest)
            ):
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
            manifest = manifest_from_store(store, sig)
            report.refreshed = True
            writer = store.server_writer()
            listed = {p.relative_to(corpus).as_posix() for p in files}
            foreign = sorted(set(manifest.pop("stored")) - listed)
            if writer and writer != writer_id(settings) and foreign and not rebuild:
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
        manifest.setdefault("partial", {})  # large files stored in part (see `_Part`)
        indexed = set(manifest["files"])  # files with a whole version in the index, as the build starts
        manifest["complete"] = False
        manifest["skipped"] = {}
        store.write_manifest(manifest)

        chunk_vs = ChromaVectorStore(chroma_collection=store.chunks)
        max_batch = store._client.get_max_batch_size()
        seen: set[str] = set()
        # The writer thread and this one both touch the manifest.
        lock = threading.Lock()
        last_commit = time.monotonic()

        def commit(force: bool = False) -> None:
            nonlocal last_commit
            if force or time.monotonic() - last_commit >= commit_every:
                with lock:
                    store.write_manifest(manifest)
                last_commit = time.monotonic()

        token: str | None = None  # this build's token, once it writes to the server

        def writing() -> None:
            """Stamp the server before the first write (server mode), so that
            other clients see it changing and a resumed build matches it. A
            build that writes nothing leaves the token, and their caches, be."""
            nonlocal token
            if store.remote and token is None:
                token = uuid.uuid4().hex
                store.set_server_build(f"building:{token}")
                with lock:
                    manifest["server_build"] = f"building:{token}"
                commit(force=True)

        def drop(source: str) -> None:
            writing()
            # Units go first: a file with units always has its chunks, so the
            # chunks alone tell which files an interrupted build left behind.
            with store.guard():
                store.units.delete(where={"source": source})
                chunk_vs.delete(ref_doc_id=source)
            with lock:
                manifest["files"].pop(source, None)
                manifest["partial"].pop(source, None)

        def store_group(group: list[_Pending], vecs: np.ndarray) -> None:
            """Store and commit the files of one embedded group (writer thread).
            One add per collection for the whole group: each Chroma add has a
            fixed cost that per-file adds of small files paid many times."""
            ts = time.perf_counter()
            writing()
            units, heads, all_chunks, offset = _Units(), _Units(), [], 0
            for p in group:
                doc_vecs = vecs[offset : offset + len(p.units)]
                offset += len(p.units)
                report.tokens += sum(u.tokens for u in p.units)
                records = _records(p, doc_vecs, units, heads, NodeRelationship, RelatedNodeInfo, TextNode)
                all_chunks += records
                if p.fresh and (p.replaces or resuming):
                    drop(p.source)  # also clears chunks left by an interrupted build
                elif resuming:
                    # A file continued where an interrupted build stopped: its
                    # segments committed stay; this item's records may have
                    # been stored after the last commit (Chroma would ignore
                    # adds of ids it has), and are written again.
                    with store.guard():
                        store.units.delete(ids=p.unit_ids())
                        store.chunks.delete(ids=[n.node_id for n in records])
            try:
                with store.guard():
                    for b in range(0, len(all_chunks), max_batch):
                        chunk_vs.add(all_chunks[b : b + max_batch])
                    for part in (units, heads):
                        for b in range(0, len(part.ids), max_batch):
                            e = b + max_batch
                            store.units.add(
                                ids=part.ids[b:e],
                                metadatas=part.metadatas[b:e],
                                embeddings=np.stack(part.embeddings[b:e]),
                                documents=part.documents[b:e] or None,
                            )
            except IndexStoreError as e:
                if "dimension" in str(e):
                    store.check_dim(vecs.shape[1])  # says which collection and why
                raise
            with lock:
                for p in group:
                    chunks, units_ = p.totals()
                    entry = {"sha256": p.digest, "title": p.doc.title, "chunks": chunks, "units": units_, **p.stat}
                    if p.whole:
                        manifest["files"][p.source] = entry
                        manifest["partial"].pop(p.source, None)
                    else:
                        entry |= {"segments_done": p.part.end, "segments": p.part.count, "segment_size": p.part.size}
                        manifest["partial"][p.source] = entry
            for p in group:
                if p.whole:
                    (report.updated if p.source in indexed else report.added).append(p.source)
            commit()
            report.store_seconds += time.perf_counter() - ts

        writer = _Writer()
        pending: list[_Pending] = []
        pending_units = 0
        worker = None  # the model in a child process (EmbedWorker), from the second group on
        in_worker: list[_Pending] | None = None  # the group it is embedding
        held: tuple | None = None  # the first group, embedded here, until the second is with the model

        def flush(more: bool) -> None:
            """Embed the pending files' sentences in one go (batches across
            files) and hand them to the writer.

            When more files follow and the embedder can run in a child process
            (`embedder.worker()`), the first group is embedded here while that
            process starts; every later group is sent to it, and this process
            reads and chunks the next group while the writer stores the
            previous one: Chroma's adds hold this process's GIL, not the
            model's. For that reason the first group is stored only once the
            second is with the model: stored at once, it kept this process
            from chunking the second, and the model idle (0.75 s at 1k chunks)."""
            nonlocal pending, pending_units, worker, in_worker, held
            group, pending, pending_units = pending, [], 0
            embedded = None
            if in_worker is not None:
                vecs, seconds = worker.result()
                report.embed_seconds += seconds
                embedded, in_worker = (in_worker, vecs), None
            if group:
                texts = [u.text for p in group for u in p.units]
                if worker is not None:
                    worker.submit(texts)
                    in_worker = group
                else:
                    if more and callable(getattr(embedder, "worker", None)):
                        worker = embedder.worker()
                        report.embed_process = True
                    te = time.perf_counter()
                    vecs = embedder.embed(texts)
                    report.embed_seconds += time.perf_counter() - te
                    if worker is not None:
                        held = (group, vecs)
                    else:
                        embedded = (group, vecs)
            if held is not None and (in_worker is not None or not group):
                writer.submit(store_group, *held)
                held = None
            if embedded is not None:
                writer.submit(store_group, *embedded)

        def flush_last() -> None:
            """Flush what is left. With the model in its own process, the last
            group goes in quarters: only the store of the last quarter then
            waits for the model to finish, not that of a whole group."""
            nonlocal pending
            if worker is not None and pending:
                rest, pending, size = pending, [], 0
                for p in rest:
                    pending.append(p)
                    size += len(p.units)
                    if size >= max(1, group_units // 4):
                        flush(more=True)
                        size = 0
            while pending or in_worker is not None or held is not None:
                flush(more=False)

        def store_held() -> None:
            if held is not None:  # the model process failed before it took the second group
                writer.submit(store_group, *held)

        def close_worker() -> None:
            if worker is not None:
                worker.close()

        def add(p: _Pending, more: bool) -> None:
            nonlocal pending_units
            pending.append(p)
            pending_units += len(p.units)
            if pending_units >= group_units:
                flush(more=more)

        def unusable(source: str, error: Exception, st, stored: bool) -> None:
            msg = f"skipped {source}: {error}"
            log.warning(msg)
            report.warnings.append(msg)
            with lock:
                manifest["skipped"][source] = [st.st_size, st.st_mtime_ns]
            if stored:
                writer.submit(drop, source)  # a file that became unreadable loses its chunks

        def segmented(i: int, path: Path, source: str, segs: Segments, stat: dict, old: bool, more: bool):
            """Queue a large file a segment at a time, from the first segment
            not stored yet when an interrupted build stored the file's first
            ones (same content, same cuts), else from the start. Each segment
            is an item of its own (`_Part`), queued once the next segment with
            text is read, so that the file's last item is known as such; a
            segment with no text after cleaning is counted with its neighbour.
            Cleaning rules that look at the whole document look at the
            segment: a line repeated within it is dropped (one repeated from
            an earlier segment is kept), a page footer only in the last one."""
            count, sha = len(segs.segments), segs.sha256
            done = manifest["partial"].get(source) or {}
            start, chunk_base, unit_base, title = 0, 0, 0, None
            if (done.get("sha256"), done.get("segments"), done.get("segment_size")) == (sha, count, segment_chars):
                if 0 < done["segments_done"] < count:
                    start, chunk_base, unit_base = done["segments_done"], done["chunks"], done["units"]
                    title = done["title"]
            replaces = old or (bool(done) and start == 0)  # another version may be stored
            item, first = None, start
            for k in range(start, count):
                if progress:
                    progress(i, len(files), f"{source} (segment {k + 1}/{count})")
                ct = clean_text(segs.text(k), footer=k == count - 1)
                if title is None:
                    title = extract_title(ct.text, fallback=path.stem)
                doc = SourceDoc(source=source, path=path, sha256=sha, title=title, clean=ct)
                units, chunks = [], []
                if ct.text.strip():
                    units, chunks = chunk_doc(doc, *chunking, starts_doc=unit_base == 0)
                if not units:
                    if item is not None:
                        item.part.end = first = k + 1
                    continue
                if item is not None:
                    add(item, more=True)
                seg = segs.segments[k]
                part = _Part(k, first, k + 1, count, segment_chars, seg.char_start, chunk_base, unit_base)
                item = _Pending(source, doc, units, chunks, sha, stat, replaces, part)
                first, chunk_base, unit_base = k + 1, chunk_base + len(chunks), unit_base + len(units)
            if item is None:
                raise ValueError("empty after cleaning")
            item.part.last = True
            add(item, more=more)

        unfinished: set[str] = set()  # large files that changed while being read
        with ExitStack() as cleanup:
            # Run last to first, each even if one before it raised: what was
            # embedded is stored and committed, even on an error.
            cleanup.callback(commit, True)
            cleanup.callback(close_worker)
            cleanup.callback(writer.close)
            cleanup.callback(store_held)
            for i, path in enumerate(files):
                source = path.relative_to(corpus).as_posix()
                more = i + 1 < len(files)
                if progress:
                    progress(i, len(files), source)
                try:
                    fh, st = open_file(path, root)
                except (OSError, ValueError) as e:
                    report.warnings.append(f"skipped {source}: {e}")
                    continue
                with fh:
                    stat = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
                    old = manifest["files"].get(source)
                    # The store may hold chunks of this file (of this version or another).
                    stored = old is not None or source in manifest["partial"]
                    segs = None
                    try:
                        if st.st_size > segment_chars:
                            segs = Segments(fh, st, segment_chars)  # streams the file once
                            digest = segs.sha256
                        if segs is None or len(segs.segments) == 1:
                            fh.seek(0)
                            data, segs = fh.read(), None
                            digest = file_digest(data)
                    except OSError as e:
                        report.warnings.append(f"skipped {source}: {e}")
                        continue
                    except ValueError as e:  # binary, not UTF-8
                        seen.add(source)
                        unusable(source, e, st, stored)
                        continue
                    seen.add(source)
                    if old and old.get("sha256") == digest:
                        with lock:
                            old.update(stat)
                        report.unchanged.append(source)
                        continue
                    if segs is not None:
                        try:
                            segmented(i, path, source, segs, stat, old is not None, more)
                        except (OSError, ingest.FileChanged) as e:
                            msg = f"skipped {source}: {e}; the next build indexes it"
                            log.warning(msg)
                            report.warnings.append(msg)
                            unfinished.add(source)
                        except ValueError as e:
                            unusable(source, e, st, stored)
                        continue
                try:
                    doc = read_doc(path, corpus, data)
                except ValueError as e:
                    unusable(source, e, st, stored)
                    continue
                units, chunks = chunk_doc(doc, *chunking)
                add(_Pending(source, doc, units, chunks, digest, stat, stored), more=more)
            flush_last()

        for source in sorted((set(manifest["files"]) | set(manifest["partial"])) - seen):
            drop(source)
            report.removed.append(source)
        for source in sorted(set(manifest["partial"]) | unfinished):
            drop(source)  # a large file left unfinished: it changed while being read
            if source in indexed:
                report.removed.append(source)
        if resuming:
            # An interrupted build may have stored chunks of a file it never
            # committed, and that file may be gone now.
            in_store = {m["source"] for _, m in store.read_all(store.chunks, ["metadatas"])}
            for source in sorted(in_store - set(manifest["files"])):
                drop(source)
                report.removed.append(source)
        t = time.perf_counter()
        if report.changed or unfinished or report.rebuilt or report.refreshed or not (index_dir / "bm25").is_dir():
            store._write_bm25()
        report.bm25_seconds = time.perf_counter() - t
        report.chunks = sum(f["chunks"] for f in manifest["files"].values())
        report.units = sum(f["units"] for f in manifest["files"].values())
        if not manifest["files"]:
            store.write_manifest(manifest)
            raise CorpusError(f"No usable document in corpus folder {corpus}: " + "; ".join(report.warnings))
        if token is not None:
            store.set_server_build(token)
            manifest["server_build"] = token
        elif store.remote:
            manifest["server_build"] = store.server_build()
        manifest["complete"] = True
        manifest["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        store.write_manifest(manifest)
        store.close()
    report.seconds = time.perf_counter() - t0
    return report
