"""Reading a CRM export — CSV (the standard library) or xlsx (openpyxl) — into
a header and numbered rows of text cells.

Row numbers are the ones a spreadsheet shows: the header is row 1 (or the
mapping's ``header_row``), so an error's row is where the user finds it.

CSV encodings: a byte-order mark says it (UTF-8 with BOM — Excel's "CSV UTF-8" —
or UTF-16); else the one given (``--encoding``, else the mapping's); else the
text must be UTF-8. Anything else is refused, never guessed: the bytes of a
Windows-1252 file (Western Excel's "CSV") also decode as GB18030 (Chinese
Excel's), to other letters, and what an import stores is stored for good — so
the user names the encoding, which we suggest.

xlsx cells are turned into the text a CSV export of the same sheet would hold:
numbers exactly as Excel shows their shortest form (never a binary float's
tail), percent-formatted numbers as percent (``0.6`` shown as ``60%`` is
``"60%"``), dates and times in ISO 8601 (without an offset: the mapping's
timezone applies).
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

__all__ = ["SUFFIXES", "Column", "ReadError", "Row", "Table", "column_letter", "read_table"]

SUFFIXES = (".csv", ".xlsx", ".xlsm")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class ReadError(ValueError):
    """The file cannot be read as the table it should be (says where and why)."""


@dataclass(frozen=True)
class Column:
    """A column of the export: its header text and its 0-based index."""

    name: str
    index: int

    def __str__(self) -> str:
        return f'column "{self.name}" ({column_letter(self.index)})'


@dataclass(frozen=True)
class Row:
    """One data row: its spreadsheet row number and its cells as text."""

    number: int
    cells: tuple[str, ...]

    def cell(self, column: Column) -> str:
        return self.cells[column.index].strip() if column.index < len(self.cells) else ""


@dataclass(frozen=True)
class Table:
    """A header and the rows under it (blank rows left out)."""

    header: tuple[str, ...]
    header_row: int
    rows: tuple[Row, ...]
    encoding: str | None  # CSV: the encoding it was read in

    def columns(self, name: str) -> tuple[Column, ...]:
        """Every column with this header (surrounding spaces ignored): more than
        one is a header that cannot say which column it means (a report with
        two "Amount" columns), for the caller to refuse — never the first."""
        wanted = name.strip()
        return tuple(
            Column(text.strip(), index)
            for index, text in enumerate(self.header)
            if text.strip() == wanted
        )


def column_letter(index: int) -> str:
    """A 0-based column index as a spreadsheet letter: 0 is A, 26 is AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def read_table(
    path: Path,
    *,
    encoding: str | None = None,
    otherwise: str | None = None,
    delimiter: str = ",",
    sheet: str | None = None,
    header_row: int = 1,
) -> Table:
    """The export at ``path`` (CSV, or xlsx/xlsm by its suffix) as a `Table`;
    ``encoding`` and ``otherwise`` as `decode` takes them."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ReadError(f"{path.name}: a CRM export is .csv or .xlsx, not {suffix or 'no suffix'}")
    try:
        if suffix == ".csv":
            text, used = decode(path.read_bytes(), encoding, otherwise=otherwise)
            records = _csv_records(text, delimiter)
        else:
            used = None
            records = _xlsx_records(path, sheet)
    except OSError as exc:
        raise ReadError(f"{path.name}: cannot read it ({exc.strerror or exc})") from None
    return _table(records, header_row, used)


def decode(data: bytes, encoding: str | None, *, otherwise: str | None = None) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read in (the module
    docstring says which); an undecodable byte is named with its line.

    A byte-order mark wins over the encoding given: it is the file saying what
    it is (a GB18030 mapping's CRM file saved again as Excel's "CSV UTF-8"
    still reads). Without one, ``encoding`` (``--encoding``) is what the file
    is read in; else a file that is UTF-8 is read so, and one that is not in
    ``otherwise`` (a mapping's ``encoding``: a UTF-8 export of that CRM still
    reads), or refused (`ReadError`) when none is named: GB18030 and
    Windows-1252 decode each other's bytes without an error, so a guess would
    store the wrong letters silently."""
    given, fallback = _encoding(encoding), _encoding(otherwise)
    for bom, name in _BOMS:
        if data.startswith(bom):
            return _decoded(data, name, "--encoding"), name
    if given is not None:
        return _decoded(data, given, "--encoding"), given
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if fallback is not None:
            return _decoded(data, fallback, "the mapping's encoding"), fallback
        raise ReadError(
            f"line {_line_of(data, exc)}: the file is not UTF-8 (byte {exc.start}), and which "
            "encoding it is in cannot be told from its bytes; name it with --encoding (or "
            "the mapping's encoding): gb18030 for Excel's CSV on Chinese Windows, cp1252 "
            "for Excel's CSV on Western Windows (Latin-1)"
        ) from None


def _line_of(data: bytes, exc: UnicodeDecodeError) -> int:
    """The line of ``data`` where ``exc`` found a byte it could not decode."""
    return data[: exc.start].count(b"\n") + 1


def _encoding(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ReadError(f"encoding: unknown encoding {name!r}") from None


def _decoded(data: bytes, encoding: str, named_by: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = _line_of(data, exc)
        raise ReadError(
            f"line {line}: byte {exc.start} is not valid {encoding} ({exc.reason}); "
            f"is {named_by} right?"
        ) from None


def _csv_records(text: str, delimiter: str) -> Iterator[tuple[int, tuple[str, ...]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    number = 0
    try:
        for number, record in enumerate(reader, start=1):
            yield number, tuple(record)
    except csv.Error as exc:
        raise ReadError(f"row {number + 1}: not CSV ({exc})") from None


def _xlsx_records(path: Path, sheet: str | None) -> Iterator[tuple[int, tuple[str, ...]]]:
    from openpyxl import load_workbook  # noqa: PLC0415 - only xlsx imports pay for it

    try:
        book = load_workbook(path, read_only=False, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ReadError(f"{path.name}: not an xlsx workbook ({exc})") from None
    try:
        if sheet is None:
            worksheet = book.worksheets[0]
        elif sheet in book.sheetnames:
            worksheet = book[sheet]
        else:
            raise ReadError(f"sheet: the workbook has no sheet {sheet!r}; it has {book.sheetnames}")
        rows = worksheet.iter_rows(
            min_row=1, max_row=worksheet.max_row, max_col=worksheet.max_column
        )
        for number, cells in enumerate(rows, start=1):
            yield number, tuple(_cell_text(c.value, c.number_format) for c in cells)
    finally:
        book.close()


def _cell_text(value: object, number_format: str) -> str:
    """A cell as the text a CSV export would hold (module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        # repr is the shortest text that reads back as the same double: the
        # number as typed (0.1, not 0.1000000000000000055...)
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if "%" in number_format:
            return _plain(number * 100) + "%"
        return _plain(number)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _plain(number: Decimal) -> str:
    """Decimal text without an exponent or trailing zeros: 120000, 0.5."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _table(
    records: Iterator[tuple[int, tuple[str, ...]]], header_row: int, encoding: str | None
) -> Table:
    header: tuple[str, ...] | None = None
    rows: list[Row] = []
    for number, cells in records:
        if number < header_row:
            continue
        if number == header_row:
            header = cells
            continue
        if any(c.strip() for c in cells):
            rows.append(Row(number, cells))
    if header is None or not any(h.strip() for h in header):
        raise ReadError(f"row {header_row}: the header row is missing or empty")
    return Table(header, header_row, tuple(rows), encoding)
