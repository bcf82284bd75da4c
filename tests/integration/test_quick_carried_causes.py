"""The causes of a carried balance answered from the period carried from's own
lines (`projections.statement.Calculator._quick_carried`: each late event of
that period's own facts taken out of its lines alone, the rest of its total as
it is) are those of the definition worked out whole (SPEC §4: a calculator
without each event, `Calculator.weigh_whole`), on SQLite and PostgreSQL: the
statements of the periods either side, the correction's changed lines and the
events named on each, and the diff's causes, line by line.

Each scenario is drawn from a seed: r1 on the SPEC's plan (under commission
tiers, a period cap and a gate in some), a Q3 sales target and scores, Q3
sales, a red-line fine that leaves Q3 below zero, a sale in Q4 or in 2027-Q1
(Q4 carrying Q3's balance on); Q4 or 2027-Q1 paid out (or, in some, neither);
then, recorded late and dated in Q3, sales, cancellations inside and outside
the window, an adjustment and its approval, a minor case, a score, the target
replaced and the fine overturned in some.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger.application import Ledger
from policies.plan import load_plan
from projections.service import Reports
from projections.statement import Calculator
from tests.builders import enrol, jsonl, line, pay_period, sale
from tests.integration.causes import recorded_late
from tests.unit.shapes import plan_toml, tiers

_SHAPES = "gate = 0.5\nperiod_cap = 9000\n" + tiers(
    "attainment", "marginal", "{from = 0.0, multiplier = 1.0}, {from = 1.0, rate = 0.1}"
)
_PERIODS = ("2026-Q3", "2026-Q4", "2027-Q1", "2027-Q2")


def _in_q3(rng: random.Random) -> str:
    return f"2026-{rng.choice((7, 8, 9)):02d}-{rng.randint(1, 28):02d}T10:00:00+08:00"


def _of_q3(type_: str, actor: str, **fields: str) -> dict[str, Any]:
    return line(type_, at="2026-07-02T10:00:00+08:00", actor=actor, rep_id="r1", **fields)


def _case(case_id: str, severity: str, amount: str) -> dict[str, Any]:
    found = _of_q3(
        "ViolationRecorded", "cmp-a", case_id=case_id, code="c", severity=severity, description="d"
    )
    return found | {"amount": amount}


def _scenario(ledger: Ledger, seed: int) -> tuple[int, int]:
    """The seed's scenario recorded; the positions before and after the late events."""
    rng = random.Random(seed)
    plan = plan_toml(commission=_SHAPES) if seed % 3 == 0 else plan_toml()
    ledger.publish_plan(load_plan(plan, "toml"), actor="admin")
    target = {"kpi": "sales_amount", "period": "2026-Q3", "reason": "plan"}
    booked = [_in_q3(rng) for _ in range(8)]
    sales = [
        sale(f"S{k}", "r1", f"{rng.randint(1, 40) * 1000}.00", at=at) for k, at in enumerate(booked)
    ]
    ledger.import_lines(
        jsonl(
            enrol("r1"),
            _of_q3("TargetSet", "mgr", target_id="T1", value="100000.00", **target),
            _of_q3("KpiScored", "crm", period="2026-Q3", kpi="customer_satisfaction", score="1"),
            *sales,
            _case("C1", "red_line", f"{rng.randint(20, 40) * 1000}.00"),
            # earned in Q4, or in 2027-Q1 (Q4 carries Q3's balance on)
            sale(
                "S-Q4",
                "r1",
                "100000.00",
                at=f"{rng.choice(('2026-10', '2027-01'))}-20T10:00:00+08:00",
            ),
        ),
        actor="crm",
    )
    approvals = [line("ApprovalGranted", actor="fin", subject_id=s) for s in ("T1", "C1")]
    ledger.import_lines(jsonl(*approvals), actor="fin")
    reports = Reports(ledger)
    if seed % 2:
        pay_period(reports, rng.choice(("2026-Q4", "2027-Q1")))
    head = ledger.head()
    assert head is not None
    late = [
        sale(f"L{k}", "r1", f"{rng.randint(1, 30) * 500}.00", at=_in_q3(rng))
        for k in range(rng.randint(3, 8))
    ]
    for k in rng.sample(range(8), 3):  # 10, 60 or 100 days after the sale: some outside the window
        at = datetime.fromisoformat(booked[k]) + timedelta(days=rng.choice((10, 60, 100)))
        late.append(line("SaleCancelled", at=at.isoformat(), sale_id=f"S{k}", reason="x"))
    adjustment = {"adjustment_id": "A1", "rep_id": "r1", "period": "2026-Q3"}
    late += [
        line("AdjustmentRequested", amount="-1500.00", reason="r", actor="fin", **adjustment),
        line("ApprovalGranted", actor="fin-b", subject_id="A1"),
        _case("M1", "minor", "0.00"),
        _of_q3("KpiScored", "crm", period="2026-Q3", kpi="market_feedback", score="0.5"),
        _of_q3("CoachingRecorded", "mgr", topic="t"),
    ]
    if rng.random() < 0.5:
        late.append(_of_q3("TargetSet", "mgr", target_id="T2", value="60000.00", **target))
        late.append(line("ApprovalGranted", actor="fin", subject_id="T2"))
    if rng.random() < 0.3:
        late.append(line("ViolationOverturned", actor="cmp-a", case_id="C1", reason="x"))
    return head.position, recorded_late(ledger, late, "crm-late")


def _answers(ledger: Ledger, before: int, head: int) -> list[Any]:
    reports = Reports(ledger)
    found: list[Any] = [reports.statement("r1", p, as_of=head) for p in _PERIODS]
    for period in _PERIODS[1:]:
        diff = reports.diff("r1", period, before, head)
        found.append(
            [(c.kind, c.before, c.after, [e.event_id for e in c.caused_by]) for c in diff.changes]
        )
    return found


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_the_quick_carried_causes_are_those_worked_out_whole(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Quick and whole give the same statements, corrections and diffs, and
    the carried balance names some late event (a scenario that named none
    would test nothing)."""
    before, head = _scenario(ledger, seed)
    quick = _answers(ledger, before, head)
    monkeypatch.setattr(Calculator, "weigh_whole", True)
    assert _answers(ledger, before, head) == quick
    statements, diffs = quick[: len(_PERIODS)], quick[len(_PERIODS) :]
    named = [e for s in statements if s["status"] == "paid" for e in s["later_events"]]
    named += [c for d in diffs for c in d if c[0] == "carried_balance" and c[3]]
    assert named, seed
