"""Core benchmark: index build, ingest vs raw embedder throughput, warm and
cold answer latency. Prints figures; asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/bench_core.py [--corpus seeds] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import Settings, answer, build_index  # noqa: E402
from assistant.embedders import get_embedder  # noqa: E402
from assistant.evals.gold import load_gold  # noqa: E402
from assistant.ingest.chunk import chunk_doc  # noqa: E402
from assistant.ingest.files import load_corpus  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT / "seeds"))
    ap.add_argument("--gold", default=str(ROOT / "evals" / "gold.jsonl"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    settings = Settings(corpus=Path(args.corpus), index_dir=tmp / "index")
    embedder = get_embedder(settings)
    embedder.embed(["warm up the session"])

    # Raw embedder throughput on the same corpus, measured in this run.
    docs, _ = load_corpus(settings)
    units, chunks = [], []
    for d in docs:
        u, c = chunk_doc(d, settings.chunk_size, settings.chunk_overlap, settings.unit_max_tokens)
        units += [x.text for x in u]
        chunks += [x.text for x in c]
    unit_tokens = embedder.count_tokens(units)
    chunk_tokens = embedder.count_tokens(chunks)
    t = time.perf_counter()
    embedder.embed(chunks)
    raw_chunk_s = time.perf_counter() - t
    t = time.perf_counter()
    embedder.embed(units)
    raw_unit_s = time.perf_counter() - t

    builds = []
    for _ in range(args.repeats):
        report = build_index(settings=settings, rebuild=True)
        builds.append(report)
    build_s = statistics.median(r.seconds for r in builds)
    embed_s = statistics.median(r.embed_seconds for r in builds)
    t = time.perf_counter()
    build_index(settings=settings)
    noop_s = time.perf_counter() - t

    corpus_tokens = unit_tokens  # every corpus token is embedded once, in its sentence
    ingest_tps = corpus_tokens / build_s
    raw_chunk_tps = chunk_tokens / raw_chunk_s
    raw_unit_tps = unit_tokens / raw_unit_s

    # Warm answer latency over the gold questions.
    gold = load_gold(Path(args.gold))
    answer(gold[0]["question"], settings=settings)
    lat: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for item in gold:
            a = answer(item["question"], history=item.get("history") or None, settings=settings)
            for k, v in a.timings.items():
                lat.setdefault(k, []).append(v)

    # Cold start: a new process, import to first answer, index already built.
    code = (
        "import time; t=time.perf_counter(); from assistant import answer; "
        "a=answer('How much is Seoul expected to invest in the US?'); "
        "print(time.perf_counter()-t)"
    )
    env = {**os.environ, "ASSISTANT_CORPUS": str(settings.corpus), "ASSISTANT_INDEX_DIR": str(settings.index_dir)}
    colds, walls = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        walls.append(time.perf_counter() - t)
        colds.append(float(out.stdout.strip().splitlines()[-1]))

    results = {
        "date": time.strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
        "corpus_files": len(docs),
        "chunks": len(chunks),
        "units": len(units),
        "corpus_tokens": corpus_tokens,
        "index_build_s": round(build_s, 2),
        "index_build_embed_s": round(embed_s, 2),
        "reindex_unchanged_s": round(noop_s, 2),
        "ingest_tokens_per_s": round(ingest_tps),
        "raw_embedder_tokens_per_s_on_chunks": round(raw_chunk_tps),
        "raw_embedder_tokens_per_s_on_units": round(raw_unit_tps),
        "ingest_vs_raw_embedder_on_chunks": round(ingest_tps / raw_chunk_tps, 2),
        "ingest_vs_raw_embedder_on_units": round(ingest_tps / raw_unit_tps, 2),
        "warm_answer_ms_p50": round(statistics.median(lat["total_ms"]), 1),
        "warm_answer_ms_p95": round(pct(lat["total_ms"], 0.95), 1),
        "warm_stage_ms_p50": {k: round(statistics.median(v), 1) for k, v in lat.items() if k != "load_ms"},
        "cold_first_answer_s_median": round(statistics.median(colds), 2),
        "cold_process_wall_s_median": round(statistics.median(walls), 2),
    }
    print(json.dumps(results, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
