"""Example questions (assistant/examples.py) on a corpus: every candidate
the patterns write, whether the offline answerer answers it citing its
sentence (KEPT) or not (drop), then the examples chosen and their cost,
cold (no cache, the index already loaded) and from the cache. Prints
figures; asserts nothing.

    .venv/bin/python benchmarks/bench_examples.py                      # the seeds
    .venv/bin/python benchmarks/bench_examples.py --squad /work/shared/external/squad2-10-articles.json

With --squad, the articles of a SQuAD-format file are written as one .txt
file each (title, blank line, paragraphs) into a temporary corpus: text
nobody tuned the patterns on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import Settings, build_index  # noqa: E402
from assistant import examples as ex  # noqa: E402
from assistant.api import example_questions, get_engine  # noqa: E402


def squad_corpus(path: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for art in json.loads(path.read_text(encoding="utf-8"))["data"]:
        paragraphs = "\n\n".join(p["context"] for p in art["paragraphs"])
        (folder / f"{art['title']}.txt").write_text(f"{art['title'].replace('_', ' ')}\n\n{paragraphs}\n", "utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    ap.add_argument("--squad", type=Path, help="a SQuAD-format file whose articles are the corpus")
    ap.add_argument("--index-dir", type=Path, help="default: a temporary folder")
    ap.add_argument("-n", type=int, default=4)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-examples-"))
    corpus = args.corpus
    if args.squad:
        corpus = tmp / "corpus"
        squad_corpus(args.squad, corpus)
    settings = Settings(corpus=corpus, index_dir=args.index_dir or tmp / "index")
    build_index(settings=settings)
    t = time.perf_counter()
    store = get_engine(settings).store
    print(f"index loaded in {time.perf_counter() - t:.2f} s")

    rows = ex.sentences(store)
    by_doc = ex.candidates(rows)
    every = [c for v in by_doc.values() for c in v]
    t = time.perf_counter()
    kept = 0
    for c in every:
        ok = ex.answered(c, settings)
        kept += ok
        print(f"{'KEPT' if ok else 'drop'}  {c.source[:28]:28}  {c.question}")
    per = (time.perf_counter() - t) / max(1, len(every))
    print(f"\n{len(rows)} sentences read, {len(every)} candidates in {len(by_doc)} documents, "
          f"{kept} kept ({kept / max(1, len(every)):.0%}); {per:.2f} s per question asked")  # fmt: skip

    (Path(settings.index_dir) / ex.CACHE).unlink(missing_ok=True)
    t = time.perf_counter()
    chosen = example_questions(args.n, settings=settings)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    assert example_questions(args.n, settings=settings) == chosen
    cached = time.perf_counter() - t
    print(f"example_questions({args.n}): {cold:.2f} s cold (index loaded), {cached * 1000:.0f} ms from the cache")
    for q in chosen:
        print("  ", q)


if __name__ == "__main__":
    main()
