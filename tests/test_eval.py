"""The eval harness: report contents, HTML safety, and the regression gate."""

import base64
import json
import os
import subprocess
import sys

import pytest

from assistant.evaluate import compare, load_gold, run
from assistant.report import markdown, page, write

from conftest import ROOT

SMALL = [
    {
        "id": "t1", "type": "numeric", "question": "How much is Seoul expected to invest in the US?", "history": [],
        "answer": "About $350 billion.", "must_include": [["350 billion"]], "sources": ["003_e5f950a99eaab371.txt"],
        "evidence": [{"source": "003_e5f950a99eaab371.txt", "quote": "Seoul is expected to invest around US$350 billion in U.S. assets"}],
    },
    {
        "id": "t2", "type": "unanswerable", "question": "What did Emmanuel Macron say about the summit?",
        "history": [], "answer": "", "must_include": [], "sources": [], "evidence": [],
    },
    {
        "id": "t3", "type": "fact", "question": "Which think tank said a trade deal is urgent? <script>alert(1)</script> <b>bold</b>", "history": [],
        "answer": "CSIS.", "must_include": [["zzz-not-there"]], "sources": ["000_5ee872053de253e0.txt"],
        "evidence": [{"source": "000_5ee872053de253e0.txt", "quote": "CSIS analyzed that"}],
    },
]  # fmt: skip


@pytest.fixture(scope="module")
def report(seeds_settings):
    return run(SMALL, seeds_settings, progress=False)


def test_report_has_stable_keys_and_sound_numbers(report):
    assert set(report) == {"meta", "summary", "by_type", "items"}
    s = report["summary"]
    for key in ("hit_at_1", "hit_at_k", "mrr", "evidence_recall", "key_fact_recall", "key_fact_accuracy",
                "citation_precision", "citation_precision_evidence", "citation_recall", "gold_source_coverage",
                "refusal_accuracy", "false_refusal_rate", "latency_ms", "passed"):  # fmt: skip
        assert key in s, key
    assert s["items"] == 3 and s["answerable"] == 2 and s["unanswerable"] == 1
    assert s["refusal_accuracy"] == 1.0  # Macron is refused
    assert s["key_fact_accuracy"] == 0.5  # t3's fact is not in any answer
    t1 = report["items"][0]
    assert t1["all_facts"] and t1["right_source"] and 1 <= t1["evidence_rank"] <= 3
    assert t1["citation_checks"] and all(c["ok"] for c in t1["citation_checks"])
    assert any(c["evidence"] for c in t1["citation_checks"])  # the citation lies on the gold quote
    assert set(report["by_type"]) == {"numeric", "unanswerable", "fact"}
    assert s["latency_ms"]["total_ms"]["p50"] > 0


def test_html_is_self_contained_and_escapes_text(report, tmp_path):
    html = page(report)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html
    png = html.split("data:image/png;base64,")[1].split("'")[0]
    assert base64.b64decode(png).startswith(b"\x89PNG")
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    assert "t3" in html and "zzz-not-there" in html  # failing item with what was missing
    paths = write(report, tmp_path / "out")
    assert json.loads(paths["json"].read_text())["summary"]["items"] == 3
    assert "| all key facts |" in paths["md"].read_text() and "t3" in markdown(report)


def test_compare_flags_drops_beyond_tolerance():
    base = {"tolerance": 0.02, "metrics": {"key_fact_accuracy": 0.7, "false_refusal_rate": 0.0, "mrr": None}}
    assert compare({"key_fact_accuracy": 0.69, "false_refusal_rate": 0.01}, base) == []
    problems = compare({"key_fact_accuracy": 0.6, "false_refusal_rate": 0.05}, base)
    assert len(problems) == 2 and "key_fact_accuracy" in problems[0]
    assert compare({}, {"metrics": {"hit_at_1": 0.5}}) == ["hit_at_1: missing (baseline 0.5)"]


def eval_cli(settings, *args):
    env = {**os.environ, "ASSISTANT_CORPUS": str(settings.corpus), "ASSISTANT_INDEX_DIR": str(settings.index_dir)}
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", "eval", "-q", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip


def test_offline_suite_passes_the_committed_baseline(seeds_settings, tmp_path):
    """The CI gate: the full gold set against evals/baseline.json."""
    r = eval_cli(seeds_settings, "--baseline", "evals/baseline.json", "--out", str(tmp_path / "rep"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "gate: no metric below" in r.stdout
    assert (tmp_path / "rep" / "report.html").is_file()


def test_gate_fails_on_regression_and_baseline_changes_only_on_request(seeds_settings, tmp_path):
    committed = json.loads((ROOT / "evals" / "baseline.json").read_text())
    inflated = {**committed, "metrics": {**committed["metrics"], "key_fact_accuracy": 0.99}}
    (tmp_path / "high.json").write_text(json.dumps(inflated))
    r = eval_cli(seeds_settings, "--baseline", str(tmp_path / "high.json"), "--out", str(tmp_path / "a"))
    assert r.returncode == 1 and "REGRESSION" in r.stderr and "key_fact_accuracy" in r.stderr
    assert json.loads((tmp_path / "high.json").read_text()) == inflated  # the gate never rewrites it

    new = tmp_path / "new.json"
    r = eval_cli(seeds_settings, "--baseline", str(new), "--update-baseline", "--out", str(tmp_path / "b"))
    assert r.returncode == 0 and json.loads(new.read_text())["metrics"]["key_fact_accuracy"] > 0


def test_bad_gold_file_is_a_clear_error(seeds_settings, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"\n')
    r = eval_cli(seeds_settings, "--gold", str(bad))
    assert r.returncode == 2 and "cannot read gold set" in r.stderr
    with pytest.raises(ValueError, match="not JSON"):
        load_gold(bad)
