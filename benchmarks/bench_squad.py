"""SQuAD held-out benchmark: the current tree against a baseline revision.

All the questions of the two held-out articles (`assistant/squad.py: HELD_OUT`)
are asked over the whole ten-article corpus, once by this working tree and
once by `--baseline-rev` (exported with `git archive`). Each tree runs in a
child process of its own with PYTHONPATH pointing at it and only calls its
public `build_index()` and `answer()`, so any revision can be measured, also
one without `assistant eval --squad`; the answers are scored here with this
tree's metric code (`assistant/squad_eval.py`). Prints both side by side with
the targets of issue 22, and warm `answer()` latency. Asserts nothing.

    .venv/bin/python benchmarks/bench_squad.py [--baseline-rev 211fd4e] [--sample N]

Takes 3-5 minutes on 2 cores (two index builds of the ten articles, 2 × 623
questions). Backend: the environment's (offline unless an LLM is configured).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.evals import squad, squad_eval  # noqa: E402

# (metric, target text, test) of issue 22, on the held-out split.
TARGETS = {
    "span_in_answer": (">= 0.85", lambda v: v >= 0.85),
    "median_answer_words": ("<= 40", lambda v: v <= 40),
    "citation_covers_span": (">= 0.80", lambda v: v >= 0.80),
    "unanswerable_refused": (">= 0.50", lambda v: v >= 0.50),
    "false_refusals": ("<= 0.10", lambda v: v <= 0.10),
    "p50": ("<= 150", lambda v: v <= 150),
    "p95": ("<= 300", lambda v: v <= 300),
}
WARMUP = 5  # questions of other articles asked first, not timed

# Runs inside the tree under test: only its public API.
DRIVER = r"""
import json, sys, time
import assistant
from assistant import answer, build_index

req = json.load(sys.stdin)
opts = {"corpus": req["corpus"], "index_dir": req["index_dir"]}
t = time.perf_counter()
built = build_index(**opts)
print(json.dumps({"built": time.perf_counter() - t, "summary": built.summary(), "module": assistant.__file__}), flush=True)
for q in req["warmup"]:
    answer(q, **opts)
for item in req["questions"]:
    t = time.perf_counter()
    a = answer(item["question"], **opts)
    ms = (time.perf_counter() - t) * 1000
    cites = [{"n": c.n, "source": c.source, "start": c.start, "end": c.end, "text": c.text} for c in a.citations]
    print(json.dumps({"id": item["id"], "ms": ms, "text": a.text, "refused": a.refused, "citations": cites,
                      "timings": a.timings, "passages": [[p.source, p.start, p.end] for p in a.passages]}),
          flush=True)
"""


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def measure(
    name: str,
    tree: Path,
    corpus: Path,
    index_dir: Path,
    the_plan: dict,
    warmup: list[str],
    env_extra: dict | None = None,
) -> dict:
    """Ask every planned question through `tree`'s answer() in a child process
    (`env_extra`: settings of that run, e.g. ASSISTANT_OFFLINE_ANSWERER); score here."""
    env = {**os.environ, "PYTHONPATH": str(tree), **(env_extra or {})}
    asked = the_plan["asked"]
    req = {
        "corpus": str(corpus),
        "index_dir": str(index_dir),
        "warmup": warmup,
        "questions": [{"id": q.id, "question": q.question} for q in asked],
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER], cwd=tree, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    proc.stdin.write(json.dumps(req))
    proc.stdin.close()
    first = json.loads(proc.stdout.readline() or "{}")
    if "built" not in first:
        raise SystemExit(f"{name}: the child process failed before answering (exit {proc.wait()})")
    if not Path(first["module"]).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"{name}: imported {first['module']}, not the tree {tree}")
    print(f"{name}: index built in {first['built']:.1f} s ({first['summary']})", file=sys.stderr, flush=True)
    files = {a.title: a.file for a in the_plan["articles"]}
    by_id = {q.id: q for q in asked}
    rows, ms = [], []
    t0 = time.perf_counter()
    for i, line in enumerate(proc.stdout, 1):
        rec = json.loads(line)
        q = by_id[rec["id"]]
        row = squad_eval.score(q, files[q.article], squad_eval.answer_record(rec))
        # for the error analysis: was a passage holding the gold span retrieved at all?
        row["retrieved"] = any(
            Path(src).name == files[q.article] and s <= gs and ge <= e
            for src, s, e in rec["passages"]
            for gs, ge in q.spans
        )
        rows.append(row)
        ms.append(rec["ms"])
        if i % 100 == 0:
            print(f"{name}: {i}/{len(asked)} questions", file=sys.stderr, flush=True)
    if proc.wait() != 0 or len(rows) != len(asked):
        raise SystemExit(f"{name}: the child process stopped after {len(rows)} of {len(asked)} questions")
    by_article: dict[str, list[dict]] = {}
    for r in rows:
        by_article.setdefault(r["article"], []).append(r)
    ans = [r for r in rows if r["answerable"]]
    errors = {
        "gold span not retrieved": sum(not r["retrieved"] for r in ans),
        "retrieved, refused": sum(r["retrieved"] and r["refused"] for r in ans),
        "retrieved, answered without the span": sum(
            r["retrieved"] and not r["refused"] and not r["span_in_answer"] for r in ans
        ),
        "answerable": len(ans),
    }
    print(f"{name}: errors {errors}", file=sys.stderr, flush=True)
    return {
        "name": name,
        "errors": errors,
        "index_s": round(first["built"], 1),
        "index": first["summary"],
        "answer_s": round(time.perf_counter() - t0, 1),
        "p50": round(statistics.median(ms), 1),
        "p95": round(pct(ms, 0.95), 1),
        "summary": squad_eval.summarize(rows),
        "by_article": {a: squad_eval.summarize(rs) for a, rs in by_article.items()},
        "items": rows,
    }


def cell(key: str, v) -> str:
    if v is None:
        return "–"
    if key in ("median_answer_words", "p50", "p95"):
        return f"{v:g}"
    return f"{v:.1%}"


def mark(key: str, v) -> str:
    return "" if v is None or key not in TARGETS else (" ✓" if TARGETS[key][1](v) else " ✗")


def table(results: list[dict], label: str) -> str:
    heads = [r["name"] for r in results]
    lines = [
        f"### {label}",
        "",
        "| metric | target | " + " | ".join(heads) + " |",
        "| --- | --- |" + " --- |" * len(heads),
    ]
    rows = [(k, lab) for k, lab, _ in squad_eval.METRICS]
    rows.insert(1, rows.pop(4))  # the median beside the span figure it qualifies
    for k, lab in rows:
        vals = [r["summary"].get(k) for r in results]
        lines.append(f"| {lab} | {TARGETS[k][0]} | " + " | ".join(cell(k, v) + mark(k, v) for v in vals) + " |")
    for k, lab in (("p50", "warm answer() p50 ms"), ("p95", "warm answer() p95 ms")):
        lines.append(
            f"| {lab} | {TARGETS[k][0]} | " + " | ".join(cell(k, r[k]) + mark(k, r[k]) for r in results) + " |"
        )
    lines.append("| index build s (ten articles) | – | " + " | ".join(f"{r['index_s']:g}" for r in results) + " |")
    for k in ("gold span not retrieved", "retrieved, refused", "retrieved, answered without the span"):
        lines.append(f"| answerable: {k} | – | " + " | ".join(str(r["errors"][k]) for r in results) + " |")
    lines += [
        "",
        "Per article:",
        "",
        "| article | metric | " + " | ".join(heads) + " |",
        "| --- | --- |" + " --- |" * len(heads),
    ]
    for art in results[0]["by_article"]:
        for k, lab in rows:
            vals = [r["by_article"].get(art, {}).get(k) for r in results]
            lines.append(f"| {art} | {lab} | " + " | ".join(cell(k, v) for v in vals) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline-rev", default="211fd4e", help="git revision to compare with (default 211fd4e)")
    ap.add_argument(
        "--baseline-env", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
        help="also measure the baseline revision with these settings (repeatable), "
        "e.g. ASSISTANT_OFFLINE_ANSWERER=reader",
    )  # fmt: skip
    ap.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
        help="also measure the current tree with these settings (repeatable)",
    )  # fmt: skip
    ap.add_argument("--file", default=str(ROOT / squad_eval.DEFAULT_FILE), help="SQuAD-format file")
    ap.add_argument("--articles", default="held-out", help="held-out (default), all, or TITLE,TITLE")
    ap.add_argument("--sample", type=int, help="a fixed stratified sample of N questions (default: all)")
    ap.add_argument(
        "--work", help="folder for the corpus, the exported tree and the indexes (default: a temporary one)"
    )
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "bench_squad.json"), help="results file")
    args = ap.parse_args()

    t0 = time.perf_counter()
    the_plan = squad_eval.plan(args.file, args.articles, args.sample)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-squad-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = squad.write_corpus(the_plan["articles"], work / "corpus")
    chosen = set(the_plan["meta"]["articles"])
    others = [q.question for a in the_plan["articles"] if a.title not in chosen for q in a.questions if q.answerable]
    warmup = others[:WARMUP] or [q.question for q in the_plan["asked"][:WARMUP]]

    rev = git("rev-parse", "--short", args.baseline_rev)
    old_tree = work / f"tree-{rev}"
    if not old_tree.is_dir():
        old_tree.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive, check=True)
    current = git("describe", "--always", "--dirty")
    results = [measure(f"baseline {rev}", old_tree, corpus, work / f"index-{rev}", the_plan, warmup)]
    for spec in args.baseline_env:
        extra = dict(kv.split("=", 1) for kv in spec.split(","))
        results.append(measure(f"{rev} {spec}", old_tree, corpus, work / f"index-{rev}", the_plan, warmup, extra))
    results.append(measure(f"current {current}", ROOT, corpus, work / "index-current", the_plan, warmup))
    for spec in args.env:
        extra = dict(kv.split("=", 1) for kv in spec.split(","))
        results.append(measure(f"current {spec}", ROOT, corpus, work / "index-current", the_plan, warmup, extra))
    label = f"{the_plan['meta']['label']}, asked over all {the_plan['meta']['corpus_articles']} articles"
    print()
    print(table(results, label))
    print(f"\n{time.perf_counter() - t0:.0f} s in all; {os.cpu_count()} cores; backend: the environment's")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": the_plan["meta"], "results": results}, ensure_ascii=False, indent=1))
    print(f"results: {out}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
