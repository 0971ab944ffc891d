"""Cases of the 2026-11-25 reliability report: files outside the corpus,
indexes changed or damaged under a running assistant, and one huge file."""

import os
import subprocess
import sys
import threading

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


def _index_in_another_process(settings: Settings, *extra: str) -> None:
    cmd = [sys.executable, "-m", "assistant.cli", "index", "-q", "--corpus", str(settings.corpus)]
    r = subprocess.run([*cmd, "--index-dir", str(settings.index_dir), *extra], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


LIGHT = "How tall is the Snorkelheim lighthouse?"


def test_a_running_assistant_follows_builds_made_by_another_process(settings, corpus_dir):
    (corpus_dir / "light.txt").write_text("The Snorkelheim lighthouse is 47 metres tall.\n", encoding="utf-8")
    build_index(settings=settings)
    assert "47 metres" in answer(LIGHT, settings=settings).text

    # A file removed by a build in another process: no error, and its text is gone.
    (corpus_dir / "light.txt").unlink()
    _index_in_another_process(settings)
    a = answer(LIGHT, settings=settings)
    assert all(p.source != "light.txt" for p in a.passages) and "47 metres" not in a.text

    # A file added there is found here, without a restart.
    (corpus_dir / "lamp.txt").write_text("The Quillmoor lamp museum opened in 1911.\n", encoding="utf-8")
    _index_in_another_process(settings)
    a = answer("When did the Quillmoor lamp museum open?", settings=settings)
    assert "1911" in a.text and a.citations[0].source == "lamp.txt"


def test_questions_during_a_rebuild_in_another_process_never_fail(settings, corpus_dir):
    (corpus_dir / "lamp.txt").write_text("The Quillmoor lamp museum opened in 1911.\n", encoding="utf-8")
    build_index(settings=settings)
    q = "When did the Quillmoor lamp museum open?"
    errors: list[BaseException] = []
    answers: list = []
    done = threading.Event()

    def ask() -> None:
        while not done.is_set():
            try:
                answers.append(answer(q, settings=settings))
            except BaseException as e:  # noqa: BLE001 - every failure is what this test looks for
                errors.append(e)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(2):
            _index_in_another_process(settings, "--rebuild")
    finally:
        done.set()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors[:3]
    assert len(answers) > 2
    after = answer(q, settings=settings)
    assert "1911" in after.text
