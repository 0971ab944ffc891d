"""The eval harness: run a gold set (JSONL, see evals/README.md, read and
checked by gold.py) through the public `answer()` and score retrieval,
answers, citations and refusals (the baseline gate is gate.py).

Everything is deterministic and offline: evidence is located by character
span in the original files, key facts by substring, and citation support by
the same local check (`cite.check_support`) that verifies LLM answers.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict

from assistant.answerers.cite import check_support, cited_sentences
from assistant.api import answer
from assistant.evals.gold import Sources, check_gold
from assistant.settings import Settings


def answerable(item: dict) -> bool:
    """Whether a gold item has an answer (key facts to find)."""
    return bool(item.get("must_include"))


def has_fact(text: str, alternates: list[str]) -> bool:
    """Whether `text` holds one of a key fact's alternates (case ignored)."""
    low = text.lower()
    return any(a.lower() in low for a in alternates)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def score_item(item: dict, ans, sources: Sources, embed) -> dict:
    """Every per-item number the summary is built from."""
    evidence = sources.spans(item)
    # Retrieval: a passage "holds" a quote when it covers half of it or more.
    first_rank, found = None, set()
    for p in ans.passages:
        for i, (src, s, e) in enumerate(evidence):
            if src == p.source and _overlap((p.start, p.end), (s, e)) >= 0.5 * (e - s):
                found.add(i)
                first_rank = first_rank or p.n
    facts = item.get("must_include") or []
    facts_found = [has_fact(ans.text, alts) for alts in facts]

    # Citations: each [n] of each answer sentence, checked against its span.
    checks, sentences = [], []
    if not ans.refused:
        by_n = {c.n: c for c in ans.citations}
        pairs = cited_sentences(ans.text)
        texts = [s for s, _ in pairs] + [c.text for c in ans.citations]
        vecs = embed(texts) if texts else []
        cvec = {c.n: vecs[len(pairs) + i] for i, c in enumerate(ans.citations)}
        for k, (sent, ns) in enumerate(pairs):
            supported = False
            for n in ns:
                c = by_n.get(n)
                if c is None:  # a marker with no citation behind it
                    checks.append({"n": n, "ok": False, "evidence": False, "missing": ["no such citation"]})
                    continue
                sup = check_support(sent, c.text, vecs[k], cvec[n])
                on_evidence = any(src == c.source and _overlap((c.start, c.end), (s, e)) > 0 for src, s, e in evidence)
                checks.append({"n": n, "ok": sup.ok, "evidence": on_evidence, "semantic": sup.semantic,
                               "lexical": sup.lexical, "missing": sup.missing})  # fmt: skip
                supported = supported or sup.ok
            sentences.append({"text": sent, "markers": ns, "supported": supported})
    cited = {c.source for c in ans.citations}
    gold_sources = set(item.get("sources") or [])
    return {
        "id": item["id"],
        "type": item["type"],
        "question": item["question"],
        "history": item.get("history") or [],
        "answerable": answerable(item),
        "answer": ans.text,
        "refused": ans.refused,
        "reference": item.get("answer", ""),
        "must_include": facts,
        "facts_found": sum(facts_found),
        "facts_total": len(facts),
        "facts_missing": [alts[0] for alts, ok in zip(facts, facts_found) if not ok],
        "all_facts": bool(facts) and all(facts_found),
        "evidence": item.get("evidence") or [],
        "evidence_rank": first_rank,
        "evidence_found": len(found),
        "evidence_total": len(evidence),
        "citations": [
            {"n": c.n, "source": c.source, "start": c.start, "end": c.end, "text": c.text} for c in ans.citations
        ],
        "citation_checks": checks,
        "sentences": sentences,
        "gold_sources": sorted(gold_sources),
        "cited_sources": sorted(cited),
        "right_source": bool(cited & gold_sources),
        "gold_sources_cited": len(cited & gold_sources),
        "retrieved_sources": sorted({p.source for p in ans.passages}),
        "timings": ans.timings,
        "backend": ans.backend,
        "verification": ans.verification,
        "notes": ans.notes,
    }


def passed(row: dict) -> bool:
    """An item passes when it is refused iff it has no answer, and an answer
    holds every key fact and cites a gold source."""
    if not row["answerable"]:
        return row["refused"]
    return row["all_facts"] and row["right_source"]


def summarize(rows: list[dict]) -> dict:
    ans_rows = [r for r in rows if r["answerable"]]
    una_rows = [r for r in rows if not r["answerable"]]
    answered = [r for r in rows if not r["refused"]]
    checks = [c for r in answered for c in r["citation_checks"]]
    ans_checks = [c for r in ans_rows if not r["refused"] for c in r["citation_checks"]]
    sents = [s for r in answered for s in r["sentences"]]
    ranks = [r["evidence_rank"] for r in ans_rows]

    def share(xs) -> float | None:
        xs = list(xs)
        return round(sum(xs) / len(xs), 4) if xs else None

    out = {
        "items": len(rows),
        "answerable": len(ans_rows),
        "unanswerable": len(una_rows),
        "passed": sum(passed(r) for r in rows),
        "hit_at_1": share(r is not None and r <= 1 for r in ranks),
        "hit_at_3": share(r is not None and r <= 3 for r in ranks),
        "hit_at_k": share(r is not None for r in ranks),
        "mrr": round(sum(1 / r for r in ranks if r) / len(ranks), 4) if ranks else None,
        "evidence_recall": (
            round(sum(r["evidence_found"] for r in ans_rows) / max(1, sum(r["evidence_total"] for r in ans_rows)), 4)
            if ans_rows else None
        ),
        "key_fact_recall": (
            round(sum(r["facts_found"] for r in ans_rows) / max(1, sum(r["facts_total"] for r in ans_rows)), 4)
            if ans_rows else None
        ),
        "key_fact_accuracy": share(r["all_facts"] for r in ans_rows),
        "citation_precision": share(c["ok"] for c in checks),
        "citation_precision_evidence": share(c["evidence"] for c in ans_checks),
        "citation_recall": share(s["supported"] for s in sents),
        "gold_source_coverage": (
            round(sum(r["gold_sources_cited"] for r in ans_rows) / max(1, sum(len(r["gold_sources"]) for r in ans_rows)), 4)
            if ans_rows else None
        ),
        "right_source_cited": share(r["right_source"] for r in ans_rows),
        "llm_answers": sum(r["backend"].startswith("llm") for r in rows),
        "verification": {
            k: sum(r["verification"].get(k, 0) for r in rows) for k in ("kept", "recited", "dropped")
        },
        "refusal_accuracy": share(r["refused"] for r in una_rows),
        "false_refusal_rate": share(r["refused"] for r in ans_rows),
        "latency_ms": {},
    }  # fmt: skip
    stages = defaultdict(list)
    for r in rows:
        for k, v in r["timings"].items():
            if k != "load_ms":
                stages[k].append(v)
    for k, vals in sorted(stages.items()):
        vals = sorted(vals)
        out["latency_ms"][k] = {
            "p50": round(statistics.median(vals), 2),
            "p95": round(vals[min(len(vals) - 1, int(0.95 * len(vals)))], 2),
        }
    return out


def run(gold: list[dict], settings: Settings, backend: str = "offline", progress: bool = True) -> dict:
    """Answer every gold item and return the full report (JSON-ready).
    The gold set is checked first (`check_gold`): GoldFileError before any work."""
    gold = list(gold)
    check_gold(gold, settings)
    from tqdm import tqdm

    from assistant.embedders import get_embedder

    embedder = get_embedder(settings)
    sources = Sources(settings.corpus)
    t0 = time.perf_counter()
    rows = []
    bar = tqdm(gold, desc="eval", unit="q", file=sys.stderr, disable=not progress or None, leave=False)
    for item in bar:
        ans = answer(item["question"], history=item.get("history") or None, settings=settings)
        rows.append(score_item(item, ans, sources, embedder.embed))
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_type[r["type"]].append(r)
    return {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "backend": backend,
            "corpus": str(settings.corpus),
            "top_k": settings.top_k,
            "embedder": embedder.id,
            "model": settings.llm_model if backend == "llm" else None,
            "seconds": round(time.perf_counter() - t0, 2),
        },
        "summary": summarize(rows),
        "by_type": {t: summarize(rs) for t, rs in sorted(by_type.items())},
        "items": rows,
    }
