"""Reading a file in a separate process, abandoned after a time limit.

PDF, Word and HTML parsers are C code (PDFium, lxml) working on files from
anywhere: an encrypted, huge or hostile file could keep one busy for
minutes, and a thread cannot be stopped. So readers that say `isolated`
run in one long-lived child process (`python -m assistant.ingest.isolate`,
started on first use, as the embedder's worker is: no re-import of the
caller's script, unlike multiprocessing's spawn). A read that takes longer
than the limit gets the process killed (the next read starts a new one) and
the file is skipped with a reason; a reader that reads page by page (OCR)
says when it starts each page, and the limit counts from there. Its memory is capped too (a DOCX that
expands to 2 GiB took 4.2 GB): a read that runs out of it is skipped, and
the process, which may be left in a bad state, is replaced; a zip-based file
whose parts would expand too far is not opened (`archives.check_zip`). The
child ends when this process closes its end of the pipe, i.e. with this
process."""

from __future__ import annotations

import os
import pickle
import resource
import select
import struct
import subprocess
import sys
import threading
from pathlib import Path

from assistant.ingest.archives import ZIP_MAGIC, check_zip
from assistant.ingest.base import DocumentReader

STARTUP_SECONDS = 60  # the time limit is for reading, not for starting Python on a busy machine
_HEADER = struct.Struct("<Q")
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent.parent)
_lock = threading.Lock()  # one read at a time goes to the process
_proc: subprocess.Popen | None = None


def _write(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_exact(stream, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            raise EOFError
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _read(stream):
    (n,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return pickle.loads(_read_exact(stream, n))


def _cap_memory(memory_mb: float | None) -> None:
    """Cap this process's address space (None: lift the cap). RLIMIT_AS, as
    every mapping counts, so a parser cannot get round it with mmap; the
    readers' libraries take ~250 MB of it (measured on a PDF, a DOCX and a
    page). An allocation past it is a MemoryError, in C code as in Python."""
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    soft = hard if memory_mb is None else int(memory_mb * 2**20)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def out_of_memory(memory_mb: float | None) -> str:
    if not memory_mb:
        return "reading it ran out of memory"
    return f"reading it needed more than {memory_mb:g} MB of memory (the read_memory_mb setting)"


def _serve() -> None:
    import assistant.ingest.readers  # noqa: F401  (the readers' modules, before the clock starts)
    from assistant.processes import ignore_interrupts

    ignore_interrupts()

    src, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a library that prints must not corrupt the frames
    _write(out, ("ready", None))
    while True:
        try:
            (n,) = _HEADER.unpack(_read_exact(src, _HEADER.size))
            frame = _read_exact(src, n)
        except EOFError:
            return
        memory_mb, reply = None, None
        try:
            reader, data, path, memory_mb = pickle.loads(frame)  # a reader class this process cannot import fails here
            del frame
            _cap_memory(memory_mb)  # after the file is in: the cap is on what reading it takes
            if data[:4] == ZIP_MAGIC:
                check_zip(data, memory_mb)
            # A long read (OCR, a page at a time) says it is still going,
            # so the time limit counts from its last sign of life.
            reader.heartbeat = lambda: _write(out, ("beat", None))
            reply = ("ok", reader.read(data, path))
        except MemoryError:
            pass
        except ValueError as e:
            reply = ("skip", str(e))
        except Exception as e:  # a parser's own error on a bad file: a reason, not a crash
            reply = ("skip", f"cannot be read ({type(e).__name__}: {e})"[:300])
        try:
            if reply is not None:
                _write(out, reply)  # a huge text may run out of memory here too
        except MemoryError:
            reply = None
        if reply is None:
            reader = data = None
            _write(out, ("oom", out_of_memory(memory_mb)))
            return  # not trusted with the next file: the next read starts a new process
        _cap_memory(None)


def _wait(proc: subprocess.Popen, seconds: float) -> bool:
    """True when the child has something to say within `seconds`. poll, not
    select: select fails outright ("filedescriptor out of range") once this
    process holds more than 1,024 files, as a long-running page may."""
    poller = select.poll()
    poller.register(proc.stdout, select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(max(0, seconds) * 1000))


def _start() -> subprocess.Popen:
    # This package, and where this process imports from, so that a reader
    # class defined anywhere it can import is found there too.
    paths = [_PACKAGE_ROOT, *(p or os.getcwd() for p in sys.path if isinstance(p, str))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(p for p in paths if os.path.isdir(p)))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.ingest.isolate"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, env=env,
    )  # fmt: skip
    try:
        if not _wait(proc, STARTUP_SECONDS):
            raise EOFError
        _read(proc.stdout)  # ("ready", None)
    except EOFError:
        _kill(proc)
        raise ValueError("the reading process did not start") from None
    return proc


def _kill(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:
            pass


def stop() -> None:
    """End the reading process, if there is one."""
    global _proc
    with _lock:
        if _proc is not None:
            _kill(_proc)
            _proc = None


def read_text(reader: DocumentReader, data: bytes, path: Path, timeout: float, memory_mb: float | None = None) -> str:
    """`reader.read(data, path)`, in the reading process when the reader is
    `isolated` (with the time limit, and at most `memory_mb` of memory), else
    here. ValueError with the reason when the file is unusable or its reading
    took too long or too much memory."""
    if not getattr(reader, "isolated", False):
        return reader.read(data, path)
    global _proc
    with _lock:
        for attempt in (0, 1):
            if _proc is None or _proc.poll() is not None:
                if _proc is not None:
                    _kill(_proc)
                _proc = _start()
            proc = _proc
            try:
                _write(proc.stdin, (reader, data, Path(path), memory_mb))
                status = "beat"
                while status == "beat":
                    if not _wait(proc, timeout):
                        _kill(proc)
                        _proc = None
                        raise ValueError(f"reading it took longer than {timeout:g} s (the read_timeout setting)")
                    status, value = _read(proc.stdout)
                if status == "oom":  # it has ended, or will: the next read starts a new one
                    _kill(proc)
                    _proc = None
                break
            except (EOFError, OSError):
                # The process died (a parser crash on this file, or killed):
                # once more in a fresh one, then the file is given up.
                _kill(proc)
                _proc = None
                if attempt:
                    raise ValueError("the reader crashed on it") from None
    if status in ("skip", "oom"):
        raise ValueError(value)
    return value


if __name__ == "__main__":
    _serve()
