"""Reading a file in a separate process, abandoned after a time limit.

PDF, Word and HTML parsers are C code (PDFium, lxml) working on files from
anywhere: an encrypted, huge or hostile file could keep one busy for
minutes, and a thread cannot be stopped. So readers that say `isolated`
run in one long-lived child process (started once, with `spawn`, since the
builder has threads; ~0.3 s); a read that takes longer than the limit gets
the process killed (the next read starts a new one) and the file is skipped
with a reason. The process is a daemon: it ends with this one."""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path

from assistant.ingest.base import DocumentReader

STARTUP_SECONDS = 60
_lock = threading.Lock()  # one read at a time goes to the process
_worker: tuple | None = None  # (process, connection)


def _serve(conn) -> None:
    import assistant.ingest.readers  # noqa: F401  (the readers' modules, before the clock starts)

    conn.send(("ready", None))
    while True:
        try:
            reader, data, path = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", reader.read(data, path)))
        except ValueError as e:
            conn.send(("skip", str(e)))
        except Exception as e:  # a parser's own error on a bad file: a reason, not a crash
            conn.send(("skip", f"cannot be read ({type(e).__name__}: {e})"[:300]))


def _start():
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child,), name="assistant-reader", daemon=True)
    proc.start()
    child.close()
    # The time limit is for reading, not for starting Python (slow on a busy machine).
    if not parent.poll(STARTUP_SECONDS):
        proc.kill()
        raise ValueError(f"the reading process did not start within {STARTUP_SECONDS} s")
    try:
        parent.recv()
    except EOFError:
        proc.kill()
        raise ValueError("the reading process failed to start") from None
    return proc, parent


def stop() -> None:
    """End the reading process, if there is one."""
    global _worker
    with _lock:
        _stop()


def _stop() -> None:
    global _worker
    if _worker is not None:
        proc, conn = _worker
        _worker = None
        conn.close()
        proc.kill()
        proc.join(5)


def read_text(reader: DocumentReader, data: bytes, path: Path, timeout: float) -> str:
    """`reader.read(data, path)`, in the reading process when the reader is
    `isolated` (with the time limit), else here. ValueError with the reason
    when the file is unusable or its reading took too long."""
    if not getattr(reader, "isolated", False):
        return reader.read(data, path)
    global _worker
    with _lock:
        for attempt in (0, 1):
            if _worker is None or not _worker[0].is_alive():
                _stop()
                _worker = _start()
            proc, conn = _worker
            try:
                conn.send((reader, data, Path(path)))
                if not conn.poll(timeout):
                    _stop()
                    raise ValueError(f"reading it took longer than {timeout:g} s (the read_timeout setting)")
                status, value = conn.recv()
                break
            except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
                # The process died (a parser crash on this file, or killed):
                # once more in a fresh one, then the file is given up.
                _stop()
                if attempt:
                    raise ValueError("the reader crashed on it") from None
    if status == "skip":
        raise ValueError(value)
    return value
