"""One large file: memory, progress and time to the first committed segment.
Prints figures and writes them as JSON; asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/bench_bigfile.py [--sizes 1,5] [--whole 1] [--small 5] [--edit]

For each size (MB of text) a corpus of one file of that size (real English
prose: the docstring paragraphs `bench_scale.py` uses, none repeated) and
`--small` small files is indexed from scratch with the local model, in a child
process of its own, so that its peak RSS (`resource.getrusage`) is that run's;
the model process (from the second group on) is measured apart, as the
child's children. Reported: segments, chunks, units, ingest time and word
pieces/s, the time until the manifest first records a stored segment of the
large file (`partial`), and peak RSS. `--whole MB` also indexes a file of that
size the way every file was indexed before segments (read, cleaned, chunked
and embedded whole), for comparison. Each segment's progress line is
printed as the build goes. `--edit` then changes one line in the middle of
the large file and times the re-index, once keeping the stored vectors of
unchanged sentences (content-hash skipping) and once, after a second
one-line edit, embedding the whole file again (as builds did before).
Measured 2026-11-25 (`--sizes 0.5 --small 2 --edit`, 2 cores shared with
other jobs): re-indexing after a one-line edit of a 0.5 MB file (4 segments,
4,378 sentences) took 4.4 s with 1 sentence embedded and 4,378 reused,
against 25.5 s with all 4,380 embedded again.

Measured 2026-11-25 on 2 shared cores (segments of 128K characters, 5 small
files beside the large one; `--sizes 1,5 --whole 1`, then `--sizes 1 --whole 1`
on a quieter machine):

| MB | mode | segments | sentences | ingest s | first commit s | peak RSS MB | model process MB |
| --- | --- | --- | --- | --- | --- | --- | --- |
| 1 | segments | 8 | 8,731 | 140 / 72 | 22 / 10 | 676 / 675 | 512 |
| 5 | segments | 39 | 43,317 | 599 | 24 | 1,074 | 601 |
| 1 | whole (as before) | 1 | 8,720 | 101 / 99 | 102 / 100 | 809 / 810 | 342 |

While the 5 MB file is embedded, RSS grows ~3 MB a segment (570 MB at the
first commit, 717 MB at the last segment): Chroma's own index of what is
stored (this process's Python heap stays flat, measured with tracemalloc);
the peak (1,074 MB) comes at the end, mostly from the BM25 rebuild over all
chunks (+~220 MB at 5,900 chunks, measured apart), as for any corpus of that
size. Indexed whole, every sentence of the file is held and embedded at once
(one group): 809 MB against 676 MB at 1 MB, growing with the file, and nothing
is committed until the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

BIG = "big.txt"


def rss_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def write_corpus(folder: Path, mb: float, small: int) -> int:
    """`small` small files and one of about `mb` MB; returns its size in bytes."""
    from bench_scale import prose_paragraphs

    cache = ROOT / "benchmarks" / "results" / "paragraphs.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    paras = prose_paragraphs(cache)
    folder.mkdir(parents=True)
    for k in range(small):
        body = "\n\n".join(paras[k * 4 : k * 4 + 4])
        (folder / f"note{k}.txt").write_text(f"Note {k}\n\n{body}\n", encoding="utf-8")
    out, size, i = ["A Long Collection of Library Notes"], 0, small * 4
    budget = int(mb * 1_000_000)
    while size < budget:
        if i >= len(paras):
            raise SystemExit(f"only {size / 1e6:.1f} MB of distinct paragraphs; ask for less")
        out.append(paras[i])
        size += len(paras[i].encode()) + 2
        i += 1
    data = ("\n\n".join(out) + "\n").encode()
    (folder / BIG).write_bytes(data)
    return len(data)


def child(args) -> dict:
    from assistant import Settings
    from assistant.embedders import get_embedder
    from assistant.stores import IndexStore, sync

    settings = Settings(corpus=Path(args.corpus), index_dir=Path(args.index))
    embedder = get_embedder(settings)
    t0 = time.perf_counter()
    first: dict = {}
    write = IndexStore.write_manifest

    def recording(self, manifest):
        # The first time the manifest holds a stored segment of the large file.
        done = manifest.get("partial", {}).get(BIG, {}).get("segments_done", 0) or BIG in manifest["files"]
        if done and not first:
            first.update(seconds=time.perf_counter() - t0, rss_mb=rss_mb())
        write(self, manifest)

    IndexStore.write_manifest = recording
    last = [0.0]

    def progress(e):  # an IndexProgress
        now = time.perf_counter() - t0
        if e.event == "segment" and e.source == BIG and (now - last[0] >= 5 or e.segment == 1):
            last[0] = now
            print(
                f"  {now:7.1f} s  [{e.file}/{e.files}] {e.label}  (RSS {rss_mb():.0f} MB)", file=sys.stderr, flush=True
            )

    segment_chars = 10**15 if args.child_whole else None  # `whole`: the file as one piece, as before segments
    report = sync(settings, embedder, progress=progress, segment_chars=segment_chars)
    manifest = json.loads((Path(args.index) / "manifest.json").read_text())
    chunks = IndexStore(settings.index, settings.chroma, embedder.id).chunks.get(
        where={"source": BIG}, include=["metadatas"]
    )
    segments = max([m.get("segments", 1) for m in chunks["metadatas"]], default=1)
    edits = edit_runs(settings, embedder) if args.child_edit else {}
    return {
        **edits,
        "seconds": round(report.seconds, 1),
        "embed_seconds": round(report.embed_seconds, 1),
        "store_seconds": round(report.store_seconds, 1),
        "first_commit_s": round(first.get("seconds", float("nan")), 1),
        "rss_at_first_commit_mb": round(first.get("rss_mb", float("nan"))),
        "segments": segments,
        "chunks": manifest["files"][BIG]["chunks"],
        "units": manifest["files"][BIG]["units"],
        "tokens": report.tokens,
        "peak_rss_mb": round(rss_mb()),
        "model_process_peak_rss_mb": round(rss_mb(resource.RUSAGE_CHILDREN)),
    }


def edit_runs(settings, embedder) -> dict:
    """Re-index times after a one-line edit in the middle of the large file:
    with stored vectors reused, then (another line) without."""
    from assistant.stores import sync

    path = Path(settings.corpus) / BIG
    out = {}
    for label, reuse, where in (("edit_reuse", True, 0.5), ("edit_no_reuse", False, 0.6)):
        text = path.read_text(encoding="utf-8")
        at = text.index("\n\n", int(len(text) * where)) + 2  # the start of a paragraph
        path.write_text(text[:at] + "An edited line about the zebra tariff. " + text[at:], encoding="utf-8")
        report = sync(settings, embedder, reuse=reuse)
        out[f"{label}_s"] = round(report.seconds, 1)
        out[f"{label}_embedded"], out[f"{label}_reused"] = report.embedded, report.reused
        print(f"  {label}: {json.dumps({k: v for k, v in out.items() if k.startswith(label)})}", file=sys.stderr)
    return out


def run(mb: float, small: int, whole: bool, work: Path, edit: bool = False) -> dict:
    name = f"{mb:g}MB" + ("-whole" if whole else "")
    corpus, index = work / name / "corpus", work / name / "index"
    size = write_corpus(corpus, mb, small)
    print(f"{name}: {size / 1e6:.2f} MB file and {small} small files", file=sys.stderr, flush=True)
    cmd = [sys.executable, __file__, "--child", f"--corpus={corpus}", f"--index={index}"]
    cmd += ["--child-whole"] if whole else []
    cmd += ["--child-edit"] if edit and not whole else []
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise SystemExit(f"child for {name} failed (exit {out.returncode})")
    row = {"mb": round(size / 1e6, 2), "whole": whole, **json.loads(out.stdout.strip().splitlines()[-1])}
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1,5", help="MB of the large file, one run each")
    ap.add_argument("--whole", type=float, default=0, help="also index a file of this many MB whole, as before")
    ap.add_argument("--small", type=int, default=5, help="small files beside the large one")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bigfile.json"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--corpus", help=argparse.SUPPRESS)
    ap.add_argument("--index", help=argparse.SUPPRESS)
    ap.add_argument("--child-whole", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--edit", action="store_true", help="then time re-indexing after a one-line edit")
    ap.add_argument("--child-edit", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_bigfile_") as tmp:
        runs = [(float(s), False) for s in args.sizes.split(",")] + ([(args.whole, True)] if args.whole else [])
        for mb, whole in runs:
            rows.append(run(mb, args.small, whole, Path(tmp), args.edit))
    result = {"date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count(), "runs": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    head = ["MB", "mode", "segments", "units", "ingest s", "tokens/s", "1st commit s", "peak RSS MB", "model RSS MB"]
    print("| " + " | ".join(head) + " |\n" + "| --- " * len(head) + "|")
    for r in rows:
        mode = "whole (as before)" if r["whole"] else "segments"
        cells = [r["mb"], mode, r["segments"], r["units"], r["seconds"], round(r["tokens"] / r["seconds"])]
        cells += [r["first_commit_s"], r["peak_rss_mb"], r["model_process_peak_rss_mb"]]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    for r in rows:
        if "edit_reuse_s" in r:
            print(
                f"{r['mb']} MB, one-line edit: re-index {r['edit_reuse_s']} s ({r['edit_reuse_embedded']} sentences "
                f"embedded, {r['edit_reuse_reused']} reused); without reuse {r['edit_no_reuse_s']} s "
                f"({r['edit_no_reuse_embedded']} embedded)"
            )


if __name__ == "__main__":
    main()
