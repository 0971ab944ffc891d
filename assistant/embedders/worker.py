"""The local embedding model in a process of its own (see `local.EmbedWorker`).

    python -m assistant.embedders.worker THREADS BATCH_SIZE spin|nospin

reads lists of texts from stdin and writes their vectors to stdout, one
length-prefixed pickle frame each way (frames.py); EOF on stdin ends it.
Only the parent process that started it talks to it, over those two pipes.
"""

from __future__ import annotations

import sys
import time

from assistant.embedders.frames import read_frame, write_frame


def main() -> None:
    from assistant.embedders.local import LocalEmbedder
    from assistant.processes import die_with_parent, ignore_interrupts

    ignore_interrupts()
    die_with_parent()
    threads, batch_size, spin = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "spin"
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # fd 1 carries frames only
    embedder = LocalEmbedder(threads, batch_size, spin)
    write_frame(out, ("ready", embedder.dim))
    while (texts := read_frame(inp)) is not None:
        t = time.perf_counter()
        try:
            vecs = embedder.embed(texts)
        except Exception as e:  # reported to the parent, which raises it
            write_frame(out, ("error", f"{type(e).__name__}: {e}"))
            continue
        write_frame(out, ("ok", vecs, time.perf_counter() - t))


if __name__ == "__main__":
    main()
