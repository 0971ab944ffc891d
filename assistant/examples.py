"""Example questions that the assistant answers: written from the index's
own sentences by a few generic English patterns, then each one asked of
the offline answerer and kept only when it is answered, citing the sentence
it was written from (or at least its document).

Patterns (no LLM, no word list of a corpus): "Who is <person>?" for a
person a sentence introduces with an office or as "X was a ...", "What is
<subject>?" for a sentence "<subject> is a/an/the ...", "When was <subject>
<built>?" / "When did <subject> <open>?" for an event with a date, "How many
<things> does <subject> have?" and "How <tall> is <subject>?" for figures.
Section headings are not used: a heading is a topic, and asked as a
question it is refused.

Asking costs ~0.1-0.3 s a question on two cores, so it stops at a time
budget, and the result is cached in index_dir keyed by the index version
(`library.index_version`): a restart does not ask again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.core import answer
from assistant.engine import get_engine
from assistant.library import index_version
from assistant.settings import Settings
from assistant.text import lexicon
from assistant.text.names import person_names
from assistant.text.verbs import _IRREGULAR

log = logging.getLogger(__name__)

CACHE = "examples.json"
FIRST_CHUNKS = 10  # chunks read per document: candidates come from its opening
_PAST_TO_BASE = {past: base for base, past in _IRREGULAR.items()}
_OFFICE = set(
    """president minister secretary professor ambassador senator governor chairman chairwoman chair chief ceo director
    leader king queen emperor general admiral representative envoy spokesperson spokesman spokeswoman commissioner
    mayor judge justice pope bishop prince princess dr doctor founder editor author composer singer actor actress
    writer coach captain manager premier chancellor""".split()
)
# Words before a name that make a title of the words after them (offices, forms of address).
_TITLE = _OFFICE | lexicon.NAME_TITLES
# An article or a possessive: before a capitalised run, it makes it a role or a thing, not a person.
_DETERMINER = set("the a an our their its his her your my this that these those every each any".split())
_PRONOUN = set(
    """it this that these those he she they there its his her their we i you one such some many what who whom how why
    where when which now here today then all each both another other our your my""".split()
)
_DATE = r"(?:in|on|by|during|since)\s+(?:(?:early|late|mid)[- ])?(?:\d{1,2}\s+)?(?:[A-Z][a-z]+\s+)?(?:\d{1,2},?\s+)?(?:1[5-9]|20)\d\d\b"
_PASSIVE = re.compile(
    rf"^(?P<subj>[^,;:()]{{3,60}}?)\s+(?P<be>was|were)\s+(?:first\s+|officially\s+)?"
    rf"(?P<verb>founded|born|built|established|released|opened|created|launched|completed|published|formed|"
    rf"introduced|signed|announced|elected|discovered|invented|designed|produced|written|composed|held)\b[^.;]*?\b{_DATE}"
)
_ACTIVE = re.compile(
    rf"^(?P<subj>[^,;:()]{{3,60}}?)\s+(?P<verb>[a-z]+ed|began|rose|fell|won|left|met|struck|took|came|became)"
    rf"(?P<obj>(?:\s+[^\s,;.()]+){{0,6}}?)\s+{_DATE}"
)
# Verbs that make a question without an object ("When did the museum open?").
_INTRANSITIVE = set(
    """open close begin start end die arrive return occur happen collapse retire marry graduate resign erupt strike
    fall rise win leave meet come become launch debut premiere""".split()
)
# Words a subject cannot start with: the sentence is a fragment or opens with a clause.
_NOT_SUBJECT = set(
    """though although however after before while since because also then in on at by for with as if but and or so
    yet from to of into during under over about than""".split()
)
_HAS = re.compile(
    r"^(?P<subj>[^,;:()]{3,60}?)\s+(?P<verb>has|had|have|holds|held|contains|contained|employs|employed)\s+"
    r"(?:about\s+|around\s+|more than\s+|over\s+|some\s+|nearly\s+|almost\s+)?(?P<num>\d[\d,.]*)\s+(?P<noun>[a-z]+s|people|children|men|women)\b"
)
_MEASURE = re.compile(
    r"^(?P<subj>[^,;:()]{3,60}?)\s+(?P<be>is|was|are|were)\s+(?:about\s+|around\s+|nearly\s+)?\d[\d,.]*\s+"
    r"(?:[a-z]+\s+)?(?P<adj>tall|long|high|wide|deep|old|large|heavy)\b"
)
_AMOUNT = r"(?:about\s+|around\s+|more than\s+|over\s+|nearly\s+|almost\s+|up to\s+|some\s+)?(?:US\$|\$|€|£|¥)?\d"
_MONEY_FUTURE = re.compile(
    rf"^(?P<subj>[^,;:()]{{3,60}}?)\s+(?P<aux>is|are|was|were|will|would)\s+(?P<mid>(?:expected|set|likely|due|"
    rf"planning|going|poised)\s+to\s+)?(?P<verb>invest|pay|spend|raise|cost|receive|provide|contribute|buy|lose|"
    rf"save|earn|gross|donate|borrow|lend)\s+{_AMOUNT}"
)
_COUNT = re.compile(
    rf"^(?P<subj>[^,;:()]{{3,60}}?)\s+(?P<verb>[a-z]+ed|sold|won|lost|built|made|sent|spent|paid|raised|drew|took|"
    rf"brought|held|grew|had)\s+{_AMOUNT}[\d,.]*\s+(?:million\s+|billion\s+|thousand\s+)?(?P<noun>[a-z]+s|people|children|men|women)\b"
)
_DEFINES = re.compile(r"^(?P<subj>[^,;:()]{3,50}?)\s+(?P<be>is|was|are|were)\s+(?:a|an|the)\s+\w+")
_INTRO = re.compile(r"^(?P<name>[^,;:]{3,60}?)\s*(?:\([^)]*\)\s*)?(?P<be>is|was)\s+(?:a|an|the)\s+\w+")


@dataclass
class Candidate:
    question: str
    source: str
    start: int  # the sentence's offsets in the file, to check the answer cites it
    end: int


def _words(text: str) -> list[str]:
    return re.findall(r"[\w’'-]+", text)


def _subject(raw: str, lower: set[str]) -> str | None:
    """The subject words of a sentence as they read inside a question ("The
    Quillmoor museum" -> "the Quillmoor museum"), None for a pronoun, a
    clause or a long phrase."""
    words = raw.split()
    if not words or not (words[0][0].isupper() or words[0][0].isdigit()) or words[0].lower() in _NOT_SUBJECT:
        return None
    if words[0].lower().endswith("ly") or (
        not 1 <= len(words) <= 6
        or words[0].lower() in _PRONOUN
        or any(w.lower() in ("and", "or", "but", "which", "who", "that", "if", "when") for w in words[1:])
    ):
        return None
    if any(w.lower() in ("was", "were", "is", "are", "has", "had") for w in words):
        return None
    first = words[0]
    if first.lower() in ("the", "a", "an"):
        words[0] = first.lower()
    elif first.lower() in lower and not any(c.isupper() for c in first[1:]) and len(words) > 1:
        words[0] = first.lower()  # "Solar energy is..." -> "solar energy" (written so elsewhere)
    return " ".join(words)


def _asked_name(name: str, sentence: str) -> str | None:
    """A person's name found in `sentence` as a question asks about them: a
    titled name without its titles ("Manager Dolores Achterberg" -> "Dolores
    Achterberg"); None for a role ("the Chief People Officer": English puts no
    article or possessive before a person's name) or what is left too short."""
    words = name.split()
    at = sentence.find(name)
    before = sentence[: max(at, 0)].split()
    while before and before[-1][:1].isupper():  # the rest of its capitalised run (titles the name lost)
        before.pop()
    if (before and before[-1].lower() in _DETERMINER) or words[0].lower() in _DETERMINER:
        return None
    while words and words[0].lower().rstrip(".") in _TITLE:
        words.pop(0)
    return " ".join(words) if len(words) >= 2 else None


def _base(past: str, vocab: set[str]) -> str | None:
    if past in _PAST_TO_BASE:
        return _PAST_TO_BASE[past]
    if past.endswith("ied"):
        return past[:-3] + "y"
    options = [past[:-2], past[:-1]]
    if len(past) > 4 and past[-3] == past[-4]:
        options.insert(0, past[:-3])  # "planned" -> "plan"
    for o in options:
        if o in vocab:
            return o
    return None


def candidates_of(
    source: str, sentence: str, start: int, end: int, proper: set[str], vocab: set[str]
) -> Iterator[Candidate]:
    """The questions one sentence answers, by the patterns above."""
    s = " ".join(sentence.split())
    if len(s.split()) < 5 or len(s) > 400 or s.endswith("?"):
        return

    def make(q: str) -> Candidate:
        return Candidate(q, source, start, end)

    for name in person_names(s):
        at = s.find(name)
        before = [w.lower().rstrip(".") for w in _words(s[max(0, at - 40) : at])][-3:]
        whole = len(name.split()) >= 2 and len(name.split()[-1]) >= 2 and name in s  # not "Destiny's Child"
        asked = _asked_name(name, s)
        if whole and asked and (asked != name or any(w in _OFFICE for w in before)):  # titled, or after an office
            yield make(f"Who is {asked}?")
    m = _INTRO.match(s)
    if m and m.group("name") in person_names(m.group("name")) and (asked := _asked_name(m.group("name"), s)):
        yield make(f"Who {m.group('be')} {asked}?")
    for pattern in (_PASSIVE, _ACTIVE, _MONEY_FUTURE, _COUNT, _HAS, _MEASURE, _DEFINES):
        m = pattern.match(s)
        if not m:
            continue
        subj = _subject(m.group("subj"), vocab)
        if subj is None:
            continue
        if pattern is _PASSIVE:
            yield make(f"When {m.group('be')} {subj} {m.group('verb')}?")
        elif pattern is _ACTIVE:
            base, obj = _base(m.group("verb"), vocab), m.group("obj").strip()
            if base and (obj or base in _INTRANSITIVE) and not re.search(r"\d", obj):
                yield make(f"When did {subj} {base}{' ' + obj if obj else ''}?")
        elif pattern is _MONEY_FUTURE:
            aux, mid = m.group("aux"), m.group("mid") or ""
            yield make(
                f"How much {aux} {subj} {mid}{m.group('verb')}?" if mid else f"How much {aux} {subj} {m.group('verb')}?"
            )
        elif pattern is _COUNT and m.group("verb") not in ("had",):
            base = _base(m.group("verb"), vocab)
            if base:
                yield make(f"How many {m.group('noun')} did {subj} {base}?")
        elif pattern is _HAS:
            verb = (
                "have"
                if m.group("verb") in ("has", "have", "had")
                else _base(m.group("verb"), vocab) or m.group("verb")
            )
            aux = "did" if m.group("verb") in ("had", "held", "contained", "employed") else "does"
            yield make(f"How many {m.group('noun')} {aux} {subj} {verb}?")
        elif pattern is _MEASURE:
            yield make(f"How {m.group('adj')} {m.group('be')} {subj}?")
        elif pattern is _DEFINES and any(w in proper for w in _words(m.group("subj"))):
            yield make(f"What {m.group('be')} {subj}?")


def sentences(store) -> list[tuple[str, int, int, str]]:
    """(source, file start, file end, text) of the sentences in the first
    FIRST_CHUNKS chunks of every document, in file order."""
    seen, out = set(), []
    for _, doc, meta in store.read_all(
        store.chunks, ["documents", "metadatas"], where={"chunk": {"$lt": FIRST_CHUNKS}}
    ):
        for index, rs, re_, fs, fe, heading, *_ in json.loads(meta.get("units", "[]")):
            key = (meta["source"], index)
            if heading or key in seen:
                continue
            seen.add(key)
            out.append((meta["source"], fs, fe, doc[rs:re_]))
    return sorted(out, key=lambda t: (t[0], t[1]))


def candidates(rows: list[tuple[str, int, int, str]]) -> dict[str, list[Candidate]]:
    """Candidates by document, in the order of their sentences, each question once."""
    vocab = {w for _, _, _, t in rows for w in _words(t) if w.islower()}  # words written in lower case
    proper = set()
    for _, _, _, t in rows:  # words written with a capital inside a sentence: names
        proper.update(w for w in _words(t)[1:] if w[:1].isupper())
    by_doc: dict[str, list[Candidate]] = {}
    asked = set()
    for source, fs, fe, text in rows:
        for c in candidates_of(source, text, fs, fe, proper, vocab):
            if c.question.lower() not in asked:
                asked.add(c.question.lower())
                by_doc.setdefault(source, []).append(c)
    return by_doc


def _interleave(by_doc: dict[str, list[Candidate]]) -> Iterator[Candidate]:
    """One candidate of each document in turn, so examples spread over documents."""
    queues = [list(v) for _, v in sorted(by_doc.items())]
    while any(queues):
        for q in queues:
            if q:
                yield q.pop(0)


def answered(c: Candidate, settings: Settings) -> bool:
    """Whether the offline answerer answers `c` citing its sentence first
    (its document is not enough: an example must open on its own sentence)."""
    a = answer(c.question, settings=settings, backend="offline")
    if a.refused or not a.citations:
        return False
    top = a.citations[0]
    return top.source == c.source and top.start < c.end and c.start < top.end


def choose(settings: Settings, n: int, budget: float) -> tuple[list[str], dict]:
    """(up to n questions answered, figures: candidates, asked, kept, seconds, timed_out)."""
    t0 = time.perf_counter()
    rows = sentences(get_engine(settings).store)
    by_doc = candidates(rows)
    total = sum(len(v) for v in by_doc.values())
    kept: list[str] = []
    per_doc: dict[str, int] = {}
    asked = 0
    # Round-robin over documents; a document that has given one example
    # waits until every other has had its turn (the deferred ones come after).
    first, later = [], []
    for c in _interleave(by_doc):
        (later if any(d.source == c.source for d in first) else first).append(c)
    timed_out = False
    for c in first + later:
        if len(kept) >= n:
            break
        if time.perf_counter() - t0 > budget:
            timed_out = True
            break
        if per_doc.get(c.source, 0) >= max(1, -(-n // max(1, len(by_doc)))) and c in first:
            continue
        asked += 1
        if answered(c, settings):
            kept.append(c.question)
            per_doc[c.source] = per_doc.get(c.source, 0) + 1
    figures = {"sentences": len(rows), "candidates": total, "asked": asked, "kept": len(kept),
               "seconds": round(time.perf_counter() - t0, 2), "timed_out": timed_out}  # fmt: skip
    return kept, figures


def example_questions(settings: Settings, n: int = 4, budget: float = 4.0) -> list[str]:
    """Up to n questions the assistant answers, from the cache when the index is unchanged."""
    version = index_version(settings=settings)
    key = {"version": version, "settings": settings.key("retrieval", "answer"), "n": n}
    path = Path(settings.index_dir) / CACHE
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        same = all(cached.get(k) == key[k] for k in ("version", "settings"))
        # Fewer questions than asked for are all there were: a larger n is not asked again either.
        if (
            same
            and isinstance(cached.get("questions"), list)
            and (cached.get("n", 0) >= n or len(cached["questions"]) < cached.get("n", 0))
        ):
            return cached["questions"][:n]
    except (OSError, ValueError, AttributeError):  # none yet, or not ours
        pass
    questions, figures = choose(settings, n, budget)
    log.info("example questions: %s", figures)
    # Not cached when a build ran meanwhile, nor when the budget cut it short
    # (the index was loading): the next call, on a loaded index, asks again.
    if version and version == index_version(settings=settings) and not figures["timed_out"]:
        try:
            tmp = path.with_name(CACHE + ".tmp")
            tmp.write_text(json.dumps(key | {"questions": questions, "figures": figures}), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only index: asked again next time
    return questions
