"""A rep moved to a plan paid in another currency (SPEC §3.1 currencies; §3
rules 7 and 8): a correction of a period paid in the old currency, and a
negative total carried from one, are converted into the new currency at the
latest rate for the pair dated on or before the first day of the period they are
booked in — the step shows the rate and its event — and, with no such rate, wait
under ``pending`` without changing pay. Before, the old currency's figure was
booked as it stood: a 3,500.00 CNY clawback became 3,500.00 USD (7× the debt).
On SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from ledger.application import Ledger
from policies.plan import load_plan
from projections.service import Reports
from tests.builders import PLAN_TOML, enrol, jsonl, line, pay_period, sale, stored_record
from tests.unit.shapes import draw, plan_toml

_USD_PLAN = PLAN_TOML.replace('id = "field-sales"', 'id = "usd-sales"').replace(
    'currency = "CNY"', 'currency = "USD"'
)
_CNY_USD = {"base": "CNY", "quote": "USD"}


def _moved_to_usd(ledger: Ledger, *late: dict[str, Any], rate_at: str | None) -> None:
    """r1 paid in CNY (S1, S2: 70,000 each in Q3; Q3 paid 7,000.00), then moved
    to the USD plan from Q4, with ``late`` events; a CNY→USD rate of 0.14 dated
    ``rate_at`` (none: no rate)."""
    ledger.publish_plan(load_plan(PLAN_TOML, "toml"), actor="admin")
    ledger.publish_plan(load_plan(_USD_PLAN, "toml"), actor="admin")
    ledger.import_lines(
        jsonl(
            enrol("r1"),
            sale("S1", "r1", "70000.00", at="2026-07-10T10:00:00+08:00"),
            sale("S2", "r1", "70000.00", at="2026-08-10T10:00:00+08:00"),
        ),
        actor="crm",
    )
    pay_period(Reports(ledger), "2026-Q3")
    rate = [] if rate_at is None else [line("FxRateSet", at=rate_at, **_CNY_USD, rate="0.14")]
    moved = line(
        "RepPlanAssigned", at="2026-10-01T00:00:00+08:00", rep_id="r1", plan_id="usd-sales"
    )
    ledger.import_lines(jsonl(*rate, moved, *late), actor="hr-sync")


def _cancel(sale_id: str, at: str = "2026-10-05T10:00:00+08:00") -> dict[str, Any]:
    return line("SaleCancelled", at=at, sale_id=sale_id, reason="returned")


def _line(statement: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [x for x in statement["lines"] if x["kind"] == kind]
    return found


def _converted(found: dict[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in found["explanation"] if s["code"] == "balance_converted"]
    return dict(step["values"]) | {"event_ids": step["event_ids"]}


def test_a_correction_of_a_period_paid_in_cny_is_booked_in_usd(ledger: Ledger) -> None:
    """S2's cancellation inside the window takes 3,500.00 CNY back from paid
    Q3; Q4 pays in USD: −3,500.00 × 0.14 = −490.00, at the rate dated before
    Q4's first day."""
    _moved_to_usd(ledger, _cancel("S2"), rate_at="2026-09-01T00:00:00+08:00")
    q4 = Reports(ledger).statement("r1", "2026-Q4")
    correction = _line(q4, "correction")
    rate = stored_record(ledger, "FxRateSet", rate="0.14").event_id
    assert q4["currency"] == "USD"
    assert correction["amount"] == "-490.00"
    assert _converted(correction) == {
        "balance": "correction",
        "amount": "-3500.00",
        "currency": "CNY",
        "rate": "0.14",
        "rate_from": "2026-09-01T00:00:00+08:00",
        "plan_currency": "USD",
        "converted": "-490.00",
        "event_ids": [rate],
    }
    assert rate in correction["event_ids"]
    assert q4["total"] == "-490.00"


def test_a_rate_dated_after_the_first_day_is_not_used(ledger: Ledger) -> None:
    """A rate of 0.20 dated 2 October (after Q4's first day) does not convert
    Q4's correction: the 0.14 of September does."""
    later = line("FxRateSet", at="2026-10-02T00:00:00+08:00", **_CNY_USD, rate="0.20")
    _moved_to_usd(ledger, _cancel("S2"), later, rate_at="2026-09-01T00:00:00+08:00")
    assert _line(Reports(ledger).statement("r1", "2026-Q4"), "correction")["amount"] == "-490.00"


def test_a_second_correction_counts_the_first_in_cny(ledger: Ledger) -> None:
    """Q4 paid with the −490.00 USD correction (−3,500.00 CNY); S1's later
    cancellation takes the other 3,500.00 CNY: 2027-Q1 corrects Q3 by
    0 − 7,000.00 − (−3,500.00 corrected before) = −3,500.00 CNY, −490.00 USD —
    not by the CNY total less a USD figure."""
    _moved_to_usd(ledger, _cancel("S2"), rate_at="2026-09-01T00:00:00+08:00")
    reports = Reports(ledger)
    pay_period(reports, "2026-Q4")
    ledger.import_lines(jsonl(_cancel("S1", at="2026-10-06T10:00:00+08:00")), actor="crm")
    q1 = Reports(ledger).statement("r1", "2027-Q1")
    correction = _line(q1, "correction")
    assert correction["amount"] == "-490.00"
    values = correction["explanation"][0]["values"]
    assert (values["corrected_before"], values["difference"]) == ("-3500.00", "-3500.00")


def test_with_no_rate_the_correction_waits(ledger: Ledger) -> None:
    """No CNY→USD rate: Q4 books no correction and lists it as pending (the
    pair it waits for); a rate recorded later, dated before Q4, books it."""
    _moved_to_usd(ledger, _cancel("S2"), rate_at=None)
    q4 = Reports(ledger).statement("r1", "2026-Q4")
    assert [x["kind"] for x in q4["lines"] if x["kind"] == "correction"] == []
    cancelled = stored_record(ledger, "SaleCancelled", sale_id="S2").event_id
    assert q4["pending"] == [
        {
            "kind": "correction",
            "subject_id": "2026-Q3",
            "event_id": cancelled,
            "waiting_for": "fx_rate",
            "base": "CNY",
            "quote": "USD",
        }
    ]
    rate = line("FxRateSet", at="2026-09-30T00:00:00+08:00", **_CNY_USD, rate="0.14")
    ledger.import_lines(jsonl(rate), actor="fx")
    q4 = Reports(ledger).statement("r1", "2026-Q4")
    assert (_line(q4, "correction")["amount"], q4["pending"]) == ("-490.00", [])


def _deducted_in_cny_then_usd(ledger: Ledger) -> Reports:
    """r1's Q3 (CNY, unpaid) ends at −2,000.00 after an approved deduction; from
    Q4 r1 is paid in USD; a CNY→USD rate of 0.14 dated 1 September."""
    ledger.publish_plan(load_plan(PLAN_TOML, "toml"), actor="admin")
    ledger.publish_plan(load_plan(_USD_PLAN, "toml"), actor="admin")
    asked = {"adjustment_id": "A1", "rep_id": "r1", "period": "2026-Q3", "reason": "claim"}
    deduction = line("AdjustmentRequested", actor="fin-amy", amount="-2000.00", **asked)
    ledger.import_lines(
        jsonl(
            enrol("r1"),
            line("FxRateSet", at="2026-09-01T00:00:00+08:00", **_CNY_USD, rate="0.14"),
            deduction,
            line("ApprovalGranted", actor="fin-bob", subject_id="A1"),
            line(
                "RepPlanAssigned", at="2026-10-01T00:00:00+08:00", rep_id="r1", plan_id="usd-sales"
            ),
        ),
        actor="hr-sync",
    )
    return Reports(ledger)


def test_a_negative_total_is_carried_into_usd(ledger: Ledger) -> None:
    """Q3 (CNY, unpaid) ends at −2,000.00 after an approved deduction; Q4 pays
    in USD and carries −280.00."""
    reports = _deducted_in_cny_then_usd(ledger)
    assert reports.statement("r1", "2026-Q3")["total"] == "-2000.00"
    carried = _line(reports.statement("r1", "2026-Q4"), "carried_balance")
    assert carried["amount"] == "-280.00"
    assert (_converted(carried)["amount"], _converted(carried)["balance"]) == (
        "-2000.00",
        "carried_balance",
    )


def _drawn_in_cny_then_usd(
    ledger: Ledger, *, rate: str | None, sold: str = "100000.00"
) -> dict[str, Any]:
    """r1 draws 5,000.00 CNY in Q2 and Q3 each (recoverable, no sales), then
    from Q4 is paid in USD with a draw of 700.00 and sells ``sold`` USD
    (100,000.00: 5,000.00 of commission); a CNY→USD rate of ``rate`` dated
    before Q4 (None: none). Q4's statement."""
    cny = plan_toml(tail=draw("5000", "2027-12-31"))
    usd = plan_toml(tail=draw("700", "2027-12-31")).replace('id = "field-sales"', 'id = "usd"')
    ledger.publish_plan(load_plan(cny, "toml"), actor="admin")
    ledger.publish_plan(
        load_plan(usd.replace('currency = "CNY"', 'currency = "USD"'), "toml"), actor="admin"
    )
    rates = (
        []
        if rate is None
        else [line("FxRateSet", at="2026-09-01T00:00:00+08:00", **_CNY_USD, rate=rate)]
    )
    ledger.import_lines(
        jsonl(
            enrol("r1"),
            *rates,
            line("RepPlanAssigned", at="2026-10-01T00:00:00+08:00", rep_id="r1", plan_id="usd"),
            sale("S1", "r1", sold, at="2026-10-10T10:00:00+08:00") | {"currency": "USD"},
        ),
        actor="hr-sync",
    )
    return Reports(ledger).statement("r1", "2026-Q4")


def test_a_draw_balance_owed_in_cny_is_recovered_in_usd(ledger: Ledger) -> None:
    """Q2 and Q3 drew 10,000.00 CNY; Q4 (USD) carries the balance in as
    1,400.00 at 0.14 and recovers it whole from its 4,300.00 of room (5,000.00
    earned less the 700.00 draw). Before: 10,000 was read as USD and 4,300.00
    recovered — three times what the rep owed."""
    q4 = _drawn_in_cny_then_usd(ledger, rate="0.14")
    recovery = _line(q4, "draw_recovery")
    assert recovery["amount"] == "-1400.00"
    converted = _converted(recovery)
    assert (converted["amount"], converted["converted"]) == ("10000.00", "1400.00")
    (balance,) = [x for x in recovery["explanation"] if x["code"] == "draw_balance"]
    assert balance["values"] == {"balance_before": "1400.00", "balance_after": "0.00"}


def test_a_draw_balance_converted_in_a_period_that_showed_it_nowhere(ledger: Ledger) -> None:
    """Q4 (USD) earns exactly its 700.00 draw: it draws and recovers nothing,
    and no line of it shows the 10,000.00 CNY carried in as 1,400.00 USD. The
    next line that shows that balance — 2027-Q1's draw, before it 1,400.00 —
    shows how it was converted (it showed 1,400.00 from nowhere), in either
    language, whether Q4 is paid or not, now and replayed as of the head."""
    q4 = _drawn_in_cny_then_usd(ledger, rate="0.14", sold="14000.00")
    assert q4["total"] == "700.00"
    assert [x["kind"] for x in q4["lines"]] == ["commission", "bonus"]
    rate = stored_record(ledger, "FxRateSet", rate="0.14").event_id
    reports = Reports(ledger)
    for paid in (False, True):
        if paid:
            pay_period(reports, "2026-Q4")
        q1 = reports.statement("r1", "2027-Q1")
        head = ledger.head()
        assert head is not None
        assert reports.statement("r1", "2027-Q1", as_of=head.position) == q1
        drawn = _line(q1, "draw")
        assert [s["code"] for s in drawn["explanation"]] == [
            "balance_converted",
            "draw_top_up",
            "draw_balance",
        ]
        assert _converted(drawn) == {
            "balance": "draw_balance",
            "amount": "10000.00",
            "currency": "CNY",
            "rate": "0.14",
            "rate_from": "2026-09-01T00:00:00+08:00",
            "plan_currency": "USD",
            "converted": "1400.00",
            "event_ids": [rate],
        }
        assert rate in drawn["event_ids"]
        (balance,) = [x for x in drawn["explanation"] if x["code"] == "draw_balance"]
        assert balance["values"] == {"balance_before": "1400.00", "balance_after": "2100.00"}
    zh = reports.statement("r1", "2027-Q1", locale="zh-CN")
    (step,) = [s for s in _line(zh, "draw")["explanation"] if s["code"] == "balance_converted"]
    assert step["text"].startswith("以 CNY 计，本期以 USD 支付：10000.00 CNY × 0.14")
    assert step["text"].endswith("= 1400.00 USD")


def test_with_no_rate_the_draw_balance_waits(ledger: Ledger) -> None:
    q4 = _drawn_in_cny_then_usd(ledger, rate=None)
    assert [x for x in q4["lines"] if x["kind"] == "draw_recovery"] == []
    assert [(p["kind"], p["subject_id"]) for p in q4["pending"]] == [("draw_balance", "2026-Q3")]


def _late_rate(ledger: Ledger, rate: str) -> tuple[int, int]:
    """A CNY→USD rate of ``rate`` dated 30 September (before Q4's first day),
    recorded by fx-desk after Q4 was paid: the positions before and after it."""
    before = ledger.head()
    assert before is not None
    late = line("FxRateSet", at="2026-09-30T00:00:00+08:00", actor="fx-desk", **_CNY_USD, rate=rate)
    ledger.import_lines(jsonl(late), actor="fx-desk")
    return before.position, before.position + 1


def _named_alike(
    reports: Reports, head: int, late: str, corrected: tuple[str, str, str, str]
) -> dict[str, Any]:
    """Paid Q4's later events and 2027-Q1's correction of it, now and replayed
    as of ``head`` (the same either way), each naming ``late`` alone; the
    correction's amount and what it changed (kind, before, after): ``corrected``."""
    found: dict[str, Any] = {}
    for period in ("2026-Q4", "2027-Q1"):
        now = reports.statement("r1", period)
        assert reports.statement("r1", period, as_of=head) == now, period
        found[period] = now
    q4, q1 = found["2026-Q4"], found["2027-Q1"]
    assert q4["correction_to"] == "2027-Q1"
    (named,) = q4["later_events"]
    assert named == {
        "event_id": late,
        "type": "FxRateSet",
        "position": head,
        "actor": "fx-desk",
        "occurred_at": "2026-09-30T00:00:00+08:00",
        "correction_in": "2027-Q1",
    }
    correction = _line(q1, "correction")
    assert correction["paid_period"] == "2026-Q4"
    assert correction["event_ids"] == [late]
    assert [s["event_ids"] for s in correction["explanation"]] == [[late], [late]]
    change = correction["explanation"][1]["values"]
    assert (correction["amount"], change["kind"], change["before"], change["after"]) == corrected
    return correction


class TestALateRateThatMovesOnlyABalancesConversion:
    """Q4 (USD) was paid with a balance from CNY Q3 converted at 0.14, the rate
    dated 1 September; a rate dated 30 September, recorded after, is the one
    for Q4's first day now. It changes nothing of Q4's own — only that
    conversion — and is the cause of Q4's correction, named like any other
    (it named no event: ``event_ids`` []). Its diff across the rate cites it,
    by type and actor, on the correction line that appeared."""

    def test_a_carried_balance_converted_again_names_the_rate(self, ledger: Ledger) -> None:
        """Q4 carried −2,000.00 CNY as −280.00 USD; at 0.15 it is −300.00:
        2027-Q1 corrects Q4 by −20.00."""
        reports = _deducted_in_cny_then_usd(ledger)
        pay_period(reports, "2026-Q4")
        before, head = _late_rate(ledger, "0.15")
        late = stored_record(ledger, "FxRateSet", rate="0.15").event_id
        _named_alike(reports, head, late, ("-20.00", "carried_balance", "-280.00", "-300.00"))
        diff = reports.diff("r1", "2027-Q1", before, head)
        (moved,) = diff.changes
        assert (moved.kind, moved.change) == ("correction", "-20.00")
        assert [(e.event_id, e.type, e.actor) for e in moved.events_added] == [
            (late, "FxRateSet", "fx-desk")
        ]

    def test_a_draw_balance_converted_again_names_the_rate(self, ledger: Ledger) -> None:
        """Q4 recovered the 10,000.00 CNY drawn as 1,400.00 USD; at 0.12 the
        balance was 1,200.00: 2027-Q1 gives back the 200.00 recovered beyond it."""
        _drawn_in_cny_then_usd(ledger, rate="0.14")
        reports = Reports(ledger)
        pay_period(reports, "2026-Q4")
        _, head = _late_rate(ledger, "0.12")
        late = stored_record(ledger, "FxRateSet", rate="0.12").event_id
        _named_alike(reports, head, late, ("200.00", "draw_recovery", "-1400.00", "-1200.00"))

    def test_a_rate_that_converts_to_the_same_amount_is_not_named(self, ledger: Ledger) -> None:
        """Another 0.14, dated 30 September: the rate for Q4's first day now,
        converting −2,000.00 CNY to the same −280.00 — no correction, and
        nothing named (a later event of the rep's that changes nothing)."""
        reports = _deducted_in_cny_then_usd(ledger)
        pay_period(reports, "2026-Q4")
        _late_rate(ledger, "0.14")
        q4 = reports.statement("r1", "2026-Q4")
        assert (q4["later_events"], q4["correction_to"]) == ([], None)
        q1 = reports.statement("r1", "2027-Q1")
        assert [x["kind"] for x in q1["lines"] if x["kind"] == "correction"] == []
