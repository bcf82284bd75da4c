"""CRM exports in: an opportunity or order export (CSV or xlsx) and a mapping
(TOML) become SPEC §2 import lines, fed through the ledger's one JSON Lines
import — so every validation and the whole-file-or-nothing rule hold as for
JSON Lines — with each bad row named by its row number and column.

`mapping` is the mapping's schema, `readers` reads the file, `convert` turns
rows into lines that remember their cells, `spill` keeps them on disk while it
does; this module runs the import and names the pipeline's (line, field)
errors back as (row, column).

An export is streamed as a JSON Lines file is (`import_export`): read once for
its encoding, then once more converting its rows, the lines kept on disk, then
fed to the import in order — the memory it takes does not grow with its rows.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ledger.application import Ledger, RecordResult
from ledger.crm.convert import (
    Conversion,
    Converted,
    Footer,
    IgnoredRow,
    Line,
    RowError,
    convert_rows,
)
from ledger.crm.mapping import CrmMapping, MappingError, load_mapping
from ledger.crm.readers import (
    SUFFIXES,
    Column,
    ReadError,
    ReadOptions,
    Sheet,
    Table,
    open_export,
    read_table,
)
from ledger.crm.spill import Spill
from ledger.errors import (
    BatchRejectedError,
    InvalidInputError,
    LineError,
    RejectedError,
    given_twice,
)
from ledger.ingestion.parse import parse_line
from policies.pay_warnings import PayWarning

__all__ = [
    "SUFFIXES",
    "CrmImport",
    "CrmMapping",
    "CrmRejectedError",
    "Footer",
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
    and ignored, the encoding it was read in, each warning at its row, the
    ignored rows whose sale is stored and not cancelled, and the rows left
    unread as the report's footer."""

    result: RecordResult
    rows: int
    ignored: int
    lines: int
    encoding: str | None
    warnings: list[tuple[tuple[int, ...], str | None, PayWarning]]
    ignored_sales: list[IgnoredSale] = field(default_factory=list)
    # the warnings of the lines the import led with (`import_export`'s
    # ``first``), by their line number (from 1)
    first_warnings: list[tuple[int, PayWarning]] = field(default_factory=list)
    footer: Footer | None = None  # the rows the mapping's footer left unread


def prepare(
    path: Path, mapping: CrmMapping, *, encoding: str | None = None
) -> tuple[Table, Converted]:
    """Read ``path`` and convert its rows, held whole (a small export's, or a
    test's: `import_export` streams): the table and its import lines, or
    `CrmRejectedError` naming every bad row the mapping or the lines' own
    validation finds (`ReadError`: the file, or an export with no rows)."""
    table = read_table(path, **_read_options(mapping, encoding))
    with closing(Spill()) as spill:
        conversion = convert_rows(table, table.rows, mapping, spill)
        _refuse_bad_rows(path, table, conversion)
        return table, conversion.held()


def _read_options(mapping: CrmMapping, encoding: str | None) -> ReadOptions:
    """How to read an export: ``--encoding`` and the mapping's settings."""
    return ReadOptions(
        encoding=encoding,
        otherwise=mapping.encoding,
        delimiter=mapping.delimiter,
        sheet=mapping.sheet,
        header_row=mapping.header_row,
    )


def _refuse_bad_rows(path: Path, sheet: Sheet, conversion: Conversion) -> None:
    """Refuse an export with no rows (`ReadError`), or with rows the mapping
    cannot read (`CrmRejectedError`, naming them and what else the lines'
    own validation finds)."""
    if not conversion.rows:
        # as an empty JSON Lines file is refused: a header alone is most often
        # a download cut short or a report filtered to nothing, not "no sales"
        raise ReadError(
            f"{path.name} holds no rows under its header (row {sheet.header_row}: a download "
            "cut short, or a report filtered to nothing?); nothing was stored"
        )
    if conversion.errors:
        errors = [*conversion.errors, *_invalid_lines(conversion.lines())]
        raise CrmRejectedError(sorted(errors, key=_order))


def _invalid_lines(lines: Iterable[Line]) -> list[RowError]:
    """The validation errors of the lines that did convert (SPEC §2: every bad
    row named at once, not the next one on the next run): each line checked
    against its event's model, as the import pipeline's parse checks it —
    nothing stored, no store read. The rules that read the store (a known rep
    or sale, a conflict) wait for a file whose rows all convert: a cancelled
    sale whose sale row did not convert would be named as unknown. A line
    short of a row named already is left out (a split sale missing its bad
    split row would be named for shares that do not sum to 1)."""
    named: list[RowError] = []
    for number, line in enumerate(lines, start=1):
        if not line.partial:
            text = json.dumps(line.data, ensure_ascii=False)
            named.extend(_named(parse_line(text, line=number)[1], {number: line}))
    return named


def import_export(
    ledger: Ledger,
    path: Path,
    mapping: CrmMapping,
    *,
    actor: str,
    encoding: str | None = None,
    max_line_bytes: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    keep_outcomes: bool = True,
    first: Sequence[str] = (),
) -> CrmImport:
    """Import a CRM export: all of it, or — naming every bad row — nothing.

    Streamed (module docstring): its lines wait on disk, not in memory, and
    go through one import (one transaction, as a JSON Lines file does).
    ``first``: import lines that go before the export's, in that same
    transaction (``import --plan``: the plan's publication, stored with the
    export or not at all); the result's counts include them, its outcomes
    and `CrmImport.first_warnings` number them from 1, and a refusal of any
    of them is a `BatchRejectedError` naming only those.
    ``keep_outcomes=False`` keeps only the counts in the result, as
    `Ledger.import_lines` does. Raises `ReadError` (the file),
    `CrmRejectedError` (its rows) or the ledger's own errors (a store that
    cannot be reached).
    """
    with closing(Spill()) as spill:
        with closing(open_export(path, **_read_options(mapping, encoding))) as export:
            conversion = convert_rows(export, export.rows, mapping, spill)
        _refuse_bad_rows(path, export, conversion)
        ignored_sales = _ignored_sales(ledger, conversion)
        extra: dict[str, Any] = {} if max_line_bytes is None else {"max_line_bytes": max_line_bytes}
        led = len(first)
        try:
            result = ledger.import_lines(
                _Led(first, conversion.texts()),
                actor=actor,
                on_progress=on_progress,
                keep_outcomes=keep_outcomes,
                parse_workers=0,
                **extra,
            )
        except BatchRejectedError as exc:
            if ahead := [e for e in exc.errors if e.line <= led]:
                raise BatchRejectedError(ahead) from None
            errors = [_led_off(e, led) for e in exc.errors]
            at = conversion.lines_at(
                {e.line for e in errors} | {e.twice[1] for e in errors if e.twice}
            )
            raise CrmRejectedError(sorted(_named(errors, at), key=_order)) from None
        at = conversion.lines_at({number - led for number, _ in result.warnings if number > led})
        warnings = []
        for number, warning in result.warnings:
            if number > led:
                rows, column = at[number - led].where(warning.field)
                warnings.append((rows, None if column is None else str(column), warning))
        return CrmImport(
            result,
            rows=conversion.rows,
            ignored=conversion.ignored,
            lines=spill.count,
            encoding=export.encoding,
            warnings=warnings,
            ignored_sales=ignored_sales,
            first_warnings=[(n, w) for n, w in result.warnings if n <= led],
            footer=conversion.footer,
        )


@dataclass(frozen=True)
class _Led:
    """``first``, then the export's lines: read again from the first by each
    iteration, as `Ledger.import_lines` reads again an input it can `seek`
    (after a dropped connection), as it reads the export's own."""

    first: Sequence[str]
    rest: Iterable[str]

    def __iter__(self) -> Iterator[str]:
        yield from self.first
        yield from self.rest

    def seek(self, offset: int) -> int:
        assert offset == 0, "read again from the first line only"
        return 0


_IGNORED_AT_ONCE = 5_000  # sales looked up in one read of the store


def _ignored_sales(ledger: Ledger, conversion: Conversion) -> list[IgnoredSale]:
    """The ignored rows whose sale is stored already and not cancelled, one
    warning per sale (read before the import, so a store that fails the read
    stores nothing, rather than failing a command whose import was stored;
    a few thousand sales at a time)."""
    live: set[str] = set()
    ids = conversion.ignored_sale_ids()
    while batch := list(itertools.islice(ids, _IGNORED_AT_ONCE)):
        live |= ledger.uncancelled_sales(batch)
    by_sale: dict[str, list[IgnoredRow]] = {}
    if live:
        for row in conversion.ignored_sales():
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


def _led_off(error: LineError, led: int) -> LineError:
    """``error`` of the export's lines numbered from its first (``led``
    lines went before them): the line it names, and the one it repeats."""
    twice = error.twice
    if twice is not None:
        twice = (twice[0], twice[1] - led) if twice[1] > led else None
    return replace(error, line=error.line - led, twice=twice)


def _named(errors: list[LineError], lines: dict[int, Line]) -> list[RowError]:
    """The pipeline's (line, field) errors as (rows, column), ``lines`` the
    lines they name, by number; a key an earlier line gives with other
    content named by the rows of both."""
    named = []
    for e in errors:
        line = lines.get(e.line)
        if line is None:  # pragma: no cover - the pipeline names our lines
            named.append(RowError((), None, e.reason, e.field, e.status))
            continue
        rows, column = line.where(e.field)
        reason = e.reason
        if e.twice is not None and (earlier := lines.get(e.twice[1])) is not None:
            what, places = e.twice[0], (_rows(earlier.where(e.field)[0]), _rows(rows))
            reason = given_twice(what, *places, "file")
        named.append(RowError(rows, column, reason, e.field, e.status))
    return named


def _rows(numbers: tuple[int, ...]) -> str:
    return f"row{'s' if len(numbers) > 1 else ''} {', '.join(str(n) for n in numbers)}"


def _order(error: RowError) -> tuple[int, int]:
    return (error.rows[0] if error.rows else 0, error.column.index if error.column else -1)
