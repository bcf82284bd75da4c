"""SPEC §3.1 shapes of pay through import → statement, on SQLite and PostgreSQL:
tiers, the per-sale and period caps, the gate, a SPIFF and a recoverable draw
whose balance crosses a paid period.

The plan pays by month at 10 %: attainment bands ×1.0 below the quota and ×1.5
above it (marginal), a per-sale cap of 5,000, a period cap of 8,000, a gate at
0.5, a July SPIFF of 1,000 for sales of 20,000 or more, and a recoverable draw
of 3,000. Targets are 100,000 a month. The bonus is the SPEC's (only
sales_amount is scored, weight 0.6)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.events import ApprovalGranted, make_event
from policies.plan import load_plan
from projections.service import Reports
from tests.builders import enrol, jsonl, line, sale, stored_record
from tests.payout_scenes import approve, run_id_of
from tests.unit.shapes import draw, plan_toml, spiff, tiers

PLAN = plan_toml(
    commission="per_sale_cap = 5000\nperiod_cap = 8000\ngate = 0.5\n",
    default_rate="0.10",
    tail=tiers("attainment", "marginal", "{from = 0, multiplier = 1}, {from = 1, multiplier = 1.5}")
    + spiff("july-push", "2026-07-01", "2026-07-31", min_amount="20000", amount="1000")
    + draw("3000", "2026-12-31"),
).replace('period = "quarter"', 'period = "month"')


def _target(target_id: str, period: str) -> dict[str, Any]:
    return line(
        "TargetSet",
        at=f"{period}-01T09:00:00+08:00",
        actor="mgr-zhao",
        target_id=target_id,
        rep_id="r1",
        period=period,
        kpi="sales_amount",
        value="100000.00",
        reason="monthly quota",
    )


def _seeded(ledger: Ledger) -> Reports:
    ledger.publish_plan(load_plan(PLAN, "toml"), actor="admin")
    ledger.import_lines(jsonl(enrol("r1", at="2026-07-01T09:00:00+08:00")), actor="hr-sync")
    ledger.import_lines(jsonl(_target("T-07", "2026-07"), _target("T-08", "2026-08")), actor="mgr")
    for target_id in ("T-07", "T-08"):
        grant = make_event(ApprovalGranted, occurred_at=datetime.now(UTC), subject_id=target_id)
        ledger.record([grant], actor="fin-bob")
    ledger.import_lines(
        jsonl(
            sale("S1", "r1", "30000.00", at="2026-07-05T10:00:00+08:00"),
            sale("S2", "r1", "10000.00", at="2026-07-31T22:00:00+08:00"),
            sale("S3", "r1", "120000.00", at="2026-08-10T10:00:00+08:00"),
            sale("S4", "r1", "40000.00", at="2026-08-20T10:00:00+08:00"),
        ),
        actor="crm",
    )
    return Reports(ledger)


def _july_paid(ledger: Ledger) -> Reports:
    """The seeded ledger with July's run approved and paid."""
    reports = _seeded(ledger)
    run = run_id_of(reports, "2026-07")
    approve(ledger, run)
    ledger.pay_run(run, actor="fin-amy")
    return reports


def _amounts(statement: dict[str, Any]) -> list[tuple[str, str]]:
    return [(x["kind"], x["amount"]) for x in statement["lines"]]


def _in_order(**amounts: str) -> list[tuple[str, str]]:
    """The (kind, amount) lines of a statement, in the order given."""
    return list(amounts.items())


def _explanation(statement: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The steps explaining the statement's one line of ``kind``."""
    (found,) = [x for x in statement["lines"] if x["kind"] == kind]
    return list(found["explanation"])


def _codes(statement: dict[str, Any], kind: str) -> list[str]:
    return [s["code"] for s in _explanation(statement, kind)]


def test_july_below_the_gate_with_a_spiff_and_a_draw(ledger: Ledger) -> None:
    """Credited 40,000 of 100,000 (0.4 < gate 0.5): commission 3,000 + 1,000 taken
    back by the gate; S1 (30,000) earns the SPIFF, S2 (10,000) is below its minimum;
    E = 1,000 < 3,000: a draw of 2,000; total 3,000."""
    reports = _seeded(ledger)
    july = reports.statement("r1", "2026-07")
    assert _amounts(july) == _in_order(
        commission="4000.00", gate="-4000.00", spiff="1000.00", bonus="0.00", draw="2000.00"
    )
    assert (july["total"], july["payable"]) == ("3000.00", "3000.00")
    assert _codes(july, "gate") == ["gate_not_reached"]
    assert _codes(july, "draw") == ["draw_top_up", "draw_balance"]
    balance = _explanation(july, "draw")[1]["values"]
    assert balance == {"balance_before": "0.00", "balance_after": "2000.00"}


def test_august_accelerated_capped_and_recovering(ledger: Ledger) -> None:
    """S3 120,000: 100,000 × 0.10 + 20,000 × 0.15 = 13,000 → per-sale cap 5,000; S4
    40,000 × 0.15 = 6,000 → 5,000; 10,000 → period cap 8,000 (−2,000). Attainment
    1.6 ≥ gate. Bonus: score 0.6 × 1.6 = 0.96 → tier 0.8 → 12,000. E = 20,000:
    recovers July's 2,000 of draw; total 18,000."""
    reports = _seeded(ledger)
    august = reports.statement("r1", "2026-08")
    assert _amounts(august) == _in_order(
        commission="10000.00", cap="-2000.00", bonus="12000.00", draw_recovery="-2000.00"
    )
    assert august["total"] == "18000.00"
    codes = _codes(august, "commission")
    assert codes.count("per_sale_cap") == 2
    assert codes.count("sale_band") == 3  # S3 cut at the quota, S4 above it
    head = ledger.head()
    assert head is not None
    replayed = reports.statement("r1", "2026-08", as_of=head.position)  # a replay as of
    assert replayed["lines"] == august["lines"]
    balance = _explanation(august, "draw_recovery")[-1]["values"]
    assert balance == {"balance_before": "2000.00", "balance_after": "0.00"}


def test_the_draw_balance_is_carried_from_a_paid_period(ledger: Ledger) -> None:
    """July paid as computed: August still recovers the 2,000 the paid July drew,
    read from what was paid; July's statement is what was paid."""
    reports = _july_paid(ledger)
    july = reports.statement("r1", "2026-07")
    assert july["status"] == "paid"
    assert july["total"] == "3000.00"
    august = reports.statement("r1", "2026-08")
    assert ("draw_recovery", "-2000.00") in _amounts(august)
    assert august["total"] == "18000.00"


def test_a_cancellation_in_the_window_removes_the_spiff_and_resets_the_draw(
    ledger: Ledger,
) -> None:
    """S1 cancelled 10 days later: July credits 10,000 (0.1, gated), no SPIFF;
    E = 0: a draw of 3,000; August recovers 3,000."""
    reports = _seeded(ledger)
    ledger.import_lines(
        jsonl(
            line(
                "SaleCancelled",
                at="2026-07-15T10:00:00+08:00",
                sale_id="S1",
                reason="customer withdrew",
            )
        ),
        actor="crm",
    )
    july = reports.statement("r1", "2026-07")
    assert _amounts(july) == _in_order(
        commission="1000.00", gate="-1000.00", bonus="0.00", draw="3000.00"
    )
    august = reports.statement("r1", "2026-08")
    assert ("draw_recovery", "-3000.00") in _amounts(august)
    assert august["total"] == "17000.00"


def test_a_paid_spiff_cancelled_later_is_corrected_next_period(ledger: Ledger) -> None:
    """July paid 3,000 (its SPIFF on S1 included). S1 is then cancelled inside the
    clawback window: July replays as commission 1,000 gated to 0 and no SPIFF,
    its own lines 1,000 less than paid — a correction of −1,000 in August naming
    the spiff line among the changes. The draw July paid stays as paid: August
    still recovers 2,000 (E = 8,000 + 12,000 − 1,000)."""
    reports = _july_paid(ledger)
    ledger.import_lines(
        jsonl(line("SaleCancelled", at="2026-07-15T10:00:00+08:00", sale_id="S1", reason="void")),
        actor="crm",
    )
    july = reports.statement("r1", "2026-07")
    assert (july["status"], july["total"], july["correction_to"]) == ("paid", "3000.00", "2026-08")
    august = reports.statement("r1", "2026-08")
    correction = next(x for x in august["lines"] if x["kind"] == "correction")
    assert correction["amount"] == "-1000.00"
    changes = {
        s["values"]["kind"]: (s["values"]["before"], s["values"]["after"])
        for s in correction["explanation"]
        if s["code"] == "correction_change"
    }
    assert changes == {
        "commission": ("4000.00", "1000.00"),
        "gate": ("-4000.00", "-1000.00"),
        "spiff": ("1000.00", "0.00"),
    }
    # each change names the event that moved it — the SPIFF's too, though none
    # of its steps cites the cancellation (it named nothing)
    cancel = stored_record(ledger, "SaleCancelled", sale_id="S1").event_id
    named = {
        s["values"]["kind"]: s["event_ids"]
        for s in correction["explanation"]
        if s["code"] == "correction_change"
    }
    assert named == {"commission": [cancel], "gate": [cancel], "spiff": [cancel]}
    assert ("draw_recovery", "-2000.00") in _amounts(august)
    assert august["total"] == "17000.00"


@pytest.mark.parametrize(
    ("left", "drawn"),
    [
        ("2026-07-31T18:00:00+08:00", None),  # gone before September began: no draw
        ("2026-09-01T09:00:00+08:00", "3000.00"),  # there on its first day: its draw
    ],
)
def test_a_rep_who_left_is_drawn_nothing_for_the_periods_after(
    ledger: Ledger, left: str, drawn: str | None
) -> None:
    """SPEC §3.1: the draw guarantees a rep's periods, not those after they
    left: a rep gone before September began showed September's 3,000 draw on
    the statement, which no run would pay (it covers nobody gone by then)."""
    reports = _seeded(ledger)
    ledger.import_lines(
        jsonl(line("RepLeft", at=left, actor="hr-sync", rep_id="r1", reason="resigned")),
        actor="hr-sync",
    )
    september = reports.statement("r1", "2026-09")
    draws = [x["amount"] for x in september["lines"] if x["kind"] == "draw"]
    assert draws == ([drawn] if drawn else [])
