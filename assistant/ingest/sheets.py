"""Spreadsheets saved as CSV (.csv), read with the standard library's csv
module (no dependency; the dialect is sniffed from the first lines). A
first row that names the columns makes each further row a sentence with the
column names (`tables.row_sentences`); without one, a row is its cells."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from assistant.ingest.base import Titled
from assistant.ingest.readers_text import check_text_head
from assistant.ingest.tables import names_columns, row_sentences


class CsvReader:
    suffixes = (".csv",)
    streamable = False

    def read(self, data: bytes, path: Path) -> str:
        check_text_head(data)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ValueError(f"not UTF-8 text (byte {e.start}: {data[e.start : e.start + 1]!r})") from None
        try:
            dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        try:
            rows = [[" ".join(c.split()) for c in row] for row in csv.reader(io.StringIO(text), dialect)]
        except csv.Error as e:
            raise ValueError(f"not a readable CSV file ({e})") from None
        rows = [r for r in rows if any(r)]
        if not rows:
            raise ValueError("a CSV file with no rows")
        header = rows[0]
        if len(rows) > 1 and names_columns(header) and not any(_number(c) for c in header):
            lines = row_sentences(header, rows[1:])
        else:
            lines = [" ".join(c for c in r if c) for r in rows]
        # No title inside a CSV file: its name says what it holds ("offices_2025").
        return Titled("\n".join(lines) + "\n", " ".join(path.stem.replace("_", " ").split()) or None)


def _number(cell: str) -> bool:
    try:
        float(cell.replace(",", ""))
        return True
    except ValueError:
        return False
