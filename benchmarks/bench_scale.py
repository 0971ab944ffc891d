"""Scale benchmark: ingest and query cost at 1k, 10k and 100k chunks, with the
embedded Chroma store and with a `chroma run` server. Prints figures and
writes them as JSON; asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/bench_scale.py [--sizes 1000,10000,100000] [--server-max N] [--no-server]

Corpora: documents of real English prose, the paragraphs of the docstrings of
packages installed in this environment (numpy, pandas, matplotlib, ...), no
paragraph used twice within the corpora that are embedded for real.

Embedding is the cost that dominates ingest (about 6,500 word pieces/s on 2 cores), so
100k chunks (~22M word pieces) would take about an hour of model time alone. So:
- the embedded store at sizes up to --embed-limit is ingested for real, model
  included, and that gives the ratio ingest ÷ raw embedder throughput: the
  time the raw embedder (`embed()` in this process) needs for the sentences
  ingest embeds, at its throughput on a sample of 1,500 of them spread over
  the corpus (measured before and after the ingest, averaged), ÷ the ingest
  time; both sides count the model's own tokens (word pieces);
- above it, the corpus is made of the paragraphs already embedded for the
  smaller sizes, rearranged into new documents, and the benchmark's embedder
  replays their vectors (misses are embedded for real and counted): the run
  measures everything but the model — chunking, storage, manifest, BM25 —
  which is what could stop ingest from keeping pace with the embedder;
- server mode replays the vectors of the embedded run of the same corpus, so
  it measures what the HTTP round trips to the server cost.
Each run is a child process, so peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:  # the protocols the benchmark's embedders implement
    from assistant.embedders.base import Embedder, EmbedJob

PACKAGES = ["numpy", "pandas", "matplotlib", "networkx", "sqlalchemy", "nltk", "llama_index", "gradio", "pydantic",
            "openai", "aiohttp", "huggingface_hub", "jinja2", "kubernetes", "chromadb", "rich", "fsspec", "starlette",
            "fastapi", "httpx", "PIL", "fontTools", "setuptools", "pip", "_pytest", "urllib3", "requests", "click",
            "typer", "yaml", "grpc", "google", "opentelemetry", "jsonschema", "attr", "markdown_it", "pyparsing",
            "regex", "docutils", "dateutil", "pygments"]  # fmt: skip
CHARS_PER_CHUNK = 800  # measured: ~800 characters of this prose per 220-token chunk (40 overlap)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


# -- corpus -------------------------------------------------------------------
def prose_paragraphs(cache: Path) -> list[str]:
    """Distinct prose paragraphs from installed packages' docstrings (cached)."""
    if cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))
    site = Path(np.__file__).resolve().parent.parent
    found: set[str] = set()
    for pkg in PACKAGES:
        for f in sorted((site / pkg).rglob("*.py")) if (site / pkg).is_dir() else []:
            try:
                tree = ast.parse(f.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef, ast.Module)):
                    continue
                for p in re.split(r"\n\s*\n", ast.get_docstring(node) or ""):
                    p = " ".join(p.split())
                    if len(p) < 80 or ">>>" in p or "::" in p or p.count(" ") < 10:
                        continue
                    if sum(c.isalpha() or c == " " for c in p) >= 0.85 * len(p):  # prose, not code
                        found.add(p)
    paras = sorted(found)
    random.Random(7).shuffle(paras)
    cache.write_text(json.dumps(paras), encoding="utf-8")
    return paras


def write_corpus(folder: Path, paras: list[str], n_chunks: int) -> tuple[int, int]:
    """Files of ~12 chunks each, titled by their first words; returns the
    characters written and the paragraphs used."""
    folder.mkdir(parents=True)
    budget, total, i, doc = n_chunks * CHARS_PER_CHUNK, 0, 0, 0
    while total < budget and i < len(paras):
        body, size = [], 0
        while size < 12 * CHARS_PER_CHUNK and i < len(paras) and total + size < budget:
            body.append(paras[i])
            size += len(paras[i])
            i += 1
        title = " ".join(re.findall(r"[A-Za-z]+", body[0])[:6]).title()
        (folder / f"doc{doc:06d}.txt").write_text(f"{title}\n\n" + "\n\n".join(body) + "\n", encoding="utf-8")
        total += size
        doc += 1
    return total, i


# -- child processes ----------------------------------------------------------
class ReplayEmbedder:
    """Vectors recorded by an earlier run, looked up by text; misses go to the
    real model and are counted. An `Embedder` (assistant/embedders/base.py)."""

    def __init__(self, inner: Embedder, files: list[Path]):
        self.inner, self.id, self.dim, self.batch_size = inner, inner.id, inner.dim, inner.batch_size
        self.table: dict[str, np.ndarray] = {}
        for f in files:
            data = np.load(f)
            for h, v in zip(data["keys"], data["vectors"]):
                self.table[str(h)] = v
        self.hits = self.misses = 0

    def embed(self, texts):
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        miss = [i for i, k in enumerate(keys) if k not in self.table]
        for i, k in enumerate(keys):
            if k in self.table:
                out[i] = self.table[k]
        if miss:
            out[miss] = self.inner.embed([texts[i] for i in miss])
        self.hits += len(texts) - len(miss)
        self.misses += len(miss)
        return out

    def worker(self):
        return None  # lookups run here; misses are few


class RecordingEmbedder:
    """The real model, keeping every vector it makes. An `Embedder`."""

    def __init__(self, inner: Embedder):
        self.inner, self.id, self.dim, self.batch_size = inner, inner.id, inner.dim, inner.batch_size
        self.keys: list[str] = []
        self.vectors: list[np.ndarray] = []

    def embed(self, texts):
        v = self.inner.embed(texts)
        self.keys += [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        self.vectors.append(v)
        return v

    def worker(self) -> RecordingWorker | None:
        inner = self.inner.worker()
        return RecordingWorker(self, inner) if inner is not None else None

    def save(self, path: Path) -> None:
        np.savez(path, keys=np.array(self.keys), vectors=np.concatenate(self.vectors))


class RecordingWorker:
    """The inner embedder's child process, recorded as RecordingEmbedder is.
    An `EmbedJob`."""

    def __init__(self, recorder: RecordingEmbedder, inner: EmbedJob):
        self.recorder, self.inner, self.texts = recorder, inner, []

    def submit(self, texts):
        self.texts = list(texts)
        self.inner.submit(texts)

    def result(self):
        v, seconds = self.inner.result()
        self.recorder.keys += [hashlib.sha1(t.encode()).hexdigest() for t in self.texts]
        self.recorder.vectors.append(v)
        return v, seconds

    def close(self):
        self.inner.close()


def rss_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def raw_throughput(embedder, texts: list[str]) -> float:
    """The embedder's own throughput on `texts`, in its tokens per second."""
    t = time.perf_counter()
    embedder.embed(texts)
    return embedder.count_tokens(texts) / (time.perf_counter() - t)


def child_ingest(args) -> dict:
    from assistant import Settings
    from assistant.embedders import get_embedder
    from assistant.ingest.chunk import chunk_doc
    from assistant.ingest.files import load_corpus
    from assistant.stores import sync

    settings = Settings(corpus=Path(args.corpus), index_dir=Path(args.index), chroma_url=args.chroma_url or None)
    real = get_embedder(settings)
    real.embed(["warm up"])
    measure = not args.replay  # the model's share is known only when nothing is replayed
    if measure:
        # The sentences ingest embeds (every token is embedded once, in its sentence).
        docs, _ = load_corpus(settings.with_options())
        per_doc = [
            [u.text for u in chunk_doc(d, settings.chunk_size, settings.chunk_overlap, settings.unit_max_tokens)[0]]
            for d in docs
        ]
        # A sample of them spread over the whole corpus, for the raw embedder's
        # throughput, measured before and after the ingest (the machine is shared).
        step = max(1, len(docs) // 40)
        sample = [t for texts in per_doc[::step] for t in texts][:1500]
        raw_before = raw_throughput(real, sample)
    embedder = real
    if args.replay:
        embedder = ReplayEmbedder(real, [Path(p) for p in args.replay.split(",")])
    elif args.record:
        embedder = RecordingEmbedder(real)
    rss_before = rss_mb()
    cpu = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    report = sync(settings, embedder)
    cpu = [
        (r.ru_utime + r.ru_stime) - (c.ru_utime + c.ru_stime)
        for r, c in zip([resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)], cpu)
    ]
    out = {
        "seconds": report.seconds, "embed_s": report.embed_seconds, "store_s": report.store_seconds,
        "bm25_s": report.bm25_seconds, "chunks": report.chunks, "units": report.units, "tokens": report.tokens,
        "files": len(report.added), "peak_rss_mb": rss_mb(), "rss_before_mb": rss_before,
        "embed_process": getattr(report, "embed_process", False), "embed_process_peak_rss_mb": rss_mb(resource.RUSAGE_CHILDREN),
        "cpu_s": cpu[0], "embed_process_cpu_s": cpu[1],  # CPU seconds: this process, the embedding process
    }  # fmt: skip
    if isinstance(embedder, ReplayEmbedder):
        out |= {"replayed": embedder.hits, "embedded_for_real": embedder.misses}
    if isinstance(embedder, RecordingEmbedder):
        embedder.save(Path(args.record))
    # Re-index with nothing changed.
    t = time.perf_counter()
    sync(settings, embedder)
    out["reindex_unchanged_s"] = time.perf_counter() - t
    if measure:
        raw_after = raw_throughput(real, sample)
        # Both sides in the embedder's own tokens (word pieces, [CLS] and [SEP]
        # included). Until 2026-11-24 the ratio divided `tokens` (tiktoken
        # tokens, 1.27 times fewer on this prose) by the raw word pieces/s.
        out["model_tokens"] = real.count_tokens([t for texts in per_doc for t in texts])
        out["raw_embed_tokens_per_s_before"], out["raw_embed_tokens_per_s_after"] = raw_before, raw_after
        out["raw_embed_tokens_per_s"] = (raw_before + raw_after) / 2
        # The time the raw embedder needs for exactly what ingest embedded, ÷ the ingest time.
        out["ingest_vs_raw_embedder"] = out["model_tokens"] / out["raw_embed_tokens_per_s"] / report.seconds
        out["old_ratio_tiktoken_over_wordpieces"] = report.tokens / report.seconds / out["raw_embed_tokens_per_s"]
    return out


def child_query(args) -> dict:
    from assistant import Settings, answer
    from assistant.api import get_engine
    from assistant.evals.gold import load_gold

    settings = Settings(corpus=Path(args.corpus), index_dir=Path(args.index), chroma_url=args.chroma_url or None)
    t = time.perf_counter()
    engine = get_engine(settings)
    open_s = time.perf_counter() - t
    questions = [g["question"] for g in load_gold(ROOT / "evals" / "gold.jsonl")]
    r = engine.retriever
    answer(questions[0], settings=settings)  # warm
    vec, bm, hyb, ans = [], [], [], []
    for q in questions:
        qvec = r.embed_query(q)
        t = time.perf_counter()
        _, stage = r.search(q, settings.top_k, qvec=qvec)
        hyb.append((time.perf_counter() - t) * 1000)
        vec.append(stage["vector_ms"])
        bm.append(stage["bm25_ms"])
        ans.append(answer(q, settings=settings).timings["total_ms"])
    res = {"open_s": open_s, "peak_rss_mb": rss_mb()}
    for name, xs in (("vector", vec), ("bm25", bm), ("hybrid", hyb), ("answer", ans)):
        res[f"{name}_ms_p50"], res[f"{name}_ms_p95"] = statistics.median(xs), pct(xs, 0.95)
    return res


def run_child(kind: str, **kw) -> dict:
    cmd = [sys.executable, __file__, "--child", kind] + [f"--{k.replace('_', '-')}={v}" for k, v in kw.items() if v]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"child {kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- server -------------------------------------------------------------------
class ChromaServer:
    def __init__(self, path: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
        self.path = path
        self.proc = subprocess.Popen(
            [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(self.url + "/api/v2/heartbeat", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("chroma run did not start")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


# -- main ---------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--embed-limit", type=int, default=10000, help="largest size embedded for real")
    ap.add_argument("--no-server", action="store_true")
    ap.add_argument("--server-max", type=int, default=100000, help="largest size also run against a Chroma server")
    ap.add_argument("--work", help="working folder (default: a temporary one, removed at the end)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.json"))
    ap.add_argument("--child")
    for name in ("corpus", "index", "chroma-url", "replay", "record"):
        ap.add_argument(f"--{name}")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child_ingest(args) if args.child == "ingest" else child_query(args)))
        return

    work = Path(args.work or tempfile.mkdtemp(prefix="bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    paras = prose_paragraphs(work / "paragraphs.json")
    sizes = [int(x) for x in args.sizes.split(",")]
    real_sizes = [n for n in sizes if n <= args.embed_limit]
    # Corpora embedded for real take disjoint paragraphs; larger ones reuse them.
    used = 0
    results = {"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(), "sizes": {}}
    recordings: list[str] = []
    for n in sizes:
        corpus = work / f"corpus-{n}"
        shutil.rmtree(corpus, ignore_errors=True)
        replay = None
        if n in real_sizes:
            chars, taken = write_corpus(corpus, paras[used:], n)
            used += taken
        else:
            pool = paras[:used]
            reps = []
            rng = random.Random(n)
            while sum(map(len, reps)) < n * CHARS_PER_CHUNK:
                batch = pool[:]
                rng.shuffle(batch)
                reps += batch
            chars, _ = write_corpus(corpus, reps, n)
            replay = ",".join(recordings)
        row: dict = {"corpus_mb": round(chars / 2**20, 1), "files": len(list(corpus.iterdir()))}
        print(f"== {n} chunks: {row['files']} files, {row['corpus_mb']} MB", file=sys.stderr, flush=True)

        index = work / f"index-{n}"
        shutil.rmtree(index, ignore_errors=True)
        record = str(work / f"vectors-{n}.npz") if replay is None else None
        ing = run_child("ingest", corpus=corpus, index=index, replay=replay, record=record)
        if record:
            recordings.append(record)
        ing["disk_mb"] = disk_mb(index)
        q = run_child("query", corpus=corpus, index=index)
        row["embedded"] = {"ingest": ing, "query": q}
        print(json.dumps(row["embedded"]), file=sys.stderr, flush=True)

        if not args.no_server and n <= args.server_max:
            server = ChromaServer(work / f"server-{n}")
            try:
                sidx = work / f"sindex-{n}"
                shutil.rmtree(sidx, ignore_errors=True)
                sing = run_child("ingest", corpus=corpus, index=sidx, chroma_url=server.url, replay=record or replay)
                sq = run_child("query", corpus=corpus, index=sidx, chroma_url=server.url)
                sing["server_disk_mb"] = disk_mb(server.path)
                sing["local_disk_mb"] = disk_mb(sidx)
                sing["server_peak_rss_mb"] = server.peak_rss_mb()
                row["server"] = {"ingest": sing, "query": sq}
                print(json.dumps(row["server"]), file=sys.stderr, flush=True)
            finally:
                server.stop()
        results["sizes"][str(n)] = row
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1), encoding="utf-8")

    print(table(results))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


def table(results: dict) -> str:
    """The Markdown table for the README."""
    sizes = results["sizes"]
    lines = [
        f"Measured {results['date']} on {results['cores']} cores.",
        "",
        "| chunks | mode | ingest s | embed s | store s | BM25 s | tokens/s | ÷ raw embedder | disk MB | peak RSS MB "
        "| vector p50/p95 ms | BM25 p50/p95 ms | hybrid p50/p95 ms | answer() p50/p95 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in sizes.values():
        for mode in ("embedded", "server"):
            if mode not in row:
                continue
            i, q = row[mode]["ingest"], row[mode]["query"]
            replayed = "replayed" in i and i["replayed"] > 0
            tps = i["tokens"] / i["seconds"]
            ratio = "—" if replayed else f"{i['ingest_vs_raw_embedder']:.2f}"
            disk = i.get("disk_mb") or i.get("server_disk_mb", 0) + i.get("local_disk_mb", 0)
            rss = (
                i["peak_rss_mb"]
                if mode == "embedded"
                else f"{i['peak_rss_mb']:.0f} + server {i['server_peak_rss_mb']:.0f}"
            )
            rss = f"{rss:.0f}" if isinstance(rss, float) else rss
            lines.append(
                f"| {int(i['chunks']):,} | {mode}{' (vectors replayed)' if replayed else ''} | {i['seconds']:.0f} "
                f"| {i['embed_s']:.0f} | {i['store_s']:.0f} | {i['bm25_s']:.1f} | {tps:,.0f} | {ratio} | {disk:,.0f} "
                f"| {rss} | {q['vector_ms_p50']:.1f} / {q['vector_ms_p95']:.1f} | {q['bm25_ms_p50']:.1f} / "
                f"{q['bm25_ms_p95']:.1f} | {q['hybrid_ms_p50']:.1f} / {q['hybrid_ms_p95']:.1f} "
                f"| {q['answer_ms_p50']:.0f} / {q['answer_ms_p95']:.0f} |"
            )
    keys = list(sizes)
    if len(keys) > 1:
        lo, hi = sizes[keys[0]]["embedded"]["query"], sizes[keys[-1]]["embedded"]["query"]
        lines += [
            "",
            f"hybrid retrieval p95 at {keys[-1]} ÷ at {keys[0]}: {hi['hybrid_ms_p95'] / lo['hybrid_ms_p95']:.2f}",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
