"""What `api`, `examples` and `library` all build on: `answer()`,
`answer_stream()`, `build_index()` and the checks of a question and a
history. Here, below those three, so that none of them imports another in a
circle (examples asks questions, library indexes again after a removal, and
api offers both); `api` re-exports everything here.

Heavy libraries (chromadb, onnxruntime, llama-index) are imported on first
use, and the loaded models and stores are cached per index configuration.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterator

from assistant.engine import refresh_engine
from assistant.errors import QuestionError
from assistant.pipeline import run
from assistant.settings import resolve_settings
from assistant.types import Answer


def clean_question(question, limit: int) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text, not {type(question).__name__}.")
    # Lone surrogates are what Python makes of bytes that are not UTF-8 (a
    # command-line argument, a terminal in another encoding); no tokenizer takes them.
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        raise QuestionError(
            "The question is not valid UTF-8 text; retype it or check the terminal's encoding."
        ) from None
    # Control characters (other than newlines and tabs) become spaces.
    q = "".join(" " if unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t" else c for c in question)
    q = " ".join(q.split())
    if not q:
        raise QuestionError("The question is empty.")
    if len(q) > limit:
        raise QuestionError(
            f"The question is too long ({len(q):,} characters; the limit is {limit:,}). Ask a shorter question."
        )
    if not any(c.isalnum() for c in q):
        raise QuestionError("The question has no words in it.")
    return q


def check_history(history) -> list[dict]:
    if history is None:
        return []
    if not isinstance(history, list) or not all(
        isinstance(m, dict)
        and m.get("role") in ("user", "assistant", "system")
        and isinstance(m.get("content"), str)
        and isinstance(m.get("refused", False), bool)
        for m in history
    ):
        raise QuestionError(
            'history must be a list of {"role": "user"|"assistant", "content": str} messages'
            ' (an assistant message may add "refused": true or false).'
        )
    return history


def answer(question: str, history: list[dict] | None = None, **options) -> Answer:
    """Answer `question` from the indexed corpus, citing the passages used.

    `history` is the conversation so far, OpenAI-style
    (`[{"role": "user", "content": ...}, {"role": "assistant", ...}]`); follow-up
    questions are read in its light. An assistant message may carry
    `"refused": True` (`Answer.refused` of that turn): a refused turn and its
    question are left out of the context (without the key, a message that
    opens with the refusal wording of prompts/refusal.txt counts as refused).
    `options` override settings for this call (e.g. `top_k=8`,
    `corpus="docs/"`, `backend="offline"`), or pass `settings=Settings(...)`.
    The index is built on first use if missing. With OPENAI_API_KEY or
    OPENAI_BASE_URL set, an LLM writes the answer and its citations are
    verified; otherwise, or if the LLM fails, the offline answerer does (the
    failure is in `Answer.notes`).
    Raises `QuestionError` for an empty, over-long or non-text question.
    """
    result = None
    for item in answer_stream(question, history, **options):
        result = item
    return result


def answer_stream(question: str, history: list[dict] | None = None, **options) -> Iterator[str | Answer]:
    """Like `answer()`, but yields the answer text in pieces as it is written
    (each piece already verified), then the complete `Answer` as the last item.

        for piece in answer_stream("What tariff did Trump threaten?"):
            if isinstance(piece, str):
                print(piece, end="", flush=True)
            else:
                final = piece  # the Answer, citations included
    """
    t0 = time.perf_counter()
    settings = resolve_settings(options)
    q = clean_question(question, settings.max_question_chars)
    history = check_history(history)
    yield from run(settings, q, history, started=t0)


def build_index(rebuild: bool = False, progress=None, on_progress=None, cancel=None, **options):
    """Index the corpus (idempotent); returns a `SyncReport`.

    `progress(i, n, label)` is called as each file is begun (`i` 0-based of
    `n`) and each segment of a large file ("name (segment k/S)");
    `on_progress(event)` is given an `IndexProgress` then and as each group
    is embedded: files, segments, words embedded, words/s and time left.
    `cancel` (a `threading.Event`) stops the build at its next file or
    segment: what was embedded is stored and committed, the report has
    `stopped` set (`report.stopped_line()` says what is indexed), and the
    next build continues from there."""
    from assistant.embedders import get_embedder
    from assistant.stores import sync

    settings = resolve_settings(options)
    report = sync(settings, get_embedder(settings), rebuild=rebuild, progress=_progress(progress, on_progress),
                  cancel=cancel)  # fmt: skip
    if report.stopped:
        # Unfinished, as during a build: a loaded engine keeps answering from
        # what it loaded (the BM25 index on disk is the last finished build's).
        return report
    # The loaded engine is opened again on the new index now (it was dropped,
    # and the next question then loaded the index anew, which waits for the
    # whole of a build started meanwhile, as another upload's is).
    refresh_engine(settings)
    return report


def _progress(progress, on_progress):
    """One `IndexProgress` callback for the builder, from either or both kinds."""
    if progress is None:
        return on_progress

    def both(event):
        if event.event != "embedded":
            progress(event.file - 1, event.files, event.label)
        if on_progress is not None:
            on_progress(event)

    return both
