"""The README's promises: its test command is CI's, its example runs."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"^python3 -m venv .*$", README, re.M)
    assert len(commands) == 2, "README must show exactly two set-up commands"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()
    assert "assistant chat" in commands[0]


def test_python_example_runs(seeds_settings, tmp_path):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    (tmp_path / "seeds").symlink_to(seeds_settings.corpus)
    env = {
        **os.environ,
        "ASSISTANT_CORPUS": str(seeds_settings.corpus),
        "ASSISTANT_INDEX_DIR": str(seeds_settings.index_dir),
    }
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "350 billion" in r.stdout


def _extending_blocks() -> dict[str, str]:
    """The README's Extending examples: the code of each new file (up to the
    registry line), by the class it defines."""
    part = README[README.index("## Extending") :]
    part = part[: part.index("\n## ", 5)]
    out = {}
    for code in re.findall(r"```python\n(.*?)```", part, re.S):
        new_file = code.split("\n# assistant/", 2)[0] if code.count("# assistant/") > 1 else code
        name = re.search(r"^class (\w+)", new_file, re.M)
        if name and "..." not in new_file:
            out[name.group(1)] = new_file
    return out


def test_the_extending_examples_work(tmp_path):
    from dataclasses import replace
    from pathlib import Path

    from assistant import Settings
    from assistant.errors import LLMError
    from assistant.ingest.base import DocumentReader
    from assistant.retrieval.base import Reranker
    from assistant.types import Passage

    blocks = _extending_blocks()
    assert set(blocks) == {"MailReader", "RecentFirst", "EchoModel"}
    ns: dict = {}
    for code in blocks.values():
        exec(compile(code, "README.md", "exec"), ns)

    reader = ns["MailReader"]()
    assert isinstance(reader, DocumentReader)
    text = reader.read(b"Subject: Ferry times\nContent-Type: text/plain\n\nThe ferry leaves at noon.\n", Path("a.eml"))
    assert text.startswith("Ferry times") and "leaves at noon" in text

    p = Passage(n=1, id="a", source="2024.txt", title="", text="", start=0, end=0, score=0.0)
    q = replace(p, n=2, id="b", source="2025.txt")
    rr = ns["RecentFirst"]()
    assert isinstance(rr, Reranker)
    got, _, rel = rr.rerank("q", [p, q], [])
    assert [(x.id, x.n) for x in got] == [("b", 1), ("a", 2)] and rel is None

    model = ns["EchoModel"](Settings(corpus=tmp_path))
    assert model.complete([{"role": "user", "content": "q"}]) == "The sources say so [1]."
    with pytest.raises(LLMError):
        model.complete([])
