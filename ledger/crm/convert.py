"""Rows of a CRM export → SPEC §2 import lines, each remembering the cells it
came from, so the import pipeline's errors (line, field) can be named back as
(row, column).

What is checked here is only what the mapping decides — a column the mapping
names exists, an owner is in its table, a date or percent can be read, a value
is in its ``values`` table, the rows of one split sale agree. Everything the
ledger itself checks (money and its decimals, ids, known reps and sales, shares
summing to 1, bounds, conflicts with what is stored) is left to the one import
pipeline, which checks a CRM file exactly as it checks JSON Lines.

Rows are converted as they are read, in bounded memory (`convert_rows`): a row
of a sale waits on disk (`ledger.crm.spill`) until every row is read, since
the other rows of a split sale may lie anywhere in the file; then each sale is
converted from its rows, one sale at a time, and each line kept on disk in its
place, for the import to read in order.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any, cast

from ledger.crm.mapping import ColumnField, CrmMapping, FieldMap, Kind, as_field
from ledger.crm.readers import Column, Row, Sheet, Table, column_letter, column_name
from ledger.crm.spill import CANCELLATION, PAYMENT, SALE, Spill
from ledger.errors import shown
from policies.money import ungrouped
from policies.periods import FIRST_YEAR, LAST_YEAR, iso_moment

__all__ = [
    "Cell",
    "Conversion",
    "Converted",
    "Footer",
    "IgnoredRow",
    "Line",
    "RowError",
    "convert",
    "convert_rows",
]

_HUNDRED = Decimal(100)
# A split percent as CRMs write it: up to 100 and some decimals (the share's own
# rules — in (0, 1], six places — are the event's to check).
_PERCENT = re.compile(r"\d{1,3}(?:\.\d{1,12})?")
_MAX_CELL = 10_000  # SPEC §2's longest text: longer cells are refused, not parsed
# An amount as CRMs also write it: with a currency sign or code (¥1,234.50,
# 1234.50 CNY; digits other than ASCII's too), grouped by commas with no
# thousands separator in the mapping, or with a decimal comma (1234,50) —
# each a bad row saying what to do, as the ledger's "money must be decimal
# text" does not.
_DELIMITERS = (",", ";", "\t", "|")  # as CSV exports are delimited
_NOT_A_NUMBER = re.compile(r"[^0-9.,\s'+-]")
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]{1,2}")
_INTEGER = re.compile(r"[+-]?[0-9]+")
# A number as a spreadsheet writes one too wide for its column in scientific
# notation (``1.23457E+15``, ``1.2E+3``): an id typed or read as a number and
# saved so has lost its digits past the first few (the "+" is no id's).
_SCIENTIFIC = re.compile(r"[+-]?[0-9]+(?:\.[0-9]*)?[eE]\+[0-9]+")
_HIDDEN = (
    "the row is hidden in the workbook (filtered out, in a collapsed group, or its height "
    "set to 0), so whether it is meant cannot be told; show it (clear the filter, or unhide "
    "the rows) or delete it, save, and import it again"
)


@dataclass(frozen=True)
class Cell:
    """Where a value came from: a row, and a column (None: the mapping set it)."""

    row: int
    column: Column | None


@dataclass(frozen=True)
class RowError:
    """A bad row: its row number(s), the column (None: the row as a whole or a
    value the mapping fixes), the ledger field when known, and the reason."""

    rows: tuple[int, ...]
    column: Column | None
    reason: str
    field: str | None = None
    status: str = "invalid"

    def __str__(self) -> str:
        rows = ", ".join(str(r) for r in self.rows)
        where = f"row{'s' if len(self.rows) > 1 else ''} {rows}"
        if self.column is not None:
            where += f", {self.column}"
        elif self.field:
            where += f", field {self.field} (set by the mapping)"
        return f"{where}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": list(self.rows),
            "column": None if self.column is None else self.column.name,
            "field": self.field,
            "reason": self.reason,
            "status": self.status,
        }


@dataclass
class Line:
    """One import line and, per ledger field, the cells it was read from."""

    data: dict[str, Any]
    origins: dict[str, list[Cell]] = field(default_factory=dict)
    rows: list[int] = field(default_factory=list)
    # a row of its sale could not be read: the line lacks it (a split), so what
    # it says is not what the file means, and checking it would name the wrong fault
    partial: bool = False

    def where(self, ledger_field: str | None) -> tuple[tuple[int, ...], Column | None]:
        """The rows and column behind a field the pipeline names (its longest
        known prefix: ``splits[1].share`` before ``splits``)."""
        name = ledger_field or ""
        while name:
            cells = self.origins.get(name)
            if cells:
                rows = tuple(sorted({c.row for c in cells}))
                return rows, cells[0].column
            cut = max(name.rfind("."), name.rfind("["))
            name = name[:cut] if cut > 0 else ""
        return tuple(self.rows), None


@dataclass(frozen=True)
class IgnoredRow:
    """A row the mapping ignores (open pipeline, a lost deal) that names a sale:
    its row, the sale id, and what its kind cell says (``Closed Lost``), so
    the import can warn when that sale is stored — ignoring the row takes
    nothing back, and a deal once won and now lost would keep paying."""

    row: int
    sale_id: str
    said: str
    column: Column | None  # the kind column


@dataclass(frozen=True)
class Footer:
    """The rows the mapping's ``footer`` left unread: from row ``row``, whose
    first cell that is not blank says ``text``, to row ``last``."""

    row: int
    text: str
    last: int

    def __str__(self) -> str:
        rows = f"rows {self.row}-{self.last}" if self.last > self.row else f"row {self.row}"
        said = f"from row {self.row} ({_quoted(self.text)})"
        return f"{rows} not read: the report's footer, {said}, as the mapping says"

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "last": self.last, "text": self.text}


@dataclass(frozen=True)
class Converted:
    """The lines of an export (sales, then cancellations, then payments: a
    cancellation may name a sale of the same file), what went wrong, how many
    rows the mapping ignores, and the ignored rows that name a sale the file
    does not cancel — held whole (`Conversion` keeps them on disk)."""

    lines: list[Line]
    errors: list[RowError]
    rows: int
    ignored: int
    ignored_sales: list[IgnoredRow] = field(default_factory=list)
    footer: Footer | None = None


@dataclass
class Conversion:
    """An export's rows converted, their lines kept on disk in the order the
    import takes them (`Converted` says which), read back as they are
    needed: what went wrong (each bad row), how many rows were read and how
    many the mapping ignores."""

    spill: Spill
    errors: list[RowError]
    rows: int
    ignored: int
    columns: dict[int, Column]  # the columns the mapping reads, by index
    kind_column: Column | None  # where an ignored row says so
    footer: Footer | None = None  # the rows the mapping's footer left unread

    def lines(self) -> Iterator[Line]:
        for text, meta in self.spill.lines():
            yield self._line(text, meta)

    def lines_at(self, numbers: set[int]) -> dict[int, Line]:
        """The lines numbered ``numbers`` (from 1: the import's line numbers)."""
        found = self.spill.lines_at(numbers)
        return {number: self._line(*found[number]) for number in found}

    def texts(self) -> Iterable[str]:
        """The lines as the import reads them, JSON, in order (read again from
        the first line by each iteration)."""
        return self.spill.texts()

    def ignored_sales(self) -> Iterator[IgnoredRow]:
        """The ignored rows that name a sale the export does not cancel, in order."""
        for row, sale_id, said in self.spill.ignored():
            yield IgnoredRow(row, sale_id, said, self.kind_column)

    def ignored_sale_ids(self) -> Iterator[str]:
        """The sales of `ignored_sales`, each once."""
        return self.spill.ignored_sale_ids()

    def held(self) -> Converted:
        """All of it in memory (a small export's, or a test's)."""
        lines = list(self.lines())
        ignored_sales = list(self.ignored_sales())
        return Converted(lines, self.errors, self.rows, self.ignored, ignored_sales, self.footer)

    def _line(
        self, text: str, meta: tuple[dict[str, list[tuple[int, int]]], list[int], bool]
    ) -> Line:
        origins, rows, partial = meta
        return Line(
            json.loads(text),
            {
                name: [Cell(row, self.columns.get(index)) for row, index in cells]
                for name, cells in origins.items()
            },
            rows,
            partial,
        )


class _Bad(Exception):  # noqa: N818 - an internal signal, always turned into a RowError
    def __init__(self, cell: Cell, reason: str) -> None:
        super().__init__(reason)
        self.cell = cell
        self.reason = reason


@dataclass
class _Reader:
    """Reads a mapping's fields from rows (columns resolved once, up front)."""

    mapping: CrmMapping
    table: Sheet
    zone: tzinfo | None
    errors: list[RowError]
    columns: dict[str, Column] = field(default_factory=dict)

    def resolve_all(self) -> None:
        """`resolve` every field the mapping reads from a column — unless the
        header is one cell holding another delimiter (a file delimited by
        ";" or a tab read by ","): one error saying so, not one a column."""
        named = [h.strip() for h in self.table.header if h.strip()]
        others = [d for d in _DELIMITERS if d != self.mapping.delimiter]
        if len(named) == 1 and (found := next((d for d in others if d in named[0]), None)):
            self.errors.append(
                RowError(
                    (self.table.header_row,),
                    None,
                    f"the header is one column, {_quoted(named[0])}, holding {found!r}: is the "
                    f"file delimited by {found!r}, not {self.mapping.delimiter!r}? If so, set "
                    f"delimiter = {json.dumps(found)} in the mapping",
                )
            )
            return
        for section in ("sale", "cancellation", "payment"):
            spec = getattr(self.mapping, section)
            if spec is None:
                continue
            for name, value in spec:
                self.resolve(f"{section}.{name}", value)
        self.resolve("kind", self.mapping.kind)

    def resolve(self, name: str, spec: FieldMap | None) -> None:
        """Check that a field's column is in the header, once (else one error,
        row of the header): a column it lacks, or one it has twice — taking
        the first of two "Amount" columns would pay on whichever came first."""
        if spec is None:
            return
        column = as_field(spec).column
        if column is None or column in self.columns:
            return
        found = self.table.columns(column)
        if len(found) == 1 and self._hidden(name, found[0]):
            return
        if len(found) == 1:
            self.columns[column] = found[0]
            return
        if found:
            *others, last = (column_letter(c.index) for c in found)
            times = "twice" if len(others) == 1 else f"{len(found)} times"
            reason = (
                f'the mapping\'s {name} reads column "{column}", which the header has '
                f"{times} (columns {', '.join(others)} and {last}): which one is meant "
                "cannot be told; rename or remove the others"
            )
        else:
            header = ", ".join(_quoted(h) for h in self.table.header if h.strip())
            reason = (
                f'the mapping\'s {name} reads column "{column}", which the header '
                f"lacks (it has {header})"
            )
        self.errors.append(RowError((self.table.header_row,), None, reason))

    def _hidden(self, name: str, column: Column) -> bool:
        """Whether ``column`` (the mapping's ``name`` reads it) is hidden in the
        workbook and not said to be read so (``hidden_columns``): then one
        error, row of the header, for none of its cells is what a user sees."""
        if column.index not in self.table.hidden_columns:
            return False
        if column_name(column.name) in {column_name(h) for h in self.mapping.hidden_columns}:
            return False
        self.errors.append(
            RowError(
                (self.table.header_row,),
                column,
                f"the mapping's {name} reads this column, which is hidden in the workbook "
                "(hidden, in a collapsed group, or its width set to 0), so whether it is "
                "meant cannot be told; show the column (unhide it) or delete it, save, and "
                "import it again, or say in the mapping that it is read though hidden: "
                f"hidden_columns = [{json.dumps(column.name, ensure_ascii=False)}]",
            )
        )
        return True

    def text(self, row: Row, spec: FieldMap | None, name: str) -> tuple[str | None, Cell]:
        """A field's text for a row (None: empty and no default), and its cell."""
        if spec is None:
            return None, Cell(row.number, None)
        f = as_field(spec)
        if f.value is not None:
            return f.value, Cell(row.number, None)
        assert f.column is not None
        column = self.columns[f.column]
        cell = Cell(row.number, column)
        why = row.why_unreadable(column.index)
        if why is not None:  # never empty, nor its default: its value is unknown
            raise _Bad(cell, f"{name}: {why}")
        raw = unicodedata.normalize("NFC", row.cell(column))
        if len(raw) > _MAX_CELL:
            raise _Bad(cell, f"{name}: over {_MAX_CELL} characters")
        if not raw:
            return f.default, cell
        return _translated(f, raw, cell, name), cell

    def required(self, row: Row, spec: FieldMap, name: str) -> tuple[str, Cell]:
        value, cell = self.text(row, spec, name)
        if value is None:
            raise _Bad(cell, f"{name}: the cell is empty")
        return value, cell

    def identifier(self, row: Row, spec: FieldMap | None, name: str) -> tuple[str | None, Cell]:
        """An id's text for a row (None: empty and no default) — refused,
        saying why, when a spreadsheet wrote it as a number in scientific
        notation (`_SCIENTIFIC`): the ledger would refuse it by its pattern,
        which tells a user nothing of what happened to the id or what to do."""
        value, cell = self.text(row, spec, name)
        if value is not None and cell.column is not None and _SCIENTIFIC.fullmatch(value.strip()):
            raise _Bad(
                cell,
                f"{name}: {_quoted(value)} is an id the spreadsheet wrote as a number in "
                "scientific notation, so its digits are lost (which id it was cannot be "
                "told); export that column as text (format it as Text before typing or "
                "pasting the ids, or export from the CRM without opening the file in a "
                "spreadsheet), and import it again",
            )
        return value, cell

    def required_id(self, row: Row, spec: FieldMap, name: str) -> tuple[str, Cell]:
        value, cell = self.identifier(row, spec, name)
        if value is None:
            raise _Bad(cell, f"{name}: the cell is empty")
        return value, cell

    def owner(self, row: Row, spec: FieldMap, name: str) -> tuple[str, Cell]:
        value, cell = self.required(row, spec, name)
        rep_id = self.mapping.owners.get(value)
        if rep_id is None:
            raise _Bad(
                cell,
                f"{name}: owner {value!r} is not in the mapping's [owners] table "
                "(add the rep id it is)",
            )
        return rep_id, cell

    def moment(self, row: Row, spec: FieldMap, name: str) -> tuple[str, Cell]:
        value, cell = self.required(row, spec, name)
        return _moment(value, cell, name, self.mapping.date_formats, self.zone), cell

    def money(self, row: Row, spec: FieldMap, name: str) -> tuple[str, Cell]:
        """The amount as decimal text; the mapping's thousands separator taken
        out only where it groups thousands (``12,345.50``): ``1234,50`` — a
        decimal comma — or ``1,23,4.50`` is a bad row, never 123450.00. With
        the mapping's ``decimal_separator = ","``, `_decimal_comma`. A number
        an xlsx cell holds is its own text (`Row.numbers`): the separators say
        how text is written, not how a number is."""
        value, cell = self.required(row, spec, name)
        if as_field(spec).values is None and cell.column and cell.column.index in row.numbers:
            return value, cell
        text = value.strip()
        separator = self.mapping.thousands_separator
        if _NOT_A_NUMBER.search(text):
            raise _Bad(
                cell,
                f"{name}: {_quoted(value)} is no plain number: a currency sign or code (¥, $, CNY) "
                "or other text is in the amount; export amounts as numbers (the currency "
                "is a column of its own, or the mapping's currency)",
            )
        if self.mapping.decimal_separator == ",":
            return _decimal_comma(value, text, separator, cell, name), cell
        if not separator:
            if _GROUPED.fullmatch(text):
                raise _Bad(
                    cell,
                    f'{name}: {_quoted(value)} groups thousands by ","; set thousands_separator = '
                    '"," in the mapping',
                )
            if _DECIMAL_COMMA.fullmatch(text):
                raise _Bad(
                    cell,
                    f"{name}: {_quoted(value)} has a decimal comma; amounts are read with a "
                    'decimal point ("1234.50"): export them so, or set decimal_separator = "," '
                    "in the mapping",
                )
            return text, cell
        plain = ungrouped(text, separator)
        if plain is None:
            comma = ', or set decimal_separator = "," in the mapping' if "," in text else ""
            raise _Bad(
                cell,
                f"{name}: {_quoted(value)} does not group thousands by {separator!r} "
                f'(like 12{separator}345.50); a decimal point is "."{comma}',
            )
        return plain, cell

    def percent(self, row: Row, spec: FieldMap, name: str) -> tuple[str, Cell]:
        value, cell = self.required(row, spec, name)
        text = value.removesuffix("%").strip()
        if not _PERCENT.fullmatch(text):  # digits, a point: no exponent (1E+999999999)
            raise _Bad(cell, f"{name}: a percent like 50 or 50%, got {_quoted(value)}")
        return _plain(Decimal(text) / _HUNDRED), cell  # exact: a shift of the point


def _quoted(text: str) -> str:
    """A cell's text as a row's error quotes it (`shown`: cut when long, each
    control or invisible character escaped) — a message is printed on the
    terminal of whoever imports the file."""
    return f'"{shown(text)}"'


def _decimal_comma(value: str, text: str, thousands: str | None, cell: Cell, name: str) -> str:
    """``text`` (of the cell ``value``) as decimal text, read as a European
    export writes it: a decimal comma (``1234,50``), the mapping's thousands
    separator (``1.234.567,89``) taken out only where it groups thousands.
    Two decimal commas, a separator elsewhere (``1.23,50``) or a decimal point
    (``1234.50``: the column, or the file, is not written so) are a bad row,
    never an amount guessed."""
    whole, comma, fraction = text.partition(",")
    if "," in fraction:
        raise _Bad(
            cell,
            f"{name}: {_quoted(value)} has {text.count(',')} decimal commas (the mapping's "
            'decimal_separator is ","): which one is meant cannot be told',
        )
    plain = ungrouped(whole, thousands) if thousands else whole
    digits = not comma or (fraction.isascii() and fraction.isdigit())
    if plain is not None and _INTEGER.fullmatch(plain) and digits:
        return f"{plain}.{fraction}" if comma else plain
    if thousands is None and ungrouped(whole, ".") not in {None, whole}:
        why = 'it groups thousands by "."; set thousands_separator = "." in the mapping'
    elif "." in text and thousands != ".":
        why = 'it has a decimal point, where the mapping\'s decimal_separator is ","'
    elif plain is None:
        why = f"it does not group thousands by {thousands!r}"
    else:
        why = "it is no number"
    like = f"1{thousands}234,50" if thousands else "1234,50"
    raise _Bad(cell, f"{name}: {_quoted(value)} is not an amount written like {like}: {why}")


def _translated(f: ColumnField, raw: str, cell: Cell, name: str) -> str:
    if f.values is None:
        return raw
    if raw in f.values:
        return f.values[raw]
    known = ", ".join(repr(k) for k in f.values)
    raise _Bad(cell, f"{name}: {raw!r} is not in the mapping's values for it ({known})")


def _plain(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _moment(value: str, cell: Cell, name: str, formats: Sequence[str], zone: tzinfo | None) -> str:
    """A timestamp with an offset: ISO 8601 or one of the mapping's formats;
    one without an offset takes the mapping's timezone."""
    parsed = iso_moment(value)
    if parsed is None:
        parsed = _by_formats(value, cell, name, formats)
    if parsed is None:
        tried = ", ".join(["ISO 8601", *formats])
        raise _Bad(cell, f"{name}: {_quoted(value)} is not a date or time ({tried})")
    if parsed.tzinfo is None:
        if zone is None:
            raise _Bad(
                cell,
                f"{name}: {_quoted(value)} has no UTC offset; set timezone in the mapping "
                '(e.g. "+08:00")',
            )
        parsed = parsed.replace(tzinfo=zone)
    return parsed.isoformat()


def _by_formats(value: str, cell: Cell, name: str, formats: Sequence[str]) -> datetime | None:
    """``value`` read by the mapping's ``date_formats``: by the one that reads
    it as a moment of the ledger's years (2000-2199; another is the first that
    reads it at all, for the bounds to name). Two that read it as different
    moments — ``03/04/2026`` by ``%m/%d/%Y`` and ``%d/%m/%Y`` — are a bad row:
    it was read by the first listed, March or April by the order of the list,
    the next row's ``13/04/2026`` by the second, in another quarter."""
    read: dict[datetime, str] = {}
    for fmt in formats:
        try:
            moment = datetime.strptime(value, fmt)  # noqa: DTZ007 - zone applied after
        except ValueError:
            continue
        read.setdefault(moment, fmt)
    kept = {m: f for m, f in read.items() if FIRST_YEAR <= m.year <= LAST_YEAR}
    if len(kept) > 1:
        said = ", ".join(f"{m.isoformat()} by {f!r}" for m, f in kept.items())
        raise _Bad(
            cell,
            f"{name}: {_quoted(value)} reads as different dates by the mapping's date_formats "
            f"({said}): which is meant cannot be told; keep one of the formats, or export "
            "dates in ISO 8601 (2026-04-03)",
        )
    return next(iter(kept or read), None)


@dataclass
class _SaleGroup:
    first: Row
    line: Line
    values: dict[str, tuple[str | None, Cell]]
    splits: list[tuple[str, str, Cell, Cell]] = field(default_factory=list)
    cancellation: Line | None = None
    kind: Kind = "sale"  # its first row's: "sale" or "cancelled_sale"


def convert(table: Table, mapping: CrmMapping) -> Converted:
    """The import lines of ``table`` under ``mapping``, held whole."""
    with closing(Spill()) as spill:
        return convert_rows(table, table.rows, mapping, spill).held()


def convert_rows(
    sheet: Sheet, rows: Iterable[Row], mapping: CrmMapping, spill: Spill
) -> Conversion:
    """The import lines of ``rows`` (read once, as they come), kept in ``spill``.

    Two passes, neither holding more than a row or a sale: each row as it is
    read — its kind, and then an ignored row's sale, a cancellation's or a
    payment's line, or a sale's row kept for later —, then each sale from all
    its rows. A sale with a row that cannot be read is `Line.partial`: its
    line lacks that row."""
    errors: list[RowError] = []
    reader = _Reader(mapping, sheet, mapping.zone(), errors)
    reader.resolve_all()
    columns = {c.index: c for c in reader.columns.values()}
    kind_column = None
    if mapping.kind is not None and (name := as_field(mapping.kind).column) is not None:
        kind_column = reader.columns.get(name)
    conversion = Conversion(spill, errors, 0, 0, columns, kind_column)
    if errors:  # a column missing from the header: every row would say so
        conversion.rows = sum(1 for _ in rows)  # read through: a bad record is still named
        return conversion

    keep = _Kept(columns)
    spoiled: set[str] = set()  # sales with a row that could not be read
    ends = _Ends(tuple(text.strip().casefold() for text in mapping.footer))
    for row in rows:
        if _left_in_footer(reader, ends, row):
            continue
        conversion.rows += 1
        kind: Kind | None = None
        try:
            kind = _kind(reader, row)
            if kind == "ignore":
                conversion.ignored += 1
            _first_pass(reader, row, kind, spill, keep)
        except _Bad as bad:
            errors.append(RowError((bad.cell.row,), bad.cell.column, bad.reason))
            if kind in {None, "sale", "cancelled_sale"}:
                spoiled.add(_sale_id(reader, row) or "")
    for sale_id, members in spill.sale_groups():
        _sale(reader, sale_id, members, spill, spoiled)
    conversion.footer = ends.footer
    if ends.footer_like:
        errors[:] = _footers_named(errors, ends.footer_like, ends.last_plain, sheet)
    errors.sort(key=lambda e: e.rows[0])  # one a row: in the order of the rows
    return conversion


# What the first cell of a report's totals row, subtotal row or footer line
# says, as CRMs and spreadsheets write them (English and Chinese).
_FOOTER = re.compile(
    r"(?:(?:grand\s+|sub-?\s*)?totals?|sum|count|generated|created|exported|confidential"
    r"|copyright|report\s+(?:generated|run|date))\b|(?:©|\(c\)|合计|总计|小计|汇总|共计|导出|生成|制表)",
    re.IGNORECASE,
)


@dataclass
class _Ends:
    """Where the rows end: the mapping's footer (``starts``: the texts its
    first row's first cell starts with, case aside), and the rows that read as a
    report's totals or footer line (`_FOOTER`), for the errors to name so."""

    starts: tuple[str, ...]
    footer: Footer | None = None
    footer_like: dict[int, tuple[int, str]] = field(default_factory=dict)
    last_plain: int = 0  # the last row that reads as no footer's

    def in_footer(self, row: Row) -> bool:
        """Whether ``row`` is in the mapping's footer (and so not read)."""
        first = _first_text(row)
        if self.footer is not None:
            self.footer = replace(self.footer, last=row.number)
            return True
        if first is not None and self.starts and first[1].casefold().startswith(self.starts):
            self.footer = Footer(row.number, first[1], row.number)
            return True
        if first is not None and _FOOTER.match(first[1]):
            self.footer_like[row.number] = first
        else:
            self.last_plain = row.number
        return False


def _left_in_footer(reader: _Reader, ends: _Ends, row: Row) -> bool:
    """Whether ``row`` is in the mapping's footer, left unread — refused
    (`_data_in_footer`) when it reads as data."""
    if not ends.in_footer(row):
        return False
    assert ends.footer is not None
    if (data := _data_in_footer(reader, row, ends.footer)) is not None:
        reader.errors.append(data)
    return True


def _data_in_footer(reader: _Reader, row: Row, footer: Footer) -> RowError | None:
    """A row of the mapping's footer that reads as a data row, refused, or None.

    The footer is trusted by its first cell's text alone: a sale whose id
    starts with it (``Total-Care-7``), or a subtotal line amid the data
    (``footer = ["Total"]`` meeting a grouped report's first "Total"), left
    every row from there on unread — sales gone from the import, saying only
    that a footer was left. A row reads as data when its kind cell is one of
    the mapping's kinds (even ``ignore``: the rows under it are the report's
    rows), or, with no kind column, when it names a sale id and a date."""
    mapping = reader.mapping
    if mapping.kind is not None:
        try:
            kind = _kind(reader, row)
        except _Bad:
            return None
        column = reader.columns.get(as_field(mapping.kind).column or "")
        what = f"its kind is {kind}"
    else:
        spec = mapping.sale
        assert spec is not None, "a mapping without kinds reads sales"
        try:
            sale_id, cell = reader.required(row, spec.id, "sale.id")
            when, _ = reader.moment(row, spec.date, "sale.date")
        except _Bad:
            return None
        column = cell.column
        what = f"it names sale {sale_id!r}, dated {when}"
    return RowError(
        (row.number,),
        column,
        f"the row reads as data ({what}), but the mapping's footer, which starts at row "
        f'{footer.row} ("{footer.text[:80]}"), would leave it unread: a footer text amid the '
        "data, or a row whose first cell starts with it; say in footer how the footer's "
        "first cell starts more fully, or delete the rows that are no data, so that no row "
        "of data is left",
    )


def _first_text(row: Row) -> tuple[int, str] | None:
    """The first cell of ``row`` that is not blank: its column and text."""
    return next(((i, c.strip()) for i, c in enumerate(row.cells) if c.strip()), None)


def _footers_named(
    errors: list[RowError], footer_like: dict[int, tuple[int, str]], last_plain: int, sheet: Sheet
) -> list[RowError]:
    """``errors``, a bad row that reads as a report's totals or footer line
    (``footer_like``: its first cell, `_FOOTER`) named as one — what it is and
    what to do — in place of what its cells lack (a date, an owner), once.
    Rows below every other row (``last_plain``) are the report's footer,
    which the mapping's ``footer`` can leave unread; one above is a subtotal
    line of a grouped report, which only the export can leave out."""
    named: list[RowError] = []
    seen: set[int] = set()
    for error in errors:
        number = error.rows[0] if len(error.rows) == 1 else None
        if number not in footer_like:
            named.append(error)
            continue
        if number in seen:
            continue
        seen.add(number)
        index, text = footer_like[number]
        said = _FOOTER.match(text)
        assert said is not None
        if number > last_plain:
            what = "the report's footer (its totals, or a line about the report)"
            how = (
                "export the report without totals and footer lines (details only), or "
                f"delete the row, or say in the mapping where the footer starts "
                f'(footer = ["{said[0]}"]), so that no row from it on is read'
            )
        else:
            what = "a total or subtotal line of the report (a grouped report's)"
            how = "export the report's details only, without subtotals, or delete the row"
        name = sheet.header[index] if index < len(sheet.header) else ""
        reason = f'the row reads as {what}, not as data ("{text[:80]}"): {how}'
        named.append(
            RowError((number,), Column(name.strip(), index), f"{reason}; as a row: {error.reason}")
        )
    return named


def _first_pass(reader: _Reader, row: Row, kind: Kind, spill: Spill, keep: _Kept) -> None:
    """A row as it is read: an ignored row's sale, a cancellation's or a
    payment's line, or a sale's row kept until all its rows are read. A row
    hidden in the workbook, or a CSV row whose cells run past the header's
    (shifted by a delimiter in a value), is refused, unless ignored: it
    stores nothing."""
    if row.hidden and kind != "ignore":
        raise _Bad(Cell(row.number, None), _HIDDEN)
    if row.overflow is not None and kind != "ignore":  # its cells are shifted
        raise _Bad(Cell(row.number, None), row.overflow)
    if kind == "ignore":
        ignored = _ignored(reader, row)
        if ignored is not None:
            spill.add_ignored(ignored.row, ignored.sale_id, ignored.said)
    elif kind in {"sale", "cancelled_sale"}:
        spill.add_sale_row(_group(reader, row), kind, keep(row))
    elif kind == "cancellation":
        _keep(spill, CANCELLATION, row.number, _cancellation(reader, row))
    else:
        _keep(spill, PAYMENT, row.number, _payment(reader, row))


def _sale(
    reader: _Reader,
    sale_id: str,
    members: list[tuple[str, Row]],
    spill: Spill,
    spoiled: set[str],
) -> None:
    """Convert one sale from all its rows (kind, row), in order; its line and
    its cancellation's kept in their places (the row that made each)."""
    sales: dict[str, _SaleGroup] = {}
    cancellations: list[Line] = []
    for kind, row in members:
        try:
            _row(
                reader,
                row,
                cast("Kind", kind),
                sales=sales,
                cancellations=cancellations,
                payments=[],
            )
        except _Bad as bad:
            reader.errors.append(RowError((bad.cell.row,), bad.cell.column, bad.reason))
            spoiled.add(sale_id)
    for group in sales.values():  # one at most: its rows all name it
        group.line.partial = sale_id in spoiled
        _keep(spill, SALE, group.first.number, _with_splits(group))
    for line in cancellations:
        _keep(spill, CANCELLATION, line.rows[0], line)


def _keep(spill: Spill, section: int, row: int, line: Line) -> None:
    """Keep a line in ``spill`` at its place, ``row`` in ``section``; with it,
    the cells each field came from (by column index: -1 for none)."""
    origins = {
        name: [(c.row, -1 if c.column is None else c.column.index) for c in cells]
        for name, cells in line.origins.items()
    }
    spill.add_line(
        section, row, json.dumps(line.data, ensure_ascii=False), (origins, line.rows, line.partial)
    )
    if section == CANCELLATION:
        spill.add_cancelled(line.data["sale_id"])


class _Kept:
    """A row as a sale's row waits: the cells the mapping reads (the rest
    blank, and none after the last it reads)."""

    def __init__(self, columns: dict[int, Column]) -> None:
        self._read = frozenset(columns)
        self._width = max(columns, default=-1) + 1

    def __call__(self, row: Row) -> Row:
        cells = tuple(
            cell if index in self._read else ""
            for index, cell in enumerate(row.cells[: self._width])
        )
        unreadable = tuple((i, why) for i, why in row.unreadable if i in self._read)
        numbers = row.numbers & self._read if row.numbers else row.numbers
        return Row(row.number, cells, unreadable, row.hidden, numbers=numbers)


def _group(reader: _Reader, row: Row) -> str:
    """The sale a sale's row belongs to; one whose id cannot be read is
    refused as converting it would refuse it."""
    sale_id = _sale_id(reader, row)
    if sale_id is None:
        spec = reader.mapping.sale
        assert spec is not None
        sale_id, _ = reader.required(row, spec.id, "sale.id")  # raises
    return sale_id


def _sale_id(reader: _Reader, row: Row) -> str | None:
    """The sale id a row names, if its cell can be read (None: it cannot)."""
    spec = reader.mapping.sale
    if spec is None:
        return None
    try:
        return reader.text(row, spec.id, "sale.id")[0]
    except _Bad:
        return None


def _ignored(reader: _Reader, row: Row) -> IgnoredRow | None:
    """The sale an ignored row names, if its id cell can be read (an ignored
    row is not checked: an open deal need not have all its cells yet)."""
    sale_id = _sale_id(reader, row)
    if sale_id is None or reader.mapping.kind is None:
        return None
    said, cell = reader.text(row, reader.mapping.kind, "kind")  # read already by _kind
    return IgnoredRow(row.number, sale_id, said or "", cell.column)


def _row(
    reader: _Reader,
    row: Row,
    kind: Kind,
    *,
    sales: dict[str, _SaleGroup],
    cancellations: list[Line],
    payments: list[Line],
) -> None:
    """The lines of one row of ``kind``, added where they go."""
    if kind in {"sale", "cancelled_sale"}:
        group = _sale_row(reader, row, sales)
        if group.first is row:
            group.kind = kind
        elif kind != group.kind:  # one split row cancelled, another not: which is it?
            assert reader.mapping.kind is not None, "two kinds of row need a kind column"
            _, cell = reader.text(row, reader.mapping.kind, "kind")
            said, other = "cancelled", "not cancelled"
            if group.kind != "cancelled_sale":
                said, other = other, said
            raise _Bad(
                cell,
                f"this row repeats sale {group.values['sale_id'][0]} of row "
                f"{group.first.number}, which is {said}, but this row says it is {other}",
            )
        if kind == "cancelled_sale":
            cancellation = _cancellation(reader, row)
            if group.cancellation is None:
                group.cancellation = cancellation
                cancellations.append(cancellation)
            else:
                _same_cancellation(group, cancellation)
    elif kind == "cancellation":
        cancellations.append(_cancellation(reader, row))
    else:
        payments.append(_payment(reader, row))


def _kind(reader: _Reader, row: Row) -> Kind:
    mapping = reader.mapping
    if mapping.kind is None:
        return "sale"
    value, cell = reader.text(row, mapping.kind, "kind")
    kind = mapping.kinds.get(value or "")
    if kind is None:
        known = ", ".join(repr(k) for k in mapping.kinds)
        raise _Bad(
            cell, f"kind: {value or '(empty)'!r} is not in the mapping's kinds table ({known})"
        )
    return kind


def _envelope(type_: str, occurred_at: str, mapping: CrmMapping) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type_, "occurred_at": occurred_at}
    if mapping.actor is not None:
        data["actor"] = mapping.actor
    return data


def _sale_row(reader: _Reader, row: Row, sales: dict[str, _SaleGroup]) -> _SaleGroup:
    spec = reader.mapping.sale
    assert spec is not None
    values: dict[str, tuple[str | None, Cell]] = {
        "sale_id": reader.required_id(row, spec.id, "sale.id"),
        "occurred_at": reader.moment(row, spec.date, "sale.date"),
        "rep_id": reader.owner(row, spec.owner, "sale.owner"),
        "amount": reader.money(row, spec.amount, "sale.amount"),
        "currency": reader.required(row, spec.currency, "sale.currency"),
        "category": reader.identifier(row, spec.category, "sale.category"),
        "customer_id": reader.identifier(row, spec.customer, "sale.customer"),
    }
    split = None
    if spec.split_owner is not None and spec.split_percent is not None:
        owner_text, owner_cell = reader.text(row, spec.split_owner, "sale.split_owner")
        if owner_text is not None:
            rep_id, owner_cell = reader.owner(row, spec.split_owner, "sale.split_owner")
            share, share_cell = reader.percent(row, spec.split_percent, "sale.split_percent")
            split = (rep_id, share, owner_cell, share_cell)
    sale_id = values["sale_id"][0]
    assert sale_id is not None
    group = sales.get(sale_id)
    if group is None:
        line = Line(_envelope("SaleRecorded", str(values["occurred_at"][0]), reader.mapping))
        group = _SaleGroup(row, line, values)
        sales[sale_id] = group
    else:
        _same_sale(group, values)
    group.line.rows.append(row.number)
    if split is not None:
        group.splits.append(split)
    return group


def _same_sale(group: _SaleGroup, values: dict[str, tuple[str | None, Cell]]) -> None:
    """The rows of one split sale repeat the sale: they must say the same."""
    for name, (value, cell) in values.items():
        first, _ = group.values[name]
        if value != first:
            raise _Bad(
                cell,
                f"this row repeats sale {group.values['sale_id'][0]} of row "
                f"{group.first.number} but its {name} differs ({value!r}, not {first!r})",
            )


def _same_cancellation(group: _SaleGroup, cancellation: Line) -> None:
    """The split rows of one cancelled sale repeat its cancellation (its date
    decides the clawback): they must say the same."""
    first = group.cancellation
    assert first is not None
    for name, value in cancellation.data.items():
        if value != first.data.get(name):
            cells = cancellation.origins.get(name) or [Cell(cancellation.rows[0], None)]
            raise _Bad(
                cells[0],
                f"this row repeats the cancellation of sale {group.values['sale_id'][0]} of "
                f"row {group.first.number} but its {name} differs "
                f"({value!r}, not {first.data.get(name)!r})",
            )


def _with_splits(group: _SaleGroup) -> Line:
    """A sale's line: its fields, and its splits unless it is wholly its owner's."""
    line = group.line
    for name, (value, cell) in group.values.items():
        if value is not None and name != "occurred_at":
            line.data[name] = value
        line.origins[name] = [cell]
    rep_id = line.data["rep_id"]
    lone_own = len(group.splits) == 1 and group.splits[0][0] == rep_id
    if group.splits and not (lone_own and Decimal(group.splits[0][1]) == 1):
        line.data["splits"] = [{"rep_id": r, "share": s} for r, s, _, _ in group.splits]
        line.origins["splits"] = [c for _, _, _, c in group.splits]
        for i, (_, _, owner_cell, share_cell) in enumerate(group.splits):
            line.origins[f"splits[{i}].rep_id"] = [owner_cell]
            line.origins[f"splits[{i}].share"] = [share_cell]
    return line


def _cancellation(reader: _Reader, row: Row) -> Line:
    spec = reader.mapping.cancellation
    assert spec is not None
    return _row_line(
        reader,
        row,
        "SaleCancelled",
        {
            "sale_id": reader.required_id(row, spec.id, "cancellation.id"),
            "occurred_at": reader.moment(row, spec.date, "cancellation.date"),
            "reason": reader.required(row, spec.reason, "cancellation.reason"),
        },
    )


def _payment(reader: _Reader, row: Row) -> Line:
    spec = reader.mapping.payment
    assert spec is not None
    return _row_line(
        reader,
        row,
        "PaymentReceived",
        {
            "payment_id": reader.required_id(row, spec.id, "payment.id"),
            "sale_id": reader.required_id(row, spec.sale, "payment.sale"),
            "occurred_at": reader.moment(row, spec.date, "payment.date"),
            "amount": reader.money(row, spec.amount, "payment.amount"),
        },
    )


def _row_line(reader: _Reader, row: Row, type_: str, fields: dict[str, tuple[str, Cell]]) -> Line:
    """The line of an event read from one row: ``fields``, each value with the
    cell it was read from (``occurred_at`` goes in the envelope)."""
    line = Line(_envelope(type_, fields["occurred_at"][0], reader.mapping), rows=[row.number])
    line.data |= {name: value for name, (value, _) in fields.items() if name != "occurred_at"}
    line.origins = {name: [cell] for name, (_, cell) in fields.items()}
    return line
