"""Reopening a saved conversation: a conversation of real answers (the gold
set's questions asked over the seeds, each with the conversation so far, as
the chat page asks them) saved turn by turn, then reopened the way the page
does after a reload: a new store on the file, `get()`, and every turn rendered
with the chat page's `render_answer`. Prints the median of several runs and
the database's size. Target (issue 15): 50 turns reopen in <= 1 s.

    .venv/bin/python benchmarks/bench_conversations.py [--turns 50] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import Settings, answer, build_index  # noqa: E402
from assistant.apps.chat import render_answer  # noqa: E402
from assistant.conversations import ConversationStore  # noqa: E402


def ask(settings: Settings, questions: list[str], turns: int) -> list:
    """`turns` real answers, each asked with the conversation before it
    (questions cycled when there are fewer)."""
    history, out = [], []
    for i in range(turns):
        q = questions[i % len(questions)]
        a = answer(q, history=history[-8:], settings=settings)  # the page sends the whole chat; the last turns matter
        out.append(a)
        history += [{"role": "user", "content": q}, {"role": "assistant", "content": a.text, "refused": a.refused}]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--gold", default=str(ROOT / "evals" / "gold.jsonl"))
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-conv-"))
    settings = Settings(corpus=ROOT / "seeds", index_dir=tmp / "index")
    build_index(settings=settings)
    gold = [json.loads(line) for line in Path(args.gold).read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [g["question"] for g in gold if not g["history"]]
    t0 = time.perf_counter()
    answers = ask(settings, questions, args.turns)
    asked_s = time.perf_counter() - t0

    db = tmp / "conversations.sqlite3"
    store = ConversationStore(db)
    cid = store.create()
    saves = []
    for a in answers:
        t = time.perf_counter()
        store.add_turn(cid, a.question, a)
        saves.append(time.perf_counter() - t)
    for i in range(0, len(answers), 4):
        store.rate(cid, i, 1 if i % 8 else -1, "a comment")
    for _ in range(20):  # other conversations in the file, as a page used for a while has
        other = store.create()
        for a in answers[:10]:
            store.add_turn(other, a.question, a)
    store.close()  # a checkpoint: the WAL is folded into the file

    opens, gets, renders, totals, lists = [], [], [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        s = ConversationStore(db)  # the page after a restart: a new store on the file
        t1 = time.perf_counter()
        s.list()
        t2 = time.perf_counter()
        conv = s.get(cid)
        t3 = time.perf_counter()
        html = [render_answer(turn.answer, f"{cid[:8]}-{turn.index}") for turn in conv.turns]
        t4 = time.perf_counter()
        s.close()
        assert len(conv.turns) == args.turns and all(html)
        opens.append(t1 - t0)
        lists.append(t2 - t1)
        gets.append(t3 - t2)
        renders.append(t4 - t3)
        totals.append(t4 - t0)

    def ms(xs):
        return f"{statistics.median(xs) * 1000:.1f} ms"

    size = sum(p.stat().st_size for p in tmp.glob("conversations.sqlite3*"))
    refused = sum(a.refused for a in answers)
    cites = statistics.mean(len(a.citations) for a in answers)
    passages = statistics.mean(len(a.passages) for a in answers)
    print(f"{args.turns} turns of real answers, asked in {asked_s:.1f} s: {refused} refused, "
          f"{cites:.1f} citations and {passages:.1f} passages a turn on average")  # fmt: skip
    print(f"save one turn (add_turn): median {ms(saves)}, max {max(saves) * 1000:.1f} ms")
    print(
        f"reopen, median of {args.repeats}: open {ms(opens)} + list {ms(lists)} + get {ms(gets)} + render {ms(renders)}"
    )
    print(f"  = {ms(totals)} (max {max(totals) * 1000:.1f} ms; target <= 1000 ms)")
    print(f"database: {size / 1e6:.2f} MB for {args.turns + 20 * 10} turns in 21 conversations "
          f"({size / (args.turns + 200) / 1e3:.1f} KB a turn)")  # fmt: skip


if __name__ == "__main__":
    main()
