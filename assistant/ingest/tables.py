"""Tables as their authors meant them to be read: a header row names the
columns, and each further row is one sentence that says them ("Office:
Gdansk; Role: Software; Staff: 85."), so a row can be found, quoted and
cited on its own. Shared by the Word, PowerPoint, HTML, CSV and Excel readers."""

from __future__ import annotations


def row_sentences(header: list[str], rows: list[list[str]]) -> list[str]:
    """The header as a line of its own (a question about the columns may
    match it), then a sentence a row; a row whose cells do not line up with
    the header (merged across columns) is kept a cell a line."""
    out = [" ".join(header)]
    for row in rows:
        if len(row) != len(header):
            out.extend(c for c in row if c)
            continue
        parts = [f"{h}: {c}" for h, c in zip(header, row) if c]
        if parts:
            out.append("; ".join(parts) + ("" if parts[-1].endswith((".", "!", "?")) else "."))
    return out


def names_columns(header: list[str]) -> bool:
    """Whether a first row can name the columns: two or more, none empty."""
    return len(header) > 1 and all(header)


def table_lines(rows: list[list[str]]) -> list[str]:
    """A table of a document (Word, PowerPoint): with a header row that
    names the columns, the header and a sentence a row (`row_sentences`);
    without one (a single row or column, or an empty header cell), each
    cell a line."""
    header = rows[0] if rows else []
    if len(rows) < 2 or not names_columns(header):
        return [c for r in rows for c in r if c]
    return row_sentences(header, rows[1:])
