"""The document library: what the corpus folder holds and how far each file
is indexed, files added to it (uploads) and removed from it.

Statuses come from the index manifest (`stores/manifest.py`), compared with
each file's size and mtime as `engine` compares them to decide that the
index is stale: "indexed" (this version is in the index), "skipped" (this
version could not be read; `problem` says why) or "pending" (new or changed
since the last build). `add_documents` only copies files in; the caller
indexes them (`build_index(progress=...)`), so a page can show progress.
Nothing here writes or deletes outside the corpus folder.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from assistant.core import build_index
from assistant.errors import CorpusError, IndexStoreError, SettingsError
from assistant.ingest.files import outside_reason, scan_corpus
from assistant.ingest.readers import corpus_suffixes
from assistant.settings import Settings, resolve_settings, setting_source
from assistant.stores.manifest import MANIFEST, read_manifest

_MB = 1024 * 1024
_BLOCK = 1 << 20


@dataclass
class DocumentInfo:
    source: str  # path relative to the corpus folder, with forward slashes
    kind: str  # the file's type: its suffix without the dot ("pdf", "txt")
    size: int  # bytes
    chunks: int  # chunks in the index (of the indexed version; 0 if none)
    indexed_at: float | None  # epoch seconds of its last indexing; None when unknown or never
    status: str  # "indexed" | "skipped" | "pending"
    problem: str = ""  # why it was skipped, in one line
    pages: int | None = None  # for formats with pages, when the index knows them


@dataclass
class Upload:
    name: str  # the name the file was given as
    source: str | None  # where it is in the corpus (relative), None when refused
    ok: bool
    message: str  # what happened, in one line


def _manifest(settings: Settings) -> dict:
    try:
        return read_manifest(Path(settings.index_dir) / MANIFEST) or {}
    except IndexStoreError:
        return {}  # a corrupt manifest: every file is pending until it is rebuilt


def _kind(source: str) -> str:
    return PurePosixPath(source).suffix.lower().lstrip(".")


def _info(source: str, size: int, status: str, entry: dict | None, problem: str = "") -> DocumentInfo:
    entry = entry or {}
    return DocumentInfo(
        source=source, kind=_kind(source), size=size, chunks=int(entry.get("chunks", 0)),
        indexed_at=entry.get("indexed_at"), status=status, problem=problem, pages=entry.get("pages"),
    )  # fmt: skip


def documents(**options) -> list[DocumentInfo]:
    """Every file of the corpus folder that a reader takes, indexed or not,
    sorted by source. Without a corpus folder (a client of a Chroma server
    that has none), the files the index holds."""
    settings = resolve_settings(options)
    corpus = Path(settings.corpus)
    manifest = _manifest(settings)
    indexed, skipped, partial = (manifest.get(k, {}) for k in ("files", "skipped", "partial"))
    if not corpus.is_dir():
        return [_info(s, int(e.get("size", 0)), "indexed", e) for s, e in sorted(indexed.items())]
    files, warnings = scan_corpus(corpus, settings.file_types)
    out = _left_out(corpus, files, settings) if warnings else []
    for path in files:
        source = path.relative_to(corpus).as_posix()
        try:
            st = path.stat()
        except OSError:
            continue  # removed meanwhile
        now = [st.st_size, st.st_mtime_ns]
        entry = indexed.get(source)
        if entry and [entry.get("size"), entry.get("mtime_ns")] == now:
            out.append(_info(source, st.st_size, "indexed", entry))
        elif source in skipped and list(skipped[source][:2]) == now:
            reason = skipped[source][2] if len(skipped[source]) > 2 else "it could not be read"
            out.append(_info(source, st.st_size, "skipped", None, reason))
        else:  # new, changed, or a large file stored in part so far
            out.append(_info(source, st.st_size, "pending", entry or partial.get(source)))
    return sorted(out, key=lambda d: d.source)


def _left_out(corpus: Path, files: list[Path], settings: Settings) -> list[DocumentInfo]:
    """The files the corpus scan leaves out for a reason worth showing (a
    link to a file outside the corpus folder), as skipped documents."""
    root, listed, exts = corpus.resolve(), set(files), set(corpus_suffixes(settings.file_types))
    out = []
    for p in corpus.rglob("*"):
        rel = p.relative_to(corpus)
        if p in listed or p.suffix.lower() not in exts or any(part.startswith(".") for part in rel.parts):
            continue
        reason = outside_reason(p, root)
        if reason and reason != "not a file":
            out.append(_info(rel.as_posix(), 0, "skipped", None, reason))
    return out


def index_version(**options) -> str:
    """Changes whenever a build changes the index: the manifest's mtime and
    size ("" when there is none). Cheap (one stat), for polling."""
    settings = resolve_settings(options)
    try:
        st = os.stat(Path(settings.index_dir) / MANIFEST)
    except OSError:
        return ""
    return f"{st.st_mtime_ns}-{st.st_size}"


# -- adding files ---------------------------------------------------------------
def upload_folder(settings: Settings) -> Path:
    """corpus/upload_dir, created if missing (the corpus folder too); a
    SettingsError when upload_dir would leave the corpus or be hidden from it."""
    corpus = Path(settings.corpus)
    rel = PurePosixPath(settings.upload_dir.replace("\\", "/"))
    if rel.is_absolute() or any(p in ("..",) or p.startswith(".") for p in rel.parts):
        raise SettingsError(
            f"{setting_source('upload_dir')}={settings.upload_dir!r} is not valid: must be a folder inside the "
            "corpus folder (a relative path, without '..' or hidden folders, which are not indexed)"
        )
    folder = corpus.joinpath(*rel.parts)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CorpusError(f"Cannot create the upload folder {folder}: {e.strerror or e}") from e
    root = corpus.resolve()
    real = folder.resolve()
    if not real.is_relative_to(root):  # a symlinked folder pointing out of the corpus
        raise CorpusError(f"Upload folder {folder} is a link out of the corpus folder {corpus}; not writing there")
    return folder


# Characters that are not shown but change what is: controls, line breaks, and
# format characters (U+202E turns "report\u202efdp.exe" into "reportexe.pdf" on screen).
_UNSHOWN = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def too_large(name: str, size: int, limit_mb: float) -> str | None:
    """Why a file of `size` bytes is not taken as an upload, or None when it is small enough."""
    if size <= limit_mb * _MB:
        return None
    return f"{name}: too large ({size / _MB:.1f} MB; the limit is {limit_mb:g} MB)"


def visible_name(name: str) -> str:
    """`name` as a message can show it: every unshown character as its \\u escape."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in _UNSHOWN else c for c in name)


def _safe_name(name: str) -> str | None:
    """The file name to store an upload under, or None when it is not one to
    take: the last part of any path (either slash), not hidden, no control
    characters; format characters (direction marks, zero widths) are dropped."""
    base = PureWindowsPath(PurePosixPath(str(name)).name).name
    base = "".join(c for c in base if unicodedata.category(c) != "Cf").strip()
    if not base or base in (".", "..") or base.startswith("."):
        return None
    return None if any(unicodedata.category(c) in _UNSHOWN for c in base) else base


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def _candidates(name: str):
    """name, then "stem (2).ext", "stem (3).ext", ..."""
    suffix = PurePosixPath(name).suffix
    stem = name[: len(name) - len(suffix)]
    yield name
    for k in range(2, 10_000):
        yield f"{stem} ({k}){suffix}"


def _add_one(given: str | Path, settings: Settings, folder: Path, known: dict[str, str]) -> Upload:
    name = Path(str(given)).name if str(given) else ""
    safe = _safe_name(name)
    if safe is None:
        why = f"“{visible_name(name)}” is not a file name that can be stored (hidden, empty or with control characters)"
        return Upload(visible_name(name), None, False, why)
    suffixes = corpus_suffixes(settings.file_types)
    if PurePosixPath(safe).suffix.lower() not in suffixes:
        return Upload(safe, None, False, f"{safe}: this type of file is not taken (allowed: {', '.join(suffixes)})")
    src = Path(given)
    try:
        st = src.stat()
    except OSError as e:
        return Upload(safe, None, False, f"{safe}: cannot be read ({e.strerror or e})")
    if not stat.S_ISREG(st.st_mode):
        return Upload(safe, None, False, f"{safe}: not a file")
    if st.st_size == 0:
        return Upload(safe, None, False, f"{safe}: the file is empty")
    if big := too_large(safe, st.st_size, settings.upload_max_mb):
        return Upload(safe, None, False, big)
    corpus = Path(settings.corpus)
    # Copied first to a hidden file beside its destination (scans skip hidden
    # names), then linked under a name that is free: os.link never replaces.
    try:
        fd, tmp = _new_hidden_file(folder)
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as fh:
                while block := fh.read(_BLOCK):
                    h.update(block)
                    out.write(block)
            digest = h.hexdigest()
            same = known.get(digest)
            if same is not None and (corpus / same).is_file():
                return Upload(safe, same, True, f"{safe}: already in the library as {same}")
            for candidate in _candidates(safe):
                dest = folder / candidate
                source = dest.relative_to(corpus).as_posix()
                if os.path.lexists(dest):
                    if dest.is_file() and not dest.is_symlink() and _digest(dest) == digest:
                        return Upload(safe, source, True, f"{safe}: already in the library as {source}")
                    continue
                try:
                    os.link(tmp, dest)
                except FileExistsError:
                    continue  # taken meanwhile
                known[digest] = source
                renamed = "" if candidate == safe else f" (a different {safe} is there: stored as {candidate})"
                if safe not in name:  # what was dropped could have disguised the name in the table
                    renamed += f" (invisible characters removed from its name, “{visible_name(name)}”)"
                return Upload(safe, source, True, f"{safe}: added as {source}{renamed}")
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as e:
        return Upload(safe, None, False, f"{safe}: could not be stored in {folder} ({e.strerror or e})")
    return Upload(safe, None, False, f"{safe}: no free name for it in {folder}")


def _new_hidden_file(folder: Path) -> tuple[int, Path]:
    """A new hidden file in `folder`, open for writing, with the mode any new
    file there gets (the umask's), as a document copied there by hand has
    (tempfile.mkstemp's is 0600)."""
    while True:
        path = folder / f".upload-{secrets.token_hex(8)}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:
            continue


def add_documents(paths: list[str | Path], **options) -> list[Upload]:
    """Copy each file into corpus/upload_dir (one `Upload` per path, in
    order): refused with a reason when no reader takes its suffix, it is over
    upload_max_mb or empty, or its name is hidden; a different file of the
    same name is kept and this one stored as "name (2).ext"; the same bytes
    again are not copied ("already in the library"). Does not index: run
    `build_index()` after. SettingsError/CorpusError when the upload folder
    cannot be used."""
    settings = resolve_settings(options)
    folder = upload_folder(settings)
    # The indexed files by content, to recognise a file uploaded again under another name.
    known = {e["sha256"]: s for s, e in _manifest(settings).get("files", {}).items() if e.get("sha256")}
    return [_add_one(p, settings, folder, known) for p in paths]


# -- removing a file ----------------------------------------------------------
def remove_document(source: str, progress=None, **options) -> None:
    """Delete corpus file `source` (relative to the corpus folder) and index
    again, so its chunks go. CorpusError when there is no such document, or
    when it is the last one (an index needs one document)."""
    settings = resolve_settings(options)
    corpus = Path(settings.corpus)
    rel = PurePosixPath(str(source).replace("\\", "/"))
    docs = documents(settings=settings) if corpus.is_dir() else []
    listed = {d.source for d in docs}
    if rel.is_absolute() or ".." in rel.parts or rel.as_posix() not in listed:
        raise CorpusError(f"No document {source!r} in corpus folder {corpus}")
    path = corpus.joinpath(*rel.parts)
    root = corpus.resolve()
    # The link itself is deleted, never what it points at; its folder must be in the corpus.
    if not path.parent.resolve().is_relative_to(root) or (not path.is_symlink() and outside_reason(path, root)):
        raise CorpusError(f"No document {source!r} in corpus folder {corpus}")
    if not any(d.status != "skipped" for d in docs if d.source != rel.as_posix()):
        raise CorpusError(f"{source} is the only document in {corpus}; the index needs at least one")
    path.unlink()
    build_index(progress=progress, settings=settings)


def original_page(source: str, page: int, quotes: list[str] = (), **options) -> bytes:
    """Page `page` of corpus PDF `source` as a PNG, the `quotes` (cited
    sentences) marked on it (`ingest.page_image`). CorpusError when there is
    no such PDF in the corpus or the page cannot be shown (one line)."""
    from assistant.ingest.page_image import original_page as render

    settings = resolve_settings(options)
    corpus = Path(settings.corpus)
    rel = PurePosixPath(str(source).replace("\\", "/"))
    path = corpus.joinpath(*rel.parts)
    if rel.is_absolute() or ".." in rel.parts or rel.suffix.lower() != ".pdf" or outside_reason(path, corpus.resolve()):
        raise CorpusError(f"No PDF {source!r} in corpus folder {corpus}")
    try:
        return render(path, page, list(quotes))[0]
    except ValueError as e:
        raise CorpusError(f"Cannot show page {page} of {source}: {e}") from None
