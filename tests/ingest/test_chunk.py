from pathlib import Path

import pytest

from assistant import Settings
from assistant.ingest.chunk import chunk_doc, split_units
from assistant.ingest.files import load_corpus

from conftest import SEEDS, alnum, is_subsequence


@pytest.fixture(scope="module")
def docs():
    return load_corpus(Settings(corpus=SEEDS))[0]


def test_every_seed_file_is_loaded_with_a_title(docs):
    assert sorted(d.source for d in docs) == sorted(p.name for p in SEEDS.glob("*.txt"))
    assert all(d.title and len(d.title) < 200 for d in docs)


@pytest.mark.parametrize("size,overlap", [(220, 40), (64, 16), (512, 0)])
def test_chunks_are_token_bounded_whole_sentences_with_overlap(docs, size, overlap):
    for doc in docs:
        units, chunks = chunk_doc(doc, size, overlap, 96)
        assert chunks
        covered = set()
        for c in chunks:
            assert c.tokens <= size or len(c.units) == 1
            assert c.text == doc.text[c.start : c.end]
            assert c.start == units[c.units[0]].start and c.end == units[c.units[-1]].end
            covered.update(c.units)
        assert covered == set(range(len(units)))  # nothing is lost
        if overlap:
            shared = [set(a.units) & set(b.units) for a, b in zip(chunks, chunks[1:])]
            assert any(shared)


def test_chunk_offsets_point_at_the_original_text(docs):
    for doc in docs:
        raw = Path(doc.path).read_text(encoding="utf-8")
        for c in chunk_doc(doc, 220, 40, 96)[1]:
            s, e = doc.clean.to_original(c.start, c.end)
            assert is_subsequence(alnum(c.text), alnum(raw[s:e]))


def test_units_split_long_sentences_and_keep_abbreviations():
    text = "The U.S. industrial policy changed. Items: " + ", ".join(f"item number {i}" for i in range(80)) + "."
    units = split_units(text, 32)
    assert units[0].text == "The U.S. industrial policy changed."
    assert all(u.tokens <= 32 for u in units)
    assert len(units) > 3


def test_headings_versus_list_items_and_long_sentences():
    text = (
        "A Long Document Title That Goes On And On Without Any Full Stop At All Here\n\n"
        "Section Two\n\n"
        "- tariff on cars cut to 15 percent for Korean makers\n"
        "- steel quota kept\n\n"
        + "This sentence is long, "
        + ", ".join(f"clause {i} adds words" for i in range(40))
        + ".\n"
    )
    units = split_units(text, 32)
    by_text = {u.text: u.heading for u in units}
    assert by_text[units[0].text] is True  # the title
    assert by_text["Section Two"] is True
    assert by_text["tariff on cars cut to 15 percent for Korean makers"] is False  # a list item carries content
    assert by_text["steel quota kept"] is False
    pieces = [u for u in units if "clause" in u.text]
    assert len(pieces) > 2 and not any(u.heading for u in pieces)  # pieces of a long sentence are not headings


def test_an_abbreviation_before_a_capital_does_not_end_the_sentence():
    # An untrained punkt cut both after "U.S.", losing "7th" from the forum's sentence.
    text = (
        "At the 7th Korea-U.S. Public-Private Economic Forum held in May, chips were named. "
        "The U.S. President spoke on Jan. 5. Dr. Kim answered."
    )
    assert [u.text for u in split_units(text, 96, starts_doc=False)] == [
        "At the 7th Korea-U.S. Public-Private Economic Forum held in May, chips were named.",
        "The U.S. President spoke on Jan. 5.",
        "Dr. Kim answered.",
    ]
