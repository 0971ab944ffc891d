"""The LLM answerer: numbered passages → prompt → model → verified citations.

The model's answer is streamed sentence by sentence through `verify.Verifier`:
a sentence reaches the reader only once its citations were checked (kept,
re-cited or the sentence dropped), so streaming never shows a `[n]` that
points nowhere (RAGFlow loses citations when streaming; we verify them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np

from assistant import prompts
from assistant.answerers.base import AnswerResult
from assistant.answerers.cite import REFUSAL, markers, split_sentences, strip_markers
from assistant.answerers.instructions import flag_passages
from assistant.answerers.verify import Verifier
from assistant.errors import LLMError, ObeyedInstructions
from assistant.llms.base import ChatModel
from assistant.types import RetrievedContext


def _escape(text: str) -> str:
    # A document must not be able to close its <passage> tag.
    return text.replace("<", "‹").replace(">", "›")


def build_messages(question: str, passages: list, max_sentences: int) -> list[dict]:
    tpl = prompts.load("passage.txt")
    block = "\n\n".join(
        prompts.render(tpl, n=str(p.n), source=_escape(p.source), title=_escape(p.title), text=_escape(p.text))
        for p in passages
    )
    system = prompts.render(prompts.load("system.txt"), max_sentences=str(max_sentences))
    user = prompts.render(prompts.load("answer.txt"), passages=block, question=question)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def llm_answer_stream(
    client: ChatModel,
    question: str,
    passages: list,
    units: list,
    embed,
    max_sentences: int,
    deadline: float,
    relevance=None,
) -> Iterator[str | AnswerResult]:
    """Yields verified text pieces, then an AnswerResult. Raises LLMError when the
    model fails before anything was shown, or answers without any citation."""
    verifier = Verifier(passages, units, embed, relevance)
    messages = build_messages(question, passages, max_sentences)
    t0 = time.perf_counter()
    verify_s = 0.0
    raw, buf, shown, cited_seen = "", "", [], False
    notes: list[str] = []
    flag_passages(passages, notes, verifier.instructions)

    said: set[str] = set()  # what was shown, in words, to leave out a looping model's repeats
    repeats = 0

    def emit(sentences: list[str]) -> Iterator[str]:
        nonlocal verify_s, repeats
        t = time.perf_counter()
        verified = verifier.check(sentences)
        verify_s += time.perf_counter() - t
        for v in verified:
            words = " ".join(strip_markers(v).casefold().split())
            if words in said:  # a model stuck in a loop said it 363 times: once is the answer
                repeats += 1
                continue
            said.add(words)
            yield (" " if shown else "") + v
            shown.append(v)

    try:
        for delta in client.stream(messages, deadline=deadline):
            raw += delta
            buf += delta
            # Hold everything until the model has cited something: an answer
            # with no citations at all is a failure, not something to show.
            cited_seen = cited_seen or bool(markers(raw))
            if not cited_seen:
                continue
            sentences, buf = split_sentences(buf, final=False)
            yield from emit(sentences)
    except LLMError as e:
        if not shown:
            raise
        notes.append(f"The model's answer broke off ({e}); what it said before is shown, verified.")
    rest, _ = split_sentences(buf, final=True)
    if not cited_seen:
        if not (rest and all(REFUSAL.search(s) for s in rest)):
            raise LLMError("the model's answer cited no passage")
        rest = []  # a plain "the sources don't say": answered below in our words
    yield from emit(rest)
    if repeats:
        notes.append(f"The model repeated itself: {repeats} repeated sentence(s) left out.")
    llm_ms = (time.perf_counter() - t0 - verify_s) * 1000

    claims = verifier.kept + verifier.recited
    refused = claims == 0
    text = " ".join(shown)
    obeyed = len(verifier.obeyed)
    verification = {"kept": verifier.kept, "recited": verifier.recited, "dropped": verifier.dropped}
    if refused and obeyed and not shown:
        # A hijacked answer says nothing about the question; the offline
        # answer may (the passages were retrieved for it).
        raise ObeyedInstructions(verifier.unsupported, verification, notes)
    if refused:
        reasons = prompts.load_json("refusal_reasons.json")
        if verifier.dropped:
            detail = f"{verifier.dropped} sentence(s)"
            if obeyed:
                detail += f", {obeyed} of them carrying out instructions found in the passages"
            reason = prompts.render(reasons["llm_unsupported"], detail=detail)
        else:
            reason = prompts.render(reasons["llm_refused"])
        text = prompts.render(prompts.load("refusal.txt"), reason=reason)
        if not shown:
            yield text
    if obeyed:
        notes.append(
            f"{obeyed} sentence(s) of the model's answer carried out instructions found in the passages "
            "and were left out."
        )
    if verifier.dropped - obeyed and not refused:
        notes.append(
            f"{verifier.dropped - obeyed} sentence(s) of the model's answer had no support in the sources "
            "and were left out."
        )
    yield AnswerResult(
        text=text,
        citations=verifier.citations if not refused else [],
        refused=refused,
        unsupported=verifier.unsupported,
        verification=verification,
        notes=notes,
        timings={"llm_ms": llm_ms, "verify_ms": verify_s * 1000},
    )


class LLMAnswerer:
    """The `Answerer` of a chat model, for one question: its sentences are
    verified against the context's units as they stream (the vectors by
    `embed`), all within `deadline` (a `time.monotonic()` value). `name`
    says what answered ("llm:<model>")."""

    def __init__(
        self, model: ChatModel, embed: Callable[[list[str]], np.ndarray], deadline: float, max_sentences: int = 3,
        name: str = "llm",
    ):  # fmt: skip
        self.model, self.embed, self.deadline = model, embed, deadline
        self.max_sentences, self.name = max_sentences, name

    def answer(self, question: str, context: RetrievedContext) -> Iterator[str | AnswerResult]:
        """Verified text pieces, then the result; `LLMError` (or its
        `ObeyedInstructions`) when the model fails before anything was shown."""
        for item in llm_answer_stream(
            self.model, question, list(context.passages), list(context.units), self.embed, self.max_sentences,
            self.deadline, relevance=context.relevance,
        ):  # fmt: skip
            if isinstance(item, AnswerResult):
                item.by = self.name
            yield item
