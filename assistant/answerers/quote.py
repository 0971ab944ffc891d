"""Quoting, citing and refusing: what every extractive answer is made of.

An offline answerer picks sentence units of the retrieved passages; these
turn them into the answer text, each sentence cited [n] by its exact span in
the original file, or into "the sources don't say" with its reason
(`prompts/refusal_reasons.json`).
"""

from __future__ import annotations

import re

from assistant import prompts
from assistant.text.sentences import sentence_spans
from assistant.text.tokens import tokenize
from assistant.types import Citation, Unit

MAX_DUP_SIM = 0.85  # sentences this similar to a chosen one are repeats
REPEAT_SIM = 0.8  # sentences this similar to the previous answer were said already

# Sentences that lean on the one before them: a pronoun, or a "therefore".
_PRONOUN_START = re.compile(
    r"^(?:he|she|they|his|her|their|it|its|this|these|those|that|such|consequently|as a result|therefore|thus|"
    r"hence|accordingly|for this reason|because of this)\b",
    re.I,
)


def question_names(question: str) -> list[str]:
    """Capitalised words of the question after its first: the names it asks
    about. Function words need no list: they are in every corpus, so they are
    never missing (`missing_names`)."""
    words = re.findall(r"[A-Za-zÀ-ÿ][\w'’\-]*", question)
    return [w.rstrip("'’s") if w.endswith(("'s", "’s")) else w for w in words[1:] if w[0].isupper()]


def missing_names(question: str, doc_freq: dict[str, int]) -> list[str]:
    """Names in the question that no indexed passage contains (`doc_freq`:
    the index's document frequency of the question's terms)."""
    out = []
    for name in question_names(question):
        toks = tokenize([name])[0]
        if toks and all(doc_freq.get(t, 0) == 0 for t in toks):
            out.append(name)
    return out


def _sentence_for_answer(text: str) -> str:
    s = re.sub(r"\s+", " ", text).strip()
    if s and s[0].islower():
        s = s[0].upper() + s[1:]
    return s


def _with_marker(sentence: str, n: int) -> str:
    m = re.search(r"[.!?]+$", sentence)
    if m:
        return f"{sentence[: m.start()]} [{n}]{m.group(0)}"
    return f"{sentence} [{n}]."


def refuse(key: str, debug: dict | None = None, **kw) -> tuple[str, list[Citation], bool, dict]:
    """The refusal answer for reason `key` of prompts/refusal_reasons.json."""
    reason = prompts.render(prompts.load_json("refusal_reasons.json")[key], **kw)
    return prompts.render(prompts.load("refusal.txt"), reason=reason), [], True, {**(debug or {}), "refusal": key}


def refuse_early(question: str, units: list[Unit], doc_freq: dict[str, int]):
    """A refusal before any sentence is read (nothing retrieved, or the
    question names what the corpus never mentions), else None."""
    if not units:
        return refuse("empty_index")
    gone = missing_names(question, doc_freq)
    # "Macron" alone is a subject the corpus never mentions; "Pyongyang–Moscow"
    # with Moscow absent may still be answerable through "Russia".
    if gone and len(gone) > 0.5 * len(question_names(question)):
        return refuse("missing_names", names=", ".join(dict.fromkeys(gone)))
    return None


def repeats(unit: Unit, chosen: list[Unit]) -> bool:
    """Whether a further sentence would say again what a chosen one says:
    nearly the same meaning, or a "He"/"This" sentence next to a chosen one
    (which `cited_answer` quotes with the sentence before it)."""
    return any(float(unit.vector @ c.vector) > MAX_DUP_SIM for c in chosen) or any(
        c.source == unit.source and abs(c.index - unit.index) <= 1 and _PRONOUN_START.match(unit.text) for c in chosen
    )


def _cut_short(unit: str, following: str) -> bool:
    """Whether `unit` ends at a full stop that is not a sentence's end, the
    next unit `following` being the rest of the sentence."""
    joined = f"{unit.rstrip()} {following.lstrip()}"
    return unit.rstrip().endswith(".") and len(sentence_spans(joined)) == 1


def cited_answer(chosen: list[tuple[Unit, float]], by_key: dict) -> tuple[str, list[Citation]]:
    """The answer text quoting the chosen sentence units, each cited [n] by
    its exact span (`by_key`: (source, index) -> unit, for the sentence
    before one that opens with "He"/"This", which is read with it)."""
    parts: list[str] = []
    citations: list[Citation] = []
    for u, score in chosen:
        start, end, text, page = u.start, u.end, u.text, getattr(u, "page", None)
        prev = by_key.get((u.source, u.index - 1))
        said = [u.text]
        if _PRONOUN_START.match(u.text) and prev is not None and not prev.heading:
            start, text, said = prev.start, f"{prev.text} {u.text}", [prev.text, u.text]
            page = getattr(prev, "page", None)
        # The index's units were cut by an untrained splitter that ends a
        # sentence at an abbreviation ("... Scott Bessent and U.S." | "Trade
        # Representative ..."): quote the rest of the sentence too.
        nxt = by_key.get((u.source, u.index + 1))
        if nxt is not None and not nxt.heading and _cut_short(said[-1], nxt.text):
            end, text = nxt.end, f"{text} {nxt.text}"
            said[-1] = f"{said[-1]} {nxt.text}"
        n = len(citations) + 1
        citations.append(
            Citation(
                n=n,
                source=u.source,
                title=u.title,
                text=re.sub(r"\s+", " ", text).strip(),
                start=start,
                end=end,
                passage=u.passage,
                score=round(score, 4),
                page=page,
            )
        )
        parts.extend(_with_marker(_sentence_for_answer(t), n) for t in said)  # every sentence cited
    return " ".join(parts), citations
