"""A finance audit of the pay shapes around transfers, exchange rates and pay on
collection (SPEC §2, §3, §3.1), each scene checked by hand at its boundary on
SQLite and PostgreSQL: every total is the exact sum of its lines, every line
names the events behind it, and the same log replayed gives the same numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import LedgerError
from policies.plan import load_plan
from projections.service import Reports
from tests.builders import enrol, jsonl, line, pay_period, sale, seeded, stored_record
from tests.unit.shapes import plan_toml

MONTHLY_ON_COLLECTION = plan_toml(commission='basis = "collection"\n').replace(
    'period = "quarter"', 'period = "month"'
)


def _fx(rate: str, at: str, base: str = "USD", quote: str = "CNY") -> dict[str, Any]:
    return line("FxRateSet", at=at, actor="fin-amy", base=base, quote=quote, rate=rate)


def _payment(payment_id: str, sale_id: str, amount: str, at: str) -> dict[str, Any]:
    return line("PaymentReceived", at=at, payment_id=payment_id, sale_id=sale_id, amount=amount)


def _usd_sale(sale_id: str, rep_id: str, amount: str, at: str) -> dict[str, Any]:
    return sale(sale_id, rep_id, amount, at=at) | {"currency": "USD"}


def _event_id(ledger: Ledger, type_: str, **fields: str) -> str:
    return str(stored_record(ledger, type_, **fields).event_id)


def _audited(reports: Reports, rep_id: str, period: str) -> dict[str, Any]:
    """The statement, held to what finance checks on every one: the total is
    the exact sum of its lines, every line that pays names events, and a fresh
    replay of the same log (as of its position) gives the same numbers."""
    statement = reports.statement(rep_id, period)
    lines = statement["lines"]
    assert Decimal(statement["total"]) == sum((Decimal(x["amount"]) for x in lines), Decimal(0))
    for x in lines:
        assert not Decimal(x["amount"]) or x["event_ids"], x
    replayed = Reports(reports.ledger).statement(
        rep_id, period, as_of=statement["as_of"]["position"]
    )
    figures = ("total", "payable", "lines")
    assert {k: replayed[k] for k in figures} == {k: statement[k] for k in figures}
    return statement


def _amounts(statement: dict[str, Any]) -> dict[str, str]:
    return {x["kind"]: x["amount"] for x in statement["lines"] if Decimal(x["amount"])}


def _steps(statement: dict[str, Any], kind: str, code: str) -> list[dict[str, Any]]:
    (found,) = (x for x in statement["lines"] if x["kind"] == kind)
    return [s for s in found["explanation"] if s["code"] == code]


def _sold_and_paid(ledger: Ledger, amount: str, at: str) -> None:
    """r1 sells 1,000 USD on 10 July (7,000 CNY at 7, 350.00 commission); P1 pays ``amount``."""
    sold = _usd_sale("S1", "r1", "1000.00", "2026-07-10T10:00:00+08:00")
    ledger.import_lines(jsonl(sold, _payment("P1", "S1", amount, at)), actor="crm")


@pytest.fixture
def on_collection(ledger: Ledger) -> Ledger:
    ledger.publish_plan(load_plan(MONTHLY_ON_COLLECTION, "toml"), actor="admin")
    ledger.import_lines(jsonl(enrol("r1"), enrol("r2")), actor="hr-sync")
    ledger.import_lines(jsonl(_fx("7", "2026-07-01T00:00:00+08:00")), actor="fin-amy")
    return ledger


class TestPayOnCollection:
    def test_a_foreign_sale_s_release_shows_what_it_earned_and_the_rate(
        self, on_collection: Ledger
    ) -> None:
        """1,000 USD at 7 is 7,000 CNY, 350.00 commission; 40 % paid releases
        140.00 — and the line says 350.00, the rate and its event, and the sale."""
        _sold_and_paid(on_collection, "400.00", "2026-07-11T10:00:00+08:00")
        july = _audited(Reports(on_collection), "r1", "2026-07")
        assert _amounts(july) == {"commission": "140.00"}
        assert july["unreleased"] == "210.00"
        (released,) = _steps(july, "commission", "payment_released")
        assert released["values"]["earned"] == "350"
        assert "0.4000 of its commission 350.00 released = 140.00" in released["text"]
        (converted,) = _steps(july, "commission", "fx_converted")
        assert "1000.00 USD × 7" in converted["text"]
        (commission,) = (x for x in july["lines"] if x["kind"] == "commission")
        ids = set(commission["event_ids"])
        assert _event_id(on_collection, "SaleRecorded", sale_id="S1") in ids
        assert _event_id(on_collection, "FxRateSet", rate="7") in ids
        assert _event_id(on_collection, "PaymentReceived", payment_id="P1") in ids

    def test_a_later_period_s_release_names_the_booking_rate(self, on_collection: Ledger) -> None:
        """Paid in August for a July sale: August's release shows July's rate."""
        _sold_and_paid(on_collection, "1000.00", "2026-08-01T00:00:00+08:00")
        reports = Reports(on_collection)
        assert _amounts(_audited(reports, "r1", "2026-07")) == {}
        august = _audited(reports, "r1", "2026-08")
        assert _amounts(august) == {"commission": "350.00"}
        assert _steps(august, "commission", "fx_converted")

    def test_three_payments_of_a_third_release_the_commission_once(
        self, on_collection: Ledger
    ) -> None:
        """33.33 + 33.33 + 33.34 of a 100.00 sale (commission 5.00), one a month:
        1.67, 1.66, 1.67 — 5.00 in all, never 5.01."""
        on_collection.import_lines(
            jsonl(
                sale("S1", "r1", "100.00", at="2026-07-01T00:00:00+08:00"),
                _payment("P1", "S1", "33.33", "2026-07-31T23:59:59+08:00"),
                _payment("P2", "S1", "33.33", "2026-08-01T00:00:00+08:00"),
                _payment("P3", "S1", "33.34", "2026-09-30T23:59:59+08:00"),
            ),
            actor="crm",
        )
        reports = Reports(on_collection)
        paid = [
            _amounts(_audited(reports, "r1", p)).get("commission")
            for p in ("2026-07", "2026-08", "2026-09")
        ]
        assert paid == ["1.67", "1.66", "1.67"]
        assert _audited(reports, "r1", "2026-07")["unreleased"] == "0.00"

    def test_a_payment_completing_the_sale_and_one_past_it(self, on_collection: Ledger) -> None:
        """Payments summing exactly to the sale are taken; a cent more, a zero
        or a negative payment, or one for a cancelled sale is refused, naming
        the field, and nothing is stored."""
        on_collection.import_lines(
            jsonl(
                sale("S1", "r1", "100.00"),
                sale("S2", "r1", "100.00"),
                line("SaleCancelled", at="2026-07-15T10:00:00+08:00", sale_id="S2", reason="x"),
                _payment("P1", "S1", "60.00", "2026-07-15T10:00:00+08:00"),
                _payment("P2", "S1", "40.00", "2026-07-16T10:00:00+08:00"),
            ),
            actor="crm",
        )
        before = _audited(Reports(on_collection), "r1", "2026-07")
        assert _amounts(before) == {"commission": "5.00"}
        refused = {
            "over": (_payment("P3", "S1", "0.01", "2026-07-17T10:00:00+08:00"), "amount"),
            "zero": (_payment("P4", "S1", "0.00", "2026-07-17T10:00:00+08:00"), "amount"),
            "negative": (_payment("P5", "S1", "-10.00", "2026-07-17T10:00:00+08:00"), "amount"),
            "cancelled": (_payment("P6", "S2", "10.00", "2026-07-17T10:00:00+08:00"), "sale_id"),
        }
        for name, (event, field) in refused.items():
            with pytest.raises(LedgerError) as raised:
                on_collection.import_lines(jsonl(event), actor="crm")
            assert f"field {field}" in str(raised.value), name
        assert _audited(Reports(on_collection), "r1", "2026-07")["lines"] == before["lines"]

    def test_a_payment_and_a_rate_after_the_period_was_paid(self, on_collection: Ledger) -> None:
        """July paid 140.00 (40 % of 350.00); then a rate of 7.5 dated at the
        sale's very instant (in UTC) and a July payment of 10 % arrive: July's
        statement stays as paid, August books 187.50 − 140.00 = 47.50, naming both."""
        _sold_and_paid(on_collection, "400.00", "2026-07-11T10:00:00+08:00")
        reports = Reports(on_collection)
        paid = _audited(reports, "r1", "2026-07")
        pay_period(reports, "2026-07")
        on_collection.import_lines(jsonl(_fx("7.5", "2026-07-10T02:00:00+00:00")), actor="fin-amy")
        on_collection.import_lines(
            jsonl(_payment("P2", "S1", "100.00", "2026-07-20T10:00:00+08:00")), actor="crm"
        )
        july = reports.statement("r1", "2026-07")
        assert july["lines"] == paid["lines"]
        assert july["total"] == "140.00"
        later = {e["type"]: e["correction_in"] for e in july["later_events"]}
        assert later == {"FxRateSet": "2026-08", "PaymentReceived": "2026-08"}
        august = _audited(reports, "r1", "2026-08")
        assert _amounts(august) == {"correction": "47.50"}

    def test_a_rate_changed_after_a_paid_release_settles_to_the_whole(
        self, on_collection: Ledger
    ) -> None:
        """10 % paid in July at 7 (35.00 of 350.00), July paid; a 7.5 dated before
        the sale, then the other 90 % in August: August releases 337.50 of 375.00
        and corrects July by 2.50 — 375.00 in all, the rate named on both."""
        _sold_and_paid(on_collection, "100.00", "2026-07-10T10:00:00+08:00")
        reports = Reports(on_collection)
        assert _amounts(_audited(reports, "r1", "2026-07")) == {"commission": "35.00"}
        pay_period(reports, "2026-07")
        on_collection.import_lines(jsonl(_fx("7.5", "2026-07-10T09:00:00+08:00")), actor="fin-amy")
        on_collection.import_lines(
            jsonl(_payment("P2", "S1", "900.00", "2026-08-03T10:00:00+08:00")), actor="crm"
        )
        august = _audited(reports, "r1", "2026-08")
        assert _amounts(august) == {"commission": "337.50", "correction": "2.50"}
        rate = _event_id(on_collection, "FxRateSet", rate="7.5")
        assert all(rate in x["event_ids"] for x in august["lines"] if Decimal(x["amount"]))

    def test_a_split_sale_releases_each_rep_s_share(self, on_collection: Ledger) -> None:
        """100.01 split 0.333333 / 0.666667 earns 1.6668316665 and 3.3336683335;
        33.34 paid (0.33336...) releases 0.56 and 1.11, the rest unreleased."""
        shares = [{"rep_id": "r1", "share": "0.333333"}, {"rep_id": "r2", "share": "0.666667"}]
        on_collection.import_lines(
            jsonl(
                sale("S1", "r1", "100.01", splits=shares),
                _payment("P1", "S1", "33.34", "2026-07-20T10:00:00+08:00"),
            ),
            actor="crm",
        )
        reports = Reports(on_collection)
        for rep_id, released, unreleased in (("r1", "0.56", "1.11"), ("r2", "1.11", "2.22")):
            july = _audited(reports, rep_id, "2026-07")
            assert (_amounts(july), july["unreleased"]) == ({"commission": released}, unreleased)


@pytest.fixture
def priced(ledger: Ledger) -> Ledger:
    """The SPEC's plan (quarterly, CNY), r1 to r3, USD at 7.1 from 1 July."""
    seeded(ledger, "r1", "r2", "r3")
    ledger.import_lines(jsonl(_fx("7.1", "2026-07-01T00:00:00+08:00")), actor="fin-amy")
    return ledger


class TestExchangeRates:
    def test_a_rate_dated_at_the_sale_s_instant_converts_it(self, priced: Ledger) -> None:
        """A rate at exactly the sale's moment (written in another offset) is
        in force; one a second later is not."""
        priced.import_lines(
            jsonl(
                _fx("7.2", "2026-07-10T02:00:00+00:00"),
                _fx("9", "2026-07-10T10:00:01+08:00"),
                _usd_sale("S1", "r1", "100.00", "2026-07-10T10:00:00+08:00"),
            ),
            actor="fin-amy",
        )
        q3 = _audited(Reports(priced), "r1", "2026-Q3")
        assert _amounts(q3) == {"commission": "36.00"}  # 720.00 × 0.05
        (converted,) = _steps(q3, "commission", "fx_converted")
        assert converted["values"]["rate"] == "7.2"
        assert converted["event_ids"] == [_event_id(priced, "FxRateSet", rate="7.2")]

    def test_a_rate_set_after_the_period_was_paid_moves_the_next_one(self, priced: Ledger) -> None:
        """Q3 paid 35.50 on 100 USD at 7.1; a 7.3 backdated to the sale books
        36.50 − 35.50 = 1.00 into Q4; Q3 stays as paid."""
        priced.import_lines(
            jsonl(_usd_sale("S1", "r1", "100.00", "2026-07-10T10:00:00+08:00")), actor="crm"
        )
        reports = Reports(priced)
        assert _amounts(_audited(reports, "r1", "2026-Q3")) == {"commission": "35.50"}
        pay_period(reports, "2026-Q3")
        priced.import_lines(jsonl(_fx("7.3", "2026-07-05T00:00:00+08:00")), actor="fin-amy")
        q3 = reports.statement("r1", "2026-Q3")
        assert q3["total"] == "35.50"
        assert [e["type"] for e in q3["later_events"]] == ["FxRateSet"]
        q4 = _audited(reports, "r1", "2026-Q4")
        assert _amounts(q4) == {"correction": "1.00"}
        (correction,) = (x for x in q4["lines"] if x["kind"] == "correction")
        assert _event_id(priced, "FxRateSet", rate="7.3") in correction["event_ids"]

    @pytest.mark.parametrize(
        "rate", ["0", "-7.1", "0.0000001", "1000000000000", "abc"], ids=lambda r: f"rate-{r}"
    )
    def test_a_rate_out_of_bounds_is_refused_naming_the_field(
        self, priced: Ledger, rate: str
    ) -> None:
        with pytest.raises(LedgerError) as raised:
            priced.import_lines(jsonl(_fx(rate, "2026-07-02T00:00:00+08:00")), actor="fin-amy")
        assert "field rate" in str(raised.value)

    def test_a_rate_the_wrong_way_round_does_not_price_a_sale(self, priced: Ledger) -> None:
        """A CNY→EUR rate is no EUR→CNY rate: an EUR sale is refused, naming currency."""
        priced.import_lines(
            jsonl(_fx("0.13", "2026-07-01T00:00:00+08:00", base="CNY", quote="EUR")),
            actor="fin-amy",
        )
        euro = sale("S1", "r1", "100.00") | {"currency": "EUR"}
        with pytest.raises(LedgerError) as raised:
            priced.import_lines(jsonl(euro), actor="crm")
        assert "field currency" in str(raised.value)


def _target(target_id: str, at: str, value: str) -> dict[str, Any]:
    """r1's ``sales_amount`` target for Q3, set by mgr-a."""
    fields = {"rep_id": "r1", "period": "2026-Q3", "kpi": "sales_amount", "value": value}
    return line("TargetSet", at=at, actor="mgr-a", target_id=target_id, reason="x", **fields)


def _approve(ledger: Ledger, subject_id: str) -> None:
    granted = line("ApprovalGranted", actor="fin-bob", subject_id=subject_id)
    ledger.import_lines(jsonl(granted), actor="fin-bob")


@pytest.fixture
def team(ledger: Ledger) -> Ledger:
    """m1, m2, m3 (override 2 %, 1 %) and top over m3; r1 under m1, moved to
    m2 at 00:00 on 1 October (+08:00: Q4's first instant there, 30 September
    16:00 UTC) and to m3 at the last second of Q4."""
    override = plan_toml(tail="[override]\nrates = [0.02, 0.01]\n")
    ledger.publish_plan(
        load_plan(override.replace('id = "field-sales"', 'id = "managers"'), "toml"),
        actor="admin",
    )
    seeded(ledger)
    ledger.import_lines(
        jsonl(
            *(enrol(m, plan_id="managers") for m in ("m1", "m2", "top")),
            enrol("m3", plan_id="managers", manager_id="top"),
            enrol("r1", manager_id="m1", team="east"),
        ),
        actor="hr-sync",
    )
    moves = (
        ("2026-10-01T00:00:00+08:00", {"manager_id": "m2", "team": "north"}),
        ("2026-12-31T23:59:59+08:00", {"manager_id": "m3"}),
    )
    ledger.import_lines(
        jsonl(*(line("RepTransferred", at=at, rep_id="r1", **to) for at, to in moves)),
        actor="hr-sync",
    )
    return ledger


class TestTransfers:
    SALES = (
        ("A", "1000.00", "2026-09-30T23:59:59+08:00"),  # Q3, under m1
        ("B", "2000.00", "2026-10-01T00:00:00+08:00"),  # the move's instant: Q4, m2
        ("C", "4000.00", "2026-09-30T16:00:00+00:00"),  # the same instant: Q3 by its date, m2
        ("D", "8000.00", "2026-09-30T15:59:59+00:00"),  # a second before: Q3, m1
        ("E", "16000.00", "2026-12-31T23:59:59+08:00"),  # the second move's instant: m3, top
    )

    @pytest.mark.parametrize(
        ("rep_id", "period", "paid", "sales"),
        [
            ("r1", "2026-Q3", {"commission": "650.00"}, "ACD"),  # (A + C + D) × 0.05
            ("r1", "2026-Q4", {"commission": "900.00"}, "BE"),  # (B + E) × 0.05
            ("m1", "2026-Q3", {"override": "180.00"}, "AD"),  # (A + D) × 0.02
            ("m1", "2026-Q4", {}, ""),
            ("m2", "2026-Q3", {"override": "80.00"}, "C"),  # C × 0.02
            ("m2", "2026-Q4", {"override": "40.00"}, "B"),  # B × 0.02
            ("m3", "2026-Q4", {"override": "320.00"}, "E"),  # E × 0.02
            ("top", "2026-Q4", {"override": "160.00"}, "E"),  # E × 0.01, level 2
        ],
        ids=["r1-q3", "r1-q4", "m1-q3", "m1-q4", "m2-q3", "m2-q4", "m3-q4", "top-q4"],
    )
    def test_each_sale_pays_the_manager_at_its_instant(
        self, team: Ledger, rep_id: str, period: str, paid: dict[str, str], sales: str
    ) -> None:
        team.import_lines(
            jsonl(*(sale(s, "r1", amount, at=at) for s, amount, at in self.SALES)), actor="crm"
        )
        statement = _audited(Reports(team), rep_id, period)
        assert _amounts(statement) == paid
        sale_events = {_event_id(team, "SaleRecorded", sale_id=s): s for s, _, _ in self.SALES}
        named = {
            sale_events[e]
            for x in statement["lines"]
            if x["kind"] in {"commission", "override"}
            for e in x["event_ids"]
            if e in sale_events
        }
        assert "".join(sorted(named)) == sales

    def test_an_override_paid_before_a_late_sale_is_corrected_after(self, team: Ledger) -> None:
        """m1's Q3 is paid on A; D, dated a second before the move and recorded
        later, books 8000 × 0.02 = 160.00 into m1's Q4, not into m2's."""
        team.import_lines(jsonl(sale("A", "r1", "1000.00", at=self.SALES[0][2])), actor="crm")
        reports = Reports(team)
        pay_period(reports, "2026-Q3")
        team.import_lines(jsonl(sale("D", "r1", "8000.00", at=self.SALES[3][2])), actor="crm")
        assert reports.statement("m1", "2026-Q3")["total"] == "20.00"
        assert _amounts(_audited(reports, "m1", "2026-Q4")) == {"correction": "160.00"}
        assert _amounts(_audited(reports, "m2", "2026-Q4")) == {}

    def test_a_target_changed_with_the_team_moves_the_tier_once_approved(
        self, team: Ledger
    ) -> None:
        """r1's Q3 target 10,000, with 12,000 sold and both other KPIs at 1:
        score 0.6 × 1.2 + 0.4 = 1.12, tier from 1.0 (1.5 × 10,000). Moved on 1
        August with a target of 20,000 set then: pending until approved, then
        0.6 × 0.6 + 0.4 = 0.76, tier from 0.0 — and the transfer alone changes
        neither."""
        scores = (
            line("KpiScored", rep_id="r1", period="2026-Q3", kpi=kpi, score="1")
            for kpi in ("customer_satisfaction", "market_feedback")
        )
        team.import_lines(
            jsonl(
                _target("T1", "2026-06-25T10:00:00+08:00", "10000"),
                *scores,
                sale("S1", "r1", "12000.00"),
                line(
                    "RepTransferred", at="2026-08-01T00:00:00+08:00", rep_id="r1", manager_id="m2"
                ),
                _target("T2", "2026-08-01T00:00:00+08:00", "20000"),
            ),
            actor="mgr-a",
        )
        _approve(team, "T1")  # recorded after Q3 began: T1 needs an approval too
        reports = Reports(team)
        before = _audited(reports, "r1", "2026-Q3")
        assert (before["attainment"], before["score"]) == ("1.2000", "1.1200")
        assert before["tier_coefficient"] == "1.5000"
        assert _amounts(before) == {"commission": "600.00", "bonus": "15000.00"}
        assert [p["subject_id"] for p in before["pending"]] == ["T2"]
        _approve(team, "T2")
        after = _audited(reports, "r1", "2026-Q3")
        assert (after["attainment"], after["score"]) == ("0.6000", "0.7600")
        assert _amounts(after) == {"commission": "600.00"}
        assert _amounts(_audited(reports, "m2", "2026-Q3")) == {}  # S1 was m1's: 14 July
        assert _amounts(_audited(reports, "m1", "2026-Q3")) == {"override": "240.00"}
