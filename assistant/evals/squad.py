"""SQuAD-format question sets: a corpus folder from their articles, and the
gold spans of their questions inside the files of that folder.

Used to train the reader (`assistant train-reader`) and to evaluate on
documents nobody on the project tuned for (`assistant eval --squad FILE`).
The project's copy of SQuAD 2.0 (ten Wikipedia articles) is
`evals/squad/squad2-10-articles.json`; its attribution is beside it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import GoldFileError

# Articles held out from training: the reader's figures on them are figures on
# documents it never saw. Twilight Princess holds 160 of the set's 348
# unanswerable questions, so refusals are measured on unseen text too.
HELD_OUT = ("The_Legend_of_Zelda:_Twilight_Princess", "Solar_energy")


@dataclass
class Question:
    id: str
    article: str
    question: str
    answerable: bool
    answers: list[str]
    # gold spans as (start, end) in the article's corpus file
    spans: list[tuple[int, int]] = field(default_factory=list)
    # the paragraph's span in that file (for unanswerable questions too)
    paragraph: tuple[int, int] = (0, 0)


@dataclass
class Article:
    title: str
    file: str  # file name inside the corpus folder
    text: str
    paragraphs: list[tuple[int, int]]
    questions: list[Question]


def file_name(title: str) -> str:
    return re.sub(r"[^\w.-]+", "_", title).strip("_") + ".txt"


def load(path: str | Path) -> list[Article]:
    """Articles of a SQuAD-format JSON file, each laid out as its corpus file
    is written: the title, a blank line, then the paragraphs separated by blank
    lines. Answer offsets are moved into that file."""
    try:
        raw_bytes = Path(path).read_bytes()
        if raw_bytes[:2] == b"\x1f\x8b":  # the whole SQuAD 1.1 set ships gzipped
            raw_bytes = gzip.decompress(raw_bytes)
        data = json.loads(raw_bytes.decode("utf-8"))
        raw = data["data"]
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise GoldFileError([f"{path}: not a SQuAD-format JSON file ({e.__class__.__name__}: {e})"]) from None
    articles = []
    for art in raw:
        title = str(art.get("title", "untitled")).replace("_", " ")
        text = title + "\n\n"
        paragraphs: list[tuple[int, int]] = []
        questions: list[Question] = []
        for para in art.get("paragraphs", []):
            ctx = " ".join(para["context"].split("\n"))
            base = len(text)
            text += ctx + "\n\n"
            paragraphs.append((base, base + len(ctx)))
            for qa in para.get("qas", []):
                impossible = bool(qa.get("is_impossible", False))
                answers = [] if impossible else qa.get("answers", [])
                spans = []
                for a in answers:
                    s = base + int(a["answer_start"])
                    spans.append((s, s + len(a["text"])))
                questions.append(
                    Question(
                        id=str(qa["id"]),
                        article=str(art.get("title", "")),
                        question=str(qa["question"]).strip(),
                        answerable=not impossible and bool(spans),
                        answers=[a["text"] for a in answers],
                        spans=spans,
                        paragraph=(base, base + len(ctx)),
                    )
                )
        articles.append(
            Article(str(art.get("title", "")), file_name(title), text.rstrip() + "\n", paragraphs, questions)
        )
    return articles


def write_corpus(articles: list[Article], folder: str | Path) -> Path:
    """One .txt file per article in `folder` (created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for a in articles:
        (folder / a.file).write_text(a.text, encoding="utf-8")
    return folder


def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def split(articles: list[Article], held_out: tuple[str, ...] = HELD_OUT) -> tuple[list[Article], list[Article]]:
    """(training articles, held-out articles), split by article."""
    train = [a for a in articles if a.title not in held_out]
    test = [a for a in articles if a.title in held_out]
    return train, test
