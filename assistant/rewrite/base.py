"""What the rewrite stage makes of a question: `Rewritten`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Rewritten:
    """A question made ready for retrieval and answering."""

    asked: str  # as it reads on its own (offline condensing); what the offline answerer judges against
    standalone: str | None  # the model's rewrite of a follow-up, with the carried-over terms
    query: str  # what is searched: the question and its aliases
    follow_up: bool  # a follow-up, which should not repeat the last answer
    history: list[dict]  # the conversation that is context (refused turns left out)
    notes: list[str] = field(default_factory=list)  # what the reader should know (a failed model rewrite)
    timings: dict[str, float] = field(default_factory=dict)
