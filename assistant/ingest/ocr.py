"""Text from pictures of pages: scanned PDFs and image files, read by
RapidOCR (PaddleOCR's PP-OCRv4 text detection and recognition networks in
ONNX). The `rapidocr_onnxruntime` wheel ships the networks themselves
(16 MB), so nothing is downloaded, and it runs on onnxruntime, which the
embedder already uses. Figures (`benchmarks/bench_ocr.py`, README
"Documents"): words right on a clean 300-dpi page, and seconds a page.

The orientation classifier is off: it doubles the time of a page and only
helps with text upside down; scans are upright far more often than not."""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path

from assistant.ingest.base import PagedText, Titled

# Lines are found on the page scaled to DET_SIDE px on its long side and
# read from it scaled to REC_SIDE. RapidOCR's own call does both at one size,
# 2,000 by default, where 11-pt text on a US Letter page is ~30 px high and
# the recognizer runs words together ("SouthKoreaisreversing"): 86 % of a
# clean page's words right, against 99.6 % at 2,600 px (about 240 dpi). The
# finder needs no such detail: at 1,300 px it finds the same 44 lines of a
# page, for a quarter of the time and memory of 2,600 (tests/ingest/test_ocr.py
# scores the words; benchmarks/bench_ocr.py times it).
DET_SIDE = 1300
REC_SIDE = 2600
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")


@cache  # the networks load once per process (~0.6 s)
def _engine():
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(use_cls=False, print_verbose=False)


def _scaled(image, side: int):
    scale = side / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale))) if scale < 1 else image


def lines(image) -> list[str]:
    """The lines of text in `image` (a PIL image), top to bottom and left
    to right as RapidOCR orders the boxes it finds; each box is a line (two
    columns side by side stay two lines, in their order on the page)."""
    import numpy as np

    engine = _engine()
    page = _scaled(image.convert("RGB"), REC_SIDE)
    small = _scaled(page, DET_SIDE)
    boxes, _ = engine.auto_text_det(np.asarray(small))
    if boxes is None:
        return []
    back = page.width / small.width
    crops = engine.get_crop_img_list(np.asarray(page), [(box * back).astype(np.float32) for box in boxes])
    read, _ = engine.text_rec(crops)
    return [fix_digits(" ".join(text.split())) for text, score in read if score >= engine.text_score and text.strip()]


# The recognizer reads a serif "0" as "o" inside numbers ("2o06", "1o0",
# "2oo0s"): a year then cannot be found or quoted. A word that starts with a
# digit and holds only digits and o's (a plural "s" after) is a number.
# benchmarks/bench_ocr.py measures it on pages of Wikipedia prose it was not
# written from: words right with and without.
_NUMBER_WITH_OS = re.compile(r"\b[0-9][0-9oO]*[oO][0-9oO]*(?=s?\b)")


def fix_digits(line: str) -> str:
    return _NUMBER_WITH_OS.sub(lambda m: m.group(0).replace("o", "0").replace("O", "0"), line)


def _frames(data: bytes):
    """The pages of an image file: one, or each frame of a multi-page TIFF."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise ValueError(f"not an image it can read ({e})") from None
    return [frame.copy() for frame in ImageSequence.Iterator(image)]


class ImageReader:
    """A picture of text (a photographed or scanned page, a screenshot):
    its lines, read by OCR. A multi-page TIFF has pages, as a PDF has."""

    suffixes = IMAGE_SUFFIXES
    streamable = False
    isolated = True  # image decoders are C code, and OCR of a big picture takes seconds

    def read(self, data: bytes, path: Path) -> str:
        from assistant.ingest.lines import flow, full_width

        read = []
        for frame in _frames(data):
            beat = getattr(self, "heartbeat", None)
            if beat:  # the reading process's watchdog counts from the last page (`ingest.isolate`)
                beat()
            read.append(lines(frame))
        width = full_width(read)
        texts, pages, at = [], [], 0
        for page in read:  # a paragraph's lines joined again, as a PDF page's are
            text = flow(page, width)
            pages.append(at)
            texts.append(text)
            at += len(text) + 1
        text = "\n".join(texts)
        if not text.strip():
            raise ValueError("no text found in the picture (OCR read nothing)")
        return PagedText(text + "\n", pages) if len(read) > 1 else Titled(text + "\n")
