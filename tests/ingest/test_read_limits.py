"""F4: the reading process's memory is capped as well as its time, and a
zip-based file (a .docx) whose parts would expand too far is not opened.
Real files and the real reading process (`ingest.isolate`)."""

import io
import os
import zipfile
from pathlib import Path

import pytest

from assistant import Settings
from assistant.ingest import isolate, readers
from assistant.ingest.files import load_corpus

from conftest import IsolatedReader, make_docx, make_pdf

PAGES = ["The harbour of Velmora was dredged to a depth of fourteen metres in 2019. " * 3]


def docx_with(fill) -> bytes:
    """A valid Word file whose document.xml has `fill(part)` write more of its
    body, streamed: what it writes is never in memory at once."""
    good = zipfile.ZipFile(io.BytesIO(make_docx(["The Velmora lighthouse is 47 metres tall."])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as docx:
        for info in good.infolist():
            data = good.read(info)
            if info.filename != "word/document.xml":
                docx.writestr(info, data)
                continue
            head, tail = data.split(b"</w:body>")
            with docx.open(info.filename, "w") as part:
                part.write(head)
                fill(part)
                part.write(b"</w:body>" + tail)
    return out.getvalue()


def zip_bomb_docx(spaces_mb: int = 300) -> bytes:
    """`spaces_mb` MB of spaces (legal between XML elements): ~0.3 MB on disk."""
    block = b" " * 2**20
    return docx_with(lambda part: [part.write(block) for _ in range(spaces_mb)])


def wordy_docx(mb: int = 150) -> bytes:
    """`mb` paragraphs of 1 MB, each 24 KB of random letters and then spaces:
    packed ~70 times (under the zip bomb ratio), ~2 MB on disk, `mb` MB to parse."""
    import random

    rng = random.Random(1)

    def fill(part) -> None:
        for _ in range(mb):
            words = bytes(rng.choice(b"abcdefghij") for _ in range(24 * 1024))
            part.write(b"<w:p><w:r><w:t>" + words + b" " * (2**20 - len(words)) + b"</w:t></w:r></w:p>")

    return docx_with(fill)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_docx_zip_bomb_is_skipped_unopened_with_one_line(tmp_path):
    isolate.stop()
    corpus = tmp_path / "c"
    corpus.mkdir()
    bomb = zip_bomb_docx()
    assert len(bomb) < 2 * 2**20
    (corpus / "bomb.docx").write_bytes(bomb)
    (corpus / "facts.docx").write_bytes(make_docx(["The Velmora town hall was built in 1874."]))
    docs, warnings = load_corpus(Settings(corpus=corpus))
    assert [d.source for d in docs] == ["facts.docx"]
    [line] = warnings
    assert line.startswith("skipped bomb.docx: a zip bomb: its part 'word/document.xml' would expand ")
    assert "to 300 MB (not opened)" in line and "\n" not in line
    # The reading process never held the expanded part (it was read in it:
    # the process is still the one that read facts.docx).
    assert isolate._proc is not None and peak_rss_mb(isolate._proc.pid) < 300
    isolate.stop()


class HungryReader(IsolatedReader):
    """A reader that allocates without end (a parser blowing up on a file)."""

    suffixes = (".hungry",)

    def read(self, data: bytes, path: Path) -> str:
        held = []
        while True:  # 50 MB at a time, touched, as a parser building a tree would
            held.append(bytearray(b"x" * (50 * 2**20)))


def test_a_read_that_needs_more_memory_than_read_memory_mb_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "READERS", [*readers.READERS, HungryReader()])
    isolate.stop()
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.hungry").write_bytes(b"x")
    (corpus / "b.pdf").write_bytes(make_pdf(PAGES))
    docs, warnings = load_corpus(Settings(corpus=corpus, read_memory_mb=500))
    assert warnings == ["skipped a.hungry: reading it needed more than 500 MB of memory (the read_memory_mb setting)"]
    assert [d.source for d in docs] == ["b.pdf"]

    # The process that ran out is not trusted with the next file: it is replaced.
    pdf = readers.reader_for(Path("b.pdf"))
    isolate.read_text(pdf, make_pdf(PAGES), Path("b.pdf"), 60, 500)
    first = isolate._proc.pid
    with pytest.raises(ValueError, match="needed more than 500 MB"):
        isolate.read_text(HungryReader(), b"x", Path("a.hungry"), 60, 500)
    assert not Path(f"/proc/{first}").exists()  # ended (and reaped)
    assert "Velmora" in isolate.read_text(pdf, make_pdf(PAGES), Path("b.pdf"), 60, 500)
    assert isolate._proc.pid != first
    isolate.stop()


def test_read_memory_mb_is_a_checked_setting():
    from assistant.errors import SettingsError

    with pytest.raises(SettingsError, match="read_memory_mb=100 is not valid: must be a number of at least 256"):
        Settings(read_memory_mb=100)  # below what the readers' libraries map: every read would fail


def test_a_word_file_that_needs_more_memory_than_read_memory_mb_is_skipped_as_such(tmp_path):
    """Under the zip bomb limits, over the memory cap: python-docx's own
    MemoryError is the reason (it was "broken Word file (MemoryError)")."""
    isolate.stop()
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "wordy.docx").write_bytes(wordy_docx(150))
    (corpus / "facts.docx").write_bytes(make_docx(["The Velmora town hall was built in 1874."]))
    docs, warnings = load_corpus(Settings(corpus=corpus, read_memory_mb=320))
    assert warnings == ["skipped wordy.docx: reading it needed more than 320 MB of memory (the read_memory_mb setting)"]
    assert [d.source for d in docs] == ["facts.docx"]
    isolate.stop()


def test_a_process_holding_over_1024_files_still_reads_in_the_reading_process(tmp_path):
    # select() fails outright past file descriptor 1,023: a long-running page, or
    # this test run, holding that many files skipped every PDF ("filedescriptor
    # out of range in select()").
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if min(soft, hard) < 1300:
        pytest.skip(f"this process may hold only {soft} files")
    isolate.stop()  # the reading process's pipes are opened after the files below
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        (tmp_path / "a.pdf").write_bytes(make_pdf(["The harbour of Velmora was dredged in 2019."]))
        docs, warnings = load_corpus(Settings(corpus=tmp_path, index_dir=tmp_path / "i"))
        assert warnings == [] and [d.source for d in docs] == ["a.pdf"]
    finally:
        isolate.stop()
        for fd in held:
            os.close(fd)
