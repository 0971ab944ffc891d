"""Spreadsheets: saved as CSV (.csv), read with the standard library's csv
module (no dependency; the dialect is sniffed from the first lines), and
Excel workbooks (.xlsx), read with openpyxl, the library pandas reads them
with (streamed, `read_only`; formulas as the values Excel last computed,
`data_only`): it gives each cell's number format, so a cell reads as Excel
shows it ("$1,250.50", "25.6%", `cell_text`); `benchmarks/bench_readers.py`:
10,000 rows of 5 columns in 2.6 s on a loaded machine (3.6 s loaded whole).
Either way a sheet's first full row that names the columns makes each
further row a sentence with the column names (`tables.row_sentences`);
without one, a row is its cells."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from assistant.ingest.archives import office_reading
from assistant.ingest.base import Titled, sensible_title
from assistant.ingest.readers_text import check_text_head
from assistant.ingest.tables import names_columns, row_sentences

# Lines above a table (a title, a note) that may come before its header row.
_ABOVE = 5


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
        lines = sheet_lines(rows)
        if not lines:
            raise ValueError("a CSV file with no rows")
        # No title inside a CSV file: its name says what it holds ("offices_2025").
        return Titled("\n".join(lines) + "\n", _name_title(path))


class XlsxReader:
    """A sheet a section: its name on a line of its own (but for a lone
    sheet with a default name, "Sheet1"), then its rows, empty rows and
    columns left out; a cell as Excel shows it (`cell_text`). Hidden sheets,
    charts, comments and pictures are left out."""

    suffixes = (".xlsx",)
    streamable = False
    isolated = True  # a zip bomb or a huge XML part must not stall the build

    def read(self, data: bytes, path: Path) -> str:
        import openpyxl

        sheets: list[tuple[str, list[str]]] = []
        with office_reading(data, "Excel", ".xlsx"):
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                title = sensible_title(book.properties.title)
                for sheet in book.worksheets:
                    if sheet.sheet_state != "visible":
                        continue
                    sheet.reset_dimensions()  # some writers state a wrong used range: read what is there
                    lines = sheet_lines([[cell_text(c) for c in row] for row in sheet.iter_rows()])
                    if lines:
                        sheets.append((" ".join(sheet.title.split()), lines))
            finally:
                book.close()
        if not sheets:
            raise ValueError("an Excel file with no text in its visible sheets")
        out: list[str] = []
        for name, lines in sheets:
            if len(sheets) > 1 or not re.fullmatch(r"Sheet\d*", name):
                out.append(name)
            out.extend(lines)
        return Titled("\n".join(out) + "\n", title or _name_title(path))


def _name_title(path: Path) -> str | None:
    return " ".join(path.stem.replace("_", " ").split()) or None


def sheet_lines(rows: list[list[str]]) -> list[str]:
    """A sheet's rows as lines: empty rows and columns dropped; the first
    row that fills every column and holds no number is the header, if only
    a few lines of one cell (a title, a note) come before it; then each row
    after it is a sentence that names its columns."""
    rows = [r for r in rows if any(r)]
    keep = sorted({j for r in rows for j, c in enumerate(r) if c})
    rows = [[r[j] if j < len(r) else "" for j in keep] for r in rows]
    for h, row in enumerate(rows[: _ABOVE + 1]):
        if h + 1 < len(rows) and names_columns(row) and not any(_number(c) for c in row):
            return [_joined(r) for r in rows[:h]] + row_sentences(row, rows[h + 1 :])
        if sum(1 for c in row if c) > 1:
            break
    return [_joined(r) for r in rows]


def _joined(row: list[str]) -> str:
    return " ".join(c for c in row if c)


def _number(cell: str) -> bool:
    try:
        float(cell.replace(",", ""))
        return True
    except ValueError:
        return False


# --- a cell as Excel shows it ---------------------------------------------------
# Excel's number formats are a small language of their own, and openpyxl
# does not render them (it only tells dates apart): the parts a reader of
# the value needs are kept here, the rest (colours, padding, fractions) is
# not.
_PLACES = re.compile(r"0\.(0+)")
# A format's literal parts: "text", [$€-407] (a currency), \x, a bare
# currency sign; [Red] and conditions, _x (padding) and *x (fill) show nothing.
_LITERAL = re.compile(r'"([^"]*)"|\[\$([^\]-]*)[^\]]*\]|\\(.)|([$€£¥])|\[[^\]]*\]|[_*].')


def cell_text(cell) -> str:
    """The cell's value as a person reads it: dates as "14 March 2025",
    numbers with the decimals, thousands separator, percent sign and
    currency their format gives (`_number_text`), TRUE/FALSE as Excel shows
    them."""
    value = getattr(cell, "value", None)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        if value.time() == time(0):
            return _date(value)
        return f"{_date(value)} {_time(value.time())}"
    if isinstance(value, date):
        return _date(value)
    if isinstance(value, time):
        return _time(value)
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (int, float)):
        return _number_text(value, getattr(cell, "number_format", None) or "General")
    return " ".join(str(value).split())


def _date(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def _time(t: time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def _number_text(value: float, fmt: str) -> str:
    section = fmt.split(";")[0]  # the format of positive numbers (and of all, if it has one section)
    if section in ("General", "@", ""):
        return str(value) if isinstance(value, int) else f"{value:.15g}"  # no float noise: 0.1 + 0.2 is 0.3
    before, after, code, pos = "", "", "", 0
    for m in _LITERAL.finditer(section):
        code += section[pos : m.start()]
        literal = next((g for g in m.groups() if g is not None), "")
        if any(c in code for c in "0#?"):
            after += literal
        else:
            before += literal
        pos = m.end()
    code += section[pos:]
    places = _PLACES.search(code)
    places = len(places.group(1)) if places else 0
    percent = "%" in code
    number = abs(value) * (100 if percent else 1)
    if "E+" in code.upper():
        text = f"{number:.{places}E}"
    else:  # halves rounded up, as Excel does (Python's float format rounds them to even)
        exact = Decimal(repr(number)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
        text = f"{exact:{',' if ',' in code else ''}.{places}f}"
    before, after = before.strip(), after.strip()  # a word is set apart by a space: "USD 1,250", "12 kg"
    before += " " if before[-1:].isalnum() else ""
    after = (" " if after[:1].isalnum() else "") + after
    return f"{'-' if value < 0 else ''}{before}{text}{'%' if percent else ''}{after}"
