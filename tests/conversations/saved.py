"""Answers to save (imported by the tests here): built on real sentences of the seed files (real offsets),
so an export's evidence quotes can be checked against the corpus."""

from __future__ import annotations

import random

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


def rated_conversations(path, conversations: int = 7) -> list[str]:
    """The 2026-12-07 re-test's conversations: `conversations` of three turns
    (the last one rated up) with answers of ten passages each, so most of the
    file is overflow pages of answers. Their ids, oldest first."""
    from assistant.conversations import ConversationStore

    answers = [
        seed_answer(
            "What did Washington ask Seoul to drop?", "000_5ee872053de253e0.txt", "beef import restrictions", 10
        ),
        seed_answer("Which think tank said a trade deal is urgent?", "000_5ee872053de253e0.txt", "CSIS analyzed", 10),
        seed_answer("What did Han ask Beijing to back?", "001_822ce0cbe2c49b13.txt", "World Expo", 10),
    ]
    ids = []
    with ConversationStore(path) as store:
        for i in range(conversations):
            ids.append(store.create(title=f"talk {i}"))
            for a in answers:
                store.add_turn(ids[-1], a.question, a)
            store.rate(ids[-1], 2, 1)
    return ids


def damage_records(path) -> bytes:
    """The re-test's damage: 3000 random bytes at offset 100 of pages 10, 20,
    ..., 60. On `rated_conversations` those are overflow pages of answers:
    record contents only, so `PRAGMA quick_check` still says ok (the callers
    check it). The file's bytes."""
    noise = random.Random(1)
    with open(path, "r+b") as fh:
        for page in range(10, 61, 10):
            fh.seek(page * 4096 + 100)
            fh.write(noise.randbytes(3000))
    return path.read_bytes()


def quick_check(path) -> list[str]:
    import sqlite3

    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as e:  # so damaged that the check itself breaks off
        return [str(e)]
    finally:
        db.close()
