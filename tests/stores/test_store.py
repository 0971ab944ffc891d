"""Index builds on a real Chroma store: idempotent, no stale chunks, bad files
skipped, broken or interrupted indexes recovered."""

import copy
import json

import pytest

from assistant import CorpusError, IndexStoreError, Settings, answer, build_index
from assistant.api import reset_engines
from assistant.embedders import get_embedder
from assistant.stores import IndexStore, wipe
from assistant.stores.chroma import ChromaBackend


def stored(settings: Settings) -> dict:
    store = IndexStore(settings.index, settings.chroma, get_embedder(settings).id)
    chunks = store.chunks.get(include=["metadatas", "documents"])
    units = store.units.get(include=["metadatas"])
    _, bm25_ids = store.load_bm25()
    return {
        "chunk_ids": set(chunks["ids"]),
        "chunk_sources": {m["source"] for m in chunks["metadatas"]},
        "unit_sources": {m["source"] for m in units["metadatas"]},
        "texts": chunks["documents"],
        "bm25_ids": set(bm25_ids),
    }


@pytest.fixture
def settings(corpus_dir, tmp_path) -> Settings:
    reset_engines()
    return Settings(corpus=corpus_dir, index_dir=tmp_path / "index")


def test_reindex_is_idempotent_and_has_no_stale_chunks(settings, corpus_dir):
    first = build_index(settings=settings)
    assert len(first.added) == 5 and first.chunks > 20
    before = stored(settings)
    assert before["chunk_ids"] == before["bm25_ids"]

    again = build_index(settings=settings)
    assert not again.changed and len(again.unchanged) == 5
    assert stored(settings)["chunk_ids"] == before["chunk_ids"]

    # Change one file, delete another.
    changed = corpus_dir / "004_b6b4be5490c3fc00.txt"
    changed.write_text("Trade Talks Update\n\nThe zebra tariff was cut to 3 percent on Tuesday.\n", encoding="utf-8")
    (corpus_dir / "002_ab5e4ddd43271aba.txt").unlink()
    third = build_index(settings=settings)
    assert third.updated == ["004_b6b4be5490c3fc00.txt"]
    assert third.removed == ["002_ab5e4ddd43271aba.txt"]
    after = stored(settings)
    assert "002_ab5e4ddd43271aba.txt" not in after["chunk_sources"] | after["unit_sources"]
    assert not any("Acting President Han" in t for t in after["texts"])  # old version gone
    assert sum("zebra tariff" in t for t in after["texts"]) == 1
    assert after["chunk_ids"] == after["bm25_ids"]

    a = answer("What was the zebra tariff cut to?", settings=settings)
    assert not a.refused and "3 percent" in a.text
    assert a.citations[0].source == "004_b6b4be5490c3fc00.txt"


def test_bad_files_are_skipped_and_the_rest_indexed(settings, corpus_dir):
    (corpus_dir / "empty.txt").write_text("", encoding="utf-8")
    (corpus_dir / "blank.md").write_text("  \n\n \t\n", encoding="utf-8")
    (corpus_dir / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (corpus_dir / "latin1.txt").write_bytes("Caf\xe9 politics in Seoul.".encode("latin-1"))
    (corpus_dir / "song.mp3").write_bytes(b"ID3\x03\x00")  # not a corpus file type
    report = build_index(settings=settings)
    assert len(report.added) == 5
    skipped = " ".join(report.warnings)
    for name in ("empty.txt", "blank.md", "binary.txt", "latin1.txt"):
        assert name in skipped
    assert "song.mp3" not in skipped
    assert "binary" in skipped and "UTF-8" in skipped
    # Skipped files don't make the index look stale.
    assert not build_index(settings=settings).changed


def test_empty_or_missing_corpus_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="No .txt/.md/.pdf/.docx/.html/.htm/.csv/.pptx/.xlsx/.png/.jpg/.jpeg/.tif/.tiff/.webp/.bmp files"):
        build_index(settings=Settings(corpus=empty, index_dir=tmp_path / "i"))
    with pytest.raises(CorpusError, match="not found"):
        build_index(settings=Settings(corpus=tmp_path / "nope", index_dir=tmp_path / "i"))
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.txt").write_bytes(b"\xff\xfe\x00\x00")
    with pytest.raises(CorpusError, match="No usable document"):
        build_index(settings=Settings(corpus=only_bad, index_dir=tmp_path / "i2"))


def test_missing_index_is_built_on_first_question(settings):
    assert not settings.index_dir.exists()
    a = answer("How much is Seoul expected to invest in the US?", settings=settings)
    assert "350 billion" in a.text
    assert (settings.index_dir / "manifest.json").is_file()


def test_corrupt_manifest_and_store_are_rebuilt(settings):
    build_index(settings=settings)
    (settings.index_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    reset_engines()
    assert "350 billion" in answer("How much is Seoul expected to invest in the US?", settings=settings).text

    sqlite = settings.index_dir / "chroma" / "chroma.sqlite3"
    assert sqlite.is_file()
    sqlite.write_bytes(b"this is not a database" * 100)
    reset_engines()
    a = answer("How much is Seoul expected to invest in the US?", settings=settings)
    assert "350 billion" in a.text

    # A broken BM25 index is rebuilt as well.
    (settings.index_dir / "bm25" / "ids.json").write_text("[]", encoding="utf-8")
    reset_engines()
    assert not answer("How much is Seoul expected to invest in the US?", settings=settings).refused


def test_interrupted_build_is_not_complete_and_resumes(settings):
    embedder = get_embedder(settings)

    class Boom(RuntimeError):
        pass

    class Flaky:
        id, dim = embedder.id, embedder.dim

        def __init__(self):
            self.calls = 0

        def embed(self, texts):
            self.calls += 1
            if self.calls == 3:
                raise Boom("power cut")
            return embedder.embed(texts)

        def worker(self):
            return None  # the model runs in this process

    from assistant.stores import sync

    with pytest.raises(Boom):
        sync(settings, Flaky(), group_units=1)  # one file per embedding call
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    assert manifest["complete"] is False and len(manifest["files"]) == 2
    store = IndexStore(settings.index, settings.chroma, embedder.id)
    assert store.status() == "incomplete"

    report = build_index(settings=settings)  # resumes: only the rest is embedded
    assert len(report.unchanged) == 2 and len(report.added) == 3
    assert store.status() == "ready"
    assert stored(settings)["chunk_ids"] == stored(settings)["bm25_ids"]


def test_changed_settings_rebuild_the_index(settings):
    build_index(settings=settings)
    bigger = settings.with_options(chunk_size=400)
    report = build_index(settings=bigger)
    assert report.rebuilt and len(report.added) == 5


def test_wipe_refuses_a_folder_that_is_not_an_index(tmp_path):
    (tmp_path / "precious.docx").write_text("x")
    with pytest.raises(IndexStoreError, match="Refusing"):
        wipe(tmp_path)
    assert (tmp_path / "precious.docx").exists()


def test_built_index_still_answers_when_the_corpus_folder_is_gone(settings, corpus_dir):
    import shutil

    build_index(settings=settings)
    shutil.rmtree(corpus_dir)
    reset_engines()
    assert "350 billion" in answer("How much is Seoul expected to invest in the US?", settings=settings).text


def test_a_corpus_of_notes_without_full_stops_still_answers(tmp_path):
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "meeting.md").write_text(
        "# Trade meeting notes\n\n"
        "- tariff on Korean cars cut from 25 percent to 15 percent\n"
        "- Seoul to invest 350 billion dollars in US assets\n"
        "- next round of talks in Washington on April 24\n",
        encoding="utf-8",
    )
    reset_engines()
    s = Settings(corpus=corpus, index_dir=tmp_path / "index")
    a = answer("How much will Seoul invest in US assets?", settings=s)
    assert not a.refused and "350 billion" in a.text and a.citations[0].source == "meeting.md"


def _embed_workers() -> list[int]:
    """Pids of this process's children that run the embedding model."""
    import os
    from pathlib import Path

    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmd = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"assistant.embedders.worker" in cmd:
            pids.append(int(stat.parent.name))
    return pids


def _all_units(settings, store):
    """Every sentence unit of the index, as `Retriever.units_of` reads them."""
    from assistant.api import get_engine
    from assistant.types import Passage

    got = store.chunks.get(include=["documents", "metadatas"])
    passages = [
        Passage(
            n=i + 1, id=cid, source=m["source"], title=m["title"], text=doc, start=m["start"], end=m["end"], score=0.0
        )
        for i, (cid, doc, m) in enumerate(zip(got["ids"], got["documents"], got["metadatas"]))
    ]
    return get_engine(settings).retriever.units_of(passages)


def test_a_build_of_several_groups_embeds_in_a_child_process(settings):
    """From the second group on the model runs in a process of its own; the
    stored vectors are the model's, and the process is gone afterwards."""
    import numpy as np

    from assistant.stores import sync

    embedder = get_embedder(settings)
    report = sync(settings, embedder, group_units=60)  # 320 sentences: six groups
    assert report.embed_process and len(report.added) == 5
    assert not _embed_workers()
    store = IndexStore(settings.index, settings.chroma, embedder.id)
    got = store.units.get(include=["embeddings"])
    assert len(got["ids"]) == report.units == 320
    # Unit records hold no text: it is sliced from their chunks.
    texts = {u.id: u.text for u in _all_units(settings, store)}
    assert set(texts) == set(got["ids"])
    assert np.allclose(np.asarray(got["embeddings"]), embedder.embed([texts[i] for i in got["ids"]]), atol=1e-5)
    assert stored(settings)["chunk_ids"] == stored(settings)["bm25_ids"]
    assert "350 billion" in answer("How much is Seoul expected to invest in the US?", settings=settings).text

    one_group = sync(settings, embedder, rebuild=True)
    assert not one_group.embed_process  # a small build does not start a process


def test_a_dead_embedding_process_stops_the_build_which_then_resumes(settings):
    from assistant import AssistantError
    from assistant.stores import sync

    embedder = get_embedder(settings)

    class Dying:
        id, dim = embedder.id, embedder.dim

        def embed(self, texts):
            return embedder.embed(texts)

        def worker(self):
            w = embedder.worker()
            w._proc.kill()  # as if the model process were killed mid-build
            return w

    with pytest.raises(AssistantError, match="embedding process ended"):
        sync(settings, Dying(), group_units=60)
    assert not _embed_workers()
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    assert manifest["complete"] is False and 0 < len(manifest["files"]) < 5  # the first group was stored

    report = build_index(settings=settings)
    assert len(report.unchanged) == len(manifest["files"]) and len(report.added) == 5 - len(manifest["files"])
    assert IndexStore(settings.index, settings.chroma, embedder.id).status() == "ready"
    assert stored(settings)["chunk_ids"] == stored(settings)["bm25_ids"]


def test_chunks_of_an_older_format_are_not_taken_as_indexed(settings):
    """A server may hold chunks written by an older version, whose sentence
    offsets are not in the chunk: their file is left out of the derived
    manifest, so the next build indexes it again."""
    from assistant.stores import manifest_from_store, signature

    build_index(settings=settings)
    embedder = get_embedder(settings)
    store = IndexStore(settings.index, settings.chroma, embedder.id)
    got = store.chunks.get(include=["metadatas"])
    old = sorted({m["source"] for m in got["metadatas"]})[0]
    ids = [cid for cid, m in zip(got["ids"], got["metadatas"]) if m["source"] == old]
    store.chunks.collection.update(ids=ids, metadatas=[{"units": None}] * len(ids))  # None deletes the key
    assert all("units" not in m for m in store.chunks.get(ids=ids, include=["metadatas"])["metadatas"])
    files = manifest_from_store(store, signature(settings.index, settings.chroma, embedder.id))["files"]
    assert old not in files and len(files) == 4


class CountingEmbedder:
    """The real local embedder, recording every text it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.id, self.dim, self.batch_size = inner, inner.id, inner.dim, inner.batch_size
        self.texts: list[str] = []

    def embed(self, texts):
        self.texts += texts
        return self.inner.embed(texts)

    def worker(self):
        return None  # everything in this process, so that every text is counted


def _sentences(store, source: str) -> dict[str, str]:
    """Unit id -> text of every sentence of `source`, sliced from its chunks."""
    from assistant.ingest.records import unit_id
    from assistant.stores import read_all

    out = {}
    for _, doc, m in read_all(store.chunks, ["documents", "metadatas"], where={"source": source}):
        for index, rs, re_, *_ in json.loads(m["units"]):
            out[unit_id(source, index)] = doc[rs:re_]
    return out


@pytest.mark.parametrize("in_child", [False, True], ids=["in-process", "model-process"])
def test_a_one_line_edit_re_embeds_only_the_changed_sentences(settings, corpus_dir, in_child):
    """Content-hash skipping: in a changed file, the sentences the stored
    version had too keep their stored vectors; only the new sentence is
    embedded, the old chunks go, answers cite the new text."""
    import numpy as np

    from assistant.stores import read_all, sync

    embedder = get_embedder(settings)
    sync(settings, embedder)
    name = "001_822ce0cbe2c49b13.txt"
    store = IndexStore(settings.index, settings.chroma, embedder.id)
    old_hashes = {m["hash"] for _, m in read_all(store.chunks, ["metadatas"], where={"source": name})}
    old = set(_sentences(store, name).values())
    store.close()
    path = corpus_dir / name
    line = "The expansion of geostrategic conflict is undoubtedly a factor"
    text = path.read_text(encoding="utf-8")
    assert text.count(line) == 1
    start = text.index(line)
    end = text.index("\n", start)
    path.write_text(text[:start] + "The zebra tariff was cut to 3 percent on Tuesday." + text[end:], encoding="utf-8")

    if in_child:  # small groups: the model runs in a child process, and some groups need no model at all
        report = sync(settings, embedder, group_units=20)
        assert report.embed_process
    else:
        counting = CountingEmbedder(embedder)
        report = sync(settings, counting)
        assert counting.texts == ["The zebra tariff was cut to 3 percent on Tuesday."]
    assert report.updated == [name] and not report.added and not report.removed

    store = IndexStore(settings.index, settings.chroma, embedder.id)
    now = _sentences(store, name)
    assert len(now) > 40 and [t for t in now.values() if t not in old] == [
        "The zebra tariff was cut to 3 percent on Tuesday."
    ]
    assert (report.embedded, report.reused) == (1, len(now) - 1)
    # The chunks from the edit on were cut again (new hashes); the old ones are gone.
    chunks = list(read_all(store.chunks, ["documents", "metadatas"], where={"source": name}))
    assert any(m["hash"] not in old_hashes for _, _, m in chunks)
    assert any(m["hash"] in old_hashes for _, _, m in chunks)
    docs = [doc for _, doc, _ in chunks]
    assert not any(line in d for d in docs) and any("zebra tariff" in d for d in docs)
    assert stored(settings)["chunk_ids"] == stored(settings)["bm25_ids"]
    # The stored vectors, reused or not, are the model's for each sentence.
    got = store.units.get(where={"source": name}, include=["embeddings"])
    assert set(got["ids"]) == set(now)
    assert np.allclose(np.asarray(got["embeddings"]), embedder.embed([now[i] for i in got["ids"]]), atol=1e-5)
    a = answer("What was the zebra tariff cut to?", settings=settings)
    assert not a.refused and "3 percent" in a.text and a.citations[0].source == name


def test_the_vector_store_registry(tmp_path, monkeypatch):
    """A vector store is chosen by name; an unknown name is one line; another
    store is another index (its name is in the signature), Chroma's is not
    (indexes built before the setting existed stay valid)."""
    from assistant.errors import SettingsError
    from assistant.stores import backends
    from assistant.stores.base import VectorBackend
    from assistant.stores.manifest import signature

    s = Settings(corpus=tmp_path, index_dir=tmp_path / "index", chroma_prefix="p-")
    chroma = backends.get_backend(s, "e")
    assert isinstance(chroma, ChromaBackend) and isinstance(chroma, VectorBackend)
    # built from its two sections only, never the whole settings
    assert (chroma.chroma, chroma.index) == (s.chroma, s.index) and chroma.collection_name("chunks") == "p-chunks-e"
    with pytest.raises(
        SettingsError, match=r"^unknown vector store 'nope' \(ASSISTANT_VECTOR_STORE\); known: chroma, memory, or package"
    ):
        backends.get_backend(s.with_options(vector_store="nope"), "e")
    assert "vector_store" not in signature(s.index, s.chroma, "e")
    registry = copy.deepcopy(backends.BACKENDS)
    monkeypatch.setattr(backends, "BACKENDS", registry)
    registry.register("other", ChromaBackend, "chroma", "index")  # the registry line of a new store
    other = s.with_options(vector_store="other")
    assert isinstance(backends.get_backend(other, "e"), ChromaBackend)
    assert signature(other.index, other.chroma, "e") != signature(s.index, s.chroma, "e")
    # a store of one's own, by dotted path: built, then known to a rebuild's clean-up
    by_path = s.with_options(vector_store=f"{__name__}:DiskStore")
    mine = backends.get_backend(by_path, "e")
    assert isinstance(mine, DiskStore) and mine.index == by_path.index and mine.embedder_id == "e"
    assert backends.local_dirs() == ["chroma", "disk-store"]
    backends.forget_local(tmp_path / "index", force=True)
    assert DiskStore.forgotten == [tmp_path / "index"]
    # An IndexStore is given sections, never the settings: given no backend,
    # it builds the store its index section names from its two sections.
    store = IndexStore(by_path.index, by_path.chroma, "e")
    assert isinstance(store.backend, DiskStore) and store.backend.index == by_path.index
    # A store that takes another section cannot be built from those two: it
    # is built from the whole settings (`get_backend`) and handed over.
    wide = s.with_options(vector_store=f"{__name__}:WideStore")
    with pytest.raises(SettingsError, match=r"^vector store '.*:WideStore' \(ASSISTANT_VECTOR_STORE\) takes the embed"):
        IndexStore(wide.index, wide.chroma, "e")
    backend = backends.get_backend(wide, "e")
    assert IndexStore(wide.index, wide.chroma, "e", backend=backend).backend is backend
    assert backend.embed == wide.embed


def test_a_store_taking_another_section_is_built_from_the_whole_settings(tmp_path, monkeypatch):
    """The entry points that hold the settings (a build, the engine, the
    status) build the vector store from the sections it names, whichever
    they are, and give it to the stores they open."""
    from assistant.api import index_status
    from assistant.stores import backends

    monkeypatch.setattr(backends, "BACKENDS", copy.deepcopy(backends.BACKENDS))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Trade Talks Update\n\nThe zebra tariff was cut to 3 percent on Tuesday.\n", encoding="utf-8")
    s = Settings(corpus=corpus, index_dir=tmp_path / "index", vector_store=f"{__name__}:WideStore")
    WideStore.built.clear()
    report = build_index(settings=s)
    assert report.added == ["a.txt"] and WideStore.built and set(WideStore.built) == {s.embed}
    assert index_status(settings=s) == "ready"
    built = len(WideStore.built)
    a = answer("What was the zebra tariff cut to?", settings=s)
    assert not a.refused and "3 percent" in a.text and len(WideStore.built) > built  # the engine's store too
    reset_engines()


class DiskStore(ChromaBackend):
    """A made-up store plugged in by dotted path: its own folder and sections."""

    sections = ("index",)
    local_dir = "disk-store"
    forgotten: list = []

    def __init__(self, index, embedder_id):
        super().__init__(Settings().chroma, index, embedder_id)

    @staticmethod
    def forget_local(index_dir) -> None:
        DiskStore.forgotten.append(index_dir)


class WideStore(ChromaBackend):
    """A made-up store that takes a section besides the index's."""

    sections = ("index", "embed")
    built: list = []  # the embed sections it was built from

    def __init__(self, index, embed, embedder_id):
        super().__init__(Settings().chroma, index, embedder_id)
        self.embed = embed
        WideStore.built.append(embed)


def test_an_index_holding_a_pdf_can_be_rebuilt(tmp_path):
    # Its extracted texts (texts/) are part of the index: a rebuild deletes
    # them with the rest instead of refusing to touch the folder.
    from conftest import make_pdf

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.pdf").write_bytes(make_pdf(["The glacier retreated 212 metres between 2001 and 2020."]))
    s = Settings(corpus=corpus, index_dir=tmp_path / "index")
    build_index(settings=s)
    assert (tmp_path / "index" / "texts").is_dir()
    report = build_index(rebuild=True, settings=s)
    assert report.added == ["a.pdf"]
    assert "212 metres" in answer("How far did the glacier retreat?", settings=s).text
