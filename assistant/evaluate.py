"""Score `answer()` on a gold set (JSONL, format in evals/README.md).

Per item: are all key facts in the answer, is a gold source cited, did it
refuse. Summary: key-fact accuracy, right-source citation rate, refusal
accuracy on unanswerable items, false refusals on answerable ones, latency.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path

from .api import answer
from .settings import Settings


def load_gold(path: Path) -> list[dict]:
    items = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except ValueError as e:
                raise ValueError(f"{path}:{i}: not JSON: {e}") from None
    return items


def answerable(item: dict) -> bool:
    return bool(item.get("must_include"))


def has_fact(text: str, alternates: list[str]) -> bool:
    low = text.lower()
    return any(a.lower() in low for a in alternates)


def _norm(text: str) -> str:
    from .clean import clean_text

    return re.sub(r"[\W_]+", "", clean_text(text).text.lower())


def evidence_rank(item: dict, passages) -> int | None:
    """1-based rank of the first passage that holds a gold evidence quote."""
    quotes = [(e["source"], _norm(e["quote"])[:80]) for e in item.get("evidence") or []]
    for p in passages:
        text = _norm(p.text)
        if any(src == p.source and q and q in text for src, q in quotes):
            return p.n
    return None


def score_item(item: dict, ans) -> dict:
    facts = item.get("must_include") or []
    found = [has_fact(ans.text, alts) for alts in facts]
    cited = {c.source for c in ans.citations}
    gold_sources = set(item.get("sources") or [])
    return {
        "id": item["id"],
        "type": item["type"],
        "question": item["question"],
        "answerable": answerable(item),
        "answer": ans.text,
        "refused": ans.refused,
        "facts_found": sum(found),
        "facts_total": len(found),
        "all_facts": bool(found) and all(found),
        "right_source": bool(cited & gold_sources),
        "cited_sources": sorted(cited),
        "retrieved_sources": sorted({p.source for p in ans.passages}),
        "evidence_rank": evidence_rank(item, ans.passages),
        "ms": ans.timings.get("total_ms", 0.0),
    }


def evaluate(gold: list[dict], settings: Settings) -> tuple[list[dict], dict]:
    rows = []
    for item in gold:
        t = time.perf_counter()
        ans = answer(item["question"], history=item.get("history") or None, settings=settings)
        row = score_item(item, ans)
        row["wall_ms"] = (time.perf_counter() - t) * 1000
        rows.append(row)
    return rows, summarize(rows)


def summarize(rows: list[dict]) -> dict:
    ans_rows = [r for r in rows if r["answerable"]]
    una_rows = [r for r in rows if not r["answerable"]]
    lat = sorted(r["ms"] for r in rows)

    def share(xs):
        return round(sum(xs) / len(xs), 4) if xs else None

    ranks = [r["evidence_rank"] for r in ans_rows]
    return {
        "items": len(rows),
        "hit_at_1": share([r is not None and r <= 1 for r in ranks]),
        "hit_at_3": share([r is not None and r <= 3 for r in ranks]),
        "hit_at_k": share([r is not None for r in ranks]),
        "mrr": round(sum(1 / r for r in ranks if r) / len(ranks), 4) if ranks else None,
        "answerable": len(ans_rows),
        "unanswerable": len(una_rows),
        "key_fact_accuracy": share([r["all_facts"] for r in ans_rows]),
        "key_fact_recall": round(
            sum(r["facts_found"] for r in ans_rows) / max(1, sum(r["facts_total"] for r in ans_rows)), 4
        ),
        "right_source_cited": share([r["right_source"] for r in ans_rows]),
        "refusal_accuracy": share([r["refused"] for r in una_rows]),
        "refused_unanswerable": sum(r["refused"] for r in una_rows),
        "false_refusals": sum(r["refused"] for r in ans_rows),
        "latency_ms_p50": round(statistics.median(lat), 2) if lat else None,
        "latency_ms_p95": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2) if lat else None,
    }
