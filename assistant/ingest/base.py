"""What a document reader is: file bytes to the text that is cleaned,
chunked and cited (citation offsets index this text)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class DocumentReader(Protocol):
    """Reads one kind of file. `suffixes` are the file name endings it takes
    (lower case, with the dot). `streamable`: the text is the file's bytes
    decoded as they are, so a large file can be read in segments
    (`ingest.files.Segments`); other readers get the whole file at once.
    `read` raises ValueError with a one-line reason for a file it cannot use
    (binary, encrypted, broken); the file is then skipped with that reason."""

    suffixes: tuple[str, ...]
    streamable: bool

    def read(self, data: bytes, path: Path) -> str: ...
