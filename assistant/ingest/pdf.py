"""PDF files, read with pypdfium2 (Google's PDFium, the engine of Chrome's
PDF viewer). Chosen by measurement (`benchmarks/bench_readers.py`,
2026-11-26, 2 shared cores, two runs): on PDFs written from Wikipedia prose
and on the two PDFs Debian ships, pypdf 7.1.0, pdfminer.six and pypdfium2
gave the same words (recall 0.999-1.000 of what was written; 0.97-0.995
agreement with each other on the Debian files), and pypdfium2 read them
4-24 times faster (a 20-page PDF in 33-148 ms against 263-524 ms for pypdf
and 1.4-2.1 s for pdfminer.six). It is one wheel with no Python
dependencies, and it marks words hyphenated at a line end, so they are
joined again here."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.ingest.base import PagedText

# PDFium marks a hyphen it added at a line end with U+FFFE (or \x02): the
# word continues on the next line, so marker and line break go.
_SOFT_BREAK = re.compile(r"[\ufffe\x02](?:\r?\n)?")
_DIGITS = re.compile(r"\d+")
_FILE_NAME = re.compile(r"\.(docx?|pdf|odt|rtf|txt|tex|dvi|ps|indd|pages)$")
_BULLETS = "•·▪◦*-–—"
_NUMBERED = re.compile(r"\d{1,2}(?:\.\d{1,2})*[.)]\s")  # "1. ", "2.3) ": a list item or section


def _reason(error: Exception) -> str:
    msg = str(error).lower()
    if "password" in msg:
        return "encrypted PDF (it needs a password)"
    if "format" in msg or "file" in msg:
        return "broken PDF (PDFium cannot parse it)"
    return f"unreadable PDF ({error})"


def _furniture(pages: list[list[str]]) -> list[set[int]]:
    """Running headers and footers: for each page, the indices of its lines
    that are one. Such a line is among the first or last two lines of a page
    that has other text, and recurs word for word on most pages (more than
    half, and three or more), numbers aside only where they are page
    numbers: each number of the line is the same on every page ("Annual
    report 2025") or goes up with the page ("Page 3 of 20"). A line that
    recurs with other numbers ("Room 101 seats 40 people.", "Total due: 1250
    EUR.") is text, and so is a page's only line: a rule that looked at
    recurrence alone dropped those, and whole documents with them."""
    drop: list[set[int]] = [set() for _ in pages]
    if len(pages) < 3:
        return drop
    seen: dict[str, list[tuple[int, int, list[int]]]] = {}  # template -> (page, line, its numbers)
    for k, lines in enumerate(pages):
        full = [i for i, x in enumerate(lines) if x.strip()]
        if len(full) < 2:
            continue
        for i in dict.fromkeys(full[:2] + full[-2:]):
            line = " ".join(lines[i].split())
            numbers = [int(n) for n in _DIGITS.findall(line)]
            seen.setdefault(_DIGITS.sub("#", line), []).append((k, i, numbers))
    for found in seen.values():
        on = len({k for k, _, _ in found})
        if on < 3 or 2 * on <= len(pages):
            continue
        columns = zip(*(numbers for _, _, numbers in found))
        if all(len(set(c)) == 1 or len({n - k for n, (k, _, _) in zip(c, found)}) == 1 for c in columns):
            for k, i, _ in found:
                drop[k].add(i)
    return drop


def _flow(lines: list[str], width: float) -> str:
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


class PdfReader:
    """The text of each page in order, the lines of a paragraph joined, the
    running headers and footers left out; pages are joined by a line break
    (a space when a paragraph goes on over the page), and `PagedText.pages`
    says where each starts. A PDF with no text at all (a scan) is refused:
    it would need OCR."""

    suffixes = (".pdf",)
    streamable = False
    isolated = True  # PDFium is C code: a hostile file could hang it

    def read(self, data: bytes, path: Path) -> str:
        import pypdfium2 as pdfium

        if b"%PDF-" not in data[:1024]:
            raise ValueError("not a PDF file (no %PDF header)")
        try:
            doc = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as e:
            raise ValueError(_reason(e)) from None
        raw: list[list[str]] = []
        try:
            title = _title(doc.get_metadata_dict())
            for i in range(len(doc)):
                page = doc[i]
                textpage = page.get_textpage()
                try:
                    text = textpage.get_text_range()
                finally:
                    textpage.close()
                    page.close()
                text = _SOFT_BREAK.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
                raw.append([x.rstrip() for x in text.split("\n")])
        except pdfium.PdfiumError as e:
            raise ValueError(_reason(e)) from None
        finally:
            doc.close()
        if not raw:
            raise ValueError("a PDF with no pages")
        drop = _furniture(raw)
        raw = [[x for i, x in enumerate(lines) if x.strip() and i not in out] for lines, out in zip(raw, drop)]
        lengths = sorted(len(x) for lines in raw for x in lines if len(x) > 20)
        width = lengths[len(lengths) // 2] if lengths else 0.0  # the median line: a full one
        parts: list[str] = []
        pages: list[int] = []
        at = 0
        for k, lines in enumerate(raw):
            text = _flow(lines, width)
            if parts:  # between pages: a paragraph that goes on, or a new one
                prev = raw[k - 1][-1] if raw[k - 1] else ""
                goes_on = text[:1].islower() or not prev.rstrip().endswith((".", "!", "?", ":", '"', "”"))
                sep = " " if prev and len(prev) >= 0.8 * width and goes_on else "\n"
                parts.append(sep)
                at += 1
            pages.append(at)
            parts.append(text)
            at += len(text)
        text = "".join(parts)
        if not text.strip():
            raise ValueError(f"no text layer in its {len(pages)} page(s) (a scan? it would need OCR)")
        return PagedText(text + "\n", pages, title)


def _title(meta: dict) -> str | None:
    """The Title of the PDF's metadata, unless it is empty or a file name that
    an exporting program put there ("Microsoft Word - report.docx", "untitled")."""
    title = " ".join(str(meta.get("Title") or "").split())
    low = title.lower()
    if not title or low in ("untitled", "title") or low.startswith("microsoft word - ") or _FILE_NAME.search(low):
        return None
    return title[:200]
