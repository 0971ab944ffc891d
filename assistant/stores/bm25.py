"""The BM25 index over the chunks (bm25s, written through llama-index's
BM25Retriever), rebuilt whenever the chunks change; `ids.json` lists the
chunk id of each row."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from assistant.errors import IndexStoreError
from assistant.text.tokens import STOPWORDS, stemmer


def load_bm25(path: Path):
    """(bm25s model, chunk ids in its row order)."""
    import bm25s

    try:
        model = bm25s.BM25.load(str(path), load_corpus=False)
        ids = json.loads((path / "ids.json").read_text(encoding="utf-8"))
    except Exception as e:
        raise IndexStoreError(f"BM25 index in {path} is missing or corrupt: {e}") from e
    if int(model.scores.get("num_docs", -1)) != len(ids):
        raise IndexStoreError(f"BM25 index in {path} does not match its id list")
    return model, ids


def write_bm25(final: Path, chunks: Iterable[tuple[str, str, dict]]) -> int:
    """Rebuild the BM25 index in `final` from (id, text, metadata) of every
    chunk with llama-index's BM25Retriever, so llama-index users can load it
    with `BM25Retriever.from_persist_dir`; `ids.json` lists the chunk id of
    each row for our own query path, which reads it with bm25s."""
    from llama_index.core.schema import TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes = [
        TextNode(
            id_=cid,
            text=doc,
            metadata={"title": meta.get("title", ""), "source": meta["source"]},
            excluded_embed_metadata_keys=["source"],
            metadata_template="{value}",
        )
        for cid, doc, meta in chunks
    ]
    if not nodes:  # bm25s cannot save an empty index
        shutil.rmtree(final, ignore_errors=True)
        return 0
    retriever = BM25Retriever(nodes=nodes, stemmer=stemmer(), language=STOPWORDS, similarity_top_k=min(10, len(nodes)))
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    retriever.persist(str(tmp), show_progress=False)
    (tmp / "ids.json").write_text(json.dumps([n.node_id for n in nodes]), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return len(nodes)
