"""Group commit (issue 5): requests committed together stay independent — each
all or nothing, in order, each seeing the ones before it — and concurrent
submitters through `GroupCommitter` get exactly their own outcomes."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from ledger.application import Ledger, RecordResult
from ledger.errors import BatchRejectedError, LedgerError
from ledger.events import EventIn
from ledger.ingestion.batch import STALE, UNSETTLED
from ledger.ingestion.group_commit import GroupCommitter
from ledger.ingestion.parse import parse_line
from ledger.writes import Input
from tests.builders import enrol, jsonl, line, sale, seeded, stored_count


def _items(*events: dict[str, Any]) -> list[EventIn]:
    parsed = [parse_line(text, line=1) for text in jsonl(*events)]
    assert all(not errors for _, errors in parsed)
    return [item for item, _ in parsed if item is not None]


def _kpi(rep: str, score: str) -> dict[str, Any]:
    return line("KpiScored", rep_id=rep, period="2026-Q3", kpi="quality", score=score)


def test_a_group_keeps_each_request_all_or_nothing(ledger: Ledger) -> None:
    seeded(ledger, "r1", "r2")
    before = stored_count(ledger)
    results = ledger.record_many(
        [
            (_items(sale("G1", "r1"), _kpi("r1", "0.9")), "crm"),
            (_items(sale("G2", "r2"), sale("G3", "nobody")), "crm"),  # one bad line
            (_items(_kpi("r1", "0.8"), sale("G4", "r2")), "crm"),  # same rep as the first
            (_items(sale("G1", "r1", "5.00")), "crm"),  # conflicts with the first
        ]
    )
    first, bad, third, conflict = results
    assert isinstance(first, RecordResult)
    assert (first.stored, first.skipped) == (2, 0)
    assert isinstance(bad, BatchRejectedError)
    assert [(e.line, e.field) for e in bad.errors] == [(2, "rep_id")]
    assert isinstance(third, RecordResult)
    assert third.stored == 2
    assert isinstance(conflict, BatchRejectedError)
    assert conflict.status == "conflict"
    assert stored_count(ledger) == before + 4
    positions = [o.position for r in (first, third) for o in r.outcomes]
    assert positions == sorted(positions), "requests are appended in order"
    sales = {r.data["sale_id"] for r in ledger.iter_log() if r.type == "SaleRecorded"}
    assert {"G1", "G4"} <= sales
    assert not {"G2", "G3"} & sales, "a failed request stores nothing"
    assert ledger.verify().ok


@pytest.mark.parametrize("threads", [16])
def test_concurrent_submitters_get_their_own_outcomes(ledger: Ledger, threads: int) -> None:
    seeded(ledger, "r1", "r2")
    committer = GroupCommitter(ledger)
    outcomes: dict[int, RecordResult | LedgerError] = {}

    def submit(n: int) -> None:
        events = [sale(f"T{n}-{i}", "r1" if i % 2 else "r2") for i in range(3)]
        if n % 5 == 0:
            events.append(sale(f"T{n}-x", "ghost"))  # this request must fail alone
        try:
            outcomes[n] = committer.record(_items(*events), actor="crm")
        except LedgerError as exc:
            outcomes[n] = exc

    workers = [threading.Thread(target=submit, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    committer.close()
    for n, outcome in outcomes.items():
        if n % 5 == 0:
            assert isinstance(outcome, BatchRejectedError), n
        else:
            assert isinstance(outcome, RecordResult), n
            assert outcome.stored == 3
    stored = Counter(r.data["sale_id"] for r in ledger.iter_log() if r.type == "SaleRecorded")
    expected = {f"T{n}-{i}" for n in range(threads) if n % 5 for i in range(3)}
    assert set(stored) == expected
    assert set(stored.values()) == {1}
    assert ledger.verify().ok


def test_a_re_sent_request_is_already_stored(ledger: Ledger) -> None:
    seeded(ledger, "r1")
    committer = GroupCommitter(ledger)
    items = _items(sale("R1", "r1"))
    first = committer.record(items, actor="crm")
    again = committer.record(items, actor="crm")
    committer.close()
    assert (first.stored, again.stored, again.skipped) == (1, 0, 1)


def test_a_re_sent_creation_is_looked_up_after_all(ledger: Ledger) -> None:
    """Requests are staged first assuming the keys they create are new; where that
    is wrong the group is staged again looking every key up. Here the assumption
    would even break a rule: fin-bob re-sends fin-amy's adjustment (identical, so
    skipped) and approves it — as its maker, had it been new."""
    seeded(ledger, "r1")
    adjustment = line(
        "AdjustmentRequested",
        adjustment_id="A1",
        rep_id="r1",
        period="2026-Q3",
        amount="-150.00",
        reason="duplicate travel claim",
    )
    ledger.record(_items(adjustment | {"actor": "fin-amy"}), actor="x")
    before = stored_count(ledger)
    resent = _items(
        adjustment | {"actor": "fin-bob"},
        line("ApprovalGranted", actor="fin-bob", subject_id="A1"),
    )
    fresh = _items(sale("N1", "r1"))
    [both, new] = ledger.record_many([(resent, "x"), (fresh, "x")])
    assert isinstance(both, RecordResult)
    assert isinstance(new, RecordResult)
    assert (both.stored, both.skipped) == (1, 1)
    assert [o.status for o in both.outcomes] == ["skipped", "stored"]
    assert (new.stored, new.skipped) == (1, 0)
    assert stored_count(ledger) == before + 2
    approval = ledger.event(str(both.outcomes[1].event_id))
    assert (approval.type, approval.actor) == ("ApprovalGranted", "fin-bob")


def test_a_group_sees_what_another_writer_appended_since_the_last(
    make_ledger: Any,
) -> None:
    """Group commits start from the reps the last one staged only while no one
    else has appended: a rep another writer moved to a USD plan meanwhile has
    its CNY sale refused, not checked against the rep as it was."""
    from policies.plan import load_plan
    from tests.builders import PLAN_TOML

    api, cli = make_ledger(), make_ledger()
    seeded(api, "r1")
    [first] = api.record_many([(_items(sale("W1", "r1")), "crm")])
    assert isinstance(first, RecordResult)
    assert first.stored == 1
    usd = PLAN_TOML.replace('id = "field-sales"', 'id = "usd-sales"').replace(
        'currency = "CNY"', 'currency = "USD"'
    )
    cli.publish_plan(load_plan(usd, "toml"), actor="admin")
    cli.record(
        _items(
            line(
                "RepPlanAssigned", at="2026-07-01T00:00:00+08:00", rep_id="r1", plan_id="usd-sales"
            )
        ),
        actor="hr",
    )
    [second] = api.record_many([(_items(sale("W2", "r1")), "crm")])  # a CNY sale in July
    assert isinstance(second, BatchRejectedError)
    assert [e.field for e in second.errors] == ["currency"]
    usd_sale = {**sale("W3", "r1"), "currency": "USD"}
    [third] = api.record_many([(_items(usd_sale), "crm")])
    assert isinstance(third, RecordResult)
    assert third.stored == 1
    assert api.verify().ok


def _inputs(*events: dict[str, Any]) -> list[Input]:
    return [Input.of(item, "crm") for item in _items(*events)]


def _statuses(result: RecordResult | LedgerError) -> list[str]:
    assert isinstance(result, RecordResult), result
    return [o.status for o in result.outcomes]


def test_a_group_staged_on_the_group_being_committed_goes_in_as_staged(
    ledger: Ledger,
) -> None:
    """The pipelined group commit: the second group is staged while the first is
    still being committed, on the reps the first staged (r2 exists only there),
    and is appended as staged once the first went in as staged."""
    seeded(ledger, "r1")
    first = ledger.prepare_group([_inputs(enrol("r2"), sale("Q1", "r2"))])
    second = ledger.prepare_group(
        [_inputs(sale("Q2", "r2")), _inputs(_kpi("r2", "0.9"))], (UNSETTLED, first.kept)
    )
    assert second.staged is not None, "staged on the first group's reps"
    # only reps and plans are carried: a cancellation of the first group's sale
    # is staged again under the lock, once that sale is stored
    third = ledger.prepare_group(
        [_inputs(line("SaleCancelled", sale_id="Q1", reason="void"))], (UNSETTLED, {})
    )
    assert third.staged is None
    done = ledger.commit_group(first)
    assert done.warm is not None, "the first went in as staged"
    second.follows(done)
    assert second.basis == done.head
    after = ledger.commit_group(second)
    assert after.warm is not None, "the second went in as staged too"
    assert [_statuses(r) for r in after.results] == [["stored"], ["stored"]]
    [cancelled] = ledger.commit_group(third).results
    assert _statuses(cancelled) == ["stored"]
    assert ledger.verify().ok


def test_a_group_staged_on_a_group_that_was_staged_again_is_staged_again(
    ledger: Ledger,
) -> None:
    """When the group it was staged on did not go in as staged (a re-sent creation
    that exists), the next group is staged again under the lock — its outcomes
    are those of committing the two one after the other."""
    seeded(ledger, "r1")
    ledger.record(_items(sale("S1", "r1")), actor="crm")
    first = ledger.prepare_group([_inputs(sale("S1", "r1"), sale("S2", "r1"))])
    second = ledger.prepare_group(
        [_inputs(sale("S1", "r1", "9.00"))],  # conflicts with the stored S1
        (UNSETTLED, first.kept),
    )
    done = ledger.commit_group(first)
    assert done.warm is None, "S1 exists: staged again under the lock"
    assert [_statuses(r) for r in done.results] == [["skipped", "stored"]]
    second.follows(done)
    assert second.basis is STALE
    [conflict] = ledger.commit_group(second).results
    assert isinstance(conflict, BatchRejectedError)
    assert conflict.status == "conflict"


def test_a_pipelined_group_sees_what_another_writer_appended_meanwhile(
    make_ledger: Any,
) -> None:
    """Another writer appends between the two groups: the second, staged before
    that, is staged again under the lock and sees it (the sale it cancels was
    already cancelled by the other writer: the cancellation conflicts or is a
    rule broken, never stored twice)."""
    api, cli = make_ledger(), make_ledger()
    seeded(api, "r1")
    first = api.prepare_group([_inputs(sale("C1", "r1"))])
    second = api.prepare_group(
        [_inputs(line("SaleCancelled", sale_id="C1", reason="void"))], (UNSETTLED, first.kept)
    )
    done = api.commit_group(first)
    assert done.warm is not None
    cli.record(_items(line("SaleCancelled", sale_id="C1", reason="duplicate")), actor="crm")
    second.follows(done)
    after = api.commit_group(second)
    assert after.warm is None, "the chain head moved: staged again under the lock"
    [result] = after.results
    assert isinstance(result, LedgerError)
    cancellations = [r for r in api.iter_log() if r.type == "SaleCancelled"]
    assert [r.data["reason"] for r in cancellations] == ["duplicate"]
    assert api.verify().ok
