"""Load a corpus folder: every .txt/.md file, read, checked and cleaned.

Files that cannot be used (binary, not UTF-8, empty after cleaning) are
skipped with a warning; the rest of the corpus is still indexed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from .clean import CleanText, clean_text, extract_title
from .errors import CorpusError
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass
class SourceDoc:
    source: str  # path relative to the corpus folder, with forward slashes
    path: Path
    sha256: str
    title: str
    clean: CleanText

    @property
    def text(self) -> str:
        return self.clean.text


def list_files(corpus: Path, file_types: tuple[str, ...]) -> list[Path]:
    """The corpus files, sorted; hidden files and folders are left out."""
    if not corpus.exists():
        raise CorpusError(f"Corpus folder not found: {corpus}")
    if not corpus.is_dir():
        raise CorpusError(f"Corpus path is not a folder: {corpus}")
    exts = {e.lower() for e in file_types}
    files = [
        p
        for p in corpus.rglob("*")
        if p.is_file()
        and p.suffix.lower() in exts
        and not any(part.startswith(".") for part in p.relative_to(corpus).parts)
    ]
    return sorted(files)


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_doc(path: Path, corpus: Path, data: bytes | None = None) -> SourceDoc:
    """Read and clean one file; raises ValueError with the reason it is unusable.

    Offsets everywhere refer to the decoded text (a leading BOM dropped), i.e.
    `open(path, encoding="utf-8-sig", newline="").read()`.
    """
    if data is None:
        data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text (byte {e.start}: {data[e.start : e.start + 1]!r})") from None
    ct = clean_text(raw)
    if not ct.text.strip():
        raise ValueError("empty after cleaning")
    source = path.relative_to(corpus).as_posix()
    return SourceDoc(
        source=source,
        path=path,
        sha256=file_digest(data),
        title=extract_title(ct.text, fallback=path.stem),
        clean=ct,
    )


def load_corpus(settings: Settings) -> tuple[list[SourceDoc], list[str]]:
    """All usable documents of the corpus, and warnings for the skipped ones."""
    corpus = Path(settings.corpus)
    files = list_files(corpus, settings.file_types)
    if not files:
        raise CorpusError(f"No {'/'.join(settings.file_types)} files in corpus folder {corpus}")
    docs: list[SourceDoc] = []
    warnings: list[str] = []
    for path in files:
        try:
            docs.append(read_doc(path, corpus))
        except (OSError, ValueError) as e:
            msg = f"skipped {path.relative_to(corpus).as_posix()}: {e}"
            log.warning(msg)
            warnings.append(msg)
    return docs, warnings
