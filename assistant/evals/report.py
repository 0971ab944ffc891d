"""Write an eval report as JSON, a Markdown summary and one self-contained
HTML page (tables, an embedded chart, and each failing question with its
answer, citations and gold evidence side by side)."""

from __future__ import annotations

import base64
import html
import io
import json
import textwrap
from pathlib import Path

from assistant.evals.evaluate import passed
from assistant.evals.squad_eval import METRICS as SQUAD_METRICS
from assistant.evals.squad_eval import passed as _squad_passed

# (key, label) of the rates shown in tables, in order.
COLUMNS = [
    ("key_fact_accuracy", "all key facts"),
    ("key_fact_recall", "key-fact recall"),
    ("hit_at_1", "hit@1"),
    ("hit_at_k", "hit@k"),
    ("mrr", "MRR"),
    ("evidence_recall", "evidence recall"),
    ("citation_precision", "citation precision"),
    ("citation_precision_evidence", "cites gold evidence"),
    ("citation_recall", "citation recall"),
    ("right_source_cited", "cites a gold source"),
    ("gold_source_coverage", "gold sources cited"),
    ("refusal_accuracy", "refused (no answer)"),
    ("false_refusal_rate", "false refusals"),
]


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.1%}" if isinstance(v, float) and v <= 1 else str(v)


def _mrr(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def _cell(key: str, v) -> str:
    return _mrr(v) if key == "mrr" else _fmt(v)


def markdown(report: dict) -> str:
    m, s = report["meta"], report["summary"]
    lines = [
        f"# Eval report — {m['backend']} backend, {m['date']}",
        "",
        f"{s['items']} items ({s['answerable']} answerable, {s['unanswerable']} without an answer); "
        f"{s['passed']} passed; {m['seconds']} s; top_k={m['top_k']}; embedder {m['embedder']}.",
        "",
        "| metric | overall |",
        "| --- | --- |",
    ]
    lines += [f"| {label} | {_cell(k, s.get(k))} |" for k, label in COLUMNS]
    lines += ["", "| type | n | " + " | ".join(label for _, label in COLUMNS) + " |"]
    lines += ["| --- " * (len(COLUMNS) + 2) + "|"]
    for t, ts in report["by_type"].items():
        lines.append(f"| {t} | {ts['items']} | " + " | ".join(_cell(k, ts.get(k)) for k, _ in COLUMNS) + " |")
    lines += ["", "| stage | p50 ms | p95 ms |", "| --- | --- | --- |"]
    lines += [f"| {k} | {v['p50']} | {v['p95']} |" for k, v in s["latency_ms"].items()]
    lines += squad_markdown(report.get("squad"))
    failing = [r for r in report["items"] if not passed(r)]
    if failing:
        lines += ["", f"## Failing ({len(failing)})", ""]
        for r in failing:
            why = (
                "answered, but there is no answer"
                if not r["answerable"]
                else ("refused" if r["refused"] else f"missing {', '.join(r['facts_missing']) or 'a gold source'}")
            )
            lines.append(f"- `{r['id']}` ({r['type']}) {r['question']} — {why}")
    return "\n".join(lines) + "\n"


# --- SQuAD figures (`assistant eval --squad`) ------------------------------------

SQUAD_SHOWN = 50  # failing SQuAD questions listed in report.md/.html; all are in report.json


def _squad_cell(key: str, v) -> str:
    if v is None:
        return "–"
    return f"{v:g}" if key == "median_answer_words" else f"{v:.1%}"


def _squad_columns(sq: dict) -> list[tuple[str, dict]]:
    """(heading, summary) of the whole split and of each article."""
    cols = [(f"all ({sq['summary']['questions']})", sq["summary"])]
    return cols + [(f"{a} ({s['questions']})", s) for a, s in sq["by_article"].items()]


def _squad_why(r: dict) -> str:
    if not r["answerable"]:
        return "answered, but there is no answer"
    if r["refused"]:
        return "refused"
    missing = [] if r["span_in_answer"] else ["gold span not in the answer"]
    missing += [] if r["citation_covers_span"] else ["no citation covers the gold span"]
    return "; ".join(missing)


def squad_markdown(sq: dict | None) -> list[str]:
    if not sq:
        return []
    m, s = sq["meta"], sq["summary"]
    cols = _squad_columns(sq)
    lines = [
        "",
        f"## {m['label']}",
        "",
        f"{s['questions']} questions ({s['answerable']} answerable, {s['unanswerable']} unanswerable) asked over "
        f"a corpus of {m['corpus_articles']} articles; {s['passed']} passed; {m['seconds']} s; "
        f"file {m['file']} (sha256 {m['sha256'][:12]}).",
        "",
        "| metric | " + " | ".join(h for h, _ in cols) + " |",
        "| --- " * (len(cols) + 1) + "|",
    ]
    for k, label, lower in SQUAD_METRICS:
        name = f"{label} (lower is better)" if lower else label
        lines.append(f"| {name} | " + " | ".join(_squad_cell(k, c.get(k)) for _, c in cols) + " |")
    lat = [c.get("latency_ms") or {} for _, c in cols]
    lines.append(
        "| latency p50 / p95 ms | " + " | ".join(f"{x.get('p50', '–')} / {x.get('p95', '–')}" for x in lat) + " |"
    )
    failing = [r for r in sq["items"] if not _squad_passed(r)]
    if failing:
        lines += ["", f"### Failing SQuAD questions ({len(failing)}; the first {min(SQUAD_SHOWN, len(failing))})", ""]
        for r in failing[:SQUAD_SHOWN]:
            gold = " / ".join(r["gold"]) or "no answer"
            lines.append(f"- `{r['id']}` {r['question']} — {_squad_why(r)} (gold: {gold})")
    return lines


def _squad_html(sq: dict | None) -> str:
    if not sq:
        return ""
    e = html.escape
    m, s = sq["meta"], sq["summary"]
    cols = _squad_columns(sq)
    head = "".join(f"<th>{e(h)}</th>" for h, _ in cols)
    rows = "".join(
        f"<tr><td>{e(label)}{' (lower is better)' if lower else ''}</td>"
        + "".join(f"<td>{_squad_cell(k, c.get(k))}</td>" for _, c in cols)
        + "</tr>"
        for k, label, lower in SQUAD_METRICS
    )
    lat = "".join(
        f"<td>{(c.get('latency_ms') or {}).get('p50', '–')} / {(c.get('latency_ms') or {}).get('p95', '–')}</td>"
        for _, c in cols
    )
    failing = [r for r in sq["items"] if not _squad_passed(r)]
    items = []
    for r in failing[:SQUAD_SHOWN]:
        cites = "".join(
            f"<blockquote>[{c['n']}] <small>{e(str(c['source']))} {c['start']}–{c['end']}</small>\n{e(c['text'] or '')}</blockquote>"
            for c in r["citations"]
        )
        gold = " / ".join(r["gold"]) or "no answer in the article"
        spans = ", ".join(f"{a}–{b}" for a, b in r["spans"])
        items.append(
            f"<div class='item'><div class='q'>{e(r['id'])} · {e(r['article'])} · {e(r['question'])}</div>"
            f"<div class='bad'>{e(_squad_why(r))}</div><div class='cols'>"
            f"<div><b>Answer given</b><p>{e(r['answer'])}</p>{cites}</div>"
            f"<div><b>Gold</b><p>{e(gold)}</p><small>{e(r['file'])} {spans}</small></div></div></div>"
        )
    more = (
        f"<p><small>{len(failing) - SQUAD_SHOWN} more in report.json.</small></p>" if len(failing) > SQUAD_SHOWN else ""
    )
    return (
        f"<h2>{e(m['label'])}</h2><p>{s['questions']} questions ({s['answerable']} answerable, "
        f"{s['unanswerable']} unanswerable) asked over a corpus of {m['corpus_articles']} articles · "
        f"<span class='ok'>{s['passed']} passed</span> · {m['seconds']} s · {e(m['file'])} (sha256 {e(m['sha256'][:12])})</p>"
        f"<table><tr><th>metric</th>{head}</tr>{rows}<tr><td>latency p50 / p95 ms</td>{lat}</tr></table>"
        f"<h3>Failing SQuAD questions ({len(failing)})</h3>{''.join(items) or '<p>None.</p>'}{more}"
    )


def _bars(ax, keys: list[tuple[str, str]], groups: dict[str, dict]) -> None:
    """Grouped bars: one group per key of `groups`, one bar per metric."""
    names = list(groups)
    width = 0.8 / len(keys)
    for i, (k, label) in enumerate(keys):
        vals = [groups[g].get(k) or 0 for g in names]
        ax.bar([x + i * width for x in range(len(names))], vals, width, label=label)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(names))], names, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share")
    ax.legend(fontsize=7, ncols=4, loc="lower center", bbox_to_anchor=(0.5, 1.0))


def _chart_png(report: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("key_fact_accuracy", "all key facts"), ("hit_at_k", "hit@k"),
            ("citation_precision", "citation precision"), ("citation_recall", "citation recall")]  # fmt: skip
    sq = report.get("squad")
    if sq:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(14, 3.8), dpi=100, gridspec_kw={"width_ratios": [3, 2]})
    else:
        fig, ax = plt.subplots(figsize=(9, 3.6), dpi=100)
    _bars(ax, keys, {t: report["by_type"][t] for t in report["by_type"]})
    ax.set_title("gold set, by question type", fontsize=9, pad=22)
    if sq:
        rates = [(k, label) for k, label, _ in SQUAD_METRICS if k != "median_answer_words"]
        wrap = textwrap.TextWrapper(width=20, max_lines=2, placeholder="…").fill
        groups = {"all": sq["summary"], **{wrap(a.replace("_", " ")): s for a, s in sq["by_article"].items()}}
        _bars(ax2, rates, groups)
        ax2.set_title(sq["meta"]["label"], fontsize=9, pad=22)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th:first-child,td:first-child{text-align:left}.item{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.6em 1em}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:1em}.cols>div{background:#fafafa;padding:.5em;border-radius:4px}
.q{font-weight:600}.bad{color:#a00}.ok{color:#070}blockquote{margin:.3em 0;padding-left:.6em;border-left:3px solid #bbb;
white-space:pre-wrap}small{color:#666}
"""


def page(report: dict) -> str:
    """The whole report as one HTML page; every text from documents or
    answers is escaped."""
    e = html.escape
    m, s = report["meta"], report["summary"]
    head = "".join(f"<th>{e(label)}</th>" for _, label in COLUMNS)
    rows = "".join(
        f"<tr><td>{e(t)}</td><td>{ts['items']}</td>"
        + "".join(f"<td>{_cell(k, ts.get(k))}</td>" for k, _ in COLUMNS)
        + "</tr>"
        for t, ts in report["by_type"].items()
    )
    overall = (
        f"<tr><td><b>all</b></td><td>{s['items']}</td>"
        + "".join(f"<td><b>{_cell(k, s.get(k))}</b></td>" for k, _ in COLUMNS)
        + "</tr>"
    )
    lat = "".join(f"<tr><td>{e(k)}</td><td>{v['p50']}</td><td>{v['p95']}</td></tr>" for k, v in s["latency_ms"].items())
    chart = base64.b64encode(_chart_png(report)).decode()
    items = []
    for r in report["items"]:
        if passed(r):
            continue
        cites = (
            "".join(
                f"<blockquote>[{c['n']}] <small>{e(c['source'])} {c['start']}–{c['end']}</small>\n{e(c['text'])}</blockquote>"
                for c in r["citations"]
            )
            or "<p><small>no citations</small></p>"
        )
        gold = (
            "".join(
                f"<blockquote><small>{e(ev['source'])}</small>\n{e(ev['quote'])}</blockquote>" for ev in r["evidence"]
            )
            or "<p><small>no evidence: the sources do not answer this</small></p>"
        )
        history = "".join(f"<div><small>{e(h['role'])}:</small> {e(h['content'])}</div>" for h in r["history"])
        verdict = "refused" if r["refused"] else "answered"
        missing = f" — missing: {e(', '.join(r['facts_missing']))}" if r["facts_missing"] else ""
        items.append(
            f"<div class='item' id='{e(r['id'])}'><div class='q'>{e(r['id'])} · {e(r['type'])} · {e(r['question'])}</div>"
            f"{history}<div class='bad'>{verdict}{missing}</div><div class='cols'>"
            f"<div><b>Answer given</b><p>{e(r['answer'])}</p>{cites}</div>"
            f"<div><b>Gold</b><p>{e(r['reference'])}</p>{gold}</div></div></div>"
        )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Eval report {e(m['date'])}</title>"
        f"<style>{_CSS}</style></head><body><h1>Eval report</h1>"
        f"<p>{e(m['backend'])} backend · {e(m['date'])} · {s['items']} items · <span class='ok'>{s['passed']} passed</span> · "
        f"{m['seconds']} s · embedder {e(m['embedder'])} · top_k {m['top_k']}</p>"
        f"<table><tr><th>type</th><th>n</th>{head}</tr>{rows}{overall}</table>"
        f"<img alt='metrics by question type{' and of the SQuAD questions' * bool(report.get('squad'))}' src='data:image/png;base64,{chart}'>"
        f"<h2>Latency</h2><table><tr><th>stage</th><th>p50 ms</th><th>p95 ms</th></tr>{lat}</table>"
        f"{_squad_html(report.get('squad'))}"
        f"<h2>Failing questions ({len(items)})</h2>{''.join(items) or '<p>None.</p>'}</body></html>"
    )


def write(report: dict, out_dir: Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md", "html": out_dir / "report.html"}
    paths["json"].write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    paths["md"].write_text(markdown(report), encoding="utf-8")
    paths["html"].write_text(page(report), encoding="utf-8")
    return paths
