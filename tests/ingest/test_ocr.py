"""Scanned PDFs and pictures of text, read by OCR (`ingest.ocr`): pages
rendered here from a known text, so what OCR gives can be scored."""

from __future__ import annotations

import io
import time
from pathlib import Path

from bench_readers import score

from assistant import Settings, answer
from assistant.ingest import isolate, readers
from assistant.ingest.base import page_of
from assistant.ingest.files import load_corpus, read_doc

from conftest import IsolatedReader, indexed_corpus
from make_docs import page_png, scanned_pdf

PAGE_ONE = (
    "The Corran lighthouse stands on a granite ledge at the mouth of the Velmora estuary. "
    "It was first lit in 1871 and its lamp could be seen from twenty-two nautical miles away. "
    "Keepers lived in two cottages behind the tower until the light was automated."
)
PAGE_TWO = (
    "The last keeper, Morag Tennant, left the station in March 1994 after thirty-one years of service. "
    "Her logbooks, which record every ship that passed the headland, are kept in the harbour library."
)


def test_a_scanned_pdf_is_read_by_ocr_with_its_pages_and_95_percent_of_its_words(tmp_path):
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf([PAGE_ONE, PAGE_TWO]))
    doc = read_doc(tmp_path / "scan.pdf", tmp_path)
    text = doc.clean.text
    assert score(text, [PAGE_ONE, PAGE_TWO])["recall"] >= 0.95  # words right, in order
    assert len(doc.pages) == 2
    assert page_of(doc.pages, text.index("Tennant")) == 2 and page_of(doc.pages, text.index("granite")) == 1


def test_a_picture_of_text_answers_with_a_citation_of_its_words(tmp_path):
    s = indexed_corpus(
        tmp_path, {"notice.png": page_png(PAGE_TWO), "other.md": "# Ferries\n\nThe ferry leaves at noon.\n"}
    )
    a = answer("When did Morag Tennant leave the station?", settings=s)
    assert "1994" in a.text and a.citations and a.citations[0].source == "notice.png"
    c = a.citations[0]
    assert "March 1994" in c.text  # the cited passage is the OCR'd text, offsets and all


def test_pictures_without_words_and_broken_pictures_are_skipped_with_a_reason(tmp_path):
    from PIL import Image

    blank = io.BytesIO()
    Image.new("L", (800, 600), 255).save(blank, format="PNG")
    (tmp_path / "blank.png").write_bytes(blank.getvalue())
    (tmp_path / "fake.jpg").write_bytes(b"this is not a JPEG, only text with the wrong name\n")
    (tmp_path / "ok.txt").write_text("The ferry to Osk leaves every Tuesday at noon.\n", encoding="utf-8")
    docs, warnings = load_corpus(Settings(corpus=tmp_path, index_dir=tmp_path / "i"))
    assert [d.source for d in docs] == ["ok.txt"]
    assert sorted(w.split(":")[0] for w in warnings) == ["skipped blank.png", "skipped fake.jpg"]
    assert all("\n" not in w for w in warnings)
    assert any("OCR read nothing" in w for w in warnings) and any("not an image it can read" in w for w in warnings)


class PageByPageReader(IsolatedReader):
    """A slow reader that says it is alive before each page, as OCR does."""

    suffixes = (".pages",)

    def read(self, data: bytes, path: Path) -> str:
        for _ in range(4):
            self.heartbeat()
            time.sleep(0.8)
        return "Four slow pages were read.\n"


def test_a_read_that_says_it_is_alive_each_page_is_not_cut_off_by_the_time_limit(tmp_path, monkeypatch):
    # 3.2 s in all, more than the 2-s limit, but never 2 s without a sign of life.
    monkeypatch.setattr(readers, "READERS", [*readers.READERS, PageByPageReader()])
    (tmp_path / "long.pages").write_bytes(b"x")
    docs, warnings = load_corpus(Settings(corpus=tmp_path, index_dir=tmp_path / "i", read_timeout=2))
    assert warnings == [] and [d.source for d in docs] == ["long.pages"]
    isolate.stop()


def test_a_zero_read_as_o_inside_a_number_is_a_zero_again():
    from assistant.ingest.ocr import fix_digits

    assert fix_digits("opened in 2o06, 1o0 times, in the 2oo0s") == "opened in 2006, 100 times, in the 2000s"
    assert fix_digits("too good, Room 1O1, A4o, 3rd, so 2 of them") == "too good, Room 101, A4o, 3rd, so 2 of them"
