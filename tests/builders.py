"""Builders for test inputs (import lines as the SPEC writes them, a demo
database) and the ways a test runs the command or a server it starts."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
from typer.testing import CliRunner, Result

from demo import DemoResult, run_demo
from ledger.application import Ledger
from ledger.catalogue import EVENT_ADAPTER
from ledger.errors import LedgerError
from ledger.events import ApprovalGranted, make_event
from ledger.ingestion.group_commit import GroupCommitter
from ledger.records import EventRecord
from ledger.results import RecordResult
from ledger.writes import Input
from policies.plan import load_plan
from projections import runner
from projections.service import Reports
from service import UseCases

ROOT = Path(__file__).resolve().parent.parent
PLAN_TOML = (ROOT / "samples" / "field-sales.toml").read_text(encoding="utf-8")
SAMPLE_EVENTS = ROOT / "samples" / "q3-events.jsonl"


def process_env(**settings: str) -> dict[str, str]:
    """The environment for a ledger process a test starts: this one's without its
    ``LEDGER_`` settings (a developer's own would leak in), plus ``settings``."""
    own = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return own | settings


# The installed command, as a user runs it.
CLI = str(Path(sys.executable).parent / "incentive-ledger")


def run_process(
    args: list[str],
    *,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 180,
    text: bool = True,
) -> subprocess.CompletedProcess[Any]:
    """Run ``args`` to the end in a process of its own (``process_env()`` unless
    ``env``), its output captured; the caller checks the return code."""
    return subprocess.run(
        args,
        cwd=cwd,
        env=process_env() if env is None else env,
        input=stdin,
        capture_output=True,
        text=text,
        timeout=timeout,
        check=False,
    )


def invoke_cli(*args: str, stdin: bytes | str | None = None) -> Result:
    """The command in this process (typer's runner; the settings cache is
    cleared around every test, `tests.conftest`), ``stdin`` its standard input."""
    from cli import app  # the command's whole import, only for the tests that run it

    return CliRunner().invoke(app, list(args), input=stdin)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StandIn(BaseHTTPRequestHandler):
    """The handler of a stand-in for a service a test talks to (`serving`): it
    answers JSON and logs no request."""

    def answer_json(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        del args


_Handler = TypeVar("_Handler", bound=BaseHTTPRequestHandler)


@contextmanager
def serving(handler: type[_Handler], path: str) -> Iterator[tuple[str, type[_Handler]]]:
    """A subclass of ``handler`` (its class attributes the test's own to set)
    answering on a free loopback port: the URL of ``path`` there, and the
    subclass; until the block ends."""
    own = type(handler.__name__, (handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), own)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}", own
    finally:
        server.shutdown()
        server.server_close()


def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    """Wait (up to 30 s) until the server ``process`` started answers ``base``'s
    ``/health`` with 200; fail with its stderr if it exits first."""
    for _ in range(300):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the API did not come up")


def run_cli(*args: str, **options: Any) -> subprocess.CompletedProcess[Any]:
    """`incentive-ledger` with ``args`` in a process of its own (`run_process`)."""
    return run_process([CLI, *args], **options)


def line(
    type_: str,
    *,
    at: str = "2026-07-14T10:00:00+08:00",
    actor: str = "crm-sync",
    **fields: Any,
) -> dict[str, Any]:
    """One import line as a dict."""
    return {"type": type_, "occurred_at": at, "actor": actor, **fields}


def jsonl(*events: dict[str, Any]) -> list[str]:
    return [json.dumps(e) for e in events]


def enrol(
    rep_id: str,
    *,
    plan_id: str = "field-sales",
    at: str = "2026-06-20T09:00:00+08:00",
    **extra: Any,
) -> dict[str, Any]:
    return line(
        "RepEnrolled",
        at=at,
        actor="hr-sync",
        rep_id=rep_id,
        name=extra.pop("name", f"Name of {rep_id}"),
        plan_id=plan_id,
        **extra,
    )


def sale(sale_id: str, rep_id: str, amount: str = "1000.00", **extra: Any) -> dict[str, Any]:
    return line(
        "SaleRecorded",
        sale_id=sale_id,
        rep_id=rep_id,
        amount=amount,
        currency="CNY",
        **extra,
    )


def seeded(ledger: Ledger, *reps: str) -> Ledger:
    """Publish the SPEC's plan and enrol ``reps``."""
    ledger.publish_plan(load_plan(PLAN_TOML, "toml"), actor="admin")
    if reps:
        ledger.import_lines(jsonl(*(enrol(r) for r in reps)), actor="hr-sync")
    return ledger


def pipelined(
    ledger: Ledger, first: list[dict[str, Any]], then: list[dict[str, Any]]
) -> tuple[RecordResult | LedgerError, RecordResult | LedgerError]:
    """Two `POST /events` requests through the API's group commit, in two
    groups, the second staged while the first is being committed (on the reps
    and plans it staged and what it hands on), as under load: the first group
    is staged once the second request has queued behind it, and committed
    once the second group is staged."""
    prepare, commit = ledger.prepare_group, ledger.commit_group
    entered, release, staged = threading.Event(), threading.Event(), threading.Event()

    def held_prepare(*args: Any) -> Any:
        if not entered.is_set():  # the first group, taken alone
            entered.set()
            release.wait(timeout=10)
            return prepare(*args)
        try:
            return prepare(*args)
        finally:
            staged.set()

    def held_commit(*args: Any) -> Any:
        staged.wait(timeout=10)
        return commit(*args)

    ledger.prepare_group = held_prepare  # type: ignore[method-assign]
    ledger.commit_group = held_commit  # type: ignore[method-assign]
    committer = GroupCommitter(ledger)
    inputs = [
        [Input.of(EVENT_ADAPTER.validate_python(e), "tester") for e in r] for r in (first, then)
    ]
    try:
        one = committer.submit_inputs(inputs[0])
        assert entered.wait(timeout=10), "the first group was never staged"
        two = committer.submit_inputs(inputs[1])
        release.set()
        outcomes = [f.exception(timeout=60) or f.result() for f in (one, two)]
    finally:
        release.set()
        committer.close()
        del ledger.prepare_group, ledger.commit_group
    return outcomes[0], outcomes[1]  # type: ignore[return-value]


def with_sheets_edited(
    source: Path, target: Path, edit: Callable[[bytes], bytes], *, computed: bool = False
) -> Path:
    """``target``: the xlsx workbook ``source`` with each sheet's XML passed
    through ``edit`` (what a writer other than openpyxl writes; a slip);
    ``computed``: as a spreadsheet application saves it, its formulas'
    values computed (it no longer asks for them on opening: openpyxl and
    XlsxWriter write ``fullCalcOnLoad``)."""
    with zipfile.ZipFile(source) as given, zipfile.ZipFile(target, "w") as written:
        for item in given.infolist():
            data = given.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = edit(data)
            elif computed and item.filename == "xl/workbook.xml":
                data = data.replace(b' fullCalcOnLoad="1"', b"")
            written.writestr(item, data)
    return target


def with_cells(
    source: Path, target: Path, cells: dict[str, str], *, computed: bool = False
) -> Path:
    """``target``: the xlsx workbook ``source`` with each cell ``cells`` names
    (``"E2"``) written as the XML given, as another writer would write it
    (``computed``: as `with_sheets_edited`)."""

    def edit(data: bytes) -> bytes:
        for ref, xml in cells.items():
            cell = rf'<c r="{ref}"[^>]*?(?:/>|>.*?</c>)'.encode()
            data, found = re.subn(cell, xml.encode(), data)
            assert found == 1, ref
        return data

    return with_sheets_edited(source, target, edit, computed=computed)


def demo_database(folder: Path) -> tuple[str, DemoResult]:
    """A SQLite ledger in ``folder`` the demo filled: its URL and what the demo did."""
    url = f"sqlite:///{folder / 'ledger.db'}"
    ledger = Ledger(url)
    try:
        return url, run_demo(ledger)
    finally:
        ledger.close()


def stored_record(ledger: Ledger, type_: str, **fields: str) -> EventRecord:
    """The first stored event of ``type_`` whose data has ``fields``."""
    for record in ledger.iter_log():
        if record.type == type_ and all(record.data.get(k) == v for k, v in fields.items()):
            return record
    raise AssertionError(f"no {type_} {fields}")


def stored_count(ledger: Ledger | str) -> int:
    """How many events the store holds (for "nothing was stored" checks): of
    ``ledger``, or of the database whose URL it is (opened and closed here)."""
    if isinstance(ledger, str):
        opened = Ledger(ledger)
        try:
            return stored_count(opened)
        finally:
            opened.close()
    return sum(1 for _ in ledger.iter_log())


def backoff_allows(elapsed_seconds: float, first_seconds: float = 0.5) -> int:
    """How many attempts a doubling backoff (``first_seconds``, then twice
    that, ...) makes in ``elapsed_seconds`` counted from the first attempt: a
    busy machine stretches a test's window, so a bound on attempts must follow
    the time that really passed (a hot loop makes dozens in one second)."""
    attempts, at, pause = 1, 0.0, first_seconds
    while at + pause <= elapsed_seconds:
        at += pause
        pause *= 2
        attempts += 1
    return attempts


def payouts(reports: Reports) -> UseCases:
    """The payout use cases (run, approve, pay) over ``reports``' ledger."""
    return UseCases(reports.ledger, reports)


def calculate_period(reports: Reports, period: str) -> str:
    """A payout run of ``period`` made by fin-amy, calculated: its run id."""
    result = payouts(reports).payout_run(period, actor="fin-amy")
    event_id = result.outcomes[0].event_id
    assert event_id is not None
    return str(reports.ledger.event(event_id).data["run_id"])


def pay_period(reports: Reports, period: str) -> str:
    """A payout run of ``period`` made by fin-amy, approved by fin-bob and
    paid: its run id."""
    run_id = calculate_period(reports, period)
    reports.ledger.record(
        [make_event(ApprovalGranted, occurred_at=datetime.now(UTC), subject_id=run_id)],
        actor="fin-bob",
    )
    payouts(reports).pay_run(run_id, actor="fin-amy")
    return run_id


def held_replay(monkeypatch: Any) -> threading.Event:
    """Hold every replay of every read model a projector starts (a version
    changed) until the event returned is set."""
    release = threading.Event()
    real = runner._replay_all

    def held(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(60), "the test never released the replay"
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "_replay_all", held)
    return release


def held_after_fold(monkeypatch: Any) -> tuple[threading.Event, threading.Event]:
    """Hold every replay once it has folded the log, before it computes a row:
    (set once it has folded, set it to go on)."""
    folded, go = threading.Event(), threading.Event()
    real = runner.encoded_rows

    def held(*args: Any, **kwargs: Any) -> Any:
        folded.set()
        assert go.wait(60), "the test never let the replay go on"
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "encoded_rows", held)
    return folded, go
