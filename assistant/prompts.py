"""Load prompt and message templates from the `prompts/` folder."""

from __future__ import annotations

import json
import string
from functools import cache
from pathlib import Path


def prompts_dir() -> Path:
    """The prompt templates: assistant/_prompts/ in an installed wheel, else
    prompts/ beside the package (a source checkout, the agreed layout)."""
    # The wheel's copy first: beside an installed package is site-packages,
    # where a "prompts" folder would belong to some other distribution.
    here = Path(__file__).resolve().parent
    for cand in (here / "_prompts", here.parent / "prompts"):
        if cand.is_dir():
            return cand
    raise FileNotFoundError("prompts/ folder not found")


@cache
def load(name: str) -> str:
    return (prompts_dir() / name).read_text(encoding="utf-8").strip()


@cache
def load_json(name: str) -> dict:
    return json.loads(load(name))


def fields(template: str) -> set[str]:
    """The placeholder names a template uses."""
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def render(template: str, **values: str) -> str:
    missing = fields(template) - set(values)
    if missing:
        raise KeyError(f"prompt placeholders not filled: {sorted(missing)}")
    return template.format(**values)
