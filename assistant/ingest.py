"""Load a corpus folder: every .txt/.md file, read, checked and cleaned.

Files that cannot be used (binary, not UTF-8, empty after cleaning) are
skipped with a warning; the rest of the corpus is still indexed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
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
    """The corpus files, sorted; hidden files and folders are left out, and
    so is anything `outside_reason` rejects."""
    return scan_corpus(corpus, file_types)[0]


def scan_corpus(corpus: Path, file_types: tuple[str, ...]) -> tuple[list[Path], list[str]]:
    """(the corpus files, sorted; a warning for each file left out because
    reading it would leave the corpus). Directory symlinks are not followed
    (rglob does not descend into them)."""
    if not corpus.exists():
        raise CorpusError(f"Corpus folder not found: {corpus}")
    if not corpus.is_dir():
        raise CorpusError(f"Corpus path is not a folder: {corpus}")
    root = corpus.resolve()
    exts = {e.lower() for e in file_types}
    files, warnings = [], []
    for p in corpus.rglob("*"):
        rel = p.relative_to(corpus)
        if p.suffix.lower() not in exts or any(part.startswith(".") for part in rel.parts):
            continue
        reason = outside_reason(p, root)
        if reason:
            if reason != "not a file":
                warnings.append(f"skipped {rel.as_posix()}: {reason}")
            continue
        files.append(p)
    return sorted(files), sorted(warnings)


def outside_reason(path: Path, root: Path) -> str | None:
    """Why `path` must not be read as part of the corpus at `root` (resolved),
    or None. A symlink may point at another file of the corpus, never out of
    it (`passwd.txt -> /etc/passwd` would put that file in answers and in
    prompts sent to a model server); only regular files are read, so a FIFO
    cannot hang the build and a device or /proc file is never read."""
    try:
        real = path.resolve(strict=True)
        st = real.stat()
    except (OSError, RuntimeError):  # dangling link, loop, no permission
        return "not a file"
    if not real.is_relative_to(root):
        return "a link to a file outside the corpus folder"
    if not stat.S_ISREG(st.st_mode):
        return "not a file"
    return None


def read_file(path: Path, root: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of a corpus file, checked again at the moment it is read (it
    may have been swapped for a link or a FIFO since it was listed); raises
    OSError or ValueError."""
    reason = outside_reason(path, root)
    if reason:
        raise ValueError(reason)
    # O_NONBLOCK: a FIFO put in its place cannot block the open.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        return fh.read(), st


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_doc(path: Path, corpus: Path, data: bytes | None = None) -> SourceDoc:
    """Read and clean one file; raises ValueError with the reason it is unusable.

    Offsets everywhere refer to the decoded text (a leading BOM dropped), i.e.
    `open(path, encoding="utf-8-sig", newline="").read()`.
    """
    if data is None:
        data = read_file(path, corpus.resolve())[0]
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
