"""Rough edges of the chat page a tester met (issue 24), checked on the
page's own handlers as Gradio calls them (no browser; the browser tests of
test_chat.py and test_chat_page.py check what shows)."""

from test_chat_failures import ASKED, FACT, ask, handlers

from assistant import Settings
from assistant.apps.chat_conversations import Conversations
from assistant.conversations import ConversationStore, db_path
from assistant.types import Answer

from conftest import indexed_corpus, make_pdf


def test_a_question_that_is_not_answered_stays_in_the_box(tmp_path):
    """Too long: the box was emptied as the question was taken, and stayed
    empty under the error; now the question comes back to be shortened."""
    settings = indexed_corpus(tmp_path, {"zorblat.md": f"# Bridges\n\n{FACT}\n"})
    page = handlers(settings)
    long = "When was the Zorblat bridge opened? " * 100
    box, shown, asked, _, _ = page["take"](long, [])
    assert box["value"] == ""  # taken at once, while it is answered
    *_, last = page["answer_turn"](asked, shown, None, {}, [], None)
    assert "too long" in str(last[0][-1]["content"])
    box, *_ = page["done"](last[0], asked)
    assert box["value"] == long and box["interactive"] is True
    *_, answered = page["answer_turn"](ASKED, page["take"](ASKED, [])[1], None, {}, [], None)
    box, *_ = page["done"](answered[0], ASKED)
    assert "value" not in box  # answered: the box stays empty for the next one


def test_a_saved_comment_is_confirmed_and_a_new_conversation_has_no_ratings(tmp_path):
    settings = indexed_corpus(tmp_path, {"zorblat.md": f"# Bridges\n\n{FACT}\n"})
    page = handlers(settings)
    first = ask(page, ASKED)
    cid, turns = first[2], first[3]
    target = (cid, next(iter(turns.values())), 1)
    _, box, said, group = page["add_comment"](target, "the year I needed", None)
    assert said == "Comment saved with your rating." and group["visible"] and not box["visible"]
    # The turn says which folder it was answered from (where `feedback export` reads its quotes).
    with ConversationStore(db_path(settings)) as store:
        (rated,) = store.feedback()
    assert rated.comment == "the year I needed" and rated.corpus == str(settings.corpus.resolve())
    # The ratings shown (the chat's feedback_value) are emptied with the chat.
    chat = page["start_over"]()[1]
    assert chat["value"] == [] and chat["feedback_value"] == []


def test_conversations_with_one_title_are_told_apart(tmp_path):
    convs = Conversations(Settings(corpus=tmp_path, index_dir=tmp_path / "index", chat_db=tmp_path / "c.sqlite3"))
    no = Answer(question="q", text="The sources don't say.", citations=[], refused=True, passages=[])
    for _ in range(3):  # asked within one minute (or one second)
        convs.save(None, "Who opened the bridge?", no, "ana")
    convs.save(None, "Another question", no, "ana")
    labels = [text for text, _ in convs.choices("ana")]
    assert len(set(labels)) == 4, labels
    assert all(text.startswith("Who opened the bridge?") for text in labels[1:])
    assert labels[0].startswith("Another question") and "#" not in labels[0]


def test_files_copied_but_not_indexed_are_offered_for_removal(tmp_path):
    """An encrypted PDF and a file of no text were copied into the corpus and
    listed as skipped, and stayed there; now the status offers to remove them."""
    settings = indexed_corpus(tmp_path, {"zorblat.md": f"# Bridges\n\n{FACT}\n"})
    page = handlers(settings)
    given = tmp_path / "given"
    given.mkdir()
    files = {"locked.pdf": make_pdf(["The Karsk tunnel was completed in 2004."], password="secret"),
             "blob.txt": b"\x00\xfe" * 80, "tunnels.md": b"# Tunnels\n\nThe Karsk tunnel is 11 km long.\n"}  # fmt: skip
    for name, data in files.items():
        (given / name).write_bytes(data)
    *_, last = page["add"]([str(given / n) for n in files], None)
    assert last[6]["visible"] is False  # the Cancel button goes once the indexing is done
    assert sorted(last[4]) == ["blob.txt", "locked.pdf"] and last[5]["visible"] is True
    said, table, _, left, offer = page["remove_skipped"](last[4])
    assert said.count("**Removed:**") == 2 and left == [] and offer["visible"] is False
    assert sorted(p.name for p in settings.corpus.iterdir()) == ["tunnels.md", "zorblat.md"]
    assert [row[0] for row in table] == ["tunnels.md", "zorblat.md"]
    assert page["remove_skipped"](last[4])[0] == ""  # already gone: nothing to say
