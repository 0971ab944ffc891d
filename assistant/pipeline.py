"""The one place the stages meet, for one question:

    question -> rewrite (condense, aliases) -> retrieve -> refine -> rerank -> answer -> Answer

The LLM answerer writes the answer when `settings.use_llm()`; if it fails,
the offline answerer `settings.offline_answerer` names does, and the failure
is in `Answer.notes`. "refine" runs when `refine_embed_backend` names a
second embedder (`retrieval.refine`: the query and the retrieved sentences
embedded again, the passages reranked by it). Each stage's wall time is in
`Answer.timings`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

from assistant.answerers.base import AnswerResult
from assistant.engine import Engine, get_engine, retrying
from assistant.llms.base import ChatModel
from assistant.llms.registry import get_chat_model
from assistant.rewrite.stage import rewrite
from assistant.settings import Settings
from assistant.types import Answer, RetrievedContext


def rerank(settings: Settings, question: str, passages: list, units: list, timings: dict):
    """(passages, units, relevance) after the configured reranker
    (`reader.registry.get_reranker`); as given, with no relevance, when none."""
    from assistant.reader.registry import get_reranker

    reranker = get_reranker(settings)
    if reranker is None:
        return passages, units, None
    t = time.perf_counter()
    passages, units, relevance = reranker.rerank(question, passages, units)
    timings["rerank_ms"] = (time.perf_counter() - t) * 1000
    return passages, units, relevance


def run(
    settings: Settings,
    q: str,
    history: list[dict],
    *,
    started: float | None = None,
    engine: Engine | None = None,
    chat: ChatModel | None = None,
) -> Iterator[str | Answer]:
    """Answer the cleaned question `q`: text pieces, then the `Answer`.

    `engine` replaces the loaded index, `chat` the configured chat model
    (used only when `settings.use_llm()`): tests pass fakes. `started` is
    when the call began (`time.perf_counter()`), for `total_ms`."""
    from assistant.answerers.fallback import Fallback
    from assistant.answerers.generative import LLMAnswerer
    from assistant.answerers.registry import offline_answerer
    from assistant.retrieval.refine import get_refiner
    from assistant.rewrite.condense import previous_answer_sentences

    t0 = time.perf_counter() if started is None else started
    timings: dict[str, float] = {}
    notes: list[str] = []

    t = time.perf_counter()
    if engine is None:
        engine = get_engine(settings)
    timings["load_ms"] = (time.perf_counter() - t) * 1000

    deadline = None
    if settings.use_llm():
        chat = get_chat_model(settings) if chat is None else chat
        deadline = time.monotonic() + settings.openai_timeout
    else:
        chat = None
    rw = rewrite(q, history, chat, deadline)
    notes.extend(rw.notes)
    timings.update(rw.timings)

    t = time.perf_counter()
    qvec = engine.retriever.embed_query(rw.query)
    refiner = get_refiner(settings)
    # With a question-time embedder, more passages than kept: it reranks them.
    wanted = settings.top_k * refiner.pool if refiner else settings.top_k

    def retrieve(engine: Engine) -> tuple:
        # Everything the answer stage reads of the index, read here, where a
        # store that changed under the question can still be retried: the
        # passages, their sentence units and the statistics of the terms.
        r = engine.retriever
        sources = r.resolve_sources(settings.sources) if settings.sources else ()
        passages, stage = r.search(
            rw.query, wanted, qvec=qvec, candidates=settings.candidates, rrf_k=settings.rrf_k, sources=sources
        )
        units = r.units_of(passages) if passages else []
        return passages, stage, units, r.term_stats(f"{rw.query} {rw.asked}")

    engine, (passages, stage, units, terms) = retrying(settings, engine, retrieve)
    timings.update(stage)
    timings["embed_ms"] = (time.perf_counter() - t) * 1000 - sum(stage.values())
    timings["retrieve_ms"] = (time.perf_counter() - t) * 1000
    embed = engine.embedder.embed  # what the answer's vectors are compared in
    if refiner is not None and passages:
        t = time.perf_counter()
        passages, units, qvec = refiner.refine(rw.query, passages, units, settings.top_k)
        embed = refiner.embedder.embed
        timings["refine_ms"] = (time.perf_counter() - t) * 1000

    previous = previous_answer_sentences(rw.history) if rw.follow_up else []
    context = RetrievedContext(
        rw.query, tuple(passages), tuple(units), terms, qvec, avoid=embed(previous) if previous else None
    )
    question = rw.asked
    primary = None
    if chat is not None and passages:
        question = rw.standalone or rw.asked
        passages, units, relevance = rerank(settings, question, passages, units, timings)
        context = replace(context, passages=tuple(passages), units=tuple(units), relevance=relevance)
        name = f"llm:{settings.llm_model}"
        primary = LLMAnswerer(chat, embed, deadline, settings.max_sentences, name=name)
    answerer = Fallback(primary, offline_answerer(settings), offline_question=rw.asked)

    t = time.perf_counter()
    result = None
    for item in answerer.answer(question, context):
        if isinstance(item, AnswerResult):
            result = item
        else:
            yield item
    timings.update(result.timings)
    timings["answer_ms"] = (time.perf_counter() - t) * 1000
    notes.extend(result.notes)
    letters = [c for c in q if c.isalpha()]
    if result.by == "offline" and letters and sum(c.isascii() for c in letters) < 0.5 * len(letters):
        notes.append("The offline answerer reads English best; the question was matched as written.")
    timings["total_ms"] = (time.perf_counter() - t0) * 1000
    yield Answer(
        question=q, text=result.text, citations=result.citations, refused=result.refused,
        passages=list(context.passages), timings={k: round(v, 2) for k, v in timings.items()}, backend=result.by,
        query=rw.query, notes=notes, unsupported=result.unsupported, verification=result.verification,
        debug=result.debug,
    )  # fmt: skip
