"""The eval harness: report contents, HTML safety, and the regression gate."""

import base64
import json
import os
import subprocess
import sys

import pytest

from assistant import AssistantError, Settings
from assistant.evals.evaluate import run
from assistant.evals.gate import compare
from assistant.evals.gold import load_gold
from assistant.evals.report import markdown, page, write

from conftest import ROOT, SEEDS

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
        [sys.executable, "-m", "assistant.apps.cli", "eval", "-q", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip


SQUAD_CI = ["--squad", "evals/squad/squad2-10-articles.json", "--squad-sample", "60"]


def test_offline_suite_passes_the_committed_baseline(seeds_settings, tmp_path):
    """The CI gate: the full gold set and a fixed sample of 60 SQuAD questions
    (held-out articles, a third unanswerable, asked over all ten articles)
    against evals/baseline.json."""
    r = eval_cli(seeds_settings, "--baseline", "evals/baseline.json", "--out", str(tmp_path / "rep"), *SQUAD_CI)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "gate: no metric below" in r.stdout and "not checked" not in r.stdout
    assert (tmp_path / "rep" / "report.html").is_file()
    squad = json.loads((tmp_path / "rep" / "report.json").read_text())["squad"]
    assert squad["summary"]["questions"] == 60 and squad["summary"]["unanswerable"] == 20
    assert squad["meta"]["label"] == "SQuAD held-out articles — sample of 60 of 623 questions (seed 13)"


def test_gate_fails_on_regression_and_baseline_changes_only_on_request(seeds_settings, tmp_path):
    committed = json.loads((ROOT / "evals" / "baseline.json").read_text())
    inflated = {**committed, "metrics": {**committed["metrics"], "key_fact_accuracy": 0.99}}
    (tmp_path / "high.json").write_text(json.dumps(inflated))
    r = eval_cli(seeds_settings, "--baseline", str(tmp_path / "high.json"), "--out", str(tmp_path / "a"))
    assert r.returncode == 1 and "REGRESSION" in r.stderr and "key_fact_accuracy" in r.stderr
    assert "not checked: the baseline's SQuAD figures" in r.stdout  # this run asked no SQuAD questions
    assert json.loads((tmp_path / "high.json").read_text()) == inflated  # the gate never rewrites it

    new = tmp_path / "new.json"
    r = eval_cli(seeds_settings, "--baseline", str(new), "--update-baseline", "--out", str(tmp_path / "b"))
    assert r.returncode == 0 and json.loads(new.read_text())["metrics"]["key_fact_accuracy"] > 0


# --- The gold set and the paths are checked before anything runs -------------
# These tests never build an index: the harness fails first.

GOOD = SMALL[0]


def gold_file(tmp_path, *items, name="gold.jsonl"):
    path = tmp_path / name
    path.write_text("".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items), encoding="utf-8")
    return path


def eval_cli_fast(tmp_path, *args):
    """The eval command on the seed corpus with an index folder that must stay unbuilt."""
    env = {**os.environ, "ASSISTANT_CORPUS": str(SEEDS), "ASSISTANT_INDEX_DIR": str(tmp_path / "index")}
    r = subprocess.run(
        [sys.executable, "-m", "assistant.apps.cli", "eval", "-q", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "index").exists()  # nothing was built
    return r


def without(item, key):
    return {k: v for k, v in item.items() if k != key}


def test_gold_problems_are_listed_one_line_each_with_line_and_id(tmp_path):
    flat = {**GOOD, "id": "flat", "must_include": ["xylophone concerto 999"]}
    no_quote = {**GOOD, "id": "noquote", "evidence": [{"source": "003_e5f950a99eaab371.txt"}]}
    missing_file = {**GOOD, "id": "nofile", "sources": ["999_missing.txt"],
                    "evidence": [{"source": "999_missing.txt", "quote": "Seoul"}]}  # fmt: skip
    not_verbatim = {
        **GOOD,
        "id": "retyped",
        "evidence": [{"source": "003_e5f950a99eaab371.txt", "quote": "no such words"}],
    }
    kinds = {**GOOD, "id": "kinds", "type": "trivia", "question": 7, "history": [{"role": "bot"}], "sources": "a.txt"}
    una = {**SMALL[1], "id": "una", "must_include": [["Macron"]]}
    path = gold_file(
        tmp_path, GOOD, flat, without(GOOD, "question") | {"id": "noq"}, without(GOOD, "id"), '["an", "array"]',
        no_quote, missing_file, {**GOOD, "note": "same id as line 1"}, "{not json", not_verbatim, kinds, una, "",
    )  # fmt: skip
    with pytest.raises(ValueError) as exc:
        load_gold(path, Settings(corpus=SEEDS, index_dir=tmp_path / "index"))
    err = exc.value
    assert isinstance(err, AssistantError) and err.exit_code == 2
    assert err.problems == str(err).splitlines()
    assert err.problems == [
        f"{path}:2 (flat): must_include must be a list of lists of strings"
        ' (its item 1 is a string: "xylophone concerto 999")',
        f"{path}:3 (noq): missing field: question",
        f"{path}:4: missing field: id",
        f"{path}:5: not a JSON object (an array)",
        f"{path}:6 (noquote): evidence 1 has no quote",
        f"{path}:7 (nofile): 999_missing.txt is not a file of the corpus {SEEDS}",
        f"{path}:8 (t1): duplicate id (first at {path}:1)",
        f"{path}:9: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        f"{path}:10 (retyped): evidence 1: the quote is not verbatim in 003_e5f950a99eaab371.txt",
        f"{path}:11 (kinds): type must be one of fact, paraphrase, numeric, multi-document, unanswerable,"
        ' follow-up, adversarial (not "trivia")',
        f"{path}:11 (kinds): question must be a string, not a number",
        f'{path}:11 (kinds): history must be a list of {{"role": "user"|"assistant", "content": string}}',
        f"{path}:11 (kinds): sources must be a list of file names (strings)",
        f"{path}:12 (una): an unanswerable item must have empty must_include, sources and evidence",
    ]


@pytest.mark.parametrize(
    "must_include, problem",
    [
        ("CSIS", "must_include must be a list of lists of strings, not a string"),
        ([[]], "must_include: group 1 is empty (give at least one alternate)"),
        ([["CSIS", ""]], "must_include: group 1 must hold non-empty strings"),
        ([["CSIS", 3]], "must_include: group 1 must hold non-empty strings"),
    ],
)
def test_must_include_shapes(tmp_path, must_include, problem):
    path = gold_file(tmp_path, {**GOOD, "must_include": must_include})
    with pytest.raises(ValueError) as exc:
        load_gold(path)
    assert exc.value.problems == [f"{path}:1 (t1): {problem}"]


def test_answerable_items_need_sources_and_evidence(tmp_path):
    path = gold_file(
        tmp_path, {**GOOD, "sources": []}, {**SMALL[1], "id": "t2", "type": "adversarial", "sources": ["x.txt"]}
    )
    with pytest.raises(ValueError) as exc:
        load_gold(path)  # without settings: the corpus is not looked at
    assert exc.value.problems == [
        f"{path}:1 (t1): an item with must_include needs sources and evidence too",
        f"{path}:2 (t2): an item without must_include (no answer) must have empty sources and evidence",
    ]


def test_the_committed_gold_set_is_valid():
    gold = load_gold(ROOT / "evals" / "gold.jsonl", Settings(corpus=SEEDS))
    assert len(gold) == 90


def test_run_checks_the_gold_set_before_building_anything(tmp_path):
    settings = Settings(corpus=SEEDS, index_dir=tmp_path / "index")
    with pytest.raises(ValueError) as exc:
        run([GOOD, {**GOOD, "must_include": ["xylophone concerto 999"]}, ["array"]], settings, progress=False)
    assert exc.value.problems == [
        "item 2 (t1): duplicate id (first at item 1)",
        'item 2 (t1): must_include must be a list of lists of strings (its item 1 is a string: "xylophone concerto 999")',
        "item 3: not a JSON object (an array)",
    ]
    assert not (tmp_path / "index").exists()
    with pytest.raises(ValueError, match="the gold set is empty"):
        run([], settings, progress=False)


CLI_CASES = {
    "flat must_include": (
        [{**GOOD, "must_include": ["xylophone concerto 999"]}],
        [],
        ":1 (t1): must_include must be a list of lists of strings",
    ),
    "no question": ([without(GOOD, "question")], [], ":1 (t1): missing field: question"),
    "no id": ([without(GOOD, "id")], [], ":1: missing field: id"),
    "array line": ([GOOD, '["a"]'], [], ":2: not a JSON object (an array)"),
    "not JSON": (['{"id": "x"'], [], ":1: not JSON: Expecting ',' delimiter"),
    "evidence without quote": (
        [{**GOOD, "evidence": [{"source": "003_e5f950a99eaab371.txt"}]}],
        [],
        ":1 (t1): evidence 1 has no quote",
    ),
    "file not in corpus": (
        [{**GOOD, "sources": ["nope.txt"], "evidence": [{"source": "nope.txt", "quote": "Seoul"}]}],
        [],
        ":1 (t1): nope.txt is not a file of the corpus",
    ),
    "duplicate ids": ([GOOD, GOOD], [], ":2 (t1): duplicate id (first at "),
    "empty gold": ([], [], "error: gold set is empty: "),
    "gold not found": (None, [], "error: gold set not found: "),
    "--out is a file": ([GOOD], ["--out", "{tmp}/gold.jsonl"], "is a file, not a folder"),
    "missing --baseline": ([GOOD], ["--baseline", "{tmp}/nope.json"], "nope.json: file not found"),
    "--baseline not a baseline": ([GOOD], ["--baseline", "{tmp}/gold.jsonl"], "gold.jsonl: not a baseline file"),
    "--baseline not JSON": ([GOOD], ["--baseline", str(ROOT / "evals" / "README.md")], "README.md: not JSON: "),
    "--update-baseline, no such folder": (
        [GOOD],
        ["--update-baseline", "--baseline", "{tmp}/no/such/baseline.json"],
        "baseline.json: cannot write a file there",
    ),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_bad_input_is_one_line_and_exit_2(tmp_path, case):
    items, extra, expected = CLI_CASES[case]
    gold = gold_file(tmp_path, *items) if items is not None else tmp_path / "missing.jsonl"
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    if "--out" not in extra:
        extra += ["--out", str(tmp_path / "out")]
    r = eval_cli_fast(tmp_path, "--gold", str(gold), *extra)
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], r.stderr
    assert not (tmp_path / "out").exists()


def test_every_problem_is_printed_before_anything_runs(tmp_path):
    path = gold_file(tmp_path, without(GOOD, "question"), '"text"', {**GOOD, "id": "t9", "type": "trivia"})
    r = eval_cli_fast(tmp_path, "--gold", str(path), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and r.stdout == ""
    assert [line.split(": ", 2)[1] for line in r.stderr.splitlines()] == [
        f"{path}:1 (t1)",
        f"{path}:2",
        f"{path}:3 (t9)",
    ]
