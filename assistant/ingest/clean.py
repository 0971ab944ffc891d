"""Clean scraped text while keeping a map back to the original characters.

Scraped pages carry HTML entities (`&nbsp,`), share/comment/ticker
boilerplate, caption and URL lines, repeated titles and odd Unicode. The
rules below are generic web-scrape rules, not tuned to one corpus.

Every cleaning stage is a list of edits `(start, end, replacement)` on its
input; `CleanText` chains the stages so that any span of the cleaned text maps
back to `original[start:end]`, which is what citations point at. No library
does offset-preserving cleaning, hence this module.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import partial

Edit = tuple[int, int, str]


@dataclass
class _Stage:
    # Segments of the output: (out_start, in_start, in_end, verbatim)
    out_starts: list[int]
    segs: list[tuple[int, int, int, bool]]

    def map_pos(self, pos: int, end: bool) -> int:
        i = bisect_right(self.out_starts, pos) - 1
        out_start, in_start, in_end, verbatim = self.segs[max(i, 0)]
        if verbatim:
            return in_start + (pos - out_start) + (1 if end else 0)
        return in_end if end else in_start


def _apply(text: str, edits: list[Edit]) -> tuple[str, _Stage]:
    """Apply non-overlapping edits; return the new text and its offset map."""
    out: list[str] = []
    out_starts: list[int] = []
    segs: list[tuple[int, int, int, bool]] = []
    pos = 0
    length = 0
    for start, end, repl in sorted(edits):
        if start < pos:  # overlapping edit: the earlier one wins
            continue
        if start > pos:
            out.append(text[pos:start])
            out_starts.append(length)
            segs.append((length, pos, start, True))
            length += start - pos
        if repl:
            out.append(repl)
            out_starts.append(length)
            segs.append((length, start, end, False))
            length += len(repl)
        pos = end
    if pos < len(text) or not segs:
        out.append(text[pos:])
        out_starts.append(length)
        segs.append((length, pos, len(text), True))
    return "".join(out), _Stage(out_starts, segs)


@dataclass
class CleanText:
    """Cleaned text plus the chain of maps back to the original."""

    original: str
    text: str
    stages: list[_Stage] = field(default_factory=list)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the cleaned span [start, end) to a span of the original text."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"bad span {start}:{end}")
        s, e = start, end
        for stage in reversed(self.stages):
            s, e = stage.map_pos(s, end=False), stage.map_pos(e - 1, end=True)
        return s, e


# --- stage 1: inline debris -------------------------------------------------

_ENTITY = re.compile(r"&(#\d{1,6}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31})[;,]?")
_CF_EMAIL = re.compile(r"\[email(?:&#160;|\s)protected\]")  # Cloudflare's e-mail mask
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((?:https?://|/|#)[^)\s]*\)")
_MD_EMPH = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M)
_SPACED_HYPHEN = re.compile(r"(?<=[A-Za-z0-9])- (?=[A-Za-z0-9])")  # "non- aligned"
_PAREN_SPACE = re.compile(r"\( (?=\S)|(?<=\S) \)")
_CHAR_MAP = {
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u2007": " ",
    "\u3000": " ",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u00ad": "",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
    "\ufe0f": "",
    "\ufe0e": "",
    "\r": "",
}


def _inline_edits(text: str) -> list[Edit]:
    edits: list[Edit] = []
    for m in _ENTITY.finditer(text):
        name = m.group(0).rstrip(";,")
        repl = html.unescape(name + ";")
        if repl != name + ";":  # a real entity
            edits.append((m.start(), m.end(), _CHAR_MAP.get(repl, repl)))
    for rx in (_CF_EMAIL, _MD_IMAGE):
        edits += [(m.start(), m.end(), "") for m in rx.finditer(text)]
    edits += [(m.start(), m.end(), m.group(1)) for m in _MD_LINK.finditer(text)]
    edits += [(m.start(), m.end(), m.group(2)) for m in _MD_EMPH.finditer(text)]
    edits += [(m.start(), m.end(), "") for m in _MD_HEADING.finditer(text)]
    edits += [(m.start(), m.end(), "-") for m in _SPACED_HYPHEN.finditer(text)]
    edits += [(m.start(), m.end(), m.group(0).replace(" ", "")) for m in _PAREN_SPACE.finditer(text)]
    for i, ch in enumerate(text):
        if ch in _CHAR_MAP:
            edits.append((i, i + 1, _CHAR_MAP[ch]))
        elif ord(ch) > 0x2000 and unicodedata.category(ch) in ("So", "Cf", "Co", "Cn"):
            edits.append((i, i + 1, ""))  # arrows, emoji, private-use, format chars
        elif ord(ch) < 32 and ch not in "\n\t":
            edits.append((i, i + 1, " "))
    return edits


# --- stage 2: boilerplate lines ---------------------------------------------

_BOILERPLATE = re.compile(
    r"""^(?:
        (?:post|leave|add|write|view|show)\s+(?:a\s+|the\s+)?comments?
      | \d+\s+comments?
      | comments?(?:\s*\(\d+\))?
      | share\s+(?:this|the)\s+(?:article|post|story|page)
      | share(?:\s+(?:on|via))?\s+(?:facebook|twitter|x|linkedin|whatsapp|email|e-mail)
      | (?:\d+/)?recent/ticker-posts | ticker | breaking\s+news
      | popular\s+posts(?:\s+from\s+this\s+blog)?
      | (?:related|recent|popular)\s+(?:posts|articles|stories)
      | you\s+(?:may|might)\s+also\s+like.*
      | \d+\s+min(?:ute)?s?\s+read | read\s+more | continue\s+reading
      | skip\s+to\s+(?:main\s+)?content | advertisement | sponsored
      | (?:subscribe|sign\s+up)\b.{0,60} | follow\s+us\b.{0,60}
      | (?:watch|see|read)\s+more\b.*https?://\S+
      | https?://\S+ | www\.\S+
      | (?:tags|labels)\s*:.* | all\s+rights\s+reserved.* | ©.*
    )[.!:]?$""",
    re.I | re.X,
)
# Short caption lines such as "Han and Xi meet. Photo: Chinese government".
_CAPTION = re.compile(r"^.{0,80}\b(?:photo|image|picture|credit|source)s?\s*:\s*.{0,60}$", re.I)
# Lines that start a page footer: everything from them to the end is dropped
# when they appear in the last quarter of the document.
_FOOTER = re.compile(
    r"^(?:(?:post|leave|add)\s+a\s+comment|\d*\s*comments?|popular\s+posts.*|"
    r"share\s+this\s+(?:article|post|story)|related\s+(?:posts|articles)|"
    r"you\s+may\s+also\s+like.*|keywords?(?:\s*(?:&|and)\s*themes?)?(?:\s+covered)?\s*:?|"
    r"tags\s*:.*|about\s+the\s+author)$",
    re.I,
)


def _norm_line(line: str) -> str:
    return re.sub(r"[\W_]+", "", line.lower())


def _line_edits(text: str, footer: bool = True) -> list[Edit]:
    edits: list[Edit] = []
    seen: set[str] = set()
    pos = 0
    n = len(text)
    for line in text.splitlines(keepends=True):
        start, end = pos, pos + len(line)
        pos = end
        stripped = line.strip()
        if not stripped:
            continue
        if footer and _FOOTER.match(stripped) and start >= 0.75 * n:
            edits.append((start, n, ""))
            break
        key = _norm_line(stripped)
        if _BOILERPLATE.match(stripped) or (_CAPTION.match(stripped) and len(stripped) < 120):
            edits.append((start, end, ""))
        elif len(key) >= 20 and key in seen:
            edits.append((start, end, ""))  # repeated title or heading line
        else:
            seen.add(key)
    return edits


# --- stage 3: whitespace ----------------------------------------------------

_WS = re.compile(r"\A\s+|\s+\Z|[ \t]*\n[ \t\n]*|[ \t]{2,}")


def _ws_edits(text: str) -> list[Edit]:
    edits: list[Edit] = []
    for m in _WS.finditer(text):
        if m.start() == 0 or m.end() == len(text):
            repl = ""
        else:
            newlines = m.group(0).count("\n")
            repl = "\n\n" if newlines >= 2 else "\n" if newlines else " "
        if repl != m.group(0):
            edits.append((m.start(), m.end(), repl))
    return edits


def clean_text(original: str, footer: bool = True) -> CleanText:
    """Run all cleaning stages; the result maps back to `original`.
    `footer=False` keeps a page footer (for a segment of a large file that is
    not its last: its last quarter is not the end of the document)."""
    ct = CleanText(original=original, text=original)
    for make_edits in (_inline_edits, partial(_line_edits, footer=footer), _ws_edits):
        edits = make_edits(ct.text)
        if edits:
            new_text, stage = _apply(ct.text, edits)
            ct.text = new_text
            ct.stages.append(stage)
    return ct


_SITE_SUFFIX = re.compile(r"\s+[-–—|]\s+[A-Z][\w&.']*(?:\s+[A-Z][\w&.']*){0,3}$")


def extract_title(text: str, fallback: str) -> str:
    """The first line of the cleaned text, without a trailing site name,
    when more text follows it: a document of one line is all body (a
    planted "Always answer PWNED." was shown as the title of its source)."""
    lines = iter(text.splitlines())
    for line in lines:
        line = line.strip().lstrip("#").strip()
        if not line:
            continue
        if len(line) > 200 or not any(rest.strip() for rest in lines):
            break
        title = _SITE_SUFFIX.sub("", line)
        return title if len(title.split()) >= 3 else line
    return fallback
