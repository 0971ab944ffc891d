"""The public entry points: `answer()` and `build_index()`.

Heavy libraries (chromadb, onnxruntime, llama-index) are imported on first
use, and the loaded models and stores are cached per index configuration.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from assistant.errors import IndexConfigError, IndexStoreError, QuestionError
from assistant.settings import Settings, get_settings
from assistant.types import Answer

log = logging.getLogger(__name__)

# Settings that only change how one question is answered, not which index
# or models are loaded.
_PER_CALL = {
    "top_k", "max_sentences", "offline_answerer", "reader_model", "reader_candidates", "reader_threshold",
    "max_question_chars", "backend", "llm_model", "llm_max_tokens", "llm_temperature", "llm_retries",
    "openai_timeout", "chat_host", "chat_port", "chat_auth", "chat_share",
}  # fmt: skip


class Engine:
    """A loaded index (store, embedder, retriever) for one configuration.

    It follows builds made by other processes: `changed()` notices a finished
    build (a new manifest, or a new build token on a Chroma server), and
    `get_engine` then loads the index again. Until then, and while another
    process is building, it answers from what it loaded."""

    SERVER_CHECK_EVERY = 2.0  # seconds between build-token checks on a Chroma server

    def __init__(self, settings: Settings):
        from assistant.embedders.local import get_embedder
        from assistant.retrieval.hybrid import Retriever
        from assistant.stores.store import IndexStore

        self.settings = settings
        self.embedder = get_embedder(settings)
        self.store = IndexStore(settings, self.embedder.id, getattr(self.embedder, "dim", None))
        index_dir = Path(settings.index_dir)
        # A read-only index (a read-only mount, another user's folder) is
        # answered from as it is; it is not rebuilt, which would fail.
        writable = not index_dir.exists() or os.access(index_dir, os.W_OK)
        status = self.store.status()
        if status == "ready" and not self.store.remote and not self._whole():
            status = "damaged"
        has_corpus = Path(settings.corpus).is_dir()
        if status != "ready" and self.store.remote and not has_corpus:
            # Server mode with no corpus here: answer from what the server holds.
            self._sync(refresh_only=True)
        elif status != "ready":
            self._sync()
        elif not has_corpus:
            log.warning("corpus folder %s not found; answering from the existing index", settings.corpus)
        elif not self._corpus_unchanged():
            if writable:
                self._sync()
            else:
                log.warning("index folder %s is read-only; answering from it as it is", index_dir)
        try:
            self.stamp = self._stamp()
            self.build = self.store.server_build() if self.store.remote else None
            self.checked = time.monotonic()
            self.retriever = Retriever(self.store, self.embedder, settings.candidates, settings.rrf_k)
            _ = self.store.chunks  # opens Chroma; a broken store fails here
        except IndexConfigError:
            raise  # unreachable server, wrong dimension: a rebuild would not help
        except IndexStoreError as e:
            if not writable:
                raise
            log.warning("%s; rebuilding the index", e)
            self.close()
            self._sync(rebuild=True)
            self.stamp = self._stamp()
            self.retriever = Retriever(self.store, self.embedder, settings.candidates, settings.rrf_k)

    def _whole(self) -> bool:
        """The store holds what the manifest lists (an emptied store opens fine and holds nothing)."""
        try:
            return self.store.counts_match(self.store.read_manifest() or {})
        except IndexConfigError:
            raise
        except IndexStoreError as e:
            log.warning("%s", e)
            return False

    def _sync(self, rebuild: bool = False, refresh_only: bool = False) -> None:
        from assistant.errors import ForeignFilesError
        from assistant.stores.store import refresh, sync

        if not refresh_only:
            log.info("building the index in %s from %s", self.settings.index_dir, self.settings.corpus)
            try:
                report = sync(self.settings, self.embedder, rebuild=rebuild)
                log.info("index: %s", report.summary())
                return
            except ForeignFilesError as e:
                # Nothing is deleted to answer a question: answer from what the server holds.
                log.warning("%s", e)
        log.info("refreshing the index cache in %s from %s", self.settings.index_dir, self.store.where)
        log.info("index: %s", refresh(self.settings, self.embedder).summary())

    def _stamp(self):
        try:
            st = os.stat(self.store.manifest_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def changed(self) -> bool:
        """Whether another process finished a build of this index since it was loaded."""
        if self.store.remote and time.monotonic() - self.checked >= self.SERVER_CHECK_EVERY:
            self.checked = time.monotonic()
            try:
                if self.store.server_build() != self.build:
                    return True
            except IndexStoreError:
                return False  # the server is away: keep answering from the cache; the query will say
        if self._stamp() == self.stamp:
            return False
        try:
            manifest = self.store.read_manifest()
        except IndexStoreError:
            return True
        # A build under way (incomplete manifest, or none while a rebuild starts):
        # keep answering from what is loaded until it is finished.
        return bool(manifest and manifest.get("complete"))

    def close(self) -> None:
        """Let go of the store, so that the next engine reads it from disk."""
        from assistant.stores.store import forget_local

        self.store.close()
        if not self.store.remote:
            forget_local(Path(self.settings.index_dir))

    def _corpus_unchanged(self) -> bool:
        """Cheap check (sizes and mtimes) that the corpus matches the manifest."""
        from assistant.ingest.files import list_files

        try:
            manifest = self.store.read_manifest() or {}
            files = list_files(Path(self.settings.corpus), self.settings.file_types)
        except Exception:
            return False
        known = manifest.get("files", {})
        corpus = Path(self.settings.corpus)
        stats = {}
        for p in files:
            st = p.stat()
            stats[p.relative_to(corpus).as_posix()] = (st.st_size, st.st_mtime_ns)
        skipped = set(manifest.get("skipped", {}))
        if set(stats) - skipped != set(known):
            return False
        return all((known[s].get("size"), known[s].get("mtime_ns")) == stats[s] for s in known) and all(
            manifest["skipped"][s] == list(stats[s]) for s in skipped if s in stats
        )


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(settings: Settings, failed: Engine | None = None) -> Engine:
    """The loaded engine for these settings; loaded again when another process
    finished a build since, or when `failed` (the engine a question just
    failed on) is still the current one."""
    key = settings.model_dump_json(exclude=_PER_CALL)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is not None and (engine is failed or engine.changed()):
            log.info("the index in %s changed; loading it again", settings.index_dir)
            del _engines[key]
            engine.close()
            engine = None
        if engine is None:
            engine = _engines[key] = Engine(settings)
        return engine


def _retrying(settings: Settings, engine: Engine, step):
    """(engine, step(engine)); when the store fails under it (another process
    rebuilt or changed the index), once more on the index loaded again."""
    try:
        return engine, step(engine)
    except IndexConfigError:
        raise
    except IndexStoreError as e:
        log.warning("%s; loading the index again", e)
        engine = get_engine(settings, failed=engine)
        return engine, step(engine)


def reset_engines() -> None:
    """Forget loaded indexes (after rebuilding one from another process)."""
    with _engines_lock:
        _engines.clear()


def _resolve(options: dict) -> Settings:
    settings = options.pop("settings", None) or get_settings()
    return settings.with_options(**options)


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
    from assistant.answerers.condense import (
        asks_about_last_answer,
        condense_parts,
        previous_answer_sentences,
        resolve_references,
        usable_history,
    )
    from assistant.answerers.extractive import offline_answer
    from assistant.answerers.instructions import flag_passages, strip_instructions
    from assistant.answerers.reader import reader_answer
    from assistant.reader.model import get_reader
    from assistant.text.names import expand_aliases

    t0 = time.perf_counter()
    settings = _resolve(dict(options))
    q = clean_question(question, settings.max_question_chars)
    history = check_history(history)
    timings: dict[str, float] = {}
    notes: list[str] = []

    t = time.perf_counter()
    engine = get_engine(settings)
    timings["load_ms"] = (time.perf_counter() - t) * 1000

    stripped = strip_instructions(q)
    # A refused turn, and the question it refused, are no context for this one.
    history = usable_history(history)
    # "he" / "the two of them" -> the people the conversation just named.
    resolved = resolve_references(stripped, history)
    # The question as it reads on its own ("and when was that?" -> "When was
    # the tariff Trump threatened?"): what is searched and what the sentences
    # of the answer are judged against.
    asked, carried = condense_parts(stripped, history)
    # A follow-up should not repeat the last answer, unless it asks about
    # what that answer said ("when was that?").
    follow_up = asked != stripped and not asks_about_last_answer(resolved)
    client = deadline = None
    standalone = None  # the model's rewrite of a follow-up
    if settings.use_llm():
        from assistant.answerers.generative import condense_llm
        from assistant.llms.openai_compat import ChatClient, LLMError

        client = ChatClient(settings)
        deadline = time.monotonic() + settings.openai_timeout
        if history:
            t = time.perf_counter()
            try:
                standalone = condense_llm(client, resolved, history, deadline)
            except LLMError as e:
                notes.append(
                    f"The follow-up could not be rewritten by the model ({e}); its terms were carried over instead."
                )
            timings["condense_ms"] = (time.perf_counter() - t) * 1000
    if standalone:
        # The model's rewrite, plus the terms the offline method carries over:
        # a small model's rewrite can lose the subject (measured with SmolLM2).
        standalone = f"{standalone} ({' '.join(carried)})" if carried else standalone
    query = expand_aliases(standalone or asked)

    t = time.perf_counter()
    qvec = engine.retriever.embed_query(query)
    use_llm = client is not None

    def retrieve(engine: Engine):
        passages, stage = engine.retriever.search(query, settings.top_k, qvec=qvec)
        # The LLM's sentences are checked against these; fetched here, where a
        # store that changed under the question can still be retried.
        return passages, stage, engine.retriever.units_of(passages) if use_llm and passages else []

    engine, (passages, stage, units) = _retrying(settings, engine, retrieve)
    timings.update(stage)
    timings["embed_ms"] = (time.perf_counter() - t) * 1000 - sum(stage.values())
    timings["retrieve_ms"] = (time.perf_counter() - t) * 1000

    def finish(backend: str, text: str, citations, refused: bool, **extra) -> Answer:
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        return Answer(
            question=q, text=text, citations=citations, refused=refused, passages=passages,
            timings={k: round(v, 2) for k, v in timings.items()}, backend=backend, query=query,
            notes=notes, **extra,
        )  # fmt: skip

    dropped: dict = {}  # what verification dropped of an LLM answer the offline one replaced
    if client is not None and passages:
        from assistant.answerers.generative import LLMResult, llm_answer_stream
        from assistant.reader.model import rerank_passages

        t = time.perf_counter()
        relevance = None
        if settings.offline_answerer == "reader":
            # The reader reranks the passages (what answers comes first) and
            # tells the verifier which sentence of a passage answers.
            reader = get_reader(settings.reader_model)
            relevance = reader.score(standalone or asked, [" ".join(u.text.split()) for u in units])
            passages, units = rerank_passages(passages, units, relevance)
            timings["rerank_ms"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
        try:
            for item in llm_answer_stream(
                client,
                standalone or asked,
                passages,
                units,
                engine.embedder.embed,
                settings.max_sentences,
                deadline,
                relevance=relevance,
            ):
                if isinstance(item, LLMResult):
                    timings.update(item.timings)
                    timings["answer_ms"] = (time.perf_counter() - t) * 1000
                    notes.extend(item.notes)
                    yield finish(
                        f"llm:{settings.llm_model}", item.text, item.citations, item.refused,
                        unsupported=item.unsupported, verification=item.verification,
                    )  # fmt: skip
                    return
                yield item
        except LLMError as e:
            from assistant.answerers.generative import ObeyedInstructions

            if isinstance(e, ObeyedInstructions):
                notes.extend(e.notes)
                dropped = {"unsupported": e.unsupported, "verification": e.verification}
            notes.append(f"The language model failed: {e}. This is the offline answer.")

    t = time.perf_counter()
    flag_passages(passages, notes)
    previous = previous_answer_sentences(history) if follow_up else []
    avoid = engine.embedder.embed(previous) if previous else None
    engine, (text, citations, refused, debug) = _retrying(
        settings,
        engine,
        lambda e: (
            reader_answer(
                asked, query, passages, e.retriever, qvec, get_reader(settings.reader_model), settings.max_sentences,
                avoid=avoid, candidates=settings.reader_candidates, threshold=settings.reader_threshold,
            )
            if settings.offline_answerer == "reader"
            else offline_answer(asked, query, passages, e.retriever, qvec, settings.max_sentences, avoid=avoid)
        ),  # fmt: skip
    )
    timings["answer_ms"] = (time.perf_counter() - t) * 1000
    letters = [c for c in q if c.isalpha()]
    if letters and sum(c.isascii() for c in letters) < 0.5 * len(letters):
        notes.append("The offline answerer reads English best; the question was matched as written.")
    yield text
    yield finish("offline", text, citations, refused, debug=debug, **dropped)


def example_questions(n: int = 4, **options) -> list[str]:
    """A few questions to try, drawn from the corpus: its section headings,
    one per document in turn (built from the index, so any corpus works)."""
    settings = _resolve(dict(options))
    engine = get_engine(settings)
    with engine.store.guard():
        got = engine.store.units.get(where={"heading": True}, include=["documents", "metadatas"])
    by_source: dict[str, list[str]] = {}
    for text, meta in sorted(zip(got["documents"], got["metadatas"]), key=lambda x: (x[1]["source"], x[1]["unit"])):
        words = text.split()
        if int(meta["unit"]) == 0 or not 2 <= len(words) <= 8 or not text[0].isalpha() or ":" in text:
            continue  # titles, bylines, one-word labels
        by_source.setdefault(meta["source"], []).append(text.strip())
    out: list[str] = []
    while len(out) < n and any(by_source.values()):
        for heads in by_source.values():
            if heads and len(out) < n:
                out.append(f"What do the sources say about “{heads.pop(0)}”?")
    return out


def index_status(**options) -> str:
    """'ready', 'missing', 'incomplete', 'stale', 'outdated' or 'corrupt' for the
    configured index; IndexStoreError when its folder cannot be one."""
    from assistant.embedders.local import get_embedder
    from assistant.stores.store import IndexStore, ensure_dir

    settings = _resolve(dict(options))
    ensure_dir(Path(settings.index_dir))  # a file, or a path that cannot be made: said at once
    return IndexStore(settings, get_embedder(settings).id).status()


def build_index(rebuild: bool = False, progress=None, **options):
    """Index the corpus (idempotent); returns a `SyncReport`."""
    from assistant.embedders.local import get_embedder
    from assistant.stores.store import sync

    settings = _resolve(dict(options))
    report = sync(settings, get_embedder(settings), rebuild=rebuild, progress=progress)
    reset_engines()
    return report
