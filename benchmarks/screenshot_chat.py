"""The README's screenshots of the chat page, as a newcomer sees it after
dropping in a PDF and a Word file: a temp corpus (copies of the seeds) is
indexed, `assistant chat` runs as a real process, and a real headless
Chromium (Debian's /usr/bin/chromium) uploads a made-up multi-page PDF and a
Word file in the Documents tab, asks one question about each and one about
the seeds, and opens a citation. Writes, in benchmarks/results/:

- chat-page.png (1400x1000, light): the conversation, the cited passage
  highlighted in the sources panel;
- chat-phone.png (390x844): the same conversation on a phone, a passage open;
- chat-documents.png (1400x1000): the Documents tab with its table;
- chat-original-page.png, chat-phone-original-page.png: the cited PDF page in
  the sources panel, the cited words marked;
- chat-ask-only.png, chat-phone-ask-only.png: "Ask only" with the PDF chosen,
  and an answer from it alone.

    PYTHONPATH=. .venv/bin/python benchmarks/screenshot_chat.py [--out DIR]

Prints where each file went and how long each step took; offline, nothing is
downloaded.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import Settings, build_index  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
MAX_BYTES = 300_000

# Made-up documents: a three-page report (PDF) and committee minutes (Word).
PDF_NAME, PDF_TITLE = "brenmoor-water-report.pdf", "Brenmoor water board: annual report"
PDF_PAGES = [
    "The Brenmoor water board manages the reservoirs, pumping stations and pipes that supply the towns of the "
    "Brenmoor valley. This report covers the year from April to March and was approved by the board in June. "
    "It describes the new reservoir, the work on leaking pipes and the plans for the coming year.",
    "The new Halden reservoir was filled for the first time in October. It holds 4.2 million cubic metres of "
    "water and supplies about 38,000 homes in the upper valley. The dam is 31 metres high and was built by a "
    "local firm over three summers.",
    "Leakage fell from 21 percent to 14 percent after 60 kilometres of old cast-iron pipe were replaced. "
    "The board plans to replace a further 45 kilometres next year and to fit smart meters in 9,000 homes.",
]
DOCX_NAME, DOCX_TITLE = "library-committee-minutes.docx", "Linwick library committee: minutes"
DOCX_PARAGRAPHS = [
    "The committee met on 14 March in the reading room of the Linwick public library; seven members attended.",
    "The library will open on Sundays from May, from noon to five in the afternoon, paid for by a grant of "
    "18,000 pounds from the county council.",
    "Volunteers from the local history society will digitise the town's parish records over the summer.",
    "The next meeting will be held on 9 June.",
]
# The seeds first, so the Word and the PDF answers are the ones in view; the PDF's
# last, as the sources panel beside the chat shows the last answer's passages.
QUESTIONS = [
    "How much is Seoul expected to invest in the US?",
    "When will the Linwick library open on Sundays?",
    "How much water does the Halden reservoir hold?",
]

# Asked of the PDF alone (the picker), a question the seeds could answer too.
ONLY_QUESTION = "What does the report say about plans for next year?"


def make_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(PDF_TITLE)
    for i, text in enumerate(PDF_PAGES):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 10, f"{PDF_TITLE} ({i + 1}/{len(PDF_PAGES)})", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, text)
    path.write_bytes(bytes(pdf.output()))


def make_docx(path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading(DOCX_TITLE, level=1)
    for p in DOCX_PARAGRAPHS:
        d.add_paragraph(p)
    d.save(str(path))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_chat(settings: Settings, cwd: Path):
    """`assistant chat` as a user starts it; yields its URL. Output to a file
    (a pipe nobody reads would block it), shown if it does not start."""
    url = f"http://127.0.0.1:{free_port()}/"
    # Offline and with this tree's code, whatever the shell exported.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ASSISTANT_"))}
    env |= {"ASSISTANT_CORPUS": str(settings.corpus), "ASSISTANT_INDEX_DIR": str(settings.index_dir),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}  # fmt: skip
    cmd = [sys.executable, "-m", "assistant.apps.cli", "chat", "--port", url.rsplit(":", 1)[1].strip("/")]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(url, timeout=1)
                    break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise SystemExit(f"the chat page did not start:\n{log.read().decode(errors='replace')[-2000:]}")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def ask(page, question: str) -> None:
    """Ask and wait for the finished answer; it must cite a source."""
    before = page.locator("#chat a.cite").count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function("q => document.querySelector('#chat').innerText.includes(q)", arg=question)
    page.wait_for_function("() => !document.querySelector('#chat .status')", timeout=60000)
    page.wait_for_selector("textarea:not([disabled])", timeout=60000)
    if page.locator("#chat a.cite").count() <= before:
        last = page.locator("#chat [data-testid='bot']").last.inner_text()
        raise SystemExit(f"no citation in the answer to {question!r}: {last}")


def choose(page, name: str) -> None:
    """Pick `name` in "Ask only", as a person does: type a little, click it in the list."""
    page.click("#ask-only input")
    page.keyboard.type(name[:12])
    page.click(f"ul[role=listbox] li:has-text('{name}')")
    page.keyboard.press("Escape")
    page.wait_for_function("n => document.querySelector('#ask-only').innerText.includes(n)", arg=name)


def save(page, path: Path, **kw) -> None:
    """A PNG of the viewport, made smaller (256 colours, which the page's flat
    colours survive) only if it is over MAX_BYTES."""
    png = page.screenshot(**kw)
    if len(png) > MAX_BYTES:
        from PIL import Image

        img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True)
        png = buf.getvalue()
    path.write_bytes(png)
    print(f"wrote {path} ({len(png) // 1000} KB)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    t = time.perf_counter()

    def step(what: str) -> None:
        nonlocal t
        now = time.perf_counter()
        print(f"{now - t:6.1f} s  {what}")
        t = now

    tmp = Path(tempfile.mkdtemp(prefix="screenshot-chat-"))
    try:
        corpus = tmp / "corpus"
        corpus.mkdir()
        for f in sorted((ROOT / "seeds").glob("*.txt")):
            shutil.copy(f, corpus)
        uploads = tmp / "to-upload"
        uploads.mkdir()
        make_pdf(uploads / PDF_NAME)
        make_docx(uploads / DOCX_NAME)
        settings = Settings(corpus=corpus, index_dir=tmp / "index")
        build_index(settings=settings)
        step("index the seeds (assistant index)")
        with running_chat(settings, tmp) as url, sync_playwright() as p:
            step("start `assistant chat` until the page is served")
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme="light")
            page = ctx.new_page()
            page.goto(url)
            page.wait_for_selector("#question textarea")
            page.wait_for_function(
                "() => document.querySelector('#header').innerText.includes('indexed')", timeout=30000
            )
            step("open the page in Chromium")

            page.click("#show-documents")
            page.wait_for_selector("#upload input[type=file]", state="attached")
            page.set_input_files("#upload input[type=file]", [str(uploads / PDF_NAME), str(uploads / DOCX_NAME)])
            page.wait_for_function(
                "() => document.querySelector('#upload-status').innerText.includes('Indexed')", timeout=180000
            )
            page.wait_for_function(
                "names => names.every(n => document.querySelector('#documents').innerText.includes(n))",
                arg=[PDF_NAME, DOCX_NAME],
            )
            page.wait_for_function("() => document.querySelector('#header').innerText.includes('7 documents')")
            step("upload the PDF and the Word file in the Documents tab, until indexed")
            said = page.inner_text("#upload-status").strip().splitlines()[-1]
            print(f"         the page says: {said}")
            if not said.startswith("Indexed: 2 files"):  # only the two uploads should need indexing
                print("         WARNING: more than the two uploaded files were indexed; see chat-documents.png")

            page.get_by_role("tab", name="Chat").click()
            page.wait_for_selector("#question textarea")
            for q in QUESTIONS:
                ask(page, q)
                step(f"ask {q!r} until the cited answer is done")
            # Open the PDF answer's citation: the sources panel shows its page, the cited words highlighted.
            pdf_cite = page.locator("#chat [data-testid='bot']").last.locator("a.cite").first
            pdf_cite.click()
            page.wait_for_selector("#sources details.flash[open] mark.cited")
            page.evaluate("document.activeElement.blur()")  # a focused [n] shows its preview over the answer
            page.mouse.move(0, 0)
            page.wait_for_timeout(1800)  # the flash ends
            step("open a citation of the PDF answer")
            save(page, args.out / "chat-page.png")

            # The original page beside the text: the panel's picture of the cited PDF page, words marked.
            page.locator("#sources .orig-page img").first.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            save(page, args.out / "chat-original-page.png")
            step("the original PDF page in the sources panel")

            # Ask only one document: the picker under the question, then a question it answers.
            choose(page, PDF_NAME)
            ask(page, ONLY_QUESTION)
            page.locator("#ask-only").scroll_into_view_if_needed()
            page.mouse.move(0, 0)
            page.wait_for_timeout(800)
            save(page, args.out / "chat-ask-only.png")
            step(f"ask {ONLY_QUESTION!r} of {PDF_NAME} only")

            page.click("#show-documents")
            page.wait_for_selector("#documents")
            page.mouse.move(0, 0)
            page.wait_for_timeout(500)
            save(page, args.out / "chat-documents.png")

            # A phone: a new browser context with this one's storage, so the page reopens the conversation.
            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                        color_scheme="light", storage_state=ctx.storage_state())  # fmt: skip
            page = phone.new_page()
            page.goto(url)
            page.wait_for_function(
                "n => document.querySelectorAll('#chat a.cite').length >= n", arg=len(QUESTIONS), timeout=30000
            )
            step("open the page on a phone (it reopens the conversation)")
            cite = page.locator("#chat [data-testid='bot']").nth(1).locator("a.cite").first
            cite.scroll_into_view_if_needed()
            cite.tap()  # on a phone the passage opens in the message, with its character range
            page.wait_for_selector("#chat details.source[open] mark.cited")
            page.keyboard.press("Escape")  # the tapped [n]'s preview would cover the passage
            page.evaluate("document.activeElement.blur()")  # and its focus ring
            page.mouse.move(375, 420)  # the tap left the pointer over the [n]: its preview shows on hover
            page.wait_for_timeout(1800)  # the smooth scroll and the flash end
            # The question on top: question, answer, the source's character range and the passage in view.
            page.locator("#chat [data-testid='user']").nth(1).evaluate(
                "el => window.scrollTo(0, scrollY + el.getBoundingClientRect().top - 8)"
            )
            page.wait_for_timeout(300)
            step("tap a citation of the Word answer")
            save(page, args.out / "chat-phone.png")
            page.locator("#sources .orig-page").first.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            save(page, args.out / "chat-phone-original-page.png")
            page.locator("#ask-only").scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            save(page, args.out / "chat-phone-ask-only.png")
            step("the original page and the picker on a phone")
            phone.close()
            ctx.close()
            browser.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{time.perf_counter() - t_all:6.1f} s  in all")


if __name__ == "__main__":
    main()
