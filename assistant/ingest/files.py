"""Load a corpus folder: every file a reader takes (text, Markdown, PDF,
Word, HTML, CSV, PowerPoint, Excel), read, checked and cleaned.

Files that cannot be used (binary, not UTF-8, encrypted, broken, no text,
too large, too slow to read) are skipped with a warning; the rest of the
corpus is still indexed.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from assistant.errors import CorpusError, FileChanged
from assistant.ingest.base import Titled
from assistant.ingest.clean import CleanText, clean_text, extract_title
from assistant.ingest.isolate import read_text
from assistant.ingest.readers import check_text_head, corpus_suffixes, reader_for
from assistant.settings import Settings

log = logging.getLogger(__name__)

# A file of more bytes than this is read, cleaned and chunked in segments of
# about this many characters (see `Segments`), so that an index build of a
# large file stores and commits its progress as it goes and never holds the
# whole file in memory. Smaller files are read whole. 128K characters of
# English prose are ~1,100 sentences: about one embedding group of `sync`.
SEGMENT_CHARS = 128 * 1024
_BLOCK = 1 << 20  # bytes read at a time when scanning a large file
_BOM = codecs.BOM_UTF8


@dataclass
class SourceDoc:
    source: str  # path relative to the corpus folder, with forward slashes
    path: Path
    sha256: str
    title: str
    clean: CleanText
    # Where each page starts in the reader's text (`clean.original`), for a
    # format with pages (PDF); None otherwise.
    pages: list[int] | None = None
    # The reader's text is not the file's bytes decoded (PDF, Word, HTML):
    # the index keeps it (`stores.texts`), as citations index it.
    extracted: bool = False

    def __post_init__(self):
        # Checked here, not when the index records it: a title that is not a
        # string (once `str.title`, a bound method) failed the whole build there.
        if not isinstance(self.title, str):
            raise TypeError(f"a document title must be a string, not {type(self.title).__name__}")

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
    exts = set(corpus_suffixes(file_types))
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
    if stat.S_ISDIR(st.st_mode):
        return "not a file"  # a folder named like a document: nothing to say
    if not stat.S_ISREG(st.st_mode):
        # Said, not silently passed over (the README promises a warning): a
        # FIFO named like a document is most likely a mistake worth seeing.
        kinds = {stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISSOCK: "a socket"}
        kind = next((name for test, name in kinds.items() if test(st.st_mode)), "a device")
        return f"{kind}, not a regular file: never read"
    return None


def open_file(path: Path, root: Path) -> tuple[BinaryIO, os.stat_result]:
    """A corpus file opened for reading, checked again at the moment it is
    opened (it may have been swapped for a link or a FIFO since it was
    listed); raises OSError or ValueError."""
    reason = outside_reason(path, root)
    if reason:
        raise ValueError(reason)
    # O_NONBLOCK: a FIFO put in its place cannot block the open.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    fh = os.fdopen(fd, "rb")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
    except BaseException:
        fh.close()
        raise
    return fh, st


def read_file(path: Path, root: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of a corpus file (see `open_file`); raises OSError or ValueError."""
    fh, st = open_file(path, root)
    with fh:
        return fh.read(), st


_check_head = check_text_head  # a large text file's segments are checked as a small file is


def _not_utf8(data: bytes, at: int, pos: int) -> ValueError:
    return ValueError(f"not UTF-8 text (byte {pos}: {data[at : at + 1]!r})")


@dataclass
class Segment:
    index: int
    byte_start: int  # in the file's bytes
    byte_end: int
    char_start: int  # in its decoded text (BOM dropped), where citations point
    char_end: int


def _cut(text: str, start: int, limit: int) -> int:
    """Where to end a segment that starts at `start` in `text` and holds at
    most `limit` characters: after the last paragraph break of its second
    half, else after its last line break, else after its last space, else
    at `limit`."""
    lo, hi = start + limit // 2, start + limit
    for sep in ("\n\n", "\n\r\n", "\n", " ", "\t"):
        i = text.rfind(sep, lo, hi)
        if i >= 0:
            return i + len(sep)
    return hi


class Segments:
    """A large file read in segments of about `segment_chars` characters.

    A first streaming pass computes the sha256 of the whole file's bytes,
    checks it the way `read_doc` checks a small file (NUL bytes in the first
    8 KB: binary; strict UTF-8, a leading BOM dropped) and finds the cut
    points, at a paragraph break if there is one near the limit, else a line
    break, else a space (see `_cut`). `text(k)` then reads segment k alone.
    Offsets (`Segment.char_start`) index the whole file's decoded text, as a
    small file's do. `text` raises ValueError if the file changed since the
    scan (size or mtime), so what is indexed matches `sha256`. Memory: one
    block and one segment at a time."""

    def __init__(self, fh: BinaryIO, st: os.stat_result, segment_chars: int):
        self.fh, self.st = fh, st
        self.segments: list[Segment] = []
        digest = hashlib.sha256()
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        fh.seek(0)
        pos = 0  # bytes read so far
        buf, buf_char, buf_byte = "", 0, 0  # the text since the last cut, and where it starts
        while True:
            data = fh.read(_BLOCK)
            final = not data
            if pos == 0:
                _check_head(data)
                if data.startswith(_BOM):
                    buf_byte = len(_BOM)
            digest.update(data)
            pending = decoder.getstate()[0]
            try:
                buf += decoder.decode(data[buf_byte:] if pos == 0 else data, final=final)
            except UnicodeDecodeError as e:
                base = (buf_byte if pos == 0 else pos) - len(pending)
                raise _not_utf8(pending + data[buf_byte if pos == 0 else 0 :], e.start, base + e.start) from None
            pos += len(data)
            i = 0  # where the next segment starts in buf
            while len(buf) - i > segment_chars or (final and len(buf) > i):
                cut = _cut(buf, i, segment_chars) if len(buf) - i > segment_chars else len(buf)
                nbytes = len(buf[i:cut].encode("utf-8"))
                chars = cut - i
                self.segments.append(
                    Segment(len(self.segments), buf_byte, buf_byte + nbytes, buf_char, buf_char + chars)
                )
                i, buf_char, buf_byte = cut, buf_char + chars, buf_byte + nbytes
            buf = buf[i:]
            if final:
                break
        self.sha256 = digest.hexdigest()

    def text(self, k: int) -> str:
        """The decoded text of segment k."""
        st = os.fstat(self.fh.fileno())
        if (st.st_size, st.st_mtime_ns) != (self.st.st_size, self.st.st_mtime_ns):
            raise FileChanged("it changed while being indexed")
        seg = self.segments[k]
        self.fh.seek(seg.byte_start)
        data = self.fh.read(seg.byte_end - seg.byte_start)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:  # it changed within the same mtime
            raise FileChanged("it changed while being indexed") from e


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def too_large(size: int, max_mb: float) -> str | None:
    """The skip reason of a file over `settings.max_file_mb`, or None."""
    if size > max_mb * 2**20:
        return f"larger than {max_mb:g} MB ({size / 2**20:,.1f} MB; the max_file_mb setting)"
    return None


def own_title(raw: str) -> str | None:
    """The title a reader found in the file itself (PDF metadata, HTML
    <title>, Word's core properties), if any. Asked of `Titled` only: `getattr(text, "title")` on a plain `str` is
    its bound method `str.title`, which once became a document's title and
    failed every build of its corpus."""
    title = raw.title if isinstance(raw, Titled) else None
    return title if isinstance(title, str) and title.strip() else None


def read_doc(
    path: Path, corpus: Path, data: bytes | None = None, timeout: float = 120.0, memory_mb: float | None = None
) -> SourceDoc:
    """Read and clean one file; raises ValueError with the reason it is unusable.

    Offsets everywhere refer to the text the file's reader gives
    (`ingest.readers`); for a text file, its decoded text with a leading BOM
    dropped, i.e. `open(path, encoding="utf-8-sig", newline="").read()`; for
    PDF, Word and HTML, the text extracted from it, which the index keeps.
    A reader that is `isolated` gets `timeout` seconds and `memory_mb` of
    memory (`ingest.isolate`).
    """
    if data is None:
        data = read_file(path, corpus.resolve())[0]
    reader = reader_for(path)
    raw = read_text(reader, data, path, timeout, memory_mb)
    ct = clean_text(raw)
    if not ct.text.strip():
        raise ValueError("empty after cleaning")
    source = path.relative_to(corpus).as_posix()
    return SourceDoc(
        source=source,
        path=path,
        sha256=file_digest(data),
        # The title the file gives itself (PDF metadata, HTML <title>, Word's
        # core properties), else the first line (a heading, a running
        # header or a copyright line may come first), else the file name.
        title=own_title(raw) or extract_title(ct.text, fallback=path.stem),
        clean=ct,
        pages=getattr(raw, "pages", None),
        extracted=not reader.streamable,
    )


def load_corpus(settings: Settings) -> tuple[list[SourceDoc], list[str]]:
    """All usable documents of the corpus, and warnings for the skipped ones."""
    corpus = Path(settings.corpus)
    files, warnings = scan_corpus(corpus, settings.file_types)  # a FIFO, a link out: warned about, as a build does
    if not files:
        raise CorpusError(f"No {'/'.join(corpus_suffixes(settings.file_types))} files in corpus folder {corpus}")
    docs: list[SourceDoc] = []
    for path in files:
        try:
            reason = too_large(path.stat().st_size, settings.max_file_mb)
            if reason:
                raise ValueError(reason)
            docs.append(read_doc(path, corpus, timeout=settings.read_timeout, memory_mb=settings.read_memory_mb))
        except (OSError, ValueError) as e:
            msg = f"skipped {path.relative_to(corpus).as_posix()}: {e}"
            log.warning(msg)
            warnings.append(msg)
    return docs, warnings
