"""F1 of the 2026-12-07 reliability report: a document whose first line is a
whole paragraph (longer than a title can be) took every build of its corpus
down, and with it `ask` and `chat`. Now it is indexed like any other, and any
error while reading one file is that file's skip reason, not the build's."""

import subprocess
import sys

from assistant import Settings, answer, build_index
from assistant.api import reset_engines

from conftest import indexed_corpus, make_docx

PARAGRAPH = "The harbour of Quillmoor has served fishing boats and ferries for two hundred years. " * 4
FACT = "The Quillmoor lighthouse is 47 metres tall."


def _files() -> dict[str, bytes]:
    return {
        "p.txt": f"{PARAGRAPH}\n\n{FACT}\n".encode(),
        "p.md": f"{PARAGRAPH}\n\nThe Quillmoor bridge opened in 1911.\n".encode(),
        "p.html": (
            f"<html><body><article><p>{PARAGRAPH}</p><p>The Quillmoor museum holds 3,400 lamps.</p>"
            f"<p>{PARAGRAPH}</p></article></body></html>"
        ).encode(),
        "p.docx": make_docx([PARAGRAPH, "The Quillmoor ferry carries 212 cars."], heading=""),
    }


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.apps.cli", *args], capture_output=True, text=True)


def test_documents_that_start_with_a_paragraph_are_indexed_and_answered(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in _files().items():
        (corpus / name).write_bytes(data)
    where = ["--corpus", str(corpus), "--index-dir", str(tmp_path / "index")]
    r = _cli("index", "-q", *where)
    assert r.returncode == 0, r.stderr
    r = _cli("ask", *where, "How tall is the Quillmoor lighthouse?")
    assert r.returncode == 0, r.stderr
    assert "47 metres" in r.stdout

    reset_engines()
    s = Settings(corpus=corpus, index_dir=tmp_path / "index")
    for q, fact in [
        ("When did the Quillmoor bridge open?", "1911"),
        ("How many cars does the Quillmoor ferry carry?", "212"),
    ]:
        assert fact in answer(q, settings=s).text


def test_any_error_while_reading_one_file_skips_only_that_file(tmp_path, monkeypatch):
    from assistant.ingest import clean

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(f"Lighthouses\n\n{FACT}\n", encoding="utf-8")
    (corpus / "bad.txt").write_text("Cursed\n\nThis file makes the title code fail.\n", encoding="utf-8")
    real = clean.extract_title

    def failing(text: str, fallback: str) -> str:
        if "Cursed" in text:
            raise RuntimeError("an unforeseen failure")
        return real(text, fallback)

    monkeypatch.setattr("assistant.ingest.files.extract_title", failing)
    reset_engines()
    s = Settings(corpus=corpus, index_dir=tmp_path / "index")
    report = build_index(settings=s)
    assert report.added == ["good.txt"]
    assert [w for w in report.warnings if "bad.txt" in w] == ["skipped bad.txt: RuntimeError: an unforeseen failure"]
    assert "47 metres" in answer("How tall is the Quillmoor lighthouse?", settings=s).text


def test_a_skipped_file_is_not_read_again_until_it_or_the_reading_settings_change(tmp_path, monkeypatch):
    """F5: skipped files were re-read (a broken 6 MB PDF re-parsed, a zip
    bomb re-expanded) by every build, even one with nothing changed."""
    import os

    from assistant.ingest import reading

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(f"Lighthouses\n\n{FACT}\n", encoding="utf-8")
    broken = corpus / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n" + b"not really a PDF " * 1000)
    reads: list[str] = []
    real = reading.read_doc

    def counting(path, *args, **kw):
        reads.append(path.name)
        return real(path, *args, **kw)

    monkeypatch.setattr(reading, "read_doc", counting)

    def build(**kw) -> list[str]:
        reset_engines()
        reads.clear()
        report = build_index(settings=Settings(corpus=corpus, index_dir=tmp_path / "index", **kw))
        assert any(w.startswith("skipped broken.pdf: ") for w in report.warnings), report.warnings
        return list(reads)

    assert sorted(build()) == ["broken.pdf", "good.txt"]
    assert build() == []  # nothing changed: nothing read
    os.utime(broken, ns=(1, 1))  # touched, same bytes: the hash says it is the same file
    assert build() == []
    assert build(read_timeout=60) == ["broken.pdf"]  # other reading settings: tried again
    broken.write_bytes(b"%PDF-1.4\n" + b"still not a PDF " * 1000)
    assert build(read_timeout=60) == ["broken.pdf"]  # new content: read again
    from assistant.library import documents

    s = Settings(corpus=corpus, index_dir=tmp_path / "index", read_timeout=60)
    status = {d.source: (d.status, d.problem) for d in documents(settings=s)}
    assert status["broken.pdf"] == ("skipped", "broken PDF (PDFium cannot parse it)")


def test_a_page_with_characters_xml_cannot_hold_keeps_its_text(tmp_path):
    """One "&#x1;" or "&#xFFFF;" (or a raw control character) made lxml drop
    the whole page: it was skipped as having no main text."""
    para = "<p>The Quillmoor harbour has served fishing boats and ferries for two hundred years, and more.</p>" * 3
    page = (
        f"<html><body><article>{para}<p>{FACT} Odd &#x1;&#xFFFF;&#55296; \x0b here.</p>{para}</article></body></html>"
    )
    s = indexed_corpus(tmp_path, {"page.html": page.encode()})
    assert "47 metres" in answer("How tall is the Quillmoor lighthouse?", settings=s).text


def test_an_error_while_recording_one_file_skips_only_that_file(tmp_path, monkeypatch):
    """Recording is where F1 struck: the records of a document with a bad
    title could not be serialised, and the whole build failed."""
    from assistant.stores import builder

    real = builder.item_records

    def failing(p, *args):
        if p.source == "bad.txt":
            raise TypeError("cannot serialise this record")
        return real(p, *args)

    monkeypatch.setattr(builder, "item_records", failing)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(f"Lighthouses\n\n{FACT}\n", encoding="utf-8")
    (corpus / "bad.txt").write_text("Ferries\n\nThe Quillmoor ferry carries 212 cars.\n", encoding="utf-8")
    (corpus / "zz.txt").write_text("Bridges\n\nThe Quillmoor bridge opened in 1911.\n", encoding="utf-8")
    reset_engines()
    s = Settings(corpus=corpus, index_dir=tmp_path / "index")
    report = build_index(settings=s)
    assert sorted(report.added) == ["good.txt", "zz.txt"]
    assert "skipped bad.txt: TypeError: cannot serialise this record" in report.warnings
    assert "47 metres" in answer("How tall is the Quillmoor lighthouse?", settings=s).text
    assert "1911" in answer("When did the Quillmoor bridge open?", settings=s).text
    from assistant.library import documents

    status = {d.source: (d.status, d.problem) for d in documents(settings=s)}
    assert status["bad.txt"] == ("skipped", "TypeError: cannot serialise this record")
    assert status["good.txt"][0] == "indexed"
