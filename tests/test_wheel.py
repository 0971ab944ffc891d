"""The built wheel works on its own (issue 14): `pip wheel .`, installed in a
fresh venv and run from another folder, answers a cited question.

Offline: the wheel is built without build isolation (setuptools from this
venv), and the fresh venv sees the dependencies through a `.pth` line naming
this venv's site-packages. A `.pth` *line* only adds the folder to sys.path;
the `.pth` files inside it (the editable finder that maps `assistant` to the
source tree) are not run, so `assistant` can only come from the wheel.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

DOC_A = """Harbour Lights Festival

The Harbour Lights Festival takes place every October in the town of Port Elwin.
The festival was founded in 1987 by the fisherman Tomas Varga. It draws about 40,000 visitors each year.
"""
DOC_B = """The Elwin Lighthouse

The Elwin Lighthouse stands 31 metres tall on the northern cape of Port Elwin.
It was built in 1874 and automated in 1962.
"""


def _pip_wheel_impossible() -> str | None:
    """Why `pip wheel --no-build-isolation` cannot run here, if it cannot."""
    for module in ("pip", "setuptools"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed in this venv: the wheel cannot be built offline without it"
    return None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    why = _pip_wheel_impossible()
    if why:
        pytest.skip(why)
    # Built from a copy: an in-tree build leaves build/ and *.egg-info in the
    # checkout, and the copy holds only what the wheel may draw on.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("assistant", "prompts"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", out, src],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=out,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (whl,) = out.glob("assistant-*.whl")
    return whl


def test_wheel_carries_every_module_prompt_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(REPO).as_posix() for p in (REPO / "assistant").rglob("*.py")}
    expected |= {p.relative_to(REPO).as_posix() for p in (REPO / "assistant" / "data").rglob("*") if p.is_file()}
    expected |= {f"assistant/_prompts/{p.name}" for p in (REPO / "prompts").iterdir() if p.is_file()}
    assert "assistant/_prompts/system.txt" in expected and "assistant/data/metonyms.json" in expected
    assert sorted(expected - names) == []


def _fresh_venv(root: Path, wheel: Path, env: dict[str, str]) -> Path:
    """A venv with the wheel installed and the dependencies borrowed; its python."""
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    site = Path(
        subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True)
        .strip()
    )  # fmt: skip
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--ignore-installed"]
        + ["-q", wheel],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    assert (site / "assistant" / "__init__.py").is_file(), install.stdout
    (site / "_deps_from_main_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_installed_wheel_answers_from_another_folder(wheel, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "festival.txt").write_text(DOC_A)
    (corpus / "lighthouse.txt").write_text(DOC_B)
    work = tmp_path / "elsewhere"
    work.mkdir()
    # Nothing may point back at the source tree or this session's settings.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("ASSISTANT")}
    env["HOME"] = str(tmp_path)
    python = _fresh_venv(tmp_path / "venv", wheel, env)

    where = subprocess.run(
        [python, "-c", "import assistant, assistant.prompts as p; print(assistant.__file__); print(p.prompts_dir())"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr[-2000:]
    module, prompts = where.stdout.split()
    assert Path(module).is_relative_to(tmp_path / "venv"), module
    assert Path(prompts) == Path(module).parent / "_prompts"

    ask = subprocess.run(
        [tmp_path / "venv" / "bin" / "assistant", "ask", "--corpus", corpus, "--index-dir", tmp_path / "idx"]
        + ["--json", "When was the Elwin Lighthouse built?"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=120,
    )
    assert ask.returncode == 0, ask.stderr[-2000:]
    answer = json.loads(ask.stdout)
    assert not answer["refused"], answer
    assert "1874" in answer["text"], answer["text"]
    cited = [c for c in answer["citations"] if "1874" in c["text"]]
    assert cited and cited[0]["source"] == "lighthouse.txt", answer["citations"]
    assert f"[{cited[0]['n']}]" in answer["text"]
