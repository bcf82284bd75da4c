"""`incentive-ledger project --follow` (a real process) on a store whose read-model
table has gone: the worker keeps running, retries after a growing delay instead
of in a hot loop, reports its error beside the log (what an API in another
process serves on GET /health), and catches up exactly once when the table is
back."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ledger.application import Ledger
from projections.runner import verify_views
from projections.service import Reports
from tests.builders import backoff_allows, jsonl, process_env, sale, seeded

WORKER = str(Path(sys.executable).parent / "incentive-ledger")


def _until(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def test_the_worker_backs_off_reports_and_recovers(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    ledger = seeded(Ledger(url), "r1")
    ledger.import_lines(jsonl(sale("S-1", "r1")), actor="crm")
    api_side = Reports(Ledger(url), projections="external")
    log = tmp_path / "worker.log"
    with log.open("wb") as stderr:
        worker = subprocess.Popen(
            [WORKER, "project", "--follow", "--db", url],
            env=process_env(LEDGER_LOG_JSON="true"),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:

        def caught_up() -> bool:
            head = ledger.head()
            return head is not None and api_side.projector.store.position() == head.position

        _until(caught_up, "the first catch-up")
        with sqlite3.connect(path) as raw:  # the statements table goes away
            raw.execute("ALTER TABLE proj_statements RENAME TO proj_statements_away")
        started = time.monotonic()
        ledger.import_lines(jsonl(sale("S-2", "r1")), actor="crm")
        _until(lambda: api_side.projection_health()["state"] == "failing", "the report")
        time.sleep(2.0)
        attempts = log.read_text().count("projection.catch_up_failed")
        allowed = backoff_allows(time.monotonic() - started)  # 0.5 s, 1 s, 2 s apart
        assert 1 <= attempts <= allowed, log.read_text()
        assert worker.poll() is None  # still running
        health = api_side.projection_health()
        assert "proj_statements" in health["error"]["message"]
        with sqlite3.connect(path) as raw:
            raw.execute("ALTER TABLE proj_statements_away RENAME TO proj_statements")
        _until(caught_up, "the recovery")
        _until(lambda: api_side.projection_health()["state"] == "ok", "the report")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert verify_views(ledger) == []  # every event applied exactly once
    api_side.ledger.close()
    ledger.close()
