"""The document readers, by file suffix. A new format is one module with a
`DocumentReader` (see `base.py`) plus one line in `READERS`."""

from __future__ import annotations

from pathlib import Path

from assistant.ingest.base import DocumentReader
from assistant.ingest.readers_text import check_text_head


class PlainText:
    """UTF-8 text, Markdown included (its markup is plain text to the
    cleaner); a leading BOM is dropped, so offsets index
    `open(path, encoding="utf-8-sig", newline="").read()`."""

    suffixes = (".txt", ".md")
    streamable = True

    def read(self, data: bytes, path: Path) -> str:
        check_text_head(data)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ValueError(f"not UTF-8 text (byte {e.start}: {data[e.start : e.start + 1]!r})") from None


# The others are imported here so that their libraries load only when a
# file of theirs is read (in the reading process, `ingest.isolate`).
from assistant.ingest.ocr import ImageReader  # noqa: E402
from assistant.ingest.pdf import PdfReader  # noqa: E402
from assistant.ingest.sheets import CsvReader, XlsxReader  # noqa: E402
from assistant.ingest.slides import PptxReader  # noqa: E402
from assistant.ingest.webpage import HtmlReader  # noqa: E402
from assistant.ingest.word import DocxReader  # noqa: E402

READERS: list[DocumentReader] = [
    PlainText(),
    PdfReader(),
    DocxReader(),
    HtmlReader(),
    CsvReader(),
    PptxReader(),
    XlsxReader(),
    ImageReader(),
]


def reader_for(path: Path) -> DocumentReader:
    """The reader of this file's suffix; ValueError when none takes it."""
    suffix = path.suffix.lower()
    for reader in READERS:
        if suffix in reader.suffixes:
            return reader
    raise ValueError(f"no reader for {suffix or 'files without a suffix'} files")


def known_suffixes() -> tuple[str, ...]:
    return tuple(s for r in READERS for s in r.suffixes)


def corpus_suffixes(file_types: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The suffixes a corpus is scanned for: those asked for, else every
    suffix a reader takes (so a new reader needs no setting)."""
    return tuple(e.lower() for e in file_types) or known_suffixes()
