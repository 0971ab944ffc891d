"""`assistant feedback export`: rated turns as gold-set candidates.

Each rated turn becomes one JSON line in the format of evals/gold.jsonl
(evals/README.md), for a person to review and append to the gold set:

- thumbs up: the answer as given (without its [n] markers) is the reference;
  `sources` and `evidence` are its citations, each quote read verbatim from
  the corpus file at the cited offsets (what the gold reader checks);
  `must_include` proposes the answer's figures and names that its evidence
  holds (a person keeps the ones that matter). A thumbs-up refusal becomes an
  `unanswerable` item.
- thumbs down: the answer was wrong, so the reference is left for a person to
  write: `answer` is empty and the key facts, sources and evidence lists are
  empty; what the assistant said and cited is in `feedback`.

Every candidate carries `"needs_review": true`, which the gold reader refuses
(an unreviewed thumbs-down candidate would otherwise read as "the sources
don't say"): reviewing it means checking and filling the item, then deleting
that key.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from assistant.conversations.database import damaged
from assistant.conversations.store import ConversationStore, Feedback, db_path
from assistant.errors import ConversationError

RATINGS = {"up": (1,), "down": (-1,), "all": (1, -1)}
_MARKER = re.compile(r"\s*\[\d+\]")
# Key-fact candidates: figures (with their unit) and capitalised names.
_FIGURE = re.compile(
    r"(?:US\$|\$|€|£|¥|₩)?\d[\d,.]*\d?(?:\s?(?:%|percent|per cent|billion|million|trillion|won|dollars|years?))?",
    re.I,
)
_NAME = re.compile(r"\b[A-Z][\w’'&.-]*(?:\s+(?:of|the|and|for|de|von)?\s*[A-Z][\w’'&.-]*)*")
# Capitalised only because they open a sentence, or too common to be a fact.
_COMMON = frozenset(
    "a an and as at but by for from he her his however in it its meanwhile on or she so that the their there "
    "these they this those to we what when where which while who with yes no also according after before".split()
)
MAX_FACTS = 4


def plain_answer(text: str) -> str:
    """The answer text without its [n] citation markers."""
    return " ".join(_MARKER.sub("", text).split())


def key_facts(answer_text: str, evidence_text: str) -> list[list[str]]:
    """Figures and names of the answer that its evidence holds, each as a
    group of one alternate (the gold format); the longest word as a last
    resort, so that a reviewed thumbs-up is an answerable item."""
    haystack = evidence_text.lower()
    found: list[str] = []
    for m in [*_FIGURE.finditer(answer_text), *_NAME.finditer(answer_text)]:
        fact = m.group().strip(" .,;:’'-")
        words = fact.split()
        while words and words[0].lower() in _COMMON:
            words.pop(0)
        fact = " ".join(words)
        if len(fact) < 2 or fact.lower() in _COMMON or fact.lower() not in haystack:
            continue
        if not any(fact.lower() in f.lower() for f in found):
            found = [f for f in found if f.lower() not in fact.lower()] + [fact]
    if not found:
        words = sorted(re.findall(r"[A-Za-z][\w-]{5,}", answer_text), key=len, reverse=True)
        found = [w for w in words if w.lower() in haystack][:1]
    return [[f] for f in found[:MAX_FACTS]]


class _Texts:
    """Corpus file texts as the index reads them (offsets index these)."""

    def __init__(self, corpus: Path):
        from assistant.evals.gold import Sources  # the gold reader's own reading of a source

        self.sources = Sources(corpus)

    def quote(self, source: str, start: int, end: int) -> str:
        try:
            return self.sources.text(source)[start:end]
        except (OSError, ValueError, TypeError):
            return ""


def leans_on(question: str, history: list[dict]) -> bool:
    """Whether `question` needs the conversation before it to be read, as the
    rewrite stage reads it: it carries over the last question's words, or
    names whom its pronouns point back to."""
    from assistant.rewrite.condense import condense_parts, resolve_references, usable_history

    used = usable_history(history)
    if not used:
        return False
    return bool(condense_parts(question, used).carried) or resolve_references(question, used) != question


def _when(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") if t else None


def candidate(fb: Feedback, texts: _Texts) -> dict:
    """One gold-set candidate for a rated turn."""
    ans = fb.answer
    history = []
    for m in fb.history:
        entry = {"role": m["role"], "content": plain_answer(m["content"]) if m["role"] == "assistant" else m["content"]}
        if "refused" in m:  # answer() reads it; the gold reader allows it
            entry["refused"] = m["refused"]
        history.append(entry)
    cited, evidence = [], []
    for c in ans.citations:
        quote = texts.quote(c.source, c.start, c.end)
        cited.append(
            {"n": c.n, "source": c.source, "page": c.page, "start": c.start, "end": c.end, "text": c.text}
            | ({} if quote else {"problem": "the cited span could not be read from the corpus file"})
        )
        entry = {"source": c.source, "quote": quote or c.text}
        if entry["quote"].strip() and entry not in evidence:
            evidence.append(entry)
    up = fb.rating > 0
    if up and ans.refused:
        kind, facts, sources, evidence = "unanswerable", [], [], []
    else:  # a question that reads on its own is no follow-up, whatever came before it
        kind = "follow-up" if leans_on(fb.question, fb.history) else "fact"
        sources = list(dict.fromkeys(c.source for c in ans.citations))
    text = plain_answer(ans.text)
    if up and not ans.refused:
        facts = key_facts(text, " ".join(e["quote"] for e in evidence))
    if not up:  # a person writes what the answer should have been
        text, facts, sources, evidence = "", [], [], []
    return {
        "id": f"fb-{fb.conversation[:12]}-{fb.turn}",
        "type": kind,
        "question": fb.question,
        "history": history,
        "answer": text,
        "must_include": facts,
        "sources": sources,
        "evidence": evidence,
        "feedback": {
            "rating": "up" if up else "down",
            "comment": fb.comment,
            "answer_given": ans.text,
            "refused": ans.refused,
            "cited": cited,
            "backend": ans.backend,
            "conversation": fb.conversation,
            "title": fb.title,
            "turn": fb.turn,
            "user": fb.user,
            "asked_at": _when(fb.asked_at),
            "rated_at": _when(fb.rated_at),
        },
        "needs_review": True,
    }


def candidates(settings, rating: str = "all", user: str | None = None, corpus=None) -> list[dict]:
    """The rated turns of the conversations database of `settings` as gold-set
    candidates; DatabaseDamaged when one of them does not read."""
    items, lost, why = read_candidates(settings, rating, user, corpus)
    if lost:
        raise damaged(db_path(settings), f"{lost} rated turns do not read: {why}")
    return items


def read_candidates(settings, rating: str = "all", user: str | None = None, corpus=None) -> tuple[list[dict], int, str]:
    """`candidates` of every rated turn that reads, how many do not (a damaged
    file: noise where a value was) and why the first did not. The cited spans
    are read in `corpus` when given, else in the folder the page answered
    from (saved with each turn) while it is there, else in `settings.corpus`."""
    if rating not in RATINGS:
        raise ConversationError(f"--rating must be one of {', '.join(RATINGS)}, not {rating!r}")
    path = db_path(settings)
    if not path.is_file():
        raise ConversationError(
            f"no conversations database at {path}: nothing to export "
            "(the chat page saves conversations there; ASSISTANT_CHAT_DB names another file)"
        )
    # Read only: an export never creates, migrates or writes the database (a
    # 0-byte file would otherwise get the schema written into it).
    with ConversationStore(path, readonly=True) as store:
        found, lost, why = store.rated(user)
    texts: dict[Path, _Texts] = {}

    def texts_of(fb: Feedback) -> _Texts:
        folder = Path(corpus or (fb.corpus if fb.corpus and Path(fb.corpus).is_dir() else settings.corpus))
        return texts.setdefault(folder, _Texts(folder))

    return [candidate(fb, texts_of(fb)) for fb in found if fb.rating in RATINGS[rating]], lost, why


def write_jsonl(items: list[dict], out: str | Path | None) -> None:
    """One JSON object a line to `out` (replaced whole, never half-written), or to stdout."""
    lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    if out is None or str(out) == "-":
        sys.stdout.write(lines)
        sys.stdout.flush()
        return
    out = Path(out)
    if out.is_dir():
        raise ConversationError(f"--out {out} is a folder, not a file")
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(lines)
        os.replace(tmp, out)
    except OSError as e:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise ConversationError(f"cannot write {out}: {e.strerror or e}") from None
