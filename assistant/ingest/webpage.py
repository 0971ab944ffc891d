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

# A page whose main text is shorter than this is taken as having none
# (a menu, an index page, a login wall).
MIN_CHARS = 200


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


class HtmlReader:
    """The page's title (its h1) and main text, a paragraph a line;
    tables kept, comments left out."""

    suffixes = (".html", ".htm")
    streamable = False
    isolated = True  # lxml on a huge or hostile page must not stall the build

    def read(self, data: bytes, path: Path) -> str:
        import trafilatura

        if b"\x00" in data[:8192]:
            raise ValueError("binary file (contains NUL bytes)")
        page = xml_safe(_decode(data))
        text = trafilatura.extract(
            page, include_comments=False, include_tables=True, include_links=False, include_images=False,
            with_metadata=False, deduplicate=False,
        ) or ""  # fmt: skip
        if len(text.strip()) < MIN_CHARS:
            raise ValueError("no main text found in the page (a menu, an index or an empty page?)")
        return text + "\n"
