"""What a build did (`builder.sync` returns it; the CLI prints its summary)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    chunks: int = 0
    units: int = 0
    tokens: int = 0
    embedded: int = 0  # sentences embedded by this build
    reused: int = 0  # sentences of unchanged chunks in changed files, whose stored vectors were kept
    seconds: float = 0.0
    embed_seconds: float = 0.0  # model time (in the child process when `embed_process`)
    embed_process: bool = False  # the model ran in a child process of its own (see EmbedWorker)
    store_seconds: float = 0.0  # Chroma writes and manifest commits (overlaps embedding)
    bm25_seconds: float = 0.0
    rebuilt: bool = False
    refreshed: bool = False  # the manifest was derived again from the Chroma server
    # Stopped before the end (`build_index(cancel=...)`): what is stored is committed, the next build goes on.
    stopped: bool = False
    files: int = 0  # corpus files
    indexed: int = 0  # of them, those with a whole version in the index
    partial: dict[str, tuple[int, int]] = field(default_factory=dict)  # large file -> (segments stored, segments)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def stopped_line(self) -> str:
        """What a stopped build left indexed, in one line."""
        parts = [f"{self.indexed} of {self.files} file{'s' if self.files != 1 else ''} indexed"]
        parts += [f"{name} indexed up to segment {k} of {n}" for name, (k, n) in sorted(self.partial.items())]
        return "Stopped: " + "; ".join(parts)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged, {len(self.warnings)} skipped; "
            f"{self.chunks} chunks in the index ({self.seconds:.1f} s)"
        )
