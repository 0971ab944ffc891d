"""Where the files that ship with the package are: its data (models,
lexicons) and the prompt templates."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"


def data_path(*parts: str) -> Path:
    """A file of `assistant/data/` (package data, so the wheel carries it)."""
    return DATA_DIR.joinpath(*parts)


# No hub downloads, telemetry or version checks, on this or any air-gapped box.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def offline_env() -> None:
    """Set the variables of `OFFLINE_ENV` that the user has not set. Called
    where the libraries that read them load (the embedders, the chat page,
    the CLI), not on import: importing `assistant` leaves the environment
    alone."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
