"""PowerPoint decks (.pptx), read with python-pptx: the reader the Python
tools that convert decks build on (unstructured, MarkItDown), by
python-docx's author and on lxml as python-docx is. It read all 67 decks of its
repository's test files (charts, groups, tables, notes, placeholders)
without an error here (2026-12-07); those with no slides, or only charts
and pictures, are skipped with that reason. `benchmarks/bench_readers.py`:
every word of a 20-slide deck, notes included, in 169 ms on a loaded
machine (its text frames alone hold 79 % of them). A slide is a page
(`PagedText`), so a citation says its slide number."""

from __future__ import annotations

import io
from pathlib import Path

from assistant.ingest.archives import office_reading
from assistant.ingest.base import PagedText, sensible_title
from assistant.ingest.tables import table_lines

# Placeholders whose paragraphs are bulleted unless they say otherwise (the
# slide master's body style), by their type's value in python-pptx.
_BODY = {2, 6, 7, 17}  # BODY, VERTICAL_BODY, OBJECT, VERTICAL_OBJECT
# Page furniture, as a PDF's running headers and footers are.
_FURNITURE = {13, 14, 15, 16}  # SLIDE_NUMBER, HEADER, FOOTER, DATE
_BULLET_TAGS = "a:buNone|a:buChar|a:buAutoNum|a:buBlip"


class PptxReader:
    """A slide a page: its title, then the text of its other shapes in the
    deck's reading order (the order of its shapes, which is the order
    PowerPoint's Selection Pane and screen readers use), groups opened,
    tables a row sentence each (`tables.row_sentences`), then the slide's
    speaker notes. Bulleted paragraphs start with "• " (list items, not
    headings, to the chunker). Slide numbers, dates and footers are left
    out, as are pictures, charts and SmartArt; hidden slides are read (they
    are the author's text, and the slides after them keep their numbers)."""

    suffixes = (".pptx",)
    streamable = False
    isolated = True  # a zip bomb or a huge XML part must not stall the build

    def read(self, data: bytes, path: Path) -> str:
        import pptx

        with office_reading(data, "PowerPoint", ".pptx"):
            deck = pptx.Presentation(io.BytesIO(data))
            slides = [_slide_lines(slide) for slide in deck.slides]
            title = sensible_title(deck.core_properties.title) or _first_title(deck)
        if not slides:
            raise ValueError("a PowerPoint file with no slides")
        parts: list[str] = []
        pages: list[int] = []
        at = 0
        for lines in slides:
            pages.append(at)
            text = "".join(line + "\n" for line in lines)
            parts.append(text)
            at += len(text)
        text = "".join(parts)
        if not text.strip():
            raise ValueError(f"a PowerPoint file with no text in its {len(slides)} slide(s) (pictures or charts only?)")
        return PagedText(text, pages, title)


def _first_title(deck) -> str | None:
    first = next(iter(deck.slides), None)
    shape = first.shapes.title if first is not None else None
    if shape is not None and shape.has_text_frame:
        return " ".join(shape.text_frame.text.split())[:200] or None
    return None


def _slide_lines(slide) -> list[str]:
    lines: list[str] = []
    title = slide.shapes.title
    if title is not None:
        _shape_lines(title, lines)
    for shape in slide.shapes:
        if title is None or shape.shape_id != title.shape_id:
            _shape_lines(shape, lines)
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        lines.extend(_paragraph_lines(slide.notes_slide.notes_text_frame, lambda p: False))
    return lines


def _placeholder_type(shape) -> int | None:
    return int(shape.placeholder_format.type) if shape.is_placeholder else None


def _shape_lines(shape, lines: list[str]) -> None:
    kind = _placeholder_type(shape)
    if kind in _FURNITURE:
        return
    if hasattr(shape, "shapes"):  # a group: its shapes in order
        for inner in shape.shapes:
            _shape_lines(inner, lines)
    elif getattr(shape, "has_table", False):
        lines.extend(_table_lines(shape.table))
    elif shape.has_text_frame:
        lines.extend(_paragraph_lines(shape.text_frame, lambda p: _bulleted(shape, kind, p)))


def _paragraph_lines(frame, bulleted) -> list[str]:
    # A line break inside a paragraph (python-pptx gives "\v") is layout,
    # not a new sentence: a space.
    out = []
    for p in frame.paragraphs:
        text = " ".join(p.text.replace("\v", " ").split())
        if text:
            out.append(f"• {text}" if bulleted(p) else text)
    return out


def _bulleted(shape, kind: int | None, paragraph) -> bool:
    """Whether the paragraph shows a bullet: as it says itself, else as its
    layout's placeholder says at its level, else as the master's body style
    does (bullets in body placeholders, none elsewhere)."""
    own = paragraph._p.pPr.xpath(_BULLET_TAGS) if paragraph._p.pPr is not None else []
    if not own and kind is not None:
        base = getattr(shape, "_base_placeholder", None)
        if base is not None:
            level = f"./p:txBody/a:lstStyle/a:lvl{paragraph.level + 1}pPr/"
            own = base._element.xpath("|".join(level + tag for tag in _BULLET_TAGS.split("|")))
    if own:
        return not own[0].tag.endswith("}buNone")
    return kind in _BODY


def _table_lines(table) -> list[str]:
    """A table as in a Word file (`word._table_lines`): with a header row,
    a sentence a row that names its columns; a cell merged over others is
    read once (the cells it spans are empty)."""
    rows = [
        [" ".join(cell.text.replace("\v", " ").split()) for cell in row.cells if not cell.is_spanned]
        for row in table.rows
    ]
    return table_lines(rows)
