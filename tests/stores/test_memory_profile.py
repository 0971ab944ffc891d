"""The `test` profile (PrivateGPT's mock mode): the hashed embedder and the
in-memory vector store. The whole path (read, chunk, index, retrieve,
answer, cite) runs with no model and nothing written to a vector store on
disk, fast enough for the unit layer."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import answer, build_index
from assistant.embedders import get_embedder
from assistant.embedders.hashed import HashEmbedder
from assistant.errors import IndexConfigError
from assistant.stores.memory import MemoryIndex, matches


def test_the_profile_names_the_hashed_embedder_and_the_memory_store(hashed_settings):
    s = hashed_settings
    assert (s.embed_backend, s.vector_store, s.backend) == ("hash", "memory", "offline")
    assert isinstance(get_embedder(s), HashEmbedder)


@pytest.mark.unit  # it names Chroma's folder only to show it is not there
def test_a_question_is_answered_and_cited_with_no_model_and_no_store_on_disk(hashed_settings):
    s = hashed_settings
    report = build_index(settings=s)
    assert sorted(report.added) == ["ferry.md", "museum.md"]
    assert not (s.index_dir / "chroma").exists()
    a = answer("When did the Harbour Museum open?", settings=s)
    assert not a.refused and "1931" in a.text
    c = a.citations[0]
    assert c.source.endswith("museum.md")
    assert (s.corpus / "museum.md").read_text(encoding="utf-8")[c.start : c.end] == c.text
    # a name the corpus never mentions: refused, not guessed
    assert answer("What did Napoleon say about the ferry?", settings=s).refused


def test_re_indexing_follows_an_edit_and_a_deletion(hashed_settings):
    s = hashed_settings
    build_index(settings=s)
    assert build_index(settings=s).unchanged == ["ferry.md", "museum.md"]
    (s.corpus / "museum.md").write_text("# Museum\n\nThe Harbour Museum opened in 1938.\n", encoding="utf-8")
    (s.corpus / "ferry.md").unlink()
    report = build_index(settings=s)
    assert report.updated == ["museum.md"] and report.removed == ["ferry.md"]
    a = answer("When did the Harbour Museum open?", settings=s)
    assert "1938" in a.text and "1931" not in a.text
    assert answer("When does the Brinwell ferry leave the harbour?", settings=s).refused
    # a rebuild starts from an empty store: a record nobody indexed is gone
    from assistant.stores import memory

    held = [i for (d, _), i in memory._STORES.items() if d == str(s.index_dir.resolve())]
    held[0].add(["stray"], np.ones((1, 256), np.float32), [{"source": "gone.md"}])
    assert sorted(build_index(rebuild=True, settings=s).added) == ["museum.md"]
    held = [i for (d, _), i in memory._STORES.items() if d == str(s.index_dir.resolve())]
    assert held and not any("stray" in i.records for i in held)


def test_the_memory_index_keeps_the_vector_store_contract():
    idx = MemoryIndex("chunks-x", "memory")
    idx.add(["a", "b", "c"], np.eye(3, 4), [{"source": "x", "chunk": 0}, {"source": "x", "chunk": 5}, {"source": "y"}])
    assert idx.count() == 3
    got = idx.query(np.array([0, 1, 0, 0], np.float32), 2, ["metadatas", "distances"])
    assert got["ids"] == ["b", "a"] and got["distances"][0] == pytest.approx(0.0, abs=1e-6)
    assert idx.get(where={"source": "x"})["ids"] == ["a", "b"]
    assert idx.get(where={"chunk": {"$lt": 3}})["ids"] == ["a"]
    assert idx.get(ids=["c", "zz"], include=["metadatas"])["metadatas"] == [{"source": "y"}]
    assert idx.get(limit=1, offset=1)["ids"] == ["b"]
    idx.delete(where={"source": "x"})
    assert idx.get()["ids"] == ["c"]
    with pytest.raises(IndexConfigError, match="4-dimensional vectors, not 8"):
        idx.check_dim(8)
    assert matches({"k": 1}, {"$and": [{"k": 1}, {"k": {"$in": [1, 2]}}]}) and not matches({}, {"k": 1})

