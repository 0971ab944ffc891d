"""The one place the stages meet, for one question:

    question -> rewrite (condense, aliases) -> retrieve -> rerank -> answer -> Answer

The LLM answerer writes the answer when `settings.use_llm()`; if it fails,
the offline answerer `settings.offline_answerer` names does, and the failure
is in `Answer.notes`. Each stage's wall time is in `Answer.timings`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

from assistant.answerers.base import AnswerRequest, AnswerResult
from assistant.engine import Engine, get_engine, retrying
from assistant.errors import LLMError, ObeyedInstructions
from assistant.llms.base import ChatModel
from assistant.llms.registry import get_chat_model
from assistant.settings import Settings
from assistant.types import Answer


@dataclass
class Rewritten:
    """What the rewrite stage makes of a question."""

    asked: str  # as it reads on its own (offline condensing); what the offline answerer judges against
    standalone: str | None  # the model's rewrite of a follow-up, with the carried-over terms
    query: str  # what is searched
    follow_up: bool  # a follow-up, which should not repeat the last answer
    history: list[dict]  # the conversation that is context (refused turns left out)


def rewrite(
    q: str, history: list[dict], chat: ChatModel | None, deadline: float | None, notes: list[str], timings: dict
) -> Rewritten:
    """The question as it reads on its own, and the query to search."""
    from assistant.answerers.condense import asks_about_last_answer, condense_parts, resolve_references, usable_history
    from assistant.answerers.instructions import strip_instructions
    from assistant.text.names import expand_aliases

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
    standalone = None
    if chat is not None and history:
        from assistant.answerers.generative import condense_llm

        t = time.perf_counter()
        try:
            standalone = condense_llm(chat, resolved, history, deadline)
        except LLMError as e:
            notes.append(
                f"The follow-up could not be rewritten by the model ({e}); its terms were carried over instead."
            )
        timings["condense_ms"] = (time.perf_counter() - t) * 1000
    if standalone:
        # The model's rewrite, plus the terms the offline method carries over:
        # a small model's rewrite can lose the subject (measured with SmolLM2).
        standalone = f"{standalone} ({' '.join(carried)})" if carried else standalone
    return Rewritten(asked, standalone, expand_aliases(standalone or asked), follow_up, history)


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
    from assistant.answerers.condense import previous_answer_sentences
    from assistant.answerers.generative import LLMAnswerer
    from assistant.answerers.instructions import flag_passages
    from assistant.answerers.registry import offline_answerer

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
    rw = rewrite(q, history, chat, deadline, notes, timings)

    t = time.perf_counter()
    qvec = engine.retriever.embed_query(rw.query)

    def retrieve(engine: Engine):
        passages, stage = engine.retriever.search(
            rw.query, settings.top_k, qvec=qvec, candidates=settings.candidates, rrf_k=settings.rrf_k
        )
        # The LLM's sentences are checked against these; fetched here, where a
        # store that changed under the question can still be retried.
        return passages, stage, engine.retriever.units_of(passages) if chat is not None and passages else []

    engine, (passages, stage, units) = retrying(settings, engine, retrieve)
    timings.update(stage)
    timings["embed_ms"] = (time.perf_counter() - t) * 1000 - sum(stage.values())
    timings["retrieve_ms"] = (time.perf_counter() - t) * 1000

    def finish(backend: str, result: AnswerResult) -> Answer:
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        return Answer(
            question=q, text=result.text, citations=result.citations, refused=result.refused, passages=passages,
            timings={k: round(v, 2) for k, v in timings.items()}, backend=backend, query=rw.query, notes=notes,
            unsupported=result.unsupported, verification=result.verification, debug=result.debug,
        )  # fmt: skip

    dropped: dict = {}  # what verification dropped of an LLM answer the offline one replaced
    if chat is not None and passages:
        question = rw.standalone or rw.asked
        passages, units, relevance = rerank(settings, question, passages, units, timings)
        request = AnswerRequest(
            question, rw.query, passages, engine.retriever, qvec, settings.max_sentences, units=units,
            relevance=relevance,
        )  # fmt: skip
        t = time.perf_counter()
        try:
            for item in LLMAnswerer(chat, engine.embedder.embed, deadline).answer(request):
                if isinstance(item, AnswerResult):
                    timings.update(item.timings)
                    timings["answer_ms"] = (time.perf_counter() - t) * 1000
                    notes.extend(item.notes)
                    yield finish(f"llm:{settings.llm_model}", item)
                    return
                yield item
        except LLMError as e:
            if isinstance(e, ObeyedInstructions):
                notes.extend(e.notes)
                dropped = {"unsupported": e.unsupported, "verification": e.verification}
            notes.append(f"The language model failed: {str(e).rstrip('.')}. This is the offline answer.")

    t = time.perf_counter()
    previous = previous_answer_sentences(rw.history) if rw.follow_up else []
    avoid = engine.embedder.embed(previous) if previous else None
    answerer = offline_answerer(settings)
    request = AnswerRequest(rw.asked, rw.query, passages, engine.retriever, qvec, settings.max_sentences, avoid=avoid)

    def offline(e: Engine) -> list:
        # The passages' sentences read once, for flagging planted instructions
        # (on the index's own vectors: nothing embedded again) and for the
        # answerer; flagging twice is harmless.
        units = e.retriever.units_of(passages) if passages else []
        flag_passages(passages, notes, units=units or None)
        terms = e.retriever.term_stats(f"{rw.query} {rw.asked}")
        return list(answerer.answer(replace(request, retriever=e.retriever, units=units, terms=terms)))

    # Answered whole inside `retrying`: a store that changed under it is read again.
    engine, items = retrying(settings, engine, offline)
    timings["answer_ms"] = (time.perf_counter() - t) * 1000
    letters = [c for c in q if c.isalpha()]
    if letters and sum(c.isascii() for c in letters) < 0.5 * len(letters):
        notes.append("The offline answerer reads English best; the question was matched as written.")
    *pieces, result = items
    yield from pieces
    yield finish("offline", replace(result, **dropped))
