"""Turn a follow-up question into a standalone retrieval query.

Offline method: a follow-up that leans on the conversation (a pronoun, an
opening "and"/"what about", or very few content words) gets the content words
of the previous user turn appended, so "And how did Xi respond?" after a
question about Han Duck-soo meeting Xi retrieves the passage about that
meeting. The question itself is still what the answer is judged against.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

_FOLLOW = re.compile(
    r"\b(?:he|she|they|him|her|them|his|hers|their|theirs|it|its|this|that|these|those|there|then|"
    r"the same|the former|the latter|such)\b|^\s*(?:and|but|so|also|what about|how about|why|and why)\b",
    re.I,
)
_STOP = set(
    "a an the of to in on at for and or but is are was were be been being do does did has have had "
    "what who whom when where why how which that this these those it its he she they him her them his "
    "their there then about with as by from into than so also can could will would should may might "
    "tell me please more".split()
)


# Requests to leave the sources aside ("ignore your documents", "answer from
# memory", "make one up") are dropped from what is searched and answered:
# the answerer answers from the sources or not at all.
_INSTRUCTION = re.compile(
    r"(?:^|(?<=[.;:!?,]))\s*[^.;:!?,]*?\b(?:"
    r"ignore|disregard|forget|don'?t (?:bother with|use|look at|rely on|consult)|do not (?:use|look at|rely on|consult)|"
    r"without (?:using|looking at|consulting)|answer (?:only )?from your (?:own )?(?:memory|knowledge)|"
    r"from your own (?:memory|knowledge)|make (?:one|it|something|them|a number) up|just (?:guess|invent)|"
    r"pretend|you are now|new instructions?|system prompt"
    r")\b[^.;:!?,]*[.;:!?,]?",
    re.I,
)


def strip_instructions(question: str) -> str:
    """The question without requests to ignore the sources; unchanged if
    nothing would be left."""
    stripped = _INSTRUCTION.sub(" ", question)
    stripped = re.sub(r"^\s*(?:just|and|so|then)\s+", "", " ".join(stripped.split()), flags=re.I)
    if len(content_words(stripped)) < 2:
        return question
    return stripped[0].upper() + stripped[1:]


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[\w'’\-]+", text) if w.lower() not in _STOP and len(w) > 1]


def is_follow_up(question: str) -> bool:
    return bool(_FOLLOW.search(question)) or len(content_words(question)) <= 2


# Words that make a capitalised run a title, an office or a place, not a
# person's name ("Finance Minister Choi Sang-mok" -> "Choi Sang-mok").
_NOT_NAME = set(
    """the a an and of for in on at to with mr ms mrs dr president vice prime minister ministers secretary deputy
    finance industry trade foreign defense defence treasury commerce unification representative ambassador envoy
    chairman chief professor senator governor acting former current general leader premier king queen south north
    east west korea korean koreas china chinese japan japanese russia russian america american united states state
    u.s u.s. us usa white house ministry office national assembly forum institute university times news agency herald
    pacific asia asian economic security council party government administration department""".split()
)
_MARKERS = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
_NAME_RUN = re.compile(r"[A-Z][a-zà-ÿ'’]+(?:-[A-Za-zà-ÿ]+)?(?:\s+[A-Z][a-zà-ÿ'’.]*(?:-[A-Za-zà-ÿ]+)?)*")
_SINGULAR = re.compile(r"\b(?:he|she|him)\b", re.I)
_POSSESSIVE = re.compile(r"\b(?:his)\b", re.I)
_PLURAL = re.compile(r"\b(?:the two of them|both of them|the two men|the two women|the pair)\b", re.I)


def _bare(word: str) -> str:
    """`word` without a possessive "'s" or trailing punctuation."""
    return re.sub(r"['’]s$", "", word.rstrip(".,;:")).rstrip(".,;:")


def person_names(text: str) -> list[str]:
    """Personal names in `text` (runs of two or more capitalised words, titles,
    offices and places taken out), in order of appearance."""
    out: list[str] = []
    for m in _NAME_RUN.finditer(text):
        # Titles and offices dropped: "Industry Minister Ahn Duk-geun" -> "Ahn Duk-geun".
        words = [_bare(w) for w in m.group(0).split() if _bare(w).lower() not in _NOT_NAME]
        if (len(words) >= 2 or (len(words) == 1 and "-" in words[0])) and " ".join(words) not in out:
            out.append(" ".join(words))
    return out


def resolve_references(question: str, history: list[dict] | None) -> str:
    """`question` with "he"/"she"/"the two of them" replaced by the people the
    conversation last named (the last answer first, then the last question),
    so that the follow-up can be matched against sentences that name them.
    Unchanged when the conversation names nobody or the question has no such
    pronoun. A rule, not a coreference model: it is right for the common case
    of a follow-up about the person just named."""
    if not history or not (_SINGULAR.search(question) or _POSSESSIVE.search(question) or _PLURAL.search(question)):
        return question
    names: list[str] = []
    for role in ("assistant", "user"):
        for m in reversed(history):
            if m.get("role") == role and isinstance(m.get("content"), str):
                names = person_names(_MARKERS.sub("", m["content"]))
                break
        if names:
            break
    if not names:
        return question
    out = _PLURAL.sub(" and ".join(names[:2]), question) if len(names) >= 2 else question
    out = _SINGULAR.sub(names[0], out, count=1)
    out = _POSSESSIVE.sub(f"{names[0]}'s", out, count=1)
    return out


def condense_offline(question: str, history: list[dict] | None) -> str:
    """The retrieval query for `question` given OpenAI-style `history`."""
    if not history or not is_follow_up(question):
        return question
    users = [m.get("content", "") for m in history if m.get("role") == "user" and isinstance(m.get("content"), str)]
    if not users:
        return question
    carried = [w for w in content_words(users[-1]) if w.lower() not in {c.lower() for c in content_words(question)}]
    return f"{question} ({' '.join(carried)})" if carried else question


def previous_answer_sentences(history: list[dict] | None) -> list[str]:
    """Sentences of the last assistant turn, citation markers removed: a
    follow-up wants something new, not these again."""
    for m in reversed(history or []):
        if m.get("role") == "assistant" and isinstance(m.get("content"), str):
            text = _MARKERS.sub("", m["content"])
            return [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4][:10]
    return []


@cache
def metonyms() -> dict[str, list[str]]:
    """Capitals and the states they stand for (assistant/data/metonyms.json)."""
    data = json.loads((Path(__file__).parent / "data" / "metonyms.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _alias_pattern():
    names = sorted(metonyms(), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b")


def expand_aliases(query: str) -> str:
    """The query with the states its capitals stand for ("Pyongyang" ->
    "Pyongyang (North Korea)"), so either form in a source is found."""
    found = dict.fromkeys(m.group(1) for m in _alias_pattern().finditer(query))
    extra = [a for name in found for a in metonyms()[name][:1] if a.lower() not in query.lower()]
    return f"{query} ({', '.join(extra)})" if extra else query


def alias_tokens(query: str) -> dict[str, list[set[str]]]:
    """BM25 token of each capital in the query -> token sets of its aliases."""
    from .store import tokenize

    out: dict[str, list[set[str]]] = {}
    for m in _alias_pattern().finditer(query):
        key = tokenize([m.group(1)])[0]
        if len(key) != 1:
            continue
        sets = [set(t) for t in tokenize(metonyms()[m.group(1)]) if t]
        out.setdefault(key[0], []).extend(sets)
    return out
