"""The check every reader of a text format makes first."""

from __future__ import annotations


def check_text_head(data: bytes) -> None:
    # NUL bytes early on: a binary file that happens to have a text suffix.
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
