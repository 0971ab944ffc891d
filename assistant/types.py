"""Public result types of the assistant: `Answer`, `Citation`, `Passage`, `IndexProgress`.

Plain dataclasses with no heavy imports, so `from assistant import Answer`
stays cheap and scripts can serialise results with `Answer.to_dict()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass
class Passage:
    """A retrieved chunk of a source document.

    `start`/`end` are character offsets into the original file:
    `open(source).read()[start:end]` is the raw text this passage came from.
    `text` is the cleaned text that was indexed and shown to readers.
    `flags` marks what a reader should know about it: "instructions" when it
    holds text addressed to the assistant (a prompt injection), which was not
    followed and is not evidence (set when an LLM answers).
    For a document that is not plain text (PDF, Word, HTML) the offsets index
    the text extracted from it, which the index keeps; `page` is the 1-based
    page the passage starts on (PDF), None where a format has no pages.
    """

    n: int
    id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    chunk: int = 0
    scores: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    page: int | None = None


@dataclass
class Unit:
    """A sentence of a retrieved passage, with its embedding."""

    id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    heading: bool
    index: int
    vector: np.ndarray
    passage: int  # number of the first passage (1-based) that holds it
    page: int | None = None  # the page it starts on (PDF)


@dataclass(frozen=True)
class RetrievedContext:
    """Everything an answerer sees of one question's retrieval, made once by
    the pipeline: the passages, their sentence units (offsets and vectors),
    and the index's statistics of the query's terms. Frozen, and holding no
    store or retriever, so an answer never reads the index (a store that
    changes under a question is retried around retrieval only) and an
    answerer is tested on a hand-made context."""

    query: str  # what was searched: the question, its aliases and carried-over terms
    passages: tuple[Passage, ...] = ()
    units: tuple[Unit, ...] = ()
    # (document frequency, IDF) in the index of each term of the query and the question
    terms: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    qvec: np.ndarray | None = None  # the query's vector
    avoid: np.ndarray | None = None  # vectors of the previous answer's sentences (not to say again)
    relevance: np.ndarray | None = None  # the reranker's probability per unit, when one ran

    def doc_freq(self, term: str) -> int:
        """In how many chunks of the index the term is (0: never)."""
        return self.terms.get(term, (0, 0.0))[0]

    def idf(self, term: str) -> float:
        return self.terms.get(term, (0, 0.0))[1]


@dataclass
class Citation:
    """One `[n]` marker of an answer and the exact span it stands for.

    `text` is the quoted sentence (cleaned); `start`/`end` are offsets of that
    sentence in the original file `source`; `passage` is the 1-based number of
    the retrieved `Passage` it lies in. `page` is the 1-based page the
    sentence starts on (PDF), None where a format has no pages.
    """

    n: int
    source: str
    title: str
    text: str
    start: int
    end: int
    passage: int = 0
    score: float = 0.0
    page: int | None = None


@dataclass
class Answer:
    """What `answer()` returns.

    `text` carries `[n]` markers that refer to `citations[n-1]`. When the
    sources do not answer the question, `refused` is True and `text` says so.
    `timings` holds per-stage wall times in milliseconds.
    """

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    passages: list[Passage] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    backend: str = "offline"
    query: str = ""
    notes: list[str] = field(default_factory=list)
    # LLM answers: sentences dropped because no retrieved passage supports
    # them, and how many sentences were kept / re-cited / dropped.
    unsupported: list[str] = field(default_factory=list)
    verification: dict = field(default_factory=dict)
    # How the answer was reached (scores, refusal reason); not a stable contract.
    debug: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self, show_sources: bool = True) -> str:
        """The answer as plain text, followed by its numbered sources."""
        lines = [self.text]
        if show_sources and self.citations:
            lines.append("")
            lines.append("Sources:")
            for c in self.citations:
                where = f"p. {c.page}, chars" if c.page is not None else "chars"
                lines.append(f"[{c.n}] {c.source} — {c.title} ({where} {c.start}–{c.end})")
                lines.append(f'    "{c.text}"')
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)


@dataclass(frozen=True)
class IndexProgress:
    """Where a build is, as `build_index(on_progress=...)` reports it: at the
    start of each file and of each segment of a large one, and each time a
    group of sentences is embedded (`event`: "file", "segment", "embedded").

    `file` (1-based) of `files` is the file being read, `source` its name;
    `segment` of `segments` the segment being read when it is a large file
    read in segments (else 0 of 0). `files_done`: files finished (embedded,
    unchanged or skipped); `words` the words embedded by this build and
    `words_per_s` their rate; `seconds_left` the time the rest should take
    at that rate (None until there is a rate: "estimating"); `fraction` the
    share of the build's expected work done (bytes: a large file weighs its
    size), None when it expects none. `elapsed`: seconds since the build started."""

    files: int
    event: str = "file"
    file: int = 0
    source: str = ""
    segment: int = 0
    segments: int = 0
    files_done: int = 0
    words: int = 0
    words_per_s: float | None = None
    seconds_left: float | None = None
    fraction: float | None = None
    elapsed: float = 0.0

    @property
    def label(self) -> str:
        """The file being read, as `progress(i, n, label)` callbacks are given it:
        "name", or "name (segment k/S)" in a large file."""
        return f"{self.source} (segment {self.segment}/{self.segments})" if self.segments else self.source
