"""What the assistant's child processes (the embedding worker, the document
reader) share: they end with the process that started them."""

from __future__ import annotations

import os
import signal

PARENT_ENV = "ASSISTANT_CHILD_OF"  # the starting process's pid, set in the child's environment


def child_env(env: dict[str, str]) -> dict[str, str]:
    """`env` for a child process started by this one (see `die_with_parent`)."""
    return {**env, PARENT_ENV: str(os.getpid())}


def ignore_interrupts() -> None:
    """Ctrl-C in a terminal reaches the whole process group: a child leaves
    it to the parent, which stops the build at a committed point and ends
    its children (a reader killed by it would have its file recorded as
    unreadable)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def die_with_parent() -> None:
    """End this process as soon as the process that started it dies, even by
    SIGKILL. Ending on EOF of stdin is not enough: after `kill -9` of
    `assistant index` its embedding worker went on with the batch it held,
    up to a minute of both cores, before it read the EOF. Linux only (prctl
    PR_SET_PDEATHSIG); elsewhere the EOF still ends the child."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = os.environ.get(PARENT_ENV)
    if parent and parent.isdigit() and os.getppid() != int(parent):
        os._exit(1)  # it died before prctl took effect
