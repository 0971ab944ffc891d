"""benchmarks/bench_rules_ablation.py: each rule's switch reaches the rule,
and a rule is kept exactly when switching it off loses a held-out question."""

import subprocess
import sys

import bench_rules_ablation as ab

from conftest import ROOT


def test_every_switch_patches_a_rule_that_exists():
    # Run in a child, as the benchmark does: the patches are not undone.
    code = (
        "import sys; sys.path.insert(0, 'benchmarks'); import bench_rules_ablation as ab\n"
        "for name, (_, patch) in ab.CONFIGS.items(): patch()\n"
        "from assistant.answerers import extractive\n"
        "print(extractive.question_kind('How many troops are there?'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-800:]
    assert out.stdout.strip() == "general"  # the kind filter is off once every switch is


def test_a_switch_for_a_deleted_rule_is_an_error():
    import pytest

    with pytest.raises(SystemExit, match="no such attribute"):
        ab._set("assistant.answerers.extractive", NO_SUCH_RULE=1)


def _counts(**changes):
    base = {k: 10 for k in ab.HELD_OUT} | {k: 10 for k in ("tuned_facts", "tuned_noans_refused")}
    return base | changes


def test_one_question_lost_on_any_held_out_figure_keeps_the_rule():
    base = _counts()
    assert ab.losses(_counts(), base) == []
    assert ab.losses(_counts(blind_facts=9), base) == ["blind_facts -1"]
    assert ab.losses(_counts(squad_false_refusals=11), base) == ["squad_false_refusals +1"]
    # fewer false refusals, or a change only where thresholds were chosen, is no loss
    assert ab.losses(_counts(squad_false_refusals=3, tuned_facts=0), base) == []


def test_every_rule_left_has_its_held_out_figures_in_the_readme():
    # evals/README.md's table is what says why each rule stays.
    text = (ROOT / "evals" / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")}
    assert set(ab.CONFIGS) <= rows
