"""The index store: Chroma collections (chunks and sentence units), a BM25
index and a manifest, kept in step with the corpus folder.

Layout of `index_dir`:
  chroma/         Chroma PersistentClient: collections `chunks-<embedder>` and
                  `units-<embedder>`, written through llama-index's ChromaVectorStore
  bm25/           bm25s index over the chunks (rebuilt whenever chunks change)
  manifest.json   per-file content hash and counts, settings signature, and
                  `complete`, which is true only after a build finished

`sync()` is idempotent: unchanged files (same sha256) are skipped, changed
files have their chunks replaced, deleted files have them removed. Each file
is committed to the manifest only after its chunks are stored, so an
interrupted build resumes where it stopped and is never taken as complete.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CorpusError, IndexStoreError
from .ingest import file_digest, list_files, read_doc
from .settings import Settings

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 5
MARKER = "assistant-index"


def doc_key(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()[:12]


def unit_id(source: str, index: int) -> str:
    return f"{doc_key(source)}:u{index}"


def signature(settings: Settings, embedder_id: str) -> dict:
    """What the stored vectors and chunks depend on; a change means a rebuild."""
    return {
        "format": FORMAT,
        "embedder": embedder_id,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "unit_max_tokens": settings.unit_max_tokens,
        "corpus": str(Path(settings.corpus).resolve()),
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
    embed_seconds: float = 0.0
    rebuilt: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.warnings)} skipped; "
            f"{self.chunks} chunks in the index ({self.seconds:.1f} s)"
        )


def _chroma_client(path: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


class IndexStore:
    """Handles on the persisted index; opening it never builds anything."""

    def __init__(self, settings: Settings, embedder_id: str):
        self.settings = settings
        self.dir = Path(settings.index_dir)
        self.embedder_id = embedder_id
        self._client = None
        self._chunks = None
        self._units = None

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
        """'missing', 'incomplete', 'stale' (other settings), 'corrupt' or 'ready'."""
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
        return "ready"

    # -- Chroma -------------------------------------------------------------
    def _open(self):
        if self._client is None:
            try:
                self._client = _chroma_client(self.dir / "chroma")
                self._chunks = self._collection("chunks")
                self._units = self._collection("units")
            except Exception as e:  # chromadb raises several types on a broken store
                self._client = None
                raise IndexStoreError(f"Chroma store in {self.dir / 'chroma'} cannot be opened: {e}") from e
        return self._client

    def _collection(self, kind: str):
        # embedding_function=None: Chroma must never fall back to its default
        # model, which it would download.
        return self._client.get_or_create_collection(
            f"{kind}-{self.embedder_id}",
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
        )

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

        got = self.chunks.get(include=["documents", "metadatas"])
        final = self.dir / "bm25"
        if not got["ids"]:  # bm25s cannot save an empty index
            shutil.rmtree(final, ignore_errors=True)
            return 0
        nodes = [
            TextNode(
                id_=cid,
                text=doc,
                metadata={"title": meta.get("title", ""), "source": meta["source"]},
                excluded_embed_metadata_keys=["source"],
                metadata_template="{value}",
            )
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])
        ]
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


@contextmanager
def _build_lock(index_dir: Path):
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # one builder at a time
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
        MANIFEST,
        MANIFEST.replace(".json", ".tmp"),
        ".lock",
        "README.md",
        ".gitignore",
        ".gitkeep",
    }
    return all(p.name in allowed for p in index_dir.iterdir())


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
        except Exception:  # a broken store may fail to stop; it is being deleted
            pass


def wipe(index_dir: Path) -> None:
    """Delete a built index (keeps README.md/.gitignore of the folder)."""
    if not _looks_like_ours(index_dir):
        raise IndexStoreError(f"Refusing to delete {index_dir}: it holds files that are not part of an index")
    _forget_chroma(index_dir / "chroma")
    for name in ("chroma", "bm25", "bm25.tmp"):
        shutil.rmtree(index_dir / name, ignore_errors=True)
    for name in (MANIFEST, MANIFEST.replace(".json", ".tmp")):
        (index_dir / name).unlink(missing_ok=True)


@dataclass
class _Pending:
    source: str
    doc: object
    units: list
    chunks: list
    digest: str
    stat: dict
    replaces: bool


def _nodes(p: _Pending, vecs: np.ndarray, NodeRelationship, RelatedNodeInfo, TextNode) -> tuple[list, list]:
    """llama-index nodes (with embeddings) for one file's units and chunks."""
    from .chunk import chunk_id

    span = p.doc.clean.to_original
    base = {"source": p.source, "title": p.doc.title}
    rel = {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=p.source)}
    cids = [chunk_id(p.source, c) for c in p.chunks]
    in_chunks: dict[int, list[str]] = {}
    for c, cid in zip(p.chunks, cids):
        for j in c.units:
            in_chunks.setdefault(j, []).append(cid)
    unit_nodes = []
    for u, v in zip(p.units, vecs):
        os_, oe = span(u.start, u.end)
        meta = {**base, "unit": u.index, "start": os_, "end": oe, "heading": u.heading}
        meta["chunks"] = ",".join(in_chunks.get(u.index, []))
        unit_nodes.append(
            TextNode(
                id_=unit_id(p.source, u.index), text=u.text, embedding=v.tolist(), metadata=meta, relationships=rel
            )
        )
    chunk_nodes = []
    for c, cid in zip(p.chunks, cids):
        # A chunk's vector is the token-weighted mean of its sentence vectors:
        # every token is embedded once, sentences stay within MiniLM's
        # 128-token training length, and no chunk is truncated.
        w = np.array([p.units[j].tokens for j in c.units], dtype=np.float32)
        cv = (vecs[c.units] * w[:, None]).sum(axis=0)
        cv /= max(float(np.linalg.norm(cv)), 1e-12)
        os_, oe = span(c.start, c.end)
        meta = {**base, "chunk": c.index, "start": os_, "end": oe}
        meta |= {"unit_first": c.units[0], "unit_last": c.units[-1], "tokens": c.tokens}
        meta["hash"] = hashlib.sha256(c.text.encode()).hexdigest()[:16]
        chunk_nodes.append(TextNode(id_=cid, text=c.text, embedding=cv.tolist(), metadata=meta, relationships=rel))
    return unit_nodes, chunk_nodes


def sync(settings: Settings, embedder, rebuild: bool = False, progress=None, group_units: int = 512) -> SyncReport:
    """Bring the index in `settings.index_dir` in line with `settings.corpus`.

    Changed files are embedded in groups of about `group_units` sentences, so
    that batches span small files; each file is committed once stored."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from .chunk import chunk_doc

    t0 = time.perf_counter()
    report = SyncReport()
    corpus = Path(settings.corpus)
    files = list_files(corpus, settings.file_types)  # CorpusError if no folder
    if not files:
        raise CorpusError(f"No {'/'.join(settings.file_types)} files in corpus folder {corpus}")
    index_dir = Path(settings.index_dir)
    sig = signature(settings, embedder.id)

    with _build_lock(index_dir):
        store = IndexStore(settings, embedder.id)
        try:
            manifest = store.read_manifest()
        except IndexStoreError as e:
            log.warning("%s; rebuilding", e)
            manifest, rebuild = None, True
        if manifest is not None and manifest.get("signature") != sig:
            log.info("index was built with other settings; rebuilding")
            rebuild = True
        if rebuild:
            wipe(index_dir)
            manifest = None
            report.rebuilt = True
        try:
            store._open()
        except IndexStoreError as e:
            log.warning("%s; rebuilding", e)
            wipe(index_dir)
            manifest, report.rebuilt = None, True
            store = IndexStore(settings, embedder.id)
            store._open()
        resuming = manifest is not None and not manifest.get("complete")
        if manifest is None:
            manifest = {"marker": MARKER, "signature": sig, "files": {}}
        manifest["complete"] = False
        manifest["skipped"] = {}
        store.write_manifest(manifest)

        chunk_vs = ChromaVectorStore(chroma_collection=store.chunks)
        unit_vs = ChromaVectorStore(chroma_collection=store.units)
        max_batch = store._client.get_max_batch_size()
        seen: set[str] = set()

        def drop(source: str) -> None:
            chunk_vs.delete(ref_doc_id=source)
            unit_vs.delete(ref_doc_id=source)
            manifest["files"].pop(source, None)

        pending: list[_Pending] = []
        pending_units = 0

        def flush() -> None:
            """Embed the pending files' sentences in one go (batches across
            files), then store and commit each file."""
            nonlocal pending_units
            if not pending:
                return
            te = time.perf_counter()
            vecs = embedder.embed([u.text for p in pending for u in p.units])
            report.embed_seconds += time.perf_counter() - te
            offset = 0
            for p in pending:
                doc_vecs = vecs[offset : offset + len(p.units)]
                offset += len(p.units)
                report.tokens += sum(u.tokens for u in p.units)
                unit_nodes, chunk_nodes = _nodes(p, doc_vecs, NodeRelationship, RelatedNodeInfo, TextNode)
                drop(p.source)  # also clears chunks left by an interrupted build
                for vs, nodes in ((unit_vs, unit_nodes), (chunk_vs, chunk_nodes)):
                    for b in range(0, len(nodes), max_batch):
                        vs.add(nodes[b : b + max_batch])
                manifest["files"][p.source] = {
                    "sha256": p.digest,
                    "title": p.doc.title,
                    "chunks": len(p.chunks),
                    "units": len(p.units),
                    **p.stat,
                }
                store.write_manifest(manifest)  # this file is now committed
                seen.add(p.source)
                (report.updated if p.replaces else report.added).append(p.source)
            pending.clear()
            pending_units = 0

        for i, path in enumerate(files):
            source = path.relative_to(corpus).as_posix()
            if progress:
                progress(i, len(files), source)
            try:
                st = path.stat()
                data = path.read_bytes()
            except OSError as e:
                report.warnings.append(f"skipped {source}: {e}")
                continue
            stat = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
            digest = file_digest(data)
            old = manifest["files"].get(source)
            if old and old.get("sha256") == digest:
                old.update(stat)
                seen.add(source)
                report.unchanged.append(source)
                continue
            try:
                doc = read_doc(path, corpus, data)
            except ValueError as e:
                msg = f"skipped {source}: {e}"
                log.warning(msg)
                report.warnings.append(msg)
                manifest["skipped"][source] = [st.st_size, st.st_mtime_ns]
                if old:
                    drop(source)  # a file that became unreadable loses its chunks
                continue
            units, chunks = chunk_doc(doc, settings.chunk_size, settings.chunk_overlap, settings.unit_max_tokens)
            pending.append(_Pending(source, doc, units, chunks, digest, stat, old is not None))
            pending_units += len(units)
            if pending_units >= group_units:
                flush()
        flush()

        for source in sorted(set(manifest["files"]) - seen):
            drop(source)
            report.removed.append(source)
        if resuming:
            # An interrupted build may have stored chunks of a file it never
            # committed, and that file may be gone now.
            stored = {m["source"] for m in store.units.get(include=["metadatas"])["metadatas"]}
            for source in sorted(stored - set(manifest["files"])):
                drop(source)
                report.removed.append(source)
        if report.changed or report.rebuilt or not (index_dir / "bm25").is_dir():
            store._write_bm25()
        report.chunks = sum(f["chunks"] for f in manifest["files"].values())
        report.units = sum(f["units"] for f in manifest["files"].values())
        if not manifest["files"]:
            store.write_manifest(manifest)
            raise CorpusError(f"No usable document in corpus folder {corpus}: " + "; ".join(report.warnings))
        manifest["complete"] = True
        manifest["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        store.write_manifest(manifest)
        store.close()
    report.seconds = time.perf_counter() - t0
    return report
