"""Turn a follow-up question into a standalone question.

Offline method, generic English rules (no parser, no word list of a corpus):

- The conversation a follow-up may lean on is the history less its refused
  turns: a refused answer, and the question it refused, found nothing, and
  their words would only pull the next question towards nothing
  (`usable_history`). A turn is refused when its message says so
  (`"refused": true`, which the chat page and the CLI set from
  `Answer.refused`), or, without that key, when its text starts with the
  refusal wording of `prompts/refusal.txt`.
- A question leans on the conversation when it opens with "and", "but",
  "what about"..., refers back ("he" with no name before it in the question,
  "that", "it", "there"...), or is too short to name a subject of its own
  (`is_follow_up`). One that names its own subject ("What is the 3050
  Strategy?") is left as it is.
- "he", "she", "the two of them" become the people the conversation last
  named (`resolve_references`). "that", "this" or "it" standing for what the
  last turn was about become the subject of the last question ("What tariff
  did Trump threaten?" then "and when was that?" -> "When was the tariff
  Trump threatened?", `subject_phrase`). When no such phrase can be made,
  the last question's content words are added in brackets ("And how did Xi
  respond? (Chinese leader Han Duck-soo meet)").

`condense()` returns that standalone question: it is what is searched and
what the answer's sentences are judged against.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

from assistant import prompts
from assistant.text import lexicon
from assistant.text.names import person_names
from assistant.text.sentences import split_sentences
from assistant.text.verbs import past_tense, third_person

_STOP = lexicon.QUESTION_STOP


def content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[\w'’\-]+", text) if w.lower() not in _STOP and len(w) > 1]


_MARKERS = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
_SINGULAR = re.compile(r"\b(?:he|she|him)\b", re.I)
_POSSESSIVE = re.compile(r"\b(?:his)\b", re.I)
_PLURAL = re.compile(r"\b(?:the two of them|both of them|the two men|the two women|the pair)\b", re.I)


def _named_before(question: str, pos: int) -> bool:
    """Whether the question names someone or something (a capitalised word
    other than its first) before character `pos`: the antecedent of a
    pronoun that follows ("What did Trump say he would do?")."""
    words = re.findall(r"[\w'’.-]+", question[:pos])
    return any(w[0].isupper() and w != "I" for w in words[1:])


def resolve_references(question: str, history: list[dict] | None) -> str:
    """`question` with "he"/"she"/"the two of them" replaced by the people the
    conversation last named (the last answer first, then the last question),
    so that the follow-up can be matched against sentences that name them.
    Unchanged when the conversation names nobody, the question has no such
    pronoun, or it names someone before the pronoun ("What did Trump say he
    would do?"). A rule, not a coreference model: it is right for the common
    case of a follow-up about the person just named."""
    found = [m for rx in (_SINGULAR, _POSSESSIVE, _PLURAL) if (m := rx.search(question))]
    if not history or not found or _named_before(question, min(m.start() for m in found)):
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


# --- which turns a follow-up may lean on --------------------------------------


@cache
def _refusal_opening() -> str:
    """The words every refusal starts with: prompts/refusal.txt up to its {reason}."""
    return " ".join(prompts.load("refusal.txt").split("{reason}")[0].split()).replace("’", "'")


def is_refusal(message: dict) -> bool:
    """Whether an assistant turn of the history refused: its `"refused"` key
    when it has one (the chat page and `assistant ask` set it from
    `Answer.refused`), else whether its text opens with the refusal wording
    of prompts/refusal.txt ("The sources don't say.")."""
    if message.get("role") != "assistant":
        return False
    flag = message.get("refused")
    if isinstance(flag, bool):
        return flag
    opening = _refusal_opening()
    text = " ".join(_MARKERS.sub("", str(message.get("content") or "")).split()).replace("’", "'")
    return bool(opening) and text.startswith(opening)


def usable_history(history: list[dict] | None) -> list[dict]:
    """The user and assistant turns of `history` that the next question may
    lean on: a refused answer and the question it refused are left out (they
    found nothing, and their words would pull the next question towards
    nothing)."""
    out: list[dict] = []
    for m in history or []:
        if m.get("role") not in ("user", "assistant") or not isinstance(m.get("content"), str):
            continue
        if is_refusal(m):
            while out and out[-1]["role"] == "user":
                out.pop()
            continue
        out.append(m)
    return out


# --- is it a follow-up? ----------------------------------------------------------

_OPENER = re.compile(r"^\s*(?:and|but|so|also|then|plus|or)\b(?![-'’])[\s,]*", re.I)
_ABOUT = re.compile(r"^\s*(?:what|how) about\b", re.I)
_PERSONAL = lexicon.PERSONAL_PRONOUNS
_DEMONSTRATIVE = lexicon.DEMONSTRATIVES
_REFERRING = re.compile(
    r"\b(?:he|she|they|him|her|them|his|hers|their|theirs|it|its|this|that|these|those|there|then|"
    r"the same|the former|the latter|such)\b",
    re.I,
)
_AUX = lexicon.AUXILIARIES
_PREPOSITIONS = lexicon.PREPOSITIONS
_TIME_WORDS = lexicon.TIME_WORDS
_BE = lexicon.LINKING_VERBS
# Words asking for something other than what the last answer said.
_NEW = re.compile(
    r"\b(?:other|others|else|another|apart from|aside from|besides|beyond|in addition|additionally|alongside|"
    r"as well|too|also|instead|except|more|further)\b",
    re.I,
)


def _words(text: str) -> list[re.Match]:
    return list(re.finditer(r"[\w'’.-]*\w|[^\w\s]", text))


def _referring_words(question: str) -> list[re.Match]:
    """The words of `question` that point outside it, at the conversation:
    "he" with no name before it in the question, "that deal", "about it",
    "there" (not "there is"), "such" (not "such as"), "this" (not "this
    year"), "that" (not "said that he ...")."""
    words = _words(question)
    out = []
    for m in _REFERRING.finditer(question):
        w = m.group(0).lower()
        i = next((k for k, x in enumerate(words) if x.start() == m.start()), None)
        prev = words[i - 1].group(0).lower() if i else ""
        nxt = words[i + 1].group(0).lower() if i is not None and i + 1 < len(words) else ""
        ends = not nxt or not nxt[0].isalnum()
        if w in _PERSONAL and _named_before(question, m.start()):
            continue  # "What did Trump say he would do?"
        if w in _DEMONSTRATIVE and nxt in _TIME_WORDS:
            continue  # "this year"
        if (
            w == "that"
            and not ends
            and i
            and prev not in _AUX
            and prev not in _PREPOSITIONS
            and words[i - 1].group(0)[0].isalnum()
        ):
            continue  # "said that he ...", "the tariff that Trump threatened"
        if w == "there" and (nxt in _BE or (prev in _BE and not ends) or words[i].group(0).lower()[5:6] in ("'", "’")):
            continue  # "there is", "are there any", "there's"
        if w == "such" and nxt == "as":
            continue
        out.append(m)
    return out


def names_own_subject(question: str) -> bool:
    """Whether `question` names what it is about: a capitalised word that is
    not a question word, a number, or a quoted phrase ("What is the 3050
    Strategy?", "Who is Scott Bessent?")."""
    if re.search(r"\d|[\"“”«»]", question):
        return True
    return any(w[0].isupper() and w.lower() not in _STOP and w != "I" for w in re.findall(r"[\w'’.-]+", question))


def is_follow_up(question: str) -> bool:
    """Whether `question` leans on the conversation: it opens with "but",
    "also", "what about"..., refers back ("that", "it", "he" with no name
    before it), or is too short to name a subject of its own ("Why?",
    "Tariffs?"). A short question that is whole and names its own subject
    ("What is the 3050 Strategy?") does not."""
    if _OPENER.match(question) or _ABOUT.match(question) or _referring_words(question):
        return True
    if len(content_words(question)) > 2:
        return False
    return not (len(question.split()) >= 3 and names_own_subject(question))


# --- the standalone question -------------------------------------------------------

_WH_NOUN = re.compile(
    r"\b(?:what|which|how many|how much)\s+((?:[\w'’.-]+\s+){1,4}?)(" + "|".join(sorted(_AUX)) + r")\s+([^?;,]+)",
    re.I,
)
_WHAT_IS = re.compile(r"^\s*what\s+(?:is|are|was|were)\s+([^?;,]+?)\s*\??\s*$", re.I)
_PRONOUNS = _PERSONAL | _DEMONSTRATIVE | {"it", "its", "there", "i", "you", "we", "us", "me"}
_DETERMINERS = lexicon.DETERMINERS


def subject_phrase(question: str) -> str | None:
    """The thing `question` asks about, as a noun phrase: "What tariff did
    Trump threaten?" -> "the tariff Trump threatened", "Which ministers was
    Seoul sending to Washington?" -> "the ministers Seoul was sending to
    Washington", "Which deal was signed?" -> "the deal that was signed",
    "What is the 3050 Strategy?" -> "the 3050 Strategy". None when the
    question is not of the form "what is X" or "what/which NOUN AUX ..."
    with a named subject (a rule of English word order, not a parser)."""
    m = _WHAT_IS.match(question)
    if m:
        words = m.group(1).split()
        if len(words) > 5 or any(
            w.lower() in _AUX or w.lower() in _PRONOUNS or w.lower() == "to" or w.lower().endswith("ing") for w in words
        ):
            return None  # "What is North Korea planning to send?", "What is it?"
        if words[0].lower() in _DETERMINERS or words[0][0].isupper() or words[0][0].isdigit():
            return " ".join(words)
        return " ".join(["the", *words])
    m = _WH_NOUN.search(question)
    if not m:
        return None
    noun = m.group(1).split()
    aux = m.group(2).lower()
    rest = m.group(3).split()
    if not rest or rest[0].lower() in _PRONOUNS or any(w.lower() in _STOP for w in noun):
        return None  # "which of the ...", "what more did ...", "which deal was it?"
    # The named subject: a run of capitalised words ("Trump", "the U.S.",
    # "Seoul and Washington").
    i = 1 if rest[0].lower() == "the" and len(rest) > 1 and rest[1][0].isupper() else 0
    j = i
    while j < len(rest) and (
        rest[j][0].isupper()
        or rest[j][0].isdigit()
        or (j > i and rest[j].lower() in ("and", "of") and j + 1 < len(rest) and rest[j + 1][0].isupper())
    ):
        j += 1
    head = "the " + " ".join(noun)
    if aux in ("did", "does", "do"):
        if j == i or j >= len(rest) or not rest[j].isalpha() or not rest[j].islower():
            return None
        verb = past_tense(rest[j]) if aux == "did" else third_person(rest[j]) if aux == "does" else rest[j]
        return " ".join([head, *rest[:j], verb, *rest[j + 1 :]])
    if j > i:
        return " ".join([head, *rest[:j], aux, *rest[j:]])
    if rest[0].islower() and rest[0] not in _DETERMINERS:
        return " ".join([head, "that", aux, *rest])
    return None


def _pointer(question: str) -> re.Match | None:
    """The "that", "this" or "it" of `question` that stands for what the last
    turn was about and can be replaced by it: at the end of a clause ("when
    was that?"), after a preposition ("apart from that"), or "it" as the
    subject after an auxiliary ("when did it start?", not "is it true that ...")."""
    refs = {m.start() for m in _referring_words(question)}
    words = _words(question)
    for i, m in enumerate(words):
        w = m.group(0).lower()
        if w not in ("that", "this", "it") or m.start() not in refs:
            continue
        prev = words[i - 1].group(0).lower() if i else ""
        nxt = words[i + 1].group(0) if i + 1 < len(words) else ""
        if not nxt or not nxt[0].isalnum() or prev in _PREPOSITIONS:
            return m
        if w == "it" and prev in _AUX and not re.search(r"\b(?:to|that)\b", question[m.end() :], re.I):
            return m
    return None


def asks_about_last_answer(question: str) -> bool:
    """Whether a follow-up asks about what the last answer said ("when was
    that?", "when will they be sent?"), whose answer may be in the same
    sentence, rather than for something else ("what other commitment goes
    with that?", "what did he ask for?")."""
    if _NEW.search(question):
        return False
    things = {"they", "them", "these", "those"}
    return _pointer(question) is not None or any(m.group(0).lower() in things for m in _referring_words(question))


def _last_turn(history: list[dict]) -> tuple[str, list[dict]]:
    """(the last question of `history`, the turns before it)."""
    for i in range(len(history) - 1, -1, -1):
        if history[i]["role"] == "user":
            return history[i]["content"], history[:i]
    return "", []


def _without_opener(question: str) -> str:
    """`question` without an opening "and", "but", "so"... (nothing to search for)."""
    rest = _OPENER.sub("", question, count=1)
    if rest == question or len(rest.split()) < 2:
        return question
    return rest[0].upper() + rest[1:]


class Condensed(NamedTuple):
    question: str  # the question as it reads on its own
    carried: list[str]  # content words of the last question it leans on ([] when none)


def condense_parts(question: str, history: list[dict] | None) -> Condensed:
    """`condense` and the last question's words the follow-up leans on."""
    history = usable_history(history)
    if not history:
        return Condensed(_without_opener(question), [])
    resolved = resolve_references(question, history)
    # A question whose people are now named leans on nothing else unless
    # something else in it points back (measured: carrying the last
    # question's terms as well pulls retrieval back to the last answer).
    follow = is_follow_up(_without_opener(resolved)) if resolved != question else is_follow_up(question)
    out = _without_opener(resolved)
    if not follow:
        return Condensed(out, [])
    # The last question as it read on its own: "Who will meet them?" after
    # "Where did they fly out from?" leans on the question before that.
    last, earlier = _last_turn(history)
    last = condense(last, earlier[-6:]) if last and earlier else last
    own = {c.lower() for c in content_words(resolved)}
    carried = list(dict.fromkeys(w for w in content_words(last) if w.lower() not in own))
    phrase = subject_phrase(split_context(last)[0]) if last else None
    at = _pointer(out) if phrase else None
    if at is not None:
        phrase = phrase[0].upper() + phrase[1:] if at.start() == 0 else phrase
        return Condensed(out[: at.start()] + phrase + out[at.end() :], carried)
    if not carried:
        return Condensed(out, carried)
    end = "" if out.rstrip()[-1:] in ("?", ".", "!") else "?"
    return Condensed(f"{out.rstrip()}{end} ({' '.join(carried)})", carried)


_CONTEXT = re.compile(r"(?<=[?.!])\s+\(([^()]*)\)\s*$")


def split_context(standalone: str) -> tuple[str, str]:
    """(the question, the conversation's words `condense` put after it in
    brackets): "How did Xi respond? (Chinese leader Han Duck-soo meet)" ->
    ("How did Xi respond?", "Chinese leader Han Duck-soo meet")."""
    m = _CONTEXT.search(standalone)
    return (standalone[: m.start()], m.group(1)) if m else (standalone, "")


def condense(question: str, history: list[dict] | None) -> str:
    """The standalone form of `question` given OpenAI-style `history`:
    what is searched and what the answer's sentences are judged against.

    Refused turns are left out of the history (`usable_history`); a question
    that does not lean on what is left is returned as it is (an opening
    "and" dropped). Otherwise the people it calls "he" or "the two of them"
    are named, and a "that"/"it" standing for the last turn's subject
    becomes that subject ("and when was that?" after "What tariff did Trump
    threaten?" -> "When was the tariff Trump threatened?"); when no such
    phrase can be made, the last question's content words follow in
    brackets ("And how did Xi respond?" after "Which Chinese leader did Han
    Duck-soo meet?" -> "How did Xi respond? (Chinese leader Han Duck-soo meet)")."""
    return condense_parts(question, history).question


def previous_answer_sentences(history: list[dict] | None) -> list[str]:
    """Sentences of the last answer (not a refusal), citation markers
    removed: a follow-up that asks for something else should not be given
    these again."""
    history = usable_history(history)
    for m in reversed(history):
        if m["role"] == "assistant":
            text = _MARKERS.sub("", m["content"])
            return [s for s in split_sentences(text) if len(s.split()) >= 4][:10]
        if m["role"] == "user":
            return []
    return []
