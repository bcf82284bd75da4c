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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.application import Ledger, RecordResult
from ledger.crm.convert import Converted, Line, RowError, convert
from ledger.crm.mapping import CrmMapping, MappingError, load_mapping
from ledger.crm.readers import SUFFIXES, ReadError, Table, read_table
from ledger.errors import BatchRejectedError, InvalidInputError, LineError, RejectedError
from policies.pay_warnings import PayWarning

__all__ = [
    "SUFFIXES",
    "CrmImport",
    "CrmMapping",
    "CrmRejectedError",
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
class CrmImport:
    """What an import of an export did: the pipeline's result, the rows read
    and ignored, the encoding it was read in, and each warning at its row."""

    result: RecordResult
    rows: int
    ignored: int
    lines: int
    encoding: str | None
    warnings: list[tuple[tuple[int, ...], str | None, PayWarning]]


def prepare(
    path: Path, mapping: CrmMapping, *, encoding: str | None = None
) -> tuple[Table, Converted]:
    """Read ``path`` and convert its rows: the table and its import lines, or
    `CrmRejectedError` naming every row the mapping cannot read."""
    table = read_table(
        path,
        encoding=encoding or mapping.encoding,
        delimiter=mapping.delimiter,
        sheet=mapping.sheet,
        header_row=mapping.header_row,
    )
    converted = convert(table, mapping)
    if converted.errors:
        raise CrmRejectedError(sorted(converted.errors, key=_order))
    return table, converted


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
    )


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
