"""Asking a chosen subset of the documents (`sources`, `--source`): both
sides of the hybrid search are filtered, so the top_k is the subset's own."""

from __future__ import annotations

import pytest

from assistant import QuestionError, answer

FILES = {
    "ferry.md": "# Ferry\n\nThe Brinwell ferry leaves at noon every day.\n",
    "reports/bus.md": "# Bus\n\nThe Brinwell bus leaves at nine every day.\n",
    "reports/tram.md": "# Tram\n\nThe Brinwell tram leaves at ten every day.\n",
}
Q = "Which Brinwell service leaves every day?"


def _corpus(settings):
    for name, text in FILES.items():
        (settings.corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (settings.corpus / name).write_text(text, encoding="utf-8")
    return settings


@pytest.mark.parametrize(
    "sources, expected",
    [((), {"ferry.md", "reports/bus.md", "reports/tram.md"}), (("reports",), {"reports/bus.md", "reports/tram.md"}),
     (("ferry.md",), {"ferry.md"}), (("reports/tram.md", "ferry.md"), {"ferry.md", "reports/tram.md"})],
)  # fmt: skip
def test_only_the_chosen_documents_are_searched(hashed_settings, sources, expected):
    (hashed_settings.corpus / "museum.md").unlink()  # the fixture's other document
    s = _corpus(hashed_settings)
    a = answer(Q, settings=s, sources=sources, top_k=8)
    assert {p.source for p in a.passages} == expected
    assert {c.source for c in a.citations} <= expected


def test_a_source_that_names_nothing_is_a_one_line_error(hashed_settings):
    s = _corpus(hashed_settings)
    with pytest.raises(QuestionError) as e:
        answer(Q, settings=s, sources=["nope.md"])
    assert str(e.value).startswith("no indexed document is 'nope.md' or under it; indexed: ferry.md")
    assert "\n" not in str(e.value)


def test_the_subset_is_filtered_in_chroma_and_bm25_alike(tmp_path):
    from conftest import indexed_corpus

    s = indexed_corpus(tmp_path, FILES)
    a = answer(Q, settings=s, sources=["reports/bus.md"], top_k=3)
    assert [p.source for p in a.passages] == ["reports/bus.md"] and "bus" in a.text and "ferry" not in a.text
