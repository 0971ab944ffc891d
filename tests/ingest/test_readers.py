"""Document readers: the registry picks one by suffix, and a new format is one
reader class plus one registry line (here a made-up `.note` format, indexed
and answered from for real)."""

from pathlib import Path

import pytest

from assistant import Settings, answer, build_index
from assistant.ingest import readers
from assistant.ingest.base import DocumentReader
from assistant.ingest.files import load_corpus


def test_plain_text_takes_txt_and_md_in_any_case():
    for name in ("a.txt", "b.MD", "c.Txt"):
        assert isinstance(readers.reader_for(Path(name)), readers.PlainText)
    assert isinstance(readers.PlainText(), DocumentReader)


def test_a_suffix_no_reader_takes_is_refused_with_its_name():
    with pytest.raises(ValueError, match=r"no reader for \.doc files"):
        readers.reader_for(Path("x.doc"))
    kinds = {"a.pdf": "PdfReader", "b.DOCX": "DocxReader", "c.html": "HtmlReader", "d.htm": "HtmlReader",
             "e.csv": "CsvReader", "f.pptx": "PptxReader", "g.XLSX": "XlsxReader"}  # fmt: skip
    for name, kind in kinds.items():
        assert type(readers.reader_for(Path(name))).__name__ == kind
        assert isinstance(readers.reader_for(Path(name)), DocumentReader)


def test_plain_text_rejects_binary_and_non_utf8_with_a_reason():
    r = readers.PlainText()
    with pytest.raises(ValueError, match="binary"):
        r.read(b"abc\x00def", Path("x.txt"))
    with pytest.raises(ValueError, match="not UTF-8"):
        r.read("caf\u00e9".encode("latin-1"), Path("x.txt"))
    assert r.read("\ufeffhello".encode(), Path("x.txt")) == "hello"


class NoteReader:
    """A format of its own: 'key: value' lines, of which only `body:` is text."""

    suffixes = (".note",)
    streamable = False

    def read(self, data: bytes, path: Path) -> str:
        lines = data.decode("utf-8").splitlines()
        body = [line.removeprefix("body:").strip() for line in lines if line.startswith("body:")]
        if not body:
            raise ValueError("a note without a body")
        return "\n\n".join(body)


def test_a_new_reader_is_one_class_and_one_registry_line(tmp_path, monkeypatch):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "harbour.note").write_text(
        "title: port\nbody: The harbour of Velmora was dredged to a depth of 14 metres in 2019.\n"
        "tags: ignore me\nbody: Its lighthouse is painted in red and white bands.\n",
        encoding="utf-8",
    )
    (corpus / "empty.note").write_text("title: nothing here\n", encoding="utf-8")
    (corpus / "plain.txt").write_text("The ferry to Osk leaves every Tuesday at noon.\n", encoding="utf-8")
    monkeypatch.setattr(readers, "READERS", [*readers.READERS, NoteReader()])  # the registry line

    settings = Settings(corpus=corpus, index_dir=tmp_path / "index")  # no setting: the registry says .note
    docs, warnings = load_corpus(settings)
    assert sorted(d.source for d in docs) == ["harbour.note", "plain.txt"]
    assert warnings == ["skipped empty.note: a note without a body"]
    report = build_index(settings=settings)
    assert "empty.note" in " ".join(report.warnings)

    a = answer("How deep was the harbour of Velmora dredged?", settings=settings)
    assert not a.refused and "14 metres" in a.text
    cite = a.citations[0]
    assert cite.source == "harbour.note"
    # Offsets index the reader's text: "tags:" and "title:" lines are not in it.
    text = NoteReader().read((corpus / "harbour.note").read_bytes(), Path("harbour.note"))
    assert "14 metres" in text[cite.start : cite.end] and "tags" not in text
