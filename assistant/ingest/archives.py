"""Zip-based documents (.docx, .pptx, .xlsx, any format that is a zip archive)
checked before a parser opens them: python-docx reads every part of the
package into memory, so a 2 MB file whose parts expand to 2 GiB (a zip
bomb) took 4 GB and half a minute before it failed. Only the archive's
central directory is read here, nothing is decompressed; the sizes it
states are what zipfile would produce at most (it stops there, and the
CRC check then fails), so they can be trusted as upper bounds."""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

ZIP_MAGIC = b"PK\x03\x04"
# An OLE compound file: an old binary Office file (.doc, .xls, .ppt), or an
# Office Open XML file saved with a password, which Office wraps in one
# beside a stream named EncryptionInfo.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
# Deflate packs ordinary XML 5-20 times, images hardly at all; a run of one
# byte ~1000 times. A large part packed more than this is a bomb.
MAX_RATIO = 100
LARGE_PART = 10 * 2**20  # bytes expanded; below it, any ratio is harmless


def check_zip(data: bytes, memory_mb: float | None = None) -> None:
    """ValueError (the file's skip reason) when a large part of the archive
    is packed more than MAX_RATIO times, or when its parts together would
    expand to more than half the memory the reading process may use
    (`memory_mb`, the read_memory_mb setting). A broken archive passes: its
    reader says what is wrong with it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return
    for p in parts:
        if p.file_size > LARGE_PART and p.file_size > MAX_RATIO * max(p.compress_size, 1):
            raise ValueError(
                f"a zip bomb: its part {p.filename[:80]!r} would expand {p.file_size // max(p.compress_size, 1):,} "
                f"times, from {p.compress_size / 2**20:,.1f} MB to {p.file_size / 2**20:,.0f} MB (not opened)"
            )
    total = sum(p.file_size for p in parts)
    if memory_mb and total > memory_mb * 2**20 / 2:
        raise ValueError(
            f"its parts would expand to {total / 2**20:,.0f} MB, more than half of the {memory_mb:g} MB "
            "a read may use (the read_memory_mb setting; not opened)"
        )


def check_office(data: bytes, kind: str, suffix: str) -> None:
    """ValueError (the file's skip reason) unless `data` is a zip archive, as
    an Office Open XML file (.docx, .pptx, .xlsx) is: one saved with a
    password, an old binary file renamed, or something else."""
    if data.startswith(b"PK"):
        return
    if data.startswith(_OLE_MAGIC) and _ENCRYPTION_INFO in data:
        raise ValueError(f"encrypted {kind} file (it needs a password)")
    old = suffix[:-1]  # .docx -> .doc
    a = "an" if kind[0] in "AEIOU" else "a"
    raise ValueError(f"not {a} {kind} {suffix} file (not a zip archive; an old {old}, or renamed?)")


@contextmanager
def office_reading(data: bytes, kind: str, suffix: str) -> Iterator[None]:
    """Around a parser's reading of an Office file: `check_office` first,
    then any error of a corrupt file (zip, package, XML) becomes its one-line
    skip reason. MemoryError goes on up: the reading process says it as such
    (`ingest.isolate`)."""
    check_office(data, kind, suffix)
    try:
        # openpyxl warns of each part it drops (data validation, extensions):
        # nothing of the text, and a build's output is no place for it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except MemoryError:
        raise
    except Exception as e:
        raise ValueError(" ".join(f"broken {kind} file ({type(e).__name__}: {e}".split())[:200] + ")") from None
