"""Corpus fuzzing: folders of generated documents of every supported type
(.txt, .md, .html, .docx, .pdf, .pptx, .xlsx) in the shapes real files come in, built as
`assistant index` builds them, then checked:

- the build exits 0 (one odd document never fails the others: F1 of the
  2026-12-07 reliability report was a first line longer than 200 characters);
- every non-empty document is indexed, or skipped with a reason;
- each indexed document's known sentence (a made-up fact with a unique name)
  is answerable: asked about it, the answer's passages hold that sentence
  whole; whether the offline answer's text holds its figure is reported
  beside it (that is the answerer's recall, issue 22's concern, not reading).

A seeded generator (random.Random), not hypothesis: the same seed gives the
same folder byte for byte, so a failure is reproduced by its seed and count,
and the short run in tests/ingest/test_fuzz_corpus.py stays fixed.

    .venv/bin/python benchmarks/fuzz_corpus.py --docs 1000 --seed 7   # the benchmark (a few minutes)
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
TYPES = (".txt", ".md", ".html", ".docx", ".pdf", ".pptx", ".xlsx")
SHAPES = (
    "plain", "long_first_line", "empty_first_lines", "no_title", "only_title", "huge_line", "no_final_newline",
    "bom", "crlf", "tabs", "control_chars", "mixed_scripts", "rtl", "repeated_lines", "table", "word_per_page",
)  # fmt: skip
# Facts with a question each, on forty different subjects: within a folder
# each is used once, so a fact is told apart from the others by its meaning
# and not only by its made-up name. (Forty near-identical facts that differ
# only in a made-up name are a retrieval problem of their own: the name
# ranks first in BM25 and the embedder cannot tell the names apart.)
FACTS = (
    ("The {name} lighthouse is {n} metres tall.", "How tall is the {name} lighthouse?"),
    ("The {name} ferry carries {n} cars.", "How many cars does the {name} ferry carry?"),
    ("The {name} museum holds {n} lamps.", "How many lamps does the {name} museum hold?"),
    ("The {name} bridge is {n} metres long.", "How long is the {name} bridge?"),
    ("The {name} orchard has {n} apple trees.", "How many apple trees does the {name} orchard have?"),
    ("The {name} choir has {n} singers.", "How many singers does the {name} choir have?"),
    ("The {name} library lends {n} books a week.", "How many books a week does the {name} library lend?"),
    ("The {name} dam holds back {n} million litres of water.", "How much water does the {name} dam hold back?"),
    ("The {name} stadium seats {n} spectators.", "How many spectators does the {name} stadium seat?"),
    ("The {name} tunnel was dug in {n}.", "When was the {name} tunnel dug?"),
    ("The {name} brewery sold {n} barrels of beer last year.", "How many barrels of beer did the {name} brewery sell?"),
    ("The {name} hospital employs {n} nurses.", "How many nurses does the {name} hospital employ?"),
    ("The {name} glacier retreated {n} metres in a decade.", "How far did the {name} glacier retreat?"),
    ("The {name} railway opened in {n}.", "When did the {name} railway open?"),
    ("The {name} vineyard produces {n} bottles of wine.", "How many bottles of wine does the {name} vineyard produce?"),
    (
        "The {name} observatory's telescope has a mirror {n} millimetres wide.",
        "How wide is the mirror of the {name} observatory's telescope?",
    ),
    ("The {name} zoo keeps {n} penguins.", "How many penguins does the {name} zoo keep?"),
    ("The {name} marathon drew {n} runners.", "How many runners did the {name} marathon draw?"),
    ("The {name} airport handles {n} flights a day.", "How many flights a day does the {name} airport handle?"),
    ("The {name} cathedral bell weighs {n} kilograms.", "How much does the {name} cathedral bell weigh?"),
    ("The {name} school has {n} pupils.", "How many pupils does the {name} school have?"),
    ("The {name} mine produced {n} tonnes of copper.", "How much copper did the {name} mine produce?"),
    ("The {name} festival sold {n} tickets.", "How many tickets did the {name} festival sell?"),
    ("The {name} windfarm has {n} turbines.", "How many turbines does the {name} windfarm have?"),
    ("The {name} bakery bakes {n} loaves every morning.", "How many loaves does the {name} bakery bake?"),
    ("The {name} lake is {n} metres deep.", "How deep is the {name} lake?"),
    ("The {name} castle has {n} rooms.", "How many rooms does the {name} castle have?"),
    (
        "The {name} hospital ward treated {n} patients with influenza.",
        "How many influenza patients did the {name} ward treat?",
    ),
    ("The {name} factory makes {n} bicycles a month.", "How many bicycles a month does the {name} factory make?"),
    ("The {name} river floods about {n} hectares of farmland.", "How much farmland does the {name} river flood?"),
    ("The {name} chess club counts {n} members.", "How many members does the {name} chess club count?"),
    ("The {name} submarine can dive to {n} metres.", "How deep can the {name} submarine dive?"),
    ("The {name} forest covers {n} square kilometres.", "How large is the {name} forest?"),
    ("The {name} orchestra gave {n} concerts.", "How many concerts did the {name} orchestra give?"),
    (
        "The {name} clinic vaccinated {n} children against measles.",
        "How many children did the {name} clinic vaccinate?",
    ),
    ("The {name} bus line stops at {n} stations.", "How many stations does the {name} bus line stop at?"),
    ("The {name} volcano last erupted in {n}.", "When did the {name} volcano last erupt?"),
    ("The {name} parliament has {n} seats.", "How many seats does the {name} parliament have?"),
    ("The {name} satellite orbits at {n} kilometres.", "At what altitude does the {name} satellite orbit?"),
    ("The {name} cheese is aged for {n} days.", "How long is the {name} cheese aged?"),
)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def _prose() -> list[str]:
    # Real sentences (the seed articles) around the facts: varied filler, so
    # that a fact competes with prose as in a real folder, not with copies of
    # the same six sentences in every document.
    import re

    text = " ".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt")))
    sents = re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join(text.split()))
    return [x for x in sents if 8 <= len(x.split()) <= 40 and x.endswith(".")]


PROSE = _prose()
SCRIPTS = (
    "Die Stadtverwaltung plant eine neue Brücke über den Fluss.",
    "市议会周二开会讨论了港口预算。",
    "Городской совет обсудил бюджет гавани во вторник.",
    "議会は火曜日に港の予算について話し合った。",
)
RTL = ("ناقش المجلس البلدي ميزانية الميناء يوم الثلاثاء.", "מועצת העיר דנה בתקציב הנמל ביום שלישי.")
SYLLABLES = ("bra", "quil", "mor", "vel", "dun", "kest", "orn", "zel", "tam", "wick", "har", "lon", "sev", "gar")


@dataclass
class Doc:
    name: str
    data: bytes
    fact: str | None  # the known sentence, None when the shape has none (only a title)
    question: str | None
    figure: str | None  # what the answer must hold


def _name(rng: random.Random, i: int) -> str:
    # Made-up and unique: the fact is found by its name, not by luck.
    return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize() + f"{'abcdefghij'[i % 10]}ville"


def _paragraphs(rng: random.Random, shape: str, fact: str, title: str) -> tuple[str | None, list[str]]:
    """(title or None, paragraphs) for a shape; the fact is one paragraph's sentence."""
    body = [" ".join(rng.sample(PROSE, 2)) for _ in range(rng.randint(1, 4))]
    body.insert(rng.randint(0, len(body)), fact)
    if shape == "long_first_line":
        return None, [" ".join(PROSE) + " " + " ".join(PROSE[:3]), *body]
    if shape == "no_title":
        return None, body
    if shape == "only_title":
        return title, []
    if shape == "huge_line":
        filler = " ".join(rng.choice(PROSE) for _ in range(rng.randint(60, 400)))
        return title, [filler + " " + fact + " " + filler]
    if shape == "control_chars":
        noisy = ["".join(c + (rng.choice("\x01\x07\x0b\x0c\x1b\x7f\u200b\ufeff") if rng.random() < 0.05 else "")
                         for c in p) for p in body if p != fact]  # fmt: skip
        return title, [*noisy, fact]
    if shape == "mixed_scripts":
        return title, [p + " " + rng.choice(SCRIPTS) for p in body]
    if shape == "rtl":
        return rng.choice(RTL), [*(rng.choice(RTL) for _ in range(2)), *body]
    if shape == "repeated_lines":
        rep = rng.choice(PROSE)
        return title, [x for p in body for x in (rep, p)] + [rep] * 3
    return title, body


def _text(title: str | None, paras: list[str], shape: str, md: bool) -> str:
    lines = ([("# " if md else "") + title, ""] if title else []) + [x for p in paras for x in (p, "")]
    if shape == "empty_first_lines":
        lines = ["", "   ", "\t", "", *lines]
    if shape == "tabs":
        lines = ["\t" + x.replace(" ", "\t", 2) if x else x for x in lines]
    text = "\n".join(lines).rstrip("\n")
    if shape == "crlf":
        text = text.replace("\n", "\r\n")
    return text if shape == "no_final_newline" else text + "\n"


def _html(title: str | None, paras: list[str], shape: str, table: list[list[str]] | None) -> str:
    import html

    head = f"<title>{html.escape(title)}</title>" if title and shape != "no_title" else ""
    h1 = f"<h1>{html.escape(title)}</h1>" if title else ""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paras)
    if table:
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in table)
        body += f"<table>{rows}</table>"
    if shape == "control_chars":  # character references XML cannot hold, as well as the raw characters
        body = body.replace("</p>", " &#x1;&#xFFFF;&#55296;</p>", 2)
    nl = "\r\n" if shape == "crlf" else "\n"
    return f"<!DOCTYPE html>{nl}<html><head><meta charset='utf-8'>{head}</head>{nl}<body><article>{h1}{body}</article></body></html>"


def _xml_safe(s: str) -> str:
    # Word's XML (and a PDF's font) cannot hold C0 controls: those shapes are for the text formats and HTML.
    return "".join(c for c in s if c in "\t\n\r" or (ord(c) >= 32 and c != "\x7f"))


def _docx(title: str | None, paras: list[str], table: list[list[str]] | None) -> bytes:
    from make_docs import docx_file

    return docx_file(title and _xml_safe(title), [_xml_safe(p) for p in paras], table or ())


def _pptx(title: str | None, paras: list[str], shape: str, table: list[list[str]] | None) -> bytes:
    """A title slide, then a slide a paragraph (a word a slide for that
    shape), the table on the last slide."""
    import io

    import pptx
    from pptx.util import Inches

    from make_docs import fill_table

    deck = pptx.Presentation()
    title, paras = title and _xml_safe(title), [_xml_safe(p) for p in paras]
    if title:
        deck.slides.add_slide(deck.slide_layouts[0]).shapes.title.text = title
    for p in " ".join(paras).split() if shape == "word_per_page" else paras:
        deck.slides.add_slide(deck.slide_layouts[1]).placeholders[1].text_frame.text = p
    if table:
        shapes = deck.slides.add_slide(deck.slide_layouts[6]).shapes
        fill_table(shapes.add_table(len(table), len(table[0]), Inches(1), Inches(1), Inches(6), Inches(3)).table, table)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def _xlsx(title: str | None, paras: list[str], table: list[list[str]] | None) -> bytes:
    """A sheet of the title and a paragraph a row, the table on a second sheet."""
    import io
    import re

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Notes"
    for line in ([title] if title else []) + paras:
        # A cell holds at most 32,767 characters (openpyxl cuts the rest off):
        # a longer paragraph takes several rows, cut between sentences.
        cells = [""]
        for sentence in re.split(r"(?<=\. )", _xml_safe(line)):
            if cells[-1] and len(cells[-1]) + len(sentence) > 30_000:
                cells.append("")
            cells[-1] += sentence
        for cell in cells:
            sheet.append([cell.strip()])
    if table:
        figures = book.create_sheet("Figures")
        for row in table:
            figures.append([int(c) if c.isdigit() else c for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pdf(title: str | None, paras: list[str], shape: str) -> bytes:
    from fpdf import FPDF

    title, paras = title and _xml_safe(title), [_xml_safe(p) for p in paras]
    pdf = FPDF()
    if FONT.exists():  # any script prints; else Latin-1 only
        pdf.add_font("body", fname=str(FONT))
        font = "body"
    else:
        font = "Helvetica"
        title = title.encode("latin-1", "replace").decode("latin-1") if title else title
        paras = [p.encode("latin-1", "replace").decode("latin-1") for p in paras]
    pdf.set_font(font, size=11)
    if shape == "word_per_page":
        for w in ([title] if title else []) + " ".join(paras).split():
            pdf.add_page()
            pdf.cell(0, 10, w)
        return bytes(pdf.output())
    pdf.add_page()
    if title:
        pdf.set_font(font, size=16)
        pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(font, size=11)
    for p in paras:
        pdf.multi_cell(0, 6, p, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    return bytes(pdf.output())


def make_doc(rng: random.Random, i: int, suffix: str | None = None, shape: str | None = None) -> Doc:
    suffix = suffix or rng.choice(TYPES)
    shape = shape or rng.choice(SHAPES)
    name = _name(rng, i)
    fact_t, q_t = FACTS[i % len(FACTS)]
    n = str(rng.randint(1700, 2024) if q_t.startswith("When") else rng.randint(12, 9800))
    fact, question = fact_t.format(name=name, n=n), q_t.format(name=name)
    title, paras = _paragraphs(rng, shape, fact, f"Notes on {name}")
    table = None
    if shape == "table":  # the fact in prose, a table beside it
        table = [["Place", "Visitors", "Year"]] + [[rng.choice(SYLLABLES).capitalize(), str(rng.randint(10, 999)), str(rng.randint(1900, 2025))] for _ in range(4)]  # fmt: skip
    if suffix == ".docx":
        data = _docx(title, paras, table)
    elif suffix == ".html":
        data = _html(title, paras, shape, table).encode()
    elif suffix == ".pdf":
        data = _pdf(title, paras, shape)
    elif suffix == ".pptx":
        data = _pptx(title, paras, shape, table)
    elif suffix == ".xlsx":
        data = _xlsx(title, paras, table)
    else:
        text = _text(title, paras, shape, suffix == ".md")
        if table and suffix == ".md":
            text += "\n" + "\n".join("| " + " | ".join(r) + " |" for r in table[:1] + [["---"] * 3] + table[1:]) + "\n"
        elif table:
            text += "\n" + "\n".join("\t".join(r) for r in table) + "\n"
        data = (b"\xef\xbb\xbf" if shape == "bom" else b"") + text.encode()
    has_fact = shape not in ("only_title", "word_per_page")  # one word a page: no sentence survives as such
    return Doc(f"{i:04d}-{shape}{suffix}", data, fact if has_fact else None, question if has_fact else None, n)


def make_corpus(folder: Path, count: int, seed: int) -> list[Doc]:
    """`count` documents in `folder`, of every type in every shape in turn
    (from a place the seed draws)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    # 7 types and 16 shapes: any 16 documents in a row have every shape, any
    # 7 every type, any 112 every pair.
    first = rng.randrange(len(TYPES) * len(SHAPES))
    docs = []
    for i in range(count):
        k = first + i
        d = make_doc(rng, i, TYPES[k % len(TYPES)], SHAPES[k % len(SHAPES)])
        (folder / d.name).write_bytes(d.data)
        docs.append(d)
    return docs


@dataclass
class Outcome:
    build_exit: int
    build_stderr: str
    indexed: list[str]
    skipped: dict[str, str]
    unaccounted: list[str]  # neither indexed nor skipped with a reason
    unfound: list[tuple[str, str]]  # (document, question) whose passages lack the fact's sentence whole
    unanswered: list[tuple[str, str, str]]  # (document, question, answer) whose figure is missing


def check(folder: Path, index_dir: Path, docs: list[Doc], python: str = sys.executable) -> Outcome:
    """Build as the CLI does, then check every document and its fact."""
    r = subprocess.run(
        [python, "-m", "assistant.apps.cli", "index", "-q", "--corpus", str(folder), "--index-dir", str(index_dir)],
        capture_output=True, text=True,
    )  # fmt: skip
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8")) if r.returncode == 0 else {}
    indexed = sorted(manifest.get("files", {}))
    skipped = {s: e[2] for s, e in manifest.get("skipped", {}).items() if len(e) > 2 and e[2]}
    unaccounted = [d.name for d in docs if d.name not in indexed and d.name not in skipped]
    unfound, unanswered = [], []
    if r.returncode == 0:
        from assistant import Settings, answer
        from assistant.api import reset_engines

        reset_engines()
        settings = Settings(corpus=folder, index_dir=index_dir)
        for d in docs:
            if d.fact and d.name in indexed:
                a = answer(d.question, settings=settings)
                # Read whole (not cut, not glued to its neighbours' words) and found:
                if not any(p.source == d.name and d.fact in " ".join(p.text.split()) for p in a.passages):
                    unfound.append((d.name, d.question))
                if d.figure not in a.text:  # the offline answerer's own recall, reported beside it
                    unanswered.append((d.name, d.question, a.text[:200]))
    return Outcome(r.returncode, r.stderr[-2000:], indexed, skipped, unaccounted, unfound, unanswered)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batch", type=int, default=len(FACTS), help="documents per corpus folder (one build each)")
    ap.add_argument("--keep", type=Path, help="write the folders here (else a temp folder)")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="fuzz-corpus-"))
    totals = {
        "docs": 0,
        "build_failures": 0,
        "indexed": 0,
        "skipped": 0,
        "unaccounted": 0,
        "facts": 0,
        "unfound": 0,
        "unanswered": 0,
    }
    t0 = time.perf_counter()
    for b, start in enumerate(range(0, args.docs, args.batch)):
        n = min(args.batch, args.docs - start)
        folder = base / f"corpus-{b}"
        docs = make_corpus(folder, n, args.seed * 1000 + b)
        out = check(folder, base / f"index-{b}", docs)
        facts = sum(1 for d in docs if d.fact and d.name in out.indexed)
        totals["docs"] += n
        totals["build_failures"] += out.build_exit != 0
        totals["indexed"] += len(out.indexed)
        totals["skipped"] += len(out.skipped)
        totals["unaccounted"] += len(out.unaccounted)
        totals["facts"] += facts
        totals["unfound"] += len(out.unfound)
        totals["unanswered"] += len(out.unanswered)
        elapsed = time.perf_counter() - t0
        rate = totals["docs"] / elapsed
        print(f"[batch {b}] {totals['docs']}/{args.docs} docs, {rate:.1f} docs/s, ETA {(args.docs - totals['docs']) / rate:.0f} s: "
              f"exit {out.build_exit}, {len(out.indexed)} indexed, {len(out.skipped)} skipped, "
              f"{len(out.unaccounted)} unaccounted, facts: {len(out.unfound)}/{facts} not found, "
              f"{len(out.unanswered)}/{facts} not in the answer", flush=True)  # fmt: skip
        if out.build_exit:
            print(out.build_stderr)
        for name, why in sorted(out.skipped.items()):
            print(f"    skipped {name}: {why}")
        for name in out.unaccounted:
            print(f"    unaccounted {name}")
        for name, q in out.unfound:
            print(f"    not found {name}: {q}")
        for name, q, a in out.unanswered:
            print(f"    unanswered {name}: {q} -> {a!r}")
    totals["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps({"seed": args.seed, **totals}))


if __name__ == "__main__":
    main()
