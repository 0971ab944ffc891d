"""The original page of a PDF citation: rendered, the cited words marked."""

from __future__ import annotations

import io

import pytest

from assistant.ingest.page_image import render_page

from conftest import make_pdf
from make_docs import scanned_pdf

PAGES = [
    "The harbour of Velmora was dredged to a depth of fourteen metres in 2019. " * 4,
    "The Velmora lighthouse keeper, Ada Brunnhilde, lit the lamp for the last time in 1968. " * 4,
]


def _yellow(png: bytes) -> int:
    import numpy as np
    from PIL import Image

    r, g, b = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).transpose(2, 0, 1).astype(int)
    return int(((r > 200) & (g > 150) & (g < 235) & (b < 140)).sum())


def test_the_cited_sentence_is_marked_on_its_page_even_across_a_line_break():
    data = make_pdf(PAGES)
    # Two sentences as the extracted text gives them: one line, though the page wraps them.
    quote = PAGES[1][:175]
    png, boxes = render_page(data, 2, [quote])
    assert boxes >= 2  # two lines on the page
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and _yellow(png) > 500
    plain, none = render_page(data, 1, [quote])  # not on page 1: the page, unmarked
    assert none == 0 and _yellow(plain) == 0


def test_a_page_that_is_not_there_or_a_broken_file_is_a_one_line_reason():
    with pytest.raises(ValueError, match=r"^the PDF has no page 5 \(it has 2\)$"):
        render_page(make_pdf(PAGES), 5)
    with pytest.raises(ValueError, match="^cannot open the PDF"):
        render_page(b"%PDF-1.4 broken", 1)


def test_a_scanned_page_is_shown_unmarked():
    png, boxes = render_page(scanned_pdf(["A page of a scan with no text layer at all."], dpi=100), 1, ["a scan"])
    assert boxes == 0 and png[:4] == b"\x89PNG"


def test_the_sources_panel_shows_the_cited_pdf_page_beside_the_text(tmp_path):
    import base64
    import re
    from functools import partial

    from assistant import answer
    from assistant.apps.chat_render import render_sources
    from assistant.library import original_page

    from conftest import indexed_corpus

    s = indexed_corpus(
        tmp_path, {"harbour.pdf": make_pdf(PAGES), "other.md": "# Ferries\n\nThe ferry leaves at noon.\n"}
    )
    a = answer("When did Ada Brunnhilde light the lamp for the last time?", settings=s)
    assert a.citations[0].source == "harbour.pdf" and a.citations[0].page == 2
    panel = render_sources(a, "abc", partial(original_page, settings=s))
    assert "[1] on the original page: harbour.pdf · p. 2" in panel
    png = base64.b64decode(re.search(r"src='data:image/png;base64,([^']+)'", panel).group(1))
    assert _yellow(png) > 200  # the cited sentence marked on the page
    assert "<img" not in render_sources(a, "abc")  # no page renderer: the text view alone


def test_a_page_that_cannot_be_shown_leaves_the_text_view_and_says_why(tmp_path):
    from assistant.errors import CorpusError
    from assistant.library import original_page

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.pdf").write_bytes(make_pdf(PAGES))
    with pytest.raises(CorpusError, match=r"^Cannot show page 9 of a.pdf: the PDF has no page 9 \(it has 2\)$"):
        original_page("a.pdf", 9, corpus=tmp_path / "c")
    with pytest.raises(CorpusError, match="^No PDF '../x.pdf'"):
        original_page("../x.pdf", 1, corpus=tmp_path / "c")
