"""The README's promises: its test command is CI's, its example runs."""

import os
import re
import subprocess
import sys

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
