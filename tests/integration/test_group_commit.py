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
from ledger.events import EventIn, parse_line
from ledger.group_commit import GroupCommitter
from tests.builders import jsonl, line, sale, seeded, stored_count


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
