"""The `assistant` command, run as a user runs it (a real subprocess)."""

import json
import os
import subprocess
import sys

import pytest


def run(*args, env_extra=None, input=None, timeout=180):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "assistant.apps.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        input=input,
        timeout=timeout,
    )


@pytest.fixture
def env(seeds_settings):
    return {"ASSISTANT_CORPUS": str(seeds_settings.corpus), "ASSISTANT_INDEX_DIR": str(seeds_settings.index_dir)}


def test_ask_prints_answer_and_numbered_sources(env):
    r = run("ask", "How much is Seoul expected to invest in the US?", env_extra=env)
    assert r.returncode == 0, r.stderr
    assert "350 billion" in r.stdout and "[1]" in r.stdout
    assert "Sources:" in r.stdout and "003_e5f950a99eaab371.txt" in r.stdout and "chars " in r.stdout


def test_ask_json_is_the_answer_contract(env):
    r = run("ask", "--json", "--top-k", "3", "What tariff did Trump threaten?", env_extra=env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["passages"]) == 3
    assert data["citations"] and {"n", "source", "title", "text", "start", "end"} <= set(data["citations"][0])


def test_interactive_mode_keeps_the_conversation(env):
    r = run("ask", env_extra=env, input="Which Chinese leader did Han Duck-soo meet?\nAnd how did Xi respond?\n\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("Sources:") == 2


def test_interactive_mode_does_not_carry_a_refused_question_into_the_next(env):
    r = run(
        "ask", env_extra=env, input="What do the sources say about “Mixed signals”?\nWhat is the 3050 Strategy?\n\n"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("The sources don't say") == 1 and r.stdout.count("Sources:") == 1
    assert "3050 Strategy" in r.stdout.split("The sources don't say")[1]


def test_errors_are_messages_with_exit_codes(env, tmp_path):
    r = run("ask", "   ", env_extra=env)
    assert r.returncode == 2 and "error: The question is empty" in r.stderr and "Traceback" not in r.stderr
    r = run("ask", "--top-k", "0", "tariffs?", env_extra=env)
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run("index", "--corpus", str(empty), "--index-dir", str(tmp_path / "i"))
    assert (
        r.returncode == 3
        and "No .txt/.md/.pdf/.docx/.html/.htm/.csv/.pptx/.xlsx/.png/.jpg/.jpeg/.tif/.tiff/.webp/.bmp files" in r.stderr
        and "Traceback" not in r.stderr
    )


def test_index_reports_what_it_did(tmp_path, corpus_dir):
    idx = tmp_path / "idx"
    r = run("index", "-q", "--corpus", str(corpus_dir), "--index-dir", str(idx))
    assert r.returncode == 0, r.stderr
    assert "5 added" in r.stdout
    r = run("index", "-q", "--corpus", str(corpus_dir), "--index-dir", str(idx))
    assert "0 added, 0 updated, 0 removed, 5 unchanged" in r.stdout
    r = run("index", "-q", "--rebuild", "--corpus", str(corpus_dir), "--index-dir", str(idx))
    assert "5 added" in r.stdout
