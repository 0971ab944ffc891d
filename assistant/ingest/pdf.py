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

from assistant.ingest.base import PagedText, sensible_title
from assistant.ingest.lines import flow, full_width

# PDFium marks a hyphen it added at a line end with U+FFFE (or \x02): the
# word continues on the next line, so marker and line break go.
_SOFT_BREAK = re.compile(r"[\ufffe\x02](?:\r?\n)?")
_DIGITS = re.compile(r"\d+")


def _reason(error: Exception) -> str:
    msg = str(error).lower()
    if "password" in msg:
        return "encrypted PDF (it needs a password)"
    if "format" in msg or "file" in msg:
        return "broken PDF (PDFium cannot parse it)"
    return f"unreadable PDF ({error})"


# A running header or footer is peeled from a page's edges only, at most
# this many lines from each (a letterhead and a title; a footer and a page
# number): a line further in, or behind a line that is text, is text.
_DEPTH = 2
# The one number a header or footer may change from page to page is a page
# number: it goes up by one with the page (the same offset from the page's
# index on every page that has the line) and lies between 0 and twice the
# page count plus _FRONT_MATTER (numbering may skip or count a cover,
# contents and preface). An invoice or case number that goes up with the
# page ("Invoice 8001", "Invoice 8002") is larger, so it is text.
_FRONT_MATTER = 20


def _keys(line: str, k: int, count: int) -> list[tuple]:
    """The forms in which `line`, on page `k` of `count`, recurs if it is a
    running header or footer: word for word, or with one of its numbers a
    page number, keyed by its offset from the page index (so that only a
    number going up by one with the page matches) and the other numbers
    kept as written."""
    numbers = _DIGITS.findall(line)
    template = _DIGITS.sub("#", line)
    keys: list[tuple] = [(line,)]
    for j, n in enumerate(numbers):
        if int(n) <= 2 * count + _FRONT_MATTER:
            keys.append((template, j, *numbers[:j], *numbers[j + 1 :], int(n) - k))
    return keys


def _furniture(pages: list[list[str]]) -> list[set[int]]:
    """Running headers and footers: for each page, the indices of its lines
    that are one. They are peeled from the top, then from the bottom, while
    the page's outermost remaining line (at most `_DEPTH` deep) recurs at
    the same edge, in one of its `_keys` forms, on more than half of the
    pages that have text, and on three or more. A page whose every line
    would go keeps them all: they are its text (a file is never taken for a
    scan because of this rule). Recurrence alone is not enough: "Total due:
    1250 EUR." between two lines of text on each invoice page is text, and
    so is a line whose other numbers change ("Room 101", "Room 102")."""
    drop: list[set[int]] = [set() for _ in pages]
    full = [[i for i, x in enumerate(lines) if x.strip()] for lines in pages]
    texted = sum(1 for idx in full if idx)
    if texted < 3:
        return drop
    keys: dict[tuple[int, int], list[tuple]] = {}
    on: dict[tuple, set[int]] = {}  # (edge, key) -> the pages where the line recurs
    for k, (lines, idx) in enumerate(zip(pages, full)):
        for edge, ends in (("top", idx[:_DEPTH]), ("bottom", idx[-_DEPTH:])):
            for i in ends:
                if (k, i) not in keys:
                    keys[k, i] = _keys(" ".join(lines[i].split()), k, len(pages))
                for key in keys[k, i]:
                    on.setdefault((edge, key), set()).add(k)

    def recurs(edge: str, k: int, i: int) -> bool:
        return any(len(p) >= 3 and 2 * len(p) > texted for p in (on[edge, key] for key in keys[k, i]))

    for k, idx in enumerate(full):
        top, bottom = 0, len(idx)
        while top < min(_DEPTH, len(idx)) and recurs("top", k, idx[top]):
            top += 1
        while bottom > max(top, len(idx) - _DEPTH) and recurs("bottom", k, idx[bottom - 1]):
            bottom -= 1
        if top < bottom:  # else every line would go: they are the page's text
            drop[k] = set(idx[:top] + idx[bottom:])
    return drop


class PdfReader:
    """The text of each page in order, the lines of a paragraph joined, the
    running headers and footers left out; pages are joined by a line break
    (a space when a paragraph goes on over the page), and `PagedText.pages`
    says where each starts. A page with no text layer (a scan, a page
    pasted as a picture) is rendered and read by OCR (`ingest.ocr`), its
    lines then treated as a text page's are."""

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
        big = None
        try:
            title = _title(doc.get_metadata_dict())
            for i in range(len(doc)):
                page = doc[i]
                textpage = page.get_textpage()
                try:
                    text = textpage.get_text_range()
                    if not text.strip():
                        text = self._ocr(page)
                    elif i == 0 and title is None:
                        big = _largest_line(textpage, text)
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
        if title is None and big and big in (x.strip() for x in raw[0]):  # never a running header
            title = sensible_title(big)
        width = full_width(raw)
        parts: list[str] = []
        pages: list[int] = []
        at = 0
        for k, lines in enumerate(raw):
            text = flow(lines, width)
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
            raise ValueError(f"no text in its {len(pages)} page(s), not even by OCR (a picture with no words?)")
        return PagedText(text + "\n", pages, title)

    def _ocr(self, page) -> str:
        from assistant.ingest import ocr

        beat = getattr(self, "heartbeat", None)
        if beat:  # the reading process's watchdog counts from the last page (`ingest.isolate`)
            beat()
        width, height = page.get_size()  # points, 1/72 in
        image = page.render(scale=ocr.REC_SIDE / max(width, height, 1.0)).to_pil()
        return "\n".join(ocr.lines(image))


def _largest_line(textpage, text: str) -> str | None:
    """The first line of the page set in its largest type, when that is
    larger than most of the page's letters (its body text): a title, when
    the file's metadata gives none. Sizes from PDFium, per character."""
    from pypdfium2 import raw as pdfium_c

    lines: list[tuple[float, str]] = []
    sizes: list[float] = []
    for m in re.finditer(r"[^\r\n]+", text):
        line = [
            round(pdfium_c.FPDFText_GetFontSize(textpage.raw, i), 1)
            for i in range(m.start(), m.end())
            if not text[i].isspace()
        ]
        if line:
            sizes += line
            lines.append((max(line), m.group().strip()))
    if not lines:
        return None
    body = sorted(sizes)[len(sizes) // 2]
    size, line = max(lines, key=lambda x: x[0])  # max keeps the first of equals
    return _SOFT_BREAK.sub("", line) if size > body and 3 <= len(line) <= 200 else None


def _title(meta: dict) -> str | None:
    """The Title of the PDF's metadata, unless an exporting program made it up."""
    return sensible_title(meta.get("Title"))
