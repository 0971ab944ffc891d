"""Cases of the 2026-11-25 reliability report: files outside the corpus,
indexes changed or damaged under a running assistant, and one huge file."""

import os

import pytest

from assistant import Settings, answer, build_index
from assistant.api import reset_engines


@pytest.fixture
def settings(corpus_dir, tmp_path) -> Settings:
    reset_engines()
    return Settings(corpus=corpus_dir, index_dir=tmp_path / "index")


def test_links_out_of_the_corpus_and_special_files_are_never_read(settings, corpus_dir, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("The vault code of Snorkelheim is 91-44-17.\n", encoding="utf-8")
    (corpus_dir / "passwd.txt").symlink_to(secret)
    (corpus_dir / "environ.txt").symlink_to("/proc/self/environ")
    os.mkfifo(corpus_dir / "pipe.txt")  # would block a plain open() for ever
    (corpus_dir / "inside.txt").symlink_to(corpus_dir / "001_822ce0cbe2c49b13.txt")  # inside: fine

    report = build_index(settings=settings)
    assert "passwd.txt" not in report.added and "environ.txt" not in report.added
    assert "inside.txt" in report.added
    assert any("passwd.txt" in w and "outside the corpus" in w for w in report.warnings)
    a = answer("What is the vault code of Snorkelheim?", settings=settings)
    assert all(p.source not in ("passwd.txt", "environ.txt") for p in a.passages)
    assert "91-44-17" not in a.text and all("91-44-17" not in p.text for p in a.passages)
