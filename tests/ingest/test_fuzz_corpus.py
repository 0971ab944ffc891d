"""A short corpus fuzz run (benchmarks/fuzz_corpus.py has the long one):
documents of every type in every shape (a first line that is a paragraph, no
title, only a title, huge lines, BOM, CRLF, tabs, control characters, mixed
and right-to-left scripts, repeated lines, tables, one word a page). The
build exits 0, every document is indexed or skipped with a reason, and each
indexed document's known sentence is found whole when asked about."""

import pytest

import fuzz_corpus  # benchmarks/, on the path through conftest


@pytest.mark.slow
@pytest.mark.parametrize("seed", [21])
def test_generated_corpus_builds_and_every_document_is_accounted_for(tmp_path, seed):
    docs = fuzz_corpus.make_corpus(tmp_path / "corpus", 24, seed)
    assert {d.name.rsplit(".", 1)[1] for d in docs} == {t[1:] for t in fuzz_corpus.TYPES}
    assert {d.name.split("-", 1)[1].rsplit(".", 1)[0] for d in docs} == set(fuzz_corpus.SHAPES)
    out = fuzz_corpus.check(tmp_path / "corpus", tmp_path / "index", docs)
    assert out.build_exit == 0, out.build_stderr
    assert out.unaccounted == []
    assert all(reason.strip() for reason in out.skipped.values())
    assert out.unfound == []
    # Most documents are plain enough to be indexed, not skipped.
    assert len(out.indexed) >= len(docs) - 4, out.skipped
