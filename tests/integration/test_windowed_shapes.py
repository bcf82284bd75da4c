"""The windowed `--as-of` replay of the SPEC §3.1 shapes that read beyond one
rep's period equals the replay of the whole log, byte for byte, on SQLite and
PostgreSQL: a rep paid on collection (payments of sales booked quarters before,
partial payments, a cancellation inside the window), reps moved between a
collection plan and one paid on booking (a payment under the second still
releases what a sale booked under the first earned, at the rates as they stand,
late ones too) and managers with an override (two levels, a transfer between
them, a report whose sales were recorded before the manager's plan paid
overrides), at every position of the history and for every quarter.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.errors import BatchRejectedError
from ledger.events import ApprovalGranted
from policies.plan import load_plan, plan_document
from projections.service import Reports
from tests.builders import enrol, jsonl, line, payouts, stored_record
from tests.integration.windowed import compare_windowed
from tests.unit.shapes import plan_toml

QUARTERS = ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1")
REPS = ("m1", "m2", "r1", "r2", "r3")
JAN = "2026-01-01T09:00:00+08:00"


def _publish(ledger: Ledger, toml: str, plan_id: str) -> None:
    text = toml.replace('id = "field-sales"', f'id = "{plan_id}"')
    ledger.publish_plan(load_plan(text, "toml"), actor="admin")


def _sale(sale_id: str, rep_id: str, amount: str, at: str) -> dict[str, Any]:
    return line(
        "SaleRecorded", at=at, sale_id=sale_id, rep_id=rep_id, amount=amount, currency="CNY"
    )


def _payment(payment_id: str, sale_id: str, amount: str, at: str) -> dict[str, Any]:
    return line("PaymentReceived", at=at, payment_id=payment_id, sale_id=sale_id, amount=amount)


def _start(ledger: Ledger) -> None:
    """m1 manages m2 and r2 (until r2 moves to m2 in Q3); m2 manages r1, who is
    paid on collection; r3 (m1's report) sold before the team's plan gained an
    override (version 2, from Q2)."""
    _publish(ledger, plan_toml(commission='basis = "collection"\n'), "reps")
    _publish(ledger, plan_toml(), "field-sales")
    _publish(ledger, plan_toml(), "managers")
    ledger.import_lines(
        jsonl(
            enrol("m1", plan_id="managers", at=JAN),
            enrol("m2", plan_id="managers", at=JAN, manager_id="m1"),
            enrol("r1", plan_id="reps", at=JAN, manager_id="m2"),
            enrol("r2", at=JAN, manager_id="m1"),
            enrol("r3", at=JAN, manager_id="m1"),
        ),
        actor="hr",
    )


def _history() -> list[list[dict[str, Any]]]:
    """Batches of events, each recorded in turn (a position after each)."""
    return [
        [
            _sale("S1", "r1", "40000.00", "2026-02-10T10:00:00+08:00"),
            _sale("S2", "r2", "30000.00", "2026-02-11T10:00:00+08:00"),
            _sale("S3", "r3", "20000.00", "2026-02-12T10:00:00+08:00"),
        ],
        [
            _payment("P1", "S1", "10000.00", "2026-03-20T10:00:00+08:00"),
            _sale("S4", "r1", "50000.00", "2026-05-05T10:00:00+08:00"),
            _payment("P2", "S1", "20000.00", "2026-05-20T10:00:00+08:00"),
        ],
        [_override_from_q2()],
        [
            _sale("S5", "r3", "15000.00", "2026-05-06T10:00:00+08:00"),
            _sale("S6", "r2", "25000.00", "2026-06-30T23:00:00+08:00"),
            line("RepTransferred", at="2026-07-01T00:00:00+08:00", rep_id="r2", manager_id="m2"),
            _sale("S7", "r2", "35000.00", "2026-07-01T00:00:00+08:00"),
            _payment("P3", "S4", "50000.00", "2026-08-01T10:00:00+08:00"),
            _payment("P4", "S1", "10000.00", "2026-10-02T10:00:00+08:00"),
        ],
        [
            # r3's S3 was recorded before m1's plan paid overrides (so m1's own
            # events list its cancellation, not the sale)
            line("SaleCancelled", at="2026-03-01T10:00:00+08:00", sale_id="S3", reason="lost"),
            _sale("S8", "r1", "60000.00", "2026-10-03T10:00:00+08:00"),
            line("SaleCancelled", at="2026-10-20T10:00:00+08:00", sale_id="S8", reason="lost"),
            _sale("S9", "r1", "70000.00", "2026-11-03T10:00:00+08:00"),
            _payment("P5", "S9", "35000.00", "2027-01-15T10:00:00+08:00"),
            _sale("S10", "r3", "45000.00", "2027-02-01T10:00:00+08:00"),
        ],
    ]


def _override_from_q2() -> dict[str, Any]:
    """The managers' plan, version 2: an override from Q2 on."""
    text = (
        plan_toml(tail="[override]\nrates = [0.02, 0.01]\n")
        .replace('id = "field-sales"', 'id = "managers"')
        .replace("version = 1", "version = 2")
        .replace("effective_from = 2026-01-01", "effective_from = 2026-04-01")
    )
    return line("PlanPublished", actor="admin", plan=plan_document(load_plan(text, "toml")))


def _record(ledger: Ledger, batches: list[list[dict[str, Any]]]) -> list[int]:
    positions = []
    for batch in batches:
        ledger.import_lines([json.dumps(e) for e in batch], actor="crm")
        head = ledger.head()
        assert head is not None
        positions.append(head.position)
    return positions


def _pay(ledger: Ledger, quarter: str) -> None:
    reports = Reports(ledger)
    result = payouts(reports).payout_run(quarter, actor="fin-a")
    run_id = ledger.event(str(result.outcomes[0].event_id)).data["run_id"]
    approval = ApprovalGranted(
        type="ApprovalGranted", occurred_at=datetime.now(UTC), subject_id=run_id
    )
    ledger.record([approval], actor="fin-b")
    ledger.pay_run(run_id, actor="fin-b")


def _compare(ledger: Ledger, positions: list[int]) -> dict[str, int]:
    """Windowed replays (and the public as-of path) equal whole-log replays, the
    read models caught up; how many statements of each rep went the windowed way."""
    reports = Reports(ledger)
    reports.catch_up()
    return compare_windowed(reports, positions, REPS, QUARTERS)


def test_collection_and_overrides_windowed_equal_the_whole_log(ledger: Ledger) -> None:
    _start(ledger)
    batches = _history()
    positions = _record(ledger, batches[:2])
    _pay(ledger, "2026-Q1")
    positions += _record(ledger, batches[2:])
    windowed = _compare(ledger, positions)
    head = ledger.head()
    assert head is not None
    at_head = _compare(ledger, [head.position])
    # at the head every statement of the collection rep and the managers is windowed
    assert at_head["r1"] == at_head["m1"] == at_head["m2"] == len(QUARTERS)
    assert windowed["r1"] > len(QUARTERS)
    reports = Reports(ledger)
    m1 = reports.statement("m1", "2026-Q2", as_of=head.position)
    overrides = [x["amount"] for x in m1["lines"] if x["kind"] == "override"]
    assert overrides == ["800.00", "500.00"], "r2 + r3: 40,000 x 0.02; r1 via m2: 50,000 x 0.01"


_DAYS = 450
Step = tuple[str, Any]  # ("events", [event, ...]) or ("pay", "2026-Q2")
# an event of a history beyond sales, payments and cancellations: (draw, its
# index, its day) -> the event
Other = Callable[[st.DrawFn, int, int], dict[str, Any]]


def _transfer(draw: st.DrawFn, _: int, day: int) -> dict[str, Any]:
    rep = draw(st.sampled_from(["r2", "r3"]))
    to = draw(st.sampled_from(["m1", "m2"]))
    return line("RepTransferred", at=_day(day), rep_id=rep, manager_id=to)


@st.composite
def _histories(
    draw: st.DrawFn,
    reps: Sequence[str] = ("r1", "r2", "r3"),
    other: Other = _transfer,
    currencies: Sequence[str] = ("CNY",),
    paid: Sequence[str] = (),
) -> list[Step]:
    """Sales of ``reps`` in ``currencies``, payments of them (partial, in
    later quarters), cancellations and ``other`` events, in batches — and
    some of the quarters ``paid`` paid between them."""
    events: list[tuple[int, dict[str, Any]]] = []
    sales: list[tuple[str, int, int]] = []  # id, day, amount left
    for i in range(draw(st.integers(3, 18))):
        day = draw(st.integers(0, _DAYS - 100))
        kind = draw(st.sampled_from(["sale", "sale", "pay", "pay", "cancel", "other"]))
        at = _day(day)
        if kind == "sale" or not sales:
            amount = draw(st.integers(1, 90)) * 1000
            rep = draw(st.sampled_from(reps))
            currency = draw(st.sampled_from(currencies))
            found = _sale(f"S{i}", rep, f"{amount}.00", at) | {"currency": currency}
            events.append((day, found))
            sales.append((f"S{i}", day, amount))
        elif kind == "pay":
            index = draw(st.integers(0, len(sales) - 1))
            sale_id, sold, left = sales[index]
            if left:
                paid_now = draw(st.integers(1, left // 1000)) * 1000
                later = _day(draw(st.integers(sold, _DAYS)))
                payment = _payment(f"P{i}", sale_id, f"{paid_now}.00", later)
                events.append((max(sold, day), payment))
                sales[index] = (sale_id, sold, left - paid_now)
        elif kind == "cancel":
            sale_id, sold, _ = sales[draw(st.integers(0, len(sales) - 1))]
            cancel_at = _day(sold + draw(st.integers(0, 120)))
            events.append((sold, line("SaleCancelled", at=cancel_at, sale_id=sale_id, reason="x")))
        else:
            events.append((day, other(draw, i, day)))
    cancelled: set[str] = set()
    ordered: list[dict[str, Any]] = []
    for _, event in events:  # as recorded: a cancelled sale takes no payment after
        sale_id = event.get("sale_id")
        if event["type"] == "SaleCancelled":
            if sale_id in cancelled:
                continue
            cancelled.add(sale_id)
        if event["type"] == "PaymentReceived" and sale_id in cancelled:
            continue
        ordered.append(event)
    quarters = (
        sorted(draw(st.lists(st.sampled_from(paid), unique=True, max_size=2))) if paid else []
    )
    size = 1 + len(quarters)
    cuts = draw(st.lists(st.integers(0, len(ordered)), min_size=size, max_size=size))
    bounds = [0, *sorted(cuts), len(ordered)]
    steps: list[Step] = []
    for k, (begin, end) in enumerate(itertools.pairwise(bounds)):
        if 0 < k <= len(quarters):
            steps.append(("pay", quarters[k - 1]))
        steps.append(("events", ordered[begin:end]))
    return steps


def _day(day: int) -> str:
    return (date(2026, 1, 1) + timedelta(days=day)).strftime("%Y-%m-%dT10:00:00+08:00")


def _record_steps(ledger: Ledger, steps: list[Step]) -> list[int]:
    """Record ``steps``; the head position after each (a batch the generator
    got wrong — a payment, say — is not the point: skipped)."""
    positions = []
    for what, payload in steps:
        if what == "pay":
            _pay(ledger, payload)
        try:
            positions += _record(ledger, [[] if what == "pay" else payload])
        except BatchRejectedError:
            continue
    return positions


def _compare_history(
    path: Any, start: Callable[[Ledger], list[int]], steps: list[Step], reps: Sequence[str]
) -> None:
    """A SQLite ledger at ``path`` started by ``start`` (the positions it
    recorded), ``steps`` recorded: windowed replays equal whole-log ones at
    every position."""
    ledger = Ledger(f"sqlite:///{path}")
    try:
        positions = start(ledger) + _record_steps(ledger, steps)
        reports = Reports(ledger)
        reports.catch_up()
        compare_windowed(reports, positions, reps, QUARTERS)
    finally:
        ledger.close()


def _with_override(ledger: Ledger) -> list[int]:
    _start(ledger)
    return _record(ledger, [[_override_from_q2()]])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_histories())
def test_random_histories_windowed_equal_the_whole_log(
    steps: list[Step], tmp_path_factory: Any
) -> None:
    path = tmp_path_factory.mktemp("windowed") / "ledger.db"
    _compare_history(path, _with_override, steps, REPS)


def _rate(rate: str, at: str) -> dict[str, Any]:
    return line("FxRateSet", at=at, actor="fin", base="USD", quote="CNY", rate=rate)


def _plan_move(rep_id: str, plan_id: str, at: str) -> dict[str, Any]:
    return line("RepPlanAssigned", at=at, actor="hr", rep_id=rep_id, plan_id=plan_id)


def _collection_and_booking(ledger: Ledger, *enrolled: dict[str, Any]) -> None:
    """The collection plan ("reps"), one paid on booking ("field-sales"), the
    USD rate of 7.0 from the new year, and ``enrolled``."""
    _publish(ledger, plan_toml(commission='basis = "collection"\n'), "reps")
    _publish(ledger, plan_toml(), "field-sales")
    ledger.import_lines(jsonl(_rate("7.0", "2026-01-01T00:00:00+08:00"), *enrolled), actor="hr")


def test_a_rep_moved_off_collection_reads_the_booking_period_as_of_the_head(
    ledger: Ledger,
) -> None:
    """r1, paid on collection, sold 10,000 USD on 10 April at 7.0 (earned
    3,500); from Q3 a plan paid on booking pays r1, and half the sale is paid
    in July: Q3 releases 1,750. Q2 and Q3 are paid; then a rate of 7.5 dated
    1 April is recorded: the sale earned 3,750, Q3 would release 1,875, and Q4
    corrects it by 125, naming the rate. The windowed replay of Q3 read Q3
    alone (its plan pays on booking), so the payment's sale was not among its
    facts: it released nothing and named no later event."""
    _collection_and_booking(ledger, enrol("r1", plan_id="reps", at="2026-04-01T09:00:00+08:00"))
    usd = _sale("S1", "r1", "10000.00", "2026-04-10T10:00:00+08:00") | {"currency": "USD"}
    moved = _plan_move("r1", "field-sales", "2026-07-01T00:00:00+08:00")
    _record(ledger, [[usd, moved, _payment("P1", "S1", "5000.00", "2026-07-10T10:00:00+08:00")]])
    _pay(ledger, "2026-Q2")
    _pay(ledger, "2026-Q3")
    positions = _record(ledger, [[_rate("7.5", "2026-04-01T00:00:00+08:00")]])
    late = stored_record(ledger, "FxRateSet", rate="7.5").event_id
    reports = Reports(ledger)
    reports.catch_up()
    quarters = ("2026-Q2", "2026-Q3", "2026-Q4")
    # each quarter windowed, and equal to the whole log's replay
    assert compare_windowed(reports, positions, ["r1"], quarters) == {"r1": len(quarters)}
    q3 = reports.statement("r1", "2026-Q3", as_of=positions[-1])
    assert [e["event_id"] for e in q3["later_events"]] == [late]
    assert q3["later_events"] == reports.statement("r1", "2026-Q3")["later_events"]
    q4 = reports.statement("r1", "2026-Q4", as_of=positions[-1])
    (correction,) = [x for x in q4["lines"] if x["kind"] == "correction"]
    assert (correction["amount"], correction["event_ids"]) == ("125.00", [late])


_MOVERS = ("c1", "c2")


def _move_or_rate(draw: st.DrawFn, index: int, day: int) -> dict[str, Any]:
    """A mover put on either plan from a quarter's start, or a USD rate dated
    ``day`` (recorded late when a sale before it is dated after)."""
    if draw(st.booleans()):
        rep = draw(st.sampled_from(_MOVERS))
        quarter = date(2026, 1 + 3 * draw(st.integers(1, 3)), 1)
        to = draw(st.sampled_from(["reps", "field-sales"]))
        return _plan_move(rep, to, f"{quarter.isoformat()}T00:00:00+08:00")
    at = _day(day).replace("T10:00", f"T09:{index:02d}")  # one rate a moment
    return _rate(str(Decimal(draw(st.integers(65, 80))) / 10), at)


def _movers(ledger: Ledger) -> list[int]:
    """c1 on collection until Q3, then paid on booking; c2 paid on booking."""
    _collection_and_booking(
        ledger,
        enrol("c1", plan_id="reps", at=JAN),
        enrol("c2", plan_id="field-sales", at=JAN),
        _plan_move("c1", "field-sales", "2026-07-01T00:00:00+08:00"),
    )
    return []


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_histories(_MOVERS, _move_or_rate, ("USD", "CNY"), QUARTERS[:3]))
def test_random_plan_moves_windowed_equal_the_whole_log(
    steps: list[Step], tmp_path_factory: Any
) -> None:
    """Reps moved between pay on collection and pay on booking, with sales in
    two currencies, rates dated back and quarters paid part-way: every
    windowed as-of replay equals the whole log's."""
    path = tmp_path_factory.mktemp("moves") / "ledger.db"
    _compare_history(path, _movers, steps, _MOVERS)
