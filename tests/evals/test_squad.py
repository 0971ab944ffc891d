"""`assistant eval --squad`: SQuAD-format questions scored by answer span,
citation span and refusals, in the same report and gate as the gold set."""

import json
import os
import subprocess
import sys

import pytest

from assistant.apps.cli import main
from assistant.errors import GoldFileError
from assistant.evals import squad
from assistant.evals.gate import baseline_from, compare, gate
from assistant.evals.squad_eval import (
    answer_words,
    check_file,
    covers,
    normalize,
    plan,
    run,
    sample,
    score,
    span_in_answer,
    summarize,
)

from conftest import ROOT

# --- A tiny SQuAD-format file: two articles, answerable and unanswerable questions


def _para(context, qas):
    out = []
    for qid, question, answer in qas:
        if answer is None:
            out.append({"id": qid, "question": question, "answers": [], "is_impossible": True})
        else:
            start = context.index(answer)
            out.append({"id": qid, "question": question, "answers": [{"text": answer, "answer_start": start}],
                        "is_impossible": False})  # fmt: skip
    return {"context": context, "qas": out}


HARBOR_1 = (
    "Glass Harbor is a fishing town on the northern coast of Veltria. The town was founded in 1742 by salt "
    "traders from Orwen. Its lighthouse, painted red and white, stands 38 metres tall."
)
HARBOR_2 = "The harbor freezes every winter, so the fishing fleet moves south to Port Amsel from December to March."
RAILWAY = (
    "The Copper Valley Railway opened in 1901 and carried ore from the Brask mines to the smelter at Lenholm. "
    "The line is 64 kilometres long. It was closed in 1968, when the last mine shut."
)
TINY = {
    "version": "v2.0",
    "data": [
        {
            "title": "Glass_Harbor",
            "paragraphs": [
                _para(
                    HARBOR_1,
                    [
                        ("h1", "In which year was Glass Harbor founded?", "1742"),
                        ("h2", "How tall is the lighthouse of Glass Harbor?", "38 metres"),
                        ("h3", "Who was the first mayor of Glass Harbor?", None),
                    ],
                ),
                _para(HARBOR_2, [("h4", "Where does the fishing fleet of Glass Harbor go in winter?", "Port Amsel")]),
            ],
        },
        {
            "title": "Copper_Valley_Railway",
            "paragraphs": [
                _para(
                    RAILWAY,
                    [
                        ("r1", "How long is the Copper Valley Railway?", "64 kilometres"),
                        ("r2", "In which year was the Copper Valley Railway closed?", "1968"),
                        ("r3", "How many passengers did the Copper Valley Railway carry in 1950?", None),
                    ],
                ),
            ],
        },
    ],
}


def tiny_file(tmp_path, data=TINY, name="tiny.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def eval_cli(env_extra, *args, timeout=300):
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "assistant.apps.cli", "eval", "-q", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout,
    )  # fmt: skip


def eval_main(capsys, tmp_path, *args):
    """`assistant eval` in this process (faster than a new one), on a one-item
    gold set and an index folder that must stay unbuilt."""
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(GOOD_GOLD) + "\n", encoding="utf-8")
    capsys.readouterr()
    code = main(["eval", "-q", "--gold", str(gold), "--index-dir", str(tmp_path / "index"),
                 "--out", str(tmp_path / "out"), *args])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err


# --- The metrics -----------------------------------------------------------------


def test_normalize_is_squads():
    assert normalize("The  Eiffel Tower, in Paris!") == "eiffel tower in paris"
    assert normalize("an apple a day") == "apple day"
    assert normalize("U.S. $350-billion") == "us 350billion"  # as SQuAD's script: punctuation dropped


def test_span_in_answer_ignores_case_articles_punctuation_and_markers():
    assert span_in_answer("It was founded in 1742 by salt traders [1].", ["1742"])
    assert span_in_answer("The fleet moves to PORT AMSEL [1][2].", ["Port Amsel"])
    assert span_in_answer("Its lighthouse stands 38 metres tall [1].", ["the 38 metres"])
    assert span_in_answer("Built 1889–1890 [1].", ["1889"])  # an en dash separates words
    assert span_in_answer("no", ["Yes", "no"])  # any of the gold answers
    # Whole words only, and a marker's number is not part of the answer.
    assert not span_in_answer("There were 10 of them [1].", ["1"])
    assert not span_in_answer("Nothing about it [1].", ["1"])
    assert not span_in_answer("Founded in 1742.", [])
    assert answer_words("Founded in 1742 [1]. By traders [2, 3].") == 5


def test_citation_covers_only_a_whole_gold_span_in_the_right_file():
    cites = [{"source": "a.txt", "start": 100, "end": 160}]
    assert covers(cites, "a.txt", [(120, 130)])
    assert covers(cites, "a.txt", [(100, 160)])
    assert covers(cites, "a.txt", [(0, 5), (150, 160)])  # one of several gold spans
    assert not covers(cites, "a.txt", [(150, 170)])  # overlapping is not covering
    assert not covers(cites, "b.txt", [(120, 130)])
    assert not covers([], "a.txt", [(120, 130)])


def _q(qid, answerable=True):
    return squad.Question(qid, "A", f"question {qid}?", answerable, ["1742"] if answerable else [],
                          [(10, 14)] if answerable else [])  # fmt: skip


def _rec(text, refused=False, cite=(0, 40)):
    cites = (
        [] if refused or cite is None else [{"n": 1, "source": "A.txt", "start": cite[0], "end": cite[1], "text": ""}]
    )
    return {"text": text, "refused": refused, "citations": cites, "timings": {"total_ms": 10.0}}


def test_refusals_are_counted_on_their_side():
    rows = [
        score(_q("a1"), "A.txt", _rec("Founded in 1742 by traders [1].")),  # right, cited
        score(_q("a2"), "A.txt", _rec("Founded in 1742 [1].", cite=(20, 40))),  # right, citation misses the span
        score(_q("a3"), "A.txt", _rec("The sources don't say.", refused=True)),  # false refusal: a miss
        score(_q("a4"), "A.txt", _rec("Salt traders came from Orwen over the hills [1].", cite=(50, 90))),  # wrong
        score(_q("u1", False), "A.txt", _rec("The sources don't say.", refused=True)),  # right refusal
        score(_q("u2", False), "A.txt", _rec("It was 1742 [1].")),  # answered an unanswerable one
    ]
    assert rows[2]["words"] is None and not rows[2]["span_in_answer"] and not rows[2]["citation_covers_span"]
    s = summarize(rows)
    assert (s["questions"], s["answerable"], s["unanswerable"], s["answered"]) == (6, 4, 2, 4)
    assert s["span_in_answer"] == 0.5  # a1, a2 of four answerable; the refusal counts as a miss
    assert s["citation_covers_span"] == 0.25  # a1
    assert s["false_refusals"] == 0.25  # a3
    assert s["unanswerable_refused"] == 0.5  # u1
    assert s["median_answer_words"] == 4.0  # of the four answers given: 5, 3, 8, 3 words
    assert s["passed"] == 2  # a1 and u1
    none = summarize([score(_q("a1"), "A.txt", _rec("", refused=True))])
    assert none["median_answer_words"] is None and none["unanswerable_refused"] is None


def test_sample_is_fixed_and_stratified():
    qs = [_q(f"a{i}") for i in range(90)] + [_q(f"u{i}", False) for i in range(30)]
    s = sample(qs, 30)
    assert len(s) == 30 and sum(not q.answerable for q in s) == 10
    assert [q.id for q in s] == [q.id for q in sample(qs, 30)]  # the same every time
    assert [q.id for q in s] != [q.id for q in sample(qs, 30, seed=1)]
    assert [q.id for q in s] == [q.id for q in qs if q in s]  # in the file's order
    assert sample(qs, 500) == qs and sample(qs, None) == qs
    few = sample(qs[:90] + qs[90:93], 30)  # three unanswerable only: all of them
    assert len(few) == 30 and sum(not q.answerable for q in few) == 3


def test_gate_reads_squad_figures_with_their_own_tolerance():
    base = {"tolerance": 0.02, "tolerances": {"squad_median_answer_words": 5},
            "metrics": {"squad_span_in_answer": 0.7, "squad_false_refusals": 0.1, "squad_median_answer_words": 40}}  # fmt: skip
    assert (
        compare({"squad_span_in_answer": 0.69, "squad_false_refusals": 0.11, "squad_median_answer_words": 44}, base)
        == []
    )
    problems = compare(
        {"squad_span_in_answer": 0.6, "squad_false_refusals": 0.2, "squad_median_answer_words": 46}, base
    )
    assert [p.split(":")[0] for p in problems] == ["squad_span_in_answer", "squad_false_refusals",
                                                   "squad_median_answer_words"]  # fmt: skip
    # A run without SQuAD questions: their figures are not checked, and said so.
    report = {"summary": {"key_fact_accuracy": 0.7}}
    problems, notes = gate(
        report, {**base, "squad": {"file": "x.json", "select": "held-out", "sample": 60, "seed": 13}}
    )
    assert problems == [] and "--squad x.json --squad-sample 60" in notes[0]


def test_a_baseline_written_without_squad_keeps_the_squad_figures():
    report = {"meta": {"backend": "offline", "date": "d"}, "summary": {"items": 1, "key_fact_accuracy": 0.5}}
    previous = {"metrics": {"key_fact_accuracy": 0.9, "squad_span_in_answer": 0.7},
                "squad": {"sample": 60}, "tolerances": {"squad_median_answer_words": 5}}  # fmt: skip
    new = baseline_from(report, 0.02, previous)
    assert new["metrics"] == {"key_fact_accuracy": 0.5, "squad_span_in_answer": 0.7}
    assert new["squad"] == {"sample": 60} and new["tolerances"] == previous["tolerances"]
    assert "squad" not in baseline_from(report, 0.02)


# --- Malformed files: one line, exit 2, nothing built ----------------------------

GOOD_GOLD = {
    "id": "t1", "type": "numeric", "question": "How much is Seoul expected to invest in the US?", "history": [],
    "answer": "About $350 billion.", "must_include": [["350 billion"]], "sources": ["003_e5f950a99eaab371.txt"],
    "evidence": [{"source": "003_e5f950a99eaab371.txt", "quote": "Seoul is expected to invest around US$350 billion"}],
}  # fmt: skip


def _broken(path):
    data = json.loads(json.dumps(TINY))
    path(data)
    return data


BAD = {
    "not JSON": ('{"data": [', "not JSON"),
    "no data": ({"version": "v2"}, 'with "data": a list of articles'),
    "no context": (_broken(lambda d: d["data"][0]["paragraphs"][0].pop("context")), '"context": a string'),
    "answer elsewhere": (
        _broken(lambda d: d["data"][1]["paragraphs"][0]["qas"][0]["answers"][0].update(answer_start=3)),
        "question r1: answer '64 kilometres' is not at offset 3",
    ),
    "no answers": (
        _broken(lambda d: d["data"][1]["paragraphs"][0]["qas"][1].update(answers=[])),
        'an answerable question needs "answers"',
    ),
    "two problems": (
        _broken(lambda d: [d["data"][0]["paragraphs"][1].pop("context"), d["data"][1].pop("paragraphs")]),
        "(and 1 more problem)",
    ),
    "no questions": ({"data": []}, "it holds no questions"),
    "missing file": (None, "SQuAD file not found"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_malformed_squad_file_is_one_line_and_exit_2(tmp_path, capsys, case):
    data, expected = BAD[case]
    path = tiny_file(tmp_path, data) if data is not None else tmp_path / "none.json"
    with pytest.raises(GoldFileError) as exc:
        check_file(path)
    assert len(exc.value.problems) == 1 and expected in exc.value.problems[0]
    code, out, err = eval_main(capsys, tmp_path, "--squad", str(path), "--squad-articles", "all")
    assert code == 2 and out == "", err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
    assert not (tmp_path / "index").exists() and not (tmp_path / "out").exists()


def test_a_malformed_squad_file_stops_the_command_with_exit_2(tmp_path):
    """The same through a real process: its exit code, one line, no traceback."""
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(GOOD_GOLD) + "\n", encoding="utf-8")
    r = eval_cli({"ASSISTANT_INDEX_DIR": str(tmp_path / "index")}, "--gold", str(gold), "--squad",
                 str(tiny_file(tmp_path, '{"data": [')), "--out", str(tmp_path / "out"), timeout=60)  # fmt: skip
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith("error: ") and "not a SQuAD-format JSON file" in r.stderr
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], "none of the held-out articles"),
        (["--squad-articles", "Atlantis"], "--squad-articles: no article Atlantis in the file"),
        (["--squad-articles", "all", "--squad-sample", "0"], "--squad-sample 0: must be a number of questions"),
        (
            ["--squad-articles", "all", "--baseline", str(ROOT / "evals" / "baseline.json")],
            "its SQuAD figures were measured on other questions (SQuAD held-out articles — sample of 60",
        ),
    ],
)
def test_bad_squad_options_are_one_line_and_exit_2(tmp_path, capsys, args, expected):
    code, out, err = eval_main(capsys, tmp_path, "--squad", str(tiny_file(tmp_path)), *args)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and expected in lines[0], err
    assert not (tmp_path / "index").exists()


# --- End to end: a real index, the public answer(), the report and the gate -------


def test_eval_squad_end_to_end(seeds_settings, tmp_path):
    path = tiny_file(tmp_path)
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(GOOD_GOLD) + "\n", encoding="utf-8")
    env = {"ASSISTANT_CORPUS": str(seeds_settings.corpus), "ASSISTANT_INDEX_DIR": str(seeds_settings.index_dir)}
    new = tmp_path / "baseline.json"
    common = ["--gold", str(gold), "--squad", str(path), "--squad-articles", "all"]
    r = eval_cli(env, *common, "--out", str(tmp_path / "a"), "--baseline", str(new), "--update-baseline")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    report = json.loads((tmp_path / "a" / "report.json").read_text())
    sq = report["squad"]
    assert report["summary"]["items"] == 1  # the gold set ran beside it
    assert sq["meta"]["label"] == "SQuAD all articles — all 7 questions"
    assert sq["meta"]["corpus_articles"] == 2 and sq["meta"]["index"].startswith("2 added")
    s = sq["summary"]
    assert (s["questions"], s["answerable"], s["unanswerable"]) == (7, 5, 2)
    assert set(sq["by_article"]) == {"Glass_Harbor", "Copper_Valley_Railway"}
    assert sum(a["questions"] for a in sq["by_article"].values()) == 7
    rows = {r["id"]: r for r in sq["items"]}
    # Gold spans are offsets in the article files written under the index folder.
    files = {"Glass_Harbor": "Glass_Harbor.txt", "Copper_Valley_Railway": "Copper_Valley_Railway.txt"}
    for row in rows.values():
        assert row["file"] == files[row["article"]]
    folder = next((seeds_settings.index_dir / "squad").glob("*/corpus"))
    texts = {f: (folder / f).read_text(encoding="utf-8") for f in files.values()}
    assert texts["Copper_Valley_Railway.txt"].startswith("Copper Valley Railway\n\n")
    for row in rows.values():
        for (s0, e0), gold_text in zip(row["spans"], row["gold"]):
            assert texts[row["file"]][s0:e0] == gold_text
    # Answers cite the article files by offsets into them: a covering citation
    # holds the gold answer. (How many are right is the answerer's business.)
    assert any(r["span_in_answer"] and r["citation_covers_span"] for r in rows.values())
    for row in rows.values():
        for c in row["citations"]:
            assert c["source"] in texts and 0 <= c["start"] < c["end"] <= len(texts[c["source"]])
        if row["citation_covers_span"]:
            assert any(row["gold"][0] in texts[c["source"]][c["start"] : c["end"]] for c in row["citations"])
    # The summary is the items' own count.
    ans = [r for r in rows.values() if r["answerable"]]
    assert s["span_in_answer"] == round(sum(r["span_in_answer"] for r in ans) / 5, 4)
    assert s["false_refusals"] == round(sum(r["refused"] for r in ans) / 5, 4)
    assert s["unanswerable_refused"] == round(sum(rows[q]["refused"] for q in ("h3", "r3")) / 2, 4)

    # The same report: Markdown table, HTML with the chart, JSON.
    md = (tmp_path / "a" / "report.md").read_text()
    assert "## SQuAD all articles — all 7 questions" in md and "| gold span in the answer |" in md
    assert "| all key facts |" in md
    html = (tmp_path / "a" / "report.html").read_text()
    assert "SQuAD all articles — all 7 questions" in html and html.count("data:image/png;base64,") == 1
    assert "Copper_Valley_Railway (3)" in html

    # The baseline holds the SQuAD figures and which questions they are from.
    base = json.loads(new.read_text())
    assert base["metrics"]["squad_span_in_answer"] == s["span_in_answer"]
    assert base["metrics"]["squad_median_answer_words"] == s["median_answer_words"]
    assert base["squad"]["sample"] is None and base["squad"]["articles"] == list(files)
    # Each may lose one question's worth (2 unanswerable: 0.5), the median 5 words.
    assert base["tolerances"] == {"squad_span_in_answer": 0.201, "squad_citation_covers_span": 0.201,
                                  "squad_false_refusals": 0.201, "squad_unanswerable_refused": 0.501,
                                  "squad_median_answer_words": 5.0}  # fmt: skip

    # The gate checks them: a higher baseline figure is a regression.
    high = {**base, "metrics": {**base["metrics"], "squad_citation_covers_span": 1.01}}
    (tmp_path / "high.json").write_text(json.dumps(high))
    r = eval_cli(env, *common, "--out", str(tmp_path / "b"), "--baseline", str(tmp_path / "high.json"))
    assert r.returncode == 1 and "REGRESSION" in r.stderr and "squad_citation_covers_span" in r.stderr, r.stderr
    assert "squad_span_in_answer" not in r.stderr
    # The second run used the same corpus folder and index.
    again = json.loads((tmp_path / "b" / "report.json").read_text())["squad"]["meta"]
    assert again["index_dir"] == sq["meta"]["index_dir"] and again["index"].startswith(
        "0 added, 0 updated, 0 removed, 2 unchanged"
    )


def test_run_from_python_asks_a_sample(seeds_settings, tmp_path):
    p = plan(tiny_file(tmp_path), "all", n=3, seed=13)
    assert p["meta"]["sample"] == 3 and len(p["asked"]) == 3 and sum(not q.answerable for q in p["asked"]) == 1
    rep = run(p, seeds_settings, progress=False)
    assert rep["summary"]["questions"] == 3
    assert rep["meta"]["label"] == "SQuAD all articles — sample of 3 of 7 questions (seed 13)"
