"""Rust panic messages kept off the terminal.

chromadb's embedded store is Rust. On some damage to its files one of its
threads panics, and Rust's default panic hook writes "thread '...' panicked
at ...", the message and a backtrace note straight to file descriptor 2,
beside the one line the failure becomes (`chroma.store_errors`); no setting
turns the hook off (RUST_BACKTRACE only trims the backtrace). So, while the
embedded store is opened and checked (where damage shows), descriptor 2 goes
to a temporary file; afterwards what it caught goes on to stderr without the
panic blocks, which are logged at debug level instead.

Only there: descriptor 2 is the whole process's, and a child process started
meanwhile (the embedder's worker, the reading process) would keep the
temporary file as its stderr, so the window is kept to that short step."""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

_PANIC = re.compile(r"^thread '.*' (?:\(\d+\) )?panicked at ")
_lock = threading.Lock()
_depth = 0  # windows open at once (threads), the descriptor restored when the last closes
_saved: int | None = None  # the real descriptor 2 while redirected
_capture = None  # the temporary file it goes to


def without_panics(text: str) -> str:
    """`text` less each Rust panic block: from its "thread '...' panicked at"
    line to its closing "note: ..." line (or the end), and the blank line
    Rust writes before it."""
    out: list[str] = []
    panic: list[str] | None = None
    for line in text.splitlines(keepends=True):
        if _PANIC.match(line):
            if out and not out[-1].strip():
                out.pop()
            panic = [line]
        elif panic is not None:
            panic.append(line)
            if line.startswith("note: "):
                log.debug("chromadb panicked:\n%s", "".join(panic))
                panic = None
        else:
            out.append(line)
    if panic:
        log.debug("chromadb panicked:\n%s", "".join(panic))
    return "".join(out)


def _redirect() -> bool:
    """Descriptor 2 to a temporary file, unless it already is (another
    thread's window); False when it cannot be."""
    global _depth, _saved, _capture
    with _lock:
        if _depth == 0:
            try:
                sys.stderr.flush()
                capture = tempfile.TemporaryFile()
                saved = os.dup(2)
                os.dup2(capture.fileno(), 2)
            except (OSError, ValueError, AttributeError):  # no descriptor 2 (a daemon), or no sys.stderr
                return False
            _saved, _capture = saved, capture
        _depth += 1
        return True


def _restore() -> None:
    global _depth, _saved, _capture
    with _lock:
        _depth -= 1
        if _depth:
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        os.dup2(_saved, 2)
        os.close(_saved)
        _capture.seek(0)
        rest = without_panics(_capture.read().decode("utf-8", "replace")).encode("utf-8", "replace")
        _capture.close()
        _saved = _capture = None
        while rest:
            rest = rest[os.write(2, rest) :]


@contextmanager
def quiet_panics(enabled: bool = True) -> Iterator[None]:
    """Descriptor 2 caught for the duration, and passed on without panic
    blocks when the last thread's window closes; nothing is caught when not
    `enabled` or when descriptor 2 cannot be redirected."""
    redirected = enabled and _redirect()
    try:
        yield
    finally:
        if redirected:
            _restore()
