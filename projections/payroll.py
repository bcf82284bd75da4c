"""Payroll files out: a payout run's exported rows written as CSV or xlsx, in
the SPEC §5 columns or in a payroll system's own layout (TOML).

A layout names its columns in order, each holding one value of a row —
employee number, earning code, amount, currency, period, run id, chain head,
... — and says how reps are employee numbers and line kinds earning codes::

    rows = "lines"                       # a row per statement line; "reps": one per rep
    columns = [ { header = "EmpNo", value = "employee_number" },
                { header = "Code", value = "earning_code" },
                { header = "Amount", value = "amount" },
                { header = "Company", text = "ACME-CN" } ]
    [employees]
    rep-li = "100234"
    [earning_codes]
    commission = "E110"
    bonus = "E120"

A payroll file pays: with a layout it is made only of approved or paid runs,
a rep whose payable is 0 (a negative total is carried into the next period,
where it is a line of its own) has no rows, nor has a rep-period another run
paid first, and a rep's rows sum to its payable. A run paying in more than
one currency needs a layout with a ``currency`` column. A rep without an employee
number, or a line kind without an earning code, is refused naming it (when
the layout has the table; without one the rep id and the kind are used).

Reproducible: the same run gives the same bytes. The file is a function of
the run's recorded statements and status; the xlsx workbook's document
properties carry the run's recorded time (never the time of export) and its
zip entries a fixed date, in a fixed order.

The CSV is UTF-8 without a byte-order mark, the bytes payroll systems read,
unless another of `CSV_ENCODINGS` is asked for: ``utf-8-sig`` (Excel's "CSV
UTF-8": the mark makes Excel read UTF-8, where it shows a file without one
in the system's code page, the reps' Chinese names garbled) or ``gb18030``
(the code page of Excel's "CSV" on Chinese Windows, and of Chinese payroll
systems' imports). Each encodes every character a name may hold, so no name
is lost; only the encoding of the same text differs.

Money is exact in both: the CSV writes an amount's decimal text, the workbook
its number, shown with its currency's decimals (ISO 4217: none for JPY, three
for KWD), or with all of its own when it has more — a payroll clerk reads
what is shown, and a workbook saved again as CSV saves it.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
import unicodedata
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ledger.errors import InvalidInputError
from policies.money import decimal_places, minor_units

__all__ = [
    "CSV_ENCODINGS",
    "STANDARD_COLUMNS",
    "XLSX_MEDIA_TYPE",
    "CsvEncoding",
    "ExportedStatement",
    "LayoutError",
    "Money",
    "PayrollLayout",
    "RunExport",
    "load_layout",
    "payroll_table",
    "standard_table",
    "to_csv",
    "to_xlsx",
]

# The encodings a CSV payroll file is written in (module docstring), the first the default.
CsvEncoding = Literal["utf-8", "utf-8-sig", "gb18030"]
CSV_ENCODINGS: tuple[CsvEncoding, ...] = ("utf-8", "utf-8-sig", "gb18030")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The SPEC §5 export's columns (`Reports.export_csv` is this table as CSV).
STANDARD_COLUMNS = (
    "run_id",
    "period",
    "rep_id",
    "rep_name",
    "currency",
    "total",
    "payable",
    "statement_sha256",
    "chain_position",
    "chain_hash",
    "status",
)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry
_PAYS = frozenset({"approved", "paid"})


@dataclass(frozen=True)
class Money:
    """An amount in its currency: a cell of a payroll file."""

    amount: Decimal
    currency: str


Cell = str | int | Money
Value = Literal[
    "employee_number",
    "rep_id",
    "rep_name",
    "earning_code",
    "line_kind",
    "amount",
    "currency",
    "period",
    "run_id",
    "chain_position",
    "chain_hash",
    "chain_head",
    "statement_sha256",
    "status",
]


@dataclass(frozen=True)
class ExportedStatement:
    """One rep's statement as the run recorded it."""

    rep_id: str
    rep_name: str
    currency: str
    total: Decimal
    payable: Decimal
    sha256: str
    status: str  # the run's status, or "duplicate of RUN" when another run paid it first
    lines: tuple[tuple[str, Decimal], ...]  # (kind, signed amount)


@dataclass(frozen=True)
class RunExport:
    """The rows of a payout run, as `Reports.export_rows` reads them."""

    run_id: str
    period: str
    status: str
    recorded_at: str
    chain_position: int
    chain_hash: str
    statements: tuple[ExportedStatement, ...]


class LayoutError(ValueError):
    """A layout that cannot be used, naming its key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LayoutColumn(_Strict):
    """A column: its header, and the value it holds (or a fixed ``text``)."""

    header: str = Field(min_length=1)
    value: Value | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _one(self) -> LayoutColumn:
        if (self.value is None) == (self.text is None):
            raise ValueError("give exactly one of value (from the run) or text (fixed)")
        return self


class PayrollLayout(_Strict):
    """A payroll system's file layout (module docstring)."""

    name: str | None = None
    rows: Literal["lines", "reps"] = "lines"
    # a sheet name as Excel allows it: 1 to 31 characters, and no brackets, colon,
    # asterisk, question mark or slashes
    sheet: str = Field(default="Payroll", pattern=r"^[^\[\]:*?/\\]{1,31}$")
    columns: list[LayoutColumn] = Field(min_length=1)
    employees: dict[str, str] = Field(default_factory=dict)  # rep id -> employee number
    earning_codes: dict[str, str] = Field(default_factory=dict)  # line kind -> code


def load_layout(text: str, *, source: str = "layout") -> PayrollLayout:
    """Parse and validate a layout; a `LayoutError` names the key and why."""
    try:
        return PayrollLayout.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise LayoutError(f"{source}: not TOML: {exc}") from None
    except RecursionError:  # SPEC §7: never a traceback
        raise LayoutError(f"{source}: not a layout: TOML nested too deeply") from None
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: "
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise LayoutError(f"{source}: " + "; ".join(problems)) from None


def standard_table(run: RunExport) -> tuple[tuple[str, ...], list[tuple[Cell, ...]]]:
    """The SPEC §5 export: a row per rep, the columns of `STANDARD_COLUMNS`."""
    rows: list[tuple[Cell, ...]] = [
        (
            run.run_id,
            run.period,
            s.rep_id,
            s.rep_name,
            s.currency,
            Money(s.total, s.currency),
            Money(s.payable, s.currency),
            s.sha256,
            run.chain_position,
            run.chain_hash,
            s.status,
        )
        for s in run.statements
    ]
    return STANDARD_COLUMNS, rows


def payroll_table(
    run: RunExport, layout: PayrollLayout
) -> tuple[tuple[str, ...], list[tuple[Cell, ...]]]:
    """A run in a payroll layout: only what it pays (module docstring)."""
    if run.status not in _PAYS:
        raise InvalidInputError(
            f"payout run {run.run_id} is {run.status}: a payroll file is made of an "
            "approved or paid run",
            field="run_id",
        )
    header = tuple(c.header for c in layout.columns)
    _one_currency_or_said(run, layout)
    rows: list[tuple[Cell, ...]] = []
    for s in _paying(run):
        assert s.payable == s.total, "a positive total is what is payable"
        assert sum((a for _, a in s.lines), Decimal(0)) == s.total, "SPEC §3: total = Σ lines"
        employee = _employee(layout, s.rep_id)
        if layout.rows == "reps":
            items = [("payable", s.payable)]
        else:
            items = [(kind, amount) for kind, amount in s.lines if amount != 0]
        for kind, amount in items:
            values: dict[str, Cell] = {
                "employee_number": employee,
                "rep_id": s.rep_id,
                "rep_name": s.rep_name,
                "earning_code": _earning_code(layout, kind),
                "line_kind": kind,
                "amount": Money(amount, s.currency),
                "currency": s.currency,
                "period": run.period,
                "run_id": run.run_id,
                "chain_position": run.chain_position,
                "chain_hash": run.chain_hash,
                "chain_head": f"{run.chain_position}:{run.chain_hash}",
                "statement_sha256": s.sha256,
                "status": s.status,
            }
            rows.append(
                tuple(
                    values[c.value] if c.value is not None else str(c.text) for c in layout.columns
                )
            )
    return header, rows


def _paying(run: RunExport) -> list[ExportedStatement]:
    """The run's statements a payroll file pays: approved or paid, payable above 0."""
    return [s for s in run.statements if s.payable > 0 and s.status in _PAYS]


def _one_currency_or_said(run: RunExport, layout: PayrollLayout) -> None:
    """Refuse a layout without a ``currency`` column for a run paying in more
    than one currency: its amounts — 100 JPY beside 100 CNY — would reach the
    payroll system as numbers of one currency, with nothing to tell them apart."""
    paid = {s.currency for s in _paying(run)}
    if len(paid) <= 1 or any(c.value == "currency" for c in layout.columns):
        return
    column = '{ header = "Currency", value = "currency" }'
    why = f"pays in {', '.join(sorted(paid))}, and the layout has no currency column"
    raise InvalidInputError(
        f"payout run {run.run_id} {why}: add one ({column}), so no amount is read in another "
        "currency",
        field="layout.columns",
    )


def _employee(layout: PayrollLayout, rep_id: str) -> str:
    return _looked_up(layout.employees, rep_id, "employees", "employee number for rep")


def _earning_code(layout: PayrollLayout, kind: str) -> str:
    return _looked_up(layout.earning_codes, kind, "earning_codes", "code for line kind")


def _looked_up(table: Mapping[str, str], key: str, name: str, what: str) -> str:
    """``key`` as the layout's table ``name`` maps it; ``key`` itself when the
    layout has no such table, an error naming it when the table lacks ``key``."""
    if not table:
        return key
    if key not in table:
        raise InvalidInputError(
            f"the layout's [{name}] table has no {what} {key}",
            field=f"layout.{name}",
        )
    return table[key]


def to_csv(header: tuple[str, ...], rows: list[tuple[Cell, ...]]) -> str:
    """CSV, ``\\n`` line ends; money as decimal text, text never a formula —
    a layout's header (an admin's words) neither, as the workbook's is not."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_text(name) for name in header])
    for row in rows:
        writer.writerow([_text(v) for v in row])
    return buffer.getvalue()


# What a CSV cell never holds raw: control characters (C0 but the tab and the
# line feed, which the writer quotes; DEL; C1) and the Unicode line and
# paragraph separators, which some readers take for line ends.
_CSV_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _text(value: Cell) -> str:
    """A cell of a CSV payroll file, never read as a formula by a spreadsheet
    (OWASP "CSV injection": a leading ``=``, ``+``, ``-``, ``@``, tab, CR or LF,
    as `_formula_like` finds them, is written after an apostrophe)
    and never split across rows: a CR is written as a line feed, which the
    writer quotes like any line end in a cell (it quoted only its own ``\n``,
    so a name holding a CR broke the row in two, the second free to be a
    formula). Any other control character — a NUL in a name the ledger took
    before names were checked for them — is written as U+FFFD, the
    replacement character, as the xlsx export does (`_xlsx_text`): payroll
    systems stop reading at a NUL or take a separator for a row's end.
    Numbers are written as they are (a negative amount stays a number)."""
    if not isinstance(value, str):
        return format(value.amount, "f") if isinstance(value, Money) else str(value)
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    if not text.isascii() or not text.isprintable():
        text = _CSV_CONTROL.sub("\ufffd", text)
    return f"'{text}" if _formula_like(text) else text


# What a spreadsheet takes for the start of a formula, once a character's
# compatibility form is taken (`_formula_like`).
_FORMULA_STARTS = frozenset("=+-@")


def _formula_like(text: str) -> bool:
    """Whether a spreadsheet opening the CSV may read ``text`` as a formula: it
    starts with a tab or a line end, or — after any whitespace, which
    LibreOffice, Google Sheets and CSV-to-xlsx converters strip before
    they look (a name `` =HYPERLINK(...)``, or after the ideographic space
    U+3000) — with ``=``, ``+``, ``-`` or ``@``, or a full-width or small
    form of one (``＝``, ``＋``, ``－``, ``＠``, ``﹦``: Excel in an East Asian
    locale reads ``＝cmd|...`` as a formula, as reported to OWASP for a
    Japanese one — the reps' names here are Chinese)."""
    if text[:1] in {"\t", "\n"}:
        return True
    first = text.lstrip()[:1]
    return unicodedata.normalize("NFKC", first) in _FORMULA_STARTS


# What XML 1.0 holds in no document, written or escaped: C0 controls but the
# tab and the line ends, lone surrogates, and U+FFFE and U+FFFF. openpyxl's
# own pattern (ILLEGAL_CHARACTERS_RE) knows only the controls, and a name
# holding U+FFFF — which is no control character, so the ledger takes it —
# made the whole workbook one no spreadsheet opens.
_XML_FORBIDS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xlsx_text(value: str) -> str:
    """Text an xlsx cell can hold: the characters XML forbids (a name holding
    U+0001 or U+FFFF, say, made the export fail or the file unreadable) as
    U+FFFD, the replacement character."""
    return _XML_FORBIDS.sub("\ufffd", value)


def to_xlsx(
    header: tuple[str, ...],
    rows: list[tuple[Cell, ...]],
    *,
    recorded_at: str,
    sheet: str = "Payroll",
    title: str = "",
) -> bytes:
    """An xlsx workbook of one sheet, the same bytes for the same input: money
    as numbers (exact: written from the Decimal's text) shown with the
    decimals of `_money_format`, text always text (never a formula: a
    layout's header neither), the document's times ``recorded_at``, and
    every zip entry dated 1980-01-01, in openpyxl's fixed order."""
    from openpyxl import Workbook  # noqa: PLC0415 - only xlsx exports pay for it
    from openpyxl.cell.cell import TYPE_STRING  # noqa: PLC0415
    from openpyxl.writer.excel import ExcelWriter  # noqa: PLC0415

    book = Workbook()
    worksheet = book.active
    assert worksheet is not None
    worksheet.title = sheet
    for number, given in enumerate([header, *rows], start=1):
        row = tuple(_xlsx_text(v) if isinstance(v, str) else v for v in given)
        worksheet.append([v.amount if isinstance(v, Money) else v for v in row])
        for index, value in enumerate(row, start=1):
            cell = worksheet.cell(number, index)
            if isinstance(value, str):
                cell.value = value
                cell.data_type = TYPE_STRING  # "=1+1" stays text, not a formula
            elif isinstance(value, Money):
                cell.number_format = _money_format(value)
    moment = datetime.fromisoformat(recorded_at)
    if moment.tzinfo is not None:  # the document's times are UTC, written without an offset
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    book.properties.created = moment.replace(microsecond=0)
    book.properties.modified = moment.replace(microsecond=0)
    book.properties.creator = "incentive-ledger"
    book.properties.lastModifiedBy = "incentive-ledger"
    book.properties.title = title
    raw = io.BytesIO()
    # The writer itself, not `Workbook.save`: that stamps "modified" with the clock.
    ExcelWriter(book, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)).save()
    return _fixed_zip(raw.getvalue())


def _money_format(money: Money) -> str:
    """An amount's number format: thousands grouped, and as many decimals as
    its currency has (ISO 4217 minor units: ``1,000`` JPY, ``1.505`` KWD),
    or as the amount has when it has more (a JPY line of ``50.05``): a
    display that rounded would pay, once saved as CSV, what it shows."""
    places = max(minor_units(money.currency), decimal_places(money.amount))
    return "#,##0." + "0" * places if places else "#,##0"


def _fixed_zip(data: bytes) -> bytes:
    """The same zip with every entry dated `_ZIP_DATE` (the writer stamps the time)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()
