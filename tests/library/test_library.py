"""The document library (assistant/library.py) on real files and a real
index: statuses against the manifest, uploads copied into the corpus with
their checks, removal, and the index version a page polls."""

import os
import time
import unicodedata
from pathlib import Path

import pytest

from assistant import Settings, answer, build_index
from assistant.errors import CorpusError, SettingsError
from assistant.ingest import readers
from assistant.library import add_documents, documents, index_version, remove_document

from conftest import indexed_corpus

LAMP = "The Quillmoor lamp museum opened in 1911 and holds 340 lamps.\n"
LIGHT = "# Lighthouse\n\nThe Snorkelheim lighthouse is 47 metres tall. It was painted red in 1987.\n"


@pytest.fixture
def small(tmp_path) -> Settings:
    """A corpus of two small documents and one that cannot be read, indexed."""
    latin1 = "Caf\xe9 cr\xe8me costs 3 euros.".encode("latin-1")
    return indexed_corpus(tmp_path, {"lamp.txt": LAMP, "light.md": LIGHT, "latin1.txt": latin1})


def by_source(settings: Settings) -> dict:
    return {d.source: d for d in documents(settings=settings)}


def test_documents_show_indexed_skipped_and_pending_files(small):
    before = time.time()
    docs = by_source(small)
    assert set(docs) == {"lamp.txt", "light.md", "latin1.txt"}
    lamp, light, bad = docs["lamp.txt"], docs["light.md"], docs["latin1.txt"]
    assert (lamp.status, lamp.kind, lamp.size) == ("indexed", "txt", len(LAMP))
    assert (light.status, light.kind) == ("indexed", "md")
    assert lamp.chunks >= 1 and light.chunks >= 1 and lamp.problem == ""
    assert lamp.indexed_at is not None and before - 300 < lamp.indexed_at <= before
    assert bad.status == "skipped" and "not UTF-8" in bad.problem and bad.chunks == 0

    # A new file and a changed one are pending until the next build; the version does not move.
    version = index_version(settings=small)
    corpus = Path(small.corpus)
    (corpus / "new.txt").write_text("The Brindle ferry crosses the bay in 25 minutes.\n", encoding="utf-8")
    (corpus / "lamp.txt").write_text(LAMP + "Its curator is Ada Voss.\n", encoding="utf-8")
    docs = by_source(small)
    assert docs["new.txt"].status == "pending" and docs["new.txt"].chunks == 0
    assert docs["lamp.txt"].status == "pending" and docs["lamp.txt"].indexed_at == lamp.indexed_at
    assert docs["light.md"].status == "indexed"
    assert index_version(settings=small) == version

    build_index(settings=small)
    docs = by_source(small)
    assert [docs[s].status for s in ("lamp.txt", "light.md", "new.txt")] == ["indexed"] * 3
    assert docs["lamp.txt"].indexed_at > lamp.indexed_at
    assert docs["light.md"].indexed_at == light.indexed_at  # unchanged: not indexed again
    assert docs["latin1.txt"].status == "skipped"
    assert index_version(settings=small) not in ("", version)


def test_index_version_is_empty_without_an_index(tmp_path):
    assert index_version(settings=Settings(corpus=tmp_path, index_dir=tmp_path / "none")) == ""


def test_a_reader_registered_later_is_taken_with_no_change(small, tmp_path):
    class Notes:
        suffixes = (".note",)
        streamable = False

        def read(self, data: bytes, path: Path) -> str:
            return data.decode("utf-8").replace("~", " ")

    readers.READERS.append(Notes())
    try:
        src = tmp_path / "ferry.note"
        src.write_text("The~Brindle~ferry~crosses~the~bay~in~25~minutes.\n", encoding="utf-8")
        [up] = add_documents([src], settings=small)
        assert up.ok and up.source == "ferry.note"
        assert by_source(small)["ferry.note"].status == "pending"
        build_index(settings=small)
        assert (by_source(small)["ferry.note"].status, by_source(small)["ferry.note"].kind) == ("indexed", "note")
        assert answer("How long does the Brindle ferry take?", settings=small).citations[0].source == "ferry.note"
    finally:
        readers.READERS.pop()


def _file(folder: Path, name: str, data: bytes | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def test_uploads_are_copied_into_the_corpus_with_their_checks(tmp_path):
    corpus = tmp_path / "corpus"  # does not exist yet: created
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index", upload_dir="uploads", upload_max_mb=0.001)
    up = tmp_path / "gradio"  # as a page gets them: temporary paths, the original name last
    ok = _file(up / "1", "ferry.txt", "The Brindle ferry crosses the bay in 25 minutes.\n")
    results = add_documents(
        [ok, _file(up / "2", "song.mp3", b"ID3..."), _file(up / "3", "empty.md", b""),
         _file(up / "4", "big.txt", "x" * 2000), _file(up / "5", ".hidden.txt", "secret"), ok],
        settings=settings,
    )  # fmt: skip
    assert [r.ok for r in results] == [True, False, False, False, False, True]
    assert results[0].source == "uploads/ferry.txt"
    assert (corpus / "uploads" / "ferry.txt").read_bytes() == ok.read_bytes()
    assert "not taken" in results[1].message and ".txt" in results[1].message
    assert "empty" in results[2].message
    assert "too large" in results[3].message and "0.001 MB" in results[3].message
    assert results[4].source is None
    assert "already in the library" in results[5].message and results[5].source == "uploads/ferry.txt"
    assert sorted(p.name for p in (corpus / "uploads").iterdir()) == ["ferry.txt"]  # no temporary file left
    # The mode of a file copied there by hand (the umask's), not mkstemp's 0600.
    umask = os.umask(0o022)
    os.umask(umask)
    assert (corpus / "uploads" / "ferry.txt").stat().st_mode & 0o777 == 0o666 & ~umask

    # Another file of the same name is kept beside it, never over it.
    other = _file(up / "6", "ferry.txt", "The Brindle ferry was built in 1950.\n")
    [r] = add_documents([other], settings=settings)
    assert r.ok and r.source == "uploads/ferry (2).txt"
    assert (corpus / "uploads" / "ferry.txt").read_bytes() == ok.read_bytes()
    [r] = add_documents([other], settings=settings)
    assert r.source == "uploads/ferry (2).txt" and "already" in r.message


def test_uploads_never_write_outside_the_corpus(tmp_path):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    outside.mkdir()
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index")
    src = _file(tmp_path / "in", "note.txt", "The Brindle ferry crosses the bay in 25 minutes.\n")
    # Names are reduced to their last part, whatever the slashes.
    weird = _file(tmp_path / "in", "..\\..\\outside\\y.txt", "The Brindle ferry was built in 1950.\n")
    assert [(r.ok, r.source) for r in add_documents([src, weird], settings=settings)] == [
        (True, "note.txt"), (True, "y.txt")]  # fmt: skip
    from assistant.library import _safe_name

    assert _safe_name("../../outside/x.txt") == "x.txt" and _safe_name("..\\..\\outside\\y.txt") == "y.txt"
    assert _safe_name("..") is None and _safe_name(".bashrc") is None and _safe_name("a\nb.txt") is None

    # A file name that is a link out of the corpus is not written through.
    (corpus / "note.txt").unlink()
    (corpus / "note.txt").symlink_to(outside / "target.txt")
    [r] = add_documents([src], settings=settings)
    assert r.ok and r.source == "note (2).txt" and not (outside / "target.txt").exists()

    # An upload folder that leaves the corpus is refused before anything is written.
    for bad in ("../outside", "/tmp", "a/../../outside", ".hidden"):
        with pytest.raises(SettingsError, match="upload_dir|UPLOAD_DIR"):
            add_documents([src], settings=settings.with_options(upload_dir=bad))
    (corpus / "linked").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CorpusError, match="out of the corpus"):
        add_documents([src], settings=settings.with_options(upload_dir="linked"))
    assert list(outside.iterdir()) == []


def test_upload_names_cannot_disguise_themselves(tmp_path):
    """F14: a name with the right-to-left override (U+202E) showed spoofed in the
    Documents table ("invoice\u202etxt.md" reads "invoicedm.txt"). Format
    characters are dropped from a name (and the message says so), a name
    with control characters or line breaks is refused; nothing unshown ever
    reaches the corpus folder, the table or a message."""
    corpus = tmp_path / "corpus"
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index")
    given = [
        _file(tmp_path / "1", "invoice\u202etxt.md", "# Invoice\n\nTotal due: 1250 EUR.\n"),
        _file(tmp_path / "2", "\u2066notes\u200b.txt", "The Brindle ferry was built in 1950.\n"),
        _file(tmp_path / "3", "bad\x85name.txt", "a C1 control\n"),
        _file(tmp_path / "4", "line\u2028break.txt", "a line separator\n"),
        _file(tmp_path / "5", "\u200b.hidden.txt", "hidden once the zero width goes\n"),
    ]
    results = add_documents(given, settings=settings)
    assert [(r.ok, r.source) for r in results] == [
        (True, "invoicetxt.md"), (True, "notes.txt"), (False, None), (False, None), (False, None)]  # fmt: skip
    assert "invisible characters removed from its name" in results[0].message and "\\u202e" in results[0].message
    assert "control characters" in results[2].message and "\\x85" not in results[2].message
    unshown = {"Cc", "Cf", "Zl", "Zp"}
    for r in results:
        assert not any(unicodedata.category(c) in unshown for c in r.name + r.message), r
    assert sorted(os.listdir(corpus)) == ["invoicetxt.md", "notes.txt"]
    assert [d.source for d in documents(settings=settings)] == ["invoicetxt.md", "notes.txt"]


def test_remove_document_deletes_the_file_and_its_answers(small):
    corpus = Path(small.corpus)
    q = "When did the Quillmoor lamp museum open?"
    assert answer(q, settings=small).citations[0].source == "lamp.txt"
    (corpus / "alias.txt").symlink_to(corpus / "light.md")  # a link inside the corpus
    build_index(settings=small)

    remove_document("lamp.txt", settings=small)
    assert not (corpus / "lamp.txt").exists()
    assert "lamp.txt" not in by_source(small)
    a = answer(q, settings=small)
    assert all(p.source != "lamp.txt" for p in a.passages) and "1911" not in a.text

    (corpus / "passwd.txt").symlink_to("/etc/passwd")  # listed as skipped, and can be removed
    assert by_source(small)["passwd.txt"].problem == "a link to a file outside the corpus folder"
    remove_document("passwd.txt", settings=small)
    assert not os.path.lexists(corpus / "passwd.txt") and Path("/etc/passwd").is_file()

    remove_document("alias.txt", settings=small)  # the link goes, not the file it points at
    assert (corpus / "light.md").is_file() and not os.path.lexists(corpus / "alias.txt")

    for bad in ("lamp.txt", "../index/manifest.json", str(corpus / "light.md"), "nothing.txt", ""):
        with pytest.raises(CorpusError, match="No document"):
            remove_document(bad, settings=small)
    with pytest.raises(CorpusError, match="only document"):  # latin1.txt is there, but cannot be read
        remove_document("light.md", settings=small)
    assert (corpus / "light.md").is_file()
