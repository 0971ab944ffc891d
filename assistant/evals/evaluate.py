"""The eval harness: run a gold set (JSONL, see evals/README.md) through the
public `answer()` and score retrieval, answers, citations and refusals.

Everything is deterministic and offline: evidence is located by character
span in the original files, key facts by substring, and citation support by
the same local check (`cite.check_support`) that verifies LLM answers.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from assistant.answerers.cite import check_support, cited_sentences
from assistant.api import answer, clean_question
from assistant.errors import GoldFileError, QuestionError
from assistant.settings import Settings

# Metrics where lower is better; every other rate is higher-is-better.
LOWER_IS_BETTER = {"false_refusal_rate"}
RATES = [
    "hit_at_1", "hit_at_3", "hit_at_k", "mrr", "evidence_recall",
    "key_fact_recall", "key_fact_accuracy",
    "citation_precision", "citation_precision_evidence", "citation_recall", "gold_source_coverage",
    "refusal_accuracy", "false_refusal_rate",
]  # fmt: skip


TYPES = ("fact", "paraphrase", "numeric", "multi-document", "unanswerable", "follow-up", "adversarial")
# Every field the harness reads; `note` (adversarial items) is optional.
FIELDS = ("id", "type", "question", "history", "answer", "must_include", "sources", "evidence")
DEFAULT_BASELINE = "evals/baseline.json"


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
    texts = _Sources(settings.corpus) if corpus_files is not None else None
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


def load_gold(path: Path, settings: Settings | None = None) -> list[dict]:
    """Read and validate a gold set (JSONL, see evals/README.md); raise
    GoldFileError with one line per problem (bad JSON, fields, duplicate ids,
    and with `settings`, files missing from the corpus)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise GoldFileError([f"gold set not found: {path}"]) from None
    except IsADirectoryError:
        raise GoldFileError([f"gold set is a folder, not a file: {path}"]) from None
    except OSError as e:
        raise GoldFileError([f"cannot read gold set {path}: {e.strerror or e}"]) from None
    except UnicodeDecodeError as e:
        raise GoldFileError([f"gold set is not UTF-8 text: {path} (byte {e.start})"]) from None
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


def check_outputs(out: Path, baseline: str | None = None, update_baseline: bool = False) -> dict | None:
    """Check `--out` and `--baseline` before anything runs; return the baseline
    to gate on (None without one). Raises ValueError, one line per problem."""
    problems = []
    out = Path(out)
    existing = next((p for p in [out, *out.parents] if p.exists()), Path("."))
    if not existing.is_dir():
        problems.append(
            f"--out {out} is a file, not a folder" if existing == out else f"--out {out}: {existing} is a file"
        )
    elif not os.access(existing, os.W_OK):
        problems.append(f"--out {out}: {existing} is not writable")
    base = None
    if update_baseline:
        target = Path(baseline or DEFAULT_BASELINE)
        if target.is_dir() or not target.parent.is_dir():
            problems.append(f"--baseline {target}: cannot write a file there")
    elif baseline:
        try:
            base = json.loads(Path(baseline).read_text(encoding="utf-8"))
            ok = isinstance(base, dict) and isinstance(base.get("metrics"), dict)
            ok = ok and isinstance(base.get("tolerances", {}), dict) and isinstance(base.get("squad", {}), dict)
            nums = (
                [*base["metrics"].values(), *base.get("tolerances", {}).values(), base.get("tolerance", 0)]
                if ok
                else []
            )
            if not ok or not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in nums):
                problems.append(f'--baseline {baseline}: not a baseline file (an object with "metrics": name → number)')
        except FileNotFoundError:
            problems.append(f"--baseline {baseline}: file not found (write one with --update-baseline)")
        except (OSError, UnicodeDecodeError) as e:
            problems.append(f"--baseline {baseline}: cannot read it: {getattr(e, 'strerror', None) or e}")
        except ValueError as e:
            problems.append(f"--baseline {baseline}: not JSON: {e}")
    if problems:
        raise GoldFileError(problems)
    return base


def answerable(item: dict) -> bool:
    return bool(item.get("must_include"))


def has_fact(text: str, alternates: list[str]) -> bool:
    low = text.lower()
    return any(a.lower() in low for a in alternates)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


class _Sources:
    """Original file texts, read once, to place evidence quotes by offset."""

    def __init__(self, corpus: Path):
        self.corpus = Path(corpus)
        self._texts: dict[str, str] = {}

    def text(self, source: str) -> str:
        if source not in self._texts:
            try:
                self._texts[source] = open(self.corpus / source, encoding="utf-8-sig", newline="").read()
            except (OSError, UnicodeDecodeError):  # ingest skips such a file too
                self._texts[source] = ""
        return self._texts[source]

    def spans(self, item: dict) -> list[tuple[str, int, int]]:
        out = []
        for e in item.get("evidence") or []:
            start = self.text(e["source"]).find(e["quote"])
            if start >= 0:
                out.append((e["source"], start, start + len(e["quote"])))
        return out


def score_item(item: dict, ans, sources: _Sources, embed) -> dict:
    """Every per-item number the summary is built from."""
    evidence = sources.spans(item)
    # Retrieval: a passage "holds" a quote when it covers half of it or more.
    first_rank, found = None, set()
    for p in ans.passages:
        for i, (src, s, e) in enumerate(evidence):
            if src == p.source and _overlap((p.start, p.end), (s, e)) >= 0.5 * (e - s):
                found.add(i)
                first_rank = first_rank or p.n
    facts = item.get("must_include") or []
    facts_found = [has_fact(ans.text, alts) for alts in facts]

    # Citations: each [n] of each answer sentence, checked against its span.
    checks, sentences = [], []
    if not ans.refused:
        by_n = {c.n: c for c in ans.citations}
        pairs = cited_sentences(ans.text)
        texts = [s for s, _ in pairs] + [c.text for c in ans.citations]
        vecs = embed(texts) if texts else []
        cvec = {c.n: vecs[len(pairs) + i] for i, c in enumerate(ans.citations)}
        for k, (sent, ns) in enumerate(pairs):
            supported = False
            for n in ns:
                c = by_n.get(n)
                if c is None:  # a marker with no citation behind it
                    checks.append({"n": n, "ok": False, "evidence": False, "missing": ["no such citation"]})
                    continue
                sup = check_support(sent, c.text, vecs[k], cvec[n])
                on_evidence = any(src == c.source and _overlap((c.start, c.end), (s, e)) > 0 for src, s, e in evidence)
                checks.append({"n": n, "ok": sup.ok, "evidence": on_evidence, "semantic": sup.semantic,
                               "lexical": sup.lexical, "missing": sup.missing})  # fmt: skip
                supported = supported or sup.ok
            sentences.append({"text": sent, "markers": ns, "supported": supported})
    cited = {c.source for c in ans.citations}
    gold_sources = set(item.get("sources") or [])
    return {
        "id": item["id"],
        "type": item["type"],
        "question": item["question"],
        "history": item.get("history") or [],
        "answerable": answerable(item),
        "answer": ans.text,
        "refused": ans.refused,
        "reference": item.get("answer", ""),
        "must_include": facts,
        "facts_found": sum(facts_found),
        "facts_total": len(facts),
        "facts_missing": [alts[0] for alts, ok in zip(facts, facts_found) if not ok],
        "all_facts": bool(facts) and all(facts_found),
        "evidence": item.get("evidence") or [],
        "evidence_rank": first_rank,
        "evidence_found": len(found),
        "evidence_total": len(evidence),
        "citations": [
            {"n": c.n, "source": c.source, "start": c.start, "end": c.end, "text": c.text} for c in ans.citations
        ],
        "citation_checks": checks,
        "sentences": sentences,
        "gold_sources": sorted(gold_sources),
        "cited_sources": sorted(cited),
        "right_source": bool(cited & gold_sources),
        "gold_sources_cited": len(cited & gold_sources),
        "retrieved_sources": sorted({p.source for p in ans.passages}),
        "timings": ans.timings,
        "backend": ans.backend,
        "verification": ans.verification,
        "notes": ans.notes,
    }


def passed(row: dict) -> bool:
    """An item passes when it is refused iff it has no answer, and an answer
    holds every key fact and cites a gold source."""
    if not row["answerable"]:
        return row["refused"]
    return row["all_facts"] and row["right_source"]


def summarize(rows: list[dict]) -> dict:
    ans_rows = [r for r in rows if r["answerable"]]
    una_rows = [r for r in rows if not r["answerable"]]
    answered = [r for r in rows if not r["refused"]]
    checks = [c for r in answered for c in r["citation_checks"]]
    ans_checks = [c for r in ans_rows if not r["refused"] for c in r["citation_checks"]]
    sents = [s for r in answered for s in r["sentences"]]
    ranks = [r["evidence_rank"] for r in ans_rows]

    def share(xs) -> float | None:
        xs = list(xs)
        return round(sum(xs) / len(xs), 4) if xs else None

    out = {
        "items": len(rows),
        "answerable": len(ans_rows),
        "unanswerable": len(una_rows),
        "passed": sum(passed(r) for r in rows),
        "hit_at_1": share(r is not None and r <= 1 for r in ranks),
        "hit_at_3": share(r is not None and r <= 3 for r in ranks),
        "hit_at_k": share(r is not None for r in ranks),
        "mrr": round(sum(1 / r for r in ranks if r) / len(ranks), 4) if ranks else None,
        "evidence_recall": (
            round(sum(r["evidence_found"] for r in ans_rows) / max(1, sum(r["evidence_total"] for r in ans_rows)), 4)
            if ans_rows else None
        ),
        "key_fact_recall": (
            round(sum(r["facts_found"] for r in ans_rows) / max(1, sum(r["facts_total"] for r in ans_rows)), 4)
            if ans_rows else None
        ),
        "key_fact_accuracy": share(r["all_facts"] for r in ans_rows),
        "citation_precision": share(c["ok"] for c in checks),
        "citation_precision_evidence": share(c["evidence"] for c in ans_checks),
        "citation_recall": share(s["supported"] for s in sents),
        "gold_source_coverage": (
            round(sum(r["gold_sources_cited"] for r in ans_rows) / max(1, sum(len(r["gold_sources"]) for r in ans_rows)), 4)
            if ans_rows else None
        ),
        "right_source_cited": share(r["right_source"] for r in ans_rows),
        "llm_answers": sum(r["backend"].startswith("llm") for r in rows),
        "verification": {
            k: sum(r["verification"].get(k, 0) for r in rows) for k in ("kept", "recited", "dropped")
        },
        "refusal_accuracy": share(r["refused"] for r in una_rows),
        "false_refusal_rate": share(r["refused"] for r in ans_rows),
        "latency_ms": {},
    }  # fmt: skip
    stages = defaultdict(list)
    for r in rows:
        for k, v in r["timings"].items():
            if k != "load_ms":
                stages[k].append(v)
    for k, vals in sorted(stages.items()):
        vals = sorted(vals)
        out["latency_ms"][k] = {
            "p50": round(statistics.median(vals), 2),
            "p95": round(vals[min(len(vals) - 1, int(0.95 * len(vals)))], 2),
        }
    return out


def run(gold: list[dict], settings: Settings, backend: str = "offline", progress: bool = True) -> dict:
    """Answer every gold item and return the full report (JSON-ready).
    The gold set is checked first (`check_gold`): GoldFileError before any work."""
    gold = list(gold)
    check_gold(gold, settings)
    from tqdm import tqdm

    from assistant.embedders.local import get_embedder

    embedder = get_embedder(settings)
    sources = _Sources(settings.corpus)
    t0 = time.perf_counter()
    rows = []
    bar = tqdm(gold, desc="eval", unit="q", file=sys.stderr, disable=not progress or None, leave=False)
    for item in bar:
        ans = answer(item["question"], history=item.get("history") or None, settings=settings)
        rows.append(score_item(item, ans, sources, embedder.embed))
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_type[r["type"]].append(r)
    return {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "backend": backend,
            "corpus": str(settings.corpus),
            "top_k": settings.top_k,
            "embedder": embedder.id,
            "model": settings.llm_model if backend == "llm" else None,
            "seconds": round(time.perf_counter() - t0, 2),
        },
        "summary": summarize(rows),
        "by_type": {t: summarize(rs) for t, rs in sorted(by_type.items())},
        "items": rows,
    }


def compare(summary: dict, baseline: dict) -> list[str]:
    """Regressions of `summary` against a baseline file's metrics, beyond its
    tolerance (`tolerances` may give a metric its own, e.g. in words)."""
    from assistant.evals.squad_eval import LOWER_IS_BETTER as SQUAD_LOWER

    tol = float(baseline.get("tolerance", 0.02))
    own = baseline.get("tolerances") or {}
    problems = []
    for name, base in baseline.get("metrics", {}).items():
        now = summary.get(name)
        t = float(own.get(name, tol))
        if base is None:
            continue
        if now is None:
            problems.append(f"{name}: missing (baseline {base})")
        elif (name in LOWER_IS_BETTER or name in SQUAD_LOWER) and now > base + t:
            problems.append(f"{name}: {now:.4f} > baseline {base:.4f} + {t}")
        elif not (name in LOWER_IS_BETTER or name in SQUAD_LOWER) and now < base - t:
            problems.append(f"{name}: {now:.4f} < baseline {base:.4f} - {t}")
    return problems


def gate(report: dict, baseline: dict) -> tuple[list[str], list[str]]:
    """(regressions, notes) of a whole report (gold set and SQuAD figures)
    against a baseline. The baseline's SQuAD figures are checked only when the
    run asked SQuAD questions (the same ones: `check_squad_baseline`)."""
    from assistant.evals.squad_eval import PREFIX, describe, gate_values

    values = {**report["summary"], **gate_values(report.get("squad"))}
    notes = []
    if not report.get("squad"):
        skipped = sorted(k for k in baseline.get("metrics", {}) if k.startswith(PREFIX))
        if skipped:
            baseline = {**baseline, "metrics": {k: v for k, v in baseline["metrics"].items() if k not in skipped}}
            notes.append(
                f"not checked: the baseline's SQuAD figures ({', '.join(skipped)}); they are checked when the run "
                f"asks its questions: {describe(baseline.get('squad') or {})}"
            )
    return compare(values, baseline), notes


def check_squad_baseline(baseline: dict | None, meta: dict) -> None:
    """Before anything runs: a baseline's SQuAD figures can only gate a run of
    the same questions (same file contents, articles, sample and seed)."""
    from assistant.evals.squad_eval import describe, same_split

    if not baseline or not baseline.get("squad"):
        return
    if not same_split(baseline["squad"], meta):
        raise GoldFileError(
            [f"--baseline: its SQuAD figures were measured on other questions ({baseline['squad'].get('label')}); "
             f"ask those with {describe(baseline['squad'])}, or write a new baseline with --update-baseline"]
        )  # fmt: skip


def baseline_from(report: dict, tolerance: float, previous: dict | None = None) -> dict:
    """The baseline file of a run. A run without SQuAD questions keeps the
    SQuAD figures of `previous` (the baseline it replaces), if it had any."""
    from assistant.evals.squad_eval import PREFIX, gate_values, squad_tolerances

    s = report["summary"]
    out = {
        "backend": report["meta"]["backend"],
        "date": report["meta"]["date"],
        "items": s["items"],
        "tolerance": tolerance,
        "metrics": {k: s[k] for k in RATES if s.get(k) is not None},
    }
    sq = report.get("squad")
    if sq:
        m = sq["meta"]
        out["squad"] = {k: m.get(k) for k in ("label", "file", "select", "sha256", "articles", "sample", "seed")}
        out["squad"]["questions"] = sq["summary"]["questions"]
        out["squad"]["date"] = report["meta"]["date"]
        out["metrics"].update(gate_values(sq))
        out["tolerances"] = squad_tolerances(sq["summary"], tolerance)
    elif previous and previous.get("squad"):
        out["squad"] = previous["squad"]
        out["metrics"].update({k: v for k, v in previous.get("metrics", {}).items() if k.startswith(PREFIX)})
        if previous.get("tolerances"):
            out["tolerances"] = previous["tolerances"]
    return out
