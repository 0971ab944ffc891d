"""A real full disk for the tests: a small tmpfs mounted for one test (the
tests run as root in CI; elsewhere the test is skipped and says why)."""

from __future__ import annotations

import errno
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(folder: Path, size: str = "2m"):
    """A tmpfs of `size` mounted on `folder` (created), unmounted after."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("no mount command: a real full disk cannot be made here")
    if r.returncode:
        pytest.skip(f"a {size} tmpfs cannot be mounted here (needs root): {r.stderr.strip() or r.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def fill(folder: Path) -> Path:
    """Write a file into `folder` until its disk is full, to the last block; its path."""
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as fh:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
    return filler
