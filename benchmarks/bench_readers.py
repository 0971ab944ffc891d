"""Which library reads PDF, Word and HTML files best: text quality and speed;
and how much and how fast the PowerPoint and Excel readers read, against
simpler uses of the same libraries (python-pptx is what the Python tools that
read decks build on; openpyxl is what pandas reads .xlsx with).

    .venv/bin/python benchmarks/bench_readers.py [--repeat 3] [--kinds pptx,xlsx]

Files: PDFs and a Word file written from real prose (a Wikipedia article of
the SQuAD set, `make_docs.py`), the PDFs Debian ships in /usr/share/doc, and
a saved news page (a seed article inside navigation, cookie banner, related
links, comments and footer). Quality, against what was written:
  recall     share of the written words found, in order (difflib matching blocks)
  noise      share of the extracted words that are not the document's own
             (for HTML: the page's boilerplate that leaked into the text)
  glued      words of the truth missing because two were run together or a
             hyphen split one (extracted tokens absent from the truth's vocabulary)
For the Debian PDFs there is no truth: words, time, and agreement with the
other libraries. Time is the median of `--repeat` reads, in a warm process
(the import is timed apart). Prints a table per format; the choice and the
figures are in /tmp/issue15/readme-formats.md and the readers' docstrings.
"""

from __future__ import annotations

import argparse
import difflib
import io
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_docs import BOILERPLATE, make_docx, make_news_html, make_pdf, make_pptx, make_xlsx, prose  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def score(text: str, truth: list[str]) -> dict:
    got, want = words(text), words("\n".join(truth))
    sm = difflib.SequenceMatcher(None, want, got, autojunk=False)
    matched = sum(b.size for b in sm.get_matching_blocks())
    vocab = set(want)
    return {
        "recall": matched / max(len(want), 1),
        "noise": (len(got) - matched) / max(len(got), 1),
        "glued": sum(1 for w in got if w not in vocab) / max(len(got), 1),
    }


# -- the candidates -----------------------------------------------------------
def pdf_pypdf(data):
    import pypdf

    r = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(p.extract_text() or "" for p in r.pages)


def pdf_pypdf_layout(data):
    import pypdf

    r = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(p.extract_text(extraction_mode="layout") or "" for p in r.pages)


def pdf_pdfium(data):
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        out = []
        for i in range(len(doc)):
            page = doc[i]
            tp = page.get_textpage()
            out.append(tp.get_text_bounded())
            tp.close()
            page.close()
        return "\n".join(out)
    finally:
        doc.close()


def pdf_pdfminer(data):
    from pdfminer.high_level import extract_text

    return extract_text(io.BytesIO(data))


def docx_python_docx(data):
    import docx

    d = docx.Document(io.BytesIO(data))
    out = []
    for block in d.iter_inner_content():
        if hasattr(block, "rows"):
            out.extend(c.text for row in block.rows for c in row.cells)
        else:
            out.append(block.text)
    return "\n".join(out)


def docx_docx2python(data):
    from docx2python import docx2python

    with docx2python(io.BytesIO(data)) as d:
        return d.text


def docx_mammoth(data):
    import mammoth

    return mammoth.extract_raw_text(io.BytesIO(data)).value


def html_trafilatura(data):
    import trafilatura

    return trafilatura.extract(data.decode("utf-8"), include_comments=False, include_tables=True) or ""


def html_trafilatura_precision(data):
    import trafilatura

    return trafilatura.extract(data.decode("utf-8"), include_comments=False, favor_precision=True) or ""


def html_readability(data):
    import lxml.html
    from readability import Document

    return lxml.html.fromstring(Document(data.decode("utf-8")).summary()).text_content()


def html_justext(data):
    import justext

    return "\n".join(p.text for p in justext.justext(data, justext.get_stoplist("English")) if not p.is_boilerplate)


def html_bs4(data):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "lxml")
    for t in soup(["script", "style"]):
        t.decompose()
    return soup.get_text("\n")


def pptx_reader(data):  # this project's reader: shapes, tables, notes
    from assistant.ingest.slides import PptxReader

    return PptxReader().read(data, Path("a.pptx"))


def pptx_text_frames(data):  # the plain way: every text frame of every slide, no notes
    import pptx

    deck = pptx.Presentation(io.BytesIO(data))
    return "\n".join(s.text_frame.text for slide in deck.slides for s in slide.shapes if s.has_text_frame)


def xlsx_reader(data):  # this project's reader: read_only, a sentence a row
    from assistant.ingest.sheets import XlsxReader

    return XlsxReader().read(data, Path("a.xlsx"))


def xlsx_openpyxl_full(data):  # openpyxl's default mode: the whole workbook as objects
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    return "\n".join(
        " ".join(str(v) for v in row if v is not None) for s in book for row in s.iter_rows(values_only=True)
    )


CANDIDATES = {
    "pdf": {"pypdf": pdf_pypdf, "pypdf (layout)": pdf_pypdf_layout, "pypdfium2": pdf_pdfium,
            "pdfminer.six": pdf_pdfminer},
    "docx": {"python-docx": docx_python_docx, "docx2python": docx_docx2python, "mammoth": docx_mammoth},
    "html": {"trafilatura": html_trafilatura, "trafilatura (precision)": html_trafilatura_precision,
             "readability-lxml": html_readability, "justext": html_justext, "BeautifulSoup (all text)": html_bs4},
    "pptx": {"PptxReader (python-pptx)": pptx_reader, "python-pptx (text frames only)": pptx_text_frames},
    "xlsx": {"XlsxReader (openpyxl read_only)": xlsx_reader, "openpyxl (full load)": xlsx_openpyxl_full},
}  # fmt: skip
IMPORTS = {"pypdf": "pypdf", "pypdfium2": "pypdfium2", "pdfminer.six": "pdfminer.high_level",
           "python-docx": "docx", "docx2python": "docx2python", "mammoth": "mammoth", "trafilatura": "trafilatura",
           "readability-lxml": "readability", "justext": "justext", "BeautifulSoup (all text)": "bs4",
           "PptxReader": "pptx", "XlsxReader": "openpyxl"}  # fmt: skip


def timed(fn, data, repeat):
    times, text = [], ""
    for _ in range(repeat):
        t = time.perf_counter()
        try:
            text = fn(data)
        except Exception as e:  # a library that fails on a file is a result too
            return f"error: {type(e).__name__}: {e}"[:80], float("nan")
        times.append(time.perf_counter() - t)
    return text, statistics.median(times)


def import_seconds(module: str) -> float:
    import subprocess

    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(out.stdout.strip() or "nan")


def rows_kept(text: str, rows: list[list[str]]) -> float:
    """The share of a sheet's rows that one line of the text holds whole
    (difflib over 50,000 words of a sheet takes minutes)."""
    lines = [set(words(line)) for line in text.splitlines()]
    at, kept = 0, 0
    for row in rows[1:]:
        want = set(words(" ".join(row)))
        while at < len(lines) and not want <= lines[at]:
            at += 1
        kept += at < len(lines)
    return kept / max(len(rows) - 1, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kinds", default=",".join(CANDIDATES), help="which formats, e.g. pptx,xlsx")
    args = ap.parse_args()
    title, paras = prose(1)  # Frédéric Chopin: accents, dates, long paragraphs
    files: dict[str, list] = {kind: [] for kind in CANDIDATES}
    data, truth = make_pdf(title, paras)
    files["pdf"].append(("fpdf2, Chopin article", data, truth))
    data, truth = make_pdf(*prose(7), pages=20)
    files["pdf"].append(("fpdf2, 20 pages", data, truth))
    for p in sorted(Path("/usr/share/doc").rglob("*.pdf")):
        files["pdf"].append((f"Debian {p.name}", p.read_bytes(), None))
    data, truth = make_docx(title, paras)
    files["docx"].append(("python-docx, Chopin article", data, truth))
    for i, seed in enumerate(sorted((ROOT / "seeds").glob("*.txt"))[:3]):
        lines = [x for x in seed.read_text(encoding="utf-8").splitlines() if x.strip()]
        data, truth = make_news_html(lines[0], lines[1:])
        files["html"].append((f"news page, seed {i}", data, truth))
    data, truth = make_pptx(title, paras)
    files["pptx"].append(("python-pptx, Chopin article, 20 slides", data, truth))
    data, truth = make_xlsx(10_000)
    files["xlsx"].append(("openpyxl, 10,000 rows x 5", data, truth))

    for kind, cands in CANDIDATES.items():
        if kind not in args.kinds.split(","):
            continue
        print(f"\n## {kind.upper()}\n")
        print("| file | library | KB | words | recall | noise | glued | ms |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, data, truth in files[kind]:
            texts = {}
            for lib, fn in cands.items():
                text, secs = timed(fn, data, args.repeat)
                texts[lib] = text
                if kind == "xlsx" and not text.startswith("error:"):
                    q = f"{rows_kept(text, truth):.3f} (rows whole, in order) | — | —"
                elif truth is not None and not text.startswith("error:"):
                    s = score(text, truth)
                    if kind == "html":  # noise: boilerplate phrases that leaked
                        phrases = [b for b in BOILERPLATE if len(b.split()) >= 3]  # single words occur in articles too
                        s["noise"] = sum(1 for b in phrases if b.lower() in text.lower()) / len(phrases)
                    q = f"{s['recall']:.3f} | {s['noise']:.3f} | {s['glued']:.3f}"
                elif text.startswith("error:"):
                    q = f"{text} | | "
                else:
                    q = "— | — | —"
                print(f"| {name} | {lib} | {len(data) // 1024} | {len(words(text))} | {q} | {secs * 1000:.0f} |")
            if truth is None:  # agreement between libraries on a real PDF
                libs = [k for k, t in texts.items() if not t.startswith("error:")]
                for a in libs:
                    agree = [
                        difflib.SequenceMatcher(None, words(texts[a]), words(texts[b]), autojunk=False).ratio()
                        for b in libs if b != a
                    ]  # fmt: skip
                    print(f"|  | {a}: mean agreement with the others | | | {statistics.mean(agree):.3f} | | | |")
        print()
        for mod in dict.fromkeys(IMPORTS[lib.split(" (")[0]] for lib in cands if lib.split(" (")[0] in IMPORTS):
            print(f"import {mod}: {import_seconds(mod) * 1000:.0f} ms (a new process)")


if __name__ == "__main__":
    main()
