"""A build's progress as people read it, for `assistant index` and the chat
page: "report.txt — file 7 of 11, segment 12 of 24 · 1,850 words/s · about
3 min left". On a terminal `assistant index` draws it as a bar (tqdm, already
a dependency), elsewhere (a log, a pipe) it writes a line per file and per
segment; Ctrl-C stops the build at its next committed point, says what is
indexed, and exits 130.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from assistant.types import IndexProgress

INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)


def time_left(seconds: float | None) -> str:
    """'about 3 min left', as people say it: rounded, never to the second."""
    if seconds is None:
        return "estimating time left…"
    if seconds < 10:
        return "a few seconds left"
    if seconds < 90:
        return f"about {round(seconds / 10) * 10:.0f} s left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min left" if minutes else f"about {hours} h left"


def progress_text(p: IndexProgress, name: str | None = None) -> str:
    """The event in one line; `name` shows the file (default: its base name)."""
    where = f"{name if name is not None else Path(p.source).name} — file {p.file} of {p.files}"
    if p.segments:
        where += f", segment {p.segment} of {p.segments}"
    parts = [where]
    if p.words_per_s is not None:
        parts.append(f"{p.words_per_s:,.0f} words/s")
    parts.append(time_left(p.seconds_left))
    return " · ".join(parts)


class Lines:
    """A line per file and per segment of a large file (a log, a pipe): the
    groups embedded in between only update the rate the next line shows."""

    def __init__(self, out):
        self.out = out

    def __call__(self, p: IndexProgress) -> None:
        if p.event != "embedded":
            print(progress_text(p), file=self.out, flush=True)

    def close(self) -> None:
        pass


class Bar:
    """A bar on a terminal (tqdm): the share of the work done (by bytes, so a
    large file weighs its size; by files when the build expects no work),
    and the line of `progress_text` beside it. tqdm's own rate and time left
    would count updates, not work, so the bar shows ours."""

    def __init__(self, out):
        from tqdm import tqdm

        self.bar = tqdm(total=1, file=out, bar_format="{percentage:3.0f}%|{bar:20}| {desc}", leave=False, delay=0)

    def __call__(self, p: IndexProgress) -> None:
        if p.fraction is not None:
            self.bar.total, self.bar.n = 1, p.fraction
        else:
            self.bar.total, self.bar.n = p.files, p.file - 1
        self.bar.set_description_str(progress_text(p), refresh=True)

    def close(self) -> None:
        self.bar.close()


def index_command(rebuild: bool, quiet: bool, options: dict, out=None) -> int:
    """`assistant index`: build, showing the progress on `out` (stderr), and
    print the summary. The first Ctrl-C stops at the next committed point
    (exit 130, what is indexed said in one line); a second stops at once
    (the index stays consistent: the next build redoes only what was not committed)."""
    from assistant.api import build_index

    out = out or sys.stderr
    show = None if quiet else (Bar(out) if out.isatty() else Lines(out))
    cancel = threading.Event()

    def interrupted(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        # os.write, not print: a handler may run in the middle of a print.
        lead = b"\n" if isinstance(show, Bar) else b""  # off the bar's line
        try:
            os.write(out.fileno(), lead + b"stopping at the next committed point (Ctrl-C again to stop at once)\n")
        except (AttributeError, OSError, ValueError):  # a stream with no file descriptor: the stopped line says it
            pass

    # Only the main thread may set a signal handler; called from another, Ctrl-C stays the caller's.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, interrupted) if main else None
    try:
        report = build_index(rebuild=rebuild, on_progress=show, cancel=cancel, **options)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
        if show is not None:
            show.close()
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if report.stopped:
        print(f"{report.stopped_line()}; run `assistant index` to continue.", file=sys.stderr)
        return INTERRUPTED
    print(report.summary())
    return 0
