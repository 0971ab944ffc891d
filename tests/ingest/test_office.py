"""PowerPoint (.pptx) and Excel (.xlsx) files: a slide is a page, its notes
and tables read with it; a sheet is a section, each row a sentence that
names its columns, a cell as Excel shows it; bad files are skipped with one
line. The files are made here with python-pptx, openpyxl and XlsxWriter (a
dependency of python-pptx), but for the template python-pptx ships."""

from __future__ import annotations

import io
import itertools
from datetime import date, datetime
from pathlib import Path

import pytest

from assistant import Settings, answer, build_index
from assistant.api import reset_engines, source_text
from assistant.ingest import readers
from assistant.ingest.files import load_corpus

NOTE = "The east pier was rebuilt by the engineer Mirela Kovacs after the storm of 1987."
FOOTER = "Confidential: Velmora port authority"


def make_deck(core_title: str | None = None) -> bytes:
    """Three slides: a title slide; bullets with speaker notes; a table, a
    group of shapes and a footer placeholder."""
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    if core_title is not None:
        deck.core_properties.title = core_title
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Harbour of Velmora"
    first.placeholders[1].text = "Annual review of the port, 2026"

    ferries = deck.slides.add_slide(deck.slide_layouts[1])
    ferries.shapes.title.text = "Ferries"
    body = ferries.placeholders[1].text_frame
    body.text = "The Osk ferry leaves every Tuesday at noon"
    p = body.add_paragraph()
    p.text, p.level = "Its new hydrogen engine was fitted in March", 1
    ferries.notes_slide.notes_text_frame.text = NOTE

    piers = deck.slides.add_slide(deck.slide_layouts[5])
    piers.shapes.title.text = "Piers"
    rows = [("Pier", "Berths", "Opened"), ("North", "14", "1911"), ("East", "9", "1988")]
    table = piers.shapes.add_table(3, 3, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            table.cell(i, j).text = v
    group = piers.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(5), Inches(4), Inches(1)).text = "Dredged to fourteen metres in 2019."
    footer = next(ph for ph in deck.slide_layouts[5].placeholders if ph.placeholder_format.type == 15)
    piers.shapes.clone_placeholder(footer)
    next(s for s in piers.placeholders if s.placeholder_format.type == 15).text = FOOTER
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def make_book(sheets: dict[str, list[list]], hidden: tuple[str, ...] = (), title: str | None = None) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if name in hidden:
            sheet.sheet_state = "hidden"
    if title:
        book.properties.title = title
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _read(name: str, data: bytes):
    return readers.reader_for(Path(name)).read(data, Path(name))


# -- PowerPoint -----------------------------------------------------------------
def test_a_slide_is_a_page_with_its_shapes_table_and_notes_in_order():
    text = _read("port.pptx", make_deck())
    assert len(text.pages) == 3 and text.pages[0] == 0
    slides = [text[a:b].splitlines() for a, b in zip(text.pages, [*text.pages[1:], len(text)])]
    assert slides[0] == ["Harbour of Velmora", "Annual review of the port, 2026"]
    assert slides[1] == [
        "Ferries",
        "• The Osk ferry leaves every Tuesday at noon",  # bulleted: a list item, not a heading
        "• Its new hydrogen engine was fitted in March",
        NOTE,  # the speaker notes, on their slide's page
    ]
    assert slides[2] == [
        "Piers",
        "Pier Berths Opened",
        "Pier: North; Berths: 14; Opened: 1911.",
        "Pier: East; Berths: 9; Opened: 1988.",
        "Dredged to fourteen metres in 2019.",  # a text box inside a group
    ]
    assert FOOTER not in text  # page furniture, as a PDF's running footer


def test_a_hidden_slide_is_read_and_the_slides_after_it_keep_their_numbers():
    import pptx

    deck = pptx.Presentation(io.BytesIO(make_deck()))
    deck.slides[1]._element.set("show", "0")  # hidden in the slide show
    out = io.BytesIO()
    deck.save(out)
    text = _read("port.pptx", out.getvalue())
    assert len(text.pages) == 3 and NOTE in text[text.pages[1] : text.pages[2]]
    assert text[text.pages[2] :].startswith("Piers\n")


@pytest.mark.parametrize(
    "core, title",
    [
        (None, "Harbour of Velmora"),
        ("PowerPoint Presentation", "Harbour of Velmora"),  # what PowerPoint writes in a new deck's properties
        ("Velmora port review", "Velmora port review"),
        ("port_review_v3.pptx", "Harbour of Velmora"),  # a file name, not a title
    ],
)
def test_a_deck_is_titled_by_its_properties_else_its_first_slide(core, title):
    assert _read("port.pptx", make_deck(core)).title == title


def test_the_template_python_pptx_ships_has_no_slides_and_its_prompts_are_not_text():
    # Written by python-pptx's authors (the deck every new one starts from), not here.
    import pptx

    template = Path(pptx.__file__).parent / "templates" / "default.pptx"
    with pytest.raises(ValueError, match="^a PowerPoint file with no slides$"):
        _read("default.pptx", template.read_bytes())
    # Its layouts' prompts ("Click to edit Master title style") are not a slide's text.
    deck = pptx.Presentation(str(template))
    for layout in deck.slide_layouts:
        deck.slides.add_slide(layout)
    out = io.BytesIO()
    deck.save(out)
    with pytest.raises(ValueError, match=r"no text in its 11 slide\(s\)"):
        _read("default.pptx", out.getvalue())


@pytest.mark.e2e  # the reading process reads the deck
def test_facts_only_in_the_notes_or_a_table_cell_are_cited_with_their_slide(hashed_settings):
    s = hashed_settings
    (s.corpus / "port.pptx").write_bytes(make_deck())
    reset_engines()
    assert "port.pptx" in build_index(settings=s).added
    for question, words, page in (
        ("Who rebuilt the east pier after the storm?", "Mirela Kovacs", 2),
        ("How many berths does the North pier have?", "14", 3),
    ):
        a = answer(question, settings=s)
        assert not a.refused and words in a.text, a.text
        c = next(c for c in a.citations if words in c.text)
        assert (c.source, c.page) == ("port.pptx", page)
        assert " ".join(source_text(c.source, settings=s)[c.start : c.end].split()) == c.text


# -- Excel ----------------------------------------------------------------------
def test_each_sheet_is_a_section_its_rows_sentences_that_name_their_columns():
    data = make_book(
        {
            "Offices": [["Staff by office"], [], ["Office", "Role", "Staff"], ["Leeds", "HQ", 240], [None, None, None],
                        ["Gdansk", "Software", 85]],
            "Budget": [["Year", "Spent"], [2025, 1.5], [2026, None]],
            "Lookup": [["Code", "Office"], ["GD", "Gdansk"]],
        },
        hidden=("Lookup",),
    )  # fmt: skip
    text = _read("northwind.xlsx", data)
    assert text.splitlines() == [
        "Offices",
        "Staff by office",  # a title above the table: a line, and the header row still names the columns
        "Office Role Staff",
        "Office: Leeds; Role: HQ; Staff: 240.",
        "Office: Gdansk; Role: Software; Staff: 85.",  # the empty row is gone
        "Budget",
        "Year Spent",
        "Year: 2025; Spent: 1.5.",
        "Year: 2026.",
    ]  # the hidden sheet is left out
    assert text.title == "northwind"
    # A lone sheet with a default name is no section; a title in the properties is the title.
    lone = _read("n.xlsx", make_book({"Sheet1": [["Office", "Staff"], ["Leeds", 240]]}, title="Northwind offices"))
    assert lone.splitlines() == ["Office Staff", "Office: Leeds; Staff: 240."] and lone.title == "Northwind offices"


def test_a_csv_file_is_read_by_the_same_rules_as_a_sheet():
    # A title line above the header, an empty last column, a short row: as in Excel.
    data = b"Staff by office,,\nOffice,Staff,\nLeeds,240,\nGdansk,85\n"
    assert _read("offices.csv", data).splitlines() == [
        "Staff by office",
        "Office Staff",
        "Office: Leeds; Staff: 240.",
        "Office: Gdansk; Staff: 85.",
    ]


def test_cells_read_as_excel_shows_them_and_formulas_as_their_computed_value():
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("Sales")
    sheet.write_row(0, 0, ["Region", "Opened", "Revenue", "Share", "Target met", "Units"])
    sheet.write_string(1, 0, "North")
    sheet.write_datetime(1, 1, datetime(2025, 3, 14), book.add_format({"num_format": "dd/mm/yyyy"}))
    sheet.write_number(1, 2, 1250.5, book.add_format({"num_format": '"$"#,##0.00'}))
    sheet.write_number(1, 3, 0.256, book.add_format({"num_format": "0.0%"}))
    sheet.write_boolean(1, 4, True)
    sheet.write_formula(1, 5, "=40+2", None, 42)  # the value Excel computed, saved with the formula
    book.close()
    assert _read("sales.xlsx", out.getvalue()).splitlines()[-1] == (
        "Region: North; Opened: 14 March 2025; Revenue: $1,250.50; Share: 25.6%; Target met: TRUE; Units: 42."
    )


def test_openpyxl_warnings_about_parts_it_drops_do_not_reach_the_build_output():
    import warnings
    import zipfile

    good = zipfile.ZipFile(io.BytesIO(make_book({"Offices": [["Office", "Staff"], ["Leeds", 240]]})))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:  # a stylesheet with no styles: openpyxl warns, and uses its own
        for part in good.infolist():
            empty = b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
            book.writestr(part, empty if part.filename == "xl/styles.xml" else good.read(part))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        text = _read("offices.xlsx", out.getvalue())
    assert said == [] and "Office: Leeds; Staff: 240." in text


def _names(n: int) -> list[str]:
    """n made-up harbour names, each a word no other row has."""
    parts = itertools.product(("Bal", "Cor", "Dun", "Fel", "Gar", "Hol", "Kir", "Lom", "Mar", "Nor"),
                              ("vik", "sund", "berg", "holm", "stad", "fjord", "havn", "mark", "dal", "nes"))  # fmt: skip
    return ["".join(p) for p in itertools.islice(parts, n)]


@pytest.mark.e2e  # the reading process reads the workbook
def test_every_row_of_a_100_row_sheet_is_answered_from_its_own_row(hashed_settings):
    s = hashed_settings
    names = _names(100)
    rows = [["Harbour", "Country", "Cranes", "Opened"]]
    rows += [[name, "Norway", 100 + 7 * i, date(1900 + i, 1 + i % 12, 1)] for i, name in enumerate(names)]
    (s.corpus / "harbours.xlsx").write_bytes(make_book({"Harbours": rows}))
    reset_engines()
    assert "harbours.xlsx" in build_index(settings=s).added
    for i, name in enumerate(names):
        a = answer(f"How many cranes does the {name} harbour have?", settings=s)
        assert not a.refused and str(100 + 7 * i) in a.text, (name, a.text)
        assert a.citations[0].source == "harbours.xlsx"
        assert a.citations[0].text.startswith(f"Harbour: {name}; Country: Norway; Cranes: {100 + 7 * i};"), name


# -- bad files ------------------------------------------------------------------
def _encrypted(kind: bytes = b"EncryptionInfo") -> bytes:
    """What Office writes for a file saved with a password: an OLE compound
    file with an EncryptionInfo stream (only its name matters here)."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + kind.decode().encode("utf-16-le") + bytes(512)


@pytest.mark.e2e  # the reading process reads them
def test_bad_office_files_are_skipped_with_one_line_and_nothing_else_is_lost(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    deck, book = make_deck(), make_book({"Offices": [["Office", "Staff"], ["Leeds", 240]]})
    files = {
        "cut.pptx": (deck[: len(deck) // 2], "broken PowerPoint file"),
        "cut.xlsx": (book[: len(book) // 2], "broken Excel file"),
        "locked.pptx": (_encrypted(), "encrypted PowerPoint file (it needs a password)"),
        "locked.xlsx": (_encrypted(), "encrypted Excel file (it needs a password)"),
        "old.xlsx": (_encrypted(b"Workbook"), "not an Excel .xlsx file (not a zip archive; an old .xls, or renamed?)"),
        "text.pptx": (b"just some text", "not a PowerPoint .pptx file"),
        "deck.xlsx": (deck, "broken Excel file"),  # a zip, but not a workbook
    }
    for name, (data, _) in files.items():
        (corpus / name).write_bytes(data)
    (corpus / "good.pptx").write_bytes(deck)
    (corpus / "good.xlsx").write_bytes(book)
    docs, warnings = load_corpus(Settings(corpus=corpus, index_dir=tmp_path / "i"))
    assert sorted(d.source for d in docs) == ["good.pptx", "good.xlsx"]
    assert len(warnings) == len(files)
    for name, (_, why) in files.items():
        [line] = [w for w in warnings if w.startswith(f"skipped {name}: ")]
        assert why in line and "\n" not in line, line
