"""What the builder stores of one embedded item (a file, or a segment of a
large one): its sentence-unit records and its chunk records, with their
vectors, in the shape `VectorIndex.add` takes. Made here, from the item and
its vectors alone; `stores.builder` writes them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from assistant.ingest.base import page_of


def doc_key(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()[:12]


def unit_id(source: str, index: int) -> str:
    """A sentence unit's record id (a chunk's is `chunk.chunk_id`)."""
    return f"{doc_key(source)}:u{index}"


def chunk_hash(text: str) -> str:
    """A chunk's content hash (its metadata key `hash`)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def unit_hash(text: str) -> str:
    """A sentence's content hash: its key to a stored vector (see `IndexStore.stored_vectors`)."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Part:
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
class Pending:
    """A file (or a segment of one, `part`) read and chunked, waiting to be embedded and stored."""

    source: str
    doc: object
    units: list
    chunks: list
    digest: str
    stat: dict
    replaces: bool  # the store may hold chunks of another version of the file
    part: Part | None = None  # None: the whole file
    # Unit index -> its vector, read back from the store: the previous
    # version of the file had the same sentence (see `IndexStore.stored_vectors`).
    known: dict[int, np.ndarray] = field(default_factory=dict)

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

    def to_embed(self) -> list[str]:
        """The texts of the units whose vectors are not known."""
        return [u.text for u in self.units if u.index not in self.known]


@dataclass
class Batch:
    """Records, as `VectorIndex.add` takes them."""

    ids: list[str] = field(default_factory=list)
    metadatas: list[dict] = field(default_factory=list)
    embeddings: list = field(default_factory=list)
    documents: list[str] = field(default_factory=list)  # all or none of the records have one

    def append(self, uid: str, meta: dict, vec, text: str | None = None) -> None:
        self.ids.append(uid)
        self.metadatas.append(meta)
        self.embeddings.append(vec)
        if text is not None:
            self.documents.append(text)

    def extend(self, other: Batch) -> None:
        self.ids += other.ids
        self.metadatas += other.metadatas
        self.embeddings += other.embeddings
        self.documents += other.documents


def item_records(p: Pending, vecs: np.ndarray, units: Batch, heads: Batch, chunks: Batch) -> None:
    """One item's unit records (added to `units`, headings to `heads`) and
    its chunk records (added to `chunks`), with their vectors.

    Chunks are stored as llama-index's ChromaVectorStore stores nodes, so
    llama-index can read them as nodes. Units, seven in eight of all records,
    hold only what a search by sentence needs: the file (for deletes) and the
    chunks that contain the sentence. Its text and offsets are in its chunks'
    `units` key, so `units_of` slices them from the passage. Chroma indexes
    every metadata key and document of every record: a unit with its text and
    seven keys cost 0.86 ms of CPU, this one 0.50 (measured with 35k units),
    and on two cores that time is taken from the model. Headings keep their
    text and index, for `example_questions`."""
    from llama_index.core.schema import MetadataMode, NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

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
    # server's contents alone (see `manifest.manifest_from_store`): a file is
    # whole when as many of its chunks are stored as `file_chunks` says; of a
    # file read in segments only the last item knows that count, and every
    # item says which segments it stands for.
    n_chunks, n_units = p.totals()
    file_meta: dict = {"file_sha256": p.digest}
    if p.whole:
        file_meta |= {"file_chunks": n_chunks, "file_units": n_units}
    if part:
        file_meta |= {"segment": part.first, "segment_end": part.end, "segments": part.count}
        file_meta |= {"segment_size": part.size, "part_chunks": len(p.chunks), "chunks_through": n_chunks}
        file_meta |= {"units_through": n_units}
    for c, cid in zip(p.chunks, cids):
        # A chunk's vector is the token-weighted mean of its sentence vectors:
        # every token is embedded once, sentences stay within MiniLM's
        # 128-token training length, and no chunk is truncated.
        w = np.array([p.units[j].tokens for j in c.units], dtype=np.float32)
        cv = (vecs[c.units] * w[:, None]).sum(axis=0)
        cv /= max(float(np.linalg.norm(cv)), 1e-12)
        os_, oe = span(c.start, c.end)
        meta = {"source": p.source, "title": p.doc.title, "chunk": cbase + c.index, "start": os_, "end": oe}
        meta |= {"tokens": c.tokens, "hash": chunk_hash(c.text)}
        if getattr(p.doc, "pages", None):
            # A document with pages (PDF): the page the chunk starts on, and
            # the offsets of the pages that start inside it, so a sentence's
            # page is known from its offset (`retrieval.Retriever.units_of`).
            meta["page"] = page_of(p.doc.pages, os_)
            meta["page_starts"] = json.dumps([s for s in p.doc.pages if os_ < s < oe])
        # Its sentences: index, offsets in the chunk's text, offsets in the
        # original file, heading flag (see `retrieval.Retriever.units_of`).
        sentences = []
        for j in c.units:
            u = p.units[j]
            sentences.append([ubase + j, u.start - c.start, u.end - c.start, *span(u.start, u.end), int(u.heading)])
        meta["units"] = json.dumps(sentences, separators=(",", ":"))
        meta |= file_meta
        node = TextNode(id_=cid, text=c.text, embedding=cv.tolist(), metadata=meta, relationships=rel)
        # As llama-index's ChromaVectorStore.add writes a node.
        stored = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
        stored = {k: "" if v is None else v for k, v in stored.items()}
        chunks.append(cid, stored, node.get_embedding(), node.get_content(metadata_mode=MetadataMode.NONE))
