"""Word files (.docx), read with python-docx. Chosen by measurement
(`benchmarks/bench_readers.py`, 2026-11-26): python-docx, docx2python and
mammoth all gave every word of a Word file written from a Wikipedia article
(recall 1.000, no noise); python-docx and docx2python in 14-30 ms, mammoth
(which converts to HTML first) in ~290 ms. python-docx is the most used and
maintained of them and needs only lxml; it also walks the body in order,
tables included, so text keeps the order it has in the document."""

from __future__ import annotations

import io
from pathlib import Path

from assistant.ingest.archives import office_reading
from assistant.ingest.base import Titled, sensible_title
from assistant.ingest.tables import table_lines


class DocxReader:
    """Paragraphs and tables of the document body in order, one paragraph a
    line, a table row a sentence that names its columns (`_table_lines`);
    headers, footers and comments are left out, as page furniture."""

    suffixes = (".docx",)
    streamable = False
    isolated = True  # a zip bomb or a huge XML part must not stall the build

    def read(self, data: bytes, path: Path) -> str:
        import docx

        with office_reading(data, "Word", ".docx"):
            document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        _blocks(document, lines)
        text = "\n".join(lines)
        if not text.strip():
            raise ValueError("a Word file with no text")
        return Titled(text + "\n", _title(document))


def _title(document) -> str | None:
    """The title in the file's properties, unless an exporter made it up;
    else its first paragraph styled Title or Heading 1."""
    title = sensible_title(document.core_properties.title)
    if title:
        return title
    for p in document.paragraphs:
        if p.style is not None and p.style.name in ("Title", "Heading 1") and p.text.strip():
            return " ".join(p.text.split())[:200]
    return None


def _blocks(container, lines: list[str]) -> None:
    for block in container.iter_inner_content():
        if hasattr(block, "rows"):
            lines.extend(_table_lines(block))
        elif block.text.strip():
            lines.append(block.text)


def _cell_text(cell) -> str:
    """A cell's text on one line: its paragraphs, and any table nested in it."""
    inner: list[str] = []
    _blocks(cell, inner)
    return " ".join(" ".join(inner).split())


def _table_lines(table) -> list[str]:
    """A table as its author laid it out: with a header row, each further
    row one sentence that names its columns ("Office: Gdansk; Role:
    Software; Staff: 85"), so a row can be found, quoted and cited on its
    own; without one (a single row or column, or an empty header cell), each
    cell a line. A cell merged across columns is read once per row: cells
    are matched by their XML element, kept alive in `seen` (an `id()` of a
    proxy lxml made and dropped can be reused by the next cell's)."""
    rows: list[list[str]] = []
    for row in table.rows:
        seen: list = []
        cells = []
        for cell in row.cells:
            if any(cell._tc is tc for tc in seen):
                continue
            seen.append(cell._tc)
            cells.append(_cell_text(cell))
        rows.append(cells)
    return table_lines(rows)
