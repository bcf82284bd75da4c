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
numbers as Excel shows them, to the 15 significant digits it keeps of a number
(never a binary float's tail: a sum Excel shows as 0.3 is written in the XML as
the float's 17 digits, ``0.30000000000000004``), percent-formatted numbers as
percent (``0.6`` shown as ``60%`` is ``"60%"``), a whole number formatted with
zeros alone padded as shown (123 formatted ``000000`` is ``"000123"``), dates
and times in ISO 8601 (without an offset: the mapping's timezone applies). A
formula cell is read as the value its workbook holds for it; a formula whose
value was never computed — a workbook written by a program (openpyxl, a script)
rather than saved by a spreadsheet application holds its formulas so, or holds
a 0 in their place (XlsxWriter) and asks the application to compute them all on
opening (``fullCalcOnLoad``) — is no empty cell (nor a 0): the row says which
columns hold one (`Row.unreadable`), for the conversion to refuse where it
reads them; so too a cell showing an error (``#N/A``), a cell that merged cells
cover (its value shows in the range's first cell only), and a number of 16
digits or more before its point: a spreadsheet keeps 15 significant digits of a
number, so an id of 16 digits typed as a number (1234567890123456) is held as
1234567890123450, and one of 20 (12345678901234567890, written
``1.2345678901234567E+19``) as 12345678901234567000 — which id was meant cannot
be told.
A row hidden in the workbook (a filter, a collapsed group, a height of 0)
says so (`Row.hidden`): whether it is meant cannot be told; so does a hidden
column (``hidden``, a collapsed group, a width of 0 — its own, or the
sheet's default where it has none: `Sheet.hidden_columns`),
for the conversion to refuse where the mapping reads one. A header of two
rows is read by its last (``header_row``), a column merged down through it
named as the sheet shows it; a merge reaching down from the header row
into a row that holds text (the header read by its first row) is refused. Which parts hold the
sheets is the workbook's own word (its relationships), wherever they lie in
the zip; without ``sheet``, the first sheet a user sees (hidden ones aside).
A sheet whose rows are out of order or repeated (which openpyxl, as other
readers, skips unsaid), or that holds a cell twice (two ``<c r="C2">``: the
reader keeps the last), is refused, and so is one found damaged as its rows
are read (`_DAMAGED`), naming the row. Rows under the header are read as far
right as its last name (a cell far right in every row cost a minute a few
thousand rows), and a sheet larger than any sheet or export (`_MAX_ROWS`,
`_MAX_CELLS`) is refused before its rows are read.

An export is streamed, never held whole (`open_export`): a CSV's bytes are
read through once, a block at a time, to tell (or check) their encoding, then
its records are parsed as they are decoded; an xlsx sheet is read a row at a
time (openpyxl's read-only mode). `read_table` holds one whole, for small files.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import posixpath
import re
import sys
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from itertools import repeat
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, Protocol, TypedDict, TypeGuard, Unpack
from xml.etree import ElementTree as ET

from ledger.errors import printable

if TYPE_CHECKING:
    from openpyxl.workbook import Workbook

__all__ = [
    "SUFFIXES",
    "Column",
    "Export",
    "ReadError",
    "ReadOptions",
    "Row",
    "Sheet",
    "Table",
    "column_letter",
    "column_name",
    "decode",
    "open_export",
    "read_table",
]

# (row number, its cells as text, why some of its columns cannot be read, hidden,
# the columns whose cell holds a number)
_Unreadable = tuple[tuple[int, str], ...]
_Records = Generator[tuple[int, tuple[str, ...], _Unreadable, bool, frozenset[int]], None, None]
_NO_NUMBERS: frozenset[int] = frozenset()

SUFFIXES = (".csv", ".xlsx", ".xlsm")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Codecs whose incremental decoder takes a byte-order mark otherwise than the
# whole-text decode (utf-16's refuses a stream without one, which the whole
# decode reads in the machine's order): the mark is skipped, and the bytes
# decoded in the order it says.
_MARKED = {
    "utf-8-sig": ((codecs.BOM_UTF8, "utf-8"),),
    "utf-16": ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")),
    "utf-32": ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be")),
}
_NATIVE = {"utf-8-sig": "utf-8", "utf-16": f"utf-16-{sys.byteorder[0]}e"}
_NATIVE["utf-32"] = f"utf-32-{sys.byteorder[0]}e"
_BLOCK = 1 << 20  # bytes decoded at a time
# Text codecs that no export is written in, which decode a file's bytes into
# other text than they spell: "10\\x30" read as "100" by unicode_escape.
_NOT_FILE_ENCODINGS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined"}
)
# An xlsx is a zip, its parts XML: what they may inflate to is bounded before
# openpyxl parses them, as a CSV's field is by the csv module (128 KiB), so no
# small file takes the importer's memory (a 300 KiB workbook holding a 300 MiB
# cell took 3 GiB). A part inflates to at most 100 times its compressed size
# (Apache POI's bound; spreadsheet XML inflates 5 to 30 times) once past 1 MiB,
# and the XML of cells — sheets, shared strings — runs at most 1 MiB from one
# "<" to the next (a cell holds 32,767 characters at most, 160 KiB as XML at
# worst: each "&amp;").
_MAX_INFLATION = 100
# The most rows a sheet holds (Excel's), and the most cells under a header an
# import reads (a million rows of a hundred columns: a wider or longer sheet
# is no CRM export, and would take the importer an hour).
_MAX_ROWS = 1_048_576
_MAX_CELLS = 100 * _MAX_ROWS
_INFLATION_FREE = 1 << 20
_MAX_XML_RUN = 1 << 20
# A formula element's start, its namespace prefix (``<x:f>``) aside, in a
# sheet's XML: a workbook without one is read once, for its values (text
# holding one only makes a workbook read twice, never a formula missed).
_FORMULA_TAG = re.compile(rb"[<:]f[\s/>]")


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
    """One data row: its spreadsheet row number, its cells as text, the
    0-based columns whose cell cannot be read and why (xlsx: a formula its
    workbook holds no computed value of, an error, a cell merged cells cover,
    a number too large to be held exactly; read as "" in ``cells``, or as the
    number held), whether the workbook hides it, (CSV) why
    its cells run past the header's (`_overflow`), and (xlsx) the columns
    whose cell holds a number: its text is the number's own, with a decimal
    point, never how a mapping says amounts are written (``1.234`` is one
    point two three four, not 1234 by a thousands separator ".")."""

    number: int
    cells: tuple[str, ...]
    unreadable: _Unreadable = ()
    hidden: bool = False
    # CSV: why the row has cells past the header's last column, or None
    overflow: str | None = None
    numbers: frozenset[int] = _NO_NUMBERS

    def cell(self, column: Column) -> str:
        return self.cells[column.index].strip() if column.index < len(self.cells) else ""

    def why_unreadable(self, index: int) -> str | None:
        """Why the cell of column ``index`` cannot be read, or None."""
        return next((why for at, why in self.unreadable if at == index), None)


class _XlsxCell(Protocol):
    """What is read of an xlsx cell."""

    @property
    def value(self) -> object: ...

    @property
    def data_type(self) -> str | None: ...

    @property
    def number_format(self) -> str: ...


class Sheet(Protocol):
    """What converting rows needs of an export besides the rows: its header."""

    @property
    def header(self) -> tuple[str, ...]: ...

    @property
    def header_row(self) -> int: ...

    @property
    def hidden_columns(self) -> frozenset[int]: ...

    def columns(self, name: str) -> tuple[Column, ...]: ...


@dataclass(frozen=True)
class Table:
    """A header and the rows under it (blank rows left out), held whole."""

    header: tuple[str, ...]
    header_row: int
    rows: tuple[Row, ...]
    encoding: str | None  # CSV: the encoding it was read in
    # xlsx: the 0-based columns the workbook hides (`_Marks.column_hidden`)
    hidden_columns: frozenset[int] = frozenset()

    def columns(self, name: str) -> tuple[Column, ...]:
        return _columns(self.header, name)


@dataclass
class Export:
    """An export open for reading: its header read, its rows (blank ones left
    out) streamed, once, from ``rows``. Closing it closes the file (`closing`)."""

    header: tuple[str, ...]
    header_row: int
    encoding: str | None  # CSV: the encoding it is read in
    rows: Iterator[Row]
    _close: Callable[[], None] = field(repr=False)
    # xlsx: the 0-based columns of the header the workbook hides
    hidden_columns: frozenset[int] = frozenset()

    def columns(self, name: str) -> tuple[Column, ...]:
        return _columns(self.header, name)

    def close(self) -> None:
        self._close()


def _columns(header: tuple[str, ...], name: str) -> tuple[Column, ...]:
    """Every column with this header (surrounding spaces ignored, and how its
    accents are encoded: "é" as one character or as "e" and a combining
    accent, as a Mac writes it, is one name — the header lacking "Montant
    réel" it had was refused, naming it twice alike): more than one is a
    header that cannot say which column it means (a report with two
    "Amount" columns), for the caller to refuse — never the first."""
    wanted = column_name(name)
    return tuple(
        Column(text.strip(), index)
        for index, text in enumerate(header)
        if column_name(text) == wanted
    )


def column_name(text: str) -> str:
    """A column's name as it is compared (`_columns`, the mapping's
    ``hidden_columns``): NFC, stripped."""
    return unicodedata.normalize("NFC", text).strip()


def column_letter(index: int) -> str:
    """A 0-based column index as a spreadsheet letter: 0 is A, 26 is AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


class ReadOptions(TypedDict, total=False):
    """How `open_export` reads an export: its arguments after the path."""

    encoding: str | None
    otherwise: str | None
    delimiter: str
    sheet: str | None
    header_row: int


def read_table(path: Path, **options: Unpack[ReadOptions]) -> Table:
    """The export at ``path`` as a `Table`, held whole (read as `open_export`
    reads it)."""
    with closing(open_export(path, **options)) as export:
        rows = tuple(export.rows)
        return Table(export.header, export.header_row, rows, export.encoding, export.hidden_columns)


def open_export(
    path: Path,
    *,
    encoding: str | None = None,
    otherwise: str | None = None,
    delimiter: str = ",",
    sheet: str | None = None,
    header_row: int = 1,
) -> Export:
    """The export at ``path`` (CSV, or xlsx/xlsm by its suffix), its header
    read and its rows left to stream; ``encoding`` and ``otherwise`` as
    `decode` takes them. A CSV is read through first, a block at a time, for
    its encoding: one it cannot be read in is refused before any row is read.
    A `ReadError` met further on (a record that is not CSV) is raised by the
    rows, where it is met."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ReadError(f"{path.name}: a CRM export is .csv or .xlsx, not {suffix or 'no suffix'}")
    hidden: set[int] = set()  # xlsx: filled as its sheet is opened, before its rows
    try:
        if suffix == ".csv":
            with path.open("rb") as raw:
                used: str | None = _encoding_of(raw, encoding, otherwise)
            records = _csv_records(path, str(used), delimiter)
        else:
            used = None
            records = _xlsx_records(path, sheet, header_row, hidden)
        # a CSV's cells are placed by its delimiters: one too many shifts them
        delimited = delimiter if suffix == ".csv" else None
        return _export(_readable(path, records), header_row, used, delimited, hidden)
    except OSError as exc:
        raise ReadError(_unreadable(path, exc)) from None


def _unreadable(path: Path, exc: OSError) -> str:
    return f"{path.name}: cannot read it ({exc.strerror or exc})"


def _readable(path: Path, records: _Records) -> _Records:
    """``records``, a file that fails to read said so (`ReadError`)."""
    try:
        yield from records
    except OSError as exc:
        raise ReadError(_unreadable(path, exc)) from None
    finally:
        records.close()


def decode(data: bytes, encoding: str | None, *, otherwise: str | None = None) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read in; an
    undecodable byte is named with its line (`ReadError`).

    A byte-order mark wins over the encoding given: it is the file saying what
    it is (a GB18030 mapping's CRM file saved again as Excel's "CSV UTF-8"
    still reads). Without one, ``encoding`` (``--encoding``) is what the file
    is read in; else a file that is UTF-8 is read so, and one that is not in
    ``otherwise`` (a mapping's ``encoding``: a UTF-8 export of that CRM still
    reads), or refused when none is named: GB18030 and Windows-1252 decode
    each other's bytes without an error, so a guess would store the wrong
    letters silently. `open_export` reads a file by the same rules, streamed."""
    used = _encoding_of(io.BytesIO(data), encoding, otherwise)
    return data.decode(used), used


def _encoding_of(source: BinaryIO, encoding: str | None, otherwise: str | None) -> str:
    """The encoding to read ``source`` (seekable bytes) in, by `decode`'s rules,
    each candidate decoded through a block at a time."""
    given, fallback = _encoding(encoding), _encoding(otherwise)
    source.seek(0)
    head = source.read(4)
    for bom, name in _BOMS:
        if head.startswith(bom):
            _decodes(source, name, "--encoding")
            return name
    if given is not None:
        _decodes(source, given, "--encoding")
        return given
    bad = _undecodable(source, "utf-8")
    if bad is None:
        return "utf-8"
    if fallback is not None:
        _decodes(source, fallback, "the mapping's encoding")
        return fallback
    line, start, _ = bad
    raise ReadError(
        f"line {line}: the file is not UTF-8 (byte {start}), and which "
        "encoding it is in cannot be told from its bytes; name it with --encoding (or "
        "the mapping's encoding): gb18030 for Excel's CSV on Chinese Windows, cp1252 "
        "for Excel's CSV on Western Windows (Latin-1)"
    )


def _encoding(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        found = codecs.lookup(name).name
    except LookupError:
        raise ReadError(f"encoding: unknown encoding {name!r}") from None
    if found in _NOT_FILE_ENCODINGS:
        raise ReadError(
            f"encoding: {name!r} is no encoding a file is written in (it reads "
            "backslash escapes or domain names: a cell's text would change)"
        )
    try:
        b"0".decode(found, "ignore")  # (an empty one is not looked up)
    except (LookupError, UnicodeError):
        # a codec of bytes to bytes (base64, zlib), or one taking no error
        # handler (idna): each was a traceback
        raise ReadError(f"encoding: {name!r} is not a text encoding") from None
    return found


def _decodes(source: BinaryIO, encoding: str, named_by: str) -> None:
    """Refuse ``source`` unless all of it decodes in ``encoding``."""
    bad = _undecodable(source, encoding)
    if bad is not None:
        line, start, reason = bad
        raise ReadError(
            f"line {line}: byte {start} is not valid {encoding} ({reason}); is {named_by} right?"
        )


def _stream_codec(head: bytes, encoding: str) -> tuple[str, int]:
    """The codec that decodes a file in ``encoding`` a block at a time, and
    the bytes of byte-order mark to skip first (`_MARKED`)."""
    for bom, codec in _MARKED.get(encoding, ()):
        if head.startswith(bom):
            return codec, len(bom)
    return _NATIVE.get(encoding, encoding), 0


def _undecodable(source: BinaryIO, encoding: str) -> tuple[int, int, str] | None:
    """The first byte of ``source`` that ``encoding`` cannot decode — its line,
    offset and why — or None, found a block at a time, said as decoding the
    whole would say it: the offset counted as that decode counts it (utf-8-sig
    from after its mark), the line one more than the newline bytes before it."""
    source.seek(0)
    codec, skip = _stream_codec(source.read(4), encoding)
    counted_from = skip if encoding == "utf-8-sig" else 0
    source.seek(0)
    tail = source.read(skip)  # the last bytes before ``fed`` (the mark, at first)
    decoder = codecs.getincrementaldecoder(codec)()
    fed = skip  # bytes given to the decoder, the mark counted
    newlines = 0  # before ``fed``
    while True:
        block = source.read(_BLOCK)
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            # ``exc.object``: the bytes the decoder held back from before, then this block
            pending = len(exc.object) - len(block)
            at = fed - pending + exc.start  # the byte's offset in the file
            start = at - counted_from
            before = newlines - exc.object[:pending].count(b"\n")
            before += exc.object[: exc.start].count(b"\n")
            seen, base = tail + block, fed - len(tail)  # the file from ``base`` on
            before -= seen[start - base : at - base].count(b"\n")
            return before + 1, start, exc.reason
        if not block:
            return None
        newlines += block.count(b"\n")
        fed += len(block)
        tail = (tail + block[-8:])[-8:]


def _csv_records(path: Path, encoding: str, delimiter: str) -> _Records:
    """The records of a CSV file in ``encoding`` (every byte of which was
    found to decode), decoded as they are parsed."""
    with path.open("rb") as raw:
        codec, skip = _stream_codec(raw.read(4), encoding)
        raw.seek(skip)
        text = io.TextIOWrapper(raw, encoding=codec, newline="")
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        number = 0
        try:
            for number, record in enumerate(reader, start=1):
                yield number, tuple(record), (), False, _NO_NUMBERS
        except csv.Error as exc:
            raise ReadError(f"row {number + 1}: not CSV ({exc})") from None
        except UnicodeDecodeError:  # it decoded a moment before: changed since
            raise ReadError(f"{path.name}: the file changed while it was read") from None
        finally:
            text.detach()


_UNCOMPUTED = (
    "the cell holds a formula whose value was never computed (the workbook was written by "
    "a program, not saved by a spreadsheet application); open it in Excel or LibreOffice "
    "and save it, so its formulas are computed, or export the values, and import it again"
)
_RELATIONSHIPS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


@dataclass(frozen=True)
class _Workbook:
    """What a workbook's own parts say of it: each sheet's name, part and
    whether it is shown, the parts holding cells (its sheets, its shared
    strings), and whether it asks to have every formula computed on opening
    (``fullCalcOnLoad``: the values it holds for them are none)."""

    sheets: tuple[tuple[str, str, bool], ...]
    cell_parts: frozenset[str]
    stale: bool

    def chosen(self, path: Path, sheet: str | None) -> tuple[str, str]:
        """The name and part of ``sheet``, else of the first sheet shown."""
        names = [name for name, _, _ in self.sheets]
        for name, part, shown in self.sheets:
            if name == sheet or (sheet is None and shown):
                return name, part
        if sheet is not None:
            raise ReadError(f"sheet: the workbook has no sheet {sheet!r}; it has {names}")
        raise ReadError(f"{path.name}: every sheet of the workbook is hidden ({names}); name one")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _relationships(archive: zipfile.ZipFile, source: str) -> dict[str, tuple[str, str]]:
    """The relationships of part ``source`` ("" for the package): id to
    (type, target part)."""
    folder, name = posixpath.split(source)
    rels = posixpath.join(folder, "_rels", f"{name}.rels")
    found = {}
    for item in ET.fromstring(archive.read(rels)):  # noqa: S314 - bounded, and expat refuses entity bombs
        target = item.get("Target", "")
        if item.get("TargetMode") == "External":
            continue
        part = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        found[item.get("Id", "")] = (item.get("Type", ""), posixpath.normpath(part))
    return found


def _workbook(archive: zipfile.ZipFile) -> _Workbook:
    """The workbook as its parts declare it (`_Workbook`), read as openpyxl
    reads it: the package's office document, its relationships."""
    office = [p for t, p in _relationships(archive, "").values() if t.endswith("/officeDocument")]
    if not office:
        raise KeyError("the package names no workbook")
    related = _relationships(archive, office[0])
    root = ET.fromstring(archive.read(office[0]))  # noqa: S314 - as above
    sheets = []
    stale = False
    for element in root.iter():
        tag = _local(element.tag)
        if tag == "sheet":
            kind, part = related.get(element.get(_RELATIONSHIPS, ""), ("", ""))
            if kind.endswith("/worksheet"):
                shown = element.get("state", "visible") == "visible"
                sheets.append((element.get("name", ""), part, shown))
        elif tag == "calcPr":
            stale = element.get("fullCalcOnLoad") in {"1", "true"}
    strings = {p for t, p in related.values() if t.endswith("/sharedStrings")}
    return _Workbook(tuple(sheets), frozenset({p for _, p, _ in sheets} | strings), stale)


# What openpyxl raises on a workbook's damaged parts: a zip's or its XML's, a
# cell whose value its type cannot hold (``<v>abc</v>`` as a number, a shared
# string past the table's end), a style or a sheet its parts lack.
_DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    IndexError,
    ValueError,
    OverflowError,
    ET.ParseError,
)


def _xlsx_records(
    path: Path, sheet: str | None, header_row: int, hidden_columns: set[int]
) -> _Records:
    """The rows of an xlsx sheet as records (`_xlsx_rows`); a sheet found
    damaged as its rows are read refused (`ReadError`), naming the row after
    the last one read, not a traceback."""
    number = 0
    try:
        for record in _xlsx_rows(path, sheet, header_row, hidden_columns):
            number = record[0]
            yield record
    except ReadError:
        raise
    except _DAMAGED as exc:
        said = f"{type(exc).__name__}: {exc}"
        raise ReadError(
            f"{path.name}: the workbook is damaged, or was not written by a spreadsheet "
            f"application: its sheet cannot be read at row {number + 1} ({said[:200]}); "
            "open it in Excel or LibreOffice and save it, then import it again; nothing "
            "was stored"
        ) from None


def _xlsx_rows(
    path: Path, sheet: str | None, header_row: int, hidden_columns: set[int]
) -> _Records:
    """The rows of an xlsx sheet as records; ``hidden_columns`` filled, before
    the first, with the header's columns the sheet hides."""
    from openpyxl import load_workbook  # noqa: PLC0415 - only xlsx imports pay for it

    try:
        with zipfile.ZipFile(path) as archive:
            workbook = _workbook(archive)
            name, part = workbook.chosen(path, sheet)
            marks = _Marks()
            formulas = _bounded_parts(path, archive, workbook.cell_parts, {part: marks})
        marks.in_order(path.name, name)
        # read-only: the sheet is parsed as its rows are read, never held whole
        book = load_workbook(path, read_only=True, data_only=True)
    except ReadError:
        raise
    except _DAMAGED as exc:
        # zlib.error: damaged compressed data; the cells' parts were inflated
        # whole by `_bounded_parts`, so the rows read next meet none
        raise ReadError(f"{path.name}: not an xlsx workbook ({exc})") from None
    with ExitStack() as books:
        books.callback(book.close)
        # The same sheet read again, in step, for its formulas: a formula never
        # computed is None among the values, as an empty cell is.
        formula_book = None
        if formulas:
            formula_book = load_workbook(path, read_only=True)
            books.callback(formula_book.close)
        width = 0  # the header's: the mapping reads no column past it
        header: list[str] = []  # its names, once read

        def rows() -> Iterator[tuple[int, tuple[_XlsxCell, ...], tuple[_XlsxCell, ...]]]:
            yield from _in_step(book, formula_book, name, last=header_row)
            # The rows under the header, its columns only (up to its last
            # name): a cell written far right in every row (XFD) made each row
            # 16,384 cells wide, a 500 KiB workbook minutes of reading. Cells
            # past the header are under no name, and no mapping reads them.
            named = max((i + 1 for i, c in enumerate(header) if c.strip()), default=0)
            columns = _named_width(path.name, named, marks.last_row - header_row)
            yield from _in_step(book, formula_book, name, first=header_row + 1, columns=columns)

        for number, cells, as_written in rows():
            texts = tuple(_cell_text(c.value, c.number_format) for c in cells)
            if number < header_row:
                marks.above_header(number, texts, header_row)
            elif number == header_row:
                texts = marks.header(texts)
                header.extend(texts)
                width = len(texts)
                hidden_columns.update(i for i in range(width) if marks.column_hidden(i))
            yield _record(
                number,
                cells,
                as_written,
                texts,
                header_row=header_row,
                width=width,
                marks=marks,
                workbook=workbook,
            )


def _in_step(
    book: Workbook,
    formula_book: Workbook | None,
    sheet: str,
    *,
    first: int = 1,
    last: int | None = None,
    columns: int | None = None,
) -> Iterator[tuple[int, tuple[_XlsxCell, ...], tuple[_XlsxCell, ...]]]:
    """Rows ``first`` to ``last`` of ``sheet`` (their first ``columns`` cells):
    each row's number, its cells read for values and (``formula_book``) the
    same cells read for formulas (else none)."""
    rows = _sheet_rows(book, sheet, min_row=first, max_row=last, max_col=columns)
    written: Iterator[tuple[_XlsxCell, ...]] = repeat(())
    if formula_book is not None:
        written = _sheet_rows(formula_book, sheet, min_row=first, max_row=last, max_col=columns)
    # (strict=False: ``written`` is as long as ``rows``, or endless and empty)
    for number, (cells, as_written) in enumerate(zip(rows, written, strict=False), start=first):
        yield number, cells, as_written


def _named_width(file: str, named: int, rows: int) -> int:
    """How many columns of the rows under the header are read: the header's
    up to its last name (one at least), refused when the cells that makes
    run past `_MAX_CELLS` (a header named out to column XFD over as many
    rows as the sheet may hold)."""
    columns = max(named, 1)
    if columns * max(rows, 0) > _MAX_CELLS:
        raise ReadError(
            f"{file}: its header names {columns:,} columns over {rows:,} rows, "
            f"{columns * rows:,} cells to read, more than {_MAX_CELLS:,}: no CRM export "
            "holds that many; export the columns the mapping reads, or fewer rows a file; "
            "nothing was stored"
        )
    return columns


def _record(
    number: int,
    cells: tuple[_XlsxCell, ...],
    as_written: tuple[_XlsxCell, ...],
    texts: tuple[str, ...],
    *,
    header_row: int,
    width: int,
    marks: _Marks,
    workbook: _Workbook,
) -> tuple[int, tuple[str, ...], _Unreadable, bool, frozenset[int]]:
    """One row of an xlsx sheet as a record (`_Records`): ``texts`` its
    cells' text (the header's as `_Marks.header` names them)."""
    unreadable = _unreadable_cells(cells, as_written, stale=workbook.stale)
    if number != header_row and (unreadable or any(t.strip() for t in texts)):
        # (a blank row is no row, whatever merged cells cover of it)
        if number > header_row and (why := marks.into_header(number, header_row)):
            raise ReadError(why)
        unreadable += marks.covered(number, max(width, len(texts)))
    numbers = frozenset(i for i, c in enumerate(cells) if _number(c))
    return number, texts, unreadable, number in marks.hidden, numbers


def _number(cell: _XlsxCell) -> bool:
    """Whether ``cell`` holds a number its text writes plainly (`_cell_text`:
    a percent-formatted one is written ``60%``)."""
    value = cell.value
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and ("%" not in cell.number_format)
    )


def _sheet_rows(
    book: Workbook, sheet: str, *, min_row: int, max_row: int | None, max_col: int | None
) -> Iterator[tuple[_XlsxCell, ...]]:
    """The rows of ``sheet`` of a read-only ``book``, within the bounds given."""
    worksheet = book[sheet]
    # the size a sheet declares is its writer's word, and read-only mode
    # would stop there: every row and cell written is read instead
    worksheet.reset_dimensions()
    return worksheet.iter_rows(min_row=min_row, max_row=max_row, max_col=max_col)


def _unreadable_cells(
    values: Iterable[_XlsxCell], written: Iterable[_XlsxCell], *, stale: bool
) -> _Unreadable:
    """The columns of a row whose cell shows an error (``#N/A``), or holds a
    formula (``written``: the row read for formulas) and no value computed
    from it (``values``: read for values) — any value, in a workbook that
    asks for its formulas to be computed on opening (``stale``). A formula a
    spreadsheet computed to "" is no such cell: Excel and LibreOffice write
    that value as text (``t="str"``), empty. And a number of 16 digits or
    more (`_too_long`)."""
    found: list[tuple[int, str]] = []
    for index, value in enumerate(values):
        if value.data_type == "e":
            found.append(
                (index, f"the cell shows the error {value.value}; correct it in the workbook")
            )
        elif _too_long(value.value):
            found.append((index, _inexact(value.value)))
    found += [
        (index, _UNCOMPUTED)
        for index, (value, formula) in enumerate(zip(values, written, strict=False))
        if formula.data_type == "f"
        and (stale or (value.value is None and value.data_type != "str"))
    ]
    return tuple(sorted(found))


# The significant digits a spreadsheet keeps of a number: Excel sets the 16th
# digit of a number typed on to 0 (1234567890123456 is held as
# 1234567890123450), shows no more of a computed one, and its CSV export writes
# no more. The 17 digits of a float's shortest form past them are no digits of
# what a user typed or sees (0.1 + 0.2 is written ``0.30000000000000004``).
_KEPT_DIGITS = 15
_LONGEST = 10**_KEPT_DIGITS  # a number this large has digits a spreadsheet does not keep


def _too_long(value: object) -> TypeGuard[float]:
    """Whether ``value``, a cell's number, has 16 digits or more before its
    point (or is infinite): the last of them may not be the ones
    typed (`_KEPT_DIGITS`) — an integer written as its digits too, since a
    workbook does not say whether a spreadsheet or a script wrote it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not abs(value) < _LONGEST


def _inexact(number: float) -> str:
    """Why a cell holding ``number``, of 16 digits or more, cannot be read."""
    return (
        f"the number {number!r} cannot be read exactly: a spreadsheet keeps 15 "
        "significant digits of a number (typed, the 16th on are set to 0), so which one "
        "was meant cannot be told; store it as text (an id in a column formatted as "
        "Text), not as a number"
    )


_TAG = re.compile(rb"<(?:[\w.-]+:)?(row|mergeCell|sheetFormatPr|col)(?=[\s/>])([^>]*)>")
_ATTRIBUTE = re.compile(rb"""([\w:.-]+)\s*=\s*["']([^"']*)["']""")
# The column of each cell (``<c r="C2">``: ``C``; b"" for a cell without a
# reference): a reader places a cell by its column only, its row number aside.
_CELL_COLUMN = re.compile(rb"""<(?:[\w.-]+:)?c(?=[\s/>])(?:[^>]*?\sr\s*=\s*["']([A-Za-z]*))?""")
# The same, of XML whose every cell is written ``<c r="...`` (as spreadsheet
# applications and libraries write them): a tenth of the time. A cell written
# otherwise (a reference not first, none, a namespace prefix) is found by
# `_OTHER_CELL` (or `_PREFIXED_CELL`, whatever its prefix; or a text holding
# ":c "): its XML read by `_CELL_COLUMN`.
_PLAIN_CELL_COLUMN = re.compile(rb'<c r="([A-Za-z]*)')
_OTHER_CELL = re.compile(rb'<c(?! r=")[\s/>]')
_PREFIXED_CELL = re.compile(rb":c[\s/>]")


class _Marks:
    """A sheet's hidden rows and columns and merged ranges, found in its XML as
    it is inflated a block at a time (`_bounded_runs`).

    A column is hidden as Excel hides it: a ``<col>`` range's ``hidden``
    attribute (hidden, or in a collapsed group) or a width of 0 (dragged
    shut) — a column the user cannot see, read as the amount or the date.
    A column no ``<col>`` range gives a width of its own takes the sheet's
    default (``sheetFormatPr defaultColWidth``, else ``baseColWidth``: the
    padding Excel adds to it is pixels, no character of a cell): 0 there
    hides every such column (a sheet showing only the columns it sizes).

    A row is hidden by its ``hidden`` attribute (a filter, a collapsed group)
    or by a height of 0 (``ht="0"``, dragged shut or set so by a program:
    Excel shows it no more than a hidden one), and in a sheet whose rows are
    hidden unless said otherwise (``sheetFormatPr zeroHeight``: Excel's "hide
    every other row") by having no height of its own above 0."""

    def __init__(self) -> None:
        self.hidden: set[int] = set()
        self.merged: list[tuple[int, int, int, int]] = []  # columns and rows, from 1
        # ``<col>`` ranges (columns from 1), whether hidden, their width (None: the default)
        self.column_ranges: list[tuple[int, int, bool, Decimal | None]] = []
        self._column_width: Decimal | None = None  # the sheet's default (None: Excel's)
        self._row = 0  # the last row seen: a row may leave its number out
        # the first row numbered at or before the row before it, and that row
        self.disorder: tuple[int, int] | None = None
        self.beyond: int | None = None  # the first row numbered past `_MAX_ROWS`
        self._carry = b""  # from the last "<" of the blocks before: a tag cut short
        self._zero_height = False  # rows are hidden unless given a height
        self._named_above: dict[int, str] = {}  # header cells merged down from above
        # the columns (letters) of the cells of the row read (`_cells`), and the last's
        self._columns: set[bytes] = set()
        self._column = b""
        self._cell_column = _CELL_COLUMN  # how they are found in the XML fed
        # the first cell in a column its row holds already: its row, its reference
        self.twice: tuple[int, str] | None = None

    def above_header(self, number: int, texts: tuple[str, ...], header_row: int) -> None:
        """Keep the value of each merged range that starts in row ``number``,
        above the header row, and reaches down into it: the name its column
        shows in the header (a header of two rows whose single-row columns
        are merged down through both, read by its last row)."""
        for low_col, low_row, _, high_row in self.merged:
            if low_row == number < header_row <= high_row and low_col <= len(texts):
                self._named_above[low_col - 1] = texts[low_col - 1]

    def header(self, texts: tuple[str, ...]) -> tuple[str, ...]:
        """The header row's names as the sheet shows them: a cell merged down
        into it from above (`above_header`) named by its range's value."""
        names = list(texts)
        for index, value in sorted(self._named_above.items()):
            names.extend([""] * (index + 1 - len(names)))
            if not names[index].strip():
                names[index] = value
        return tuple(names)

    def into_header(self, number: int, header_row: int) -> str | None:
        """Why row ``number``, under the header row, is no data row: a merged
        range reaches down into it from the header row (a header of two rows
        read by its first), or None."""
        for low_col, low_row, high_col, high_row in sorted(self.merged):
            if low_row <= header_row < number <= high_row:
                first = f"{column_letter(low_col - 1)}{low_row}"
                ref = f"{first}:{column_letter(high_col - 1)}{high_row}"
                return (
                    f"row {number}, column {column_letter(low_col - 1)}: the header's cell "
                    f"{first} is merged down through row {high_row} ({ref}), so the header "
                    f"is rows {header_row}-{high_row}, not row {header_row} alone; set "
                    f"header_row = {high_row} in the mapping (the header's last row, whose "
                    "names are read), or unmerge the header's cells"
                )
        return None

    def feed(self, block: bytes) -> None:
        """Read ``block``'s tags (b"" at the end: the rest)."""
        data = self._carry + block
        cut = data.rfind(b"<") if block else len(data)
        cut = max(cut, 0)
        cells = 0  # where the cells not read yet start
        plain = not (_OTHER_CELL.search(data, 0, cut) or _PREFIXED_CELL.search(data, 0, cut))
        self._cell_column = _PLAIN_CELL_COLUMN if plain else _CELL_COLUMN
        for tag in _TAG.finditer(data, 0, cut):
            attributes = dict(_ATTRIBUTE.findall(tag[2]))
            if tag[1] == b"row":
                self._cells(data, cells, tag.start())
                self._columns, self._column, cells = set(), b"", tag.end()
                number = attributes.get(b"r", b"")
                given = int(number) if number.isdigit() else self._row + 1
                if given <= self._row and self.disorder is None:
                    self.disorder = (given, self._row)
                if given > _MAX_ROWS and self.beyond is None:
                    self.beyond = given
                self._row = given
                if self._row_hidden(attributes):
                    self.hidden.add(self._row)
            elif tag[1] == b"sheetFormatPr":
                self._zero_height = attributes.get(b"zeroHeight") in {b"1", b"true"}
                width = _height(attributes.get(b"defaultColWidth"))
                base = _height(attributes.get(b"baseColWidth"))
                self._column_width = width if width is not None else base
            elif tag[1] == b"col":
                self._col(attributes)
            elif ref := attributes.get(b"ref"):
                from openpyxl.utils.cell import range_boundaries  # noqa: PLC0415 - as above

                low_col, low_row, high_col, high_row = range_boundaries(ref.decode("ascii"))
                if low_col and low_row and high_col and high_row:
                    self.merged.append((low_col, low_row, high_col, high_row))
        self._cells(data, cells, cut)
        self._carry = data[cut:]

    def _cells(self, data: bytes, start: int, end: int) -> None:
        """Note the first cell of the row read (``data[start:end]`` holds
        cells of it) in a column the row holds already (`twice`). A reader
        places a cell by its reference's column (its row number aside), one
        without a reference in the column after the cell before it, and
        keeps the last cell of a column: two cells ``C2`` holding 100 and 900
        read as 900. The columns are found and compared a row at a time: a
        loop over every cell, or a general pattern finding them, doubled the
        time of this scan of a large sheet."""
        found = self._cell_column.findall(data, start, end)
        if not found or self.twice is not None:
            return
        unique = set(found)
        if len(unique) == len(found) and b"" not in unique and self._columns.isdisjoint(unique):
            self._columns |= unique
            self._column = found[-1]
            return
        for letters in found:  # rare: a cell without a reference, or twice
            column = letters or self._next_column()
            if column in self._columns:
                self.twice = (self._row, f"{column.decode('ascii', 'replace')}{self._row}")
                return
            self._columns.add(column)
            self._column = column

    def _next_column(self) -> bytes:
        """The column of a cell without a reference: the one after the cell
        before it in its row (the first, the first cell of a row)."""
        from openpyxl.utils.cell import (  # noqa: PLC0415 - as above
            column_index_from_string,
            get_column_letter,
        )

        after = column_index_from_string(self._column.decode()) if self._column else 0
        return get_column_letter(min(after + 1, 16_384)).encode()

    def _col(self, attributes: dict[bytes, bytes]) -> None:
        """A ``<col min max>`` range: whether it hides its columns, its width."""
        low, high = attributes.get(b"min", b""), attributes.get(b"max", b"")
        if not (low.isdigit() and high.isdigit()):
            return
        hidden = attributes.get(b"hidden") in {b"1", b"true"}
        self.column_ranges.append((int(low), int(high), hidden, _height(attributes.get(b"width"))))

    @property
    def last_row(self) -> int:
        """The number of the sheet's last row."""
        return self._row

    def in_order(self, file: str, sheet: str) -> None:
        """Refuse a sheet numbering a row past `_MAX_ROWS` (`beyond`: openpyxl
        reads every row up to it, written or not), holding a cell twice
        (`twice`: the reader keeps the last), or whose rows are out of
        order (`disorder`): openpyxl,
        as other readers, skips a row numbered at or before the row before
        it, so its data was left out unsaid (a row numbered 3 written before
        row 2: row 2 gone)."""
        if self.beyond is not None:
            raise ReadError(
                f"{file}: its sheet {sheet!r} numbers a row {self.beyond:,}, past the "
                f"{_MAX_ROWS:,} rows a sheet holds (the reader would read every row up to "
                "it, hours of empty rows); open it in Excel or LibreOffice and save it, "
                "then import it again; nothing was stored"
            )
        if self.twice is not None:
            row, cell = self.twice
            raise ReadError(
                f"{file}: its sheet {sheet!r} holds cell {cell} twice (two cells of row {row} "
                "in one column): a spreadsheet application writes a cell once, and a reader "
                "keeps the last of the two values, unsaid; open it in Excel or LibreOffice "
                "and save it, then import it again; nothing was stored"
            )
        if self.disorder is None:
            return
        given, before = self.disorder
        raise ReadError(
            f"{file}: the rows of its sheet {sheet!r} are not in order: a row numbered "
            f"{given} follows row {before} in its XML (a spreadsheet application writes each "
            "row once, in order, and a reader skips such a row: its cells would be lost); "
            "open it in Excel or LibreOffice and save it, then import it again; nothing "
            "was stored"
        )

    def column_hidden(self, index: int) -> bool:
        """Whether the 0-based column ``index`` is hidden: by the ``<col>``
        ranges holding it, or, none giving it a width, by the sheet's default
        width of 0."""
        ranges = [(h, w) for low, high, h, w in self.column_ranges if low <= index + 1 <= high]
        if any(hidden or width == 0 for hidden, width in ranges):
            return True
        sized = any(width is not None for _, width in ranges)
        return not sized and self._column_width == 0

    def _row_hidden(self, attributes: dict[bytes, bytes]) -> bool:
        hidden = attributes.get(b"hidden")
        if hidden in {b"1", b"true"}:
            return True
        height = _height(attributes.get(b"ht"))
        if height is not None:
            return height == 0
        # in a sheet of rows hidden unless said otherwise, one said shown is
        return self._zero_height and hidden not in {b"0", b"false"}

    def covered(self, number: int, width: int) -> _Unreadable:
        """The cells of row ``number`` (its first ``width`` columns) that merged
        cells cover, the range's first cell aside (the one holding its value)."""
        found: list[tuple[int, str]] = []
        for low_col, low_row, high_col, high_row in self.merged:
            if low_row <= number <= high_row:
                first = f"{column_letter(low_col - 1)}{low_row}"
                ref = f"{first}:{column_letter(high_col - 1)}{high_row}"
                why = (
                    f"the cell is one of the merged cells {ref}, whose value shows in "
                    f"{first} only; unmerge them and fill each cell, then import it again"
                )
                found.extend(
                    (column - 1, why)
                    for column in range(low_col, min(high_col, width) + 1)
                    if (column, number) != (low_col, low_row)
                )
        return tuple(found)


def _height(text: bytes | None) -> Decimal | None:
    """A row's ``ht`` in points, or a column's ``width`` in characters (None:
    none, or none that reads as one)."""
    try:
        height = Decimal(text.decode("ascii")) if text else None
    except (InvalidOperation, UnicodeDecodeError):
        return None
    return height if height is not None and height.is_finite() else None


def _bounded_parts(
    path: Path, archive: zipfile.ZipFile, cell_parts: frozenset[str], marks: dict[str, _Marks]
) -> bool:
    """Refuse a workbook whose parts inflate past `_MAX_INFLATION` or whose
    cells' XML runs past `_MAX_XML_RUN` without markup (a zip bomb: a small
    file that would take the memory of the process parsing it). The sizes
    are the zip's own word, and a part is never read past the size it
    declares; the cells' parts (``cell_parts``, wherever the workbook keeps
    them) are inflated through once, a block at a time, each of ``marks``'s
    read for its marks. Whether a sheet may hold a formula (`_FORMULA_TAG`)."""
    formulas = False
    for part in archive.infolist():
        size, packed = part.file_size, max(part.compress_size, 1)
        if size > _INFLATION_FREE and size > _MAX_INFLATION * packed:
            raise ReadError(
                f"{path.name}: its part {part.filename} inflates to {size:,} bytes from "
                f"{packed:,} ({size // packed:,} times): no spreadsheet writes that (a zip "
                "bomb?); nothing was stored"
            )
    for part in archive.infolist():
        if part.filename in cell_parts:
            with archive.open(part) as xml:
                formulas |= _bounded_runs(path, part.filename, xml, marks.get(part.filename))
    return formulas


def _bounded_runs(path: Path, name: str, xml: IO[bytes], marks: _Marks | None = None) -> bool:
    """Refuse XML running more than `_MAX_XML_RUN` bytes from one "<" to the
    next. Blocks are no longer than that bound, so a longer run spans a
    block's end: only the runs at the blocks' ends need counting. Whether
    the XML holds `_FORMULA_TAG` (looked for across the blocks' ends too);
    ``marks`` fed each block."""
    run = 0  # bytes since the last "<"
    formulas, tail = False, b""  # the last bytes of the block before
    while block := xml.read(_MAX_XML_RUN):
        if not formulas:
            found = _FORMULA_TAG.search(tail + block[:2]) or _FORMULA_TAG.search(block)
            formulas, tail = found is not None, block[-2:]
        first = block.find(b"<")
        run += len(block) if first < 0 else first
        if run > _MAX_XML_RUN:
            raise ReadError(
                f"{path.name}: its part {name} holds more than {_MAX_XML_RUN:,} bytes of one "
                "cell's text (a spreadsheet's cell holds 32,767 characters at most): a zip "
                "bomb?; nothing was stored"
            )
        if first >= 0:
            run = len(block) - block.rfind(b"<") - 1
        if marks is not None:
            marks.feed(block)
    if marks is not None:
        marks.feed(b"")
    return formulas


# A number format of zeros alone ("000000"): an id, a postal code or an employee
# number typed as a number, shown (and written by a CSV export) padded with
# leading zeros to as many digits — 123 shown as 000123.
_ZERO_PADDED = re.compile(r"0+")


def _cell_text(value: object, number_format: str) -> str:
    """A cell as the text a CSV export would hold (module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return _number_text(_as_shown(value), number_format)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _number_text(number: Decimal, number_format: str) -> str:
    """A cell's number as its format shows it: a percent as one, a whole
    number padded with the zeros of `_ZERO_PADDED`, else plain."""
    if "%" in number_format:
        return _plain(number * 100) + "%"
    if _ZERO_PADDED.fullmatch(number_format) and number.is_finite() and number == abs(int(number)):
        return f"{int(number):0{len(number_format)}d}"
    return _plain(number)


def _as_shown(value: float) -> Decimal:  # (an int is a float to mypy)
    """A cell's number as a spreadsheet shows it: an integer exactly (one of
    more digits than are kept is refused: `_too_long`), a fraction to the 15
    significant digits kept (`_KEPT_DIGITS`). ``repr``, the shortest text
    that reads back as the same float, holds up to 17: the float Excel
    writes for a sum it shows as 0.3 (0.1 + 0.2) read as
    0.30000000000000004, an amount no ledger takes, refused with a number
    the user never saw. An amount the ledger takes has 14 digits at most
    (below 10^12, to the cent), each of them kept."""
    if isinstance(value, int):
        return Decimal(value)
    if not math.isfinite(value) or value.is_integer():
        return Decimal(repr(value))
    return Decimal(format(value, f".{_KEPT_DIGITS}g"))


def _plain(number: Decimal) -> str:
    """Decimal text without an exponent or trailing zeros: 120000, 0.5."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _overflow(header: tuple[str, ...], cells: tuple[str, ...], delimiter: str | None) -> str | None:
    """Why a CSV record has a cell that is not blank past the header's last
    column, or None: a value holding the delimiter unquoted — a decimal comma
    (``1234,50``), a grouped amount (``1,234.50``) — split in two, and every
    cell after it shifted one column on (an amount in the last column read
    ``1234`` of ``1234,50``, the ``50`` past the header)."""
    if delimiter is None:  # xlsx: a cell is where the sheet holds it
        return None
    past = [(i, c.strip()) for i, c in enumerate(cells[len(header) :], len(header)) if c.strip()]
    if not past:
        return None
    index, text = past[0]
    return (
        f"the row has {len(cells)} cells where the header has {len(header)} (column "
        f'{column_letter(index)}, under no header, holds "{printable(text[:40])}"): a value '
        f"holding the delimiter {delimiter!r} unquoted — a decimal comma (1234,50) or a thousands "
        "separator (1,234.50) — splits in two and shifts every cell after it; export the "
        'file with such values quoted ("1234,50"), or with another delimiter, and import '
        "it again"
    )


def _export(
    records: _Records,
    header_row: int,
    encoding: str | None,
    delimiter: str | None = None,
    hidden: set[int] | None = None,
) -> Export:
    """The header of ``records`` read, the rows under it left to stream. A
    missing header is refused once the rest is read: a record that is not CSV
    further on is named first, as when the file was read whole. ``delimiter``
    (a CSV's): a row with cells past the header's says why (`_overflow`).
    ``hidden``: the header's hidden columns, known once it is read."""
    header: tuple[str, ...] | None = None
    named: _Unreadable = ()  # the header's cells that cannot be read
    for number, cells, unreadable, _, _ in records:
        if number == header_row:
            header, named = cells, unreadable
            break
    if header is None or not any(h.strip() for h in header):
        for _ in records:
            pass
        raise ReadError(f"row {header_row}: the header row is missing or empty")
    if named:  # a column's name unknown: which column is which cannot be told
        records.close()
        index, why = named[0]
        raise ReadError(f"row {header_row}, column {column_letter(index)} (the header): {why}")
    # a formula never computed is no blank: the row is read, and refused where it is read
    rows = (
        Row(number, cells, unreadable, hidden, _overflow(header, cells, delimiter), numbers)
        for number, cells, unreadable, hidden, numbers in records
        if unreadable or any(c.strip() for c in cells)
    )
    return Export(header, header_row, encoding, rows, records.close, frozenset(hidden or ()))
