"""The windowed `--as-of` replay (only the events that reach into a period, and a
stored total for the balance carried in) equals the replay of the whole log.

Histories span six quarters with sales, cancellations, targets and their
approvals, KPI scores, minor and red-line cases, negative and positive
adjustments (so balances carry), and payout runs paid part-way through (so
corrections land in later periods). For every rep, every period and several
positions, the statement is compared byte for byte with a whole-log replay.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.errors import InvalidInputError
from ledger.events import ApprovalGranted
from policies.periods import parse_period, period_of
from policies.plan import load_plan
from projections.runner import Projector, verify_views
from projections.service import Reports
from projections.statement import Calculator, canonical_bytes
from projections.storage import open_view_store
from tests.builders import PLAN_TOML, enrol, jsonl, payouts
from tests.integration.windowed import compare_windowed

REPS = ("r1", "r2")
QUARTERS = ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1", "2027-Q2")
_START = datetime.fromisoformat("2026-01-01T00:00:00+08:00")
_DAYS = 545  # to the end of 2027-Q2


def _at(day: int, hour: int = 10) -> str:
    return (_START + timedelta(days=day, hours=hour)).isoformat()


def _quarter_of(day: int) -> str:
    moment = _START + timedelta(days=day)
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


Step = tuple[str, Any]  # ("events", [dict, ...]) or ("pay", "2026-Q2")


@st.composite
def histories(draw: st.DrawFn) -> list[Step]:
    """Events in time order over six quarters, with payouts of some quarters."""
    days = sorted(draw(st.lists(st.integers(0, _DAYS), min_size=4, max_size=40)))
    events: list[dict[str, Any]] = []
    sales: list[tuple[str, int]] = []
    subjects: list[str] = []
    for i, day in enumerate(days):
        rep = draw(st.sampled_from(REPS))
        kind = draw(
            st.sampled_from(
                [
                    *("sale", "sale", "sale", "cancel", "target", "approve", "kpi"),
                    *("minor", "minor", "redline", "adjust", "adjust"),
                ]
            )
        )
        base = {"occurred_at": _at(day), "actor": "crm"}
        quarter = _quarter_of(day)
        if kind == "sale":
            amount = draw(st.integers(1000, 300000))
            events.append(
                base
                | {
                    "type": "SaleRecorded",
                    "sale_id": f"S{i}",
                    "rep_id": rep,
                    "amount": f"{amount}.00",
                    "currency": "CNY",
                    "category": draw(st.sampled_from(["software", "hardware"])),
                }
            )
            sales.append((f"S{i}", day))
        elif kind == "cancel" and sales:
            sale_id, _ = sales.pop(draw(st.integers(0, len(sales) - 1)))
            events.append(base | {"type": "SaleCancelled", "sale_id": sale_id, "reason": "x"})
        elif kind == "target":
            target_quarter = draw(st.sampled_from([q for q in QUARTERS if q >= quarter]))
            events.append(
                base
                | {
                    "type": "TargetSet",
                    "actor": "mgr",
                    "target_id": f"T{i}",
                    "rep_id": rep,
                    "period": target_quarter,
                    "kpi": "sales_amount",
                    "value": str(draw(st.integers(50000, 400000))),
                    "reason": "plan",
                }
            )
            if target_quarter == quarter:  # changed once its period started: approved
                subjects.append(f"T{i}")
        elif kind == "approve" and subjects:
            subject = subjects.pop(draw(st.integers(0, len(subjects) - 1)))
            events.append(
                base | {"type": "ApprovalGranted", "actor": "checker", "subject_id": subject}
            )
        elif kind == "kpi":
            events.append(
                base
                | {
                    "type": "KpiScored",
                    "actor": "mgr",
                    "rep_id": rep,
                    "period": quarter,
                    "kpi": "customer_satisfaction",
                    "score": str(draw(st.decimals(min_value=0, max_value=2, places=2))),
                }
            )
        elif kind in {"minor", "redline"}:
            case = {
                "type": "ViolationRecorded",
                "actor": "cmp",
                "case_id": f"C{i}",
                "rep_id": rep,
                "code": "late" if kind == "minor" else "fraud",
                "severity": "minor" if kind == "minor" else "red_line",
                "description": "d",
            }
            if kind == "redline":
                case["amount"] = f"{draw(st.integers(1, 90000))}.00"
                subjects.append(f"C{i}")
            events.append(base | case)
        elif kind == "adjust":
            amount = draw(st.integers(-60000, 20000)) or 1
            events.append(
                base
                | {
                    "type": "AdjustmentRequested",
                    "actor": "mgr",
                    "adjustment_id": f"A{i}",
                    "rep_id": rep,
                    "period": quarter,
                    "amount": f"{amount}.00",
                    "reason": "r",
                }
            )
            subjects.append(f"A{i}")
    paid = draw(st.lists(st.sampled_from(QUARTERS[:4]), unique=True, max_size=3))
    steps: list[Step] = []
    cuts = sorted(
        draw(st.lists(st.integers(0, len(events)), min_size=len(paid), max_size=len(paid)))
    )
    done = 0
    for cut, quarter in zip(cuts, sorted(paid), strict=True):
        steps.append(("events", events[done:cut]))
        steps.append(("pay", quarter))
        done = cut
    steps.append(("events", events[done:]))
    return steps


def _pay(ledger: Ledger, reports: Reports, quarter: str) -> None:
    try:
        result = payouts(reports).payout_run(quarter, actor="fin-a")
    except InvalidInputError:  # nothing payable in that quarter yet
        return
    run_id = ledger.event(str(result.outcomes[0].event_id)).data["run_id"]
    approval = ApprovalGranted(
        type="ApprovalGranted", occurred_at=datetime.now(UTC), subject_id=run_id
    )
    ledger.record([approval], actor="fin-b")
    ledger.pay_run(run_id, actor="fin-b")


def _start(ledger: Ledger) -> None:
    ledger.publish_plan(load_plan(PLAN_TOML, "toml"), actor="admin")
    ledger.import_lines(
        jsonl(*(enrol(r, at="2026-01-01T09:00:00+08:00") for r in REPS)), actor="hr"
    )


def _replay(ledger: Ledger, steps: list[Step]) -> list[int]:
    """Record the history; returns the head position after each step."""
    reports = Reports(ledger)
    positions = []
    for what, payload in steps:
        if what == "pay":
            _pay(ledger, reports, payload)
        elif payload:
            ledger.import_lines([json.dumps(e) for e in payload], actor="x")
        head = ledger.head()
        assert head is not None
        positions.append(head.position)
    return positions


def _compare(ledger: Ledger, positions: list[int]) -> int:
    """Windowed replays equal whole-log replays; returns how many were windowed."""
    return sum(compare_windowed(Reports(ledger), positions, REPS, QUARTERS).values())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_windowed_replay_equals_the_whole_log(steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        ledger = Ledger(f"sqlite:///{Path(directory) / 'ledger.db'}")
        try:
            _start(ledger)
            positions = _replay(ledger, steps)
            Projector(ledger).catch_up(batch_events=5)
            assert verify_views(ledger) == []
            windowed = _compare(ledger, positions)
            # at the head nothing later can have changed a stored total — unless
            # a quarter was paid before events of an earlier one came: they may
            # change what it carried in, and the replay then reads the whole log
            if not _paid_before_earlier_events(steps):
                assert windowed >= len(REPS) * len(QUARTERS)
        finally:
            ledger.close()


def _paid_before_earlier_events(steps: list[Step]) -> bool:
    """Whether a quarter was paid before an event of an earlier quarter was recorded."""
    paid: list[str] = []
    for what, payload in steps:
        if what == "pay":
            paid.append(payload)
            continue
        for event in payload:
            quarter = str(period_of(datetime.fromisoformat(event["occurred_at"]), "quarter"))
            if any(quarter < p for p in paid):
                return True
    return False


def _year_of_history(ledger: Ledger) -> None:
    """Four quarters of sales for two reps, a negative balance carried, a paid
    quarter corrected by a late cancellation, minor cases a year apart."""
    _start(ledger)
    lines: list[dict[str, Any]] = []
    for i in range(120):
        day = i * 3
        lines.append(
            {
                "type": "SaleRecorded",
                "occurred_at": _at(day),
                "actor": "crm",
                "sale_id": f"S{i}",
                "rep_id": REPS[i % 2],
                "amount": f"{10000 + i * 137}.00",
                "currency": "CNY",
                "category": "software" if i % 3 else "hardware",
            }
        )
    lines += [
        {
            "type": "ViolationRecorded",
            "occurred_at": _at(day),
            "actor": "cmp",
            "case_id": f"C{day}",
            "rep_id": "r1",
            "code": "late",
            "severity": "minor",
            "description": "d",
        }
        for day in (40, 200, 380)
    ]
    lines.append(
        {
            "type": "AdjustmentRequested",
            "occurred_at": _at(100),
            "actor": "mgr",
            "adjustment_id": "A1",
            "rep_id": "r2",
            "period": "2026-Q2",
            "amount": "-900000.00",
            "reason": "clawback",
        }
    )
    lines.sort(key=lambda e: e["occurred_at"])
    _replay(ledger, [("events", lines[:60]), ("pay", "2026-Q1"), ("events", lines[60:])])
    ledger.record(
        [ApprovalGranted(type="ApprovalGranted", occurred_at=_START, subject_id="A1")],
        actor="fin",
    )
    ledger.import_lines(
        [
            json.dumps(
                {
                    "type": "SaleCancelled",
                    "occurred_at": _at(20),
                    "actor": "crm",
                    "sale_id": "S2",
                    "reason": "returned",
                }
            )
        ],
        actor="crm",
    )


def test_a_windowed_replay_on_both_stores(ledger: Ledger) -> None:
    """The same, deterministic, on SQLite and PostgreSQL: every statement of every
    quarter at the head goes the windowed way and equals the whole-log replay."""
    _year_of_history(ledger)
    reports = Reports(ledger)
    reports.catch_up()
    assert verify_views(ledger) == []
    head = ledger.head()
    assert head is not None
    assert _compare(ledger, [head.position]) == len(REPS) * len(QUARTERS)
    # r2 carries the approved clawback of Q2 into Q3
    q3 = reports.statement("r2", "2026-Q3", as_of=head.position)
    assert "carried_balance" in {line["kind"] for line in q3["lines"]}
    # r1's Q1 was paid, then a sale in it was cancelled: corrected in Q2
    q2 = reports.statement("r1", "2026-Q2", as_of=head.position)
    assert "correction" in {line["kind"] for line in q2["lines"]}


def test_a_later_change_to_an_earlier_period_falls_back(ledger: Ledger) -> None:
    """As of a position before a cancellation of a Q1 sale, the stored Q1 total
    (which includes it) does not hold: the windowed path declines, and the
    statement still equals the whole-log replay."""
    _year_of_history(ledger)
    reports = Reports(ledger)
    reports.catch_up()
    head = ledger.head()
    assert head is not None
    before = head.position - 1  # before the late cancellation of S2 (2026-Q1)
    period = parse_period("2026-Q3")
    assert reports._windowed_statement("r1", period, before, "en") is None
    facts, at = reports.facts_at(before)
    expected = canonical_bytes(Calculator(facts, at).statement("r1", period))
    assert canonical_bytes(reports.statement("r1", "2026-Q3", as_of=before)) == expected


def test_the_index_reads_only_what_reaches_the_period(ledger: Ledger) -> None:
    """Events of the period, cases of the year before it and the unbounded ones
    (plans, enrolment, runs) are read; older sales are not."""
    _year_of_history(ledger)
    Reports(ledger).catch_up()
    store = open_view_store(ledger)
    head = ledger.head()
    assert head is not None
    everything = store.rep_positions("r1", head.position)
    q4 = store.rep_positions("r1", head.position, (date(2026, 10, 1), date.max))
    assert set(q4) < set(everything)
    read = ledger.read_positions(q4)
    types = {r.type for r in read}
    assert {"PlanPublished", "RepEnrolled", "PayoutCalculated", "ViolationRecorded"} <= types
    sale_days = sorted(r.occurred_at.date() for r in read if r.type == "SaleRecorded")
    assert sale_days
    assert sale_days[0] >= date(2026, 10, 1)
    # a minor case reaches a year on (the ladder's look-back): for 2027-Q2, the
    # case of 2026-02-10 no longer does, those of 2026-07-19 and 2027-01-16 do
    q2 = ledger.read_positions(
        store.rep_positions("r1", head.position, (date(2027, 4, 1), date.max))
    )
    cases = {r.data["case_id"] for r in q2 if r.type == "ViolationRecorded"}
    assert cases == {"C200", "C380"}
    assert not [r for r in q2 if r.type == "SaleRecorded"]


def test_an_index_from_an_earlier_version_gets_its_dates(
    db_url: str, make_ledger: Callable[..., Ledger]
) -> None:
    """A replay index made before the dates existed is migrated on open: its rows
    read as "any period" (replays read everything, and stay exact), and verify
    reports the index as differing from a fresh replay (a rebuild fills it)."""
    ledger = make_ledger()
    _year_of_history(ledger)
    Reports(ledger).catch_up()
    store = open_view_store(ledger)
    head = ledger.head()
    assert head is not None
    _drop_index_dates(db_url)
    store = open_view_store(make_ledger())
    assert store.rep_positions("r1", head.position, (date(2026, 10, 1), date.max)) == (
        store.rep_positions("r1", head.position)
    )
    assert store.earliest_change_after("r1", 0) == date.min
    assert "rep_events: the replay index differs from a fresh replay" in verify_views(ledger)
    assert _compare(ledger, [head.position - 2]) >= 0  # every statement still exact


def _drop_index_dates(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        with conn:
            conn.execute("ALTER TABLE proj_rep_events DROP COLUMN since")
            conn.execute("ALTER TABLE proj_rep_events DROP COLUMN until")
            # nor did it record migrations or read-model versions
            conn.execute("DROP TABLE proj_schema_migrations")
            conn.execute("DROP TABLE proj_versions")
        conn.close()
        return
    import psycopg

    base, schema = db_url.split("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'ALTER TABLE "{schema}".proj_rep_events DROP COLUMN since, DROP COLUMN until')
        conn.execute(f'DROP TABLE "{schema}".proj_schema_migrations, "{schema}".proj_versions')


def test_paying_a_period_moves_the_correction_of_the_one_before(ledger: Ledger) -> None:
    """Found by the property above: r2's paid Q3 gains a sale later (its correction
    goes to Q4); paying Q4 settles it, so Q3's statement changes with a payment of
    Q4. The projection, one event at a time, must recompute Q3 then."""
    _start(ledger)
    adjustment = {
        "type": "AdjustmentRequested",
        "occurred_at": "2026-05-08T10:00:00+08:00",
        "actor": "mgr",
        "adjustment_id": "A2",
        "rep_id": "r1",
        "period": "2026-Q2",
        "amount": "-16284.00",
        "reason": "r",
    }
    sale = {
        "type": "SaleRecorded",
        "occurred_at": "2026-07-20T10:00:00+08:00",
        "actor": "crm",
        "sale_id": "S4",
        "rep_id": "r2",
        "amount": "4473.00",
        "currency": "CNY",
        "category": "hardware",
    }
    reports = Reports(ledger)
    _replay(ledger, [("events", [adjustment]), ("pay", "2026-Q3")])
    reports.catch_up()
    _replay(ledger, [("events", [sale])])
    reports.catch_up()
    before = reports.statement("r2", "2026-Q3")
    assert before["correction_to"] == "2026-Q4"
    _replay(ledger, [("pay", "2026-Q4")])
    Projector(ledger).catch_up(batch_events=1)
    after = reports.statement("r2", "2026-Q3")
    assert after["correction_to"] == "2026-Q4", "settled there: it still names it"
    assert verify_views(ledger) == []
