"""Saved rows read back: what a conversation's row and a turn's row must
hold, and reading a file row by row so that what still reads can be kept.

`PRAGMA quick_check` checks SQLite's pages, not what the records hold: a
failing disk can leave a file that checks "ok" whose values no longer decode
(text that is not UTF-8, an answer that is not JSON, a number where text
was). Such a row is damage like a page that does not read; a row written by
another version of the assistant (an answer with other keys) is not.
"""

from __future__ import annotations

import json
import sqlite3

from .database import reason

HEAD = "SELECT id, title, user, created, updated FROM conversations"
TURN = "SELECT idx, question, answer, asked_at, rating, comment, rated_at FROM turns"


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_head(row: tuple) -> tuple:
    """A conversation's row (`HEAD`) as stored; ValueError when a value is not what was written."""
    cid, title, user, created, updated = row
    if not all(isinstance(v, str) for v in (cid, title, user)) or not (_number(created) and _number(updated)):
        raise ValueError("a conversation's row holds values of the wrong type")
    return row


def answer_data(text) -> dict:
    """A turn's saved answer as a dict; ValueError when it is not a JSON object."""
    if not isinstance(text, str):
        raise ValueError("a saved answer is not text")
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("a saved answer is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("text", ""), str):
        raise ValueError("a saved answer is not an answer")
    return data


def check_turn(row: tuple) -> tuple:
    """A turn's row (`TURN`) as stored, its answer parsed into a dict in its
    place; ValueError when a value is not what was written."""
    idx, question, answer, asked_at, rating, comment, rated_at = row
    if not (
        isinstance(idx, int)
        and isinstance(question, str)
        and _number(asked_at)
        and rating in (-1, 0, 1)
        and isinstance(rating, int)
        and isinstance(comment, str)
        and (rated_at is None or _number(rated_at))
    ):
        raise ValueError("a turn's row holds values of the wrong type")
    return (idx, question, answer_data(answer), asked_at, rating, comment, rated_at)


def turns_of(conn: sqlite3.Connection, cid: str) -> list[tuple[int, tuple | None, tuple | None, str]]:
    """The turns of conversation `cid`, in order, read one by one: (rowid,
    the row as stored, the checked row, why it did not read); both rows None
    for a turn that does not read."""
    out = []
    for (rowid,) in conn.execute("SELECT rowid FROM turns WHERE conversation = ? ORDER BY idx", (cid,)).fetchall():
        try:
            raw = conn.execute(f"{TURN} WHERE rowid = ?", (rowid,)).fetchone()
            out.append((rowid, raw, check_turn(raw), ""))
        except (sqlite3.Error, ValueError, TypeError) as e:  # TypeError: the row went meanwhile
            out.append((rowid, None, None, reason(e)))
    return out


def conversation(conn: sqlite3.Connection, rowid: int) -> tuple[tuple, list]:
    """The conversation at `rowid`: its row, checked, and its turns
    (`turns_of`); sqlite3.Error, ValueError or TypeError when its row does not read."""
    head = check_head(conn.execute(f"{HEAD} WHERE rowid = ?", (rowid,)).fetchone())
    return head, turns_of(conn, head[0])


def readable(conn: sqlite3.Connection, keep: bool = True) -> tuple[list[tuple[tuple, list[tuple]]], int | None, str]:
    """Every conversation all of whose rows read, as stored (for `carry`; not
    kept without `keep`), how many do not (None when the file's list of
    conversations itself breaks off), and the first reason."""
    saved: list[tuple[tuple, list[tuple]]] = []
    lost: int | None = 0
    why = ""
    try:
        rowids = [r[0] for r in conn.execute("SELECT rowid FROM conversations").fetchall()]
    except sqlite3.Error as e:
        return saved, None, reason(e)
    for rowid in rowids:
        try:
            head, turns = conversation(conn, rowid)
        except (sqlite3.Error, ValueError, TypeError) as e:
            lost, why = lost + 1, why or reason(e)
            continue
        bad = next((w for _, _, row, w in turns if row is None), None)
        if bad is None and [row[0] for _, _, row, _ in turns] != list(range(len(turns))):
            bad = "a conversation's turns are not all there"  # the next turn would take a kept one's place
        if bad is not None:
            lost, why = lost + 1, why or bad
        elif keep:
            saved.append((head, [raw for _, raw, _, _ in turns]))
    return saved, lost, why


def carry(conn: sqlite3.Connection, saved: list[tuple[tuple, list[tuple]]]) -> int:
    """Write conversations `readable` kept into the (new) database `conn` is
    in a transaction on, as they were (ids, times, ratings); how many. One
    already there (another process carried it first) is left as it is."""
    n = 0
    for head, turns in saved:
        done = conn.execute(
            "INSERT OR IGNORE INTO conversations (id, title, user, created, updated) VALUES (?, ?, ?, ?, ?)", head
        )
        if done.rowcount != 1:
            continue
        conn.executemany(
            "INSERT INTO turns (conversation, idx, question, answer, asked_at, rating, comment, rated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(head[0], *t) for t in turns],
        )
        n += 1
    return n
