"""The gold set and the follow-up set, the current tree against a baseline
revision, in one run, by the blocks that say how far a figure can be trusted.

Each tree runs `assistant eval --json` in a child process of its own with
PYTHONPATH pointing at it (the baseline exported with `git archive`), with
any settings given per run (`--baseline-env ASSISTANT_OFFLINE_ANSWERER=reader`
measures the baseline's other answerer). Printed per run: all key facts on
q001-q065 (where earlier thresholds were chosen) and on q066-q090 (the blind
block), a right source cited, no-answer items refused, answerable items
refused, and the follow-up set (evals/followups.jsonl). Asserts nothing.

    .venv/bin/python benchmarks/bench_gold.py --baseline-rev 130c749 \
        --baseline-env ASSISTANT_OFFLINE_ANSWERER=reader

About a minute a run on 2 cores (each run builds its own index of seeds/).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_squad import ROOT, git  # same folder: run as a script

RUN = "import sys; from assistant.apps.cli import main; sys.exit(main(sys.argv[1:]))"


def evaluate(tree: Path, gold: Path, index_dir: Path, env_extra: dict) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(tree), **env_extra}
    cmd = [sys.executable, "-c", RUN, "eval", "--gold", str(gold), "--corpus", str(ROOT / "seeds"),
           "--index-dir", str(index_dir), "--backend", "offline", "--json", "-q"]  # fmt: skip
    out = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if not out.stdout.strip().startswith("{"):
        raise SystemExit(f"{tree}: eval failed (exit {out.returncode}): {out.stderr[-1500:]}")
    return json.loads(out.stdout)["items"]


def block(rows: list[dict], lo: int, hi: int) -> list[dict]:
    return [r for r in rows if r["id"].startswith("q") and lo <= int(r["id"][1:]) <= hi]


def figures(rows: list[dict], follow: list[dict]) -> dict:
    def facts(rs):
        ans = [r for r in rs if r["answerable"]]
        return f"{sum(r['all_facts'] for r in ans) / max(1, len(ans)):.1%} ({sum(r['all_facts'] for r in ans)}/{len(ans)})"

    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    fans = [r for r in follow if r["answerable"]]
    return {
        "all key facts, all 90": facts(rows),
        "all key facts, q001-q065": facts(block(rows, 1, 65)),
        "all key facts, q066-q090 (blind)": facts(block(rows, 66, 90)),
        "a right source cited": f"{sum(r['right_source'] for r in ans) / max(1, len(ans)):.1%}",
        "no-answer items refused": f"{sum(r['refused'] for r in una)} of {len(una)}",
        "answerable items refused": f"{sum(r['refused'] for r in ans)} of {len(ans)}",
        "follow-up set: all key facts": facts(follow),
        "follow-up set: answerable refused": f"{sum(r['refused'] for r in fans)} of {len(fans)}",
        "follow-up set: no-answer refused": f"{sum(r['refused'] for r in follow if not r['answerable'])} of "
        f"{sum(not r['answerable'] for r in follow)}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline-rev", default="130c749")
    ap.add_argument("--baseline-env", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                    help="also measure the current tree with these settings (repeatable)")  # fmt: skip
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "bench_gold.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-gold-"))
    rev = git("rev-parse", "--short", args.baseline_rev)
    old = work / f"tree-{rev}"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    gold, follow = ROOT / "evals/gold.jsonl", ROOT / "evals/followups.jsonl"

    def env(spec: str) -> dict:
        return dict(kv.split("=", 1) for kv in spec.split(",")) if spec else {}

    runs = [(f"{rev} (baseline)", old, {})] + [(f"{rev} {e}", old, env(e)) for e in args.baseline_env]
    current = git("describe", "--always", "--dirty")
    runs += [(f"current {current}", ROOT, {})] + [(f"current {e}", ROOT, env(e)) for e in args.env]
    results = {}
    for name, tree, extra in runs:
        idx = work / f"index-{tree.name}"
        rows = evaluate(tree, gold, idx, extra)
        frows = evaluate(tree, follow, idx, extra) if follow.is_file() else []
        results[name] = {"figures": figures(rows, frows), "items": rows, "followups": frows}
        print(f"{name}: done", file=sys.stderr, flush=True)
    names = list(results)
    print("| | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for key in results[names[0]]["figures"]:
        print(f"| {key} | " + " | ".join(results[n]["figures"][key] for n in names) + " |")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
