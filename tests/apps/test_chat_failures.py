"""The chat page when things go wrong around it: a full disk under the
conversations database, a damaged database, uploads in Gradio's upload
folder. The page's own handlers are called as Gradio calls them (the page
built by `build`, on a real index, a real SQLite file, a real full disk),
without a browser."""

import html
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from disks import fill, small_disk

from assistant import Settings
from assistant.conversations import ConversationStore

from conftest import ROOT, indexed_corpus

FACT = "The Zorblat bridge over the Qelm river was opened in 1987 by mayor Ilse Quintana."
ASKED = "When was the Zorblat bridge opened?"


def handlers(settings: Settings) -> dict:
    """The page's event handlers by name, as `build` wires them."""
    from assistant.apps.chat import build

    demo = build(settings)
    return {f.fn.__name__: f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", None)}


def ask(page: dict, question: str, conversation=None, messages=(), scope=()) -> tuple:
    """Send a question as the page does (`take`, then `answer_turn`), asked
    of the documents chosen in "Ask only" (none: all); the last update."""
    _, shown, asked, _, _ = page["take"](question, list(messages))
    *_, last = page["answer_turn"](asked, shown, conversation, {}, list(scope), None)
    return last


def said(update) -> str:
    """The text of the last message of a chat update."""
    return str(update[0][-1]["content"])


def test_a_full_disk_shows_the_answer_and_says_it_was_not_saved(tmp_path):
    """F3: with the conversations database on a full disk the page lost every
    answer (Gradio's "Error"); now the answer is shown with a warning, and
    once there is space again the conversation goes on being saved."""
    settings = indexed_corpus(tmp_path, {"zorblat.md": f"# Bridges\n\n{FACT}\n"})
    with small_disk(tmp_path / "disk") as disk:
        settings = Settings(corpus=settings.corpus, index_dir=settings.index_dir, chat_db=disk / "c.sqlite3")
        page = handlers(settings)
        first = ask(page, ASKED)
        cid = first[2]
        assert "1987" in said(first) and cid and first[3]  # saved: the turn is known
        filler = fill(disk)
        for _ in range(2):
            with pytest.warns(UserWarning, match="could not be saved: the disk of the conversations database"):
                full = ask(page, "Who opened the Zorblat bridge?", cid, first[0])
            assert "Quintana" in said(full) and "class='error'" not in said(full)
            assert full[3] == {}  # not saved, so not rateable
        filler.unlink()
        again = ask(page, "Who opened the Zorblat bridge?", cid, first[0])
        assert again[2] == cid and again[3]
        with ConversationStore(disk / "c.sqlite3") as store:
            turns = store.get(cid).turns
        assert [t.question for t in turns] == [ASKED, "Who opened the Zorblat bridge?"]


def _saved_conversations(path: Path, conversations: int = 7) -> list[str]:
    """A conversations database of `conversations` conversations of three turns; their ids."""
    sys.path.insert(0, str(ROOT / "tests" / "conversations"))
    from saved import seed_answers

    ids = []
    with ConversationStore(path) as store:
        for i in range(conversations):
            ids.append(store.create(title=f"talk {i}"))
            for a in seed_answers():
                store.add_turn(ids[-1], a.question, a)
    return ids


def _damage(path: Path) -> bytes:
    """Overwrite the last two thirds of the file's pages but its last with noise
    (what a failing disk leaves: the conversations' own pages come first and
    stay sound); the file's bytes."""
    page = 4096
    pages = path.stat().st_size // page
    noise = random.Random(7).randbytes(page)
    with open(path, "r+b") as fh:
        for n in range(pages // 3, pages - 1):
            fh.seek(n * page)
            fh.write(noise)
    return path.read_bytes()


def test_a_damaged_database_is_said_kept_beside_and_replaced(tmp_path):
    """F8: with damaged pages the sidebar listed conversations that opened
    empty, without a word, and the page kept writing into the damaged file.
    Now the page says it is damaged, keeps it beside it unchanged, and saves
    into a new one, which `feedback export` reads."""
    settings = indexed_corpus(tmp_path, {"zorblat.md": f"# Bridges\n\n{FACT}\n"})
    db = tmp_path / "conversations.sqlite3"
    _saved_conversations(db)
    damaged = _damage(db)
    settings = Settings(corpus=settings.corpus, index_dir=settings.index_dir, chat_db=db)
    page = handlers(settings)
    with pytest.warns(UserWarning, match="conversations database .* was damaged"):
        loaded = page["load"]("0" * 32, None)
    listing = loaded[4]
    info = html.unescape(listing["info"])  # shown as Markdown: escaped
    assert listing["choices"] == [] and "was damaged" in info and "kept beside it as" in info
    (copy,) = tmp_path.glob("conversations.sqlite3.damaged-*")
    assert copy.read_bytes() == damaged  # kept as it was, beside the new one
    assert copy.name in info and "_" not in listing["info"]

    answered = ask(page, ASKED)
    assert "1987" in said(answered) and answered[3]
    with sqlite3.connect(db) as new:
        assert new.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with ConversationStore(db) as store:
        assert [s.turns for s in store.list()] == [1]
        store.rate(answered[2], 0, 1)
    env = {"ASSISTANT_CHAT_DB": str(db), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "assistant.apps.cli", "feedback", "export", "--corpus", str(settings.corpus)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0 and ASKED in r.stdout, r.stderr
    assert copy.read_bytes() == damaged


def test_damage_met_while_the_page_runs_is_handled_the_same(tmp_path):
    """F8, damage appearing under a running page: the first read that meets it
    sets the file aside and says so, and the answer goes to a new file."""
    from assistant.apps.chat_conversations import Conversations
    from assistant.types import Answer

    db = tmp_path / "c.sqlite3"
    ids = _saved_conversations(db)
    warned = []
    settings = Settings(corpus=tmp_path, index_dir=tmp_path / "index", chat_db=db)
    convs, other_page = Conversations(settings), Conversations(settings)  # two page processes, say
    convs.warn = warned.append  # what the page passes gr.Warning for
    assert len(convs.choices("")) == 7 and len(other_page.choices("")) == 7 and not warned  # checked while sound
    damaged = _damage(db)
    # Another process's write: the page's connection reads the file afresh (not its cache).
    with sqlite3.connect(db) as other:
        other.execute("UPDATE conversations SET updated = updated + 1 WHERE id = ?", (ids[0],))
    assert convs.open(ids[3], "") is None
    assert len(warned) == 1 and "was damaged" in warned[0]
    copy, log = sorted(tmp_path.glob("c.sqlite3.damaged-*"))
    assert log.name == copy.name + "-wal"  # the write-ahead log that belongs to it goes with it
    assert copy.read_bytes() == damaged
    no = Answer(question="q", text="The sources don't say.", citations=[], refused=True, passages=[])
    cid, turn = convs.save(ids[3], "q", no, "")
    assert cid != ids[3] and turn == 0 and [i for _, i in convs.choices("")] == [cid]
    # The other page meets the damage in the file it still has open: the new
    # file is not set aside again, and its answers go there too.
    assert other_page.open(ids[2], "") is None and "another process" in other_page.notice
    assert len(list(tmp_path.glob("c.sqlite3.damaged-*"))) == 2
    assert other_page.save(None, "q2", no, "")[1] == 0 and len(convs.choices("")) == 2


def test_the_note_on_damaged_pages_is_one_short_line(tmp_path):
    """F8 re-test: the sidebar's note carried every line of quick_check's
    report (17); it is one short line, and the conversations that still read
    are carried into the new file."""
    from assistant.apps.chat_conversations import Conversations

    sys.path.insert(0, str(ROOT / "tests" / "conversations"))
    from saved import damage_records, quick_check

    db = tmp_path / "c.sqlite3"
    for cid in _saved_conversations(db):
        with ConversationStore(db) as store:
            store.rate(cid, 0, 1)
    damage_records(db)
    report = "\n".join(quick_check(db)).splitlines()
    assert len(report) > 3 and report != ["ok"]  # pages that do not read, found by quick_check
    convs = Conversations(Settings(corpus=tmp_path, index_dir=tmp_path / "index", chat_db=db))
    kept = len(convs.choices(""))
    assert "was damaged" in convs.notice and "\n" not in convs.notice
    assert len(convs.notice.replace(str(db), "PATH")) < 250
    assert 0 < kept < 7 and f"with the {kept} conversations that still read ({7 - kept} did not)" in convs.notice


def _records(path: Path) -> tuple[list[str], bytes]:
    """The re-test's file (tests/conversations/saved.py): damaged record
    contents that `PRAGMA quick_check` passes; the ids and the file's bytes."""
    sys.path.insert(0, str(ROOT / "tests" / "conversations"))
    from saved import damage_records, quick_check, rated_conversations

    ids = rated_conversations(path)
    damaged = damage_records(path)
    assert quick_check(path) == ["ok"]  # only what the records hold is damaged
    return ids, damaged


def test_records_that_do_not_decode_are_damage_too(tmp_path):
    """F8 re-test, damage in record contents only (quick_check says ok): the
    sidebar listed 7 conversations of which 4 opened empty, an answer asked in
    one was saved into the damaged file, and `feedback export` failed whole
    (exit 5). Now the page says the file is damaged, keeps it beside it
    unchanged, starts a new one with the conversations that still read and
    saves there; an export of the kept copy gives what reads."""
    settings = indexed_corpus(tmp_path, {"zorblat.md": f"# Bridges\n\n{FACT}\n"})
    db = tmp_path / "conv3.db"
    ids, damaged = _records(db)
    settings = Settings(corpus=settings.corpus, index_dir=settings.index_dir, chat_db=db)
    page = handlers(settings)
    with pytest.warns(UserWarning, match="conversations database .* was damaged") as warned:
        loaded = page["load"](ids[0], None)
    assert len(warned) == 1
    listing = loaded[4]
    info = html.unescape(listing["info"])
    listed = [i for _, i in listing["choices"]]
    assert len(listed) == 3 and set(listed) < set(ids)  # the ones that read, carried over
    assert "3 conversations that still read (4 did not)" in info
    assert "<br>" not in listing["info"] and len(info.replace(str(db), "PATH")) < 250  # one short line
    copy, *_ = sorted(tmp_path.glob("conv3.db.damaged-*"))  # with its write-ahead log
    assert copy.read_bytes() == damaged and copy.name in info
    shown = page["show"](listed[0], None)
    assert shown[0] == listed[0] and len(shown[1]["value"]) == 6  # three turns, as saved

    lost = next(i for i in ids if i not in listed)
    answered = ask(page, ASKED, lost)  # in a conversation that did not read: the answer is shown and saved
    assert "1987" in said(answered) and answered[3] and answered[2] not in ids
    with ConversationStore(db) as store:
        assert sorted(s.turns for s in store.list()) == [1, 3, 3, 3]
    assert copy.read_bytes() == damaged  # never written to again

    env = {"ASSISTANT_CHAT_DB": str(copy), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "assistant.apps.cli", "feedback", "export", "--corpus", str(settings.corpus)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3, r.stderr
    (warning,) = [line for line in r.stderr.splitlines() if "could not be read" in line]
    assert warning.startswith("warning: 4 rated turns could not be read") and len(warning) < 300


def test_records_damaged_while_the_page_runs_are_handled_the_same(tmp_path):
    """F8 re-test: damage in record contents appearing under a running page is
    met when a conversation is opened: said once, the file kept beside, the
    conversations that read carried into the new one."""
    from assistant.apps.chat_conversations import Conversations

    db = tmp_path / "c.sqlite3"
    sys.path.insert(0, str(ROOT / "tests" / "conversations"))
    from saved import damage_records, quick_check, rated_conversations

    ids = rated_conversations(db)
    warned = []
    convs = Conversations(Settings(corpus=tmp_path, index_dir=tmp_path / "index", chat_db=db), warn=warned.append)
    assert len(convs.choices("")) == 7 and not warned  # checked while sound
    damaged = damage_records(db)
    assert quick_check(db) == ["ok"]
    with sqlite3.connect(db) as other:  # another process's write: the page reads the file afresh
        other.execute("UPDATE conversations SET updated = updated + 1 WHERE id = ?", (ids[0],))
    unread = [cid for cid in ids if convs.open(cid, "") is None]
    assert len(unread) == 4 and len(warned) == 1 and "3 conversations that still read" in warned[0]
    copy, _ = sorted(tmp_path.glob("c.sqlite3.damaged-*"))
    assert copy.read_bytes() == damaged
    assert {i for _, i in convs.choices("")} == set(ids) - set(unread)


def _post_upload(url: str, files: dict[str, bytes]) -> list[str]:
    """Upload files through Gradio's own upload route, as the page's file
    drop does; the paths Gradio hands the upload event."""
    import json
    import urllib.request
    import uuid

    boundary = uuid.uuid4().hex
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
            for name, data in files.items()
        )
        + f"--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url + "gradio_api/upload", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)


def test_uploads_leave_nothing_in_gradios_upload_folder(tmp_path, monkeypatch):
    """F7: Gradio's upload folder kept every upload, refused ones and ones
    removed from the library too; now each is deleted there once handled, and
    one never handled when the page stops."""
    from assistant.apps.chat import build

    from servers import free_port

    cache = tmp_path / "gradio-uploads"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    settings = indexed_corpus(tmp_path, {"bridges.md": f"# Bridges\n\n{FACT}\n"})
    demo = build(settings)
    page = {f.fn.__name__: f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", None)}
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        paths = _post_upload(
            url,
            {"tunnels.md": b"# Tunnels\n\nThe Karsk tunnel was completed in 2004.\n",
             "tool.exe": b"MZ\x00\x01", "blob.txt": b"\x00\xfe" * 80},
        )  # fmt: skip
        assert len(paths) == 3 and all(Path(p).is_relative_to(cache) and Path(p).is_file() for p in paths)
        *_, last = page["add"](paths, None)
        assert "Indexed:" in last[1]
        assert not [p for p in cache.rglob("*") if p.is_file()]  # added, refused or skipped: none kept there
        assert not any(Path(p).parent.exists() for p in paths)  # nor Gradio's folder for each
        # An upload whose event never comes (the page closed first) goes when the page stops.
        (left,) = _post_upload(url, {"left.md": b"# Left\n\nNever handled.\n"})
        assert Path(left).is_file()
    finally:
        demo.close()
    assert not Path(left).exists()
    assert (settings.corpus / "tunnels.md").is_file()

    outside = tmp_path / "kept.md"  # a path outside Gradio's folder is never deleted
    outside.write_text("# Kept\n\nThe Orrin observatory was built in 1932.\n", encoding="utf-8")
    *_, last = page["add"]([str(outside)], None)
    assert outside.is_file() and (settings.corpus / "kept.md").is_file()


def test_an_upload_status_has_one_line_per_upload(tmp_path):
    """F9: each upload's status repeated every skipped file of the corpus;
    now one line per uploaded file, saying how it was indexed."""
    settings = indexed_corpus(tmp_path, {"bridges.md": f"# Bridges\n\n{FACT}\n", "old.txt": b"\x00\xff" * 50})
    page = handlers(settings)
    given = tmp_path / "given"
    given.mkdir()
    files = {"tunnels.md": b"# Tunnels\n\nThe Karsk tunnel was completed in 2004.\n", "tool.exe": b"MZ\x00\x01",
             "blob.txt": b"\x00\xfe" * 80}  # fmt: skip
    for name, data in files.items():
        (given / name).write_bytes(data)
    *_, last = page["add"]([str(given / n) for n in files], None)
    parts = last[1].split("\n\n")
    assert len(parts) == 4 and parts[-1].startswith("**Indexed:** 1 file added"), parts
    assert "tunnels" in parts[0] and parts[0].endswith("; indexed")
    assert parts[1].startswith("**Not added:**") and "tool" in parts[1]
    assert parts[2].startswith("**Not indexed:**") and "blob" in parts[2] and "skipped" in parts[2]
    assert "old" not in last[1]  # skipped before this upload: the table says so, not every upload


def test_the_documents_table_shows_a_disguised_name_as_it_is(tmp_path):
    """F14, a file put into the corpus by hand (not uploaded) with U+202E in
    its name: the table, the list to remove from and the messages show the
    override as its escape, and choosing its row still removes that file."""
    import gradio as gr

    spoof = "invoice\u202etxt.md"  # would read "invoicedm.txt"
    settings = indexed_corpus(
        tmp_path, {"bridges.md": f"# Bridges\n\n{FACT}\n", spoof: "# Invoice\n\nTotal due: 1250 EUR.\n"}
    )
    page = handlers(settings)
    state, _, table, choices = page["follow"](None)[:4]
    shown = "invoice\\u202etxt.md"
    assert [row[0] for row in table] == ["bridges.md", shown]
    assert ("invoice\\u202etxt.md", spoof) in choices["choices"]
    row = table[1]
    picked = page["pick"](gr.SelectData(None, {"index": [1, 0], "value": row[0], "row_value": row}))
    assert picked["value"] == spoof
    _, asked, _ = page["ask_remove"](picked["value"])
    assert "\u202e" not in asked and "u202etxt" in asked
    _, said, table, _ = page["do_remove"](picked["value"])
    assert said.startswith("**Removed:**") and "\u202e" not in said
    assert [row[0] for row in table] == ["bridges.md"] and not (settings.corpus / spoof).exists()
