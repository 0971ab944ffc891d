"""Answer types: what kind of answer a question asks for (a figure, a date,
a name, a place) and whether a sentence holds one.

Rules first set by looking at the gold set in evals/; each one left stays
because switching it off loses held-out questions (evals/README.md, "Hand
rules of the rules answerer"). The rules answerer (extractive.py) keeps
only sentences of the asked kind, and benchmarks share them.
"""

from __future__ import annotations

import re

from assistant.text import lexicon
from assistant.text.tokens import tokenize

_NUM_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|million|billion|trillion|half|twice|double"
_MONTHS = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
KIND_PATTERNS = {
    "number": re.compile(
        r"\bhow (?:much|many|large|big|high|low|far|long)\b|\bby how much\b|"
        r"\b(?:what|which)(?: \w+){0,2} (?:percentage|percent|share|amount|number|sum|value|figure|rate|size|total|"
        r"price|cost|budget|count)s?\b",
        re.I,
    ),
    "date": re.compile(
        r"\bwhen\b|\b(?:what|which) (?:year|date|month|day|time|deadline)\b|\bby what (?:date|time)\b|\bsince when\b",
        re.I,
    ),
    "person": re.compile(
        r"^\s*who\b|\bwho (?:is|was|were|did|has|had|said|will|would|led|leads|heads|met)\b|\bwhom\b|"
        r"\b(?:which|what)(?: [\w.]+){0,2} (?:person|people|official|officials|minister|ministers|leader|leaders|"
        r"president|professor|scholar|analyst|expert|experts|secretary|representative|envoy|diplomat|academic)\b",
        re.I,
    ),
    "place": re.compile(
        r"\bwhere\b|\b(?:which|what)(?: [\w-]+){0,2}? (?:city|cities|country|countries|place|venue|location|"
        r"airport|region|province|town|capital|port|base)s?\b",
        re.I,
    ),
}
KIND_WORDS = {"number": "a figure", "date": "a date", "person": "a name", "place": "a place"}
_HAS = {
    "number": re.compile(rf"\d|\b(?:{_NUM_WORDS})\b", re.I),
    "date": re.compile(
        rf"\b(?:{_MONTHS})\b|\b(?:1\d|20)\d\d\b|\b\d{{1,2}}(?:st|nd|rd|th)\b|"
        r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow)\b|"
        r"\b(?:early|mid|late|end of|beginning of|next|last|this) (?:week|month|year|summer|winter|spring|autumn|fall)\b",
        re.I,
    ),
}
_LOCATIVE = re.compile(
    r"\b(?:in|at|from|to|near|into|toward|towards|outside|inside|via|across|within)\s+(?:the\s+)?"
    r"([A-Z][\wà-ÿ'’.-]*(?:\s+(?:of\s+)?[A-Z][\wà-ÿ'’.-]*)*)"
)
_MONTH_OR_DAY = re.compile(rf"^(?:{_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I)


def has_kind(text: str, kind: str, question: str) -> bool:
    """Whether `text` holds the kind of answer the question asks for (something
    the question does not already say, for names and places)."""
    if kind == "general":
        return True
    if kind in ("number", "date"):
        return bool(_HAS[kind].search(text))
    asked = question.lower()
    if kind == "place":
        # A place is named where something happens, goes or comes from: "from
        # Incheon International Airport", "to Russia". A capitalised word
        # elsewhere is as likely a person, a paper or an agency.
        for m in _LOCATIVE.finditer(text):
            place = m.group(1).rstrip(".,;:'’").lower()
            if not place or place in asked or _MONTH_OR_DAY.match(place):
                continue
            return True
        return False
    # person: a run of capitalised words, words that open sentences taken
    # out, that the question does not already name
    for m in re.finditer(r"[A-Z][\wà-ÿ'’]*(?:[- ][A-Z][\wà-ÿ'’]*)*", text):
        run: list[str] = []
        for w in re.split(r"[ ]", m.group(0)) + [""]:
            bare = w.rstrip("'’s").lower() if w.endswith(("'s", "’s")) else w.lower()
            if w and bare not in _COMMON_START:
                run.append(w)
                continue
            name = " ".join(run)
            run = []
            if len(name) >= 3 and name.lower() not in asked and not all(p.lower() in asked for p in name.split()):
                return True
    return False


_COMMON_START = lexicon.COMMON_START


def question_kind(question: str) -> str:
    for kind, rx in KIND_PATTERNS.items():
        if rx.search(question):
            return kind
    return "general"


_HOW_MANY = re.compile(
    r"\bhow many ((?:[\w'’-]+ ){0,3}?)([\w'’-]+) (?:are|is|were|was|did|do|does|has|have|had|will|would|can|could)\b",
    re.I,
)


def counted_noun(question: str) -> set[str]:
    """BM25 token of the noun a "how many X ..." question counts ("troops")."""
    m = _HOW_MANY.search(question)
    return set(tokenize([m.group(2)])[0]) if m else set()
