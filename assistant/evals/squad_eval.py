"""SQuAD-format questions in the eval harness (`assistant eval --squad FILE`).

The file's articles are written as a corpus folder (`squad.write_corpus`),
indexed through the normal pipeline, and the questions of the chosen articles
are asked through the public `answer()` over the whole corpus. Scored per
question, from the answer's text, its refusal and its citations' offsets:

- `span_in_answer`: an answerable question whose answer, SQuAD-normalised
  (lower case, no punctuation, no a/an/the, spaces collapsed), contains one of
  its gold answers normalised the same way; a refusal is a miss;
- `citation_covers_span`: an answerable question with a citation in the
  article's file whose span (`Citation.start`/`end`) covers a gold span;
- `unanswerable_refused`: unanswerable questions refused;
- `false_refusals`: answerable questions refused (lower is better);
- `median_answer_words`: the median length in words of the answers given
  (refusals left out; `[n]` markers not counted).

The metric functions take plain records (`answer_record`), so that a
benchmark can score answers written by another revision of the package.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import string
import sys
import time
from collections import defaultdict
from pathlib import Path

from assistant.errors import GoldFileError
from assistant.evals import squad
from assistant.evals.gold import read_eval_file

DEFAULT_FILE = "evals/squad/squad2-10-articles.json"
SEED = 13  # of `--squad-sample`: the same file, articles and N give the same questions
UNANSWERABLE_SHARE = 1 / 3  # of a sample, when the articles have that many

# (key, label, lower is better) of the figures, in the order they are shown.
METRICS = [
    ("span_in_answer", "gold span in the answer", False),
    ("citation_covers_span", "a citation covers the gold span", False),
    ("unanswerable_refused", "unanswerable refused", False),
    ("false_refusals", "false refusals", True),
    ("median_answer_words", "median answer words", True),
]
# The gate's name of a SQuAD figure in evals/baseline.json.
PREFIX = "squad_"
GATED = [PREFIX + k for k, _, _ in METRICS]
LOWER_IS_BETTER = {PREFIX + k for k, _, lower in METRICS if lower}
# A baseline's allowed rise of the median, in words (rates use its `tolerance`).
WORDS_TOLERANCE = 5.0


# --- Metrics -------------------------------------------------------------------

_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def strip_markers(text: str) -> str:
    """The answer text without its `[n]` citation markers."""
    return " ".join(_MARKER.sub(" ", text).split())


def normalize(text: str) -> str:
    """SQuAD's answer normalisation (its official evaluation script): lower
    case, punctuation removed, the articles a/an/the removed, spaces collapsed."""
    text = "".join(c for c in text.lower() if c not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def span_in_answer(answer_text: str, gold_answers: list[str]) -> bool:
    """One of the gold answers, normalised, inside the normalised answer, as
    whole words ("1" is not found in "10", "1889" is in "1889–1890")."""
    said = normalize(strip_markers(answer_text))
    return any(
        (g := normalize(a)) and re.search(rf"(?<!\w){re.escape(g)}(?!\w)", said) is not None for a in gold_answers
    )


def answer_words(answer_text: str) -> int:
    """Words of the answer: its tokens holding a letter or digit, markers left out."""
    return sum(any(c.isalnum() for c in w) for w in strip_markers(answer_text).split())


def covers(citations: list[dict], file: str, spans: list[tuple[int, int]]) -> bool:
    """Whether a citation in `file` covers one of the gold `spans` whole."""
    return any(c["source"] == file and c["start"] <= s and c["end"] >= e for c in citations for s, e in spans)


def answer_record(ans) -> dict:
    """What scoring needs of an `Answer` (or of its `to_dict()`), JSON-ready."""
    get = ans.get if isinstance(ans, dict) else lambda k, d=None: getattr(ans, k, d)
    cites = []
    for c in get("citations") or []:
        cget = c.get if isinstance(c, dict) else lambda k, d=None, c=c: getattr(c, k, d)
        cites.append({k: cget(k) for k in ("n", "source", "start", "end", "text")})
    return {
        "text": get("text") or "",
        "refused": bool(get("refused")),
        "citations": cites,
        "timings": dict(get("timings") or {}),
    }


def score(q: squad.Question, file: str, rec: dict) -> dict:
    """One question's row: its answer and what was found in it."""
    refused = rec["refused"]
    hit = q.answerable and not refused and span_in_answer(rec["text"], q.answers)
    covered = q.answerable and not refused and covers(rec["citations"], file, q.spans)
    return {
        "id": q.id,
        "article": q.article,
        "file": file,
        "question": q.question,
        "answerable": q.answerable,
        "gold": q.answers,
        "spans": [list(s) for s in q.spans],
        "answer": rec["text"],
        "refused": refused,
        "words": None if refused else answer_words(rec["text"]),
        "span_in_answer": hit,
        "citation_covers_span": covered,
        "citations": rec["citations"],
        "timings": rec.get("timings") or {},
    }


def passed(row: dict) -> bool:
    if not row["answerable"]:
        return row["refused"]
    return row["span_in_answer"] and row["citation_covers_span"]


def _p(vals: list[float], q: float) -> float:
    vals = sorted(vals)
    return round(vals[min(len(vals) - 1, int(q * len(vals)))], 2)


def summarize(rows: list[dict]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    words = [r["words"] for r in rows if not r["refused"]]

    def share(xs) -> float | None:
        xs = list(xs)
        return round(sum(xs) / len(xs), 4) if xs else None

    totals = [r["timings"]["total_ms"] for r in rows if "total_ms" in r.get("timings", {})]
    return {
        "questions": len(rows),
        "answerable": len(ans),
        "unanswerable": len(una),
        "answered": len(words),
        "passed": sum(passed(r) for r in rows),
        "span_in_answer": share(r["span_in_answer"] for r in ans),
        "citation_covers_span": share(r["citation_covers_span"] for r in ans),
        "unanswerable_refused": share(r["refused"] for r in una),
        "false_refusals": share(r["refused"] for r in ans),
        "median_answer_words": float(statistics.median(words)) if words else None,
        "latency_ms": {"p50": round(statistics.median(totals), 2), "p95": _p(totals, 0.95)} if totals else {},
    }


# --- The file, the split and the sample ------------------------------------------


def _problems(data) -> list[str]:
    """What keeps a parsed file from being SQuAD format (`data` → articles →
    `paragraphs` → `context` and `qas` → `id`, `question`, `answers`)."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        return ['the top level must be an object with "data": a list of articles']
    out, ids = [], set()
    for i, art in enumerate(data["data"], 1):
        where = f"article {i}"
        if not isinstance(art, dict) or not isinstance(art.get("paragraphs"), list):
            out.append(f'{where}: must be an object with "title" and "paragraphs": a list')
            continue
        where = f"article {i} ({art.get('title')})" if art.get("title") else where
        for j, para in enumerate(art["paragraphs"], 1):
            pw = f"{where}, paragraph {j}"
            if not isinstance(para, dict) or not isinstance(para.get("context"), str):
                out.append(f'{pw}: must be an object with "context": a string')
                continue
            if not isinstance(para.get("qas", []), list):
                out.append(f'{pw}: "qas" must be a list')
                continue
            ctx = para["context"]
            for k, qa in enumerate(para.get("qas", []), 1):
                qw = f"{pw}, question {k}"
                if not isinstance(qa, dict):
                    out.append(f"{qw}: must be an object")
                    continue
                if not isinstance(qa.get("id"), (str, int)) or str(qa.get("id")).strip() == "":
                    out.append(f'{qw}: "id" must be a non-empty string')
                elif str(qa["id"]) in ids:
                    out.append(f"{qw}: duplicate id {qa['id']}")
                else:
                    ids.add(str(qa["id"]))
                    qw = f"{pw}, question {qa['id']}"
                q = qa.get("question")
                if not isinstance(q, str) or not any(c.isalnum() for c in q):
                    out.append(f'{qw}: "question" must be a string with words in it')
                impossible = qa.get("is_impossible", False)
                if not isinstance(impossible, bool):
                    out.append(f'{qw}: "is_impossible" must be true or false')
                    continue
                answers = qa.get("answers", [])
                if not isinstance(answers, list):
                    out.append(f'{qw}: "answers" must be a list')
                    continue
                if not impossible and not answers:
                    out.append(f'{qw}: an answerable question needs "answers" (or "is_impossible": true)')
                if impossible:
                    continue
                for a in answers:
                    ok = isinstance(a, dict) and isinstance(a.get("text"), str) and a["text"].strip()
                    start = a.get("answer_start") if ok else None
                    if not ok or not isinstance(start, int) or isinstance(start, bool):
                        out.append(f'{qw}: each answer must be {{"text": string, "answer_start": integer}}')
                    elif ctx[start : start + len(a["text"])] != a["text"]:
                        out.append(f"{qw}: answer {a['text'][:40]!r} is not at offset {start} of its context")
    if not ids and not out:
        out.append("it holds no questions")
    return out


def check_file(path: str | Path) -> str:
    """Read and check a SQuAD-format file before anything runs; return its
    sha256. Raises GoldFileError with one line: where the file is, its first
    problem and how many more there are."""
    path = Path(path)
    text = read_eval_file(path, "SQuAD file")
    try:
        data = json.loads(text)
    except ValueError as e:
        raise GoldFileError([f"{path}: not a SQuAD-format JSON file (not JSON: {e})"]) from None
    problems = _problems(data)
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' * (len(problems) > 2)})" if len(problems) > 1 else ""
        raise GoldFileError([f"{path}: not a SQuAD-format file: {problems[0]}{more}"])
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()  # the bytes read (valid UTF-8 round-trips)


def select(articles: list[squad.Article], which: str = "held-out") -> tuple[list[squad.Article], str]:
    """The articles whose questions are asked, and the split's label:
    `held-out` (squad.HELD_OUT), `all`, or titles separated by commas."""
    titles = [a.title for a in articles]
    if which == "held-out":
        chosen = [a for a in articles if a.title in squad.HELD_OUT]
        if not chosen:
            raise GoldFileError(
                [f"none of the held-out articles ({', '.join(squad.HELD_OUT)}) is in the file: "
                 "choose articles with --squad-articles all or TITLE,TITLE"]
            )  # fmt: skip
        return chosen, "SQuAD held-out articles"
    if which == "all":
        return list(articles), "SQuAD all articles"
    wanted = [t.strip() for t in which.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in titles]
    if unknown or not wanted:
        raise GoldFileError(
            [f"--squad-articles: no article {', '.join(unknown) or repr(which)} in the file "
             f"(its articles: {', '.join(titles)}; or held-out, all)"]
        )  # fmt: skip
    return [a for a in articles if a.title in wanted], "SQuAD articles " + ", ".join(wanted)


def sample(
    questions: list[squad.Question], n: int | None, seed: int = SEED, unanswerable_share: float = UNANSWERABLE_SHARE
) -> list[squad.Question]:
    """A fixed stratified sample of `n` questions (all of them when `n` is None
    or not smaller): `unanswerable_share` of it unanswerable (fewer when the
    questions hold fewer), the rest answerable, each stratum drawn with its own
    seeded generator; in the file's order."""
    if n is None or n >= len(questions):
        return list(questions)
    ans = [q for q in questions if q.answerable]
    una = [q for q in questions if not q.answerable]
    k_una = min(len(una), round(n * unanswerable_share))
    k_ans = min(len(ans), n - k_una)
    k_una = min(len(una), n - k_ans)
    chosen = set(random.Random(f"{seed}:answerable").sample(range(len(ans)), k_ans))
    picked = {ans[i].id for i in chosen}
    picked |= {una[i].id for i in random.Random(f"{seed}:unanswerable").sample(range(len(una)), k_una)}
    return [q for q in questions if q.id in picked]


def split_label(label: str, total: int, n: int, seed: int, sampled: bool) -> str:
    if sampled:
        return f"{label} — sample of {n} of {total} questions (seed {seed})"
    return f"{label} — all {n} questions"


# --- Corpus, index, run -----------------------------------------------------------


def prepare(path: Path, digest: str, settings, cache: Path | None = None):
    """Write the file's articles as a corpus folder in the cache (inside the
    index folder, keyed by the file's hash; files already there and unchanged
    are left alone, so the index is reused) and return (articles, settings of
    that corpus and its own index)."""
    articles = squad.load(path)
    base = Path(cache) if cache else Path(settings.index_dir) / "squad" / digest[:16]
    corpus = base / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for a in articles:
        f = corpus / a.file
        if not f.is_file() or f.read_text(encoding="utf-8") != a.text:
            f.write_text(a.text, encoding="utf-8")
    # Its own index; on a Chroma server its own collections (a namespace set
    # for the main corpus would make the two builds delete each other's files).
    return articles, settings.with_options(corpus=corpus, index_dir=base / "index", chroma_namespace=None)


def plan(path: str | Path, which: str = "held-out", n: int | None = None, seed: int = SEED) -> dict:
    """Check the file and choose the questions, before anything is built:
    GoldFileError (one line) for a malformed file or an unknown article.
    `key` identifies the questions (see `split_key`)."""
    path = Path(path)
    if n is not None and n < 1:
        raise GoldFileError([f"--squad-sample {n}: must be a number of questions, 1 or more"])
    digest = check_file(path)
    arts = squad.load(path)
    chosen, label = select(arts, which)
    questions = [q for a in chosen for q in a.questions]
    asked = sample(questions, n, seed)
    sampled = n is not None and n < len(questions)
    meta = {
        "file": str(path),
        "sha256": digest,
        "select": which,
        "split": label,
        "label": split_label(label, len(questions), len(asked), seed, sampled),
        "articles": [a.title for a in chosen],
        "corpus_articles": len(arts),
        "sample": n if sampled else None,
        "seed": seed if sampled else None,
        "questions_in_split": len(questions),
    }
    return {"path": path, "digest": digest, "articles": arts, "asked": asked, "meta": meta, "key": split_key(meta)}


def run(the_plan: dict, settings, progress: bool = True) -> dict:
    """Ask the planned questions over the whole corpus of the file (through
    `answer()`, with `settings`' backend); return the report's `squad` part
    (meta, summary, by_article, items)."""
    from tqdm import tqdm

    from assistant.api import answer, build_index

    arts, squad_settings = prepare(the_plan["path"], the_plan["digest"], settings)
    t0 = time.perf_counter()
    if progress:
        print(f"SQuAD: indexing {len(arts)} articles in {squad_settings.index_dir}", file=sys.stderr, flush=True)
    built = build_index(settings=squad_settings)
    build_s = round(time.perf_counter() - t0, 2)
    files = {a.title: a.file for a in arts}
    rows = []
    t1 = time.perf_counter()
    asked = the_plan["asked"]
    bar = tqdm(asked, desc="squad", unit="q", file=sys.stderr, disable=not progress or None, leave=False)
    for q in bar:
        rows.append(score(q, files[q.article], answer_record(answer(q.question, settings=squad_settings))))
    by_article: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_article[r["article"]].append(r)
    return {
        "meta": {
            **the_plan["meta"],
            "corpus": str(squad_settings.corpus),
            "index_dir": str(squad_settings.index_dir),
            "index": built.summary(),
            "index_seconds": build_s,
            "seconds": round(time.perf_counter() - t1, 2),
        },
        "summary": summarize(rows),
        "by_article": {a: summarize(rs) for a, rs in by_article.items()},
        "items": rows,
    }


# --- The gate -------------------------------------------------------------------


def split_key(meta: dict) -> dict:
    """What identifies the questions a SQuAD figure was measured on."""
    return {k: meta.get(k) for k in ("sha256", "articles", "sample", "seed")}


def same_split(a: dict, b: dict) -> bool:
    return split_key(a) == split_key(b)


def gate_values(squad_report: dict | None) -> dict:
    """The SQuAD figures under their baseline names (`squad_span_in_answer`...)."""
    if not squad_report:
        return {}
    s = squad_report["summary"]
    return {PREFIX + k: s[k] for k, _, _ in METRICS if s.get(k) is not None}


def squad_tolerances(summary: dict, tolerance: float) -> dict:
    """The baseline's tolerance of each SQuAD figure: `tolerance`, or one
    question's worth when that is more (1/40 = 0.025 of 40 answerable
    questions), and WORDS_TOLERANCE words for the median. Answers are not
    bit-for-bit repeatable across runs (between two runs over the same index,
    1 of 623 held-out answers came out otherwise), so a gate on a sample fails
    on two questions lost, not on one."""
    out = {}
    for key, n in (("span_in_answer", summary.get("answerable")), ("citation_covers_span", summary.get("answerable")),
                   ("false_refusals", summary.get("answerable")), ("unanswerable_refused", summary.get("unanswerable"))):  # fmt: skip
        if n:
            out[PREFIX + key] = max(tolerance, round(1 / n + 0.001, 4))
    out[PREFIX + "median_answer_words"] = WORDS_TOLERANCE
    return out


def describe(key: dict) -> str:
    """The options that ask a baseline's SQuAD questions again."""
    which = key.get("select") or ",".join(key.get("articles") or [])
    out = [f"--squad {key.get('file') or 'FILE'}"]
    if which != "held-out":
        out.append(f"--squad-articles {which!r}" if " " in which else f"--squad-articles {which}")
    if key.get("sample"):
        out.append(f"--squad-sample {key['sample']}")
        if key.get("seed") != SEED:
            out.append(f"--squad-seed {key['seed']}")
    return " ".join(out)
