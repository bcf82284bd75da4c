"""Late payments weighed as causes of a paid period under pay on collection
(SPEC §3.1, §4) by the quick check (`projections.statement._Quick.
payment_without`: the release sums less the payment's part) are those of the
definition worked out whole (the period replayed without each payment,
`Calculator.weigh_whole`), on SQLite and PostgreSQL: the paid statement's later
events, the correction's changed lines and the events named on each, and the
diff's causes, line by line.

Each scenario is drawn from a seed: r1 on a collection plan with a SPIFF (with
a draw in some), sales booked in Q2 and Q3, some paid in Q3, Q3 paid out; then,
recorded late, payments dated in Q3 (some of a cent, which may or may not move a
rounded line), payments dated in Q4 of Q3's sales (released there: Q3 only
counts them), and a cancellation inside the window.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from ledger.application import Ledger
from policies.plan import load_plan
from projections.service import Reports
from tests.builders import enrol, jsonl, line, pay_period, sale
from tests.integration.causes import (
    paid_q3,
    quick_answers_checked,
    quick_as_whole,
    recorded_late,
    replays_counted,
)
from tests.unit.shapes import draw, plan_toml, spiff


def _payment(payment_id: str, sale_id: str, amount: str, at: str) -> dict[str, Any]:
    return line("PaymentReceived", at=at, payment_id=payment_id, sale_id=sale_id, amount=amount)


def _scenario(ledger: Ledger, seed: int) -> tuple[int, int]:
    """The seed's scenario recorded; the positions before and after the late events."""
    rng = random.Random(seed)
    tail = spiff("big", "2026-01-01", "2026-12-31", min_amount="20000", amount="150")
    if seed % 2:
        tail += draw("500", "2027-06-30")
    collection = plan_toml(commission='basis = "collection"\n', tail=tail)
    ledger.publish_plan(load_plan(collection, "toml"), actor="admin")
    amounts = {f"S{k}": rng.choice((3000, 7000, 25000, 33333)) for k in range(12)}
    booked = {s: ("2026-05-10" if k < 4 else "2026-07-10") for k, s in enumerate(amounts)}
    ledger.import_lines(
        jsonl(
            enrol("r1", at="2026-03-20T09:00:00+08:00"),
            *(
                sale(s, "r1", f"{amount}.00", at=f"{booked[s]}T10:00:00+08:00")
                for s, amount in amounts.items()
            ),
            *(
                _payment(f"P{s}", s, f"{amount // 3}.00", "2026-08-01T10:00:00+08:00")
                for s, amount in amounts.items()
                if rng.random() < 0.5
            ),
        ),
        actor="crm",
    )
    before = paid_q3(ledger)
    late: list[dict[str, Any]] = []
    for k, (s, amount) in enumerate(amounts.items()):
        day = rng.randint(2, 28)
        if rng.random() < 0.6:  # dated in the paid quarter
            paid = rng.choice(("0.01", "0.02", f"{amount // 4}.00", f"{amount // 7}.00"))
            late.append(_payment(f"L{s}", s, paid, f"2026-09-{day:02d}T10:00:00+08:00"))
        if booked[s] > "2026-06" and rng.random() < 0.4:  # a Q3 sale's payment in Q4
            late.append(_payment(f"Q{s}", s, "100.00", f"2026-10-{day:02d}T10:00:00+08:00"))
        if k == 11 and rng.random() < 0.5:
            late.append(
                line("SaleCancelled", at="2026-09-29T10:00:00+08:00", sale_id=s, reason="x")
            )
    return before, recorded_late(ledger, late, "crm-late")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_the_quick_payment_causes_are_those_worked_out_whole(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Quick and whole give the same statements, corrections and diffs."""
    quick_as_whole(ledger, monkeypatch, ["r1"], _scenario(ledger, seed), "PaymentReceived")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_each_quick_answer_is_the_whole_ones_to_the_digit(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Every late payment weighed quickly gives the lines, to the unrounded
    digit, of the period worked out again without it."""
    _, head = _scenario(ledger, seed)
    checked = quick_answers_checked(monkeypatch)
    Reports(ledger).statement("r1", "2026-Q3", as_of=head)
    assert checked


def _s1_paid_in_q3(ledger: Ledger, paid: str, at: str) -> None:
    """r1 on a collection plan sold S1 (10,000, 5 %) in July, paid ``paid``
    (P1) at ``at``; Q3 paid out."""
    collection = plan_toml(commission='basis = "collection"\n')
    ledger.publish_plan(load_plan(collection, "toml"), actor="admin")
    ledger.import_lines(
        jsonl(
            enrol("r1", at="2026-03-20T09:00:00+08:00"),
            sale("S1", "r1", "10000.00", at="2026-07-10T10:00:00+08:00"),
            _payment("P1", "S1", paid, at),
        ),
        actor="crm",
    )
    pay_period(Reports(ledger), "2026-Q3")


def test_a_payment_of_a_cent_that_moves_no_rounded_line_is_not_named(ledger: Ledger) -> None:
    """A 10,000 sale at 5 % earns 500.00; a late payment of 0.01 releases
    0.0005 of it, which the commission line rounds away: Q3's 250.00 stands and
    the payment is no cause. A second late payment of 0.10 releases 0.005 —
    250.005 rounds to 250.01 — and is."""
    _s1_paid_in_q3(ledger, "5000.00", "2026-08-01T10:00:00+08:00")
    ledger.import_lines(
        jsonl(_payment("P2", "S1", "0.01", "2026-09-01T10:00:00+08:00")), actor="crm-late"
    )
    assert Reports(ledger).statement("r1", "2026-Q3")["later_events"] == []
    ledger.import_lines(
        jsonl(_payment("P3", "S1", "0.10", "2026-09-02T10:00:00+08:00")), actor="crm-late"
    )
    q3 = Reports(ledger).statement("r1", "2026-Q3")
    assert [ledger.event(e["event_id"]).data["payment_id"] for e in q3["later_events"]] == ["P3"]


def test_a_late_payment_dated_before_another_of_its_sale_is_weighed_as_the_whole(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payment releases its sale's commission paid so far less what the
    payments before it released. P0 (0.10, 1 August) and P2 (1,000, 15
    September), recorded after Q3 was paid, come before and after P1
    (3,333.33, 1 September): the line is now 0.01 + 166.66 + 50.00 = 216.67,
    and without P0 166.67 + 50.00, the same — P0 is no cause. The release
    sums less P0's part said 216.66, and named it."""
    _s1_paid_in_q3(ledger, "3333.33", "2026-09-01T10:00:00+08:00")
    ledger.import_lines(
        jsonl(
            _payment("P0", "S1", "0.10", "2026-08-01T10:00:00+08:00"),
            _payment("P2", "S1", "1000.00", "2026-09-15T10:00:00+08:00"),
        ),
        actor="crm-late",
    )
    checked = quick_answers_checked(monkeypatch)
    q3 = Reports(ledger).statement("r1", "2026-Q3")
    assert len(checked) == 2
    named = [ledger.event(e["event_id"]).data["payment_id"] for e in q3["later_events"]]
    assert named == ["P2"]


def test_a_backfill_of_late_payments_is_weighed_without_a_replay_each(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 payments recorded after Q3 was paid, dated in it: each is named, and
    none is weighed by working the period out again without it (which made a
    backfill of thousands take minutes: quadratic in the payments)."""
    collection = plan_toml(commission='basis = "collection"\n')
    ledger.publish_plan(load_plan(collection, "toml"), actor="admin")
    sales = [sale(f"S{k}", "r1", "1000.00", at="2026-07-10T10:00:00+08:00") for k in range(40)]
    ledger.import_lines(jsonl(enrol("r1", at="2026-03-20T09:00:00+08:00"), *sales), actor="crm")
    reports = Reports(ledger)
    pay_period(reports, "2026-Q3")
    late = [_payment(f"P{k}", f"S{k}", "500.00", "2026-09-01T10:00:00+08:00") for k in range(40)]
    ledger.import_lines(jsonl(*late), actor="crm-late")
    replays = replays_counted(monkeypatch)
    head = ledger.head()
    assert head is not None
    q3 = Reports(ledger).statement("r1", "2026-Q3", as_of=head.position)
    assert len(q3["later_events"]) == 40
    assert replays == []
