"""A 20-page PDF added to a corpus that has an index: seconds until it is
answerable (the sync that indexes it, then a question whose answer is in it,
cited with its page). Target: <= 30 s on 2 cores.

    .venv/bin/python benchmarks/bench_pdf.py [--article 7] [--questions 5]

The PDF is written with fpdf2 from a real Wikipedia article of the SQuAD
set (`make_docs.py`; default New York City, 20 full A4 pages), the corpus is
a copy of the seeds, indexed first (not timed). Timed, in this process:
`build_index` (reads the PDF in the reading process, embeds and stores it),
then `answer()` of a SQuAD question about a paragraph the PDF holds (the
first answer loads the index: that is part of "answerable"). Then
`--questions` of the article's questions whose paragraphs are in the PDF,
spread over it, are asked (the first is the timed one), and the answers with
a citation of the PDF that quotes the gold answer exactly
(`source_text(...)[start:end]`) on the page it names are counted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from make_docs import SQUAD, make_pdf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--article", type=int, default=7)
    ap.add_argument("--questions", type=int, default=8)
    args = ap.parse_args()

    from assistant import Settings, answer, build_index
    from assistant.api import source_text
    from assistant.stores.manifest import read_manifest
    from assistant.stores.texts import kept_text

    art = json.loads(SQUAD.read_text(encoding="utf-8"))["data"][args.article]
    title = art["title"].replace("_", " ")
    paras = [p["context"] for p in art["paragraphs"]]
    pdf, written = make_pdf(title, paras, pages=20)
    held = set(written)
    qas = [
        (q["question"], q["answers"][0]["text"], p["context"])
        for p in art["paragraphs"] if p["context"] in held
        for q in p["qas"] if not q.get("is_impossible") and q["answers"]
    ]  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        shutil.copytree(ROOT / "seeds", corpus)
        settings = Settings(corpus=corpus, index_dir=index)
        t = time.perf_counter()
        build_index(settings=settings)
        print(f"seed index built in {time.perf_counter() - t:.1f} s (not timed)")

        name = f"{title.replace(' ', '_')}.pdf"
        t0 = time.perf_counter()
        (corpus / name).write_bytes(pdf)
        report = build_index(settings=settings)
        t_sync = time.perf_counter() - t0
        # The first question whose gold answer the offline answerer gives
        # from the PDF; the time counts until that answer.
        asked, hits, first = 0, 0, None
        n = min(args.questions, len(qas))
        picked = [qas[i * len(qas) // n] for i in range(n)]  # spread over the article, so over the pages
        for question, gold, _ctx in picked:
            a = answer(question, settings=settings)
            asked += 1
            if first is None:
                first = time.perf_counter() - t0
            text = source_text(name, settings=settings)
            sha = read_manifest(index / "manifest.json")["files"][name]["sha256"]
            pages = kept_text(index, sha)[1]
            ok = False
            for c in a.citations:
                if c.source != name or c.page is None:
                    continue
                end = pages[c.page] if c.page < len(pages) else len(text)
                on_page = pages[c.page - 1] <= c.start < end
                exact = " ".join(text[c.start : c.end].split()) == c.text
                ok = ok or (on_page and exact and gold.lower() in c.text.lower())
            hits += ok
            print(f"  {'ok ' if ok else '-- '} {question} -> {a.text[:100]!r} "
                  f"{[(c.source[:12], c.page) for c in a.citations]}")  # fmt: skip
        print(f"\nPDF: {len(pdf) / 1024:.0f} KB, {len(pages)} pages, {len(text):,} characters; "
              f"sync: {report.summary()}")  # fmt: skip
        print(f"sync (read, chunk, embed, store the PDF): {t_sync:.1f} s")
        print(f"until the first answer from it (sync + first question, index loaded): {first:.1f} s (target <= 30 s)")
        print(f"answers quoting the gold answer from the PDF, exact span, on the page cited: {hits} of {asked}")


if __name__ == "__main__":
    main()
