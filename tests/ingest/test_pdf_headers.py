"""F6: a PDF's running headers and footers are dropped, and nothing else: a
line is one only at the top or bottom of pages that have other text,
repeated word for word on most pages (page numbers aside). PDFs made with
fpdf2 (conftest.make_pdf)."""

from pathlib import Path

from assistant import Settings
from assistant.ingest import readers
from assistant.ingest.files import load_corpus

from conftest import make_pdf

ROOMS = [
    "Room 101 seats 40 people.",
    "Room 102 seats 25 people.",
    "Room 103 seats 12 people.",
    "Room 104 seats 8 people.",
]


def read_pdf(pages: list[str]) -> str:
    return readers.reader_for(Path("a.pdf")).read(make_pdf(pages), Path("a.pdf"))


def test_a_pdf_of_one_line_a_page_keeps_every_line(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "rooms.pdf").write_bytes(make_pdf(ROOMS))  # was skipped: "no text layer ... would need OCR"
    docs, warnings = load_corpus(Settings(corpus=corpus))
    assert warnings == [] and [d.source for d in docs] == ["rooms.pdf"]
    for line in ROOMS:
        assert line in docs[0].text


def test_a_line_repeated_with_other_numbers_is_text_not_a_footer():
    amounts = [1250, 980, 40, 3310]
    invoices = [
        f"Invoice {number}\nTotal due: {amount} EUR.\nThank you for your order."
        for number, amount in zip(["2026-0417", "2026-0502", "2026-0388", "2026-0611"], amounts)
    ]
    text = read_pdf(invoices)
    for number, amount in zip(["2026-0417", "2026-0502", "2026-0388", "2026-0611"], amounts):
        assert f"Total due: {amount} EUR." in text and f"Invoice {number}" in text


BODY = [
    "The Velmora harbour was dredged to a depth of fourteen metres in 2019.",
    "The lighthouse keeper lit the lamp for the last time in 1968.",
    "Ferries to the island of Osk leave every Tuesday at noon.",
    "The town hall was built of grey granite in 1874.",
    "The fish market opens at five in the morning.",
]


def test_a_running_header_and_page_footer_are_still_dropped():
    n = len(BODY)
    pages = [f"Velmora Port Authority - Annual report 2025\n{body}\nPage {k + 1} of {n}" for k, body in enumerate(BODY)]
    text = read_pdf(pages)
    assert "Velmora Port Authority" not in text and "Page " not in text and " of 5" not in text
    for body in BODY:
        assert body in text
    assert len(text.pages) == n  # each page still has its start


def test_a_repeated_line_in_the_middle_of_its_pages_is_kept():
    pages = [f"Velmora facts\n{body}\nSee the harbour office for details.\n{body}\nEnd of page." for body in BODY]
    text = read_pdf(pages)
    assert text.count("See the harbour office for details.") == len(BODY)
