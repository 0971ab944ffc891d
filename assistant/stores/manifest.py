"""The manifest (`index_dir/manifest.json`): per-file content hash and counts,
the settings signature, and `complete`, which is true only after a build
finished. Files are committed to it only after their chunks are stored, so
an interrupted build resumes where it stopped and is never taken as
complete; a large file stored in part has a `partial` entry instead.

Server mode: the server is the truth and `index_dir` a cache of it; when the
server's build token differs from the manifest's, the manifest is derived
again from the chunks' metadata (`manifest_from_store`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from assistant.errors import IndexStoreError
from assistant.settings import ChromaSettings, IndexSettings

MANIFEST = "manifest.json"
FORMAT = 8  # 8: sentences split by punkt's English model
MARKER = "assistant-index"


def signature(index: IndexSettings, chroma: ChromaSettings, embedder_id: str) -> dict:
    """What the stored vectors and chunks depend on; a change means a rebuild."""
    return {
        "format": FORMAT,
        "embedder": embedder_id,
        "chunk_size": index.chunk_size,
        "chunk_overlap": index.chunk_overlap,
        "unit_max_tokens": index.unit_max_tokens,
        "corpus": str(Path(index.corpus).resolve()),
        # Where the vectors are: another server or database is another index.
        "chroma": [
            chroma.chroma_url,
            chroma.chroma_tenant,
            chroma.chroma_database,
            chroma.chroma_prefix,
            chroma.chroma_namespace,
        ]  # fmt: skip
        if chroma.chroma_url
        else None,
        # Another vector store is another index (left out for Chroma, so
        # indexes built before the setting existed stay valid).
        **({"vector_store": index.vector_store} if index.vector_store != "chroma" else {}),
    }


def read_manifest(path: Path) -> dict | None:
    """The manifest, None if there is none; IndexStoreError if unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise IndexStoreError(f"Index manifest {path} is corrupt: {e}") from e
    if not isinstance(data, dict) or data.get("marker") != MARKER:
        raise IndexStoreError(f"Index manifest {path} is corrupt or foreign")
    return data


def write_manifest(path: Path, manifest: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)  # atomic: readers see old or new


def keep_times(derived: dict, previous: dict | None) -> dict:
    """`derived` (a manifest from the chunks' metadata, which hold no times)
    with the `indexed_at` of each file `previous` had in the same version."""
    old = (previous or {}).get("files", {})
    for source, f in derived["files"].items():
        was = old.get(source) or {}
        if was.get("sha256") == f["sha256"] and "indexed_at" in was:
            f["indexed_at"] = was["indexed_at"]
    return derived


def manifest_from_chunks(metadatas: Iterable[dict], sig: dict) -> dict:
    """The manifest the stored chunks' metadata imply (see
    `index.manifest_from_store`): every file whose chunks
    are all there (a file cut short by an interrupted build is left out, and
    so is re-indexed or removed by the next sync, as is a file written by an
    older version, whose chunks lack the `units` key). Of a large file read in
    segments whose last segments are missing, the segments stored whole from
    its start are its `partial` entry, so the next sync continues it."""
    files: dict[str, dict] = {}
    stored: set[str] = set()
    for meta in metadatas:
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
