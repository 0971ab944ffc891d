"""OCR of scanned pages: words right and pages a second (issue 24).

    .venv/bin/python benchmarks/bench_ocr.py [--pages 6] [--json F]

Pages: paragraphs of Wikipedia articles nobody here wrote (the SQuAD 2.0
slice, `make_docs.prose`), rendered as US Letter pages in an 11-pt serif and
saved as a scanned PDF (JPEG pictures, no text layer), at 300 and at 200 dpi,
and as a 300-dpi PNG. Each is read by the product's reader (`ingest.readers`,
in this process: the time is OCR's, not the reading process's start). Words
right = share of the page's words found, in order (`bench_readers.score`).
Digits: the last row reads the PNG pages again without `ocr.fix_digits`
("2o06" put right as "2006"). Pages/s counts a warm engine (its networks loaded once, timed apart). Prints
a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_readers import score  # noqa: E402

from make_docs import page_image, page_png, prose, scanned_pdf  # noqa: E402


def pages_of_text(n: int) -> list[str]:
    """`n` page-sized texts from real articles, each a few whole paragraphs."""
    texts: list[str] = []
    article = 0
    while len(texts) < n:
        _, paragraphs = prose(article)
        article += 1
        page: list[str] = []
        for p in paragraphs:
            page.append(p)
            if sum(len(x) for x in page) > 2600:  # about what 40 lines of 80 characters hold
                texts.append(" ".join(page))
                page = []
                if len(texts) == n:
                    break
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=6)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from assistant.ingest import ocr, readers

    t = time.perf_counter()
    ocr._engine()
    load = time.perf_counter() - t
    texts = pages_of_text(args.pages)
    rows = []
    for name, suffix, make in (
        ("scanned PDF, 300 dpi", ".pdf", lambda: [scanned_pdf([x], 300) for x in texts]),
        ("scanned PDF, 200 dpi", ".pdf", lambda: [scanned_pdf([x], 200) for x in texts]),
        ("PNG, 300 dpi", ".png", lambda: [page_png(x) for x in texts]),
        ("PNG, 300 dpi, no digit fix", ".png", lambda: [page_png(x) for x in texts]),
    ):
        if name.endswith("no digit fix"):
            ocr.fix_digits = lambda line: line
        reader = readers.reader_for(Path("x" + suffix))
        right, seconds = [], []
        for data, truth in zip(make(), texts):
            t = time.perf_counter()
            text = reader.read(data, Path("x" + suffix))
            seconds.append(time.perf_counter() - t)
            right.append(score(text, [page_image(truth).info["drawn"]])["recall"])  # what fitted on the page
        rows.append({
            "input": name, "pages": len(texts), "words_right": round(sum(right) / len(right), 4),
            "worst_page": round(min(right), 4), "seconds_per_page": round(sum(seconds) / len(seconds), 2),
            "pages_per_second": round(len(seconds) / sum(seconds), 3),
        })  # fmt: skip
    print(f"engine load {load:.2f} s; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    print(f"{'input':28} {'pages':>5} {'words right':>11} {'worst':>6} {'s/page':>7} {'pages/s':>8}")
    for r in rows:
        print(
            f"{r['input']:28} {r['pages']:5} {r['words_right']:11.3f} {r['worst_page']:6.3f}"
            f" {r['seconds_per_page']:7.2f} {r['pages_per_second']:8.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"load_seconds": round(load, 2), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
