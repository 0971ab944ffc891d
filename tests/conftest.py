import io
import os
import re
import shutil
import sys
from pathlib import Path

# Tests are hermetic: a developer's OPENAI_* or ASSISTANT_* variables must not
# turn the LLM path on or move the index.
for _name in list(os.environ):
    if _name.startswith(("OPENAI_", "ASSISTANT_")):
        del os.environ[_name]

import pytest  # noqa: E402

from assistant import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
sys.path.insert(0, str(ROOT / "benchmarks"))  # the document makers the benchmarks use too


@pytest.fixture(scope="session")
def seeds_settings(tmp_path_factory) -> Settings:
    """Settings for an index of the seed articles, built once per test run."""
    from assistant import build_index

    base = tmp_path_factory.mktemp("seeds_index")
    corpus = base / "corpus"
    shutil.copytree(SEEDS, corpus)
    settings = Settings(corpus=corpus, index_dir=base / "index")
    build_index(settings=settings)
    return settings


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    """A writable copy of the seed corpus."""
    d = tmp_path / "corpus"
    shutil.copytree(SEEDS, d)
    return d


def alnum(s: str) -> str:
    return re.sub(r"[\W_]+", "", s)


def is_subsequence(small: str, big: str) -> bool:
    it = iter(big)
    return all(c in it for c in small)


def indexed_corpus(tmp_path: Path, files: dict[str, str | bytes]) -> Settings:
    """A corpus of these files (name -> text or bytes) in tmp_path, indexed,
    with no engine of an earlier test still loaded."""
    from assistant import build_index
    from assistant.api import reset_engines

    reset_engines()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in files.items():
        if isinstance(data, bytes):
            (corpus / name).write_bytes(data)
        else:
            (corpus / name).write_text(data, encoding="utf-8")
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index")
    build_index(settings=settings)
    return settings


# Documents made in the tests (fpdf2 and python-docx are test dependencies).
def make_pdf(pages: list[str], password: str | None = None, title: str | None = None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    data = bytes(pdf.output())
    if password is None:
        return data
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")  # pure Python: no crypto library
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(paragraphs: list[str], table: list[tuple[str, str]] = (), heading: str = "Velmora facts") -> bytes:
    """A Word file: a heading, the paragraphs, a two-column table."""
    from make_docs import docx_file

    return docx_file(heading, paragraphs, table)


class IsolatedReader:
    """A test reader run in the reading process (`ingest.isolate`), to try
    its limits: a subclass sets `suffixes` and `read`."""

    suffixes: tuple[str, ...] = ()
    streamable = False
    isolated = True
