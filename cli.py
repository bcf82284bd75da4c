"""`incentive-ledger`: the command line (typer), calling the same application
service as the HTTP API. It parses arguments, calls one service method and
prints the result (a rich table, or ``--json``); it computes nothing itself.

It lives at the top level, next to `api/`, because it depends on both `ledger`
and the deployment settings/logging in `api/`, and `ledger/` must not.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from api.logging import configure_logging
from api.settings import get_settings
from ledger.application import Ledger, RecordResult
from ledger.chain import Anchor, parse_anchor
from ledger.errors import BatchRejectedError, LedgerError
from policies.plan import PlanError, load_plan

app = typer.Typer(
    name="incentive-ledger",
    help="An event-sourced incentive ledger that explains every number.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
plan_app = typer.Typer(help="Plans: versioned commission and bonus rules.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: $LEDGER_DATABASE_URL or sqlite:///./ledger.db).",
    ),
]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who records this (default: your login name)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

_PROGRESS_MIN_LINES = 5_000


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@contextmanager
def open_ledger(db: str | None) -> Iterator[Ledger]:
    """The ledger the options and settings name; errors become exit code 2."""
    settings = get_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    try:
        ledger = Ledger(db or settings.database_url, chain_key=settings.chain_key_text())
    except LedgerError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    try:
        yield ledger
    finally:
        ledger.close()


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def _fail(exc: LedgerError, *, as_json: bool) -> typer.Exit:
    errors = exc.errors if isinstance(exc, BatchRejectedError) else []
    if as_json:
        _print_json(
            {
                "error": exc.status,
                "detail": exc.reason,
                "errors": [{"line": e.line, "field": e.field, "reason": e.reason} for e in errors],
            }
        )
    elif errors:
        err.print(f"[bold red]rejected:[/] {len(errors)} bad line(s); nothing was stored.")
        for e in errors:
            err.print(f"  {e}")
    else:
        err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(1)


def _summary(result: RecordResult, *, as_json: bool, what: str = "events") -> None:
    if as_json:
        _print_json(
            {
                "stored": result.stored,
                "skipped": result.skipped,
                "events": [o.__dict__ for o in result.outcomes],
            }
        )
        return
    out.print(f"stored {result.stored} {what}, skipped {result.skipped} already stored")


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(help="JSON Lines, one event per line.", exists=True, dir_okay=False),
    ],
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Publish this plan (TOML/JSON) first.", exists=True),
    ] = None,
    db: DbOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate a whole JSON Lines file, then append it; re-importing stores nothing."""
    with open_ledger(db) as ledger:
        if plan is not None:
            _publish(ledger, plan, _actor(actor), as_json=as_json)
        with file.open(encoding="utf-8") as handle:
            lines = handle.readlines()
        show = err.is_terminal and len(lines) >= _PROGRESS_MIN_LINES and not as_json
        progress = Progress(
            TextColumn("appending"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=not show,
        )
        with progress:
            task = progress.add_task("append", total=len(lines))
            try:
                result = ledger.import_lines(
                    lines,
                    actor=_actor(actor),
                    on_progress=lambda n: progress.advance(task, n),
                )
            except LedgerError as exc:
                raise _fail(exc, as_json=as_json) from None
        _summary(result, as_json=as_json)


def _publish(ledger: Ledger, path: Path, actor: str, *, as_json: bool) -> None:
    fmt: Literal["toml", "json"] = "json" if path.suffix.lower() == ".json" else "toml"
    try:
        plan = load_plan(path.read_text(encoding="utf-8"), fmt)
    except PlanError as exc:
        if as_json:
            _print_json({"error": "invalid", "detail": str(exc)})
        else:
            err.print(f"[bold red]invalid plan:[/] {exc}")
        raise typer.Exit(1) from None
    try:
        result = ledger.publish_plan(plan, actor=actor)
    except LedgerError as exc:
        raise _fail(exc, as_json=as_json) from None
    if not as_json:
        state = "published" if result.stored else "already published"
        out.print(f"plan {plan.id} version {plan.version} {state}")


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
    with open_ledger(db) as ledger:
        _publish(ledger, file, _actor(actor), as_json=as_json)
        if as_json:
            _print_json({"published": str(file)})


@app.command()
def verify(
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            help="POSITION:HASH of a chain head published earlier (repeatable).",
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the audit hash chain (and any anchors); exit 1 naming the first broken position."""
    try:
        anchors: list[Anchor] = [parse_anchor(a) for a in anchor or []]
    except ValueError as exc:
        err.print(f"[bold red]error:[/] --anchor: {exc}")
        raise typer.Exit(2) from None
    with open_ledger(db) as ledger:
        report = ledger.verify(anchors)
        if as_json:
            _print_json(
                {
                    "ok": report.ok,
                    "mode": report.mode,
                    "checked": report.checked,
                    "head": report.head.__dict__ if report.head else None,
                    "broken_position": report.broken_position,
                    "reason": report.reason,
                }
            )
        else:
            (out if report.ok else err).print(report.summary())
        if not report.ok:
            raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()
