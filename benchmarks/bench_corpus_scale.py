"""Open-domain answering at scale (issue 25): the SQuAD 1.1 training set's
articles as one corpus, 10, 50 and all 442 of them, against LlamaIndex's
defaults on the same corpus and questions, in the same run.

    .venv/bin/python benchmarks/bench_corpus_scale.py [--sizes 10,50,442] [--questions 1000] [--no-peer] [--server] [--json F]

Corpus: `evals/squad/squad1.1-train.json.gz` (Wikipedia; attribution beside
it), each article one .txt file (`evals.squad.write_corpus`). The subsets are
nested (the 10 articles are among the 50), drawn with a fixed seed; the
questions are a fixed sample (seed 7) of the answerable questions of the
subset's articles, at most `--questions`, asked over the whole subset.

Each system runs in a child process of its own, so peak RSS is that run's:
- **ours**: a cold `build_index` (offline default profile), the index's size
  on disk, the re-index time after a one-line edit of one article, then the
  questions through `answer()` (warm): gold span in the answer, a citation
  covering it, hit@k of the gold paragraph among the passages the answerer
  got, answer words, latency p50/p95, and the BM25 and vector sides' times.
  The **floor** is the time to embed every sentence unit of the corpus once,
  with the same embedder in length-sorted batches of 64, in the same child:
  measured on a random sample of 3,000 units and scaled by characters.
- **ours (fast)**: the same with the `fast` profile (static token vectors
  distilled from MiniLM, `embedders/static.py`; at question time MiniLM
  embeds the query and the retrieved sentences again and reranks 3 x top_k
  passages, `retrieval/refine.py`): build time against the default's in the
  same run, and what it costs in answers and latency.
- **ours (default, chroma run)** with `--server`: the default profile with
  its vectors on a `chroma run` server started for the run (127.0.0.1, its
  own folder): the client's figures, the server's peak RSS apart, the
  index size counting the server's folder.
- **peer** (LlamaIndex defaults): SentenceSplitter(1024, 200), the same int8
  MiniLM (through `embedders.llama`), a Chroma collection, top-2 retrieval;
  its "answer" is the retrieved context: gold span in it, hit@2, its words,
  retrieval latency.
Prints a table; asserts nothing (machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "evals" / "squad" / "squad1.1-train.json.gz"
SEED = 7


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def plan(size: int, n_questions: int):
    """The subset's articles and its question sample."""
    from assistant.evals import squad

    articles = squad.load(DATA)
    order = sorted(articles, key=lambda a: a.title)
    random.Random(SEED).shuffle(order)
    chosen = order[:size]
    qs = [(a, q) for a in chosen for q in a.questions if q.answerable]
    random.Random(SEED).shuffle(qs)
    return chosen, qs[:n_questions]


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def overlaps(start: int, end: int, span: tuple[int, int]) -> bool:
    return start < span[1] and end > span[0]


def child_ours(size: int, n: int, work: Path, profile: str = "", chroma_url: str = "") -> dict:
    from assistant import Settings, answer, build_index
    from assistant.embedders import get_embedder
    from assistant.evals import squad, squad_eval
    from assistant.ingest.chunk import split_units

    articles, qs = plan(size, n)
    corpus, index = work / "corpus", work / "index"
    squad.write_corpus(articles, corpus)
    settings = Settings(corpus=corpus, index_dir=index, profile=profile or None, chroma_url=chroma_url or None)
    t = time.perf_counter()
    report = build_index(settings=settings)
    build_s = time.perf_counter() - t
    build_rss = rss_mb()
    # The floor: every sentence unit embedded once, length-sorted, batches of 64.
    units = [u.text for a in articles for u in split_units(a.text, settings.unit_max_tokens)]
    sample = random.Random(SEED).sample(units, min(3000, len(units)))
    embedder = get_embedder(settings)
    embedder.embed(sample[:64])  # warm
    t = time.perf_counter()
    ordered = sorted(sample, key=len)
    for i in range(0, len(ordered), 64):
        embedder.embed(ordered[i : i + 64])
    floor_s = (time.perf_counter() - t) * sum(map(len, units)) / max(1, sum(map(len, sample)))
    # A one-line edit of one article.
    edited = corpus / articles[len(articles) // 2].file
    text = edited.read_text(encoding="utf-8")
    at = text.index("\n\n", len(text) // 2) + 2
    edited.write_text(text[:at] + "An edited line about the zebra tariff.\n\n" + text[at:], encoding="utf-8")
    t = time.perf_counter()
    build_index(settings=settings)
    edit_s = time.perf_counter() - t
    edited.write_text(text, encoding="utf-8")
    build_index(settings=settings)  # back as it was: the questions' offsets hold
    rows, lat, bm25, vec = [], [], [], []
    answer("warm up", settings=settings)
    for a, q in qs:
        t = time.perf_counter()
        ans = answer(q.question, settings=settings)
        lat.append((time.perf_counter() - t) * 1000)
        bm25.append(ans.timings.get("bm25_ms", float("nan")))
        vec.append(ans.timings.get("vector_ms", float("nan")))
        row = squad_eval.score(q, a.file, squad_eval.answer_record(ans))
        row["hit"] = any(p.source == a.file and overlaps(p.start, p.end, q.paragraph) for p in ans.passages)
        row["k"] = len(ans.passages)
        rows.append(row)
    return {
        "system": f"ours ({profile or 'default'}{', chroma run' if chroma_url else ''})", "articles": size, "files": len(articles), "questions": len(rows),
        "words": sum(len(a.text.split()) for a in articles),
        "build_s": round(build_s, 1), "floor_s": round(floor_s, 1), "build_to_floor": round(build_s / floor_s, 2),
        "chunks": report.chunks, "units": len(units), "build_rss_mb": round(build_rss),
        "index_mb": round(du_mb(index), 1), "edit_reindex_s": round(edit_s, 1),
        "span_in_answer": round(sum(r["span_in_answer"] for r in rows) / len(rows), 3),
        "citation_covers": round(sum(r["citation_covers_span"] for r in rows) / len(rows), 3),
        "hit_at_k": round(sum(r["hit"] for r in rows) / len(rows), 3),
        "k_median": statistics.median(r["k"] for r in rows),
        "refused": round(sum(r["refused"] for r in rows) / len(rows), 3),
        "words_median": statistics.median([r["words"] for r in rows if r["words"] is not None] or [0]),
        "p50_ms": round(pct(lat, 0.5)), "p95_ms": round(pct(lat, 0.95)),
        "bm25_p95_ms": round(pct(bm25, 0.95), 1), "vector_p95_ms": round(pct(vec, 0.95), 1),
        "peak_rss_mb": round(rss_mb()),
    }  # fmt: skip


def child_peer(size: int, n: int, work: Path) -> dict:
    import chromadb
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant import Settings
    from assistant.embedders import get_embedder
    from assistant.embedders.llama import llama_embedding
    from assistant.evals import squad_eval

    articles, qs = plan(size, n)
    embed = llama_embedding(get_embedder(Settings()))
    docs = [Document(text=a.text, metadata={"file": a.file}) for a in articles]
    t = time.perf_counter()
    client = chromadb.PersistentClient(path=str(work / "peer-index"))
    store = ChromaVectorStore(chroma_collection=client.get_or_create_collection("peer"))
    index = VectorStoreIndex.from_documents(
        docs, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed,
        transformations=[SentenceSplitter(chunk_size=1024, chunk_overlap=200)],
    )  # fmt: skip
    build_s = time.perf_counter() - t
    retriever = index.as_retriever(similarity_top_k=2)
    retriever.retrieve("warm up")
    hits, spans, words, lat = [], [], [], []
    for a, q in qs:
        t = time.perf_counter()
        nodes = retriever.retrieve(q.question)
        lat.append((time.perf_counter() - t) * 1000)
        context = " ".join(x.node.get_content() for x in nodes)
        spans.append(squad_eval.span_in_answer(context, q.answers))
        words.append(len(context.split()))
        hits.append(
            any(
                x.node.metadata.get("file") == a.file
                and overlaps(x.node.start_char_idx or 0, x.node.end_char_idx or 0, q.paragraph)
                for x in nodes
            )
        )
    return {
        "system": "LlamaIndex defaults", "articles": size, "questions": len(qs), "build_s": round(build_s, 1),
        "index_mb": round(du_mb(work / "peer-index"), 1),
        "span_in_answer": round(sum(spans) / len(spans), 3), "hit_at_k": round(sum(hits) / len(hits), 3),
        "k_median": 2, "words_median": statistics.median(words),
        "p50_ms": round(pct(lat, 0.5)), "p95_ms": round(pct(lat, 0.95)), "peak_rss_mb": round(rss_mb()),
    }  # fmt: skip


def run_child(kind: str, size: int, n: int, work: Path, profile: str = "", chroma_url: str = "") -> dict:
    work.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--child", kind, "--sizes", str(size), "--questions", str(n), "--work", str(work)]
    cmd += ["--profile", profile] if profile else []
    cmd += ["--chroma-url", chroma_url] if chroma_url else []
    t = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise SystemExit(f"the {kind} child for {size} articles failed (exit {out.returncode})")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["wall_s"] = round(time.perf_counter() - t, 1)
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def server_row(size: int, n: int, work: Path) -> dict:
    """The default profile with its vectors on a `chroma run` server of
    this machine: the client's figures, plus the server's peak RSS and
    its folder on disk."""
    from bench_scale import ChromaServer  # same folder: run as a script

    work.mkdir(parents=True, exist_ok=True)
    server = ChromaServer(work / "server")
    try:
        row = run_child("ours", size, n, work / "client", chroma_url=server.url)
        row["server_rss_mb"] = round(server.peak_rss_mb())
        row["index_mb"] = round(row["index_mb"] + du_mb(work / "server"), 1)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return row


COLUMNS = [
    ("system", "system"), ("articles", "articles"), ("build_s", "build s"), ("build_to_floor", "÷ floor"),
    ("peak_rss_mb", "peak RSS MB"), ("server_rss_mb", "server RSS MB"), ("index_mb", "index MB"), ("edit_reindex_s", "edit s"),
    ("span_in_answer", "span in answer"), ("citation_covers", "cited"), ("hit_at_k", "hit@k"),
    ("k_median", "k"), ("words_median", "words"), ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"),
    ("bm25_p95_ms", "BM25 p95"), ("vector_p95_ms", "vector p95"),
]  # fmt: skip


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(h for _, h in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(k, "–")) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10,50,442")
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument(
        "--profiles", default="default,fast", help="our profiles to run, in order (default: the default settings)"
    )
    ap.add_argument("--server", action="store_true", help="also run the default profile against a `chroma run` server")
    ap.add_argument("--profile", default="", help=argparse.SUPPRESS)
    ap.add_argument("--chroma-url", default="", help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", choices=["ours", "peer"], help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        if args.child == "ours":
            print(json.dumps(child_ours(int(args.sizes), args.questions, args.work, args.profile, args.chroma_url)))
        else:
            print(json.dumps(child_peer(int(args.sizes), args.questions, args.work)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-corpus-scale-"))
    rows = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            for profile in args.profiles.split(","):
                p = "" if profile == "default" else profile
                rows.append(run_child("ours", size, args.questions, tmp / f"{size}-ours-{profile}", p))
                shutil.rmtree(tmp / f"{size}-ours-{profile}", ignore_errors=True)
            if args.server:
                rows.append(server_row(size, args.questions, tmp / f"{size}-ours-server"))
            if not args.no_peer:
                rows.append(run_child("peer", size, args.questions, tmp / f"{size}-peer"))
            shutil.rmtree(tmp / f"{size}-peer", ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; questions: seed {SEED} sample of the subset's"
    )
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
