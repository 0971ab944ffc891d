"""`assistant feedback export`: rated turns as gold-set candidates, run as a
real process on a real database, and read back by the gold reader."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace

import pytest

from assistant.conversations import ConversationStore
from assistant.conversations.export import candidates, key_facts, plain_answer
from assistant.errors import GoldFileError
from assistant.evals.gold import load_gold
from assistant.settings import Settings

from conftest import ROOT, SEEDS
from saved import damage_records, quick_check, rated_conversations, refusal, seed_answers


def run_cli(*args, db, cwd):
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "ASSISTANT_CHAT_DB": str(db)}
    cmd = [sys.executable, "-m", "assistant.apps.cli", "feedback", "export", "--corpus", str(SEEDS), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


@pytest.fixture
def rated(tmp_path):
    """A database with two users' rated turns: alice up, up (a follow-up), down
    (a question of its own after them), and a refusal she agreed with; bob one down."""
    db = tmp_path / "conv.sqlite3"
    a1, a2, a3 = seed_answers()
    with ConversationStore(db) as store:
        cid = store.create(user="alice")
        for a in (a1, a2, a3, refusal()):
            store.add_turn(cid, FOLLOW_UP if a is a2 else a.question, a, user="alice")
        store.rate(cid, 0, 1, "spot on", user="alice")
        store.rate(cid, 1, 1, user="alice")
        store.rate(cid, 2, -1, "it was the prime minister who asked", user="alice")
        store.rate(cid, 3, 1, user="alice")
        other = store.create(user="bob")
        store.add_turn(other, a3.question, a3, user="bob")
        store.add_turn(other, "unrated", a1, user="bob")
        store.rate(other, 0, -1, user="bob")
    return db


FOLLOW_UP = "Which think tank said it was urgent?"  # "it": what Washington asked, the turn before


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def reviewed(items: list[dict]) -> list[dict]:
    """What a person does to a thumbs-up candidate that is right: delete the flag."""
    return [{k: v for k, v in item.items() if k != "needs_review"} for item in items]


def test_export_as_a_real_process(rated, tmp_path):
    r = run_cli(db=rated, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    items = lines(r.stdout)  # stdout by default
    assert [i["feedback"]["rating"] for i in items] == ["up", "up", "down", "up", "down"]
    assert r.stderr.startswith("5 rated turns exported (3 up, 2 down)")
    assert all(i["needs_review"] is True for i in items)

    up, follow, down, agreed, bobs = items
    a1, a2, a3 = seed_answers()
    assert (up["type"], up["question"], up["history"]) == ("fact", a1.question, [])
    assert up["answer"] == plain_answer(a1.text) and "[1]" not in up["answer"]
    assert up["sources"] == ["000_5ee872053de253e0.txt"]
    raw = (SEEDS / up["sources"][0]).read_text(encoding="utf-8-sig")
    c = a1.citations[0]
    assert up["evidence"] == [{"source": c.source, "quote": raw[c.start : c.end]}]
    assert up["must_include"] and all(g[0].lower() in up["evidence"][0]["quote"].lower() for g in up["must_include"])
    assert up["feedback"]["comment"] == "spot on" and up["feedback"]["answer_given"] == a1.text
    assert up["feedback"]["user"] == "alice" and up["feedback"]["turn"] == 0

    # The conversation before a turn is its history, in the gold format; a question that
    # reads on its own after it is a fact all the same.
    assert follow["type"] == "follow-up" and follow["question"] == FOLLOW_UP
    assert down["type"] == "fact" and len(down["history"]) == 4
    assert follow["history"] == [
        {"role": "user", "content": a1.question},
        {"role": "assistant", "content": plain_answer(a1.text), "refused": False},
    ]
    # Thumbs down: the reference is for a person to write; what was said is kept.
    assert (down["answer"], down["must_include"], down["sources"], down["evidence"]) == ("", [], [], [])
    assert down["feedback"]["answer_given"] == a3.text
    assert down["feedback"]["cited"][0]["source"] == "001_822ce0cbe2c49b13.txt"
    assert down["feedback"]["comment"] == "it was the prime minister who asked"
    assert agreed["type"] == "unanswerable" and agreed["answer"] == refusal().text and agreed["must_include"] == []
    assert bobs["feedback"]["user"] == "bob" and bobs["history"] == []
    assert len({i["id"] for i in items}) == 5

    # --rating and --out; the same ids on a second export (appending twice is caught as duplicates).
    out = tmp_path / "out" / "candidates.jsonl"
    r = run_cli("--rating", "down", "--out", str(out), db=rated, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == ""
    assert f"exported to {out}" in r.stderr
    assert lines(out.read_text(encoding="utf-8")) == [down, bobs]
    r = run_cli("--rating", "up", "--user", "alice", db=rated, cwd=tmp_path)
    assert lines(r.stdout) == [up, follow, agreed]


def test_a_reviewed_export_is_a_gold_set(rated, tmp_path):
    settings = Settings(corpus=SEEDS, chat_db=rated)
    items = candidates(settings, "up")
    path = tmp_path / "candidates.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    # Unreviewed, the reader refuses them, and says what to do.
    with pytest.raises(GoldFileError) as e:
        load_gold(path, settings)
    assert len(e.value.problems) == 3 and all("needs review" in p for p in e.value.problems)
    # Reviewed: the gold reader takes them, quotes checked against the corpus.
    path.write_text("".join(json.dumps(i) + "\n" for i in reviewed(items)), encoding="utf-8")
    gold = load_gold(path, settings)
    assert [g["type"] for g in gold] == ["fact", "follow-up", "unanswerable"]
    # A thumbs-down, once a person has written the reference, reads too.
    (down,) = reviewed(candidates(settings, "down", user="alice"))
    quote = "Han requested China’s support for South Korea’s bid to host the 2030 World Expo"
    down.update(
        answer="Han asked China to back Busan's 2030 World Expo bid.",
        must_include=[["World Expo"]],
        sources=["001_822ce0cbe2c49b13.txt"],
        evidence=[{"source": "001_822ce0cbe2c49b13.txt", "quote": quote}],
    )
    path.write_text(json.dumps(down) + "\n", encoding="utf-8")
    assert load_gold(path, settings)[0]["answer"].startswith("Han asked")


def test_quotes_are_the_file_text_not_the_cleaned_one(tmp_path):
    """Citation.text is the cleaned sentence; the gold format wants the file's words."""
    a = seed_answers()[0]
    c = a.citations[0]
    cleaned = replace(a, citations=[replace(c, text=c.text.replace(" ", "  ").upper())])
    with ConversationStore(tmp_path / "c.db") as store:
        cid = store.create()
        store.add_turn(cid, a.question, cleaned)
        store.rate(cid, 0, 1)
    (item,) = candidates(Settings(corpus=SEEDS, chat_db=tmp_path / "c.db"))
    raw = (SEEDS / c.source).read_text(encoding="utf-8-sig")
    assert item["evidence"][0]["quote"] == raw[c.start : c.end] == c.text
    # A file gone from the corpus: the cited text, with the problem said.
    (item,) = candidates(Settings(corpus=tmp_path, chat_db=tmp_path / "c.db"))
    assert item["evidence"][0]["quote"] == cleaned.citations[0].text
    assert "could not be read" in item["feedback"]["cited"][0]["problem"]


def test_key_facts():
    evidence = "Seoul will invest US$350 billion, Lee Jae-myung told the White House on June 6, 2025."
    answer = "Lee Jae-myung said Seoul would invest US$350 billion and buy energy from Canada in 2031."
    facts = [g[0] for g in key_facts(answer, evidence)]
    assert "US$350 billion" in facts and "Lee Jae-myung" in facts and "Seoul" in facts
    assert not {"Canada", "2031"} & set(facts)  # not in the evidence: not a key fact
    assert key_facts("the answer mentions reciprocal tariffs", "reciprocal tariffs were threatened") == [["reciprocal"]]


def test_a_missing_database_is_one_line(tmp_path):
    r = run_cli(db=tmp_path / "none.sqlite3", cwd=tmp_path)
    assert r.returncode == 5 and r.stdout == ""
    assert r.stderr.strip() == (
        f"error: no conversations database at {tmp_path / 'none.sqlite3'}: nothing to export "
        "(the chat page saves conversations there; ASSISTANT_CHAT_DB names another file)"
    )
    assert not (tmp_path / "none.sqlite3").exists()
    (tmp_path / "junk.sqlite3").write_bytes(b"junk" * 100)
    r = run_cli(db=tmp_path / "junk.sqlite3", cwd=tmp_path)
    assert r.returncode == 5 and "junk.sqlite3 is not a conversations database" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_an_export_never_creates_or_changes_a_database(rated, tmp_path):
    """F10: `feedback export` on a 0-byte file wrote the schema into it (28 KB);
    it only reads: the file is left as it was, whatever it holds."""
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    r = run_cli(db=empty, cwd=tmp_path)
    assert r.returncode == 5 and r.stdout == ""
    assert r.stderr.strip() == f"error: {empty} holds no conversations yet (left as it is)"
    assert empty.stat().st_size == 0

    other = tmp_path / "other.db"  # somebody else's SQLite file: named, not migrated
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE accounts (name TEXT)")
    before = other.read_bytes()
    r = run_cli(db=other, cwd=tmp_path)
    assert r.returncode == 5 and "other.db is a SQLite database of something else" in r.stderr
    assert other.read_bytes() == before

    before = rated.read_bytes()
    r = run_cli(db=rated, cwd=tmp_path)
    assert r.returncode == 0 and len(lines(r.stdout)) == 5
    assert rated.read_bytes() == before


def test_a_damaged_file_exports_what_reads(tmp_path):
    """F8 re-test: on a file whose record contents are damaged (quick_check
    says ok) the export failed whole (exit 5, 0 of 7 ratings); it exports
    every rated turn that reads and says in one line how many did not. A
    file of which nothing reads is still an error (exit 5, one line)."""
    db = tmp_path / "conv3.db"
    rated_conversations(db)
    damaged = damage_records(db)
    assert quick_check(db) == ["ok"]
    r = run_cli(db=db, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(lines(r.stdout)) == 3 and all(len(item["history"]) == 4 for item in lines(r.stdout))
    (warning,) = [line for line in r.stderr.splitlines() if "could not be read" in line]
    assert warning == (
        f"warning: 4 rated turns could not be read, the conversations database {db} is damaged "
        "(Could not decode to UTF-8 column 'answer'); they are not exported"
    )
    assert db.read_bytes() == damaged  # read only

    with ConversationStore(db, readonly=True) as store:
        readable = [head[0] for head, _ in store.readable()[0]]
    with sqlite3.connect(db) as conn:  # only the damaged conversations keep their ratings
        conn.executemany("UPDATE turns SET rating = 0 WHERE conversation = ?", [(cid,) for cid in readable])
    r = run_cli(db=db, cwd=tmp_path)
    assert r.returncode == 5 and r.stdout == ""
    assert r.stderr.strip() == (
        f"error: {db} is damaged: none of its 4 rated turns could be read (Could not decode to UTF-8 column 'answer')"
    )


def test_without_corpus_the_quotes_are_read_where_the_page_answered_from(tmp_path):
    """The page ran on another folder than the export's default: its turns say
    which, and the export reads the cited spans there (--corpus still wins)."""
    elsewhere = tmp_path / "docs"
    elsewhere.mkdir()
    a = seed_answers()[0]
    source = a.citations[0].source
    (elsewhere / source).write_bytes((SEEDS / source).read_bytes())
    db = tmp_path / "c.db"
    with ConversationStore(db) as store:
        cid = store.create()
        store.add_turn(cid, a.question, a, corpus=str(elsewhere))
        store.rate(cid, 0, 1)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "ASSISTANT_CHAT_DB": str(db)}
    cmd = [sys.executable, "-m", "assistant.apps.cli", "feedback", "export"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    (item,) = lines(r.stdout)
    assert "problem" not in item["feedback"]["cited"][0] and item["evidence"][0]["quote"] == a.citations[0].text
    (item,) = candidates(Settings(corpus=SEEDS, chat_db=db), corpus=tmp_path / "empty")
    assert "could not be read" in item["feedback"]["cited"][0]["problem"]
