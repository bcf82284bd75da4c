"""Replay properties over random event histories (hypothesis), on SQLite.

For any history: the same events give byte-identical statement JSON (two
independent computations: the read model and a replay); a statement as of
position p is unchanged by anything appended after p; every projection equals a
fresh replay; the rounded lines sum to the total.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from policies.periods import parse_period
from policies.plan import load_plan
from projections.runner import Projector, verify_views
from projections.service import Reports
from projections.statement import Calculator, canonical_bytes
from tests.builders import PLAN_TOML

REPS = ("r1", "r2")
_DAY = st.integers(min_value=0, max_value=88)


_START = datetime.fromisoformat("2026-07-01T00:00:00+08:00")


def _at(day: int, hour: int = 10) -> str:
    return (_START + timedelta(days=day, hours=hour)).isoformat()


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two batches of valid events for two reps in 2026-Q3."""
    events: list[dict[str, Any]] = []
    subjects: list[tuple[str, str]] = []
    sales: list[tuple[str, int]] = []
    n = draw(st.integers(min_value=3, max_value=25))
    for i in range(n):
        kind = draw(
            st.sampled_from(
                [
                    "sale",
                    "sale",
                    "sale",
                    "cancel",
                    "target",
                    "approve",
                    "kpi",
                    "minor",
                    "redline",
                    "adjust",
                ]
            )
        )
        rep = draw(st.sampled_from(REPS))
        day = draw(_DAY)
        if kind == "sale":
            amount = draw(st.decimals(min_value=1, max_value=200000, places=2))
            sale: dict[str, Any] = {
                "type": "SaleRecorded",
                "occurred_at": _at(day),
                "actor": "crm",
                "sale_id": f"S{i}",
                "rep_id": rep,
                "amount": str(amount),
                "currency": "CNY",
                "category": draw(st.sampled_from(["software", "hardware"])),
            }
            if draw(st.booleans()):
                share = draw(st.sampled_from(["0.5", "0.3", "0.25"]))
                sale["splits"] = [
                    {"rep_id": "r1", "share": share},
                    {"rep_id": "r2", "share": str(1 - Decimal(share))},
                ]
            events.append(sale)
            sales.append((f"S{i}", day))
        elif kind == "cancel" and sales:
            sale_id, sale_day = draw(st.sampled_from(sales))
            sales.remove((sale_id, sale_day))
            later = sale_day + draw(st.sampled_from([1, 30, 89, 90, 91, 120]))
            events.append(
                {
                    "type": "SaleCancelled",
                    "occurred_at": _at(later),
                    "actor": "crm",
                    "sale_id": sale_id,
                    "reason": "x",
                }
            )
        elif kind == "target":
            before = draw(st.booleans())
            at = "2026-06-20T10:00:00+08:00" if before else _at(day)
            events.append(
                {
                    "type": "TargetSet",
                    "occurred_at": at,
                    "actor": "mgr",
                    "target_id": f"T{i}",
                    "rep_id": rep,
                    "period": "2026-Q3",
                    "kpi": "sales_amount",
                    "value": str(draw(st.integers(50000, 400000))),
                    "reason": "plan",
                }
            )
            if not before:
                subjects.append((f"T{i}", "mgr"))
        elif kind == "approve" and subjects:
            subject, _ = subjects.pop(draw(st.integers(0, len(subjects) - 1)))
            verdict = draw(st.sampled_from(["ApprovalGranted", "ApprovalRejected"]))
            events.append(
                {
                    "type": verdict,
                    "occurred_at": _at(88, 20),
                    "actor": "checker",
                    "subject_id": subject,
                }
            )
        elif kind == "kpi":
            events.append(
                {
                    "type": "KpiScored",
                    "occurred_at": _at(day),
                    "actor": "mgr",
                    "rep_id": rep,
                    "period": "2026-Q3",
                    "kpi": draw(st.sampled_from(["customer_satisfaction", "market_feedback"])),
                    "score": str(draw(st.decimals(min_value=0, max_value=2, places=2))),
                }
            )
        elif kind == "minor":
            events.append(
                {
                    "type": "ViolationRecorded",
                    "occurred_at": _at(day),
                    "actor": "mgr",
                    "case_id": f"C{i}",
                    "rep_id": rep,
                    "code": "late",
                    "severity": "minor",
                    "description": "d",
                }
            )
        elif kind == "redline":
            events.append(
                {
                    "type": "ViolationRecorded",
                    "occurred_at": _at(day),
                    "actor": "cmp",
                    "case_id": f"C{i}",
                    "rep_id": rep,
                    "code": "fraud",
                    "severity": "red_line",
                    "description": "d",
                    "amount": str(draw(st.integers(1, 5000))) + ".00",
                }
            )
            subjects.append((f"C{i}", "cmp"))
        elif kind == "adjust":
            events.append(
                {
                    "type": "AdjustmentRequested",
                    "occurred_at": _at(day),
                    "actor": "mgr",
                    "adjustment_id": f"A{i}",
                    "rep_id": rep,
                    "period": "2026-Q3",
                    "amount": str(draw(st.integers(-3000, 3000)) or 1) + ".00",
                    "reason": "r",
                }
            )
            subjects.append((f"A{i}", "mgr"))
    cut = draw(st.integers(min_value=0, max_value=len(events)))
    return events[:cut], events[cut:]


def _fresh_ledger(directory: str) -> Ledger:
    ledger = Ledger(f"sqlite:///{Path(directory) / 'ledger.db'}")
    ledger.publish_plan(load_plan(PLAN_TOML, "toml"), actor="admin")
    enrol = [
        {
            "type": "RepEnrolled",
            "occurred_at": "2026-06-01T09:00:00+08:00",
            "actor": "hr",
            "rep_id": r,
            "name": r,
            "plan_id": "field-sales",
        }
        for r in REPS
    ]
    ledger.import_lines([json.dumps(e) for e in enrol], actor="hr")
    return ledger


def _lines(events: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(e) for e in events]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_replay_properties(history: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    first, second = history
    with tempfile.TemporaryDirectory() as directory:
        ledger = _fresh_ledger(directory)
        try:
            reports = Reports(ledger)
            if first:
                ledger.import_lines(_lines(first), actor="x")
            head = ledger.head()
            assert head is not None
            p = head.position
            before = {r: canonical_bytes(reports.statement(r, "2026-Q3", as_of=p)) for r in REPS}
            # determinism: a second, independent replay is byte-identical
            assert before == {
                r: canonical_bytes(reports.statement(r, "2026-Q3", as_of=p)) for r in REPS
            }
            # the indexed replay (the rep's events only) equals a replay of the whole log
            facts, at = reports.facts_at(p)
            q3 = parse_period("2026-Q3")
            assert before == {
                r: canonical_bytes(Calculator(facts, at).statement(r, q3)) for r in REPS
            }
            # the read model agrees with the replay, byte for byte
            assert before == {r: canonical_bytes(reports.statement(r, "2026-Q3")) for r in REPS}
            Projector(ledger).catch_up(batch_events=3)
            if second:
                ledger.import_lines(_lines(second), actor="x")
            # nothing appended after p changes the statement as of p
            assert before == {
                r: canonical_bytes(reports.statement(r, "2026-Q3", as_of=p)) for r in REPS
            }
            Projector(ledger).catch_up(batch_events=4)
            assert verify_views(ledger) == []
            for rep in REPS:
                s = reports.statement(rep, "2026-Q3")
                assert sum(Decimal(x["amount"]) for x in s["lines"]) == Decimal(s["total"])
                assert Decimal(s["payable"]) >= 0
        finally:
            ledger.close()
