"""Example questions (api.example_questions): each one is answered, citing
its document, on the seed articles and on a made-up corpus; not section
headings; cached in the index folder until the index changes."""

import json
import time
from pathlib import Path

import pytest

from assistant import Settings, answer, build_index, examples
from assistant.api import example_questions, reset_engines
from assistant.examples import CACHE, candidates_of

MADE_UP = {
    "museum.md": "# The Quillmoor lamp museum\n\nThe Quillmoor lamp museum was founded in 1911 by a lamp maker. "
    "Its director, Professor Ada Voss, came from Lisbon. The Quillmoor lamp museum has 340 lamps on show. "
    "Visitors come mostly in summer.\n",
    "tower.txt": "Ostrel clock tower\n\nThe Ostrel clock tower is 62 metres tall. It was painted red by the town. "
    "The Ostrel clock tower was built in 1874 after a fire destroyed the old hall.\n",
    "ferry.txt": "Brindle ferries\n\nThe Brindle Ferry Company is a small operator of boats across the bay. "
    "Chief executive Tomas Rell joined it from the railways. The company sold 12,000 tickets in its first year.\n",
}


def check_answered(questions: list[str], settings: Settings) -> None:
    assert len(set(questions)) == len(questions)
    for q in questions:
        assert "sources say about" not in q and q.endswith("?")
        a = answer(q, settings=settings, backend="offline")
        assert not a.refused and a.citations, (q, a.text)


def test_examples_of_the_seed_articles_are_answered(seeds_settings):
    questions = example_questions(4, settings=seeds_settings)
    assert len(questions) >= 3, questions
    check_answered(questions, seeds_settings)


def test_examples_of_a_made_up_corpus_are_answered_and_cached(tmp_path):
    reset_engines()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in MADE_UP.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index")
    build_index(settings=settings)
    cache = Path(settings.index_dir) / CACHE
    # Cut short by its time budget: what it has, not cached (the next call asks again).
    assert examples.example_questions(settings, 4, budget=0.0) == [] and not cache.exists()
    questions = example_questions(4, settings=settings)
    assert len(questions) >= 3, questions
    check_answered(questions, settings)
    sources = {answer(q, settings=settings).citations[0].source for q in questions}
    assert len(sources) >= 2  # spread over the documents

    assert json.loads(cache.read_text(encoding="utf-8"))["questions"] == questions
    t = time.perf_counter()
    assert example_questions(4, settings=settings) == questions
    assert time.perf_counter() - t < 0.5  # from the cache: nothing asked again

    # A new build changes the index version: asked again, and the new document can be in them.
    (corpus / "bridge.txt").write_text(
        "Harl bridge\n\nThe Harl bridge was opened in 1932 by the county.\n", encoding="utf-8"
    )
    build_index(settings=settings)
    again = example_questions(8, settings=settings)
    check_answered(again, settings)
    assert any("Harl bridge" in q for q in again), again


@pytest.mark.parametrize(
    "sentence, question",
    [
        ("Treasury Secretary Scott Bessent met the minister on Monday.", "Who is Scott Bessent?"),
        ("Frédéric François Chopin (1 March 1810 – 17 October 1849) was a Polish composer.",
         "Who was Frédéric François Chopin?"),
        ("The Quillmoor lamp museum was founded in 1911 by a lamp maker.", "When was the Quillmoor lamp museum founded?"),
        ("Seoul is expected to invest around US$350 billion in U.S. assets.", "How much is Seoul expected to invest?"),
        ("The Ostrel clock tower is 62 metres tall.", "How tall is the Ostrel clock tower?"),
        ("The earthquake killed 69,000 people in the province.", "How many people did the earthquake kill?"),
    ],
)  # fmt: skip
def test_question_patterns(sentence, question):
    proper = {"Quillmoor", "Ostrel", "Seoul", "Chopin"}
    found = [c.question for c in candidates_of("a.txt", sentence, 0, len(sentence), proper, {"kill"})]
    assert question in found, found


def test_a_role_is_not_asked_as_a_person_and_a_title_is_not_part_of_a_name():
    """The 2026-12-07 tester's "Who is People Officer?" and "Who is Manager Dolores Achterberg?"."""

    def asked(sentence):
        return [c.question for c in candidates_of("a.txt", sentence, 0, len(sentence), set(), set())]

    for sentence in ("Leave requests go to the Chief People Officer within a week.",
                     "Our Chief Data Steward Ines Kahl reviews every new source.",
                     "Our Senior Manager Dolores Achterberg approves all travel."):  # fmt: skip
        assert not [q for q in asked(sentence) if q.startswith("Who")], (sentence, asked(sentence))
    assert "Who is Dolores Achterberg?" in asked("Manager Dolores Achterberg is the head of the Lisbon office.")
    assert "Who is Ines Kahl?" in asked("The data steward, Manager Ines Kahl, reviews every new source.")


def test_no_question_from_pronouns_or_headings():
    for sentence in ("It was founded in 1911 by a lamp maker.", "What is happening now in the region?",
                     "Mixed signals"):  # fmt: skip
        assert list(candidates_of("a.txt", sentence, 0, len(sentence), {"Mixed"}, set())) == []
