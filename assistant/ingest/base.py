"""What a document reader is: file bytes to the text that is cleaned,
chunked and cited (citation offsets index this text)."""

from __future__ import annotations

import re
from bisect import bisect_right
from pathlib import Path
from typing import Protocol, runtime_checkable

_FILE_NAME = re.compile(r"\.(docx?|pptx?|xlsx?|pdf|odt|odp|ods|rtf|txt|tex|dvi|ps|indd|pages|html?)$")
# What Office puts in a file's properties or a PDF it exports: not a title.
_DEFAULTS = ("untitled", "title", "document", "presentation", "powerpoint presentation", "slide 1")
_EXPORTERS = ("microsoft word - ", "microsoft powerpoint - ", "microsoft excel - ")


def sensible_title(title: object) -> str | None:
    """A title a file's metadata gives, unless it is empty or what an
    exporting program put there: a file name ("Microsoft Word - report.docx"),
    "untitled", "Title", "Document", "PowerPoint Presentation"."""
    title = " ".join(str(title or "").split())
    low = title.lower()
    if not title or low in _DEFAULTS or low.startswith(_EXPORTERS):
        return None
    return None if _FILE_NAME.search(low) else title[:200]


class Titled(str):
    """A reader's text with the title the file gives itself (HTML <title>,
    Word's core properties, PDF metadata), or None: a `str`, so any code
    that takes a reader's text takes it."""

    title: str | None

    def __new__(cls, text: str, title: str | None = None):
        self = super().__new__(cls, text)
        self.title = title
        return self

    def __reduce__(self):  # pickled to and from the reading process (`ingest.isolate`)
        return Titled, (str(self), self.title)


class PagedText(Titled):
    """The text of a document with pages (PDF): a `str`, so any code that
    takes a reader's text takes it, plus `pages`, the offset in the text
    where each page starts (`pages[0] == 0`, one entry per page, empty
    pages included), and `title`, the title the file gives itself, if any."""

    pages: list[int]
    title: str | None  # the document's own title (PDF metadata), if it has a sensible one

    def __new__(cls, text: str, pages: list[int], title: str | None = None):
        self = super().__new__(cls, text, title)
        self.pages = list(pages)
        return self

    def __reduce__(self):  # pickled to and from the reading process (`ingest.isolate`)
        return PagedText, (str(self), self.pages, self.title)


def page_of(pages: list[int] | None, offset: int) -> int | None:
    """The 1-based page holding `offset` of the text, None without pages."""
    return bisect_right(pages, offset) if pages else None


@runtime_checkable
class DocumentReader(Protocol):
    """Reads one kind of file. `suffixes` are the file name endings it takes
    (lower case, with the dot). `streamable`: the text is the file's bytes
    decoded as they are, so a large file can be read in segments
    (`ingest.files.Segments`); other readers get the whole file at once, and
    the index keeps the text they return (`stores.texts`), so citations can
    be shown and checked whatever becomes of the file.
    `read` raises ValueError with a one-line reason for a file it cannot use
    (binary, encrypted, broken); the file is then skipped with that reason.
    It may return a `PagedText` (a str with page starts): passages and
    citations then carry their page.

    Optional: `isolated = True` runs `read` in a separate process
    (`ingest.isolate`), abandoned after `settings.read_timeout` seconds: for
    parsers of binary formats that could hang or crash on a hostile file.
    There, a reader that reads page by page may call `self.heartbeat()`, if
    set, before each page: the time limit then counts from the last call."""

    suffixes: tuple[str, ...]
    streamable: bool

    def read(self, data: bytes, path: Path) -> str: ...
