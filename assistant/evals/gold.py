"""The gold set: reading a JSONL file (see evals/README.md) and checking
every item against the format, and the corpus files its evidence quotes.

Every problem is reported, one line each, before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from assistant.api import clean_question
from assistant.errors import GoldFileError, QuestionError
from assistant.ingest.readers import reader_for
from assistant.settings import Settings

TYPES = ("fact", "paraphrase", "numeric", "multi-document", "unanswerable", "follow-up", "adversarial")
# Every field the harness reads; `note` (adversarial items) is optional, and
# so are `feedback` and `needs_review` (`assistant feedback export` writes them).
FIELDS = ("id", "type", "question", "history", "answer", "must_include", "sources", "evidence")


def _kind(v) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(v), "a number" if isinstance(v, (int, float)) else type(v).__name__)


def _is_str_list(v) -> bool:
    """A list of strings, none of them blank."""
    return isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v)


def _facts_problem(facts) -> str | None:
    what = "must_include must be a list of lists of strings"
    if not isinstance(facts, list):
        return f"{what}, not {_kind(facts)}"
    for n, group in enumerate(facts, 1):
        if not isinstance(group, list):
            return f"{what} (its item {n} is {_kind(group)}: {json.dumps(group, ensure_ascii=False)[:60]})"
        if not group:
            return f"must_include: group {n} is empty (give at least one alternate)"
        if not _is_str_list(group):
            return f"must_include: group {n} must hold non-empty strings"
    return None


def _evidence_problems(evidence) -> list[str]:
    what = 'evidence must be a list of {"source": file name, "quote": string}'
    if not isinstance(evidence, list):
        return [f"{what}, not {_kind(evidence)}"]
    out = []
    for n, e in enumerate(evidence, 1):
        if not isinstance(e, dict):
            out.append(f"{what} (its item {n} is {_kind(e)})")
            continue
        for key in ("source", "quote"):
            if key not in e:
                out.append(f"evidence {n} has no {key}")
            elif not (isinstance(e[key], str) and e[key].strip()):
                out.append(f"evidence {n}: {key} must be a non-empty string")
    return out


def _item_problems(item: dict, settings: Settings | None, corpus_files: set[str] | None, texts) -> list[str]:
    """What is wrong with one gold item, against the format of evals/README.md."""
    out = []
    missing = [k for k in FIELDS if k not in item]
    if missing:
        out.append(f"missing field{'s' * (len(missing) > 1)}: {', '.join(missing)}")
    get = item.get
    if "id" in item and not (isinstance(get("id"), str) and get("id").strip()):
        out.append("id must be a non-empty string")
    if "type" in item and get("type") not in TYPES:
        out.append(f"type must be one of {', '.join(TYPES)} (not {json.dumps(get('type'), ensure_ascii=False)})")
    if "question" in item:
        if not isinstance(get("question"), str):
            out.append(f"question must be a string, not {_kind(get('question'))}")
        else:
            try:
                clean_question(get("question"), settings.max_question_chars if settings else 10**9)
            except QuestionError as e:
                out.append(f"question: {e}")
    if "history" in item and not (
        isinstance(get("history"), list)
        and all(
            isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)
            for m in get("history")
        )
    ):
        out.append('history must be a list of {"role": "user"|"assistant", "content": string}')
    if "answer" in item and not isinstance(get("answer"), str):
        out.append(f"answer must be a string, not {_kind(get('answer'))}")
    if get("needs_review"):  # a candidate of `assistant feedback export`, not checked by a person yet
        out.append('needs review: check the item, fill in what is missing, then delete "needs_review"')
    if "note" in item and not isinstance(get("note"), str):
        out.append(f"note must be a string, not {_kind(get('note'))}")
    facts = get("must_include")
    if "must_include" in item and (bad := _facts_problem(facts)):
        out.append(bad)
        facts = None
    srcs = get("sources")
    if "sources" in item and not _is_str_list(srcs):
        out.append("sources must be a list of file names (strings)")
        srcs = None
    evidence = get("evidence")
    if "evidence" in item and (bad := _evidence_problems(evidence)):
        out += bad
        evidence = None
    # Files the harness could never find, and quotes that are not in their file.
    if corpus_files is not None:
        for src in sorted(set(srcs or []) | {e["source"] for e in evidence or []}):
            if src not in corpus_files:
                out.append(f"{src} is not a file of the corpus {settings.corpus}")
        for n, e in enumerate(evidence or [], 1):
            if e["source"] in corpus_files and e["quote"] not in texts.text(e["source"]):
                out.append(f"evidence {n}: the quote is not verbatim in {e['source']}")
    # What "answerable" means to the scoring: an item has key facts, sources and
    # evidence, or none of them (it is then expected to be refused).
    if facts is not None and srcs is not None and evidence is not None:
        if get("type") == "unanswerable" and (facts or srcs or evidence):
            out.append("an unanswerable item must have empty must_include, sources and evidence")
        elif facts and not (srcs and evidence):
            out.append("an item with must_include needs sources and evidence too")
        elif not facts and (srcs or evidence):
            out.append("an item without must_include (no answer) must have empty sources and evidence")
    return out


def gold_problems(records: list[tuple[str, object]], settings: Settings | None = None) -> list[str]:
    """Every problem of a gold set, one line each (`<where> (<id>): <what>`).

    `records` pairs each item (or the ValueError of a line that is not JSON)
    with where it comes from (`file:line`, `item 3`);
    with `settings`, the files named by `sources` and `evidence` must be corpus
    files (when the corpus folder exists) and each quote must be in its file."""
    corpus_files = None
    if settings is not None and Path(settings.corpus).is_dir():
        from assistant.ingest.files import list_files

        corpus = Path(settings.corpus)
        corpus_files = {p.relative_to(corpus).as_posix() for p in list_files(corpus, settings.file_types)}
    texts = Sources(settings.corpus) if corpus_files is not None else None
    problems, seen = [], {}
    for where, item in records:
        if isinstance(item, ValueError):  # the line did not parse
            problems.append(f"{where}: not JSON: {item}")
            continue
        if not isinstance(item, dict):
            problems.append(f"{where}: not a JSON object ({_kind(item)})")
            continue
        iid = item.get("id")
        label = f"{where} ({iid})" if isinstance(iid, str) and iid.strip() else where
        if isinstance(iid, str) and iid.strip():
            if iid in seen:
                problems.append(f"{label}: duplicate id (first at {seen[iid]})")
            seen.setdefault(iid, where)
        problems += [f"{label}: {p}" for p in _item_problems(item, settings, corpus_files, texts)]
    return problems


def check_gold(gold: list[dict], settings: Settings | None = None) -> None:
    """Raise GoldFileError listing every problem of a list of gold items."""
    if not gold:
        raise GoldFileError(["the gold set is empty"])
    problems = gold_problems([(f"item {i}", g) for i, g in enumerate(gold, 1)], settings)
    if problems:
        raise GoldFileError(problems)


def read_eval_file(path: Path, what: str, encoding: str = "utf-8") -> str:
    """The text of an eval input file (`what` names it in messages); a
    GoldFileError of one line when it is missing, a folder, unreadable or
    not UTF-8."""
    try:
        return path.read_bytes().decode(encoding)
    except FileNotFoundError:
        raise GoldFileError([f"{what} not found: {path}"]) from None
    except IsADirectoryError:
        raise GoldFileError([f"{what} is a folder, not a file: {path}"]) from None
    except OSError as e:
        raise GoldFileError([f"cannot read {what} {path}: {e.strerror or e}"]) from None
    except UnicodeDecodeError as e:
        raise GoldFileError([f"{what} is not UTF-8 text: {path} (byte {e.start})"]) from None


def load_gold(path: Path, settings: Settings | None = None) -> list[dict]:
    """Read and validate a gold set (JSONL, see evals/README.md); raise
    GoldFileError with one line per problem (bad JSON, fields, duplicate ids,
    and with `settings`, files missing from the corpus)."""
    path = Path(path)
    text = read_eval_file(path, "gold set", "utf-8-sig")
    records: list[tuple[str, object]] = []
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append((f"{path}:{i}", json.loads(line)))
            except ValueError as e:
                records.append((f"{path}:{i}", e))
    if not records:
        raise GoldFileError([f"gold set is empty: {path}"])
    problems = gold_problems(records, settings)
    if problems:
        raise GoldFileError(problems)
    return [item for _, item in records]


class Sources:
    """Original file texts, read once, to place evidence quotes by offset."""

    def __init__(self, corpus: Path):
        self.corpus = Path(corpus)
        self._texts: dict[str, str] = {}

    def text(self, source: str) -> str:
        if source not in self._texts:
            try:
                path = self.corpus / source
                # The text citation offsets index: what the file's reader gives.
                self._texts[source] = reader_for(path).read(path.read_bytes(), path)
            except (OSError, ValueError):  # ingest skips such a file too (UnicodeDecodeError is one)
                self._texts[source] = ""
        return self._texts[source]

    def spans(self, item: dict) -> list[tuple[str, int, int]]:
        out = []
        for e in item.get("evidence") or []:
            start = self.text(e["source"]).find(e["quote"])
            if start >= 0:
                out.append((e["source"], start, start + len(e["quote"])))
        return out
