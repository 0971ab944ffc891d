"""The texts the index keeps: for a file whose reader extracts its text
(PDF, Word, HTML), that text and its page starts, in
`index_dir/texts/<sha256 of the file>.json`. Citation offsets index this
text, so a citation can be shown and checked even after the file changed or
went; a plain-text file's text is the file itself and is not copied.
Written before the file's manifest entry is committed, pruned to the
manifest's files at the end of a build."""

from __future__ import annotations

import json
import os
from pathlib import Path

TEXTS = "texts"


def text_path(index_dir: Path, sha256: str) -> Path:
    return Path(index_dir) / TEXTS / f"{sha256}.json"


def keep_text(index_dir: Path, sha256: str, text: str, pages: list[int] | None) -> None:
    path = text_path(index_dir, sha256)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"text": text, "pages": pages}, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a reader sees the whole text or none


def kept_text(index_dir: Path, sha256: str) -> tuple[str, list[int] | None] | None:
    """(text, page starts) kept for the file of this sha256, None if none is."""
    try:
        data = json.loads(text_path(index_dir, sha256).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data["text"], data.get("pages")


def prune_texts(index_dir: Path, keep: set[str]) -> None:
    """Delete the kept texts of files the index no longer holds."""
    folder = Path(index_dir) / TEXTS
    if not folder.is_dir():
        return
    for path in folder.glob("*.json"):
        if path.stem not in keep:
            path.unlink(missing_ok=True)


def source_text(settings, source: str) -> str:
    """The text citation offsets of corpus file `source` index: the text the
    index kept of it (PDF, Word, HTML: as it was indexed, even if the file
    changed or went since), else what its reader gives now (for a text file,
    the file's text). CorpusError when there is no such file or it cannot
    be read."""
    from assistant.errors import CorpusError, IndexStoreError
    from assistant.ingest.files import outside_reason, read_file
    from assistant.ingest.isolate import read_text
    from assistant.ingest.readers import reader_for
    from assistant.stores.manifest import MANIFEST, read_manifest

    index_dir, corpus = Path(settings.index_dir), Path(settings.corpus)
    try:
        manifest = read_manifest(index_dir / MANIFEST) or {}
    except IndexStoreError:
        manifest = {}
    entry = manifest.get("files", {}).get(source)
    if entry:
        kept = kept_text(index_dir, entry["sha256"])
        if kept is not None:
            return kept[0]
    path = corpus / source
    root = corpus.resolve()
    if not source or Path(source).is_absolute() or outside_reason(path, root):
        raise CorpusError(f"No document {source!r} in corpus folder {corpus}")
    try:
        data = read_file(path, root)[0]
        return str(read_text(reader_for(path), data, path, settings.read_timeout, settings.read_memory_mb))
    except (OSError, ValueError) as e:
        raise CorpusError(f"Document {source} cannot be read: {e}") from None
