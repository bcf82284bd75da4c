"""Late sales and cancellations weighed as causes of a paid period under pay on
collection (SPEC §3.1, §4) by the quick checks (`projections.statement._Quick.
sale_without`: the sale's payments' releases taken out of the release sums, the
bonus on the credited total without it; `cancellation_without`: the sale
credited again from itself alone, its payments' releases added) are those of
the definition worked out whole (the period replayed without each event,
`Calculator.weigh_whole`), on SQLite and PostgreSQL: the paid statement's later
events, the correction's changed lines and the events named on each, and the
diff's causes, line by line.

Each scenario is drawn from a seed: r1 on a collection plan (with a SPIFF in
some), a sales target for Q3, sales booked in Q2 and Q3 at category rates,
some split with r2, some paid in Q3; Q3 paid out; then, recorded late,
cancellations dated in Q3 inside and just outside the 90-day clawback window
(of Q3's sales: the quick check; of Q2's: worked out whole), a few late
payments, and late Q3 sales — some paid in Q3, some cancelled after.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
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
from tests.unit.shapes import plan_toml, spiff

_COLLECTION = 'basis = "collection"\n'
_HALVES = [{"rep_id": "r1", "share": "0.5"}, {"rep_id": "r2", "share": "0.5"}]


def _payment(payment_id: str, sale_id: str, amount: str, at: str) -> dict[str, Any]:
    return line("PaymentReceived", at=at, payment_id=payment_id, sale_id=sale_id, amount=amount)


def _cancel(sale_id: str, at: str) -> dict[str, Any]:
    return line("SaleCancelled", at=at, sale_id=sale_id, reason="customer left")


def _of_q3(type_: str, at: str, actor: str, **fields: str) -> dict[str, Any]:
    """r1's ``type_`` event of 2026-Q3 (its target, a score)."""
    at = f"{at}T10:00:00+08:00"
    return line(type_, at=at, actor=actor, rep_id="r1", period="2026-Q3", **fields)


_T = {"target_id": "T-r1-Q3", "kpi": "sales_amount", "reason": "quarter plan"}


def _scenario(ledger: Ledger, seed: int) -> tuple[int, int]:
    """The seed's scenario recorded; the positions before and after the late events."""
    rng = random.Random(seed)
    tail = spiff("big", "2026-01-01", "2026-12-31", min_amount="20000", amount="150")
    collection = plan_toml(commission=_COLLECTION, tail=tail if seed % 2 else "")
    ledger.publish_plan(load_plan(collection, "toml"), actor="admin")
    amounts = {f"S{k}": rng.choice((3000, 7000, 25000, 33333)) for k in range(16)}
    # Q3's sales on 1-5 July at 10:00: their window ends on 29-30 September
    booked = {s: "2026-05-10" if k < 5 else f"2026-07-0{1 + k % 5}" for k, s in enumerate(amounts)}
    sales = []
    edge = rng.choice((Decimal("0.69"), Decimal("1.02"), Decimal("1.35")))
    credited = Decimal(0)  # r1's in Q3
    for s, amount in amounts.items():
        extra: dict[str, Any] = {"category": rng.choice((None, "software", "services"))}
        share = Decimal(1)
        if rng.random() < 0.3:
            extra["splits"] = _HALVES
            share = Decimal("0.5")
        credited += amount * share if booked[s] > "2026-07" else 0
        sales.append(
            sale(s, "r1", f"{amount}.00", at=f"{booked[s]}T10:00:00+08:00", **extra),
        )
    ledger.import_lines(
        jsonl(
            enrol("r1", at="2026-03-20T09:00:00+08:00"),
            enrol("r2", at="2026-03-20T09:00:00+08:00"),
            # just above a bonus tier's edge (score 0.8, 1.0, 1.2 with the
            # other KPIs at 1.0): taking a sale back may cross it
            _of_q3("TargetSet", "2026-06-20", "mgr-zhao", value=str(round(credited / edge)), **_T),
            line("ApprovalGranted", actor="fin-amy", subject_id="T-r1-Q3"),
            *(
                _of_q3("KpiScored", "2026-09-25", "crm", kpi=kpi, score="1.0")
                for kpi in ("customer_satisfaction", "market_feedback")
            ),
            *sales,
            *(
                _payment(f"P{s}", s, rng.choice(paid), "2026-08-01T10:00:00+08:00")
                for s, amount in amounts.items()
                # a third, a half, or a cent or ten (a release that may round away)
                if (paid := (f"{amount // 3}.00", f"{amount // 2}.00", "0.01", "0.10"))
                and rng.random() < 0.85
            ),
        ),
        actor="crm",
    )
    before = paid_q3(ledger)
    late: list[dict[str, Any]] = []
    for s, amount in amounts.items():
        if rng.random() < 0.5:
            continue
        if rng.random() < 0.2:  # a late payment first: a cancelled sale takes none
            late.append(_payment(f"L{s}", s, f"{amount // 5}.00", "2026-07-25T10:00:00+08:00"))
        sold = datetime.fromisoformat(f"{booked[s]}T10:00:00+08:00")
        if booked[s] < "2026-07":  # a Q2 sale, cancelled in Q3 (in or out of its window)
            late.append(_cancel(s, rng.choice(("2026-07-20", "2026-08-08")) + "T18:00:00+08:00"))
        elif rng.random() < 0.7:  # inside the window: an hour before it ends
            late.append(_cancel(s, (sold + timedelta(days=90, hours=-1)).isoformat()))
        else:  # outside it by eight hours: credited either way
            late.append(_cancel(s, (sold + timedelta(days=90, hours=8)).isoformat()))
    for k in range(6):  # late sales of Q3, some paid there, some cancelled after
        amount, day = rng.choice((3000, 7000, 25000, 33333)), f"2026-08-{10 + k}T10:00:00+08:00"
        split = {"splits": _HALVES} if rng.random() < 0.3 else {}
        late.append(sale(f"LS{k}", "r1", f"{amount}.00", at=day, category="software", **split))
        if rng.random() < 0.7:
            paid = rng.choice((f"{amount // 3}.00", "0.01", f"{amount}.00"))
            late.append(_payment(f"LP{k}", f"LS{k}", paid, "2026-09-01T10:00:00+08:00"))
        if rng.random() < 0.3:
            late.append(_cancel(f"LS{k}", f"2026-09-0{2 + rng.randint(0, 1) * 7}T10:00:00+08:00"))
    return before, recorded_late(ledger, late, "crm-late")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_the_quick_sale_and_cancellation_causes_are_those_worked_out_whole(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Quick and whole give the same statements, corrections and diffs."""
    quick_as_whole(ledger, monkeypatch, ["r1", "r2"], _scenario(ledger, seed), "SaleCancelled")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_each_quick_answer_is_the_whole_ones_to_the_digit(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Every late event weighed quickly gives the lines — kind, amount and
    unrounded amount — of the period worked out again without it (moving
    nothing: its amounts as they are). The causes compare only which lines
    moved: a release or a bonus worked out wrong that still moved a line
    would pass there."""
    _, head = _scenario(ledger, seed)
    checked = quick_answers_checked(monkeypatch)
    Reports(ledger).statement("r1", "2026-Q3", as_of=head)
    assert len(checked) >= 4  # the scenario's late events, weighed


def _late_cancellations() -> list[dict[str, Any]]:
    """Each of the 40 sales cancelled late, inside its window."""
    return [_cancel(f"S{k}", "2026-09-01T10:00:00+08:00") for k in range(40)]


def _late_sales() -> list[dict[str, Any]]:
    """40 more Q3 sales of 1,000.00, recorded late, each half paid in Q3."""
    late: list[dict[str, Any]] = []
    for k in range(40):
        late.append(sale(f"LS{k}", "r1", "1000.00", at="2026-08-10T10:00:00+08:00"))
        late.append(_payment(f"LP{k}", f"LS{k}", "500.00", "2026-09-01T10:00:00+08:00"))
    return late


@pytest.mark.parametrize(
    ("sold", "late", "corrected"),
    [
        ("2026-07-10", _late_cancellations, "-1000.00"),
        ("2026-06-20", _late_cancellations, "-1000.00"),
        ("2026-07-10", _late_sales, "1000.00"),
    ],
    ids=["cancellations", "cancellations-of-q2-sales", "sales"],
)
def test_a_backfill_is_weighed_without_a_replay_each(
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    sold: str,
    late: Callable[[], list[dict[str, Any]]],
    corrected: str,
) -> None:
    """40 sales of 1,000.00 (booked in Q3, or in Q2), each half paid in Q3, and
    Q3 paid out; then, recorded late and dated in Q3, a cancellation of each
    inside its window (each takes back the 25.00 its payment released), or 40
    more Q3 sales with their payments (each adds 25.00). Every late event is
    named, and none is weighed by working the period out again without it (a
    backfill of 800 took 10–30 s, of 5,000 several minutes: quadratic)."""
    ledger.publish_plan(load_plan(plan_toml(commission=_COLLECTION), "toml"), actor="admin")
    at = f"{sold}T10:00:00+08:00"
    sales = [sale(f"S{k}", "r1", "1000.00", at=at) for k in range(40)]
    paid = [_payment(f"P{k}", f"S{k}", "500.00", "2026-08-01T10:00:00+08:00") for k in range(40)]
    ledger.import_lines(
        jsonl(enrol("r1", at="2026-03-20T09:00:00+08:00"), *sales, *paid), actor="crm"
    )
    before = paid_q3(ledger)
    head = recorded_late(ledger, late(), "crm-late")
    replays = replays_counted(monkeypatch)
    q3 = Reports(ledger).statement("r1", "2026-Q3", as_of=head)
    recorded = [e.event_id for e in ledger.iter_log(after=before)]
    assert sorted(e["event_id"] for e in q3["later_events"]) == sorted(recorded)
    assert replays == []
    q4 = Reports(ledger).statement("r1", "2026-Q4", as_of=head)
    (correction,) = [x for x in q4["lines"] if x["kind"] == "correction"]
    assert correction["amount"] == corrected  # 40 x 500.00 paid x 5 %


def test_a_cancellation_outside_the_window_is_no_cause(ledger: Ledger) -> None:
    """A Q3 sale of 10:00 on 1 July cancelled at 18:00 on 29 September — 90
    days and eight hours after it — is outside the 90-day window: credited
    either way, Q3 moves nothing and names nothing. The same sale cancelled at
    09:00 that day is inside it, and named."""
    ledger.publish_plan(load_plan(plan_toml(commission=_COLLECTION), "toml"), actor="admin")
    ledger.import_lines(
        jsonl(
            enrol("r1", at="2026-03-20T09:00:00+08:00"),
            sale("S1", "r1", "10000.00", at="2026-07-01T10:00:00+08:00"),
            sale("S2", "r1", "10000.00", at="2026-07-01T10:00:00+08:00"),
            _payment("P1", "S1", "10000.00", "2026-08-01T10:00:00+08:00"),
            _payment("P2", "S2", "10000.00", "2026-08-01T10:00:00+08:00"),
        ),
        actor="crm",
    )
    reports = Reports(ledger)
    pay_period(reports, "2026-Q3")
    ledger.import_lines(jsonl(_cancel("S1", "2026-09-29T18:00:00+08:00")), actor="crm-late")
    assert Reports(ledger).statement("r1", "2026-Q3")["later_events"] == []
    ledger.import_lines(jsonl(_cancel("S2", "2026-09-29T09:00:00+08:00")), actor="crm-late")
    q3 = Reports(ledger).statement("r1", "2026-Q3")
    (named,) = q3["later_events"]
    assert ledger.event(named["event_id"]).data["sale_id"] == "S2"


_WITH_REPORT = [{"rep_id": "r1", "share": "0.5"}, {"rep_id": "r2", "share": "0.5"}]


def test_a_sale_shared_with_a_report_moves_the_managers_override(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """r1 manages r2 on a collection plan with an override; sales split half
    and half between them. A late cancellation (inside the window) of one, and
    a late Q3 sale split the same way, move r1's override on r2's half as well
    as r1's own release and bonus: the quick answers are the whole ones, line
    by line (they kept the override line as it stood: 600.00, not 700.00)."""
    override = "[override]\nrates = [0.02, 0.01]\n"
    ledger.publish_plan(
        load_plan(plan_toml(commission=_COLLECTION, tail=override), "toml"), actor="admin"
    )
    ledger.import_lines(
        jsonl(
            enrol("r1", at="2026-03-20T09:00:00+08:00"),
            enrol("r2", manager_id="r1", at="2026-03-20T09:00:00+08:00"),
            sale("S1", "r1", "10000.00", at="2026-07-02T10:00:00+08:00", splits=_WITH_REPORT),
            sale("S2", "r1", "20000.00", at="2026-07-03T10:00:00+08:00", splits=_WITH_REPORT),
            _payment("P1", "S1", "10000.00", "2026-08-01T10:00:00+08:00"),
        ),
        actor="crm",
    )
    before = paid_q3(ledger)
    late = [
        _cancel("S1", "2026-09-01T10:00:00+08:00"),
        sale("S3", "r1", "40000.00", at="2026-08-03T10:00:00+08:00", splits=_WITH_REPORT),
        _payment("P3", "S3", "4000.00", "2026-09-01T10:00:00+08:00"),
    ]
    head = recorded_late(ledger, late, "crm-late")
    checked = quick_answers_checked(monkeypatch)
    Reports(ledger).statement("r1", "2026-Q3", as_of=head)
    assert len(set(checked)) == len(late)
    monkeypatch.undo()
    quick_as_whole(ledger, monkeypatch, ["r1", "r2"], (before, head), "SaleCancelled")
