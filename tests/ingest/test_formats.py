"""PDF, Word and HTML files: read by their readers, indexed, answered from
and cited exactly (offsets index the extracted text the index keeps, PDF
citations give their page); bad files are skipped with a one-line reason and
the rest of the corpus is indexed. Every file is made here with fpdf2, pypdf
and python-docx."""

import time
from pathlib import Path

import pytest

from assistant import Settings, answer, build_index
from assistant.api import source_text
from assistant.errors import CorpusError
from assistant.ingest import isolate, readers
from assistant.ingest.files import load_corpus

from conftest import IsolatedReader, indexed_corpus, make_docx, make_pdf

PAGES = [
    "The harbour of Velmora was dredged to a depth of fourteen metres in 2019. " * 3,
    "The Velmora lighthouse keeper, Ada Brunnhilde, lit the lamp for the last time in 1968. " * 3,
    "Ferries from Velmora to the island of Osk leave every Tuesday at noon. " * 3,
]


def make_scan() -> bytes:
    """A PDF whose page is a picture (drawn shapes), no text layer."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    for i in range(20):
        pdf.rect(10 + i * 5, 10 + i * 3, 40, 20, style="F")
    return bytes(pdf.output())


NEWS = """<!DOCTYPE html><html><head><title>Osk news</title><script>var tracking = 1;</script></head><body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<div class="cookies">We use cookies to improve your experience on our website.</div></header>
<main><article><h1>The Osk ferry gets a new engine</h1>
<p>The ferry that links Velmora and the island of Osk was fitted with a hydrogen engine in March, the
first of its kind on the coast. The old diesel engine had run for thirty-one years.</p>
<p>The island council paid 2.4 million euros for the refit, of which the regional fund covered half.
Crossings now take fifty minutes instead of an hour.</p></article>
<aside><h3>Most read</h3><ul><li><a href="/x">Celebrity chef opens third restaurant downtown</a></li></ul></aside>
</main><footer><p>Copyright 2025 Osk Daily. All rights reserved.</p></footer></body></html>"""


# -- the readers ----------------------------------------------------------------
def test_pdf_text_and_page_starts():
    text = readers.reader_for(Path("a.pdf")).read(make_pdf(PAGES), Path("a.pdf"))
    assert len(text.pages) == 3 and text.pages[0] == 0
    for k, page in enumerate(PAGES):
        first = page.split(". ")[0]
        at = text.index(first)
        # The page each sentence is on is the page whose start precedes it.
        assert sum(1 for s in text.pages if s <= at) == k + 1
    # A page's lines are one paragraph again (sentences are split by line).
    assert "fourteen metres in 2019. The harbour" in text


@pytest.mark.parametrize(
    "meta, title",
    [
        ("Velmora harbour report", "Velmora harbour report"),
        ("Microsoft Word - harbour.docx", "harbour"),  # an exporter's file name, not a title
        (None, "harbour"),
    ],
)
def test_a_pdf_whose_first_line_is_a_paragraph_takes_its_metadata_title(tmp_path, meta, title):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "harbour.pdf").write_bytes(make_pdf(PAGES, title=meta))  # pages of long paragraphs
    docs, _ = load_corpus(Settings(corpus=corpus))
    assert docs[0].title == title


def _headed_pdf(header_pt: int, title_pt: int | None) -> bytes:
    """Three pages under a running header; page 1 opens with a small line,
    then a title line in `title_pt` type (None: neither); the body is 11 pt."""
    from fpdf import FPDF

    pdf = FPDF()
    for k, text in enumerate(PAGES):
        pdf.add_page()
        pdf.set_font("Helvetica", size=header_pt)
        pdf.cell(0, 8, "X Desktop Group (http://www.freedesktop.org)", new_x="LMARGIN", new_y="NEXT")
        if k == 0 and title_pt:  # a small line first: the title is not the first line
            pdf.set_font("Helvetica", size=9)
            pdf.cell(0, 8, "Prepared for the harbour board, March 2025", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", size=title_pt)
            pdf.cell(0, 14, "Velmora Harbour Annual Report", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


@pytest.mark.parametrize(
    "header_pt, title_pt, title", [(9, 22, "Velmora Harbour Annual Report"), (16, None, "harbour")]
)
def test_a_pdf_without_a_metadata_title_takes_its_largest_line_never_a_running_header(
    tmp_path, header_pt, title_pt, title
):
    # The report of 2026-12-07: a real PDF was cited under its running header.
    (tmp_path / "harbour.pdf").write_bytes(_headed_pdf(header_pt, title_pt))
    docs, _ = load_corpus(Settings(corpus=tmp_path))
    assert docs[0].title == title and "X Desktop Group" not in docs[0].clean.text


def test_docx_text_in_order_with_tables():
    data = make_docx(
        ["First paragraph about Velmora.", "Second paragraph."], [("Year", "Event"), ("1968", "Last lamp")]
    )
    text = readers.reader_for(Path("a.docx")).read(data, Path("a.docx"))
    assert text.index("Velmora facts") < text.index("First paragraph") < text.index("Second") < text.index("Last lamp")


def _office_docx(merged_header: bool = False) -> bytes:
    import io

    import docx

    d = docx.Document()
    d.add_paragraph("Where Northwind works.")
    rows = [
        ("Office", "Role", "Staff"),
        ("Leeds", "HQ", "240"),
        ("Gdansk", "Software", "85"),
        ("Austin", "Sales", "60"),
    ]
    t = d.add_table(rows=len(rows), cols=3)
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            t.cell(i, j).text = v
    if merged_header:
        m = d.add_table(rows=2, cols=3)
        m.cell(0, 0).merge(m.cell(0, 1)).text = "Both sites"
        m.cell(0, 2).text = "Total"
        for j, v in enumerate(("Leeds", "Gdansk", "325")):
            m.cell(1, j).text = v
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def test_a_word_table_row_is_a_sentence_that_names_its_columns():
    # The report of 2026-12-07: the table was read as "Office Role Staff 240 85 60".
    text = readers.reader_for(Path("a.docx")).read(_office_docx(merged_header=True), Path("a.docx"))
    lines = text.splitlines()
    assert "Office: Gdansk; Role: Software; Staff: 85." in lines
    assert "Office: Leeds; Role: HQ; Staff: 240." in lines and "Office: Austin; Role: Sales; Staff: 60." in lines
    # a cell merged across two columns is read once, and every other cell's text is kept
    assert text.count("Both sites") == 1 and "Total" in text and all(w in lines for w in ("Leeds", "Gdansk", "325"))


def test_the_gdansk_question_is_answered_from_the_table_row(tmp_path):
    s = indexed_corpus(tmp_path, {"offices.docx": _office_docx()})
    a = answer("How many staff work in the Gdansk office?", settings=s)
    assert not a.refused and "85" in a.text
    c = a.citations[0]
    assert c.source.endswith("offices.docx") and "Gdansk" in c.text and "85" in c.text


def test_html_keeps_the_article_and_drops_the_page_furniture():
    text = readers.reader_for(Path("a.html")).read(NEWS.encode(), Path("a.html"))
    assert "hydrogen engine" in text and "2.4 million euros" in text
    for junk in ("cookies", "Celebrity chef", "Copyright", "tracking", "Sport"):
        assert junk not in text


# -- bad files ----------------------------------------------------------------
def _bad_corpus(corpus: Path) -> dict[str, str]:
    """Bad files, each with the words its skip reason must hold."""
    good = make_pdf(PAGES)
    files = {
        "scan.pdf": (make_scan(), "not even by OCR"),
        "locked.pdf": (make_pdf(PAGES, password="s3cret"), "encrypted PDF"),
        "cut.pdf": (good[: len(good) // 3], "broken PDF"),
        "cut.docx": (make_docx(["Some text here."])[:900], "broken Word file"),
        "old.docx": (b"This is not a zip archive at all, just text.", "not a Word .docx file"),
        "menu.html": (b"<html><body><nav><a href='/'>Home</a> <a href='/b'>News</a></nav></body></html>", "no main text"),
    }  # fmt: skip
    for name, (data, _) in files.items():
        (corpus / name).write_bytes(data)
    return {name: why for name, (_, why) in files.items()}


def test_bad_files_are_skipped_with_a_one_line_reason(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    reasons = _bad_corpus(corpus)
    (corpus / "ok.txt").write_text("The ferry to Osk leaves every Tuesday at noon.\n", encoding="utf-8")
    t = time.perf_counter()
    docs, warnings = load_corpus(Settings(corpus=corpus, index_dir=tmp_path / "i"))
    assert time.perf_counter() - t < 30  # an encrypted or broken file fails at once, it does not stall
    assert [d.source for d in docs] == ["ok.txt"]
    assert len(warnings) == len(reasons)
    for name, why in reasons.items():
        [line] = [w for w in warnings if w.startswith(f"skipped {name}: ")]
        assert why in line and "\n" not in line, line


def test_files_over_max_file_mb_are_not_read(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "big.pdf").write_bytes(make_pdf(PAGES * 4))
    (corpus / "ok.txt").write_text("The ferry to Osk leaves every Tuesday at noon.\n", encoding="utf-8")
    size_mb = (corpus / "big.pdf").stat().st_size / 2**20
    docs, warnings = load_corpus(Settings(corpus=corpus, max_file_mb=size_mb / 2))
    assert [d.source for d in docs] == ["ok.txt"]
    assert (
        len(warnings) == 1 and "max_file_mb" in warnings[0] and warnings[0].startswith("skipped big.pdf: larger than")
    )


class SlowReader(IsolatedReader):
    """A reader that never finishes (a parser stuck on a hostile file)."""

    suffixes = (".slow",)

    def read(self, data: bytes, path: Path) -> str:
        time.sleep(600)
        return "never"


def test_a_read_longer_than_read_timeout_is_abandoned(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "READERS", [*readers.READERS, SlowReader()])
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "stuck.slow").write_bytes(b"x")
    (corpus / "a.pdf").write_bytes(make_pdf(PAGES))
    t = time.perf_counter()
    docs, warnings = load_corpus(Settings(corpus=corpus, read_timeout=2))
    assert time.perf_counter() - t < 20
    assert warnings == ["skipped stuck.slow: reading it took longer than 2 s (the read_timeout setting)"]
    assert [d.source for d in docs] == ["a.pdf"]  # the next file is read in a fresh process
    isolate.stop()


class CrashingReader(IsolatedReader):
    """A reader whose parser takes the process down (a segfault in C code)."""

    suffixes = (".crash",)

    def read(self, data: bytes, path: Path) -> str:
        import os

        os._exit(11)


def test_a_reader_that_crashes_its_process_costs_only_its_file(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "READERS", [*readers.READERS, CrashingReader()])
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.crash").write_bytes(b"x")
    (corpus / "b.pdf").write_bytes(make_pdf(PAGES))
    docs, warnings = load_corpus(Settings(corpus=corpus))
    assert warnings == ["skipped a.crash: the reader crashed on it"]
    assert [d.source for d in docs] == ["b.pdf"] and docs[0].pages is not None


# -- indexed, answered, cited -------------------------------------------------
@pytest.fixture(scope="module")
def formats_settings(tmp_path_factory) -> Settings:
    base = tmp_path_factory.mktemp("formats")
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / "velmora.pdf").write_bytes(make_pdf(PAGES))
    (corpus / "facts.docx").write_bytes(
        make_docx(["The Velmora town hall was built of grey granite in 1874 by the architect Tomas Ekberg."])
    )
    (corpus / "osk.html").write_text(NEWS, encoding="utf-8")
    _bad_corpus(corpus)
    settings = Settings(corpus=corpus, index_dir=base / "index")
    report = build_index(settings=settings)
    assert sorted(report.added) == ["facts.docx", "osk.html", "velmora.pdf"]
    assert len(report.warnings) == 6 and all("\n" not in w for w in report.warnings)
    return settings


@pytest.mark.parametrize(
    "question, source, words, page",
    [
        ("When did the lighthouse keeper light the lamp for the last time?", "velmora.pdf", "1968", 2),
        ("When do ferries leave Velmora for Osk?", "velmora.pdf", "Tuesday", 3),
        ("Who was the architect of the Velmora town hall?", "facts.docx", "Tomas Ekberg", None),
        ("How much did the island council pay for the ferry refit?", "osk.html", "2.4 million", None),
    ],
)
def test_answers_cite_the_extracted_text_exactly_with_the_page(formats_settings, question, source, words, page):
    a = answer(question, settings=formats_settings)
    assert not a.refused and words in a.text, a.text
    c = next(c for c in a.citations if words in c.text)
    assert c.source == source and c.page == page
    text = source_text(source, settings=formats_settings)
    assert " ".join(text[c.start : c.end].split()) == c.text
    p = a.passages[c.passage - 1]
    assert p.source == source and p.start <= c.start and c.end <= p.end
    assert (p.page is not None and p.page <= page) if page else p.page is None
    shown = a.format()
    assert (f"p. {page}, chars" in shown) == (page is not None)


def test_the_kept_text_outlives_the_file(formats_settings):
    corpus = Path(formats_settings.corpus)
    before = source_text("velmora.pdf", settings=formats_settings)
    (corpus / "velmora.pdf").write_bytes(make_pdf(["Something else entirely, and longer than before. " * 9]))
    try:
        # Not re-indexed yet: citations still index the text that was indexed.
        assert source_text("velmora.pdf", settings=formats_settings) == before
    finally:
        (corpus / "velmora.pdf").write_bytes(make_pdf(PAGES))
    # A plain text file is its own text; a missing one is a CorpusError.
    (corpus / "note.txt").write_text("\ufeffHello there.\n", encoding="utf-8")
    assert source_text("note.txt", settings=formats_settings) == "Hello there.\n"
    (corpus / "note.txt").unlink()
    with pytest.raises(CorpusError):
        source_text("nothing.pdf", settings=formats_settings)
    with pytest.raises(CorpusError):
        source_text("../../etc/passwd", settings=formats_settings)


def test_only_extracted_texts_are_kept_and_they_go_with_their_file(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("The ferry to Osk leaves every Tuesday at noon.\n", encoding="utf-8")
    (corpus / "b.docx").write_bytes(make_docx(["The Velmora town hall was built of grey granite in 1874."]))
    settings = Settings(corpus=corpus, index_dir=tmp_path / "i")
    build_index(settings=settings)
    kept = list((tmp_path / "i" / "texts").glob("*.json"))
    assert len(kept) == 1 and "granite" in kept[0].read_text(encoding="utf-8")  # not the .txt: it is its own text
    (corpus / "b.docx").unlink()
    build_index(settings=settings)
    assert list((tmp_path / "i" / "texts").glob("*.json")) == []


def test_an_llm_answer_cites_the_page_too(formats_settings):
    from fake_openai import FakeOpenAI, Reply, passage_with

    server = FakeOpenAI()
    try:
        server.script = [
            lambda r: Reply(text=f"Ferries leave Velmora for Osk every Tuesday at noon [{passage_with(r, 'Tuesday')}].")
        ]
        settings = formats_settings.with_options(
            openai_base_url=server.url, openai_api_key="sk-test", llm_model="fake-model", openai_timeout=6.0
        )
        a = answer("When do ferries leave Velmora for Osk?", settings=settings)
    finally:
        server.close()
    assert a.backend == "llm:fake-model" and a.verification["dropped"] == 0, a
    [c] = a.citations
    assert c.source == "velmora.pdf" and c.page == 3 and "Tuesday" in c.text
    assert " ".join(source_text(c.source, settings=formats_settings)[c.start : c.end].split()) == c.text


def test_the_documents_view_shows_pages_and_skip_reasons(formats_settings):
    from assistant.library import documents

    build_index(settings=formats_settings)  # an earlier test rewrote velmora.pdf (same text, new mtime)
    docs = {d.source: d for d in documents(settings=formats_settings)}
    assert docs["velmora.pdf"].status == "indexed" and docs["velmora.pdf"].pages == len(PAGES)
    assert docs["facts.docx"].pages is None and docs["facts.docx"].chunks >= 1
    skipped = [d for d in docs.values() if d.status == "skipped"]
    assert len(skipped) == 6 and all(d.problem and "\n" not in d.problem for d in skipped)


GLACIER = b"""<html><head><title>Brannock glacier | Alpine Notes</title></head><body>
<nav><a href="/">Home</a> <a href="/glaciers">Glaciers</a> <a href="/about">About us</a></nav>
<p>The Brannock glacier retreated 212 metres between 2001 and 2020.</p>
<footer>Copyright (c) 2021 Alpine Notes. All rights reserved.</footer></body></html>"""


def test_a_short_html_page_is_kept_without_its_furniture(tmp_path):
    # The report of 2026-12-07: a one-paragraph page was skipped as having no main text.
    text = readers.reader_for(Path("g.html")).read(GLACIER, Path("g.html"))
    assert "retreated 212 metres" in text
    assert not any(w in text for w in ("Home", "About us", "Copyright"))
    assert text.title == "Brannock glacier"  # <title> less the site's name
    s = indexed_corpus(tmp_path, {"g.html": GLACIER})
    a = answer("How far did the Brannock glacier retreat?", settings=s)
    assert "212 metres" in a.text and a.citations[0].title == "Brannock glacier"


def test_html_definition_terms_stay_with_their_definitions_and_tables_name_their_columns():
    page = b"""<html><head><title>Accounts</title></head><body><h1>System accounts</h1>
    <p>These accounts exist on every machine of the fleet and must not be removed by hand.</p>
    <dl><dt>root</dt><dd>The superuser account.</dd><dt>backup</dt><dt>operator</dt><dd>Used to dump backups.</dd></dl>
    <table><tr><th>Office</th><th>Staff</th></tr><tr><td>Gdansk</td><td>85</td></tr></table></body></html>"""
    lines = readers.reader_for(Path("a.html")).read(page, Path("a.html")).splitlines()
    assert "root: The superuser account." in lines
    assert "backup; operator: Used to dump backups." in lines
    assert "Office: Gdansk; Staff: 85." in lines


def test_a_real_debian_page_keeps_its_account_names(tmp_path):
    # Written by Debian's base-passwd maintainers, not by this project.
    page = Path("/usr/share/doc/base-passwd/users-and-groups.html")
    if not page.is_file():
        pytest.skip("base-passwd's documentation is not installed")
    text = readers.reader_for(page).read(page.read_bytes(), page)
    assert text.title == "Users and Groups in the Debian System"
    assert any(line.startswith("majordom: Majordomo") for line in text.splitlines())
    s = indexed_corpus(tmp_path, {"users-and-groups.html": page.read_bytes()})
    a = answer("What is the majordom account for?", settings=s)
    assert not a.refused and "Majordomo" in a.text and a.citations[0].text.startswith("majordom:")


def test_a_word_file_is_titled_by_its_properties_else_its_heading_never_a_running_line():
    import io

    import docx

    d = docx.Document()
    d.add_paragraph("Confidential - internal use only")
    d.add_heading("Northwind staffing 2025", level=1)
    d.add_paragraph("Northwind employs 385 people in three offices.")
    out = io.BytesIO()
    d.save(out)
    read = readers.reader_for(Path("a.docx")).read
    assert read(out.getvalue(), Path("a.docx")).title == "Northwind staffing 2025"
    for made_up, kept in (
        ("Microsoft Word - staff.docx", "Northwind staffing 2025"),
        ("Staffing report", "Staffing report"),
    ):
        d.core_properties.title = made_up
        out = io.BytesIO()
        d.save(out)
        assert read(out.getvalue(), Path("a.docx")).title == kept


def test_a_csv_row_is_a_sentence_that_names_its_columns(tmp_path):
    data = b"Office;Role;Staff\nLeeds;HQ;240\nGdansk;Software;85\n\nAustin;Sales;60\n"
    text = readers.reader_for(Path("offices_2025.csv")).read(data, Path("offices_2025.csv"))
    assert text.splitlines() == [
        "Office Role Staff",
        "Office: Leeds; Role: HQ; Staff: 240.",
        "Office: Gdansk; Role: Software; Staff: 85.",
        "Office: Austin; Role: Sales; Staff: 60.",
    ]
    assert text.title == "offices 2025"
    # no header (its first row is figures): each row is its cells
    plain = readers.reader_for(Path("n.csv")).read(b"1,2,3\n4,5,6\n", Path("n.csv"))
    assert plain.splitlines() == ["1 2 3", "4 5 6"]
    with pytest.raises(ValueError, match="not UTF-8"):
        readers.reader_for(Path("b.csv")).read(b"Name\n\xff\xfe bad", Path("b.csv"))
    s = indexed_corpus(tmp_path, {"offices_2025.csv": data})
    a = answer("How many staff work in the Gdansk office?", settings=s)
    assert not a.refused and "85" in a.text and a.citations[0].source.endswith("offices_2025.csv")
