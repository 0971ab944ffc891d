"""The chat page's structure: saved conversations (sidebar, reload, restart,
rename, delete, per-user), ratings, the Documents tab (upload, progress,
table, remove) and following `assistant index` run from a shell. The page
runs as a real `assistant chat` process with two logins, driven in a real
headless Chromium; one page process serves the whole module."""

import html
import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack

import pytest
from test_chat import browser, needs_browser  # noqa: F401  (browser: this module's Chromium)

from assistant import Settings, build_index
from assistant.apps.chat_conversations import Conversations, question_html
from assistant.apps.chat_docs import header, rows, size_text, summary
from assistant.conversations import ConversationStore, db_path
from assistant.errors import AssistantError
from assistant.library import DocumentInfo
from assistant.settings import chat_users
from assistant.types import Answer, Citation, Passage

from conftest import ROOT, annals, make_docx, make_pdf
from servers import free_port, serve

USERS = {"alice": "pw-alice", "bob": "pw-bob"}
FACT = "The Zorblat bridge over the Qelm river was opened in 1987 by mayor Ilse Quintana."


# --- without a browser -------------------------------------------------------
def test_a_page_started_without_an_index_opens_on_the_built_index(tmp_path):
    """`assistant chat` says it builds a missing index before the page starts,
    and does: once the page answers, every document is indexed (built by the
    page's first request instead, the first load said "0 documents indexed")."""
    from assistant.library import documents

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "zorblat.md").write_text(FACT + "\n", encoding="utf-8")
    port = free_port()
    env = {**os.environ, "ASSISTANT_CORPUS": str(corpus), "ASSISTANT_INDEX_DIR": str(tmp_path / "index")}
    cmd = [sys.executable, "-m", "assistant.apps.cli", "chat", "--port", str(port)]
    with serve(cmd, f"http://127.0.0.1:{port}/", "the chat page", timeout=120, env=env):
        docs = documents(settings=Settings(corpus=corpus, index_dir=tmp_path / "index"))
        assert [(d.source, d.status) for d in docs] == [("zorblat.md", "indexed")]


def test_chat_auth_takes_several_users():
    assert chat_users("alice:pw1,bob:pw:2") == [("alice", "pw1"), ("bob", "pw:2")]
    assert Settings(chat_auth="alice:pw1, bob:pw2").chat_auth == "alice:pw1, bob:pw2"
    for bad in ("alice", "alice:pw,bob", "alice:pw,alice:other", "alice:pw,"):
        with pytest.raises(ValueError):
            chat_users(bad)


def test_documents_table_and_summary():
    docs = [
        DocumentInfo("a.md", "md", 2048, 3, 1764115200.0, "indexed"),
        DocumentInfo("scan.pdf", "pdf", 10, 0, None, "skipped", "no text layer (a scanned PDF?)", 4),
        DocumentInfo("new.txt", "txt", 5, 0, None, "pending"),
    ]
    table = rows(docs)
    assert table[0][:4] == ["a.md", "md", "2.0 KB", 3] and table[0][4].startswith("2025-11-2")
    assert table[1][1] == "pdf, 4 pages" and table[1][5] == "skipped: no text layer (a scanned PDF?)"
    assert table[2][5] == "waiting to be indexed" and table[2][3] == ""
    assert summary(docs) == "1 document indexed (1 waiting, 1 skipped)"
    assert size_text(5) == "5 bytes" and size_text(3 * 1024 * 1024) == "3.0 MB"
    offline = header(Settings(backend="offline"), docs)
    assert "1 document indexed (1 waiting, 1 skipped)" in offline and "offline extractive answerer" in offline
    llm = html.unescape(header(Settings(openai_base_url="http://127.0.0.1:9/v1", llm_model="qwen-7b"), docs))
    assert "LLM **qwen-7b** at http://127.0.0.1:9/v1" in llm and "offline" not in llm


def test_a_broken_conversations_database_stops_saving_not_the_page(tmp_path):
    (tmp_path / "c.sqlite3").write_bytes(b"not a database at all" * 100)
    convs = Conversations(Settings(corpus=tmp_path, index_dir=tmp_path / "index", chat_db=tmp_path / "c.sqlite3"))
    assert convs.choices("") == [] and convs.open("abc", "") is None
    with pytest.raises(AssistantError, match="c.sqlite3"):
        convs.save(None, "q", Answer(question="q", text="t", citations=[], refused=True, passages=[]), "")
    assert (tmp_path / "c.sqlite3").read_bytes().startswith(b"not a database")  # nothing overwritten


def test_a_reopened_conversation_shows_every_turn_and_reads_as_history(tmp_path):
    settings = Settings(corpus=tmp_path, index_dir=tmp_path / "index", chat_db=tmp_path / "c.sqlite3")
    convs = Conversations(settings)
    p = Passage(
        n=1, id="x", source="a.md", title="A", text="Seoul will invest $350 billion.", start=0, end=31, score=1.0
    )
    c = Citation(n=1, source="a.md", title="A", text="Seoul will invest $350 billion.", start=0, end=31, passage=1)
    good = Answer(question="q", text="Seoul will invest $350 billion [1].", citations=[c], refused=False, passages=[p])
    no = Answer(question="q", text="The sources don't say.", citations=[], refused=True, passages=[])
    cid, first = convs.save(None, "How much? <b>**x**</b>", good, "ana")
    assert convs.save(cid, "And Macron?", no, "ana") == (cid, 1)
    convs.rate(cid, first, 1, "exact figure", "ana")
    assert convs.open(cid, "bob") is None and convs.choices("bob") == []  # another user's
    shown = convs.shown(convs.open(cid, "ana"))
    assert [m["role"] for m in shown.messages] == ["user", "assistant"] * 2
    assert (
        shown.messages[0]["content"] == question_html("How much? <b>**x**</b>")
        and "<b>" not in shown.messages[0]["content"]
    )
    assert "href='#msg-" in shown.messages[1]["content"] and shown.turns == {1: 0, 3: 1}
    assert shown.feedback == ["Like", None]
    assert "Sources" not in shown.sources and "don" in shown.sources  # the last answer's panel: a refusal
    history = convs.history(convs.open(cid, "ana"))
    assert [h.get("refused") for h in history] == [None, False, None, True]
    assert history[0]["content"] == "How much? <b>**x**</b>"


# --- in a real browser -------------------------------------------------------


class Page:
    """`assistant chat` with two logins, on a port kept across restarts."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.url = f"http://127.0.0.1:{free_port()}/"
        self.env = {**os.environ, "ASSISTANT_CORPUS": str(settings.corpus), "ASSISTANT_INDEX_DIR": str(settings.index_dir),
                    "ASSISTANT_CHAT_AUTH": ",".join(f"{u}:{p}" for u, p in USERS.items()),
                    "ASSISTANT_UPLOAD_MAX_MB": "2"}  # fmt: skip
        self.stack = ExitStack()
        self.served = 0.0

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1].strip("/")
        cmd = [sys.executable, "-m", "assistant.apps.cli", "chat", "--port", port]
        t0 = time.perf_counter()
        self.stack.enter_context(serve(cmd, self.url, "the chat page", timeout=120, env=self.env))
        self.served = time.perf_counter() - t0
        print(f"chat page served {self.served:.2f} s after process start")

    def stop(self) -> None:
        self.stack.close()


@pytest.fixture(scope="module")
def chat(tmp_path_factory):
    base = tmp_path_factory.mktemp("chat_page")
    corpus = base / "corpus"
    corpus.mkdir()
    for name in ("003_e5f950a99eaab371.txt", "004_b6b4be5490c3fc00.txt"):
        shutil.copy(ROOT / "seeds" / name, corpus)
    settings = Settings(corpus=corpus, index_dir=base / "index")
    build_index(settings=settings)
    page = Page(settings)
    page.start()
    yield page
    page.stop()


def login(browser, chat, user: str, context=None):  # noqa: F811
    context = context or browser.new_context(viewport={"width": 1400, "height": 1000})
    assert context.request.post(chat.url + "login", form={"username": user, "password": USERS[user]}).ok
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(chat.url)
    page.wait_for_selector("#question textarea")
    # Loaded: the header names the documents (and the last conversation is open).
    page.wait_for_function("() => document.querySelector('#header').innerText.includes('indexed')", timeout=20000)
    return page


def ask(page, question: str) -> None:
    """Ask and wait for the finished answer (its sources panel, or its refusal or error)."""
    page.get_by_role("tab", name="Chat").click()
    before = page.inner_text("#chat").count(question)
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "([q, n]) => document.querySelector('#chat').innerText.split(q).length - 1 > n", arg=[question, before]
    )
    assert question in page.inner_text("#chat")  # at once, before the answer
    page.wait_for_function("() => !document.querySelector('#chat .status')", timeout=60000)


def documents_tab(page) -> None:
    page.click("#show-documents")
    page.wait_for_selector("#upload input[type=file]", state="attached")


@needs_browser
def test_upload_ask_about_it_then_remove_it(browser, chat, tmp_path):  # noqa: F811
    (tmp_path / "zorblat.md").write_text(f"# The Zorblat bridge\n\n{FACT} It is 840 metres long.\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "tool.exe").write_bytes(b"MZ\x00\x01")
    (tmp_path / "tunnels.pdf").write_bytes(make_pdf([
        "Mountain crossings of the north are listed in this report, with their opening years. " * 3,
        "The Karsk tunnel under the Vell mountains was completed in 2004 and is eleven kilometres long. " * 2,
    ]))  # fmt: skip
    (tmp_path / "observatory.docx").write_bytes(
        make_docx(
            ["The Orrin observatory was built on Mount Tesk in 1932 by the astronomer Helga Mirren."],
            heading="Observatory notes",
        )
    )
    (tmp_path / "blob.txt").write_bytes(b"\x00\xfe" * 80)  # copied, but no text to index
    files = ("zorblat.md", "tunnels.pdf", "observatory.docx", "empty.txt", "tool.exe", "blob.txt")
    page = login(browser, chat, "alice")
    documents_tab(page)
    page.set_input_files("#upload input[type=file]", [str(tmp_path / n) for n in files])
    page.wait_for_function(
        "() => document.querySelector('#upload-status').innerText.includes('Indexed')", timeout=90000
    )
    said = page.inner_text("#upload-status")
    assert said.count("Not added") == 2 and "empty" in said and "tool.exe" in said
    page.wait_for_function("() => document.querySelector('#documents').innerText.includes('zorblat.md')")
    assert not (chat.settings.corpus / "tool.exe").exists() and (chat.settings.corpus / "zorblat.md").exists()
    page.click("#remove-skipped")  # the copy that was not indexed does not stay in the corpus folder
    page.wait_for_function("() => document.querySelector('#upload-status').innerText.includes('Removed: blob.txt')")
    assert not (chat.settings.corpus / "blob.txt").exists()
    page.wait_for_selector("#remove-skipped", state="hidden")
    # A file over the limit (1 MB for this page), which the browser does not send: the status says so,
    # in place of the last upload's lines.
    big = {"name": "huge.txt", "mimeType": "text/plain", "buffer": b"words " * 500_000}
    page.set_input_files("#upload input[type=file]", files=[big])
    page.wait_for_function("() => document.querySelector('#upload-status').innerText.includes('huge.txt')")
    said = page.inner_text("#upload-status")
    assert "Not added: huge.txt: too large (2.9 MB; the limit is 2 MB)" in said and "Indexed" not in said
    assert not (chat.settings.corpus / "huge.txt").exists()

    assert "pdf, 2 pages" in page.inner_text("#documents")
    ask(page, "When was the Zorblat bridge opened?")
    assert "1987" in page.inner_text("#chat") and "zorblat.md" in page.inner_text("#sources")
    ask(page, "When was the Karsk tunnel completed?")
    assert "2004" in page.inner_text("#sources mark.cited") and "tunnels.pdf" in page.inner_text("#sources")
    assert "p. 2" in page.inner_text("#sources")  # the page the cited sentence is on
    ask(page, "Who built the Orrin observatory?")
    assert "Helga Mirren" in page.inner_text("#sources mark.cited")
    assert "observatory.docx" in page.inner_text("#sources")

    documents_tab(page)
    page.locator(
        "#documents [role=gridcell]", has_text="zorblat.md"
    ).first.click()  # a row chooses the document to remove
    page.wait_for_function("() => document.querySelector('#remove-choice input').value === 'zorblat.md'")
    page.click("#remove")
    page.wait_for_selector("#remove-confirm", state="visible")
    assert "zorblat.md" in page.inner_text("#remove-confirm")
    page.click("#remove-yes")
    page.wait_for_function(
        "() => document.querySelector('#upload-status').innerText.includes('Removed')", timeout=60000
    )
    page.wait_for_function("() => !document.querySelector('#documents').innerText.includes('zorblat.md')")
    assert not (chat.settings.corpus / "zorblat.md").exists()

    ask(page, "When was the Zorblat bridge opened? Who opened it?")
    last = page.query_selector_all("#chat [data-testid='bot']")[-1].inner_text()
    assert "1987" not in last and "Quintana" not in last and "zorblat.md" not in page.inner_text("#sources")
    page.context.close()


@needs_browser
def test_indexing_says_where_it_is_and_cancel_stops_it(browser, chat, tmp_path):  # noqa: F811
    """A large upload (12 segments of 128 KB) shows its file, segment, rate and
    time left; Cancel stops it at a committed point and the status says what is indexed."""
    (tmp_path / "annals.txt").write_text(annals(24_000), encoding="utf-8")
    page = login(browser, chat, "bob")
    documents_tab(page)
    page.set_input_files("#upload input[type=file]", [str(tmp_path / "annals.txt")])
    try:
        page.wait_for_function(
            "() => document.querySelector('#upload-status').innerText.includes('words/s')", timeout=300000
        )
        said = page.inner_text("#upload-status")
        assert re.search(r"Indexing annals\.txt — file \d+ of \d+, segment \d+ of 1\d · [\d,]+ words/s · ", said), said
        assert "left" in said
        page.click("#cancel-indexing")
        page.wait_for_function(
            "() => document.querySelector('#upload-status').innerText.includes('Stopped:')", timeout=120000
        )
        said = page.inner_text("#upload-status")
        assert re.search(r"Stopped: \d+ of \d+ files indexed; annals\.txt indexed up to segment \d+ of 1\d\.", said)
        page.wait_for_selector("#cancel-indexing", state="hidden")
    finally:  # the other tests of the module would index the rest of it
        (chat.settings.corpus / "annals.txt").unlink(missing_ok=True)
        page.context.close()


@needs_browser
def test_conversations_are_saved_rated_renamed_deleted_and_private(browser, chat):  # noqa: F811
    page = login(browser, chat, "alice")
    page.click("#new-conversation")
    ask(page, "How much is Seoul expected to invest in the US?")
    assert "350 billion" in page.inner_text("#sources mark.cited")
    page.wait_for_function("() => document.querySelector('#conversations').innerText.includes('How much is Seoul')")
    assert page.input_value("#rename-title input").startswith("How much is Seoul")  # its title, ready to edit

    # Thumbs up with a comment, saved with the turn.
    page.locator("#chat button[aria-label='Like']").last.click()
    page.wait_for_selector("#feedback-comment", state="visible")
    page.fill("#feedback-comment input", "exactly the figure I needed")
    page.keyboard.press("Enter")
    page.wait_for_selector("#feedback-comment", state="hidden")
    assert "Comment saved with your rating." in page.inner_text("#feedback")  # said where it was typed
    store = ConversationStore(db_path(chat.settings))
    rated = [f for f in store.feedback() if f.comment == "exactly the figure I needed"]
    assert len(rated) == 1 and rated[0].rating == 1

    # A reload reopens it, with its sources and the rating.
    page.reload()
    page.wait_for_selector("#chat a.cite", timeout=20000)
    assert "How much is Seoul" in page.inner_text("#chat")
    assert "350 billion" in page.inner_text("#sources mark.cited")
    page.wait_for_selector("#chat button[aria-label='Liked']")  # the rating given
    ask(page, "And what energy commitment goes with it?")  # a follow-up on the reopened conversation
    assert "energy" in page.inner_text("#sources").lower()

    page.fill("#rename-title input", "Seoul investment")
    page.click("#rename")
    page.wait_for_function("() => document.querySelector('#conversations').innerText.includes('Seoul investment')")

    # A new conversation's answer shows none of the ratings of the one open before.
    page.click("#new-conversation")
    ask(page, "What energy commitment did Korea make?")
    page.wait_for_selector("#chat button[aria-label='Like']")
    assert page.locator("#chat button[aria-label='Liked']").count() == 0
    page.locator("#chat button[aria-label='Like']").last.click()  # rated here, then started over
    page.wait_for_selector("#feedback-comment", state="visible")
    page.click("#new-conversation")
    ask(page, "What energy commitment did Korea make?")
    page.wait_for_selector("#chat button[aria-label='Like']")
    assert page.locator("#chat button[aria-label='Liked']").count() == 0
    # Two conversations of one title, told apart in the sidebar.
    same = page.locator("#conversations label", has_text="What energy commitment did Korea make?")
    assert same.count() == 2 and same.nth(0).inner_text() != same.nth(1).inner_text()
    page.locator("#conversations label", has_text="Seoul investment").click()
    page.wait_for_selector("#chat button[aria-label='Liked']")

    # Another user sees none of it, and alice none of his.
    bob = login(browser, chat, "bob")
    assert "Seoul investment" not in bob.inner_text("#sidebar") and not bob.query_selector("#chat [data-testid='bot']")
    ask(bob, "What tariff did Trump threaten?")
    bob.wait_for_function("() => document.querySelector('#conversations').innerText.includes('What tariff')")
    page.reload()
    page.wait_for_selector("#chat a.cite", timeout=20000)
    assert "What tariff" not in page.inner_text("#sidebar")

    # Delete: the chat and the sources panel are emptied, the entry gone.
    page.click("#delete")
    page.click("#delete-yes")
    page.wait_for_function("() => !document.querySelector('#conversations').innerText.includes('Seoul investment')")
    page.wait_for_function("() => document.querySelectorAll('#chat a.cite').length === 0")
    assert "Cited passages appear here" in page.inner_text("#sources")
    assert all(s.title != "Seoul investment" for s in store.list(user="alice"))
    page.context.close()
    bob.context.close()

    # With a long list in the sidebar, the confirmation shows where Delete was clicked.
    no = Answer(question="q", text="The sources don't say.", citations=[], refused=True, passages=[])
    for i in range(25):
        store.add_turn(store.create(user="bob"), f"Question number {i}?", no, user="bob")
    bob = login(browser, chat, "bob", browser.new_context(viewport={"width": 1400, "height": 600}))
    bob.locator("#conversations label", has_text="Question number 3?").click()
    bob.wait_for_function("() => document.querySelector('#chat').innerText.includes('Question number 3?')")
    bob.evaluate("document.querySelector('#delete').scrollIntoView({block: 'end'})")  # as far as one scrolls
    bob.click("#delete")
    bob.wait_for_function(
        "() => { const b = document.querySelector('#delete-yes'), r = b && b.getBoundingClientRect();"
        " return !!r && r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; }"
    )
    bob.context.close()


@needs_browser
def test_documents_follow_assistant_index_run_from_a_shell(browser, chat):  # noqa: F811
    page = login(browser, chat, "alice")
    documents_tab(page)
    page.wait_for_function("() => document.querySelector('#documents').innerText.includes('003_e5f950a99eaab371.txt')")
    indexed = int(re.search(r"(\d+) documents? indexed", page.inner_text("#header")).group(1))
    (chat.settings.corpus / "later.md").write_text(
        "# Later\n\nThe Vantor dam holds 12 cubic kilometres.\n", encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "assistant.apps.cli", "index"], env=chat.env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    page.wait_for_function("() => document.querySelector('#documents').innerText.includes('later.md')", timeout=20000)
    page.wait_for_function(
        "n => document.querySelector('#header').innerText.includes(`${n} documents indexed`)", arg=indexed + 1
    )
    page.context.close()


@needs_browser
def test_a_restarted_server_reopens_the_last_conversation(browser, chat):  # noqa: F811
    page = login(browser, chat, "alice")
    page.click("#new-conversation")
    ask(page, "What did Trump call his approach of bundling defense costs with trade?")
    page.wait_for_selector("#chat [data-testid='bot']")
    chat.stop()
    chat.start()
    assert chat.served < 30  # the target, <= 5 s, is measured by benchmarks/bench_chat.py on an idle machine
    page = login(browser, chat, "alice", context=page.context)  # the login does not survive a restart
    page.wait_for_function(
        "() => document.querySelector('#chat').innerText.includes('What did Trump call his approach')", timeout=20000
    )
    assert "What did Trump call his approach" in page.inner_text("#conversations")
    assert page.query_selector("#sources details")  # with its sources

    # The trash icon starts over as "New conversation" does: nothing stale is left, the entry stays.
    page.click("#chat button[aria-label='Clear']")
    page.wait_for_function("() => !document.querySelector('#chat [data-testid=\"bot\"]')")
    page.wait_for_function("() => document.querySelector('#sources').innerText.includes('Cited passages appear here')")
    page.reload()
    page.wait_for_selector("#question textarea")
    page.wait_for_function("() => document.querySelector('#conversations').innerText.includes('What did Trump call')")
    assert not page.query_selector("#chat [data-testid='bot']")
    page.context.close()
