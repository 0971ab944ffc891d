"""Answers to save (imported by the tests here): built on real sentences of the seed files (real offsets),
so an export's evidence quotes can be checked against the corpus."""

from __future__ import annotations

from assistant.types import Answer, Citation, Passage

from conftest import SEEDS


def seed_answer(question: str, source: str, words: str, n_passages: int = 3) -> Answer:
    """An answer citing the sentence of `source` that holds `words`, the way
    answer() builds one: a passage around it, a citation on its exact span."""
    text = (SEEDS / source).read_text(encoding="utf-8-sig")
    at = text.index(words)
    start = max(text.rfind(". ", 0, at) + 2, text.rfind("\n", 0, at) + 1)
    end = text.index(".", at) + 1
    sentence = text[start:end]
    title = text.splitlines()[0]
    passages = [
        Passage(
            n=i + 1,
            id=f"{source}:{i}",
            source=source,
            title=title,
            text=text[max(0, start - 200) : end + 200],
            start=max(0, start - 200),
            end=end + 200,
            score=0.5 - i / 10,
            chunk=i,
            scores={"vector": 0.4, "bm25": 3.2},
        )
        for i in range(n_passages)
    ]
    cite = Citation(n=1, source=source, title=title, text=sentence, start=start, end=end, passage=1, score=0.8)
    return Answer(
        question=question,
        text=f"{sentence} [1]",
        citations=[cite],
        passages=passages,
        timings={"total": 21.0},
        query=question,
        debug={"why": "scores"},
    )


def seed_answers() -> list[Answer]:
    return [
        seed_answer("What did Washington ask Seoul to drop?", "000_5ee872053de253e0.txt", "beef import restrictions"),
        seed_answer("Which think tank said a trade deal is urgent?", "000_5ee872053de253e0.txt", "CSIS analyzed"),
        seed_answer("What did Han ask Beijing to back?", "001_822ce0cbe2c49b13.txt", "World Expo"),
    ]


def refusal() -> Answer:
    return Answer(question="What is the GDP of Mars?", text="The sources don't say.", refused=True)
