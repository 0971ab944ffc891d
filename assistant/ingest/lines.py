"""A page's lines joined back into paragraphs: for the lines PDFium gives
of a PDF page and those OCR finds in a picture alike."""

from __future__ import annotations

import re

_BULLETS = "•·▪◦*-–—"
_NUMBERED = re.compile(r"\d{1,2}(?:\.\d{1,2})*[.)]\s")  # "1. ", "2.3) ": a list item or section


def full_width(pages: list[list[str]]) -> float:
    """The length of a full line: the median line of the document."""
    lengths = sorted(len(x) for lines in pages for x in lines if len(x) > 20)
    return lengths[len(lengths) // 2] if lengths else 0.0


def flow(lines: list[str], width: float) -> str:
    """A page's lines, those of one paragraph joined by spaces: a line as
    long as most of the document's goes on in the next one (sentences are
    split line by line downstream, `ingest.chunk`); a short line ends its
    paragraph (a heading, a paragraph's last line), as does a line before a
    bullet."""
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if i + 1 < len(lines):
            nxt = lines[i + 1].lstrip()
            joins = len(line) >= 0.8 * width and nxt[:1] not in _BULLETS and not _NUMBERED.match(nxt)
            out.append(" " if joins else "\n")
    return "".join(out)
