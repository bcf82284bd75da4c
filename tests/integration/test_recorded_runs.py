"""`Reports.run` and the payroll export read the run's own events (its
`PayoutCalculated`, the decision on it, its `PayoutPaid`) instead of replaying
the whole log — with the same results as the replay, at every step of a run's
life, on both stores."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from demo import run_demo
from ledger.application import Ledger
from ledger.errors import BatchRejectedError, LedgerError
from projections.facts import LedgerFacts
from projections.payout_runs import run_row
from projections.queues import WorkQueues
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


def _refusal(call: Callable[[], object]) -> tuple[str | None, str]:
    """The field and reason ``call`` is refused with (a rejected batch's only one)."""
    with pytest.raises(LedgerError) as caught:
        call()
    refused = caught.value
    if isinstance(refused, BatchRejectedError):
        (error,) = refused.errors
        return error.field, error.reason
    return refused.field, refused.reason


def test_an_unknown_run_is_worded_one_way_whatever_is_done_with_it(ledger: Ledger) -> None:
    """Paying a run or raising a dispute of it said "unknown payout run
    'run-nope'", approving, exporting or reading it "no payout run run-nope":
    one fact, two wordings. Now each says the first, naming run_id."""
    run_demo(ledger)
    reports = Reports(ledger)
    cases = payouts(reports)
    calls: list[Callable[[], object]] = [
        lambda: reports.run("run-nope"),
        lambda: WorkQueues(reports).run("run-nope"),
        lambda: reports.export_csv("run-nope"),
        lambda: reports.export_file("run-nope", "xlsx"),
        lambda: cases.decide_run("run-nope", actor="fin-bob"),
        lambda: cases.pay_run("run-nope", actor="fin-bob"),
        lambda: cases.raise_dispute(
            rep_id="rep-li", run_id="run-nope", message="wrong", actor="rep-li"
        ),
    ]
    said = {_refusal(call) for call in calls}
    assert said == {("run_id", "unknown payout run 'run-nope'")}


def test_a_long_unknown_id_is_echoed_cut(ledger: Ledger) -> None:
    """A 404 for an unknown run id of 5,000 characters echoed all of them
    (the same for a dispute, an event, a rep): an id is at most 128
    characters, so one longer is quoted by its first 64, with an ellipsis
    and its length; an id that can be one is echoed whole."""
    run_demo(ledger)
    reports = Reports(ledger)
    long = "r" * 5_000
    calls: list[Callable[[], object]] = [
        lambda: reports.run(long),
        lambda: WorkQueues(reports).run(long),
        lambda: reports.export_csv(long),
        lambda: payouts(reports).decide_run(long, actor="fin-bob"),
        lambda: payouts(reports).resolve_dispute(
            long, outcome="rejected", actor="fin-bob", note="n"
        ),
        lambda: ledger.event(long),
        lambda: reports.rep(long),
        lambda: reports.statement(long, "2026-Q4"),
    ]
    for call in calls:
        field, reason = _refusal(call)
        assert re.search(r"\br{64}'?\.\.\.\(5000 characters\)", reason), (field, reason[:200])
        assert "r" * 65 not in reason, field
    whole = "r" * 128
    assert _refusal(lambda: reports.run(whole)) == ("run_id", f"unknown payout run {whole!r}")
