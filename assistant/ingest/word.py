"""Word files (.docx), read with python-docx. Chosen by measurement
(`benchmarks/bench_readers.py`, 2026-11-26): python-docx, docx2python and
mammoth all gave every word of a Word file written from a Wikipedia article
(recall 1.000, no noise); python-docx and docx2python in 14-30 ms, mammoth
(which converts to HTML first) in ~290 ms. python-docx is the most used and
maintained of them and needs only lxml; it also walks the body in order,
tables included, so text keeps the order it has in the document."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path


class DocxReader:
    """Paragraphs and tables of the document body in order, one paragraph a
    line (a table cell a line; a merged cell once); headers, footers and
    comments are left out, as page furniture."""

    suffixes = (".docx",)
    streamable = False
    isolated = True  # a zip bomb or a huge XML part must not stall the build

    def read(self, data: bytes, path: Path) -> str:
        import docx
        from docx.opc.exceptions import PackageNotFoundError

        if not data.startswith(b"PK"):
            raise ValueError("not a Word .docx file (not a zip archive; an old .doc, or renamed?)")
        try:
            document = docx.Document(io.BytesIO(data))
        except (zipfile.BadZipFile, PackageNotFoundError, KeyError) as e:
            raise ValueError(f"broken Word file ({type(e).__name__}: {e})"[:200]) from None
        except MemoryError:  # over the reading process's cap: said as such there (`ingest.isolate`)
            raise
        except Exception as e:  # lxml's XMLSyntaxError, ValueError of a bad part: a corrupt file
            raise ValueError(f"broken Word file ({type(e).__name__})") from None
        lines: list[str] = []
        _blocks(document, lines)
        text = "\n".join(lines)
        if not text.strip():
            raise ValueError("a Word file with no text")
        return text + "\n"


def _blocks(container, lines: list[str]) -> None:
    for block in container.iter_inner_content():
        if hasattr(block, "rows"):  # a table: its cells in reading order, nested tables too
            seen = set()
            for row in block.rows:
                for cell in row.cells:
                    if id(cell._tc) in seen:  # a merged cell is listed once per grid column it spans
                        continue
                    seen.add(id(cell._tc))
                    _blocks(cell, lines)
        elif block.text.strip():
            lines.append(block.text)
