"""SPEC §3.1 and §5 on both stores: an override line on a manager's statement
rests on their reports' sales, each on the watch of whoever managed the
manager at the sale's instant (the override's own rule: the reporting lines
at its moment). The manager reads every event their override rests on; a
manager they left reads those of their watch, not what was recorded since
on another's; no one outside reads the statement at all."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from api.auth import check_rep_scope, may_read_event, trail_events_shown
from api.tokens import Principal
from ledger.application import Ledger
from ledger.errors import NotFoundError
from ledger.records import EventRecord
from policies.plan import load_plan
from projections.service import Reports
from tests.builders import PLAN_TOML, enrol, jsonl, line, sale, stored_record

LEADS = PLAN_TOML.replace('id = "field-sales"', 'id = "leads"') + '\n[override]\nrates = ["0.02"]\n'
Q3 = "2026-Q3"


def _as(actor: str, role: str = "manager", rep_id: str | None = None) -> Principal:
    return Principal("t", actor, role, rep_id, datetime(2199, 1, 1, tzinfo=UTC))


@pytest.fixture
def team(make_ledger: Callable[..., Ledger]) -> tuple[Ledger, Reports]:
    """mgr-m (paid overrides) reported to big-b, then from 1 August to big-c;
    r1 reported to mgr-m, then from 1 September to mgr-x. r1 sold S1 in July
    (big-b's watch), S2 in August (big-c's), S3 in September (mgr-x's team:
    no override of mgr-m's), and S1 was cancelled on 20 August (big-c's)."""
    ledger = make_ledger()
    ledger.publish_plan(load_plan(PLAN_TOML, "toml"), actor="admin")
    ledger.publish_plan(load_plan(LEADS, "toml"), actor="admin")
    people = [enrol(m) for m in ("big-b", "big-c", "mgr-x")]
    people += [enrol("mgr-m", plan_id="leads", manager_id="big-b"), enrol("r1", manager_id="mgr-m")]
    ledger.import_lines(jsonl(*people), actor="hr-sync")
    later = [
        sale("S1", "r1", "10000.00", at="2026-07-14T10:00:00+08:00"),
        line("RepTransferred", at="2026-08-01T09:00:00+08:00", rep_id="mgr-m", manager_id="big-c"),
        sale("S2", "r1", "20000.00", at="2026-08-10T10:00:00+08:00"),
        line("SaleCancelled", at="2026-08-20T10:00:00+08:00", sale_id="S1", reason="lost"),
        line("RepTransferred", at="2026-09-01T09:00:00+08:00", rep_id="r1", manager_id="mgr-x"),
        sale("S3", "r1", "40000.00", at="2026-09-10T10:00:00+08:00"),
    ]
    for event in later:
        ledger.import_lines(jsonl(event), actor=event["actor"])
    reports = Reports(ledger)
    reports.catch_up()
    return ledger, reports


def _read_by(reader: Principal, records: list[EventRecord], reports: Reports) -> list[bool]:
    """Which of ``records`` the override line's events name to ``reader`` on
    mgr-m's statement, checked against GET /events' answer for each."""
    judge = trail_events_shown(reader, "mgr-m", reports)
    named = [judge is None or judge(r) for r in records]
    opened = [
        may_read_event(reader, r.type, reports.reps_of_event(r), reports, at=r.occurred_at)
        for r in records
    ]
    assert named == opened, reader.actor
    return named


def test_an_override_lines_events_are_read_by_whose_watch_the_manager_was_on(
    team: tuple[Ledger, Reports],
) -> None:
    """The override line rests on S2 (S1 cancelled, S3 not theirs), its trail
    on S1 and the cancellation too: mgr-m (manager token or a rep token of
    theirs) and big-c, their manager today, read S1, S2 and the cancellation;
    big-b, whom mgr-m left, reads S1 alone — S2 and the cancellation are on
    big-c's watch; mgr-x and r1 do not read mgr-m's pay."""
    ledger, reports = team
    records = [
        stored_record(ledger, "SaleRecorded", sale_id="S1"),
        stored_record(ledger, "SaleRecorded", sale_id="S2"),
        stored_record(ledger, "SaleCancelled", sale_id="S1"),
    ]
    (override,) = [x for x in reports.statement("mgr-m", Q3)["lines"] if x["kind"] == "override"]
    s3 = stored_record(ledger, "SaleRecorded", sale_id="S3").event_id
    assert records[1].event_id in override["event_ids"]
    assert s3 not in override["event_ids"]
    for reader in (_as("mgr-m"), _as("mgr-m", "rep", "mgr-m"), _as("big-c")):
        check_rep_scope(reader, "mgr-m", reports, period=Q3)
        assert _read_by(reader, records, reports) == [True, True, True], reader
    big_b = _as("big-b")
    check_rep_scope(big_b, "mgr-m", reports, period=Q3)
    assert _read_by(big_b, records, reports) == [True, False, False]
    for outside in (_as("mgr-x"), _as("r1", "rep", "r1")):
        with pytest.raises(NotFoundError):
            check_rep_scope(outside, "mgr-m", reports, period=Q3)
