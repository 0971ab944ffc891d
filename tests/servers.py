"""Starting the real servers the tests talk to (chat page, llama.cpp, Chroma)
on free 127.0.0.1 ports."""

import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(cmd: list[str], url: str, what: str, timeout: float = 60.0, env: dict | None = None):
    """Run `cmd` until `url` answers; yield the process; stop it afterwards.
    Its output goes to a file (a pipe nobody reads would fill and block it),
    whose tail is the error when it exits or does not answer in time."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)

        def tail() -> str:
            log.seek(0)
            return log.read().decode(errors="replace")[-2000:]

        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    urllib.request.urlopen(url, timeout=1)
                    break
                except OSError:
                    if proc.poll() is not None:
                        raise RuntimeError(f"{what} exited at start:\n{tail()}") from None
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{what} did not answer in {timeout:.0f} s:\n{tail()}") from None
                    time.sleep(0.2)
            yield proc
        finally:
            proc.terminate()
            proc.wait(timeout=10)
