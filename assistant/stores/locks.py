"""The index folder's locks: one builder at a time (`build_lock`), and readers
of an embedded store kept out of it while another process rebuilds it
(`readers`, `generation`)."""

from __future__ import annotations

import fcntl
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.errors import IndexStoreError

# Index folders a thread of this process is building. Builds are one at a
# time across processes (`build_lock`), so while one runs here the embedded
# store's in-process handles are current, and dropping them (`forget_local`,
# for a store another process changed) would only break the build: a chat
# page's upload build then met "KeyError: <path>" opening the store and
# wiped and rebuilt the whole index.
_building: dict[str, int] = {}
_building_guard = threading.Lock()

READERS = ".readers"  # lock file: shared by readers' store calls, exclusive during a rebuild
GENERATION = ".generation"  # rewritten by every rebuild of the embedded store


def ensure_dir(index_dir: Path) -> None:
    """Create the index folder, or say in one line why it cannot be."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise IndexStoreError(f"Index folder {index_dir} is a file, not a folder: choose another --index-dir") from None
    except OSError as e:
        raise IndexStoreError(f"Index folder {index_dir} cannot be created: {e.strerror}") from None


def generation(index_dir: Path):
    try:
        st = os.stat(Path(index_dir) / GENERATION)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


@contextmanager
def readers(index_dir: Path, exclusive: bool) -> Iterator[None]:
    """The lock that keeps readers of an embedded store (a chat page, any
    process calling `answer()`) out of it while another process deletes and
    rebuilds it. Chroma's store is not meant for several processes: a reader
    whose sqlite connection outlived the files it opened, or that created the
    store again beside the builder, broke the build ("table collections
    already exists", "database disk image is malformed"). Readers hold it
    shared for each store call; a rebuild holds it exclusive from the wipe to
    the end, so questions asked meanwhile wait for the new index. Incremental
    builds do not take it: readers keep answering from what they loaded."""
    path = Path(index_dir) / READERS
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644) if exclusive else os.open(path, os.O_RDONLY)
    except OSError:
        if exclusive:
            raise
        yield  # no lock file (a read-only index, or one never built by this version): nothing rebuilds it
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        if exclusive:
            tmp = Path(index_dir) / (GENERATION + ".tmp")
            tmp.write_text(uuid.uuid4().hex, encoding="utf-8")
            os.replace(tmp, Path(index_dir) / GENERATION)  # stores opened before are now stale
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    ensure_dir(index_dir)
    try:
        fh = open(index_dir / ".lock", "w")
    except OSError as e:
        raise IndexStoreError(
            f"Index folder {index_dir} is read-only ({e.strerror}): it can be read, but not built or "
            "updated, here; build it where it is writable, or choose another --index-dir"
        ) from None
    key = str(Path(index_dir).resolve())
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # one builder at a time
        (index_dir / READERS).touch()  # so that readers of what this builds take their lock
        with _building_guard:
            _building[key] = _building.get(key, 0) + 1
        try:
            yield
        finally:
            with _building_guard:
                _building[key] -= 1
            fcntl.flock(fh, fcntl.LOCK_UN)


def building_here(index_dir: Path) -> bool:
    """A thread of this process holds the build lock of `index_dir`."""
    with _building_guard:
        return _building.get(str(Path(index_dir).resolve()), 0) > 0
