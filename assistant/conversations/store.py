"""Saved conversations and their feedback, in one SQLite file.

The chat page calls the store from several worker threads at once, and an
`assistant feedback export` in a shell may read it while the page writes: one
connection per store, used under a lock, in WAL mode (readers in other
processes never wait for the writer), with explicit `BEGIN IMMEDIATE` for
every write so two processes never interleave a read-then-write.

Every call takes `user` ("" when the page has no login) and touches only that
user's rows: another user's conversation is, to the caller, a missing one.
The schema version is SQLite's `user_version`, so a later change migrates
the file in place (see `database.MIGRATIONS`).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import ConversationError
from assistant.types import Answer

from . import rows as saved_rows
from .answers import CORPUS_KEY, answer_from_dict, answer_to_json
from .database import damaged, fail, open_db, reason, rollback

TITLE_MAX = 100  # characters; a longer title is cut at a word and ends with "…"
AUTO_TITLE = 60  # the first question, shortened, when a conversation has no title
COMMENT_MAX = 4000
FILE_NAME = "conversations.sqlite3"


@dataclass
class Turn:
    index: int
    question: str
    answer: Answer
    asked_at: float
    rating: int = 0  # +1 thumbs up, -1 thumbs down, 0 none
    comment: str = ""


@dataclass
class Conversation:
    id: str
    title: str
    user: str
    created: float
    updated: float
    turns: list[Turn] = field(default_factory=list)


@dataclass
class Summary:
    id: str
    title: str
    created: float
    updated: float
    turns: int


@dataclass
class Feedback:
    """One rated turn, with the conversation before it (`history`: OpenAI-style
    messages, oldest first, each assistant message with its `refused`)."""

    conversation: str
    user: str
    title: str
    turn: int
    question: str
    answer: Answer
    rating: int
    comment: str
    asked_at: float
    rated_at: float | None
    history: list[dict] = field(default_factory=list)
    corpus: str = ""  # the folder the answer was given from ("" when not recorded)


def db_path(settings) -> Path:
    """Where the conversations are kept: `chat_db`, else beside the index."""
    return Path(settings.chat_db) if settings.chat_db else Path(settings.index_dir) / FILE_NAME


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def plain_line(text: str) -> str:
    """`text` as one line of plain text: control and direction characters and
    runs of spaces become one space; lone surrogates (bytes that were not
    text) become U+FFFD, which SQLite can store."""
    return " ".join(_CONTROL.sub(" ", _safe_text(text)).split())


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word when one ends in its second half."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


def clean_title(title) -> str:
    if title is None:
        return ""
    if not isinstance(title, str):
        raise ConversationError(f"a conversation title must be text, not {type(title).__name__}")
    return shorten(plain_line(title), TITLE_MAX)


def _safe_text(text: str) -> str:
    """Text SQLite can store (no lone surrogates), otherwise unchanged."""
    return _SURROGATE.sub("\ufffd", str(text))


def _user(user) -> str:
    """The owner's name; None (Gradio's `request.username` without a login) is the page's one user, ""."""
    return "" if user is None else _safe_text(user)


class ConversationStore:
    """The conversations of every user, in the SQLite file `path` (created
    with its tables when missing). Safe to share between threads."""

    def __init__(self, path: str | Path, readonly: bool = False):
        """With `readonly`, the file is only read: never created, migrated or written."""
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn = open_db(self.path, readonly)

    def _fail(self, e: Exception) -> ConversationError:
        return fail(self.path, e)

    def check(self) -> None:
        """DatabaseDamaged when SQLite finds pages of the file that do not
        read, or a row of it does not decode (quick_check does not read them)."""
        rows = self._read("PRAGMA quick_check")
        if [r[0] for r in rows] != ["ok"]:
            raise damaged(self.path, reason("\n".join(str(r[0]) for r in rows)))
        _, lost, why = self.readable(keep=False)
        if lost != 0:
            raise damaged(self.path, why)

    def readable(self, keep: bool = True) -> tuple[list, int | None, str]:
        """The conversations all of whose rows read, as stored (for `carry`),
        how many do not (None: unknown) and why the first did not."""
        try:
            with self._snapshot():
                return saved_rows.readable(self._conn, keep)
        except sqlite3.Error as e:
            raise self._fail(e) from None

    @contextmanager
    def _snapshot(self):
        """One read transaction: a scan row by row then sees one state of the
        file, so a conversation another process deletes meanwhile is not
        taken for a row that does not read."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                try:
                    self._conn.execute("COMMIT")
                except sqlite3.Error:
                    pass

    def carry(self, saved: list) -> int:
        """Add conversations `readable` kept (of another file) as they were; how many were added."""
        return self._write(lambda c: saved_rows.carry(c, saved))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- helpers ------------------------------------------------------

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise self._fail(e) from None

    def _write(self, work):
        """Run `work(conn)` in one IMMEDIATE transaction; its result."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise self._fail(e) from None
            try:
                out = work(conn)
                conn.execute("COMMIT")
                return out
            except sqlite3.Error as e:
                rollback(conn)
                raise self._fail(e) from None
            except BaseException:
                rollback(conn)
                raise

    @staticmethod
    def _owned(conn, cid: str, user: str) -> tuple:
        row = conn.execute("SELECT title FROM conversations WHERE id = ? AND user = ?", (str(cid), user)).fetchone()
        if row is None:  # missing or another user's: the same to the caller
            raise ConversationError(f"no such conversation: {cid}")
        return row

    # --- the API ------------------------------------------------------

    def create(self, user: str = "", title: str = "") -> str:
        """A new, empty conversation of `user`; its id (hex)."""
        cid, now, title = uuid.uuid4().hex, time.time(), clean_title(title)
        self._write(
            lambda c: c.execute(
                "INSERT INTO conversations (id, user, title, created, updated) VALUES (?, ?, ?, ?, ?)",
                (cid, _user(user), title, now, now),
            )
        )
        return cid

    def list(self, user: str = "") -> list[Summary]:
        """`user`'s conversations, the most recently updated first."""
        rows = self._read(
            """SELECT c.id, c.title, c.created, c.updated, COUNT(t.idx) FROM conversations c
               LEFT JOIN turns t ON t.conversation = c.id WHERE c.user = ?
               GROUP BY c.id ORDER BY c.updated DESC, c.created DESC""",
            (_user(user),),
        )
        return [Summary(*r) for r in rows]

    def get(self, cid: str, user: str = "") -> Conversation | None:
        """The conversation with its turns, or None when missing or another user's."""
        with self._lock:  # both reads see the same state
            head = self._read(f"{saved_rows.HEAD} WHERE id = ? AND user = ?", (str(cid), _user(user)))
            if not head:
                return None
            rows = self._read(f"{saved_rows.TURN} WHERE conversation = ? ORDER BY idx", (str(cid),))
        try:
            saved_rows.check_head(head[0])
            turns = [_turn(saved_rows.check_turn(row)) for row in rows]
        except ValueError as e:  # noise where a value was: the file is damaged, not this version's to guess
            raise damaged(self.path, f"conversation {cid[:8]}…: {e}") from None
        return Conversation(*head[0], turns=turns)

    def add_turn(self, cid: str, question: str, answer: Answer, user: str = "", corpus: str = "") -> int:
        """Save a question and its answer (from the documents of the folder
        `corpus`, when known) as the next turn; the turn's index. A
        conversation without a title takes the (shortened) question."""
        cid = str(cid)
        question = _safe_text(question)
        data, now = answer_to_json(answer, corpus), time.time()

        def work(c):
            (title,) = self._owned(c, cid, _user(user))
            (n,) = c.execute("SELECT COUNT(*) FROM turns WHERE conversation = ?", (cid,)).fetchone()
            c.execute(
                "INSERT INTO turns (conversation, idx, question, answer, asked_at) VALUES (?, ?, ?, ?, ?)",
                (cid, n, question, data, now),
            )
            title = title or shorten(plain_line(question), AUTO_TITLE)
            c.execute("UPDATE conversations SET updated = ?, title = ? WHERE id = ?", (now, title, cid))
            return n

        return self._write(work)

    def rename(self, cid: str, title: str, user: str = "") -> None:
        cid = str(cid)
        title = clean_title(title)
        if not title:
            raise ConversationError("a conversation title cannot be empty")

        def work(c):
            self._owned(c, cid, _user(user))
            c.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, cid))

        self._write(work)

    def delete(self, cid: str, user: str = "") -> None:
        """Delete the conversation and its turns."""
        cid = str(cid)

        def work(c):
            self._owned(c, cid, _user(user))
            c.execute("DELETE FROM turns WHERE conversation = ?", (cid,))  # also without the foreign key pragma
            c.execute("DELETE FROM conversations WHERE id = ?", (cid,))

        self._write(work)

    def truncate(self, cid: str, keep: int, user: str = "") -> None:
        """Drop the turns from index `keep` on, their ratings with them: an
        answer asked again, or a question edited, goes on from turn `keep`."""
        cid = str(cid)

        def work(c):
            self._owned(c, cid, _user(user))
            c.execute("DELETE FROM turns WHERE conversation = ? AND idx >= ?", (cid, max(0, int(keep))))
            c.execute("UPDATE conversations SET updated = ? WHERE id = ?", (time.time(), cid))

        self._write(work)

    def search(self, text: str, user: str = "") -> list[Summary]:
        """`user`'s conversations whose title, questions or answers hold
        `text` (case-insensitive for ASCII, as SQLite's LIKE), the most
        recently updated first; all of them for blank text."""
        if not text.strip():
            return self.list(user)
        like = "%" + re.sub(r"([\\%_])", r"\\\1", text.strip()) + "%"
        rows = self._read(
            r"""SELECT c.id, c.title, c.created, c.updated,
                      (SELECT COUNT(*) FROM turns n WHERE n.conversation = c.id) FROM conversations c
               WHERE c.user = ? AND (c.title LIKE ? ESCAPE '\' OR EXISTS (
                   SELECT 1 FROM turns t WHERE t.conversation = c.id AND (
                       t.question LIKE ? ESCAPE '\' OR json_extract(t.answer, '$.text') LIKE ? ESCAPE '\')))
               ORDER BY c.updated DESC, c.created DESC""",
            (_user(user), like, like, like),
        )
        return [Summary(*r) for r in rows]

    def rate(self, cid: str, turn: int, rating: int, comment: str = "", user: str = "") -> None:
        """Thumbs up (+1) or down (-1) with an optional comment; 0 clears both."""
        if isinstance(rating, bool) or rating not in (-1, 0, 1):
            raise ConversationError(f"a rating must be +1, -1 or 0, not {rating!r}")
        if not isinstance(comment, str):
            raise ConversationError(f"a comment must be text, not {type(comment).__name__}")
        if isinstance(turn, bool) or not isinstance(turn, int):
            raise ConversationError(f"a turn is a number, not {turn!r}")
        cid = str(cid)
        comment = "" if rating == 0 else _safe_text(comment).strip()[:COMMENT_MAX]

        def work(c):
            self._owned(c, cid, _user(user))
            done = c.execute(
                "UPDATE turns SET rating = ?, comment = ?, rated_at = ? WHERE conversation = ? AND idx = ?",
                (rating, comment, time.time() if rating else None, cid, turn),
            )
            if done.rowcount != 1:
                raise ConversationError(f"conversation {cid} has no turn {turn}")

        self._write(work)

    def feedback(self, user: str | None = None) -> list[Feedback]:
        """Every rated turn (of `user`, or of all users with None), oldest
        conversation first, each with the turns before it as `history`;
        DatabaseDamaged when one of them does not read."""
        found, lost, why = self.rated(user)
        if lost:
            raise damaged(self.path, f"{lost} rated turns do not read: {why}")
        return found

    def rated(self, user: str | None = None) -> tuple[list[Feedback], int, str]:
        """`feedback` read row by row, as much of it as reads: the rated turns
        that read (with every turn before them), how many do not, and why the
        first did not. A damaged file still gives up its readable ratings."""
        where, args = ("", ()) if user is None else ("AND c.user = ?", (_user(user),))
        out, lost, why = [], 0, ""
        with self._snapshot():
            keys = self._read(
                f"""SELECT c.rowid, t.rowid FROM turns t JOIN conversations c ON c.id = t.conversation
                    WHERE t.rating != 0 {where} ORDER BY c.created, c.id, t.idx""",
                args,
            )
            wanted: dict[int, list[int]] = {}
            for crow, trow in keys:
                wanted.setdefault(crow, []).append(trow)
            for crow, rated in wanted.items():
                try:
                    head, turns = saved_rows.conversation(self._conn, crow)
                except (sqlite3.Error, ValueError, TypeError) as e:
                    lost, why = lost + len(rated), why or reason(e)
                    continue
                position = {rowid: k for k, (rowid, *_) in enumerate(turns)}
                for trow in rated:
                    k = position.get(trow)
                    if k is None:  # deleted meanwhile
                        continue
                    bad = next((w for _, _, row, w in turns[: k + 1] if row is None), None)
                    if bad is not None:  # the turn, or one it followed, does not read
                        lost, why = lost + 1, why or bad
                        continue
                    out.append(_feedback(head, [row for _, _, row, _ in turns[: k + 1]]))
        return out, lost, why


def _turn(row: tuple) -> Turn:
    """A checked turn row (`rows.check_turn`) as a Turn."""
    i, q, data, at, r, cm, _ = row
    return Turn(i, q, answer_from_dict(data, q), at, r, cm)


def _feedback(head: tuple, turns: list[tuple]) -> Feedback:
    """The last of `turns` (checked rows) as Feedback, the ones before it its history."""
    cid, title, user = head[:3]
    *earlier, (idx, q, data, asked, rating, comment, rated_at) = turns
    history = []
    for eq, ea in ((t[1], t[2]) for t in earlier):
        prev = answer_from_dict(ea, eq)
        history += [
            {"role": "user", "content": eq},
            {"role": "assistant", "content": prev.text, "refused": prev.refused},
        ]
    corpus = data.get(CORPUS_KEY) if isinstance(data, dict) else ""
    answer = answer_from_dict(data, q)
    return Feedback(cid, user, title, idx, q, answer, rating, comment, asked, rated_at, history, str(corpus or ""))
