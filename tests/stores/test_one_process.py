"""Several threads of one process on one embedded store (the chat page: an
upload being indexed while questions and example questions load the index)."""

import shutil

from assistant import Settings, build_index
from assistant.stores import forget_local
from assistant.stores.locks import build_lock, building_here

from conftest import ROOT


def test_a_store_dropped_by_another_thread_during_a_build_here_does_not_wipe_it(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for p in sorted((ROOT / "seeds").glob("*.txt"))[:2]:
        shutil.copy(p, corpus / p.name)
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index")
    build_index(settings=settings)
    (corpus / "upload.txt").write_text("The Halden reservoir holds 41 million cubic metres of water.\n" * 3)
    dropped = []

    def progress(*_):
        # What another thread does meanwhile when its engine notices a new
        # manifest and lets go of the store (`Engine.close`).
        if not dropped:
            forget_local(settings.index_dir)
            dropped.append(True)

    report = build_index(settings=settings, progress=progress)
    assert dropped
    # Before: the builder's store was stopped under it, the next step failed
    # ("KeyError: <path>") and the whole corpus was wiped and indexed again.
    assert report.added == ["upload.txt"] and not report.updated and not report.rebuilt


def test_building_here_is_true_only_inside_the_build_lock(tmp_path):
    assert not building_here(tmp_path)
    with build_lock(tmp_path):
        assert building_here(tmp_path) and building_here(tmp_path / ".")
    assert not building_here(tmp_path)
