"""`Reports.run` and the payroll export read the run's own events (its
`PayoutCalculated`, the decision on it, its `PayoutPaid`) instead of replaying
the whole log — with the same results as the replay, at every step of a run's
life, on both stores."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from demo import run_demo
from ledger.application import Ledger
from ledger.errors import NotFoundError
from projections.facts import LedgerFacts
from projections.payout_runs import run_row
from projections.service import Reports
from tests.builders import payouts


def _replayed_run(ledger: Ledger, run_id: str) -> dict[str, Any]:
    """What `Reports.run` answered when it replayed the log (the reference)."""
    facts = LedgerFacts.of(list(ledger.iter_log()))
    info = facts.runs[run_id]
    decision = facts.decisions.get(run_id)
    return {
        **info.record.data,
        "calculated_by": info.record.actor,
        "approved": None if decision is None else decision.granted,
        "decided_by": decision.record.actor if decision else None,
        "paid": info.paid is not None,
    }


def _replayed_status(ledger: Ledger, run_id: str) -> str:
    return str(run_row(LedgerFacts.of(list(ledger.iter_log())), run_id)["status"])


def test_a_run_reads_as_the_replay_did_through_its_life(ledger: Ledger) -> None:
    run_demo(ledger)
    reports = Reports(ledger)
    run = payouts(reports).payout_run("2026-Q4", actor="fin-amy").outcomes[0]
    assert run.event_id is not None
    run_id = ledger.event(run.event_id).data["run_id"]
    seen = []
    for step in ("calculated", "approved", "paid"):
        if step == "approved":
            payouts(reports).decide_run(run_id, actor="fin-bob")
        if step == "paid":
            payouts(reports).pay_run(run_id, actor="fin-amy")
        answer = reports.run(run_id)
        assert orjson.dumps(answer) == orjson.dumps(_replayed_run(ledger, run_id))
        export = reports.export_csv(run_id)
        status = _replayed_status(ledger, run_id)
        assert all(row.endswith(f",{status}") for row in export.splitlines()[1:])
        seen.append((answer["approved"], answer["paid"], status))
    assert seen == [(None, False, "calculated"), (True, False, "approved"), (True, True, "paid")]


def test_a_rejected_run_and_its_export(ledger: Ledger) -> None:
    result = run_demo(ledger)
    reports = Reports(ledger)
    assert reports.run(result.run_id) == _replayed_run(ledger, result.run_id)
    run = payouts(reports).payout_run("2026-Q4", actor="fin-amy").outcomes[0]
    assert run.event_id is not None
    run_id = ledger.event(run.event_id).data["run_id"]
    payouts(reports).decide_run(run_id, actor="fin-bob", granted=False, note="wrong quarter")
    assert reports.run(run_id) == _replayed_run(ledger, run_id)
    assert reports.run(run_id)["approved"] is False
    names = [row.split(",")[3] for row in reports.export_csv(run_id).splitlines()[1:]]
    facts = LedgerFacts.of(list(ledger.iter_log()))
    assert names == [
        facts.reps[s["rep_id"]].enrolled.data["name"]
        for s in facts.runs[run_id].record.data["statements"]
    ]
    assert reports.export_csv(run_id).splitlines()[1].endswith(",rejected")


def test_an_unknown_run_is_not_found(ledger: Ledger) -> None:
    run_demo(ledger)
    with pytest.raises(NotFoundError, match="no payout run run-nope"):
        Reports(ledger).run("run-nope")
    with pytest.raises(NotFoundError, match="no payout run"):
        Reports(ledger).export_csv("run-nope")
