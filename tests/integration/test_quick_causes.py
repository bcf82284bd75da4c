"""A paid period's causes beyond its own facts — backdated transfers and
enrolments, late exchange rates, plan assignments — answered by the quick
checks (`projections.statement._Quick`: proven to move nothing, or moved over
the period's own facts) are those of the definition worked out whole (SPEC §4:
the period replayed without each event, `Calculator.weigh_whole`), on SQLite
and PostgreSQL: the paid statements' later events, the corrections' changed
lines and the events named on each, and the diffs' causes, line by line.

Each scenario is drawn from a seed: a two-level team under m1 (r1 manages r2
and r3 at first), sales in CNY and USD in the paid quarter, some cancelled;
then, recorded late and dated inside it, moves between m1, m2 and r1, a new
report enrolled under r1 with sales, rates (some equal to the one in force),
and plan assignments — of m1 (before and inside the paid quarter) and of a
team member whose cancelled sale a shorter window no longer claws back.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from ledger.application import Ledger
from policies.plan import load_plan
from projections.service import Reports
from projections.statement import Calculator
from tests.builders import enrol, jsonl, line, pay_period, sale, stored_record
from tests.integration.causes import answers, paid_q3, recorded_late
from tests.unit.shapes import plan_toml

_OVERRIDE = "[override]\nrates = [0.02, 0.01]\n"
_REPS = ("m1", "m2", "r1", "r2", "r3", "r4", "r5")


def _at(rng: random.Random, hour: int = 0) -> str:
    """A moment inside 2026-Q3, from the 2nd of July on."""
    month = rng.choice((7, 8, 9))
    day = rng.randint(2 if month == 7 else 1, 28)
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00+08:00"


def _sale(rng: random.Random, sale_id: str, rep_id: str) -> dict[str, Any]:
    amount = f"{rng.randint(1, 50) * 1000}.00"
    found = sale(sale_id, rep_id, amount, at=_at(rng, 10))
    return found | {"currency": "USD"} if rng.random() < 0.5 else found


def _scenario(ledger: Ledger, seed: int) -> tuple[int, int]:
    """The seed's scenario recorded; the positions before and after the late events."""
    rng = random.Random(seed)
    ledger.publish_plan(load_plan(plan_toml(tail=_OVERRIDE), "toml"), actor="admin")
    short = plan_toml(tail=_OVERRIDE).replace('id = "field-sales"', 'id = "short"')
    ledger.publish_plan(
        load_plan(short.replace("window_days = 90", "window_days = 10"), "toml"), actor="admin"
    )
    ledger.import_lines(
        jsonl(
            enrol("m1"),
            enrol("m2"),
            enrol("r1", manager_id="m1"),
            enrol("r2", manager_id="r1"),
            enrol("r3", manager_id="r1"),
            enrol("r4", manager_id="m1"),
            line("FxRateSet", at="2026-07-01T00:00:00+08:00", base="USD", quote="CNY", rate="7.0"),
        ),
        actor="hr-sync",
    )
    sales = [_sale(rng, f"S{rep}-{k}", rep) for rep in _REPS[:6] for k in range(3)]
    ledger.import_lines(jsonl(*sales), actor="crm")
    cancel = line(  # 30 days after: inside 90 days, outside 10
        "SaleCancelled", at="2026-08-31T10:00:00+08:00", sale_id="Sr2-x", reason="x"
    )
    ledger.import_lines(
        jsonl(sale("Sr2-x", "r2", "9000.00", at="2026-08-01T10:00:00+08:00"), cancel),
        actor="crm",
    )
    before = paid_q3(ledger)
    late: list[dict[str, Any]] = []
    for _ in range(6):
        rep_id = rng.choice(("r1", "r2", "r3", "r4"))
        managers = ("m1", "m2") if rep_id == "r1" else ("m1", "m2", "r1")
        late.append(
            line("RepTransferred", at=_at(rng), rep_id=rep_id, manager_id=rng.choice(managers))
        )
    for k in range(5):
        rate = rng.choice(("7.0", "7.2", "7.5"))
        late.append(line("FxRateSet", at=_at(rng, k), base="USD", quote="CNY", rate=rate))
    assigned = rng.choice(("2026-06-25", "2026-08-15"))  # Q3's plan, or only Q4's
    late.append(
        line("RepPlanAssigned", at=f"{assigned}T00:00:00+08:00", rep_id="m1", plan_id="short")
    )
    late.append(
        line("RepPlanAssigned", at="2026-06-25T00:00:00+08:00", rep_id="r2", plan_id="short")
    )
    rng.shuffle(late)
    joined = enrol("r5", manager_id="r1", at="2026-07-02T09:00:00+08:00")
    late = [joined, *(_sale(rng, f"Sr5-{k}", "r5") for k in range(2)), *late]
    return before, recorded_late(ledger, late, "hr-late")


def _answers(ledger: Ledger, before: int, head: int) -> dict[Any, Any]:
    """Every rep's paid Q3 and open Q4 as of the head, and the diff of Q3
    across the late events (r5 has none: the late events enrolled it)."""
    return answers(ledger, _REPS, before, head, diff_of=set(_REPS) - {"r5"})


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_quick_causes_are_those_worked_out_whole(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Quick and whole give the same statements, corrections and diffs, and
    the scenario does move money with causes beyond the period's facts."""
    before, head = _scenario(ledger, seed)
    quick = _answers(ledger, before, head)
    monkeypatch.setattr(Calculator, "weigh_whole", True)
    whole = _answers(ledger, before, head)
    assert quick == whole
    late = {e["event_id"] for rep_id in _REPS for e in quick[rep_id, "Q3"].get("later_events", ())}
    kinds = {ledger.event(e).type for e in late}
    assert {"RepTransferred", "FxRateSet"} <= kinds, kinds


def test_a_late_rate_only_a_booking_period_read_is_named_where_it_is_released(
    ledger: Ledger,
) -> None:
    """Pay on collection: the late USD rate is read by Q2's sale alone (its
    booking period), and moves what Q3's payment releases of it. The quick
    answer said "moves nothing" (Q3's own sales never read it) before asking
    whether the period releases earlier bookings: Q4 corrected Q3 by 125.00
    naming no event."""
    ledger.publish_plan(
        load_plan(plan_toml(commission='basis = "collection"\n'), "toml"), actor="admin"
    )
    rate = {"base": "USD", "quote": "CNY"}
    ledger.import_lines(
        jsonl(
            enrol("r1", at="2026-03-20T09:00:00+08:00"),
            line("FxRateSet", at="2026-03-01T00:00:00+08:00", **rate, rate="7.0"),
            sale("S1", "r1", "10000.00", at="2026-04-10T10:00:00+08:00") | {"currency": "USD"},
            line(
                "PaymentReceived",
                at="2026-07-10T10:00:00+08:00",
                payment_id="P1",
                sale_id="S1",
                amount="5000.00",
            ),
        ),
        actor="crm",
    )
    reports = Reports(ledger)
    pay_period(reports, "2026-Q2")
    pay_period(reports, "2026-Q3")
    ledger.import_lines(
        jsonl(line("FxRateSet", at="2026-04-01T00:00:00+08:00", **rate, rate="7.5")),
        actor="fx-late",
    )
    late = stored_record(ledger, "FxRateSet", rate="7.5").event_id
    q3 = Reports(ledger).statement("r1", "2026-Q3")
    assert [e["event_id"] for e in q3["later_events"]] == [late]
    (correction,) = [
        x for x in Reports(ledger).statement("r1", "2026-Q4")["lines"] if x["kind"] == "correction"
    ]
    assert (correction["amount"], correction["event_ids"]) == ("125.00", [late])
