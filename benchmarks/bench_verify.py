"""Cost and behaviour of citation verification, without a model: for every
gold question, a synthetic "model answer" is made from real passage sentences
with some citations moved to the wrong passage, one pointing at no passage,
and one invented sentence; the verifier must keep, re-cite and drop them.
Prints counts and per-answer verification time.

    .venv/bin/python benchmarks/bench_verify.py
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import Settings, build_index  # noqa: E402
from assistant.answerers.cite import split_sentences  # noqa: E402
from assistant.answerers.verify import Verifier  # noqa: E402
from assistant.api import get_engine  # noqa: E402
from assistant.evals.gold import load_gold  # noqa: E402


def main() -> None:
    rng = random.Random(0)
    settings = Settings(corpus=ROOT / "seeds", index_dir=Path(tempfile.mkdtemp()) / "index")
    build_index(settings=settings)
    engine = get_engine(settings)
    gold = load_gold(ROOT / "evals" / "gold.jsonl")
    embed = engine.embedder.embed
    embed(["warm up"])
    results = {}
    for scenario in ("all citations right", "wrong, missing and invented citations"):
        times, counts = [], {"kept": 0, "recited": 0, "dropped": 0}
        for item in gold:
            passages, _ = engine.retriever.search(item["question"], settings.top_k)
            units = engine.retriever.units_of(passages)
            claims = [u for u in units if not u.heading and len(u.text.split()) > 6]
            rng.shuffle(claims)
            parts = []
            for k, u in enumerate(claims[:3]):
                n = u.passage
                if scenario.startswith("wrong"):
                    n = u.passage if k == 0 else (u.passage % len(passages)) + 1 if k == 1 else 99
                parts.append(f"{u.text.rstrip('.')} [{n}].")
            if scenario.startswith("wrong"):
                parts.append("The summit also agreed to build a joint research base on Mars by 2031 [1].")
            t = time.perf_counter()
            v = Verifier(passages, units, embed)
            v.check(split_sentences(" ".join(parts))[0])
            times.append((time.perf_counter() - t) * 1000)
            for k in counts:
                counts[k] += getattr(v, k)
        results[scenario] = {
            **counts,
            "verify_ms_per_answer_p50": round(statistics.median(times), 1),
            "verify_ms_per_answer_p95": round(sorted(times)[int(0.95 * (len(times) - 1))], 1),
        }
    print(json.dumps({"answers_per_scenario": len(gold), **results}, indent=2))


if __name__ == "__main__":
    main()
