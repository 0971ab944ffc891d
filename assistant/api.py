"""The public entry points: `answer()`, `answer_stream()` and `build_index()`
(written in core.py), `example_questions()`, `source_text()` and
`index_status()`.

Heavy libraries (chromadb, onnxruntime, llama-index) are imported on first
use, and the loaded models and stores are cached per index configuration.
"""

from __future__ import annotations

from pathlib import Path

# Re-exported. The calls of core.py are written there, below examples.py and
# library.py, which use them too; get_engine and reset_engines are imported
# from here by tests and benchmarks.
from assistant.core import answer, answer_stream, build_index, check_history, clean_question  # noqa: F401
from assistant.engine import get_engine, refresh_engine, reset_engines  # noqa: F401
from assistant.settings import resolve_settings


def example_questions(n: int = 4, **options) -> list[str]:
    """Up to `n` questions to try that the assistant answers: written from the
    index's sentences and each one asked of the offline answerer, kept when
    it is answered citing the sentence it came from (see `examples.py`);
    spread over the documents, cached in the index folder until the index
    changes. May be fewer than `n` (a corpus with few such sentences)."""
    from assistant.examples import example_questions as examples

    return examples(resolve_settings(options), n)


def source_text(source: str, **options) -> str:
    """The text the offsets of `source`'s passages and citations index:
    `source_text(c.source)[c.start:c.end]` is what citation `c` quotes. For
    a text file, the file's text (BOM dropped); for a PDF, Word or HTML
    file, the text extracted from it, which the index keeps (so it is the
    text as it was indexed). `CorpusError` for a file that is not there."""
    from assistant.stores.texts import source_text as text_of

    return text_of(resolve_settings(options), source)


def index_status(**options) -> str:
    """'ready', 'missing', 'incomplete', 'stale', 'outdated' or 'corrupt' for the
    configured index; IndexStoreError when its folder cannot be one."""
    from assistant.embedders import get_embedder
    from assistant.stores import IndexStore, ensure_dir
    from assistant.stores.backends import get_backend

    settings = resolve_settings(options)
    # An unknown embedder or store is said before any folder is made.
    embedder_id = get_embedder(settings).id
    backend = get_backend(settings, embedder_id)
    ensure_dir(Path(settings.index_dir))  # a file, or a path that cannot be made: said at once
    return IndexStore(settings.index, settings.chroma, embedder_id, backend=backend).status()
