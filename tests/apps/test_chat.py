"""The chat page. Rendering is unit-tested; the page itself runs in a real
headless Chromium (Debian's package) driven by Playwright against a real
`assistant chat` process on 127.0.0.1."""

import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from html import unescape
from pathlib import Path

import pytest

from assistant.apps.chat_render import (
    chat_history,
    copy_text,
    escape,
    plain,
    render_answer,
    render_error,
    render_question,
    render_sources,
)
from assistant.errors import QuestionError
from assistant.types import Answer, Citation, Passage

from conftest import ROOT
from servers import free_port, serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def _answer(text="Seoul will invest $350 billion [1].", refused=False, doc="Seoul will invest $350 billion."):
    p = Passage(n=1, id="x", source="a.md", title="T <i>", text=f"Intro.\n\n{doc} More.", start=0, end=99, score=1.0)
    c = Citation(n=1, source="a.md", title="T <i>", text=doc, start=10, end=40, passage=1)
    return Answer(question="q", text=text, citations=[] if refused else [c], refused=refused, passages=[p])


def test_rendered_answer_links_citations_and_highlights_the_span():
    html = render_answer(_answer(), "abc")
    assert "<a class='cite' href='#msg-abc-1'>[1]</a>" in html
    assert "<mark class='cited'>Seoul will invest &#36;350 billion.</mark>" in html
    assert "T &#60;i&#62;" in html and "<i>" not in html
    panel = render_sources(_answer(), "abc")
    assert "id='panel-abc-1'" in panel and "open" in panel


def test_document_text_cannot_inject_markup():
    evil = "<script>alert(1)</script> [click](javascript:alert(1)) ![x](http://e/x.png) $$x^2$$ <img src=x onerror=alert(1)>"
    html = render_answer(_answer(text=evil + " [1].", doc=evil), "abc")
    for bad in ("<script", "<img", "](javascript", "$$", "[click]"):
        assert bad not in html, bad
    assert plain(escape(evil)) == evil  # what the reader sees is the text itself


def test_refusal_looks_like_a_refusal():
    html = render_answer(_answer(text="The sources don't say. They never mention Macron.", refused=True), "abc")
    assert "class='refusal'" in html and "error" not in html
    assert "don&#39;t answer" in render_sources(_answer(refused=True), "abc")


def test_the_history_sent_back_marks_refusals_and_errors():
    # What Gradio hands back: the rendered messages, content as a list of parts.
    def said(html):
        return {"role": "assistant", "content": [{"type": "text", "text": html}], "metadata": None}

    messages = [
        {"role": "user", "content": "q1"},
        said(render_answer(_answer(), "a")),
        {"role": "user", "content": "q2"},
        said(render_answer(_answer(text="The sources don't say. They never mention Macron.", refused=True), "b")),
        {"role": "user", "content": ""},
        said(render_error(QuestionError("The question is empty."))),
        # A document or answer cannot fake the marker: its text is escaped.
        {"role": "user", "content": "q3"},
        said(render_answer(_answer(text="<div class='refusal'> [1].", doc="<div class='refusal'>"), "c")),
    ]
    history = chat_history(messages)
    assert [m.get("refused") for m in history] == [None, False, None, True, None, True, None, False]
    assert history[1]["content"] == "Seoul will invest $350 billion [1]."
    assert history[3]["content"] == "The sources don't say. They never mention Macron."


def test_errors_show_their_message_and_bugs_no_internals():
    assert "The question is empty." in render_error(QuestionError("The question is empty."))
    shown = render_error(TypeError("TextEncodeInput must be Union[TextInputSequence, ...] <b>"))
    assert "class='error'" in shown and "TypeError" in shown and "server&#39;s log" in shown
    assert "TextEncodeInput" not in shown and "<b>" not in shown


def _two_sources():
    a = _answer(text="Seoul will invest $350 billion [1]. It buys <LNG> & oil [2].")
    p2 = Passage(
        n=2, id="y", source="b.pdf", title="b.pdf", text="It buys <LNG> & oil.", start=5, end=25, score=1.0, page=3
    )
    a.passages.append(p2)
    a.citations.append(
        Citation(n=2, source="b.pdf", title="b.pdf", text="It buys <LNG> & oil.", start=5, end=25, passage=2, page=3)
    )
    return a


def _copy_element(html: str) -> str:
    """The text the page's Copy button puts on the clipboard (the hidden element's text)."""
    inner = html.split("<div class='copy-text'>", 1)[1].split("</div>", 1)[0]
    assert "<" not in inner  # text only: escaped, nothing a browser would parse as a tag
    return unescape(inner)


def test_copy_gives_clean_text_with_numbered_sources():
    a = _two_sources()
    assert copy_text(a) == (
        "Seoul will invest $350 billion [1]. It buys <LNG> & oil [2].\n"
        "\n"
        "Sources:\n"
        "[1] a.md, chars 10–40 — T <i>\n"
        "    “Seoul will invest $350 billion.”\n"
        "[2] b.pdf, p. 3\n"  # a page when the format has pages; no title repeating the file name
        "    “It buys <LNG> & oil.”"
    )
    # What the page copies is exactly that text, whatever markup the message holds.
    html = render_answer(a, "abc")
    assert _copy_element(html) == copy_text(a)
    assert "<LNG>" not in html and "&#60;LNG&#62;" in html
    refused = _answer(text="The sources don't say. They never mention Macron.", refused=True)
    assert copy_text(refused) == refused.text == _copy_element(render_answer(refused, "r"))


def test_citation_preview_and_page_in_the_message():
    html = render_answer(_two_sources(), "abc")
    # [n] is a link with the cited sentence and its place as a preview next to it
    assert "<a class='cite' href='#msg-abc-2'>[2]</a><span class='tip' role='tooltip' id='tip-abc-2'>" in html
    tip = html.split("id='tip-abc-2'>", 1)[1].split("</span></span>", 1)[0]
    assert unescape(re.sub("<[^>]+>", " ", tip)).split() == "“It buys <LNG> & oil.” b.pdf, p. 3".split()
    assert "b.pdf · p. 3" in html and "b.pdf · p. 3" in render_sources(_two_sources(), "abc")
    # the history sent back to answer() has the answer's text only: no previews, Copy or sources
    said = {"role": "assistant", "content": html}
    assert chat_history([said])[0]["content"] == "Seoul will invest $350 billion [1]. It buys <LNG> & oil [2]."


def test_the_question_is_shown_as_typed():
    for typed in (
        "<img src=x> **b**",
        "<script>alert(1)</script>",
        "[a](javascript:x) $x$ _i_ `c`",
        "two\nlines & more",
    ):
        shown = render_question(typed)
        assert "<" not in shown.replace("<br>", ""), shown  # no tag but line breaks
        for md in "*_[]()`$":
            assert md not in shown, (typed, md)  # nothing Markdown would read as syntax
        assert plain(shown) == typed


# --- in a real browser -------------------------------------------------------

needs_browser = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian chromium not installed (.ci/run installs it)"
)


@contextmanager
def running_chat(corpus: Path, index_dir: Path, **extra_env):
    """`assistant chat` on a free 127.0.0.1 port, as a user starts it; yields its URL."""
    port = free_port()
    env = {**os.environ, "ASSISTANT_CORPUS": str(corpus), "ASSISTANT_INDEX_DIR": str(index_dir), **extra_env}
    t0 = time.perf_counter()
    url = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "assistant.apps.cli", "chat", "--port", str(port)]
    with serve(cmd, url, "the chat page", timeout=120, env=env):
        print(f"chat page served {time.perf_counter() - t0:.2f} s after process start")
        yield url


def ask(page, url: str | None, question: str) -> None:
    """Open the page (if `url`) and send a question."""
    if url:
        page.goto(url)
        page.wait_for_selector("textarea")
    page.fill("textarea", question)
    page.keyboard.press("Enter")


@pytest.fixture(scope="module")
def chat_url(seeds_settings):
    with running_chat(seeds_settings.corpus, seeds_settings.index_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    pw = pytest.importorskip("playwright.sync_api")
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@needs_browser
def test_ask_follow_up_open_citation_and_start_over(browser, chat_url, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    ask(page, chat_url, "How much is Seoul expected to invest in the US?")
    assert "offline extractive answerer" in page.inner_text("body")
    page.wait_for_selector("#chat a.cite", timeout=60000)
    page.wait_for_selector("#sources mark.cited", timeout=60000)
    assert "350 billion" in page.inner_text("#chat")
    assert "350 billion" in page.inner_text("#sources mark.cited")
    assert "003_e5f950a99eaab371.txt" in page.inner_text("#sources")

    page.click("#chat a.cite >> nth=0")  # the panel beside the chat shows it
    page.wait_for_selector("#sources details.flash[open] mark.cited")
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)

    first_panel = page.get_attribute("#sources details", "id")
    ask(page, None, "And what energy commitment goes with it?")
    page.wait_for_function(  # the panel now shows the follow-up's sources
        "id => { const d = document.querySelector('#sources details'); return d && d.id !== id; }",
        arg=first_panel,
        timeout=60000,
    )
    assert page.inner_text("#chat").count("How much is Seoul") == 1
    assert "energy" in page.inner_text("#sources").lower()
    page.screenshot(path=str(tmp_path / "follow-up.png"), full_page=True)

    page.click("#new-conversation")
    page.wait_for_function("() => document.querySelectorAll('#chat a.cite').length === 0")
    assert "Cited passages appear here" in page.inner_text("#sources")
    page.close()


@needs_browser
def test_two_users_at_once_keep_their_own_answers(browser, chat_url):
    questions = {"How much is Seoul expected to invest in the US?": "350 billion",
                 "What did Trump call his approach of bundling defense costs with trade?": "one-stop shopping"}  # fmt: skip
    pages = []
    for q in questions:
        page = browser.new_context().new_page()
        page.goto(chat_url)
        page.wait_for_selector("textarea")
        page.fill("textarea", q)
        pages.append(page)
    for page in pages:  # both questions in flight together
        page.keyboard.press("Enter")
    for page, (q, fact) in zip(pages, questions.items()):
        page.wait_for_selector("#sources mark.cited", timeout=60000)
        text = page.inner_text("#chat")
        assert q in text and fact in text
        other = [f for f in questions.values() if f != fact][0]
        assert other not in text and other not in page.inner_text("#sources")
        page.context.close()


@needs_browser
def test_documents_cannot_inject_scripts_into_the_page(browser, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil.md").write_text(
        "# Zebra Tariff Notes\n\nThe zebra tariff was set at 9 percent <script>window.__pwned = 1</script> "
        "according to [the ministry](javascript:window.__pwned=2) and <img src=x onerror='window.__pwned=3'>.\n",
        encoding="utf-8",
    )
    shutil.copy(ROOT / "seeds" / "004_b6b4be5490c3fc00.txt", corpus)
    with running_chat(corpus, tmp_path / "index") as url:
        page = browser.new_page()
        ask(page, url, "What was the zebra tariff set at?")
        page.wait_for_selector("#sources mark.cited", timeout=60000)
        for a in page.query_selector_all("#chat a.cite"):
            a.click()
        assert page.evaluate("window.__pwned") is None
        assert "<script>" in page.inner_text("#sources")  # shown as text
        assert page.query_selector("#chat img[src='x'], #sources img[src='x']") is None
        assert page.query_selector("a[href^='javascript']") is None


@needs_browser
def test_bad_question_is_a_message_and_the_page_keeps_working(browser, chat_url):
    page = browser.new_page()
    ask(page, chat_url, "?!?")
    page.wait_for_selector("#chat .error", timeout=60000)
    assert "no words" in page.inner_text("#chat .error")
    ask(page, None, "What tariff did Trump threaten?")
    page.wait_for_selector("#sources mark.cited", timeout=60000)
    page.close()


def test_basic_auth_from_settings(seeds_settings):
    import urllib.error
    import urllib.parse

    with running_chat(seeds_settings.corpus, seeds_settings.index_dir, ASSISTANT_CHAT_AUTH="ana:secret") as url:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url + "config", timeout=10)
        assert e.value.code == 401
        bad = urllib.parse.urlencode({"username": "ana", "password": "nope"}).encode()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url + "login", data=bad, timeout=10)
        good = urllib.parse.urlencode({"username": "ana", "password": "secret"}).encode()
        assert urllib.request.urlopen(url + "login", data=good, timeout=10).status == 200


def ask_api(url: str, question: str) -> str:
    """The page's answer to `question` (HTML), asked through Gradio's queue as the page asks it.
    JSON escapes a lone surrogate, so the server gets the question as it was sent."""
    config = json.load(urllib.request.urlopen(url + "config", timeout=10))
    fn = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "respond")
    session = uuid.uuid4().hex
    body = json.dumps({"data": [question, []], "fn_index": fn, "session_hash": session}).encode()
    join = urllib.request.Request(
        url + "gradio_api/queue/join", data=body, headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(join, timeout=10)
    with urllib.request.urlopen(url + f"gradio_api/queue/data?session_hash={session}", timeout=60) as events:
        for line in events:
            if line.startswith(b"data:"):
                event = json.loads(line[5:])
                if event.get("msg") == "process_completed":
                    assert event.get("success"), event
                    return event["output"]["data"][0]
    raise AssertionError("no answer")


def test_question_that_is_not_utf8_shows_the_question_error(chat_url):
    question = "What tariff \udcff did Trump threaten?"  # the byte 0xff, as Python reads it
    shown = unescape(ask_api(chat_url, question))
    assert "class='error'" in shown
    assert "The question is not valid UTF-8 text" in shown
    assert "TypeError" not in shown and "TextEncodeInput" not in shown
    assert "25%" in ask_api(chat_url, "What tariff did Trump threaten?")  # the page keeps answering


# --- reading and reusing answers, accessibility, phone (one running page) ----

# Screenshots to look at (not kept in the repo): ASSISTANT_TEST_SHOTS or a folder in the temp dir.
SHOTS = Path(os.environ.get("ASSISTANT_TEST_SHOTS") or Path(tempfile.gettempdir()) / "assistant-shots")
DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}
SEOUL = "How much is Seoul expected to invest in the US?"


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _tab_to(page, selector: str, key: str = "Tab", limit: int = 80) -> None:
    """Press `key` until the focused element matches `selector` (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{key} never reached {selector}")


FOCUSED = "s => !!document.activeElement && document.activeElement.matches(s)"


def _settled(page) -> None:
    """Wait until the page is done with the question (the textbox takes input again)."""
    page.wait_for_selector("textarea:not([disabled])", timeout=60000)
    page.wait_for_timeout(300)


def _labels_are_clean(page) -> None:
    """Every message's screen-reader label is its text: no markup, no entities."""
    labels = page.eval_on_selector_all("#chat [data-testid='bot'], #chat [data-testid='user']",
                                       "els => els.map(e => [e.dataset.testid, e.getAttribute('aria-label')])")  # fmt: skip
    assert labels and all(label for _, label in labels), labels
    for who, label in labels:
        assert label.startswith("Answer: " if who == "bot" else "Your question: "), label
        assert not re.search(r"&#?\w+;", label), label
        assert who == "user" or "<" not in label, label


@needs_browser
def test_keyboard_only_preview_open_passage_and_copy(browser, chat_url, seeds_settings):
    from assistant import answer

    expected = answer(SEOUL, settings=seeds_settings)  # the page answers the same, offline
    ctx = browser.new_context(viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"])
    page = ctx.new_page()
    page.goto(chat_url)
    box = page.get_by_role("textbox", name="Your question")
    box.wait_for()
    page.wait_for_function(FOCUSED, arg="#question textarea")  # the question box has the focus on load
    assert page.get_by_role("button", name="Send").count() == 1
    # The first thing Tab reaches is "Skip to question", which leads there past the sidebar.
    first = "() => document.querySelector('a[href], button, textarea, input, select, [tabindex]')"
    assert page.evaluate(f"({first})().textContent") == "Skip to question"
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate(f"({first})().focus()")
    assert page.locator("#skip-to-question").is_visible()
    page.keyboard.press("Enter")
    page.wait_for_function(FOCUSED, arg="#question textarea")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    _tab_to(page, "textarea")
    assert box.evaluate("el => el === document.activeElement")
    page.keyboard.type(SEOUL)
    page.keyboard.press("Enter")
    page.wait_for_selector("#chat a.cite", timeout=60000)
    page.wait_for_function(FOCUSED, arg="#question textarea")  # back in the box once answered

    _tab_to(page, "#chat a.cite", "Shift+Tab")  # the answer is above the textbox
    n = int(page.evaluate("document.activeElement.getAttribute('href')").rsplit("-", 1)[1])
    tip = page.locator("#" + page.evaluate("document.activeElement.getAttribute('aria-describedby')"))
    assert tip.is_visible()  # focus shows the preview of the cited sentence
    assert expected.citations[n - 1].text in tip.inner_text()
    page.keyboard.press("Escape")
    assert not tip.is_visible()
    page.keyboard.press("Enter")  # opens the passage in the panel beside the chat
    page.wait_for_selector(f"#sources details.flash[open][id$='-{n}'] mark.cited")

    _tab_to(page, "#chat button.copy-answer")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == copy_text(expected)

    page.mouse.move(0, 0)
    _settled(page)
    page.locator("#chat a.cite").first.hover()  # hovering shows the preview too
    assert page.locator("#chat .tip").first.is_visible()
    assert not page.locator("#chat [data-testid='block-label']").is_visible()  # nothing over the first message
    _labels_are_clean(page)
    _shot(page, "desktop-light-answer")

    # The preview closes on Escape with the pointer on it, on a click elsewhere and on scrolling;
    # after a click on [n] it does not come back over Copy.
    tip = page.locator("#chat .tip").first
    page.keyboard.press("Escape")
    assert not tip.is_visible()
    cite = page.locator("#chat a.cite").last
    cite.click()
    page.evaluate("navigator.clipboard.writeText('')")
    page.locator("#chat button.copy-answer").click(timeout=5000)  # the click is Copy's, not the preview's
    page.wait_for_function("() => document.querySelector('#chat button.copy-answer').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == copy_text(expected)
    assert page.locator("#chat .tip:visible").count() == 0
    cite.focus()
    assert page.locator("#chat .tip:visible").count() == 1
    page.locator("#header h1").click()
    assert page.locator("#chat .tip:visible").count() == 0
    cite.focus()
    box = cite.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 200)
    page.wait_for_function("() => ![...document.querySelectorAll('#chat .tip')].some(t => t.checkVisibility())")
    ctx.close()


@needs_browser
def test_the_question_is_plain_text_and_requests_nothing(browser, chat_url):
    page = browser.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    typed = "<img src=x> **b** <script>window.__pwned = 1</script>"
    ask(page, chat_url, typed)
    page.wait_for_selector("#chat [data-testid='bot']", timeout=60000)
    user = page.locator("#chat [data-testid='user']").first
    assert user.inner_text().strip() == typed
    assert user.locator("img, strong, script").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert not [u for u in requests if u.rstrip("/").endswith("/x")]
    _labels_are_clean(page)
    page.close()


@needs_browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_contrast_and_names_pass_axe(browser, chat_url, scheme):
    """axe-core (bundled by axe-playwright-python, no download) on the page with
    a refusal, an answer and its passages open, then on a [n] preview."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()
    wcag = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    ctx = browser.new_context(viewport=DESKTOP, color_scheme=scheme)
    page = ctx.new_page()
    ask(page, chat_url, "Who won the 2030 world cup?")
    page.wait_for_selector("#chat .refusal", timeout=60000)
    ask(page, None, SEOUL)
    page.wait_for_selector("#chat a.cite", timeout=60000)
    _settled(page)
    assert page.evaluate("document.documentElement.classList.contains('dark') || document.body.classList.contains('dark')") == (scheme == "dark")  # fmt: skip
    results = axe.run(page, options=wcag)  # the whole page, the refusal and the answer in view
    assert results.violations_count == 0, results.generate_report()
    page.click("#chat details.source summary >> nth=0")  # a passage opened in the message
    back = page.locator("#chat details.source[open] a.back").first
    back.scroll_into_view_if_needed()
    results = axe.run(page, context="#chat details.source[open]", options=wcag)
    assert results.violations_count == 0, results.generate_report()
    page.locator("#chat a.cite").first.focus()  # its preview
    results = axe.run(page, context="#chat .tip", options={"runOnly": ["color-contrast"]})
    assert results.violations_count == 0, results.generate_report()
    _shot(page, f"desktop-{scheme}-preview")
    ctx.close()


@needs_browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_phone_answer_passage_and_the_way_back(browser, chat_url, scheme):
    ctx = browser.new_context(
        viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2, color_scheme=scheme
    )
    page = ctx.new_page()
    ask(page, chat_url, SEOUL)
    page.wait_for_selector("#chat a.cite", timeout=60000)
    # no box of fixed height inside the page: the chat grows with its messages
    assert page.evaluate("() => { const w = document.querySelector('#chat .bubble-wrap'); return w.scrollHeight <= w.clientHeight + 1; }")  # fmt: skip
    chat, panel = page.locator("#chat").bounding_box(), page.locator("#sources").bounding_box()
    assert panel["y"] >= chat["y"] + chat["height"] - 1  # the sources come below the chat
    _settled(page)
    cite = page.locator("#chat a.cite").first
    cite.scroll_into_view_if_needed()
    _shot(page, f"phone-{scheme}-answer")
    y0 = page.evaluate("scrollY")
    cite.tap()
    inline = page.locator("#chat details.source[open] mark.cited").first
    inline.wait_for()
    page.wait_for_function(  # the passage opens in the message, scrolled to the cited words
        "() => { const r = document.querySelector('#chat details.source[open] mark.cited').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= innerHeight; }"
    )
    page.wait_for_timeout(700)  # the smooth scroll ends
    print(f"tapping [n] on a phone scrolled {page.evaluate('scrollY') - y0:.0f} px, to the passage in the message")
    page.mouse.move(1, 1)  # the pointer leaves the [n], as the browser's own events say after a scroll
    # No preview over the opened passage's header: a tap on it is the header's.
    assert page.locator("#chat .tip:visible").count() == 0
    page.locator("#chat details.source[open] summary").first.tap(trial=True, timeout=5000)  # trial: checks, no tap
    _shot(page, f"phone-{scheme}-passage")
    page.locator("#chat details.source[open] a.back").first.tap()
    page.wait_for_function(
        "() => { const r = document.querySelector('#chat a.cite').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    )
    ctx.close()
