"""Reads from a Chroma server that is resuming are tried again (stores/chroma.py: ChromaIndex._read)."""

from __future__ import annotations

import pytest

from assistant.errors import IndexConfigError


def test_a_chroma_server_read_that_fails_while_the_server_resumes_is_tried_again(monkeypatch):
    from chromadb.errors import InternalError

    from assistant.stores.chroma import ChromaIndex

    class Resuming:
        name, calls = "chunks-x", 0

        def get(self, **kw):
            self.calls += 1
            if self.calls == 1:
                raise InternalError("Error executing plan: Internal error: Nothing found on disk")
            return {"ids": ["a"], "metadatas": [{}]}

        def count(self):
            raise InternalError("still down")

    monkeypatch.setattr(ChromaIndex, "READ_RETRIES", (0.0, 0.0))
    col = Resuming()
    idx = ChromaIndex(col, "Chroma server http://127.0.0.1:9", remote=True, embedder_id="e")
    assert idx.get(ids=["a"])["ids"] == ["a"] and col.calls == 2
    # a server that stays broken is still one line, after the retries
    with pytest.raises(IndexConfigError, match="still down"):
        idx.count()
    # an embedded store is not retried: its errors mean a damaged store
    local = ChromaIndex(Resuming(), "Chroma store in /tmp/x", remote=False, embedder_id="e")
    with pytest.raises(Exception, match="Nothing found on disk"):
        local.get(ids=["a"])
