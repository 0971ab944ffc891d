"""Saved web pages (.html, .htm), read with trafilatura, which keeps the
main text and drops navigation, banners, related links, comments and
footers. Chosen by measurement (`benchmarks/bench_readers.py`, 2026-11-26)
on saved news pages (a seed article inside a news page's furniture: nav,
cookie banner, newsletter box, share links, related and most-read links,
an ad, reader comments, footer): trafilatura kept 98-100 % of the article's
words in order and none of the page's 10 boilerplate phrases;
readability-lxml kept 98-99 % but let 2 of the 10 through, justext kept
96-99 %, plain BeautifulSoup text kept everything, boilerplate included.
2-7 ms a page once imported. trafilatura downloads nothing (its fetching
functions are not used)."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.ingest.base import Titled
from assistant.ingest.tables import names_columns, row_sentences


def _decode(data: bytes) -> str:
    # UTF-8 first (most saved pages); then the charset the page declares,
    # which trafilatura's own detection finds.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        from trafilatura.utils import decode_file

        return decode_file(data)


# Characters XML cannot hold: C0 controls (but tab, LF, CR), U+FFFE/U+FFFF and
# lone surrogates. One of them, raw or as a character reference ("&#x1;"),
# made lxml give up on the whole page, so a page with one odd character was
# skipped as having no main text. They carry no text: each becomes a space.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));?")


def _illegal(cp: int) -> bool:
    return cp > 0x10FFFF or bool(_ILLEGAL.match(chr(cp)))


def xml_safe(page: str) -> str:
    page = _CHAR_REF.sub(lambda m: " " if _illegal(int(m[1], 16) if m[1] else int(m[2])) else m[0], page)
    return _ILLEGAL.sub(" ", page)


# Below this many characters trafilatura's main text is not trusted: it
# finds nothing in a one-paragraph page, or keeps its menu.
SHORT = 200
# What is page furniture, not text, when the whole body is read.
_FURNITURE = ("nav", "header", "footer", "script", "style", "noscript", "aside", "form", "template", "iframe", "svg")
_BLOCKS = ("p", "div", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "tr", "br", "section")
_SITE_SUFFIX = re.compile(r"\s+[|\u2013\u2014-]\s+[^|\u2013\u2014-]{1,40}$")


def _text(el) -> str:
    return " ".join(el.text_content().split())


def page_title(doc) -> str | None:
    """The page's own title: og:title, else <title> less a trailing site
    name ("... | Example News"), else the first <h1>; never a footer line."""
    for value in (
        *doc.xpath("//meta[@property='og:title']/@content"),
        *(_SITE_SUFFIX.sub("", _text(t)) for t in doc.xpath("//title")),
        *(_text(h) for h in doc.xpath("//h1")),
    ):
        value = " ".join(str(value).split())
        if value:
            return value
    return None


def _p(doc, text: str):
    el = doc.makeelement("p", {})
    el.text = text
    return el


def _definitions(doc) -> None:
    """<dt> terms kept with their <dd>: "root: the superuser account", so the
    term and what it means are one sentence (trafilatura drops the terms)."""
    for dl in list(doc.iter("dl")):
        terms: list[str] = []
        after_dd = False
        for child in list(dl):
            if child.tag == "dt":
                if after_dd:
                    terms, after_dd = [], False
                terms.append(_text(child))
                dl.remove(child)
            elif child.tag == "dd":
                body = _text(child)
                dl.replace(child, _p(doc, f"{'; '.join(t for t in terms if t)}: {body}" if any(terms) else body))
                after_dd = True
        dl.tag = "div"


def _tables(doc) -> None:
    """A table with a header row (<th> cells, or a <thead>) becomes a
    sentence a row that names its columns ("Office: Gdansk; Role: Software;
    Staff: 85."), as Word tables are read; other tables are left to trafilatura."""
    for table in list(doc.iter("table")):
        rows = table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr")
        if len(rows) < 2:
            continue
        header = [_text(c) for c in rows[0].xpath("./th|./td")]
        if not (rows[0].xpath("./th") or table.xpath("./thead")) or not names_columns(header):
            continue
        div = doc.makeelement("div", {})
        rows_text = [[_text(c) for c in row.xpath("./th|./td")] for row in rows[1:]]
        div.extend(_p(doc, line) for line in row_sentences(header, rows_text))
        div.tail = table.tail
        table.getparent().replace(table, div)


def body_text(doc) -> str:
    """The whole body without page furniture, a block a line: for a page whose
    main text trafilatura cannot tell apart (a short note, an FAQ)."""
    for el in list(doc.iter(*_FURNITURE)):
        if el.getparent() is not None:
            el.drop_tree()
    body = doc.find("body") if doc.find("body") is not None else doc
    for el in body.iter(*_BLOCKS):
        el.tail = "\n" + (el.tail or "")
    lines = (" ".join(line.split()) for line in body.text_content().splitlines())
    return "\n".join(line for line in lines if line)


class HtmlReader:
    """The page's main text, a paragraph a line, with its own title
    (`page_title`); definition terms kept with their definitions, tables
    with a header as row sentences, comments left out."""

    suffixes = (".html", ".htm")
    streamable = False
    isolated = True  # lxml on a huge or hostile page must not stall the build

    def read(self, data: bytes, path: Path) -> str:
        import trafilatura

        if b"\x00" in data[:8192]:
            raise ValueError("binary file (contains NUL bytes)")
        from lxml import etree
        from lxml import html as lxml_html

        page = xml_safe(_decode(data))
        try:
            doc = lxml_html.document_fromstring(page)
        except (etree.ParserError, ValueError):
            raise ValueError("no main text found in the page (an empty page?)") from None
        title = page_title(doc)
        _definitions(doc)
        _tables(doc)
        text = trafilatura.extract(
            lxml_html.tostring(doc, encoding="unicode"), include_comments=False, include_tables=True,
            include_links=False, include_images=False, with_metadata=False, deduplicate=False,
        ) or ""  # fmt: skip
        if len(text.strip()) < SHORT:
            # A short page (a note, an FAQ, one paragraph): trafilatura keeps
            # nothing of it, or the menu. The body less its furniture is the text.
            text = body_text(doc)
        if not text.strip():
            raise ValueError("no main text found in the page (a menu or an empty page?)")
        return Titled(text + "\n", title)
