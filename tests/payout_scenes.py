"""Shared by the payout tests: a ledger with a paid run and an open one, the
HTTP API over any test database, and the CLI in-process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from api.app import create_app
from api.settings import Settings, get_settings
from api.tokens import TokenStore
from cli import app as cli_app
from ledger.application import Ledger
from ledger.events import ApprovalGranted, make_event
from projections.service import Reports
from tests.builders import jsonl, payouts, sale, seeded

SECRET = "test-token-secret-0123456789abcdef"


def head_of(ledger: Ledger) -> int:
    head = ledger.head()
    return head.position if head else 0


def run_id_of(reports: Reports, period: str, actor: str = "fin-amy") -> str:
    """Record a payout run of ``period``; its id."""
    result = payouts(reports).payout_run(period, actor=actor)
    event_id = result.outcomes[0].event_id
    assert event_id is not None
    return str(reports.ledger.event(event_id).data["run_id"])


def approve(ledger: Ledger, run_id: str, actor: str = "fin-bob") -> None:
    item = make_event(ApprovalGranted, occurred_at=datetime.now(UTC), subject_id=run_id)
    ledger.record([item], actor=actor)


@dataclass
class Scene:
    """Q3 run ``paid_run`` paid, Q4 run ``approved_run`` approved (not paid), and
    2027-Q1 run ``open_run`` calculated."""

    ledger: Ledger
    reports: Reports
    paid_run: str
    approved_run: str
    open_run: str


def paid_scene(ledger: Ledger, *reps: str) -> Scene:
    seeded(ledger, *reps)
    ledger.import_lines(jsonl(*(sale(f"S-{r}", r) for r in reps)), actor="crm")
    reports = Reports(ledger)
    paid = run_id_of(reports, "2026-Q3")
    approve(ledger, paid)
    ledger.pay_run(paid, actor="fin-amy")
    approved = run_id_of(reports, "2026-Q4")
    approve(ledger, approved)
    return Scene(ledger, reports, paid, approved, run_id_of(reports, "2027-Q1"))


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@contextmanager
def api_over(ledger: Ledger, url: str, **settings: Any) -> Iterator[Api]:
    """The HTTP API over ``ledger`` (on SQLite or PostgreSQL), with tokens."""
    config = Settings(database_url=url, token_secret=SECRET, log_json=True, **settings)  # type: ignore[arg-type]
    app = create_app(config, ledger=ledger)
    store = TokenStore(ledger, SECRET)
    tokens = {
        "finance": store.create(actor="fin-amy", role="finance")[0],
        "finance2": store.create(actor="fin-bob", role="finance")[0],
        "rep": store.create(actor="r1", role="rep", rep_id="r1")[0],
    }
    with TestClient(app) as client:
        yield Api(client, tokens)


def cli(*args: str) -> Result:
    """The CLI, in this process (settings read afresh: none from this environment)."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli_app, list(args))
    finally:
        get_settings.cache_clear()
