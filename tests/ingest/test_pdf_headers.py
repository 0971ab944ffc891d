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


SITES = ["Harlow", "Benton", "Carrow", "Dunmore"]


def test_a_repeated_middle_line_of_a_three_line_page_is_kept():
    # Every line of a 3-line page is among its first or last two: the
    # repeated middle line was dropped as a header and a footer.
    text = read_pdf(
        [
            f"Invoice for {s} Works.\nTotal due: 1250 EUR.\nDelivered goods: crates of brass valves for the {s} site."
            for s in SITES
        ]
    )
    assert text.count("Total due: 1250 EUR.") == 4
    assert "Invoice for Dunmore Works.\nTotal due: 1250 EUR.\nDelivered goods" in text


def test_numbers_going_up_with_the_page_are_not_page_numbers_unless_they_could_be(tmp_path):
    # 8001..8004 and 11..14 go up by one with the page, so every line passed
    # for furniture and the file was skipped as a scan.
    pages = [
        f"Invoice {8000 + i} for Pellam Works.\nTotal due: 1250 EUR.\n"
        f"Delivered goods: {10 + i} crates of brass valves for the Pellam site number {i}."
        for i in range(1, 5)
    ]
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "pellam.pdf").write_bytes(make_pdf(pages))
    docs, warnings = load_corpus(Settings(corpus=corpus))
    assert warnings == [] and [d.source for d in docs] == ["pellam.pdf"]
    for page in pages:
        for line in page.split("\n"):
            assert line in docs[0].text


def test_a_repeated_line_behind_a_line_of_text_is_kept():
    pages = [
        f"Invoice {6999 + i} for Harlow Supplies.\nDelivered goods: crates of brass valves for the {s} site.\n"
        f"Payment within 30 days of delivery.\nContact {s} Works for returns."
        for i, s in enumerate(SITES, 1)
    ]
    text = read_pdf(pages)
    assert text.count("Payment within 30 days of delivery.") == 4
    for i, s in enumerate(SITES, 1):
        assert f"Invoice {6999 + i} for Harlow Supplies." in text and f"Contact {s} Works for returns." in text


def test_a_two_line_letterhead_and_a_page_footer_go_and_the_lines_next_to_them_stay():
    letterhead = "Harlow Supplies Ltd - 12 Mill Road, Leeds LS1 4AB - Telephone 0113 496 0000 - VAT GB 123 4567 89"
    pages = [
        f"{letterhead}\nQuarterly statement to customers\n"
        f"The {s} account was opened in {2000 + i} and holds {7 * i} crates of brass valves in the depot, "
        "to be collected before the end of the month by the site manager or a carrier named in writing.\n"
        f"Deliveries to the {s} site are made on Mondays.\nStatement {7100 + i}.\nPage {i} of 4"
        for i, s in enumerate(SITES, 1)
    ]
    pdf = make_pdf(pages)
    text = readers.reader_for(Path("a.pdf")).read(pdf, Path("a.pdf"))
    assert len(text.pages) == 4  # one PDF page a page: the rule sees each footer on its page
    assert "Harlow Supplies Ltd" not in text and "Quarterly statement" not in text and "Page " not in text
    for i, s in enumerate(SITES, 1):
        assert f"The {s} account was opened in {2000 + i}" in text and f"Statement {7100 + i}." in text


def test_a_running_header_and_a_page_n_of_m_footer_go_from_a_short_page():
    pages = [f"Annual Report 2025\nCase {4000 + i}: the works were inspected.\nPage {i} of 4" for i in range(1, 5)]
    text = read_pdf(pages)
    assert "Annual Report" not in text and "Page " not in text
    assert text == "".join(f"Case {4000 + i}: the works were inspected.\n" for i in range(1, 5))


def test_a_page_made_only_of_repeated_lines_keeps_them():
    # Both lines of each page recur at its top: peeling them emptied every
    # page and the file was skipped as a scan.
    text = read_pdf(["Harlow Supplies Ltd\nClosed for the holidays."] * 4)
    assert text.count("Harlow Supplies Ltd\nClosed for the holidays.") == 4
