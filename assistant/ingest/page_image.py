"""A PDF page as a picture, the cited words marked on it: the original page
beside the extracted text a citation quotes.

The cited sentence is the extracted text (lines joined, hyphens at line
ends dropped, running headers gone), so it is found on the page by its
letters and digits alone, in order, and PDFium gives the boxes of the
characters that make it. A page with no text layer (a scan) is shown
unmarked: OCR keeps no boxes."""

from __future__ import annotations

import io
from pathlib import Path

WIDTH = 900  # px: the side panel's width on a desktop; a phone scales it down
_MARK = (255, 213, 0, 110)  # the yellow of the page's <mark class='cited'>, see-through


def _alnum(text: str) -> tuple[str, list[int]]:
    """`text`'s letters and digits, lower-cased, and where each one is in `text`."""
    keep = [(c.lower(), i) for i, c in enumerate(text) if c.isalnum()]
    return "".join(c for c, _ in keep), [i for _, i in keep]


def cited_boxes(textpage, quotes: list[str]) -> list[tuple[float, float, float, float]]:
    """PDF-space boxes (left, bottom, right, top) of each quote found on the
    page; a quote not there adds none."""
    page_text = textpage.get_text_range()  # one character per PDFium character index
    letters, at = _alnum(page_text)
    boxes = []
    for quote in quotes:
        want, _ = _alnum(quote)
        i = letters.find(want) if want else -1
        if i < 0:
            continue
        first, last = at[i], at[i + len(want) - 1]
        for k in range(textpage.count_rects(first, last - first + 1)):
            boxes.append(textpage.get_rect(k))
    return boxes


def render_page(data: bytes, page: int, quotes: list[str] = (), width: int = WIDTH) -> tuple[bytes, int]:
    """Page `page` (1-based) of the PDF `data` as a PNG `width` px wide, the
    `quotes` found on it marked; and how many boxes were marked. ValueError
    with a one-line reason when the file or the page cannot be shown."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        raise ValueError(f"cannot open the PDF ({e})") from None
    try:
        if not 1 <= page <= len(doc):
            raise ValueError(f"the PDF has no page {page} (it has {len(doc)})")
        pdf_page = doc[page - 1]
        w, h = pdf_page.get_size()
        scale = width / w
        image = pdf_page.render(scale=scale).to_pil().convert("RGBA")
        textpage = pdf_page.get_textpage()
        boxes = cited_boxes(textpage, list(quotes))
        textpage.close()
        pdf_page.close()
    finally:
        doc.close()
    if boxes:
        layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        for left, bottom, right, top in boxes:  # PDF space: y goes up from the page's foot
            draw.rectangle(
                (left * scale - 1, (h - top) * scale - 1, right * scale + 1, (h - bottom) * scale + 1), fill=_MARK
            )
        image = Image.alpha_composite(image, layer)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue(), len(boxes)


def original_page(path: Path, page: int, quotes: list[str] = (), width: int = WIDTH) -> tuple[bytes, int]:
    """`render_page` of the PDF file at `path`."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read {path.name} ({e.strerror})") from None
    return render_page(data, page, quotes, width)
