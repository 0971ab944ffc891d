"""One conversation as Markdown, for a person to keep or pass on: each
question, its answer with the `[n]` markers as given, and under it the
sources those markers stand for (file, page or characters, the quoted
sentence), so the document says where every claim comes from.

What the documents said is quoted, never interpreted as Markdown: text that
looks like markup (`*`, `#`, `<b>`, a backtick) is escaped, so the export
reads as the page showed it."""

from __future__ import annotations

import re
from datetime import datetime

_MARKUP = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def _literal(text: str) -> str:
    """`text` as itself in Markdown, on one line; `[n]` markers kept as links' text would be."""
    return _MARKUP.sub(r"\\\1", " ".join(str(text).split()))


def _answer(text: str) -> str:
    """An answer's text, escaped, its `[n]` markers left readable as [n]."""
    return re.sub(r"\\\[(\d+)\\\]", r"[\1]", _literal(text))


def _where(c) -> str:
    return f"p. {c.page}" if c.page else f"characters {c.start}–{c.end}"


def to_markdown(conversation) -> str:
    """The conversation (`store.Conversation`) as a Markdown document."""
    when = datetime.fromtimestamp(conversation.created).strftime("%d %B %Y, %H:%M")
    out = [f"# {_literal(conversation.title) or 'Conversation'}", "", f"*Started {when}.*", ""]
    for turn in conversation.turns:
        a = turn.answer
        out += [f"## {_literal(turn.question)}", "", _answer(a.text), ""]
        if a.citations:
            out += ["Sources:", ""]
            for c in a.citations:
                title = f" — {_literal(c.title)}" if c.title and c.title != c.source else ""
                out.append(f"{c.n}. `{c.source.replace('`', '')}`, {_where(c)}{title}: “{_literal(c.text)}”")
            out.append("")
        for note in a.notes:
            out += [f"> {_literal(note)}", ""]
    return "\n".join(out).rstrip() + "\n"
