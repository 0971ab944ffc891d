"""The model's rewrite of a follow-up question (used when an LLM is configured)."""

from __future__ import annotations

from assistant import prompts
from assistant.errors import LLMError
from assistant.llms.base import ChatModel


def condense_llm(client: ChatModel, question: str, history: list[dict], deadline: float) -> str:
    """A standalone version of a follow-up question, written by the model."""
    turns = "\n".join(f"{m['role']}: {m['content']}" for m in history[-6:] if m.get("role") in ("user", "assistant"))
    text = prompts.render(prompts.load("condense.txt"), history=turns, question=question)
    out = client.complete([{"role": "user", "content": text}], max_tokens=96, deadline=deadline)
    out = out.strip().splitlines()[0].strip().strip('"').strip()
    if len(out) < 3 or len(out) > 4 * len(question) + 400:
        raise LLMError("the model's rewritten question was unusable")
    return out
