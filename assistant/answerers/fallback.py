"""The fallback policy, declared once: the LLM answers when one is
configured; when it fails before showing anything (`LLMError`: down, too
slow, or it obeyed an instruction planted in a passage), the offline
answerer answers the same context, and a note says so. Sentences that
verification dropped from a failed LLM answer stay on record."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from assistant.answerers.base import Answerer, AnswerResult
from assistant.answerers.instructions import flag_passages
from assistant.errors import LLMError, ObeyedInstructions
from assistant.types import RetrievedContext


class Fallback:
    """`primary` (the LLM, or None), else `offline`. `offline_question` is
    the question as the offline answerer reads it when it differs from the
    primary's (the LLM reads its own standalone rewrite)."""

    def __init__(self, primary: Answerer | None, offline: Answerer, offline_question: str | None = None):
        self.primary, self.offline, self.offline_question = primary, offline, offline_question

    def answer(self, question: str, context: RetrievedContext) -> Iterator[str | AnswerResult]:
        notes: list[str] = []
        dropped: dict = {}
        if self.primary is not None and context.passages:
            try:
                yield from self.primary.answer(question, context)
                return
            except LLMError as e:
                if isinstance(e, ObeyedInstructions):
                    notes.extend(e.notes)
                    dropped = {"unsupported": e.unsupported, "verification": e.verification}
                notes.append(f"The language model failed: {str(e).rstrip('.')}. This is the offline answer.")
        # Passages holding text addressed to the assistant are marked for the
        # reader (the LLM answerer marks its own as it verifies).
        flag_passages(list(context.passages), notes, units=list(context.units) or None)
        *pieces, result = self.offline.answer(self.offline_question or question, context)
        yield from pieces
        yield replace(result, notes=notes + result.notes, **dropped)
