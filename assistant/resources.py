"""Where the files that ship with the package are: its data (models,
lexicons) and the prompt templates."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"


def data_path(*parts: str) -> Path:
    """A file of `assistant/data/` (package data, so the wheel carries it)."""
    return DATA_DIR.joinpath(*parts)
