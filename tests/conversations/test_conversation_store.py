"""The conversation store on real SQLite files: the API of interfaces.md,
one user never reaching another's conversations, threads writing at once,
a restart, and files that are not a conversations database."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import replace

import pytest

from assistant.conversations import Conversation, ConversationStore, Summary, db_path
from assistant.conversations.database import SCHEMA_VERSION, DatabaseDamaged
from assistant.conversations.store import TITLE_MAX
from assistant.errors import AssistantError, ConversationError
from assistant.settings import Settings

from saved import damage_records, quick_check, rated_conversations, refusal, seed_answers


@pytest.fixture
def store(tmp_path):
    with ConversationStore(tmp_path / "conv.sqlite3") as s:
        yield s


def saved(a):
    """What a saved answer reads back as: all of it but `debug`."""
    return replace(a, debug={})


def test_create_add_get_list(store):
    a1, a2, _ = seed_answers()
    cid = store.create()
    assert isinstance(cid, str) and int(cid, 16) >= 0
    assert store.get(cid).turns == [] and store.get(cid).title == ""
    assert store.add_turn(cid, a1.question, a1) == 0
    assert store.add_turn(cid, a2.question, a2) == 1
    conv = store.get(cid)
    assert isinstance(conv, Conversation) and conv.user == ""
    assert conv.title == a1.question  # the first question names it
    assert [t.index for t in conv.turns] == [0, 1]
    assert [t.question for t in conv.turns] == [a1.question, a2.question]
    # The whole answer comes back, citations and passages as objects.
    assert conv.turns[0].answer == saved(a1) and conv.turns[1].answer == saved(a2)
    assert conv.turns[0].answer.citations[0].start == a1.citations[0].start
    assert conv.turns[0].answer.passages[2].scores == {"vector": 0.4, "bm25": 3.2}
    assert conv.turns[0].rating == 0 and conv.turns[0].comment == ""
    assert conv.created <= conv.turns[0].asked_at <= conv.turns[1].asked_at <= conv.updated
    (summary,) = store.list()
    assert summary == Summary(cid, a1.question, conv.created, conv.updated, 2)
    assert store.get("0" * 32) is None


def test_list_newest_updated_first(store):
    a = seed_answers()[0]
    first, second = store.create(title="first"), store.create(title="second")
    assert [s.id for s in store.list()] == [second, first]
    store.add_turn(first, "again?", a)
    assert [s.id for s in store.list()] == [first, second]
    assert [s.turns for s in store.list()] == [1, 0]


def test_titles(store):
    a = seed_answers()[0]
    long_q = "Why " + "exactly " * 40 + "did it happen?"
    cid = store.create()
    store.add_turn(cid, long_q, a)
    title = store.get(cid).title
    assert title.endswith("…") and len(title) <= 60 and title.startswith("Why exactly")
    store.add_turn(cid, "another question", a)
    assert store.get(cid).title == title  # only the first question names it
    store.rename(cid, "  <b>Trade</b>\n\ttalks\x00 \u202e  ")  # plain text, one line
    assert store.get(cid).title == "<b>Trade</b> talks"
    store.rename(cid, "x" * 1000)
    assert len(store.get(cid).title) == TITLE_MAX
    assert len(store.get(store.create(title="y " * 500)).title) <= TITLE_MAX
    for empty in ("", "   ", "\n\x07"):
        with pytest.raises(ConversationError, match="cannot be empty"):
            store.rename(cid, empty)
    with pytest.raises(ConversationError, match="must be text"):
        store.rename(cid, 42)
    assert store.get(cid).title == "x" * (TITLE_MAX - 1) + "…"
    store.rename(cid, "bad bytes \udcff")  # what surrogateescape makes of bytes that are not text
    assert store.get(cid).title == "bad bytes \ufffd"


def test_delete_removes_the_turns(store, tmp_path):
    a = seed_answers()[0]
    keep, gone = store.create(), store.create()
    for cid in (keep, gone):
        store.add_turn(cid, a.question, a)
    store.rate(gone, 0, -1, "wrong")
    store.delete(gone)
    assert store.get(gone) is None and [s.id for s in store.list()] == [keep]
    assert store.feedback() == []
    with sqlite3.connect(tmp_path / "conv.sqlite3") as db:
        assert db.execute("SELECT conversation FROM turns").fetchall() == [(keep,)]
    with pytest.raises(ConversationError, match="no such conversation"):
        store.delete(gone)
    for call in (lambda: store.rename(gone, "t"), lambda: store.add_turn(gone, "q", a)):
        with pytest.raises(ConversationError):
            call()


def test_rate_and_feedback(store):
    a1, a2, a3 = seed_answers()
    cid = store.create()
    for a in (a1, refusal(), a2, a3):
        store.add_turn(cid, a.question, a)
    store.rate(cid, 2, 1, "  exactly right ")
    store.rate(cid, 3, -1)
    store.rate(cid, 0, -1, "cleared below")
    store.rate(cid, 0, 0)  # clears the rating and its comment
    turns = store.get(cid).turns
    assert [(t.rating, t.comment) for t in turns] == [(0, ""), (0, ""), (1, "exactly right"), (-1, "")]
    up, down = store.feedback()
    assert (up.turn, up.rating, up.comment, up.question, up.conversation) == (2, 1, "exactly right", a2.question, cid)
    assert up.answer == saved(a2) and up.rated_at >= up.asked_at
    # The conversation before the rated turn, as answer() takes it.
    assert up.history == [
        {"role": "user", "content": a1.question},
        {"role": "assistant", "content": a1.text, "refused": False},
        {"role": "user", "content": refusal().question},
        {"role": "assistant", "content": refusal().text, "refused": True},
    ]
    assert down.turn == 3 and len(down.history) == 6
    for bad in (2, -2, True, "1", None):
        with pytest.raises(ConversationError, match="rating must be"):
            store.rate(cid, 1, bad)
    with pytest.raises(ConversationError, match="a turn is a number"):
        store.rate(cid, "2", 1)
    for turn in (4, -1, 99):
        with pytest.raises(ConversationError, match=f"has no turn {turn}"):
            store.rate(cid, turn, 1)


def test_users_see_only_their_own(store):
    a = seed_answers()[0]
    alice = store.create(user="alice", title="alice's")
    store.add_turn(alice, a.question, a, user="alice")
    store.rate(alice, 0, 1, user="alice")
    bob = store.create(user="bob")
    assert [s.id for s in store.list("alice")] == [alice]
    assert [s.id for s in store.list("bob")] == [bob]
    assert store.list() == []  # the page without a login is a user too ("")
    assert store.list(None) == []  # ...also as Gradio names it (request.username is None)
    anyone = store.create(user=None)
    assert [s.id for s in store.list()] == [anyone] and store.get(anyone, user=None).user == ""
    assert store.get(alice, user="bob") is None and store.get(alice) is None
    for call in (
        lambda: store.rename(alice, "mine now", user="bob"),
        lambda: store.delete(alice, user="bob"),
        lambda: store.rate(alice, 0, -1, "bad", user="bob"),
        lambda: store.add_turn(alice, "q", a, user="bob"),
        lambda: store.delete(alice),
    ):
        with pytest.raises(ConversationError, match="no such conversation"):
            call()
    conv = store.get(alice, user="alice")
    assert conv.title == "alice's" and len(conv.turns) == 1 and conv.turns[0].rating == 1
    assert [f.user for f in store.feedback("alice")] == ["alice"]
    assert store.feedback("bob") == [] and [f.user for f in store.feedback()] == ["alice"]


def test_eight_threads_write_at_once(store, tmp_path):
    a = seed_answers()[0]
    shared = store.create(title="shared")
    own: dict[int, str] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(n):
        try:
            start.wait()
            # Half the threads share the store object, half open their own
            # connection to the file (another page process, a CLI export).
            s = store if n % 2 else ConversationStore(tmp_path / "conv.sqlite3")
            own[n] = s.create(user=f"u{n}")
            for i in range(15):
                s.add_turn(own[n], f"question {n}.{i}", a, user=f"u{n}")
                s.add_turn(shared, f"shared {n}.{i}", a)
                if i % 5 == 0:
                    s.rate(shared, 0, 1 if n % 2 else -1)
                    s.list()
            if s is not store:
                s.close()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    conv = store.get(shared)
    assert [t.index for t in conv.turns] == list(range(8 * 15))
    assert sorted(t.question for t in conv.turns) == sorted(f"shared {n}.{i}" for n in range(8) for i in range(15))
    for n in range(8):
        mine = store.get(own[n], user=f"u{n}")
        assert [t.question for t in mine.turns] == [f"question {n}.{i}" for i in range(15)]


def test_a_restart_sees_everything(tmp_path):
    path = tmp_path / "deep" / "er" / "conv.sqlite3"  # its folder is created
    a1, a2, _ = seed_answers()
    first = ConversationStore(path)
    cid = first.create(user="u", title="kept")
    first.add_turn(cid, a1.question, a1, user="u")
    first.add_turn(cid, a2.question, a2, user="u")
    first.rate(cid, 1, -1, "missed the point", user="u")
    before = first.get(cid, user="u")
    first.close()
    again = ConversationStore(path)
    assert again.get(cid, user="u") == before
    assert again.list("u") == [Summary(cid, "kept", before.created, before.updated, 2)]
    assert again.feedback()[0].comment == "missed the point"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


def test_older_rows_still_load(store, tmp_path):
    """A row written by another version: unknown keys dropped, missing ones defaulted."""
    a = seed_answers()[0]
    cid = store.create()
    store.add_turn(cid, a.question, a)
    old = {
        "text": "An old answer [1].",
        "citations": [{"n": 1, "source": "x.txt", "text": "quoted", "start": 3, "end": 9, "colour": "red"}],
        "passages": [{"n": 1, "source": "x.txt", "text": "passage", "retired_field": 1}],
        "confidence": 0.9,
    }
    with sqlite3.connect(tmp_path / "conv.sqlite3") as db:
        db.execute("UPDATE turns SET answer = ? WHERE conversation = ?", (json.dumps(old), cid))
    (old_turn,) = store.get(cid).turns
    ans = old_turn.answer
    assert ans.question == a.question and ans.text == "An old answer [1]." and ans.refused is False
    assert (ans.citations[0].source, ans.citations[0].start, ans.citations[0].title, ans.citations[0].page) == (
        "x.txt",
        3,
        "",
        None,
    )
    assert ans.passages[0].text == "passage" and ans.passages[0].score == 0.0 and ans.passages[0].id == ""
    store.check()  # another version's row is not damage


@pytest.mark.parametrize(
    "column, value",
    [
        ("answer", "CAST(x'7b22746578ff' AS TEXT)"),  # not UTF-8 (what quick_check never reads)
        ("answer", "'not json'"),
        ("answer", "'[1, 2]'"),  # JSON, not an answer
        ("answer", """'{"text": 7}'"""),
        ("question", "x'00ff'"),  # a blob where text was
        ("rating", "7"),
        ("asked_at", "'noon'"),
    ],
)
def test_a_row_that_does_not_decode_is_damage(store, tmp_path, column, value):
    """F8 re-test: a value that no longer decodes was read as an empty
    conversation, or stopped every read of it; it is damage (DatabaseDamaged,
    one line), found by `check` though quick_check says ok, and what still
    reads can be taken out of the file (`readable`, `rated`)."""
    a1, a2, _ = seed_answers()
    sound, hurt = store.create(title="sound"), store.create(title="hurt")
    for cid in (sound, hurt):
        for a in (a1, a2):
            store.add_turn(cid, a.question, a)
        store.rate(cid, 1, 1)
    with sqlite3.connect(tmp_path / "conv.sqlite3") as db:
        db.execute(f"UPDATE turns SET {column} = {value} WHERE conversation = ? AND idx = 0", (hurt,))
        assert db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    with pytest.raises(DatabaseDamaged, match=r"conv.sqlite3 is damaged: \S") as e:
        store.get(hurt)
    assert "\n" not in str(e.value) and len(e.value.reason) <= 120
    assert len(store.get(sound).turns) == 2
    with pytest.raises(DatabaseDamaged):
        store.check()
    saved, lost, why = store.readable()
    assert [head[0] for head, _ in saved] == [sound] and lost == 1 and why
    found, lost, _ = store.rated()
    # The rated turn follows a turn that does not read (rated itself, with a rating of 7).
    assert [f.conversation for f in found] == [sound] and lost == (2 if column == "rating" else 1)
    with pytest.raises(DatabaseDamaged):
        store.feedback()


def test_the_readable_conversations_go_to_a_new_file_as_they_were(tmp_path):
    """The re-test's file (record contents damaged, quick_check ok): what
    still reads is carried into a new file as it was (ids, times, ratings)."""
    old, new = tmp_path / "old.sqlite3", tmp_path / "new.sqlite3"
    ids = rated_conversations(old)
    damage_records(old)
    assert quick_check(old) == ["ok"]
    with ConversationStore(old, readonly=True) as store:
        with pytest.raises(DatabaseDamaged, match="Could not decode to UTF-8 column 'answer'$"):
            store.check()
        saved, lost, _ = store.readable()
        before = [store.get(head[0]) for head, _ in saved]
    assert len(saved) == 3 and lost == 4 and {head[0] for head, _ in saved} < set(ids)
    with ConversationStore(new) as store:
        assert store.carry(saved) == 3 and store.carry(saved) == 0  # twice: kept once
        store.check()
        assert [store.get(c.id) for c in before] == before
        assert len(store.feedback()) == 3


def test_not_a_conversations_database(tmp_path):
    junk = tmp_path / "junk.sqlite3"
    data = b"this is not SQLite at all\n" * 200
    junk.write_bytes(data)
    with pytest.raises(ConversationError, match="junk.sqlite3 is not a conversations database"):
        ConversationStore(junk)
    assert junk.read_bytes() == data  # nothing overwritten
    assert not (tmp_path / "junk.sqlite3-wal").exists()

    other = tmp_path / "other.db"  # somebody else's SQLite file
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE accounts (name TEXT)")
    before = other.read_bytes()
    with pytest.raises(ConversationError, match="other.db is a SQLite database of something else"):
        ConversationStore(other)
    assert other.read_bytes() == before

    damaged = tmp_path / "damaged.sqlite3"
    s = ConversationStore(damaged)
    s.create(title="t")
    s.close()
    raw = bytearray(damaged.read_bytes())
    raw[:16] = b"\x00" * 16  # the header is gone
    damaged.write_bytes(bytes(raw))
    with pytest.raises(ConversationError, match="damaged.sqlite3 is not a conversations database"):
        ConversationStore(damaged)

    newer = tmp_path / "newer.sqlite3"
    ConversationStore(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ConversationError, match="newer version"):
        ConversationStore(newer)


def test_unwritable_places(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConversationError, match="cannot create the folder of the conversations database"):
        ConversationStore(tmp_path / "a-file" / "conv.sqlite3")
    with pytest.raises(ConversationError, match="is a folder"):
        ConversationStore(tmp_path)
    # /proc takes no new files, even for root (the tests may run as root).
    with pytest.raises(
        ConversationError, match=r"cannot use the conversations database /proc/conv.sqlite3: .*read-only"
    ):
        ConversationStore("/proc/conv.sqlite3")
    assert issubclass(ConversationError, AssistantError)


def test_db_path_and_a_rebuild_keeps_it(tmp_path):
    from assistant.stores.index import _looks_like_ours

    assert db_path(Settings(index_dir=tmp_path / "idx")) == tmp_path / "idx" / "conversations.sqlite3"
    assert db_path(Settings(index_dir=tmp_path / "idx", chat_db=tmp_path / "c.db")) == tmp_path / "c.db"
    # The default file lives in the index folder: `assistant index --rebuild`
    # must still take that folder for an index (it wipes only its own files).
    path = db_path(Settings(index_dir=tmp_path / "idx"))
    s = ConversationStore(path)
    s.create(title="t")
    assert {p.name for p in path.parent.iterdir()} >= {"conversations.sqlite3", "conversations.sqlite3-wal"}
    assert _looks_like_ours(path.parent)
    s.close()


def test_a_full_disk_loses_no_saved_turn_and_saving_resumes(tmp_path):
    """F3, on a real full disk (a 2 MB tmpfs): a turn that does not fit is one
    ConversationError saying so (it was sqlite3's "cannot rollback - no
    transaction is active", which hid the first error); after space is freed
    the next turn is saved and the earlier ones are intact."""
    from disks import fill, small_disk

    a1, a2, a3 = seed_answers()
    big = replace(a2, text="The trade talks went on. " * 8000)  # ~200 KB: more than any free page
    with small_disk(tmp_path / "disk") as disk:
        with ConversationStore(disk / "conv.sqlite3") as store:
            cid = store.create(user="ana")
            store.add_turn(cid, a1.question, a1, user="ana")
            filler = fill(disk)
            for _ in range(3):  # every time, not only the first
                with pytest.raises(ConversationError, match="disk of the conversations database .* is full"):
                    store.add_turn(cid, big.question, big, user="ana")
            assert [t.answer for t in store.get(cid, user="ana").turns] == [saved(a1)]
            filler.unlink()
            assert store.add_turn(cid, big.question, big, user="ana") == 1
            store.add_turn(cid, a3.question, a3, user="ana")
        with ConversationStore(disk / "conv.sqlite3") as again:
            assert [t.answer for t in again.get(cid, user="ana").turns] == [saved(a1), saved(big), saved(a3)]
        with sqlite3.connect(disk / "conv.sqlite3") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
