"""CRM exports in: an opportunity or order export (CSV or xlsx) and a mapping
(TOML) become SPEC §2 import lines, fed through the ledger's one JSON Lines
import — so every validation and the whole-file-or-nothing rule hold as for
JSON Lines — with each bad row named by its row number and column.

`mapping` is the mapping's schema, `readers` reads the file, `convert` turns
rows into lines that remember their cells; this module runs the import and
names the pipeline's (line, field) errors back as (row, column).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.application import Ledger, RecordResult
from ledger.crm.convert import Converted, IgnoredRow, Line, RowError, convert
from ledger.crm.mapping import CrmMapping, MappingError, load_mapping
from ledger.crm.readers import SUFFIXES, Column, ReadError, Table, read_table
from ledger.errors import BatchRejectedError, InvalidInputError, LineError, RejectedError
from ledger.ingestion.parse import parse_line
from policies.pay_warnings import PayWarning

__all__ = [
    "SUFFIXES",
    "CrmImport",
    "CrmMapping",
    "CrmRejectedError",
    "IgnoredSale",
    "MappingError",
    "ReadError",
    "RowError",
    "import_export",
    "load_mapping",
    "prepare",
]


class CrmRejectedError(RejectedError[RowError], InvalidInputError):
    """A CRM export had bad rows; nothing was stored. Each is named by row and column."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(
            errors, f"{len(errors)} bad row(s); nothing was stored. First: {errors[0]}"
        )


@dataclass(frozen=True)
class IgnoredSale:
    """Warning ``ignored_row_of_stored_sale``: rows the mapping ignores (a
    deal now shown as lost) whose sale is stored and not cancelled. Ignoring
    a row takes nothing back — the sale and its commission stay — and the
    import does not guess a cancellation (its date and reason are facts the
    CRM must give): it says so, for someone to record one."""

    CODE = "ignored_row_of_stored_sale"

    rows: tuple[int, ...]
    sale_id: str
    said: tuple[str, ...]  # what the rows' kind cells say: "Closed Lost"
    column: Column | None  # the kind column

    def __str__(self) -> str:
        rows = ", ".join(str(r) for r in self.rows)
        where = f"row{'s' if len(self.rows) > 1 else ''} {rows}"
        if self.column is not None:
            where += f", {self.column}"
        said = " / ".join(repr(s) for s in self.said)
        return (
            f"{where}: sale {self.sale_id} is stored and not cancelled, but this export says "
            f"{said}, which the mapping ignores: the sale and its commission stay; to take "
            "it back, record its cancellation"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.CODE,
            "rows": list(self.rows),
            "column": None if self.column is None else self.column.name,
            "values": {"sale_id": self.sale_id, "said": list(self.said)},
            "text": str(self),
        }


@dataclass(frozen=True)
class CrmImport:
    """What an import of an export did: the pipeline's result, the rows read
    and ignored, the encoding it was read in, each warning at its row, and
    the ignored rows whose sale is stored and not cancelled."""

    result: RecordResult
    rows: int
    ignored: int
    lines: int
    encoding: str | None
    warnings: list[tuple[tuple[int, ...], str | None, PayWarning]]
    ignored_sales: list[IgnoredSale] = field(default_factory=list)


def prepare(
    path: Path, mapping: CrmMapping, *, encoding: str | None = None
) -> tuple[Table, Converted]:
    """Read ``path`` and convert its rows: the table and its import lines, or
    `CrmRejectedError` naming every bad row the mapping or the lines' own
    validation finds (`ReadError`: the file, or an export with no rows)."""
    table = read_table(
        path,
        encoding=encoding,
        otherwise=mapping.encoding,
        delimiter=mapping.delimiter,
        sheet=mapping.sheet,
        header_row=mapping.header_row,
    )
    if not table.rows:
        # as an empty JSON Lines file is refused: a header alone is most often
        # a download cut short or a report filtered to nothing, not "no sales"
        raise ReadError(
            f"{path.name} holds no rows under its header (row {table.header_row}: a download "
            "cut short, or a report filtered to nothing?); nothing was stored"
        )
    converted = convert(table, mapping)
    if converted.errors:
        errors = [*converted.errors, *_invalid_lines(converted)]
        raise CrmRejectedError(sorted(errors, key=_order))
    return table, converted


def _invalid_lines(converted: Converted) -> list[RowError]:
    """The validation errors of the lines that did convert (SPEC §2: every bad
    row named at once, not the next one on the next run): each line checked
    against its event's model, as the import pipeline's parse checks it —
    nothing stored, no store read. The rules that read the store (a known rep
    or sale, a conflict) wait for a file whose rows all convert: a cancelled
    sale whose sale row did not convert would be named as unknown. A line
    short of a row named already is left out (a split sale missing its bad
    split row would be named for shares that do not sum to 1)."""
    errors: list[LineError] = []
    for number, line in enumerate(converted.lines, start=1):
        if not line.partial:
            text = json.dumps(line.data, ensure_ascii=False)
            errors.extend(parse_line(text, line=number)[1])
    return _named(errors, converted.lines)


def import_export(
    ledger: Ledger,
    path: Path,
    mapping: CrmMapping,
    *,
    actor: str,
    encoding: str | None = None,
    max_line_bytes: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> CrmImport:
    """Import a CRM export: all of it, or — naming every bad row — nothing.

    Raises `ReadError` (the file), `CrmRejectedError` (its rows) or the
    ledger's own errors (a store that cannot be reached).
    """
    table, converted = prepare(path, mapping, encoding=encoding)
    ignored_sales = _ignored_sales(ledger, converted.ignored_sales)
    lines = converted.lines
    text = [json.dumps(line.data, ensure_ascii=False) for line in lines]
    extra: dict[str, Any] = {} if max_line_bytes is None else {"max_line_bytes": max_line_bytes}
    try:
        result = ledger.import_lines(
            text, actor=actor, on_progress=on_progress, parse_workers=0, **extra
        )
    except BatchRejectedError as exc:
        raise CrmRejectedError(sorted(_named(exc.errors, lines), key=_order)) from None
    warnings = []
    for number, warning in result.warnings:
        rows, column = lines[number - 1].where(warning.field)
        warnings.append((rows, None if column is None else str(column), warning))
    return CrmImport(
        result,
        rows=converted.rows,
        ignored=converted.ignored,
        lines=len(lines),
        encoding=table.encoding,
        warnings=warnings,
        ignored_sales=ignored_sales,
    )


def _ignored_sales(ledger: Ledger, ignored: list[IgnoredRow]) -> list[IgnoredSale]:
    """The ignored rows whose sale is stored already and not cancelled, one
    warning per sale (read before the import, so a store that fails the read
    stores nothing, rather than failing a command whose import was stored)."""
    live = ledger.uncancelled_sales(i.sale_id for i in ignored) if ignored else set()
    by_sale: dict[str, list[IgnoredRow]] = {}
    for row in ignored:
        if row.sale_id in live:
            by_sale.setdefault(row.sale_id, []).append(row)
    return [
        IgnoredSale(
            tuple(r.row for r in rows),
            sale_id,
            tuple(dict.fromkeys(r.said for r in rows)),
            rows[0].column,
        )
        for sale_id, rows in by_sale.items()
    ]


def _named(errors: list[LineError], lines: list[Line]) -> list[RowError]:
    """The pipeline's (line, field) errors as (rows, column)."""
    named = []
    for e in errors:
        if not 1 <= e.line <= len(lines):  # pragma: no cover - the pipeline names our lines
            named.append(RowError((), None, e.reason, e.field, e.status))
            continue
        rows, column = lines[e.line - 1].where(e.field)
        named.append(RowError(rows, column, e.reason, e.field, e.status))
    return named


def _order(error: RowError) -> tuple[int, int]:
    return (error.rows[0] if error.rows else 0, error.column.index if error.column else -1)
