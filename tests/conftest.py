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
def hashed_settings(tmp_path) -> Settings:
    """Settings of the `test` profile (hashed embedder, in-memory store) for a
    two-file corpus: a real index with no model, for the unit layer."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    docs = {
        "ferry.md": "# Ferries\n\nThe Brinwell ferry leaves the harbour at noon. It was built in 1962 in Gdansk.\n",
        "museum.md": "# Museum\n\nThe Harbour Museum opened in 1931. Its first director was Elena Wirth.\n",
    }
    for name, text in docs.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return Settings(profile="test", corpus=corpus, index_dir=tmp_path / "index")


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
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            (corpus / name).write_bytes(data)
        else:
            (corpus / name).write_text(data, encoding="utf-8")
    settings = Settings(corpus=corpus, index_dir=tmp_path / "index")
    build_index(settings=settings)
    return settings


def annals(sentences: int) -> str:
    """Plain text of `sentences` numbered sentences, five to a paragraph: a
    large file (~70 bytes a sentence) that is read in segments."""
    sents = [f"In {1000 + i} the Varn mill of Oskel{i} ground {i % 97 + 3} sacks of rye." for i in range(sentences)]
    return "Annals of the Valleys\n\n" + "\n\n".join(" ".join(sents[i : i + 5]) for i in range(0, sentences, 5)) + "\n"


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
    writer.encrypt(
        user_password=password, owner_password=password, algorithm="RC4-128"
    )  # pure Python: no crypto library
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


# --- the two layers: unit (no index, no process, no server) and e2e ----------
#
# A test is e2e when it, or a helper of its module it calls, touches a real
# part: builds or opens an index, answers through the API or the CLI, starts
# a process, a server or the browser. Everything else is a unit test, run
# alone with `pytest -m unit` (under a minute). Read from the code, so a new
# test is sorted without anyone remembering to mark it; a test may still say
# `@pytest.mark.e2e` itself.
_REAL_PARTS = re.compile(
    r"seeds_settings|indexed_corpus|build_index|\bsync\(|IndexStore|get_engine|load_engine|[Cc]hroma|subprocess|"
    r"Popen|servers\.|fake_openai|chromium|\banswer\(|answer_stream|ask\(|run_cli|main\(\[|main\(|cli\.|"
    r"get_embedder|local_embedder|EmbedWorker|get_reader|Reader\(|train|library\.|upload|ConversationStore|"
    r"example_questions|index_status|source_text|build_demo|chat\.|gradio|make_pdf|make_docx|read_file|isolate"
)


# What a test on the `test` profile (the `hashed_settings` fixture: hashed
# embedder, in-memory store) may still touch that makes it e2e.
_OUTSIDE_PARTS = re.compile(
    r"seeds_settings|subprocess|Popen|servers\.|fake_openai|chromium|[Cc]hroma|get_reader|Reader\(|train|gradio|"
    r"chat\.|main\(|make_pdf|make_docx|isolate"
)


def _touches_real_parts(function, module, parts: re.Pattern = _REAL_PARTS) -> bool:
    import inspect

    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return True
    if parts.search(source):
        return True
    # One level down: the module's own helpers and fixtures it calls by name.
    for name in set(re.findall(r"\b([A-Za-z_]\w*)\(", source)) | set(inspect.signature(function).parameters):
        helper = getattr(module, name, None)
        helper = getattr(helper, "__wrapped__", helper)
        if inspect.isfunction(helper) and helper is not function and helper.__module__ == module.__name__:
            try:
                if parts.search(inspect.getsource(helper)):
                    return True
            except (OSError, TypeError):
                return True
    return False


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("e2e") or item.get_closest_marker("unit"):
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        parts = _OUTSIDE_PARTS if "hashed_settings" in fixtures else _REAL_PARTS
        real = "seeds_settings" in fixtures or _touches_real_parts(getattr(item, "function", None), item.module, parts)
        item.add_marker(pytest.mark.e2e if real else pytest.mark.unit)
