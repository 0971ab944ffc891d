"""Split a cleaned document into sentence units and token-sized chunks.

Units are sentences (punkt, the sentence tokenizer llama-index ships), with
over-long sentences cut at clause boundaries; they are what the answerer
quotes and cites. Chunks are runs of whole units packed up to `chunk_size`
tiktoken tokens with `chunk_overlap` tokens of whole units carried over; they
are what retrieval returns. Packing by hand (rather than llama-index's
SentenceSplitter) is what gives every chunk and unit exact character offsets
and guarantees a unit never straddles a chunk boundary: SentenceSplitter
reports neither.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from assistant.ingest.files import SourceDoc


@dataclass
class Unit:
    index: int
    start: int  # offsets in the cleaned text
    end: int
    tokens: int
    text: str
    heading: bool = False


@dataclass
class Chunk:
    index: int
    start: int
    end: int
    tokens: int
    text: str
    units: list[int] = field(default_factory=list)


@lru_cache(maxsize=1)
def _tools():
    # llama-index ships tiktoken's encoding and nltk's punkt data, so neither
    # is fetched from the network. Its own `punkt_tokenizer` is an untrained
    # PunktSentenceTokenizer, which knows no abbreviation and cuts "the U.S.
    # President" in two; the English model it ships (punkt_tab) does not.
    from llama_index.core.utils import get_tokenizer, globals_helper
    from nltk.tokenize.punkt import PunktTokenizer

    globals_helper.wait_for_nltk_check()  # puts llama-index's nltk data on nltk's path
    return get_tokenizer(), PunktTokenizer("english")


def count_tokens(text: str) -> int:
    return len(_tools()[0](text))


_CLAUSE = re.compile(r"[;:,]\s+|\s+[–—-]\s+")
# List bullets and section numbers ("•", "2.1", "3.") that open a line.
_LIST_MARKS = "•·▪◦*-–—"
_BULLET = re.compile(r"(?:[•·▪◦*\-–—]|\d{1,2}(?:\.\d{1,2})*\.|\d{1,2}(?:\.\d{1,2})+|\(?[a-z0-9]\))\s+")


def _is_heading(sentence: str, whole_line: bool, bulleted: bool, first: bool) -> bool:
    """Titles, section headings and bylines: a line of its own, short (or the
    document's first line), with no closing punctuation. List items are not
    headings even without a full stop: they carry content."""
    if bulleted or not whole_line or re.search(r"[.!?…\"'”’)]$", sentence.strip()):
        return False
    return first or len(sentence.split()) <= 14


def _split_long(text: str, start: int, end: int, max_tokens: int) -> list[tuple[int, int]]:
    """Cut [start, end) into pieces of at most max_tokens, at clause breaks if possible."""
    if count_tokens(text[start:end]) <= max_tokens:
        return [(start, end)]
    mid = (start + end) // 2
    cuts = [m.end() for m in _CLAUSE.finditer(text, start, end) if start < m.end() < end]
    if not cuts:
        cuts = [m.end() for m in re.finditer(r"\s+", text[start:end])]
        cuts = [start + c for c in cuts if 0 < c < end - start]
    if not cuts:
        cut = mid
    else:
        cut = min(cuts, key=lambda c: abs(c - mid))
    left_end = cut
    while left_end > start and text[left_end - 1].isspace():
        left_end -= 1
    return _split_long(text, start, left_end, max_tokens) + _split_long(text, cut, end, max_tokens)


def split_units(text: str, max_tokens: int, starts_doc: bool = True) -> list[Unit]:
    """Sentence units of the cleaned text: lines first, then punkt inside a
    line. `starts_doc=False`: the text is a later segment of a large file, so
    its first line is not the document's title."""
    punkt = _tools()[1]
    units: list[Unit] = []
    for line in re.finditer(r"[^\n]+", text):
        spans: list[list[int]] = []
        for s, e in punkt.span_tokenize(line.group(0)):
            s += line.start()
            e += line.start()
            # punkt splits after "U.S." or a bare "1." even when the sentence
            # goes on; glue such pieces back together.
            if spans and (
                text[s].islower() or re.fullmatch(r"\d{1,2}(\.\d{1,2})*\.?", text[spans[-1][0] : spans[-1][1]])
            ):
                spans[-1][1] = e
            else:
                spans.append([s, e])
        for s, e in spans:
            b = _BULLET.match(text, s)
            bulleted = bool(b and b.end() < e and text[s] in _LIST_MARKS)
            if b and b.end() < e:
                s = b.end()
            heading = _is_heading(text[s:e], len(spans) == 1, bulleted, starts_doc and not units)
            for us, ue in _split_long(text, s, e, max_tokens):
                piece = text[us:ue]
                if not piece.strip():
                    continue
                units.append(Unit(len(units), us, ue, count_tokens(piece), piece, heading))
    return units


def pack_chunks(text: str, units: list[Unit], size: int, overlap: int) -> list[Chunk]:
    """Greedy packing of whole units into chunks of at most `size` tokens."""
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, tokens = i, 0
        while j < len(units) and (j == i or tokens + units[j].tokens <= size):
            tokens += units[j].tokens
            j += 1
        start, end = units[i].start, units[j - 1].end
        chunks.append(Chunk(len(chunks), start, end, tokens, text[start:end], list(range(i, j))))
        if j >= len(units):
            break
        # Next chunk starts with the trailing units that fit in `overlap`.
        k, carried = j, 0
        while k - 1 > i and carried + units[k - 1].tokens <= overlap:
            k -= 1
            carried += units[k].tokens
        i = k
    return chunks


def chunk_doc(
    doc: SourceDoc, size: int, overlap: int, unit_max_tokens: int, starts_doc: bool = True
) -> tuple[list[Unit], list[Chunk]]:
    units = split_units(doc.text, min(unit_max_tokens, size), starts_doc)
    return units, pack_chunks(doc.text, units, size, overlap)


def chunk_id(source: str, chunk: Chunk, segment: int = 0) -> str:
    """A chunk's id. A segment of a large file (see `ingest.Segments`) is
    chunked on its own, its offsets counted from its own start: from the
    second segment on, the segment is part of the key."""
    key = f"{source}\x00{chunk.start}\x00{chunk.text}"
    if segment:
        key = f"{source}\x00s{segment}\x00{chunk.start}\x00{chunk.text}"
    return hashlib.sha256(key.encode()).hexdigest()[:24]
