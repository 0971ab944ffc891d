"""The baseline gate of `assistant eval`: checking `--out` and `--baseline`
before anything runs, comparing a report with a baseline, and writing a new
baseline from a report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from assistant.errors import GoldFileError

# Metrics where lower is better; every other rate is higher-is-better.
LOWER_IS_BETTER = {"false_refusal_rate"}
RATES = [
    "hit_at_1", "hit_at_3", "hit_at_k", "mrr", "evidence_recall",
    "key_fact_recall", "key_fact_accuracy",
    "citation_precision", "citation_precision_evidence", "citation_recall", "gold_source_coverage",
    "refusal_accuracy", "false_refusal_rate",
]  # fmt: skip


DEFAULT_BASELINE = "evals/baseline.json"


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
