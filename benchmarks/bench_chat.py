"""Chat page timings in a real headless Chromium: process start to page
served, question to first streamed text and to the finished answer (its
sources panel), offline answerer, and a saved conversation of 50 turns (real
answers) reopened from the sidebar: click to every turn rendered. Prints
figures; asserts nothing.

    .venv/bin/python benchmarks/bench_chat.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import Settings, answer, build_index  # noqa: E402
from assistant.conversations import ConversationStore, db_path  # noqa: E402

QUESTIONS = [
    "How much is Seoul expected to invest in the US?",
    "What tariff did Trump threaten against South Korea?",
    "Why is North Korea less eager for sanctions relief now?",
    "Who will join the trade talks for the U.S. side?",
]
# The answered part of the last message: the status line while it is being answered is left out.
ANSWERED = """n => { const b = document.querySelectorAll('#chat [data-testid="bot"]');
  if (b.length < n) return false; const m = b[b.length - 1].cloneNode(true);
  m.querySelectorAll('.status').forEach(s => s.remove()); return m.innerText.trim().length > 20; }"""
DONE = "n => document.querySelectorAll('#chat [data-testid=\"bot\"]').length >= n && !document.querySelector('#chat .status')"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    settings = Settings(corpus=ROOT / "seeds", index_dir=tmp / "index")
    build_index(settings=settings)
    # A saved conversation of 50 turns, real answers (the questions cycled).
    store = ConversationStore(db_path(settings))
    long_id = store.create(title="Fifty turns")
    answers = [answer(q, settings=settings) for q in QUESTIONS]
    for i in range(50):
        store.add_turn(long_id, QUESTIONS[i % len(QUESTIONS)], answers[i % len(answers)])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ASSISTANT_"))}
    env |= {"ASSISTANT_CORPUS": str(settings.corpus), "ASSISTANT_INDEX_DIR": str(settings.index_dir)}
    starts, first, full, reopen = [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
        for _ in range(args.repeats):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "assistant.apps.cli", "chat", "--port", str(port)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            url = f"http://127.0.0.1:{port}/"
            while True:
                try:
                    urllib.request.urlopen(url, timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            starts.append(time.perf_counter() - t0)
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("textarea")
            page.click("#new-conversation")
            page.wait_for_function("() => !document.querySelector('#chat [data-testid=\"bot\"]')")
            for i, q in enumerate(QUESTIONS):
                page.fill("#question textarea", q)
                t = time.perf_counter()
                page.keyboard.press("Enter")
                page.wait_for_function(ANSWERED, arg=i + 1, polling=5)
                first.append(time.perf_counter() - t)
                page.wait_for_function(DONE, arg=i + 1, polling=5)
                full.append(time.perf_counter() - t)
            for _ in range(3):  # the 50-turn conversation, from a click in the sidebar to every turn shown
                page.click("#new-conversation")
                page.wait_for_function("() => !document.querySelector('#chat [data-testid=\"bot\"]')")
                t = time.perf_counter()
                page.locator("#conversations label", has_text="Fifty turns").click()
                page.wait_for_function(
                    "() => { const b = document.querySelectorAll('#chat [data-testid=\"bot\"]'); "
                    "return b.length >= 50 && b[49].innerText.trim().length > 0 && !!document.querySelector('#sources details'); }",
                    polling=5,
                )  # fmt: skip
                reopen.append(time.perf_counter() - t)
            page.close()
            proc.terminate()
            proc.wait(timeout=10)
        browser.close()
    print(json.dumps({
        "date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(),
        "process_start_to_page_served_s_median": round(statistics.median(starts), 2),
        "question_to_first_text_ms_median": round(1000 * statistics.median(first)),
        "question_to_complete_answer_ms_median": round(1000 * statistics.median(full)),
        "question_to_complete_answer_ms_p95": round(1000 * sorted(full)[int(0.95 * (len(full) - 1))]),
        "reopen_50_turn_conversation_ms_median": round(1000 * statistics.median(reopen)),
        "reopen_50_turn_conversation_ms_max": round(1000 * max(reopen)),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
