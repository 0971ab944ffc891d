"""The rewrite stage's one entry point, in the order its steps must run."""

from __future__ import annotations

import time

from assistant.answerers.instructions import strip_instructions
from assistant.errors import LLMError
from assistant.llms.base import ChatModel
from assistant.rewrite.base import Rewritten
from assistant.rewrite.condense import asks_about_last_answer, condense_parts, resolve_references, usable_history
from assistant.rewrite.llm import condense_llm
from assistant.text.names import expand_aliases


def rewrite(
    question: str, history: list[dict], chat: ChatModel | None = None, deadline: float | None = None
) -> Rewritten:
    """The question as it reads on its own, and the query to search. With
    `chat`, a follow-up is also rewritten by the model (within `deadline`);
    when that fails, a note says so and the offline rewrite stands."""
    notes: list[str] = []
    timings: dict[str, float] = {}
    stripped = strip_instructions(question)
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
    return Rewritten(asked, standalone, expand_aliases(standalone or asked), follow_up, history, notes, timings)
