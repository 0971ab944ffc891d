"""The conversations' SQLite file: opening it (created and migrated, or read
only), what its errors mean in one line, and setting a damaged one aside.

A damaged file (SQLite's own header, pages that do not read, or records
whose values do not decode: see `rows`) is never written to again: the page renames it, with its write-ahead log, to
`NAME.damaged-TIME` beside it, and starts a new one (`set_aside`). A file
that is not SQLite at all is not ours to move: it is only named in an error.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from assistant.errors import ConversationError

SQLITE_HEADER = b"SQLite format 3\x00"
_REASON_MAX = 120  # characters of SQLite's (or Python's) words in a message

# Each entry brings the schema from the version before it to its own number.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY, user TEXT NOT NULL, title TEXT NOT NULL,
            created REAL NOT NULL, updated REAL NOT NULL)""",
        "CREATE INDEX conversations_by_user ON conversations(user, updated DESC)",
        """CREATE TABLE turns (
            conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL, question TEXT NOT NULL,
            answer TEXT NOT NULL,  -- Answer.to_dict() as JSON, without debug
            asked_at REAL NOT NULL, rating INTEGER NOT NULL DEFAULT 0,
            comment TEXT NOT NULL DEFAULT '', rated_at REAL,
            PRIMARY KEY (conversation, idx))""",
        "CREATE INDEX turns_rated ON turns(rating) WHERE rating != 0",
    ],
}
SCHEMA_VERSION = max(MIGRATIONS)


class DatabaseDamaged(ConversationError):
    """The file is a SQLite database whose pages do not read (or not SQLite at all)."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message  # SQLite's words, for the page


class DiskFull(ConversationError):
    """A write found no space: nothing of it was kept, the earlier data is intact."""


def reason(e: Exception | str) -> str:
    """Why something did not read, as one short line: Python's decode error
    quotes the whole undecodable text (kilobytes of noise), and quick_check
    lists every problem it found on lines of their own."""
    text = str(e)
    if text.startswith("Could not decode to UTF-8"):
        text = text.split(" with text ", 1)[0]
    lines = [" ".join(x.split()) for x in text.splitlines() if x.strip() and not x.startswith("***")]
    line = lines[0] if lines else ""
    if len(lines) > 1:
        line += f" (and {len(lines) - 1} more problems)"
    return line if len(line) <= _REASON_MAX else line[: _REASON_MAX - 1] + "…"


def damaged(path: Path, why: str) -> DatabaseDamaged:
    return DatabaseDamaged(f"{path} is damaged: {why}", why)


def fail(path: Path, e: Exception) -> ConversationError:
    """A SQLite error on `path` as one line."""
    name = getattr(e, "sqlite_errorname", "")
    if str(e).startswith("Could not decode to UTF-8"):  # Python's, not SQLite's: a record holds noise
        return damaged(path, reason(e))
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in str(e):
        return DatabaseDamaged(
            f"{path} is not a conversations database (not SQLite, or damaged: {e}); "
            "move it away or set ASSISTANT_CHAT_DB to another file",
            reason(e),
        )
    if name.startswith("SQLITE_FULL"):
        return DiskFull(f"the disk of the conversations database {path} is full; saving resumes once there is space")
    hint = ""
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        hint = " (a read-only location? set ASSISTANT_CHAT_DB to a writable file)"
    return ConversationError(f"cannot use the conversations database {path}: {e}{hint}")


def open_db(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection to the conversations database at `path`: created and
    migrated when needed, or with `readonly` opened as it is (never created
    or written; a file without the tables is an error)."""
    if path.is_dir():
        raise ConversationError(f"the conversations database {path} is a folder, not a file")
    if not readonly:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConversationError(
                f"cannot create the folder of the conversations database {path}: {e.strerror or e}"
            ) from None
    conn = None
    try:
        # isolation_level=None: no implicit transactions; each write says BEGIN IMMEDIATE.
        target = f"{path.resolve().as_uri()}?mode=ro" if readonly else path
        conn = sqlite3.connect(target, timeout=10, isolation_level=None, check_same_thread=False, uri=readonly)
        conn.execute("PRAGMA busy_timeout = 10000")
        # Reading the version reads the file's header: a file that is not
        # SQLite fails here, before anything could be written to it.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ConversationError(
                f"{path} was written by a newer version of the assistant (schema {version}; "
                f"this one reads up to {SCHEMA_VERSION})"
            )
        if readonly:
            if version < SCHEMA_VERSION:  # empty, another's or older: reading must not migrate it
                _foreign(conn, path)
                raise ConversationError(f"{path} holds no conversations yet (left as it is)")
            return conn
        if version < SCHEMA_VERSION:
            _migrate(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable but for the last commits on power loss
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as e:
        if conn is not None:
            conn.close()
        raise fail(path, e) from None
    except ConversationError:
        if conn is not None:
            conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have done it
        if version == 0:
            _foreign(conn, path)  # someone else's database: never add our tables to it
        for v in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[v]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def _foreign(conn: sqlite3.Connection, path: Path) -> None:
    """ConversationError when the file (of schema 0) holds another program's tables."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if tables:
        raise ConversationError(
            f"{path} is a SQLite database of something else (tables: {', '.join(tables[:5])}); "
            "set ASSISTANT_CHAT_DB to another file"
        )


def rollback(conn: sqlite3.Connection) -> None:
    """End a failed write. SQLite may have rolled it back already (a full
    disk does): a second ROLLBACK would raise and hide the first error."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def is_sqlite(path: Path) -> bool:
    """The file starts with SQLite's header (ours, damaged or not; not some other file)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def set_aside(path: Path) -> Path:
    """Rename the damaged database `path` (and its write-ahead log, which
    belongs to it) to a free `NAME.damaged-TIME` beside it, so a new one can
    start at `path`; the copy's path. Renamed, not copied: nothing is
    rewritten, and a full disk has no room for a copy."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1, 1000):
        copy = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{k}" if k > 1 else ""))
        if not any(os.path.lexists(f"{copy}{end}") for end in ("", "-wal")):
            break
    else:
        raise ConversationError(f"no free name beside {path} to keep the damaged database under")
    wal = Path(f"{path}-wal")
    try:
        os.rename(path, copy)
        try:
            if wal.exists():  # a new database must never pick up the old one's log
                os.rename(wal, f"{copy}-wal")
        except OSError:
            os.rename(copy, path)  # the two stay together
            raise
        Path(f"{path}-shm").unlink(missing_ok=True)  # an index of the old log, rebuilt on open
    except OSError as e:
        raise ConversationError(f"cannot set the damaged database {path} aside: {e.strerror or e}") from None
    return copy
