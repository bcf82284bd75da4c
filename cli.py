"""`incentive-ledger`: the command line (typer), calling the same application
service as the HTTP API. It parses arguments, calls one service method and
prints the result (a rich table, or ``--json``); it computes nothing itself.

It lives at the top level, next to `api/`, because it depends on both `ledger`
and the deployment settings/logging in `api/`, and `ledger/` must not.
"""

from __future__ import annotations

import getpass
import gzip
import hashlib
import io
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from eventsourcing.persistence import InterfaceError, OperationalError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from api.logging import configure_logging, ledger_notices
from api.settings import ConfigurationError, Settings, check_database, get_settings
from ledger.actors import normalise_actor
from ledger.application import Ledger, RecordResult
from ledger.chain import Anchor, parse_anchor
from ledger.crm import SUFFIXES as CRM_SUFFIXES
from ledger.crm import (
    CrmImport,
    CrmMapping,
    CrmRejectedError,
    MappingError,
    ReadError,
    import_export,
    load_mapping,
)
from ledger.errors import BatchRejectedError, InvalidInputError, LedgerError, Unit
from ledger.events import publication_line
from ledger.import_format import UNDECODABLE, format_hint
from policies.pay_warnings import PayWarning
from policies.plan import Plan, PlanError, load_plan, plan_document
from policies.wording import render_warning
from presentation import (
    diff_texts,
    history_texts,
    phrase,
    print_diff,
    print_history,
    print_statement,
)
from presentation.modelling import (
    estimate_texts,
    print_estimate,
    print_whatif,
    whatif_csv,
    whatif_texts,
)
from projections.audit_check import (
    BundleReport,
    BundleTooLargeError,
    check_bundle,
    read_bundle,
)
from projections.payroll import CsvEncoding
from projections.queues import DEFAULT_LIMIT, MAX_LIMIT, Page, Viewer, WorkQueues
from projections.rows import ListPage
from projections.runner import BATCH_EVENTS, DEFAULT_MAX_BUSY, MAX_BATCH_EVENTS, public_message
from projections.service import Reports
from projections.summary import DEFAULT_STEP_LIMIT, MAX_STEP_LIMIT
from projections.whatif import EstimateSale, WhatIf, parse_day
from service import UseCases

app = typer.Typer(
    name="incentive-ledger",
    help="An event-sourced incentive ledger that explains every number.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
plan_app = typer.Typer(help="Plans: versioned commission and bonus rules.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
payout_app = typer.Typer(help="The payout flow: run, approve, pay, export.", no_args_is_help=True)
app.add_typer(payout_app, name="payout")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _print_version(value: bool) -> None:
    """``--version`` (SPEC §5): the installed package's version, from its metadata."""
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"incentive-ledger {version('incentive-ledger')}\n")
        raise typer.Exit


@app.callback()
def _main(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """An event-sourced incentive ledger that explains every number."""


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: $LEDGER_DATABASE_URL or sqlite:///./ledger.db).",
    ),
]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor",
        help="Who records this, e.g. fin-amy (normalised: Fin-Amy is fin-amy; "
        "default: your login name).",
    ),
]
# A point in the log, as --as-of, --from and --to take it.
_POINT = "a position, or a recorded_at timestamp with its offset (2026-10-01T00:00:00+08:00)."
# --actor of a command that records nothing: who asks, not who records.
AskerOption = Annotated[
    str | None,
    typer.Option(
        "--actor",
        help="Who asks, as the dry run's actor (normalised: Fin-Amy is fin-amy; "
        "default: your login name). Nothing is recorded.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
RunIdArgument = Annotated[
    str, typer.Argument(help="The payout run's id, as `payout run` printed it.")
]
# Options with a fixed set of values list them in --help and refuse others (SPEC §5);
# tests check these lists against the ones the code knows (LOCALES, ROLES).
Locale = Literal["en", "zh-CN"]
LocaleOption = Annotated[
    Locale, typer.Option("--locale", help="The language of the text: en or zh-CN.")
]
Role = Literal["rep", "manager", "finance", "compliance", "integration", "admin"]

_PROGRESS_MIN_LINES = 5_000


def _actor(actor: str | None) -> str:
    """SPEC §2: who records, as an identity — ``--actor`` or else the login name,
    normalised (`ledger.actors`); exit 2 naming the option when it cannot be."""
    if actor is not None:
        return _actor_option(actor)
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        err.print("[bold red]error:[/] --actor: there is no login name to default to; pass --actor")
        raise typer.Exit(2) from None
    try:
        return normalise_actor(login)
    except ValueError as exc:
        err.print(
            f"[bold red]error:[/] --actor: your login name cannot be an actor "
            f"({escape(str(exc))}); pass --actor NAME"
        )
        raise typer.Exit(2) from None


def _actor_option(actor: str) -> str:
    """``--actor`` normalised, or exit 2 saying why it is not an actor."""
    try:
        return normalise_actor(actor)
    except ValueError as exc:
        err.print(f"[bold red]error:[/] --actor: {escape(str(exc))}")
        raise typer.Exit(2) from None


def _error(text: object) -> None:
    """One line on standard error (the text is never read as markup)."""
    err.print(f"[bold red]error:[/] {escape(str(text))}")


def _write_file(path: Path, data: bytes, *, option: str) -> None:
    """Write a command's output file; one that cannot be written (a directory
    that does not exist, no permission, a full disk) is one line naming the
    option and exit 2, as a bad option is (SPEC §7: never a traceback)."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        _error(f"{option}: cannot write {path}: {exc.strerror or exc}")
        raise typer.Exit(2) from None


def _settings() -> Settings:
    """This process's settings; a bad one is one line and exit 2 (SPEC §7: never
    a traceback, never a secret's value)."""
    try:
        return get_settings()
    except ConfigurationError as exc:
        _error(exc)
        raise typer.Exit(2) from None


@contextmanager
def open_ledger(db: str | None, *, create: bool = True) -> Iterator[Ledger]:
    """The ledger the options and settings name.

    A configuration error (SPEC §7: a malformed URL, a directory that does not
    exist, an unreachable database) is one line and exit 2; so is a store that
    holds no ledger when ``create`` is False (commands that only read: they
    never create an empty one). The store failing mid-command is one line and
    exit 1.
    """
    settings = _settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    url = db or settings.database_url
    try:
        config = check_database(url, must_exist=not create)
        ledger = Ledger(url, chain_key=settings.chain_key_text())
        ledger.notice = ledger_notices()
    except (ConfigurationError, LedgerError) as exc:
        _error(exc)
        raise typer.Exit(2) from None
    except (InterfaceError, OperationalError) as exc:
        _error(f"cannot open the database at {config.where()}: {_first_line(exc)}")
        raise typer.Exit(2) from None
    try:
        yield ledger
    except (InterfaceError, OperationalError) as exc:
        _error(f"the database at {config.where()} failed: {_first_line(exc)}")
        raise typer.Exit(1) from None
    finally:
        ledger.close()


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def _fail(exc: LedgerError, *, as_json: bool, unit: Unit = None) -> typer.Exit:
    """Exit 1 saying why. A rejected batch names its bad inputs as ``unit`` says:
    lines of an imported file, or (None) a command's own input, which is no
    line of anything."""
    if not isinstance(exc, BatchRejectedError):
        if as_json:
            # the field as the API names it (its detail alone left it out)
            named = [{"field": exc.field, "reason": exc.reason}] if exc.field else []
            field = {"field": exc.field} if exc.field else {}
            _print_json({"error": exc.status, "detail": exc.reason, **field, "errors": named})
        else:
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return typer.Exit(1)
    if as_json:
        _print_json(
            {
                "error": exc.status,
                "detail": exc.summary(unit),
                "errors": [
                    {"field": e.field, "reason": e.reason_in(unit)}
                    | ({"line": e.line} if unit == "line" else {})
                    for e in exc.errors
                ],
            }
        )
    elif unit == "line":
        count = exc.bad_inputs
        err.print(
            f"[bold red]rejected:[/] {count} bad line{'s' if count != 1 else ''}; "
            "nothing was stored."
        )
        for e in exc.errors:
            err.print(f"  {escape(e.describe('line'))}")
    else:
        for e in exc.errors:
            err.print(f"[bold red]error:[/] {escape(e.describe(None))}")
    return typer.Exit(1)


def _summary(result: RecordResult, *, as_json: bool, what: str = "events") -> None:
    if as_json:
        _print_json(
            {
                "stored": result.stored,
                "skipped": result.skipped,
                "events": [
                    {**o._asdict(), "warnings": [_warning_json(w) for w in o.warnings]}
                    for o in result.outcomes
                ],
            }
        )
        return
    out.print(f"stored {result.stored} {what}, skipped {result.skipped} already stored")
    for line, warning in result.warnings:  # accepted as written: say what looks wrong
        out.print(
            f"[yellow]warning:[/] line {line}, field {warning.field}: {render_warning(warning)}"
        )


def _warning_json(warning: PayWarning) -> dict[str, Any]:
    return {**warning.to_dict(), "text": render_warning(warning)}


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines, one event per line (- reads standard input), or a CRM "
            "export, FILE.csv or FILE.xlsx, with --mapping.",
            dir_okay=False,
        ),
    ],
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Publish this plan (TOML/JSON) first.", exists=True),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help="A CRM export (FILE.csv or FILE.xlsx): how its columns map to events (TOML; "
            "see samples/crm/).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="The CSV's encoding, e.g. gb18030 or cp1252 (default: UTF-8 if the file is "
            "UTF-8, else the mapping's encoding, else refused: never guessed; a byte-order mark "
            "wins: UTF-8 or UTF-16).",
        ),
    ] = None,
    db: DbOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate a whole JSON Lines file (or a CRM export with --mapping), then append
    it; re-importing stores nothing."""
    who = _actor(actor)
    if mapping is not None or encoding is not None or file.suffix.lower() in CRM_SUFFIXES:
        _import_crm(file, mapping, encoding, plan, db, who, as_json=as_json)
        return
    stream = str(file) == "-"
    if not stream and not file.exists():
        raise typer.BadParameter(f"{file} does not exist", param_hint="'FILE'")
    # A pipe or standard input is read once, as it comes: it is not counted first
    # (that would consume it), and cannot be re-read if the connection drops.
    regular = not stream and file.is_file()
    candidate = _plan_file(plan, as_json=as_json) if plan is not None else None
    with open_ledger(db) as ledger:
        # --plan is the import's first input, in its transaction: a file refused
        # stores nothing, not even the plan (SPEC §2); one published already is
        # said so and left out
        first: list[str] = []
        if candidate is not None and not _published_already(ledger, candidate, as_json=as_json):
            first = [publication_line(candidate, actor=who, occurred_at=datetime.now(UTC))]
        total = _count_lines(file) if regular else None
        show = err.is_terminal and (total is None or total >= _PROGRESS_MIN_LINES) and not as_json
        progress = Progress(
            TextColumn("appending"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=not show,
        )
        # utf-8-sig: a byte order mark (what some editors and Excel write) is read
        # past, not judged as part of the first line's JSON; a byte that is no
        # UTF-8 is kept (UNDECODABLE) for the import to name its line
        source = (
            io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors=UNDECODABLE)
            if stream
            else file.open(encoding="utf-8-sig", errors=UNDECODABLE)
        )
        name = "standard input" if stream else str(file)
        first_line = _first_event_line(file, stream=stream)
        hint = format_hint(first_line)
        if hint is None and first and not first_line.strip():
            hint = "it holds no events (it is empty, or only blank lines)"
        if hint is not None:
            source.close()
            _refuse_file(f"{name}: {hint}; nothing was stored", as_json=as_json)
        with progress, source as lines:
            task = progress.add_task("append", total=total)
            try:
                # Streamed: the file is never held in memory (it is re-read only
                # if the store's connection drops mid-import).
                result = ledger.import_lines(
                    itertools.chain(first, lines),
                    actor=who,
                    on_progress=lambda n: progress.advance(task, n),
                    keep_outcomes=as_json or bool(first),  # the plan's own outcome
                    max_line_bytes=_settings().max_body_bytes,
                )
            except LedgerError as exc:
                raise _fail(_after_plan(exc, plan, first), as_json=as_json, unit="line") from None
        if first and candidate is not None:
            result = _without_plan(result, candidate, as_json=as_json)
        if result.stored + result.skipped == 0:
            _refuse_file(
                f"{name} holds no events (it is empty, or only blank lines); nothing was stored",
                as_json=as_json,
            )
        _summary(result, as_json=as_json)


def _published_already(ledger: Ledger, plan: Plan, *, as_json: bool) -> bool:
    """Whether this very plan version is stored (published at another moment:
    the same document), said as `plan publish` says it."""
    stored = next((p for p in ledger.plan_versions(plan.id) if p.version == plan.version), None)
    same = stored is not None and plan_document(stored) == plan_document(plan)
    if same and not as_json:
        out.print(f"plan {plan.id} version {plan.version} already published")
    return same


def _after_plan(exc: LedgerError, plan: Path | None, first: list[str]) -> LedgerError:
    """A refusal of ``import --plan``, its lines numbered as the file's: the
    plan was input 1, so a refusal of it names the plan file."""
    if not first or not isinstance(exc, BatchRejectedError):
        return exc
    for e in exc.errors:
        if e.line == 1:
            return InvalidInputError(f"{plan}: {e.reason}", field=e.field)
    return BatchRejectedError([replace(e, line=e.line - 1) for e in exc.errors])


def _without_plan(result: RecordResult, candidate: Plan, *, as_json: bool) -> RecordResult:
    """``import --plan``'s result as the file's (the plan was input 1), having
    said what became of the plan as `plan publish` says it."""
    plan, *outcomes = result.outcomes
    published = plan.status == "stored"
    if not as_json:
        state = "published" if published else "already published"
        out.print(f"plan {candidate.id} version {candidate.version} {state}")
    for line, warning in result.warnings:
        if line == 1:
            (err if as_json else out).print(
                f"[yellow]warning:[/] field {warning.field}: {escape(render_warning(warning))}"
            )
    return RecordResult(
        [o._replace(line=o.line - 1) for o in outcomes],
        result.stored - published,
        result.skipped - (not published),
        [(line - 1, w) for line, w in result.warnings if line > 1],
    )


def _first_event_line(file: Path, *, stream: bool) -> str:
    """The first non-blank line of a file, or of standard input without consuming
    it (what its buffer holds already: enough to tell the format)."""
    if stream:
        peeked = sys.stdin.buffer.peek(64 * 1024) if hasattr(sys.stdin.buffer, "peek") else b""
        text = peeked.decode("utf-8", errors="replace")
        return next((line for line in text.splitlines() if line.strip()), "")
    if not file.is_file():
        return ""
    with file.open(encoding="utf-8-sig", errors="replace") as lines:
        return next((line for line in lines if line.strip()), "")


def _refuse_file(reason: str, *, as_json: bool) -> NoReturn:
    """Exit 1: the file as a whole cannot be imported (nothing was stored)."""
    if as_json:
        _print_json({"error": "invalid", "detail": reason, "errors": []})
    else:
        _error(reason)
    raise typer.Exit(1)


def _import_crm(
    file: Path,
    mapping: Path | None,
    encoding: str | None,
    plan: Path | None,
    db: str | None,
    who: str,
    *,
    as_json: bool,
) -> None:
    """`import FILE.csv|FILE.xlsx --mapping MAPPING.toml`: a CRM export through the
    same import (`ledger.crm`), bad rows named by row and column."""
    rules = _crm_mapping(file, mapping, encoding)
    candidate = _plan_file(plan, as_json=as_json) if plan is not None else None
    with open_ledger(db) as ledger:
        # --plan goes first in the export's one import, as in a JSON Lines
        # file's: an export refused stores nothing, not even the plan (SPEC §2)
        first: list[str] = []
        if candidate is not None and not _published_already(ledger, candidate, as_json=as_json):
            first = [publication_line(candidate, actor=who, occurred_at=datetime.now(UTC))]
        try:
            done = import_export(
                ledger,
                file,
                rules,
                actor=who,
                encoding=encoding,
                max_line_bytes=_settings().max_body_bytes,
                keep_outcomes=False,  # the counts are what it prints: a million rows hold none
                first=first,
            )
        except ReadError as exc:
            _refuse_file(str(exc), as_json=as_json)
        except CrmRejectedError as exc:
            if as_json:
                errors = [e.to_dict() for e in exc.errors]
                _print_json({"error": exc.status, "detail": exc.reason, "errors": errors})
            else:
                err.print(
                    f"[bold red]rejected:[/] {len(exc.errors)} bad row(s); nothing was stored."
                )
                for e in exc.errors:
                    err.print(f"  {escape(str(e))}")
            raise typer.Exit(1) from None
        except LedgerError as exc:
            raise _fail(_after_plan(exc, plan, first), as_json=as_json) from None
    if candidate is not None and first:
        _crm_plan_published(candidate, done, as_json=as_json)
    _crm_summary(
        done, replace(done.result, stored=done.result.stored - len(first)), as_json=as_json
    )


def _crm_plan_published(candidate: Plan, done: CrmImport, *, as_json: bool) -> None:
    """Say that ``import --plan`` published the plan with the export, and what it
    was accepted with but looks wrong. Stored, not skipped: it was not stored a
    moment ago, and another publication of it since (at another moment) would
    have been a conflict, refusing the import."""
    if not as_json:
        out.print(f"plan {candidate.id} version {candidate.version} published")
    for _, warning in done.first_warnings:
        (err if as_json else out).print(
            f"[yellow]warning:[/] field {warning.field}: {escape(render_warning(warning))}"
        )


def _crm_summary(done: CrmImport, result: RecordResult, *, as_json: bool) -> None:
    """What an export's import stored (``result``: the export's own counts)."""
    if as_json:
        footer = None if done.footer is None else done.footer.to_dict()
        counts: dict[str, Any] = {"rows": done.rows, "ignored": done.ignored}
        counts |= {"encoding": done.encoding, "footer": footer}
        warnings = [
            {"rows": list(rows), "column": column, **_warning_json(warning)}
            for rows, column, warning in done.warnings
        ]
        warnings += [ignored.to_dict() for ignored in done.ignored_sales]
        _print_json(
            {"stored": result.stored, "skipped": result.skipped, **counts, "warnings": warnings}
        )
        return
    read = f"read {done.rows} rows ({done.ignored} ignored by the mapping)"
    out.print(f"{read}: stored {result.stored} events, skipped {result.skipped} already stored")
    if done.footer is not None:  # rows not read are said, with what started them
        out.print(escape(str(done.footer)))
    for rows, column, warning in done.warnings:
        where = f"row {', '.join(map(str, rows))}" + (f", {column}" if column else "")
        out.print(f"[yellow]warning:[/] {escape(where)}: {render_warning(warning)}")
    for ignored in done.ignored_sales:  # a won deal now lost keeps paying: say so
        out.print(f"[yellow]warning:[/] {escape(str(ignored))}")


def _crm_mapping(file: Path, mapping: Path | None, encoding: str | None) -> CrmMapping:
    """The mapping of a CRM export, or a usage error naming the option."""
    if mapping is None and file.suffix.lower() not in CRM_SUFFIXES:
        # `import events.jsonl --encoding gb18030` was told a CRM export needs a mapping
        raise typer.BadParameter(
            f"--encoding names a CRM export's (FILE.csv with --mapping); {file.name} is "
            f"read as JSON Lines, which is UTF-8 (convert it: iconv -f {encoding} -t UTF-8)",
            param_hint="'--encoding'",
        )
    if mapping is None:
        raise typer.BadParameter(
            "a CRM export (.csv, .xlsx) needs its mapping", param_hint="'--mapping'"
        )
    if file.suffix.lower() not in CRM_SUFFIXES:
        raise typer.BadParameter(
            f"--mapping reads .csv or .xlsx exports, not {file.name}", param_hint="'FILE'"
        )
    if not file.is_file():
        raise typer.BadParameter(f"{file} does not exist", param_hint="'FILE'")
    if encoding is not None and file.suffix.lower() != ".csv":
        raise typer.BadParameter(
            "an xlsx workbook names its own encoding", param_hint="'--encoding'"
        )
    try:
        # utf-8-sig: a byte-order mark (Windows Notepad writes one) is no TOML statement
        return load_mapping(mapping.read_text(encoding="utf-8-sig"), source=mapping.name)
    except (MappingError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(str(exc), param_hint="'--mapping'") from None


def _count_lines(path: Path) -> int:
    """Lines in a file, for the progress bar, without decoding it."""
    count = 0
    with path.open("rb") as raw:
        while block := raw.read(1 << 20):
            count += block.count(b"\n")
    return count


def _publish(ledger: Ledger, path: Path, actor: str, *, as_json: bool) -> list[PayWarning]:
    """Publish the plan file; what it was accepted with but looks wrong is said
    (on standard error under ``--json``) and handed back."""
    plan = _plan_file(path, as_json=as_json)
    if _published_already(ledger, plan, as_json=as_json):
        # the same document again, published at another moment: no new fact
        # (was refused as "stored with other content", its moment being new)
        return []
    try:
        result = ledger.publish_plan(plan, actor=actor)
    except LedgerError as exc:
        raise _fail(exc, as_json=as_json) from None
    warnings = [warning for _, warning in result.warnings]
    if not as_json:
        state = "published" if result.stored else "already published"
        out.print(f"plan {plan.id} version {plan.version} {state}")
    for warning in warnings:
        (err if as_json else out).print(
            f"[yellow]warning:[/] field {warning.field}: {escape(render_warning(warning))}"
        )
    return warnings


@plan_app.command("publish")
def plan_publish(
    file: Annotated[
        Path,
        typer.Argument(help="The plan, TOML or JSON.", exists=True, dir_okay=False),
    ],
    db: DbOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate a plan (SPEC §3) and record PlanPublished."""
    who = _actor(actor)
    with open_ledger(db) as ledger:
        warnings = _publish(ledger, file, who, as_json=as_json)
        if as_json:
            _print_json({"published": str(file), "warnings": [_warning_json(w) for w in warnings]})


@app.command()
def verify(
    anchor: Annotated[
        list[str] | None,
        typer.Option("--anchor", help="POSITION:HASH of a chain head published earlier."),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the audit chain (and anchors) and that every projection equals a fresh replay."""
    try:
        anchors: list[Anchor] = [parse_anchor(a) for a in anchor or []]
    except ValueError as exc:
        err.print(f"[bold red]error:[/] --anchor: {exc}")
        raise typer.Exit(2) from None
    with open_ledger(db, create=False) as ledger:
        try:
            report = ledger.verify(anchors)
        except LedgerError as exc:
            raise _fail(exc, as_json=as_json) from None
        # a command's own process: the replay's rows on every core (`projections.fanout`)
        problems = Reports(ledger).verify_projections(workers=None) if report.ok else []
        if as_json:
            _print_json(
                {
                    "ok": report.ok and not problems,
                    "chain": {
                        "ok": report.ok,
                        "mode": report.mode,
                        "checked": report.checked,
                        "head": report.head._asdict() if report.head else None,
                        "broken_position": report.broken_position,
                        "reason": report.reason,
                    },
                    "projections": {"ok": not problems, "differences": problems},
                }
            )
        else:
            (out if report.ok else err).print(report.summary())
            if report.ok and not problems:
                out.print("projections equal a fresh replay")
            for problem in problems:
                err.print(f"projection differs: {problem}")
        if not report.ok or problems:
            raise typer.Exit(1)


def _reporting(db: str | None, *, as_json: bool, call: Any) -> Any:
    """One read over the ledger the options name (a refusal printed as the CLI
    prints every error)."""
    return _over_ledger(db, as_json=as_json, call=lambda ledger: call(Reports(ledger)))


def _over_ledger(db: str | None, *, as_json: bool, call: Callable[[Ledger], Any]) -> Any:
    with open_ledger(db, create=False) as ledger:
        try:
            return call(ledger)
        except LedgerError as exc:
            raise _fail(exc, as_json=as_json) from None


PeriodOption = Annotated[str, typer.Option("--period", help="2026-07 or 2026-Q3.")]
RepOption = Annotated[str, typer.Option("--rep", help="The rep's id.")]


@app.command()
def demo(db: DbOption = None, locale: LocaleOption = "en", as_json: JsonOption = False) -> None:
    """Fill a fresh embedded database with a realistic quarter and explain one statement."""
    from demo import run_demo

    with open_ledger(db) as ledger:
        try:
            result = run_demo(ledger, locale=locale)
        except LedgerError as exc:
            raise _fail(exc, as_json=as_json) from None
    if as_json:
        _print_json(result.statement)
        return
    out.print(phrase(locale, "demo_recorded", events=result.events, run_id=result.run_id))
    print_statement(out, result.statement, locale)
    if result.shapes:
        out.print(phrase(locale, "demo_second_plan"))
        print_statement(out, result.shapes[0], locale)
        for shaped in result.shapes[1:]:
            kinds = ", ".join(f"{x['kind']} {x['amount']}" for x in shaped["lines"])
            out.print(f"{shaped['rep_id']} {shaped['period']}: {kinds}; total {shaped['total']}")
    on_db = f" --db {db}" if db else ""
    where = on_db + (f" --locale {locale}" if locale != "en" else "")
    approval = result.adjustment_approval
    explore = [
        (f"statement --rep rep-li --period 2026-Q4{where}   ", "demo_q4_correction"),
        (f"statement --rep rep-chen --period 2026-Q3{where} ", "demo_red_line"),
        (f"history --rep rep-wang{where}                    ", "demo_minor_cases"),
        (f"statement --rep rep-xu --period 2026-09{where}    ", "demo_draw"),
        (f"statement --rep lead-he --period 2026-07{where}   ", "demo_override"),
        (
            f"diff --rep rep-li --period 2026-Q3 --from {approval - 1} --to {approval}{where}   ",
            "demo_approval_diff",
        ),
    ]
    lines = [f"  incentive-ledger {command}# {phrase(locale, key)}" for command, key in explore]
    lines.append(f"  incentive-ledger payout export {result.run_id} --format csv{on_db}")
    lines.append(f"  incentive-ledger verify{on_db}")
    out.print("\n".join([phrase(locale, "demo_explore"), *lines]))


@app.command()
def statement(
    rep: RepOption,
    period: PeriodOption,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="A position (1 to the head), or a recorded_at timestamp with its offset, "
            "e.g. 2026-10-01T00:00:00+08:00 (default: now).",
        ),
    ] = None,
    locale: LocaleOption = "en",
    summary: Annotated[
        bool | None,
        typer.Option(
            "--summary/--full",
            help="A subtotal line per kind and category, or every line (default: the "
            "summary for a long statement, every line for a short one or with --json).",
        ),
    ] = None,
    offset: Annotated[
        int | None,
        typer.Option(
            "--offset",
            help="Every line, with its explanation steps from this one on (0 first; "
            "counted over all lines, in order). As the API's ?offset=.",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            help=f"Every line, with at most this many explanation steps in all (1 to "
            f"{MAX_STEP_LIMIT}; {DEFAULT_STEP_LIMIT} with only --offset). As the API's ?limit=.",
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """One rep's statement for one period, every line explained (or a page of its
    explanation steps: --offset/--limit)."""
    paged = offset is not None or limit is not None
    view: Literal["full", "summary", "auto"] = (
        ("full" if as_json or paged else "auto")
        if summary is None
        else ("summary" if summary else "full")
    )
    result = _reporting(
        db,
        as_json=as_json,
        call=lambda r: r.statement_view(
            rep, period, view=view, as_of=as_of, locale=locale, offset=offset, limit=limit
        ),
    )
    if as_json:
        _print_json(result)
    else:
        print_statement(out, result, locale)


@app.command()
def diff(
    rep: RepOption,
    period: PeriodOption,
    from_: Annotated[str, typer.Option("--from", help=f"From this point: {_POINT}")],
    to: Annotated[
        str,
        typer.Option("--to", help=f"To this point (before --from: a diff back in time): {_POINT}"),
    ],
    locale: LocaleOption = "en",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which events changed which lines of a statement between two points, and by how much."""
    result = _reporting(db, as_json=as_json, call=lambda r: r.diff(rep, period, from_, to))
    if as_json:
        _print_json(diff_texts(result, locale))
    else:
        print_diff(out, result, locale)


@app.command()
def history(
    rep: RepOption, locale: LocaleOption = "en", db: DbOption = None, as_json: JsonOption = False
) -> None:
    """A rep's disciplinary history: cases, rungs, sanctions, coaching, appeals."""
    result = _reporting(db, as_json=as_json, call=lambda r: r.history(rep))
    if as_json:
        _print_json(history_texts(result, locale))
    else:
        print_history(out, rep, result, locale)


@payout_app.command("run")
def payout_run(
    period: PeriodOption,
    db: DbOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compute and record a payout run for a period; prints its run_id."""
    who = _actor(actor)
    result = _use_case(db, as_json=as_json, call=lambda u: u.payout_run(period, actor=who))
    run_id = _run_id_of(db, result)
    if as_json:
        _print_json({"run_id": run_id, "event_id": result.outcomes[0].event_id})
    else:
        out.print(run_id)


def _run_id_of(db: str | None, result: RecordResult) -> str:
    event_id = result.outcomes[0].event_id
    assert event_id is not None
    with open_ledger(db, create=False) as ledger:
        return str(ledger.event(event_id).data["run_id"])


@payout_app.command("approve")
def payout_approve(
    run_id: RunIdArgument,
    db: DbOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a payout run (maker-checker: not by whoever ran it); refused on a
    broken chain."""
    who = _actor(actor)
    result = _use_case(db, as_json=as_json, call=lambda u: u.decide_run(run_id, actor=who))
    _run_step(result, run_id, done="approved", as_json=as_json)


@payout_app.command("pay")
def payout_pay(
    run_id: RunIdArgument,
    db: DbOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Mark an approved run paid; its periods are locked from then on. Refused,
    paying nobody, when a rep's period was paid meanwhile, or on a broken chain."""
    who = _actor(actor)
    result = _use_case(db, as_json=as_json, call=lambda u: u.pay_run(run_id, actor=who))
    _run_step(result, run_id, done="paid", as_json=as_json)


def _run_step(result: RecordResult, run_id: str, *, done: str, as_json: bool) -> None:
    """What `payout approve` or `payout pay` did, said of the run (``--json``:
    the import's counts, as before)."""
    if as_json:
        _summary(result, as_json=as_json)
        return
    out.print(f"{done} run {run_id}" if result.stored else f"run {run_id} already {done}")


@payout_app.command("export")
def payout_export(
    run_id: RunIdArgument,
    fmt: Annotated[
        Literal["csv", "xlsx"], typer.Option("--format", help="The file format: csv or xlsx.")
    ] = "csv",
    layout: Annotated[
        Path | None,
        typer.Option(
            "--layout",
            help="A payroll system's column layout (TOML; see samples/payroll-layout.toml): "
            "employee numbers, earning codes per line kind. Approved or paid runs only.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    to: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the file here (default: standard output).", dir_okay=False
        ),
    ] = None,
    encoding: Annotated[
        CsvEncoding,
        typer.Option(
            "--encoding",
            help="The CSV's encoding: utf-8 (the default, what payroll systems read), "
            'utf-8-sig (Excel\'s "CSV UTF-8": a byte-order mark, so Excel shows Chinese '
            "names) or gb18030 (Excel's CSV on Chinese Windows).",
        ),
    ] = "utf-8",
    db: DbOption = None,
) -> None:
    """The payroll export of a run: each rep's id, name, amount and currency, the
    statement hashes and the chain head (or a payroll layout's columns); the same
    run exports the same bytes. Refused on a broken chain."""
    from projections.payroll import LayoutError, load_layout

    if fmt == "xlsx" and encoding != "utf-8":
        raise typer.BadParameter(
            "an xlsx workbook names its own encoding", param_hint="'--encoding'"
        )

    rules = None
    if layout is not None:
        try:
            rules = load_layout(layout.read_text(encoding="utf-8-sig"), source=layout.name)
        except (LayoutError, UnicodeDecodeError) as exc:
            raise typer.BadParameter(str(exc), param_hint="'--layout'") from None
    if fmt == "xlsx" and to is None and sys.stdout.isatty():
        raise typer.BadParameter(
            "xlsx is binary: pass --out FILE (or redirect)", param_hint="'--out'"
        )
    data = _reporting(
        db, as_json=False, call=lambda r: r.export_file(run_id, fmt, rules, encoding=encoding)
    )
    if to is not None:
        _write_file(to, data, option="--out")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@app.command()
def rebuild(
    db: DbOption = None,
    as_json: JsonOption = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help=(
                "Processes computing the reps' rows after the log is folded (default: one "
                "per usable core, at most 4, as many as the memory left has room for); each "
                "forked one holds a copy of much of the folded log. "
                "1: in this process alone, the least memory."
            ),
        ),
    ] = None,
) -> None:
    """Drop and replay every projection; reports events/s. Checks the whole chain
    first: over a broken chain it reports the break, rebuilds nothing, exits 1."""
    result = _reporting(db, as_json=as_json, call=lambda r: r.rebuild(workers=workers))
    if as_json:
        _print_json(
            {"events": result.applied, "position": result.position, "seconds": result.seconds}
        )
    else:
        out.print(
            f"rebuilt every projection: {result.applied} events in {result.seconds:.2f}s "
            f"({result.events_per_second:,.0f} events/s), at position {result.position}"
        )


@app.command()
def project(
    follow: Annotated[bool, typer.Option("--follow", help="Keep applying new events.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Print the projections' position and how many events they are behind, and "
            "exit 0 (a health check: applies nothing, creates no database).",
        ),
    ] = False,
    batch_events: Annotated[
        int,
        typer.Option(
            "--batch-events", min=1, help="Events in the first transaction of a catch-up."
        ),
    ] = BATCH_EVENTS,
    max_batch_events: Annotated[
        int,
        typer.Option(
            "--max-batch-events",
            min=1,
            help="Batches double while the projector is behind, up to this many events.",
        ),
    ] = MAX_BATCH_EVENTS,
    max_busy: Annotated[
        float,
        typer.Option(
            "--max-busy",
            min=0.01,
            max=1.0,
            help="With --follow: the share of the time the worker may spend projecting "
            "while writes stream in (it rests in proportion; 1: never rests).",
        ),
    ] = DEFAULT_MAX_BUSY,
    db: DbOption = None,
) -> None:
    """The projection worker: apply new events to the read models, exactly once."""
    with open_ledger(db, create=not check) as ledger:
        reports = Reports(ledger)
        if check:
            head = ledger.head()
            position = reports.projector.store.position()
            lag = (head.position if head else 0) - position
            out.print(f"projections at position {position}, {lag} event(s) behind")
            return
        # a follower says how it fares (GET /health), a replay on start included
        reports.projector.reports_health = follow
        try:
            result = reports.projector.catch_up(
                batch_events=batch_events, max_batch_events=max_batch_events
            )
            out.print(f"applied {result.applied} events, at position {result.position}")
        except Exception as exc:
            if not follow:
                raise
            # Following, a failure never ends the worker: it backs off and is
            # reported (GET /health), SPEC §7.
            err.print(f"projection catch-up failed ({type(exc).__name__}: {public_message(exc)})")
        if follow:
            reports.projector.follow(
                batch_events=batch_events, max_batch_events=max_batch_events, max_busy=max_busy
            )


token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")


def _token_store(ledger: Ledger) -> Any:
    from api.tokens import TokenStore

    return TokenStore(ledger, _token_secret(_settings()))


def _token_secret(settings: Any) -> str:
    """The token secret, or exit 2 saying how to set it."""
    if settings.token_secret is None:
        _error("LEDGER_TOKEN_SECRET: set it (16+ random characters) first")
        raise typer.Exit(2)
    return str(settings.token_secret.get_secret_value())


@token_app.command("create")
def token_create(
    actor: Annotated[
        str, typer.Option("--actor", help="Who the token acts as (a valid actor, normalised).")
    ],
    role: Annotated[Role, typer.Option("--role", help="What the token may do (SPEC §5 roles).")],
    rep: Annotated[str | None, typer.Option("--rep", help="The rep id (role rep only).")] = None,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Valid for.")] = 30,
    link: Annotated[
        bool,
        typer.Option(
            "--link",
            help="Print a one-time sign-in link for the web pages instead of a token "
            "(valid 15 minutes; opening it starts a 12-hour session).",
        ),
    ] = False,
    base_url: Annotated[
        str,
        typer.Option("--base-url", help="Where the server answers (for --link)."),
    ] = "http://127.0.0.1:8000",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a signed bearer token for the API (printed once; the ledger keeps no copy),
    or with --link a one-time sign-in link for the web pages (SPEC §5.1)."""
    who = _actor_option(actor)  # SPEC §2: a token only for a valid actor
    if link:
        _signin_link(who, role, rep, base_url, db, as_json=as_json)
        return
    with open_ledger(db) as ledger:
        try:
            token, principal = _token_store(ledger).create(
                actor=who, role=role, rep_id=rep, days=days
            )
        except ValueError as exc:
            err.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
    if as_json:
        _print_json(
            {
                "token": token,
                "token_id": principal.token_id,
                "expires_at": principal.expires_at.isoformat(),
            }
        )
    else:
        sys.stdout.write(token + "\n")


def _signin_link(
    actor: str, role: str, rep: str | None, base_url: str, db: str | None, *, as_json: bool
) -> None:
    """Store a one-time sign-in code (its hash) and print the link that redeems it."""
    from api.pages.session import CODE_MINUTES, SigninCodes, signin_link

    if not base_url.startswith(("http://", "https://")):
        err.print("[bold red]error:[/] --base-url: give http://HOST[:PORT] or https://...")
        raise typer.Exit(2)
    _token_secret(_settings())  # the server that redeems it needs the secret too
    with open_ledger(db) as ledger:
        try:
            code = SigninCodes(ledger).issue(actor=actor, role=role, rep_id=rep)
        except ValueError as exc:
            err.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
    url = signin_link(base_url, code)
    if as_json:
        _print_json({"link": url, "expires_in_minutes": CODE_MINUTES})
    else:
        sys.stdout.write(url + "\n")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[
        str, typer.Argument(help="The token's id: token_id in `token create --json`.")
    ],
    db: DbOption = None,
) -> None:
    """Revoke a token by its id (from `token create --json`)."""
    with open_ledger(db, create=False) as ledger:
        if not _token_store(ledger).revoke(token_id):
            err.print(f"[bold red]error:[/] token_id: no active token {token_id}")
            raise typer.Exit(1)
    out.print(f"revoked {token_id}")


@app.command()
def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="The address to listen on (0.0.0.0: every interface, behind a TLS proxy).",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The TCP port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="API processes sharing the port; more than 1 needs LEDGER_API_PROJECTOR=false "
            "and a `project --follow` worker.",
        ),
    ] = 1,
    db: DbOption = None,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Also uvicorn's access lines (the API logs one line per request anyway).",
        ),
    ] = False,
) -> None:
    """The HTTP API (OpenAPI at /docs); every log line JSON (or text on a terminal)."""
    import uvicorn

    from api.app import create_app, tune_collector
    from api.logging import uvicorn_log_config

    settings = _settings()
    if db:
        settings = settings.model_copy(update={"database_url": db})
    _token_secret(settings)  # checked first: a process would only fail to start
    try:
        check_database(settings.database_url, must_exist=False)
    except ConfigurationError as exc:
        _error(exc)
        raise typer.Exit(2) from None
    log_config = uvicorn_log_config(level=settings.log_level, json=settings.log_json)
    if workers > 1:
        _serve_workers(settings, host, port, workers, db, log_config, access_log=access_log)
        return
    try:
        application = create_app(settings)
    except (ConfigurationError, LedgerError, InterfaceError, OperationalError) as exc:
        _error(_first_line(exc))
        raise typer.Exit(2) from None
    tune_collector()
    uvicorn.run(application, host=host, port=port, log_config=log_config, access_log=access_log)


def _serve_workers(
    settings: Any,
    host: str,
    port: int,
    workers: int,
    db: str | None,
    log_config: dict[str, Any],
    *,
    access_log: bool,
) -> None:
    """Several API processes on one port: each builds the app from the environment."""
    import uvicorn

    if settings.api_projector:
        err.print(
            "[bold red]error:[/] with --workers, run the projection worker beside the API "
            "(`incentive-ledger project --follow`) and set LEDGER_API_PROJECTOR=false"
        )
        raise typer.Exit(2)
    if db:
        os.environ["LEDGER_DATABASE_URL"] = db
    uvicorn.run(
        "api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=log_config,
        access_log=access_log,
    )


# -- work queues (SPEC §5) ------------------------------------------------------

dispute_app = typer.Typer(help="Disputes: a rep's objection to a payout, and its resolution.")
app.add_typer(dispute_app, name="dispute")

OffsetOption = Annotated[int, typer.Option("--offset", min=0, help="Items to skip.")]
LimitOption = Annotated[
    int, typer.Option("--limit", min=1, max=MAX_LIMIT, help=f"Items to show (at most {MAX_LIMIT}).")
]
NoteOption = Annotated[str | None, typer.Option("--note", help="Why (shown to everyone after).")]
Outcome = Literal["upheld", "rejected"]


def _use_case(db: str | None, *, as_json: bool, call: Any) -> Any:
    """One use case (a decision) over the ledger the options name."""
    return _over_ledger(
        db, as_json=as_json, call=lambda ledger: call(UseCases(ledger, Reports(ledger)))
    )


def _columns(*keys: str, **headers: str) -> list[tuple[str, str]]:
    """A list's columns: (header, key) for each of ``keys``, headed by the key's
    own words (``calculated_by``: "calculated by", ``rep_id``: "rep") unless
    ``headers`` names it otherwise."""
    return [(headers.get(k) or k.removesuffix("_id").replace("_", " "), k) for k in keys]


def _list(
    db: str | None,
    call: Callable[[WorkQueues], ListPage],
    *,
    title: str | Callable[[dict[str, Any]], str],
    columns: list[tuple[str, str]],
    as_json: bool,
    empty: str,
    row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """One work-queue list over the ledger the options name, printed: JSON as
    the API answers it, or a table and where it stands (``row`` adds to an item
    what only the table shows). Returns the list."""
    result: dict[str, Any] = _reporting(
        db, as_json=as_json, call=lambda reports: call(WorkQueues(reports)).doc()
    )
    if as_json:
        _print_json(result)
    else:
        if row is not None:
            for item in result["items"]:
                row(item)
        _table(result, title if isinstance(title, str) else title(result), columns, empty)
    return result


def _table(result: dict[str, Any], title: str, columns: list[tuple[str, str]], empty: str) -> None:
    items = result["items"]
    if not items:
        out.print(empty if not result["total"] else f"nothing at offset {result['offset']}")
        return
    table = Table(title=title, title_justify="left")
    for header, key in columns:
        right = header in {"total", "payable", "amount", "attainment", "tier", "reps", "paid"}
        # Folded, never cut: a narrow terminal still shows every character. Ids and
        # money keep their width (up to 24) so they read, and search, whole; prose
        # ("about", "message") gives way first.
        widest = max((len(_cell_text(item.get(key))) for item in items), default=0)
        prose = header in {"about", "message"}
        table.add_column(
            header,
            justify="right" if right else "left",
            overflow="fold",
            min_width=None if prose else min(widest, 24),
            ratio=1 if prose else None,
        )
    for item in items:
        table.add_row(*(escape(_cell_text(item.get(key))) for _, key in columns))
    out.print(table)
    shown = f"{result['offset'] + 1}-{result['offset'] + len(items)}"
    if len(items) < result["total"]:
        out.print(f"showing {shown} of {result['total']} (--offset, --limit for more)")


def _cell_text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):  # a rep's plans: field-sales, not ['field-sales']
        return ", ".join(_cell_text(v) for v in value) or "-"
    return str(value)


@app.command()
def pending(
    offset: OffsetOption = 0,
    limit: LimitOption = DEFAULT_LIMIT,
    db: DbOption = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            help="Whose decisions: what this actor may decide, not what they recorded "
            "(normalised: Fin-Amy is fin-amy; default: your login name).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Subjects awaiting a decision that the actor may take (not those they
    recorded: maker-checker), oldest first, with the money and the rule."""
    viewer = Viewer.operator(_actor(actor))
    _list(
        db,
        lambda q: q.pending(viewer, page=Page(offset, limit)),
        title=f"Awaiting a decision by {viewer.actor}",
        columns=_columns(
            "subject_id",
            "kind",
            "rep_id",
            "period",
            "amount",
            "about",
            "recorded_by",
            "recorded_on",
            recorded_on="on",
        ),
        as_json=as_json,
        empty=f"nothing awaits a decision {viewer.actor} may take",
        row=_recorded_on,
    )


def _recorded_on(item: dict[str, Any]) -> None:
    """The table shows the day; --json the instant."""
    item["recorded_on"] = str(item["recorded_at"])[:10]


def _decide(
    subject_id: str,
    *,
    granted: bool,
    note: str | None,
    db: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    who = _actor(actor)
    decision = _use_case(
        db,
        as_json=as_json,
        call=lambda q: q.decide(subject_id, actor=who, granted=granted, note=note),
    )
    verb = "approved" if granted else "rejected"
    if as_json:
        outcome = decision.result.outcomes[0]
        _print_json(
            {
                "subject_id": subject_id,
                "kind": decision.kind,
                "decision": verb,
                "stored": decision.result.stored,
                "event_id": outcome.event_id,
            }
        )
    elif decision.result.stored:
        out.print(f"{verb} {decision.kind} {subject_id}")
    else:
        out.print(f"{decision.kind} {subject_id} was already {verb} so (nothing stored)")


@app.command()
def approve(
    subject_id: Annotated[str, typer.Argument(help="A target, adjustment, case or run id.")],
    note: NoteOption = None,
    db: DbOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a target, adjustment, red-line case or payout run (not by whoever
    recorded it)."""
    _decide(subject_id, granted=True, note=note, db=db, actor=actor, as_json=as_json)


@app.command()
def reject(
    subject_id: Annotated[str, typer.Argument(help="A target, adjustment, case or run id.")],
    note: Annotated[str, typer.Option("--note", help="Why it is rejected (required).")],
    db: DbOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a target, adjustment, red-line case or payout run, saying why."""
    _decide(subject_id, granted=False, note=note, db=db, actor=actor, as_json=as_json)


@app.command()
def reps(
    team: Annotated[str | None, typer.Option("--team", help="Only this team.")] = None,
    offset: OffsetOption = 0,
    limit: LimitOption = DEFAULT_LIMIT,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The reps: team, manager, plans (names stay in the events)."""
    viewer = Viewer.operator("operator")
    _list(
        db,
        lambda q: q.reps(viewer, team=team, page=Page(offset, limit)),
        title="Reps" + (f" of team {team}" if team else ""),
        columns=_columns("rep_id", "team", "manager_id", "plan_ids", "left", plan_ids="plans"),
        as_json=as_json,
        empty="no reps" + (f" in team {team}" if team else ""),
    )


@app.command()
def runs(
    period: Annotated[str | None, typer.Option("--period", help="2026-07 or 2026-Q3.")] = None,
    status: Annotated[
        Literal["calculated", "approved", "rejected", "paid"] | None,
        typer.Option("--status", help="Only runs in this state."),
    ] = None,
    offset: OffsetOption = 0,
    limit: LimitOption = DEFAULT_LIMIT,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Payout runs with their totals, status and who calculated and decided them."""
    _list(
        db,
        lambda q: q.runs(period=period, status=status, page=Page(offset, limit)),
        title="Payout runs" + (f" of {period}" if period else ""),
        columns=_columns(
            "run_id",
            "period",
            "status",
            "reps",
            "paying",
            "calculated_by",
            "decided_by",
            paying="payable",
        ),
        as_json=as_json,
        empty="no payout runs" + (f" for {period}" if period else ""),
        row=_paying,
    )


def _paying(item: dict[str, Any]) -> None:
    """A run's payable in each currency it pays in (two never add up)."""
    item["paying"] = ", ".join(f"{c['payable']} {c['currency']}" for c in item["currencies"])


@app.command()
def summary(
    period: PeriodOption,
    offset: OffsetOption = 0,
    limit: LimitOption = DEFAULT_LIMIT,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every rep's total, payable, attainment, tier and status for a period, with
    team subtotals."""
    viewer = Viewer.operator("operator")
    result = _list(
        db,
        lambda q: q.summary(viewer, period, page=Page(offset, limit)),
        title=lambda r: f"Period {r['period']}",
        columns=_columns(
            "rep_id",
            "team",
            "total",
            "payable",
            "attainment",
            "tier_coefficient",
            "status",
            "pending",
            tier_coefficient="tier",
        ),
        as_json=as_json,
        empty=f"no rep has a statement for {period}",
    )
    if not as_json and result["teams"]:
        teams = Table(title="Team subtotals", title_justify="left")
        for header in ("team", "reps", "currency", "total", "payable"):
            teams.add_column(header, justify="right" if header != "team" else "left")
        for t in result["teams"]:
            teams.add_row(
                escape(_cell_text(t["team"])),
                str(t["reps"]),
                t["currency"],
                t["total"],
                t["payable"],
            )
        out.print(teams)


@dispute_app.command("raise")
def dispute_raise(
    rep: RepOption,
    run: Annotated[str, typer.Option("--run", help="The payout run disputed.")],
    message: Annotated[str, typer.Option("--message", help="What is wrong, in the rep's words.")],
    db: DbOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Raise a dispute of a payout run for a rep; prints the dispute_id."""
    who = _actor(actor)
    dispute_id, result = _use_case(
        db,
        as_json=as_json,
        call=lambda q: q.raise_dispute(rep_id=rep, run_id=run, message=message, actor=who),
    )
    if as_json:
        _print_json({"dispute_id": dispute_id, "event_id": result.outcomes[0].event_id})
    else:
        out.print(dispute_id)


@dispute_app.command("resolve")
def dispute_resolve(
    dispute_id: Annotated[
        str, typer.Argument(help="The dispute's id, as `dispute raise` printed it (DSP-...).")
    ],
    outcome: Annotated[Outcome, typer.Option("--outcome", help="upheld or rejected.")],
    note: Annotated[str, typer.Option("--note", help="The reasoning (required).")],
    amount: Annotated[
        str | None,
        typer.Option("--amount", help="Upheld: the adjustment to book, e.g. 1500.00 or -200.00."),
    ] = None,
    db: DbOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve a dispute; upheld books an adjustment (in the rep's first unpaid
    period) that a second person approves."""
    who = _actor(actor)
    adjustment_id, result = _use_case(
        db,
        as_json=as_json,
        call=lambda q: q.resolve_dispute(
            dispute_id, outcome=outcome, note=note, amount=amount, actor=who
        ),
    )
    if as_json:
        _print_json(
            {
                "dispute_id": dispute_id,
                "outcome": outcome,
                "adjustment_id": adjustment_id,
                "stored": result.stored,
            }
        )
    elif adjustment_id is not None:
        out.print(
            f"dispute {dispute_id} upheld: adjustment {adjustment_id} booked, awaiting approval "
            f"(incentive-ledger approve {adjustment_id}, by someone else)"
        )
    else:
        out.print(f"dispute {dispute_id} {outcome}")


@app.command()
def disputes(
    status: Annotated[
        Literal["open", "resolved"] | None, typer.Option("--status", help="open or resolved.")
    ] = None,
    offset: OffsetOption = 0,
    limit: LimitOption = DEFAULT_LIMIT,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Disputes, oldest first, with the run and what it paid the rep."""
    viewer = Viewer.operator("operator")
    _list(
        db,
        lambda q: q.disputes(viewer, status=status, page=Page(offset, limit)),
        title="Disputes" + (f" ({status})" if status else ""),
        columns=_columns(
            "dispute_id",
            "rep_id",
            "run_id",
            "rep_payable",
            "state",
            "raised_by",
            "message",
            rep_payable="paid",
            state="status",
        ),
        as_json=as_json,
        empty="no disputes" + (f" {status}" if status else ""),
        row=_dispute_state,
    )


def _dispute_state(item: dict[str, Any]) -> None:
    """The table's status says the outcome of a resolved one."""
    item["state"] = item["outcome"] or item["status"]


# -- audit: a statement re-checkable offline (SPEC §5) ----------------------------

audit_app = typer.Typer(
    help="Statements anyone can re-check offline: a bundle, and its check.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")


@audit_app.command("bundle")
def audit_bundle(
    rep: RepOption,
    period: PeriodOption,
    out_file: Annotated[
        Path,
        typer.Option("--out", help="The bundle file to write: JSON (gzip when it ends in .gz)."),
    ],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write one statement with the events it rests on, the chain segment to its
    head, the plans and the engine version: `audit check` re-checks it offline."""
    raw: bytes = _reporting(db, as_json=as_json, call=lambda r: r.audit_bundle(rep, period))
    # --out x.json.gz: gzip (mtime 0, so the same bundle is the same file)
    written = gzip.compress(raw, 9, mtime=0) if out_file.suffix == ".gz" else raw
    _write_file(out_file, written, option="--out")
    head = json.loads(raw)["chain"]["head"]
    summary = {
        "file": str(out_file),
        "bytes": len(written),
        "sha256": hashlib.sha256(written).hexdigest(),
        "rep_id": rep,
        "period": period,
        "head": head,
    }
    if as_json:
        _print_json(summary)
        return
    out.print(
        f"wrote {escape(str(out_file))} ({len(written):,} bytes, SHA-256 {summary['sha256']}): "
        f"the statement of {escape(rep)} for {escape(period)} as of chain head "
        f"{head['position']}:{head['hash']}\n"
        f"check it anywhere with: incentive-ledger audit check {escape(str(out_file))}"
    )


@audit_app.command("check")
def audit_check(
    file: Annotated[Path, typer.Argument(help="A bundle written by `audit bundle`.")],
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="The chain key, for a ledger whose chain is HMAC-SHA-256 "
            "(default: $LEDGER_CHAIN_KEY or $LEDGER_CHAIN_KEY_FILE).",
            show_default=False,
        ),
    ] = None,
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            help="POSITION:HASH of a chain head published earlier (a payroll export's, a "
            "statement's): the bundle's chain must pass through it. Repeatable.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-check a bundle with no database: the chain segment, each event's hash,
    the plans, the engine, and the statement recomputed from the events. Exit 0
    when all matched, 1 on any mismatch, 2 when the chain (or an anchor) could
    not be checked (HMAC mode without the key; an anchor outside the segment)."""
    try:
        anchors = [parse_anchor(a) for a in anchor or []]
    except ValueError as exc:
        _error(f"--anchor: {exc}")
        raise typer.Exit(2) from None
    secret = key if key is not None else _settings().chain_key_text()
    try:
        raw = read_bundle(file)
        report = check_bundle(raw, key=secret.encode() if secret else None, anchors=anchors)
    except OSError as exc:
        _error(f"FILE: cannot read {file}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    except BundleTooLargeError as exc:
        _error(f"FILE: {file} is not checked: {exc}")
        raise typer.Exit(1) from None
    except MemoryError:
        size = file.stat().st_size
        _error(f"FILE: {file} ({size:,} bytes) is too large to check in this process's memory")
        raise typer.Exit(1) from None
    if as_json:
        _print_json(report.to_dict())
        raise typer.Exit(report.exit_code)
    _print_bundle_report(report, file, anchors)
    raise typer.Exit(report.exit_code)


def _print_bundle_report(report: BundleReport, file: Path, anchors: list[Anchor]) -> None:
    """`audit check`'s words: a wrong chain key first, when the mismatches point
    at it (once, not on each finding); each part, then all matched and what
    that does not prove, or each mismatch and each part not checked."""
    if report.wrong_key:
        err.print(f"[bold red]{escape(report.wrong_key)}[/]")
    table = Table(title=f"audit check {escape(str(file))}", show_lines=False)
    table.add_column("part")
    table.add_column("")
    table.add_column("detail")
    for finding in report.findings:
        mark = {True: "[green]ok[/]", False: "[bold red]MISMATCH[/]", None: "[yellow]unchecked[/]"}
        table.add_row(escape(finding.part), mark[finding.ok], escape(finding.detail))
    out.print(table)
    if report.exit_code == 0:
        anchored = (
            f"; they pass through the anchor{'s' if len(anchors) > 1 else ''} "
            f"{', '.join(escape(str(a)) for a in anchors)}: the events up to "
            f"{'them' if len(anchors) > 1 else 'it'} are the ledger's as published"
            if anchors
            else ""
        )
        out.print(
            f"all matched: the statement of {escape(str(report.rep_id))} for "
            f"{escape(str(report.period))} (total {escape(str(report.total))}) follows from "
            f"its events, whose links recompute to its head {escape(str(report.head))}"
            f"{anchored}"
        )
        for unproven in report.unproven:
            out.print(f"[yellow]not proven:[/] {escape(unproven)}")
    for finding in report.mismatches:
        err.print(f"[bold red]mismatch:[/] {escape(finding.part)}: {escape(finding.detail)}")
    for finding in report.unchecked:
        err.print(f"[yellow]not checked:[/] {escape(finding.part)}: {escape(finding.detail)}")


# -- modelling (SPEC §5): what-if, estimate and plan check; nothing is recorded --

PeriodsOption = Annotated[
    list[str],
    typer.Option("--period", help="2026-07 or 2026-Q3; repeat for several periods."),
]


def _plan_file(path: Path, *, as_json: bool) -> Plan:
    """A plan file (TOML, or JSON by its suffix), validated: `plan publish`'s and a
    what-if's or `plan check`'s candidate alike; invalid, exit 1 naming the field."""
    fmt: Literal["toml", "json"] = "json" if path.suffix.lower() == ".json" else "toml"
    try:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            reason = f"{path.name} is not UTF-8 (byte {exc.start + 1}); save it as UTF-8"
            raise PlanError([("file", reason)]) from None
        return load_plan(text, fmt)
    except PlanError as exc:
        # the file named (import --plan reads two) and, under --json, each bad
        # field as every other refusal lists them
        if as_json:
            _print_json(
                {
                    "error": "invalid",
                    "detail": f"invalid plan {path}: {exc}",
                    "errors": [{"field": f, "reason": r} for f, r in exc.errors],
                }
            )
        else:
            err.print(f"[bold red]invalid plan {escape(str(path))}:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None


def _show_whatif(
    result: WhatIf, *, fmt: str, csv_to: Path | None, locale: str, as_json: bool
) -> None:
    if csv_to is not None:
        _write_file(csv_to, whatif_csv(result).encode("utf-8"), option="--csv")
    if as_json:
        _print_json(whatif_texts(result, locale))
    elif fmt == "csv":
        sys.stdout.write(whatif_csv(result))
    else:
        print_whatif(out, result, locale)
        if csv_to is not None:
            out.print(f"CSV written to {escape(str(csv_to))}")


@app.command()
def whatif(
    plan: Annotated[
        Path,
        typer.Option(
            "--plan", help="The candidate plan, TOML or JSON.", exists=True, dir_okay=False
        ),
    ],
    period: PeriodsOption,
    rep: Annotated[str | None, typer.Option("--rep", help="Only this rep.")] = None,
    fmt: Annotated[
        Literal["table", "csv"],
        typer.Option("--format", help="table (default) or csv (a spreadsheet, on stdout)."),
    ] = "table",
    csv_to: Annotated[
        Path | None,
        typer.Option("--csv", help="Also write the CSV to this file.", dir_okay=False),
    ] = None,
    locale: LocaleOption = "en",
    db: DbOption = None,
    actor: AskerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replay the whole history under a candidate plan, as if published now: per
    rep and in total, today's pay, the candidate's, the difference and the lines
    that moved. Records nothing."""
    who = _actor(actor)
    candidate = _plan_file(plan, as_json=as_json)
    result = _reporting(
        db, as_json=as_json, call=lambda r: r.whatif(candidate, period, rep_id=rep, actor=who)
    )
    _show_whatif(result, fmt=fmt, csv_to=csv_to, locale=locale, as_json=as_json)


@plan_app.command("check")
def plan_check(
    file: Annotated[
        Path, typer.Argument(help="The plan, TOML or JSON.", exists=True, dir_okay=False)
    ],
    period: PeriodsOption,
    locale: LocaleOption = "en",
    db: DbOption = None,
    actor: AskerOption = None,
    as_json: JsonOption = False,
) -> None:
    """A dry run of `plan publish`: what the plan would pay every rep in the
    period(s), against today, recording nothing (the `whatif` of the plan)."""
    who = _actor(actor)
    candidate = _plan_file(file, as_json=as_json)
    result = _reporting(db, as_json=as_json, call=lambda r: r.whatif(candidate, period, actor=who))
    _show_whatif(result, fmt="table", csv_to=None, locale=locale, as_json=as_json)


@app.command()
def estimate(
    rep: RepOption,
    amount: Annotated[str, typer.Option("--amount", help="The sale's amount, e.g. 50000.00.")],
    category: Annotated[
        str | None, typer.Option("--category", help="The sale's category, e.g. software.")
    ] = None,
    on: Annotated[
        str | None,
        typer.Option("--date", help="The sale's date, YYYY-MM-DD (default: today)."),
    ] = None,
    split: Annotated[
        list[str] | None,
        typer.Option("--split", help="REP_ID=SHARE, repeat for each rep of a split deal."),
    ] = None,
    locale: LocaleOption = "en",
    db: DbOption = None,
    actor: AskerOption = None,
    as_json: JsonOption = False,
) -> None:
    """What one more sale would add to the rep's open period: commission, band or
    tier change, SPIFF, bonus, line by line. Records nothing."""
    who = _actor(actor)
    sale = EstimateSale(
        amount=amount, category=category, on=_date_option(on), splits=_splits_option(split)
    )
    result = _reporting(db, as_json=as_json, call=lambda r: r.estimate(rep, sale, actor=who))
    if as_json:
        _print_json(estimate_texts(result, locale))
    else:
        print_estimate(out, result, locale)


def _date_option(text: str | None) -> date | None:
    try:
        return parse_day(text)
    except InvalidInputError as exc:
        raise typer.BadParameter(exc.reason, param_hint="'--date'") from None


def _splits_option(texts: list[str] | None) -> tuple[tuple[str, str], ...]:
    splits = []
    for text in texts or []:
        rep_id, sep, share = text.partition("=")
        if not sep or not rep_id or not share:
            raise typer.BadParameter(
                f"REP_ID=SHARE (e.g. rep-li=0.5), not {text!r}", param_hint="'--split'"
            )
        splits.append((rep_id.strip(), share.strip()))
    return tuple(splits)


if __name__ == "__main__":  # pragma: no cover
    app()
