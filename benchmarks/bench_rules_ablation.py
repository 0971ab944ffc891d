"""Each hand rule of the rules answerer switched off in turn, measured on the
held-out figures (issue 22: a rule stays only when a held-out figure shows
it helps).

Every configuration runs in a child process of its own that patches one
module attribute or function of the current tree to its neutral form (a
weight of 1, no threshold, an empty word list, no filter) and then asks, in
that process, the gold set (q066-q090 the blind block; q001-q065, where the
thresholds were chosen, for information only), the follow-up set and the
SQuAD held-out articles over the ten-article corpus. The product has no
setting for any of this: the patches live here. Counts, not percentages, are
compared with "all rules on"; a configuration that loses no held-out
question is marked `delete`.

    nice .venv/bin/python benchmarks/bench_rules_ablation.py [--only all-on,min-score] [--work DIR]

About a minute a configuration on 2 cores once the two indexes are built
(the first configuration builds them in --work, later ones reuse them).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEVER = r"(?!)"  # a pattern that matches nothing: a regex rule switched off


def _set(module: str, **values) -> None:
    import importlib

    mod = importlib.import_module(module)
    for name, value in values.items():
        if not hasattr(mod, name):
            raise SystemExit(f"{module}.{name}: no such attribute (the rule was deleted?)")
        setattr(mod, name, value)


def _no_missing_names() -> None:
    from assistant.answerers import extractive

    extractive.refuse_early = lambda q, passages, ctx: extractive.refuse("empty_index") if not passages else None


def _no_metonyms() -> None:
    never = re.compile(NEVER)
    _set("assistant.text.names", metonyms=lambda: {}, alias_pattern=lambda: never)


def _kind_off(kind: str):
    def patch() -> None:
        from assistant.answerers import extractive, kinds

        kinds.KIND_PATTERNS.pop(kind)
        if kind == "number":  # a count is a number: no number asked, no count
            extractive.counted_noun = lambda q: set()

    return patch


def _has(kind: str, pattern: str):
    def patch() -> None:
        from assistant.answerers import kinds

        kinds._HAS[kind] = re.compile(pattern.replace("MONTHS", kinds._MONTHS), re.I)

    return patch


X = "assistant.answerers.extractive"
K = "assistant.answerers.kinds"
Q = "assistant.answerers.quote"
N = "assistant.text.names"
# name -> (what is switched off, patch run in the child before anything is asked)
CONFIGS = {
    "all-on": ("nothing: the current tree", lambda: None),
    "w-sem-lex": ("W_SEM, W_LEX 0.6/0.4 -> 0.5/0.5", lambda: _set(X, W_SEM=0.5, W_LEX=0.5)),
    "min-score": ("MIN_SCORE 0.415 -> 0", lambda: _set(X, MIN_SCORE=0.0)),
    "keep-ratio": ("KEEP_RATIO 0.8 -> 0 (keep up to the limit)", lambda: _set(X, KEEP_RATIO=0.0)),
    "keep-ratio-typed": ("KEEP_RATIO_TYPED 0.85 -> KEEP_RATIO", lambda: _set(X, KEEP_RATIO_TYPED=0.8)),
    "typed-limit": ("TYPED_LIMIT 2 -> max_sentences", lambda: _set(X, TYPED_LIMIT=99)),
    "typed-min": ("TYPED_MIN_RATIO/TYPED_MIN_LEX -> no condition", lambda: _set(X, TYPED_MIN_RATIO=0.0)),
    "idf-power": ("IDF_POWER 0.5 -> 1", lambda: _set(X, IDF_POWER=1.0)),
    "carried-weight": ("CARRIED_WEIGHT 0.25 -> 1", lambda: _set(X, CARRIED_WEIGHT=1.0)),
    "w-passage": ("W_PASSAGE 0.03 -> 0", lambda: _set(X, W_PASSAGE=0.0)),
    "name-groups": ("person-name grouping -> none", lambda: _set(X, name_groups=lambda q, w: [])),
    "repeat-penalty": ("REPEAT_PENALTY 0.5 -> 1 (no penalty)", lambda: _set(X, REPEAT_PENALTY=1.0)),
    "antecedents": ("antecedent names -> none", lambda: _set(X, antecedent_names=lambda u, us: set())),
    "alias-query": ("metonyms added to the query -> none", lambda: _set("assistant.rewrite.stage", expand_aliases=str)),
    "metonyms": ("metonyms.json -> empty (every use)", _no_metonyms),
    "kind-filter": (
        "answer-kind filter (and its counted noun) -> every question general",
        lambda: _set(X, question_kind=lambda q: "general", counted_noun=lambda q: set()),
    ),
    "kind-number": ("number questions -> general", _kind_off("number")),
    "kind-date": ("date questions -> general", _kind_off("date")),
    "kind-person": ("person questions -> general", _kind_off("person")),
    "kind-place": ("place questions -> general", _kind_off("place")),
    "num-words": ("spelled numbers (_NUM_WORDS) -> digits only", _has("number", r"\d")),
    "date-words": ("date words beyond months/years -> none", _has("date", r"\b(?:MONTHS)\b|\b(?:1\d|20)\d\d\b")),
    "counted-noun": ("counted-noun filter -> none", lambda: _set(X, counted_noun=lambda q: set())),
    "missing-names": ("missing-names early refusal -> none", _no_missing_names),
    "common-start": ("COMMON_START list -> empty", lambda: _set(K, _COMMON_START=set())),
    "month-or-day": ("_MONTH_OR_DAY place filter -> none", lambda: _set(K, _MONTH_OR_DAY=re.compile(NEVER))),
    "name-titles": ("NAME_TITLES list (names.py) -> empty", lambda: _set(N, _NOT_NAME=set())),
    "name-places": ("place words out of person names -> off", lambda: _set(N, is_place_word=lambda w: False)),
    "pronoun-start": ("_PRONOUN_START (quote) -> none", lambda: _set(Q, _PRONOUN_START=re.compile(NEVER))),
    "max-dup-sim": ("MAX_DUP_SIM 0.85 -> no de-duplication", lambda: _set(Q, MAX_DUP_SIM=2.0)),
}
# Held-out figures a rule must not lose (True: higher is better).
HELD_OUT = {
    "blind_facts": True,
    "blind_noans_refused": True,
    "blind_right_source": True,
    "follow_facts": True,
    "follow_noans_refused": True,
    "squad_span": True,
    "squad_cite": True,
    "squad_unans_refused": True,
    "squad_false_refusals": False,
    "squad_median_words": False,  # more sentences buy span hits with length (issue 22: <= 40 words)
}


def child(names: list[str], work: Path) -> None:
    """In this process: every patch of `names`, then every question; one JSON line of counts."""
    for name in names:
        CONFIGS[name][1]()
    from assistant.api import build_index
    from assistant.evals import evaluate, squad_eval
    from assistant.evals.gold import load_gold
    from assistant.settings import resolve_settings

    settings = resolve_settings({"corpus": ROOT / "seeds", "index_dir": work / "index", "backend": "offline"})
    build_index(settings=settings)
    gold = evaluate.run(load_gold(ROOT / "evals/gold.jsonl", settings), settings, progress=False)["items"]
    follow = evaluate.run(load_gold(ROOT / "evals/followups.jsonl", settings), settings, progress=False)["items"]
    squad = squad_eval.run(squad_eval.plan(ROOT / squad_eval.DEFAULT_FILE), settings, progress=False)["items"]
    # Per item only what the counts are made of: the full rows are in `assistant eval`'s reports.
    items = {r["id"]: [r.get("all_facts", r.get("span_in_answer")), r["refused"], r.get("citation_covers_span"),
                       r.get("words")] for r in gold + follow + squad}  # fmt: skip
    print(json.dumps({"counts": counts(gold, follow, squad), "items": items}))


def counts(gold: list[dict], follow: list[dict], squad: list[dict]) -> dict:
    def block(lo, hi):
        return [r for r in gold if lo <= int(r["id"][1:]) <= hi]

    def n(rows, key, answerable=True):
        return sum(bool(r[key]) for r in rows if r["answerable"] == answerable)

    blind, tuned = block(66, 90), block(1, 65)
    return {
        "blind_facts": n(blind, "all_facts"),
        "blind_noans_refused": n(blind, "refused", False),
        "blind_right_source": n(blind, "right_source"),
        "blind_false_refusals": n(blind, "refused"),
        "follow_facts": n(follow, "all_facts"),
        "follow_noans_refused": n(follow, "refused", False),
        "squad_span": n(squad, "span_in_answer"),
        "squad_cite": n(squad, "citation_covers_span"),
        "squad_unans_refused": n(squad, "refused", False),
        "squad_false_refusals": n(squad, "refused"),
        "squad_median_words": statistics.median(r["words"] for r in squad if not r["refused"]),
        "tuned_facts": n(tuned, "all_facts"),
        "tuned_noans_refused": n(tuned, "refused", False),
        "totals": {
            "blind": sum(r["answerable"] for r in blind),
            "blind_noans": sum(not r["answerable"] for r in blind),
            "follow": sum(r["answerable"] for r in follow),
            "follow_noans": sum(not r["answerable"] for r in follow),
            "squad": sum(r["answerable"] for r in squad),
            "squad_noans": sum(not r["answerable"] for r in squad),
            "tuned": sum(r["answerable"] for r in tuned),
            "tuned_noans": sum(not r["answerable"] for r in tuned),
        },
    }


def losses(c: dict, base: dict) -> list[str]:
    """The held-out figures on which `c` is worse than `base`, with the change."""
    out = []
    for k, higher in HELD_OUT.items():
        d = c[k] - base[k]
        if (d < 0) if higher else (d > 0):
            out.append(f"{k} {d:+g}")
    return out


COLUMNS = [
    ("blind facts", "blind_facts", "blind"),
    ("blind no-ans refused", "blind_noans_refused", "blind_noans"),
    ("blind right source", "blind_right_source", "blind"),
    ("follow-up facts", "follow_facts", "follow"),
    ("follow-up no-ans refused", "follow_noans_refused", "follow_noans"),
    ("SQuAD span", "squad_span", "squad"),
    ("SQuAD cite", "squad_cite", "squad"),
    ("SQuAD unans refused", "squad_unans_refused", "squad_noans"),
    ("SQuAD false refusals", "squad_false_refusals", "squad"),
    ("SQuAD median words", "squad_median_words", None),
    ("q001-065 facts (info)", "tuned_facts", "tuned"),
    ("q001-065 no-ans refused (info)", "tuned_noans_refused", "tuned_noans"),
]


def table(results: dict) -> str:
    base = results["all-on"]["counts"]
    lines = [
        "| rule off | " + " | ".join(c[0] for c in COLUMNS) + " | verdict |",
        "| --- |" + " --- |" * (len(COLUMNS) + 1),
    ]
    for name, r in results.items():
        c = r["counts"]
        cells = []
        for _, key, total in COLUMNS:
            d = c[key] - base[key]
            shown = f"{c[key]:g}" if total is None else f"{c[key]}/{c['totals'][total]}"
            cells.append(shown + (f" ({d:+g})" if d and name != "all-on" else ""))
        lost = losses(c, base)
        verdict = "–" if name == "all-on" else ("keep: " + ", ".join(lost) if lost else "delete")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {verdict} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated configurations (default: all); a+b switches off both")
    ap.add_argument("--work", help="folder for the indexes, reused between runs (default: a temporary one)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "bench_rules_ablation.json"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--list", action="store_true", help="list the configurations and exit")
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-rules-"))
    if args.child is not None:
        child([n for n in args.child.split("+") if n], work)
        return
    if args.list:
        for name, (what, _) in CONFIGS.items():
            print(f"{name}: {what}")
        return
    wanted = args.only.split(",") if args.only else list(CONFIGS)
    if "all-on" not in wanted:
        wanted.insert(0, "all-on")
    unknown = [p for w in wanted for p in w.split("+") if p not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configuration(s): {', '.join(unknown)} (see --list)")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    for name in wanted:
        t = time.perf_counter()
        cmd = [sys.executable, __file__, "--work", str(work), "--child", name]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode or not lines:  # said, and the other configurations still measured
            print(f"{name}: the child failed (exit {proc.returncode}): {proc.stderr[-1500:]}", file=sys.stderr)
            continue
        r = json.loads(lines[-1])
        if name != "all-on":  # kept small: only the items whose outcome the switch changed
            base = results.get("all-on", {}).get("items", {})
            r["items_changed"] = {i: v for i, v in r.pop("items").items() if base.get(i) != v}
        results[name] = {"what": " + ".join(CONFIGS[p][0] for p in name.split("+")), **r}
        print(f"{name}: {r['counts']} ({time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
        out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(table(results))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
