"""Real documents for the reader benchmarks: PDFs and Word files written with
fpdf2 / python-docx from real prose (the SQuAD Wikipedia articles in
/work/shared/external, else the seed articles), and a saved news page (a seed
article inside the navigation, banners, related links, comments and footer
a scraped page carries). Each maker returns the bytes and the paragraphs it
wrote, so a reader's text can be scored against what is really there."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQUAD = Path("/work/shared/external/squad2-10-articles.json")
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")


def prose(article: int = 0) -> tuple[str, list[str]]:
    """(title, paragraphs) of a real article."""
    if SQUAD.exists():
        a = json.loads(SQUAD.read_text(encoding="utf-8"))["data"][article]
        return a["title"].replace("_", " "), [p["context"] for p in a["paragraphs"]]
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    lines = [x for x in seeds[article % len(seeds)].read_text(encoding="utf-8").splitlines() if x.strip()]
    return lines[0], lines[1:]


def make_pdf(title: str, paragraphs: list[str], pages: int | None = None) -> tuple[bytes, list[str]]:
    """A PDF of the paragraphs (a heading, justified body text, page numbers
    in the footer), with a real TrueType font so any character prints; with
    `pages`, the paragraphs are repeated or cut to fill that many pages."""
    from fpdf import FPDF

    class Doc(FPDF):
        def footer(self):
            self.set_y(-12)
            self.set_font(font, size=8)
            self.cell(0, 8, f"Page {self.page_no()}", align="C")

    pdf = Doc(format="A4")
    if FONT.exists():
        pdf.add_font("body", fname=str(FONT))
        font = "body"
    else:  # a core font: Latin-1 only
        paragraphs = [p.encode("latin-1", "replace").decode("latin-1") for p in paragraphs]
        font = "Helvetica"
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    pdf.set_font(font, size=16)
    pdf.multi_cell(0, 9, title)
    pdf.ln(3)
    pdf.set_font(font, size=11)
    written, i = [], 0
    while True:
        if pages is not None and pdf.page_no() >= pages and pdf.get_y() > 240:
            break
        if pages is None and i >= len(paragraphs):
            break
        p = paragraphs[i % len(paragraphs)]
        if pages is not None and pdf.page_no() == pages:
            # The last page: stop before a paragraph would start a new one.
            if pdf.get_y() + 6 * (len(p) // 90 + 1) > 275:
                break
        pdf.multi_cell(0, 6, p, align="J")
        pdf.ln(2)
        written.append(p)
        i += 1
    return bytes(pdf.output()), [title, *written]


def fill_table(table, rows) -> None:
    """Write rows of cells into a python-docx or python-pptx table (both have `cell(r, c).text`)."""
    for r, row in enumerate(rows):
        for c, val in enumerate(row):
            table.cell(r, c).text = val


def docx_file(title: str | None, paragraphs: list[str], table: list[list[str]] | list[tuple] = ()) -> bytes:
    """A Word file: a heading (if any), the paragraphs, a table (rows of cells)."""
    import docx

    d = docx.Document()
    if title:
        d.add_heading(title, level=1)
    for p in paragraphs:
        d.add_paragraph(p)
    if table:
        fill_table(d.add_table(rows=len(table), cols=len(table[0])), table)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def make_docx(title: str, paragraphs: list[str]) -> tuple[bytes, list[str]]:
    """A Word file: a title, headings every few paragraphs, the body, and a
    small table (text in tables is text too)."""
    import docx

    d = docx.Document()
    d.add_heading(title, level=1)
    written = [title]
    for i, p in enumerate(paragraphs):
        if i and i % 5 == 0:
            h = f"Part {i // 5 + 1}"
            d.add_heading(h, level=2)
            written.append(h)
        d.add_paragraph(p)
        written.append(p)
    t = d.add_table(rows=2, cols=2)
    for r, row in enumerate([("Year", "Event"), ("1849", "Chopin died in Paris")]):
        for c, val in enumerate(row):
            t.cell(r, c).text = val
            written.append(val)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue(), written


def make_pptx(title: str, paragraphs: list[str], slides: int = 20) -> tuple[bytes, list[str]]:
    """A deck: a title slide, then a slide a paragraph (a title, the
    paragraph's sentences as bullets, its last sentence as speaker notes)."""
    import pptx

    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = title
    written = [title]
    for i, p in enumerate(paragraphs[: slides - 1]):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Part {i + 1}"
        *shown, note = p.split(". ") if ". " in p else (p, "")
        slide.placeholders[1].text_frame.text = "\n".join(shown)
        slide.notes_slide.notes_text_frame.text = note
        written += [f"Part {i + 1}", *shown, note]
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue(), written


def make_xlsx(rows: int = 10_000) -> tuple[bytes, list[list[str]]]:
    """A workbook of one sheet: a header and `rows` rows of names, places
    and figures (what an office keeps in one); and its rows, as text."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Staff"
    header = ["Employee", "Office", "Role", "Staff number", "Salary"]
    sheet.append(header)
    written = [header]
    offices, roles = ("Leeds", "Gdansk", "Austin", "Osaka"), ("Engineer", "Sales", "Support", "Finance", "Legal")
    for i in range(rows):
        row = [f"Person{i:05d}", offices[i % 4], roles[i % 5], 10_000 + i, 30_000 + 17 * i]
        sheet.append(row)
        written.append([str(c) for c in row])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue(), written


# What a scraped news page carries besides the article (none of it is the article).
BOILERPLATE = [  # fmt: skip
    "Home",
    "World",
    "Politics",
    "Business",
    "Tech",
    "Opinion",
    "Subscribe now",
    "We use cookies to improve your experience. By continuing you accept our cookie policy.",
    "Sign up for our morning newsletter and never miss a story",
    "Related: Markets rally as central bank holds rates steady",
    "Related: Ten places to visit before the summer ends",
    "Most read: Celebrity chef opens third restaurant downtown",
    "Advertisement",
    "Copyright 2025 The Daily Example. All rights reserved.",
    "Terms of use | Privacy policy | Contact us | Careers",
    "Share on Facebook",
    "Share on X",
    "JohnD wrote: Great article, thanks for sharing this with us!",
]


def make_news_html(title: str, paragraphs: list[str]) -> tuple[bytes, list[str]]:
    """A news page as a browser saves it: the article's paragraphs inside a
    header with navigation, a cookie banner, share buttons, a sidebar of
    related and most-read links, reader comments and a footer."""
    e = html.escape
    nav = "".join(f'<li><a href="/{x.lower()}">{e(x)}</a></li>' for x in BOILERPLATE[:6])
    body = "".join(f"<p>{e(p)}</p>" for p in paragraphs)
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)} | The Daily Example</title>
<script>window.dataLayer=[];function gtag(){{dataLayer.push(arguments)}}</script>
<style>body{{font-family:serif}} .nav li{{display:inline}}</style></head><body>
<div class="cookie-banner"><p>{e(BOILERPLATE[7])}</p><button>Accept</button></div>
<header><a class="logo" href="/">The Daily Example</a><nav><ul class="nav">{nav}</ul></nav>
<form class="newsletter"><p>{e(BOILERPLATE[8])}</p><input type="email"></form></header>
<main><article><h1>{e(title)}</h1><p class="byline">By Staff Reporter, 12 June 2025</p>
<div class="share"><a href="#">{BOILERPLATE[15]}</a> <a href="#">{BOILERPLATE[16]}</a></div>
{body}</article>
<aside class="sidebar"><h3>Related</h3><ul><li><a href="/a">{e(BOILERPLATE[9])}</a></li>
<li><a href="/b">{e(BOILERPLATE[10])}</a></li></ul><h3>Most read</h3><ul><li><a href="/c">{e(BOILERPLATE[11])}</a></li></ul>
<div class="ad">{BOILERPLATE[12]}</div></aside>
<section class="comments"><h3>Comments</h3><div class="comment"><p>{e(BOILERPLATE[17])}</p></div></section></main>
<footer><p>{e(BOILERPLATE[13])}</p><p>{e(BOILERPLATE[14])}</p></footer></body></html>"""
    return page.encode("utf-8"), [title, *paragraphs]


def page_image(text: str, dpi: int = 300, pt: float = 11):
    """A US Letter page of `text` in a `pt`-point serif with one-inch
    margins, as a scanner at `dpi` would see it (a PIL image); the text is
    cut where the page ends."""
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    px = round(pt / 72 * dpi)
    font = ImageFont.truetype(str(FONT), px) if FONT.exists() else ImageFont.load_default(size=px)
    image = Image.new("L", (int(8.5 * dpi), int(11 * dpi)), 255)
    draw = ImageDraw.Draw(image)
    y, drawn = dpi, []
    for line in textwrap.wrap(text, round(80 * 11 / pt)):
        if y > image.height - 2 * dpi:
            break
        draw.text((dpi, y), line, font=font, fill=0)
        drawn.append(line)
        y += round(1.4 * px)
    image.info["drawn"] = " ".join(drawn)  # what is on the page: the truth to score OCR against
    return image


def scanned_pdf(texts: list[str], dpi: int = 300) -> bytes:
    """A PDF of pictures of pages (JPEG, as scanners write them), no text layer."""
    out = io.BytesIO()
    first, *rest = [page_image(t, dpi) for t in texts]
    first.save(out, format="PDF", resolution=dpi, save_all=True, append_images=rest)
    return out.getvalue()


def page_png(text: str, dpi: int = 300) -> bytes:
    """`page_image` as a PNG file."""
    out = io.BytesIO()
    page_image(text, dpi).save(out, format="PNG")
    return out.getvalue()
