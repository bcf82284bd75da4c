"""SPEC §2's PaymentReceived, FxRateSet and RepTransferred, and the SPEC §3.1
shapes they pay — currencies, pay on collection and overrides — through import
→ statement, on SQLite and PostgreSQL: the refusals (each naming its field,
storing nothing), and golden amounts and explanation steps at the boundaries (a
payment equal to what is outstanding, a rate set exactly at the sale's moment,
a transfer on the period's first day).

The plans are the SPEC's seed plan (quarterly, CNY, 5 % default rate, a 90-day
clawback window; no targets here, so no bonus) with the section under test.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console

from api.schemas import StatementOut
from ledger import rules
from ledger.application import Ledger
from ledger.errors import BatchRejectedError
from policies.plan import load_plan, plan_document
from policies.rounding import CALC, cents_text, round_money
from policies.wording import render_warning
from presentation import print_statement
from presentation.modelling import print_whatif, whatif_texts
from projections.queues import Viewer, WorkQueues
from projections.runner import verify_views
from projections.service import Reports
from tests.builders import enrol, jsonl, line, payouts, sale, stored_count, stored_record
from tests.payout_scenes import approve, run_id_of
from tests.unit.shapes import plan_toml, spiff, tiers

Q3_START = "2026-07-01T00:00:00+08:00"


def _publish(ledger: Ledger, toml: str, plan_id: str = "field-sales") -> None:
    text = toml.replace('id = "field-sales"', f'id = "{plan_id}"')
    ledger.publish_plan(load_plan(text, "toml"), actor="admin")


def _import(ledger: Ledger, *events: dict[str, Any]) -> None:
    ledger.import_lines(jsonl(*events), actor="crm")


def _refused(ledger: Ledger, event: dict[str, Any]) -> tuple[str | None, str]:
    """The field and reason an import of ``event`` is refused with; nothing stored."""
    before = stored_count(ledger)
    with pytest.raises(BatchRejectedError) as caught:
        _import(ledger, event)
    assert stored_count(ledger) == before, "a refused import stores nothing"
    (error,) = caught.value.errors
    return error.field, error.reason


def _line(statement: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [x for x in statement["lines"] if x["kind"] == kind]
    return found


def _steps(found: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [s for s in found["explanation"] if s["code"] == code]


def _printed(statement: dict[str, Any], locale: str = "en") -> str:
    """The statement as the CLI prints it (`presentation.print_statement`)."""
    console = Console(record=True, width=300)
    print_statement(console, statement, locale)
    return console.export_text()


def _payment(payment_id: str, sale_id: str, amount: str, at: str) -> dict[str, Any]:
    return line("PaymentReceived", at=at, payment_id=payment_id, sale_id=sale_id, amount=amount)


def _rate(base: str, rate: str, at: str, quote: str = "CNY") -> dict[str, Any]:
    return line("FxRateSet", at=at, actor="fin-amy", base=base, quote=quote, rate=rate)


# -- payments ----------------------------------------------------------------------


@pytest.fixture
def collection(ledger: Ledger) -> Ledger:
    """A pay-on-collection plan; r1 sold S1 (10,000 CNY) on 14 July."""
    _publish(ledger, plan_toml(commission='basis = "collection"\n'))
    _import(ledger, enrol("r1"), sale("S1", "r1", "10000.00"))
    return ledger


class TestPaymentRefusals:
    def test_a_payment_above_what_is_outstanding_is_refused(self, collection: Ledger) -> None:
        _import(collection, _payment("P1", "S1", "4000.00", "2026-08-01T10:00:00+08:00"))
        field, reason = _refused(
            collection, _payment("P2", "S1", "6000.01", "2026-10-01T10:00:00+08:00")
        )
        assert field == "amount"
        assert "10000.01, above its amount 10000.00" in reason

    def test_a_payment_equal_to_what_is_outstanding_is_accepted(self, collection: Ledger) -> None:
        """The boundary: 4,000 then 6,000 pay the 10,000 sale exactly."""
        _import(
            collection,
            _payment("P1", "S1", "4000.00", "2026-08-01T10:00:00+08:00"),
            _payment("P2", "S1", "6000.00", "2026-10-01T10:00:00+08:00"),
        )
        field, _ = _refused(collection, _payment("P3", "S1", "0.01", "2026-10-02T10:00:00+08:00"))
        assert field == "amount"

    def test_a_payment_for_an_unknown_sale_is_refused(self, collection: Ledger) -> None:
        field, reason = _refused(collection, _payment("P1", "S9", "1.00", Q3_START))
        assert (field, reason) == ("sale_id", "unknown sale 'S9'")

    def test_a_payment_before_its_sale_or_of_a_cancelled_sale_is_refused(
        self, collection: Ledger
    ) -> None:
        assert _refused(collection, _payment("P1", "S1", "1.00", Q3_START))[0] == "occurred_at"
        _import(collection, line("SaleCancelled", sale_id="S1", reason="lost"))
        field, reason = _refused(
            collection, _payment("P1", "S1", "1.00", "2026-08-01T10:00:00+08:00")
        )
        assert field == "sale_id"
        assert "was cancelled" in reason

    def test_a_payment_is_idempotent_by_its_id(self, collection: Ledger) -> None:
        paid = _payment("P1", "S1", "4000.00", "2026-08-01T10:00:00+08:00")
        _import(collection, paid)
        before = stored_count(collection)
        _import(collection, paid)
        assert stored_count(collection) == before, "the same payment again is skipped"
        field, reason = _refused(collection, {**paid, "amount": "5000.00"})
        assert field == "payment_id"
        assert "already stored with other content" in reason


class TestPayOnCollection:
    def test_a_payment_releases_its_share_in_its_own_period(self, collection: Ledger) -> None:
        """S1 earns 10,000 × 0.05 = 500 in Q3. P1 (4,000 in August) releases
        0.4 × 500 = 200 into Q3, which shows 300 unreleased; P2 (the 6,000
        outstanding, in October) releases the other 300 into Q4."""
        _import(
            collection,
            _payment("P1", "S1", "4000.00", "2026-08-01T10:00:00+08:00"),
            _payment("P2", "S1", "6000.00", "2026-10-01T10:00:00+08:00"),
        )
        reports = Reports(collection)
        q3, q4 = reports.statement("r1", "2026-Q3"), reports.statement("r1", "2026-Q4")
        commission = _line(q3, "commission")
        assert commission["amount"] == "200.00"
        (released,) = _steps(commission, "payment_released")
        assert released["values"] == {
            "commission": "200",
            "earned": "500",
            "fraction": "0.4000",
            "paid": "4000.00",
            "payment_id": "P1",
            "released_before": "0",
            "sale_amount": "10000.00",
            "sale_id": "S1",
        }
        assert released["event_ids"] == [
            stored_record(collection, "PaymentReceived", payment_id="P1").event_id,
            stored_record(collection, "SaleRecorded", sale_id="S1").event_id,
        ]
        assert q3["unreleased"] == "0.00", "every payment so far is counted against Q3's earnings"
        assert _line(q4, "commission")["amount"] == "300.00"
        assert q4["unreleased"] == "0.00", "Q4 booked nothing"

    def test_what_is_not_paid_yet_is_unreleased_in_the_booking_period(
        self, collection: Ledger
    ) -> None:
        _import(collection, _payment("P1", "S1", "4000.00", "2026-08-01T10:00:00+08:00"))
        q3 = Reports(collection).statement("r1", "2026-Q3")
        assert (_line(q3, "commission")["amount"], q3["unreleased"]) == ("200.00", "300.00")
        assert q3["total"] == "200.00"

    @pytest.mark.parametrize(
        ("amount", "payments"),
        [("10000.09", ["10000.09"]), ("10000.01", ["3333.33", "3333.33", "3333.35"])],
    )
    def test_a_sale_paid_in_full_leaves_nothing_unreleased(
        self, ledger: Ledger, amount: str, payments: list[str]
    ) -> None:
        """5 % of 10,000.09 is 500.0045, a 500.00 line; its payment releases the
        exact 500.0045. The rounded line less the exact release said "-0.01"
        unreleased (and "-0.00" for 10,000.01 paid in three parts)."""
        _publish(ledger, plan_toml(commission='basis = "collection"\n'))
        _import(ledger, enrol("r1"), sale("S1", "r1", amount))
        _import(
            ledger,
            *(
                _payment(f"P{i}", "S1", paid, "2026-08-25T10:00:00+08:00")
                for i, paid in enumerate(payments)
            ),
        )
        q3 = Reports(ledger).statement("r1", "2026-Q3")
        assert q3["unreleased"] == "0.00"

    def test_a_sale_paid_over_three_periods_releases_its_commission_to_the_cent(
        self, ledger: Ledger
    ) -> None:
        """5 % of 100.00 is 5.00, paid a third in each of three quarters: each
        third is 1.6665, and each quarter's line rounded alone paid 1.67 three
        times — 5.01 for a 5.00 commission, a cent made by rounding. Each
        payment releases the sale's commission paid so far, to the cent, less
        what its earlier payments released: 1.67, 1.66, 1.67."""
        _publish(ledger, plan_toml(commission='basis = "collection"\n'))
        _import(
            ledger,
            enrol("r1"),
            sale("S1", "r1", "100.00"),
            _payment("P1", "S1", "33.33", "2026-08-01T10:00:00+08:00"),
            _payment("P2", "S1", "33.33", "2026-10-01T10:00:00+08:00"),
            _payment("P3", "S1", "33.34", "2027-01-05T10:00:00+08:00"),
        )
        reports = Reports(ledger)
        periods = ("2026-Q3", "2026-Q4", "2027-Q1")
        released = [_line(reports.statement("r1", p), "commission")["amount"] for p in periods]
        assert released == ["1.67", "1.66", "1.67"]
        q4 = _line(reports.statement("r1", "2026-Q4"), "commission")
        (step,) = _steps(q4, "payment_released")
        assert (step["values"]["commission"], step["values"]["released_before"]) == (
            "1.66",
            "1.67",
        )
        for period in periods:
            run_id = run_id_of(reports, period)
            approve(ledger, run_id)
            payouts(reports).pay_run(run_id, actor="fin-amy")
        paid = sum(Decimal(reports.statement("r1", p)["payable"]) for p in periods)
        assert paid == Decimal("5.00")
        assert verify_views(ledger, reports.projector.store) == []

    def test_a_move_to_a_plan_in_another_currency_is_refused(self, collection: Ledger) -> None:
        """S1 earned 500 CNY in Q3 under the collection plan; r1 moved to a USD
        plan from Q4, and S1's payment in Q4 released that 500 into the USD
        period as 500.00 USD — seven times the money. A rep whose plan pays on
        collection keeps its currency: what they earned is released in the
        currency it was earned in (a move elsewhere is a new enrolment)."""
        usd = plan_toml().replace('currency = "CNY"', 'currency = "USD"')
        _publish(collection, usd, plan_id="usd-sales")
        moved = line(
            "RepPlanAssigned", at="2026-10-01T00:00:00+08:00", rep_id="r1", plan_id="usd-sales"
        )
        field, reason = _refused(collection, moved)
        assert field == "plan_id"
        assert reason.startswith(
            "plan usd-sales pays in USD, rep r1's plan field-sales pays on collection in CNY"
        )
        other = plan_toml().replace('id = "field-sales"', 'id = "cny-booking"')
        _publish(collection, other, plan_id="cny-booking")
        _import(collection, {**moved, "plan_id": "cny-booking"})  # the same currency: moved

    @pytest.mark.parametrize("currency", ["CNY", "USD"], ids=["period-kind", "both-rules"])
    def test_a_move_stored_before_the_rules_sent_again_is_skipped(
        self, collection: Ledger, monkeypatch: pytest.MonkeyPatch, currency: str
    ) -> None:
        """A store written before the rules holds r1's move from the quarterly
        CNY collection plan to a monthly plan (in CNY: before the period rule;
        in USD: before both). The same line sent again is the same fact,
        skipped (SPEC §2); it was refused by the period rule, checked first
        without the guard the currency rule had. Another such move is still
        refused."""
        monthly = plan_toml().replace('period = "quarter"', 'period = "month"')
        _publish(collection, monthly.replace('currency = "CNY"', f'currency = "{currency}"'), "m")
        moved = line("RepPlanAssigned", at="2026-10-01T00:00:00+08:00", rep_id="r1", plan_id="m")
        with monkeypatch.context() as before_the_rules:
            before_the_rules.setattr(rules, "_check_same_period_kind", lambda *_: None)
            before_the_rules.setattr(rules, "_check_collection_currency", lambda *_: None)
            _import(collection, moved)
        before = stored_count(collection)
        _import(collection, moved)
        assert stored_count(collection) == before
        field, reason = _refused(collection, {**moved, "occurred_at": "2026-11-01T00:00:00+08:00"})
        assert field == "plan_id"
        assert "pays by month" in reason

    @pytest.mark.parametrize("order", ["plan-then-move", "move-then-plan"])
    def test_one_import_that_moves_a_rep_and_turns_their_plan_to_collection_is_refused(
        self, ledger: Ledger, order: str
    ) -> None:
        """One file publishes field-sales v2 paying on collection and moves r1
        (who sold S1 under v1) to a USD plan, in either order: refused whole,
        by the rule the second line breaks given the first — the move naming
        ``plan_id`` after the version, the version naming
        ``plan.commission.basis`` after the move — and nothing stored."""
        _publish(ledger, plan_toml())
        usd = plan_toml().replace('currency = "CNY"', 'currency = "USD"')
        _publish(ledger, usd, plan_id="usd-sales")
        _import(ledger, enrol("r1"), sale("S1", "r1", "10000.00"))
        turned = plan_toml(commission='basis = "collection"\n').replace(
            "version = 1", "version = 2"
        )
        moved = line(
            "RepPlanAssigned", at="2026-10-01T00:00:00+08:00", rep_id="r1", plan_id="usd-sales"
        )
        lines = [_plan_line(turned), moved]
        if order == "move-then-plan":
            lines.reverse()
        before = stored_count(ledger)
        with pytest.raises(BatchRejectedError) as caught:
            ledger.import_lines(jsonl(*lines), actor="admin")
        assert stored_count(ledger) == before
        (error,) = caught.value.errors
        assert error.line == 2
        if order == "plan-then-move":
            assert error.field == "plan_id"
            assert "rep r1's plan field-sales pays on collection in CNY" in error.reason
        else:
            assert error.field == "plan.commission.basis"
            assert "rep r1 has followed both plan field-sales and a plan paying in USD" in (
                error.reason
            )

    def test_a_version_that_turns_a_plan_left_for_another_currency_to_collection_is_refused(
        self, ledger: Ledger
    ) -> None:
        """r1 sold S1 in Q3 under the CNY plan (on booking) and moved to a USD
        plan from Q4. A version of the CNY plan paying on collection from the
        start of the year would hold S1's 500 CNY back and release it into
        the USD quarters as USD; refused, naming the rep."""
        _publish(ledger, plan_toml())
        usd = plan_toml().replace('currency = "CNY"', 'currency = "USD"')
        _publish(ledger, usd, plan_id="usd-sales")
        _import(
            ledger,
            enrol("r1"),
            sale("S1", "r1", "10000.00"),
            line(
                "RepPlanAssigned", at="2026-10-01T00:00:00+08:00", rep_id="r1", plan_id="usd-sales"
            ),
        )
        turned = plan_toml(commission='basis = "collection"\n').replace(
            "version = 1", "version = 2"
        )
        with pytest.raises(BatchRejectedError) as caught:
            _publish(ledger, turned)
        (error,) = caught.value.errors
        assert error.field == "plan.commission.basis"
        assert "rep r1 has followed both plan field-sales and a plan paying in USD" in error.reason

    @pytest.mark.parametrize("rate", ["0.14", None], ids=["rate", "no-rate"])
    def test_a_move_stored_before_the_rule_converts_what_is_released(
        self, collection: Ledger, monkeypatch: pytest.MonkeyPatch, rate: str | None
    ) -> None:
        """A store written before the rule holds r1's move to a USD plan from
        Q4; S1's payment on 10 October releases its 500 CNY into Q4, paid in
        USD. It was paid as 500.00 USD; now converted at the CNY → USD rate in
        force at the payment (0.14 from 30 September, not 0.15 from 20
        October): 70.00 USD, a step naming the rate. With no rate the payment
        waits under pending, and nothing of it is paid."""
        self._moved_to_usd(collection, monkeypatch)
        later = _rate("CNY", "0.15", "2026-10-20T00:00:00+08:00", quote="USD")
        rates = [later]
        if rate is not None:
            rates.insert(0, _rate("CNY", rate, "2026-09-30T00:00:00+08:00", quote="USD"))
        _import(collection, *rates, _payment("P1", "S1", "10000.00", "2026-10-10T10:00:00+08:00"))
        q4 = Reports(collection).statement("r1", "2026-Q4")
        assert q4["currency"] == "USD"
        paid = stored_record(collection, "PaymentReceived", payment_id="P1").event_id
        commission = _line(q4, "commission")
        if rate is None:
            assert commission["amount"] == "0.00", "never 500.00 USD"
            waiting = {"waiting_for": "fx_rate", "base": "CNY", "quote": "USD"}
            assert q4["pending"] == [
                {"kind": "payment", "subject_id": "P1", "event_id": paid} | waiting
            ]
            return
        assert commission["amount"] == "70.00"
        (converted,) = _steps(commission, "balance_converted")
        rate_id = stored_record(collection, "FxRateSet", base="CNY", rate="0.14").event_id
        assert converted["event_ids"] == [rate_id]
        shown = converted["values"]
        assert (shown["amount"], shown["rate"], shown["converted"]) == ("500.00", "0.14", "70.00")
        assert (shown["currency"], shown["plan_currency"]) == ("CNY", "USD")
        assert shown["rate_from"] == "2026-09-30T00:00:00+08:00"
        assert q4["pending"] == []
        assert verify_views(collection, Reports(collection).projector.store) == []

    def _moved_to_usd(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, basis: str = "collection"
    ) -> None:
        """A store written before the rule: r1 moved to a USD plan paying on
        ``basis`` from Q4 (S1 earned 500 CNY in Q3 under the CNY one)."""
        usd = plan_toml(commission=f'basis = "{basis}"\n')
        _publish(ledger, usd.replace('currency = "CNY"', 'currency = "USD"'), "usd-sales")
        moved = line(
            "RepPlanAssigned", at="2026-10-01T00:00:00+08:00", rep_id="r1", plan_id="usd-sales"
        )
        with monkeypatch.context() as before_the_rule:
            before_the_rule.setattr(rules, "_check_collection_currency", lambda *_: None)
            _import(ledger, moved)

    @pytest.mark.parametrize("q4_paid", [False, True], ids=["q4-open", "q4-paid"])
    def test_a_payment_waiting_for_its_rate_is_unreleased_until_the_rate_comes(
        self, collection: Ledger, monkeypatch: pytest.MonkeyPatch, q4_paid: bool
    ) -> None:
        """S1 earned 500 CNY in Q3; r1 moved to a USD plan from Q4 (a store
        written before the rule). P1 pays 4,000 in August (200 released into
        Q3) and P2 the other 6,000 on 10 October, into USD Q4 with no CNY →
        USD rate: P2 waits under pending, and Q3's ``unreleased`` counted it
        as released ("0.00") though nothing of it was paid; it is 300.00.
        A rate dated 1 October arrives late: P2's 300 CNY is paid once, at
        that rate (42.00 USD) — in Q4 while it is open, else as a correction
        in 2027-Q1 — and Q3 shows nothing unreleased."""
        self._moved_to_usd(collection, monkeypatch)
        _import(
            collection,
            _payment("P1", "S1", "4000.00", "2026-08-01T10:00:00+08:00"),
            _payment("P2", "S1", "6000.00", "2026-10-10T10:00:00+08:00"),
        )
        reports = Reports(collection)
        q3, q4 = reports.statement("r1", "2026-Q3"), reports.statement("r1", "2026-Q4")
        assert _line(q3, "commission")["amount"] == "200.00"
        assert q3["unreleased"] == "300.00", "P2 waits: nothing of it is released"
        assert _line(q4, "commission")["amount"] == "0.00"
        assert [p["subject_id"] for p in q4["pending"]] == ["P2"]
        assert verify_views(collection, reports.projector.store) == []
        if q4_paid:
            for period in ("2026-Q3", "2026-Q4"):
                run_id = run_id_of(reports, period)
                approve(collection, run_id)
                payouts(reports).pay_run(run_id, actor="fin-amy")

        _import(collection, _rate("CNY", "0.14", "2026-10-01T00:00:00+08:00", quote="USD"))
        rate_id = stored_record(collection, "FxRateSet", base="CNY", rate="0.14").event_id
        q3, q4 = reports.statement("r1", "2026-Q3"), reports.statement("r1", "2026-Q4")
        assert _line(q3, "commission")["amount"] == "200.00"
        if not q4_paid:
            assert q3["unreleased"] == "0.00"
            head = reports.statement("r1", "2026-Q3", as_of=stored_count(collection))
            assert head["unreleased"] == "0.00", "a replay as of the head agrees"
        q1 = reports.statement("r1", "2027-Q1")
        paid_in = q1 if q4_paid else q4
        if q4_paid:
            assert _line(q4, "commission")["amount"] == "0.00", "paid: it stands"
            correction = _line(q1, "correction")
            assert (correction["paid_period"], correction["amount"]) == ("2026-Q4", "42.00")
            assert correction["event_ids"] == [rate_id], "the rate names the correction"
            assert [e["event_id"] for e in q4["later_events"]] == [rate_id]
        else:
            commission = _line(q4, "commission")
            assert commission["amount"] == "42.00"
            (released,) = _steps(commission, "payment_released")
            assert released["values"]["payment_id"] == "P2"
            (converted,) = _steps(commission, "balance_converted")
            assert converted["event_ids"] == [rate_id]
            shown = converted["values"]
            assert (shown["amount"], shown["rate"], shown["converted"]) == (
                "300.00",
                "0.14",
                "42.00",
            )
            assert _line(q1, "commission")["amount"] == "0.00"
        assert paid_in["pending"] == [], "(a paid Q4 shows what it was paid with)"
        assert Decimal(q4["total"]) + Decimal(q1["total"]) == Decimal("42.00"), "paid once"
        assert verify_views(collection, reports.projector.store) == []

    @pytest.mark.parametrize("basis", ["collection", "booking"])
    @pytest.mark.parametrize("rate", ["in-force", "late"])
    def test_a_spiff_released_into_a_period_paid_in_another_currency_is_converted(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, basis: str, rate: str
    ) -> None:
        """S1 (10,000 CNY, 14 July) earns 500 commission and a 1,000 SPIFF under
        the CNY collection plan; r1 moved to a USD plan (paying on ``basis``)
        from Q4 in a store written before the rule. P1 (3,333.33 in August)
        releases 166.67 + 333.33 into Q3; P2 (6,666.67, 10 October) the rest,
        333.33 + 666.67 CNY, into USD Q4: at 0.1389 that is 46.30 + 92.60 USD,
        each line with its own rate step. With the rate recorded late, P2
        waits (its SPIFF with it: no SPIFF line is paid as CNY in USD), Q3
        counts both unreleased (1,000.00), and once the rate comes the same
        46.30 + 92.60 are paid, once."""
        spiffed = plan_toml(
            commission='basis = "collection"\n',
            tail=spiff("q3-push", "2026-07-01", "2026-09-30", amount="1000"),
        )
        _publish(ledger, spiffed)
        _import(ledger, enrol("r1"), sale("S1", "r1", "10000.00"))
        self._moved_to_usd(ledger, monkeypatch, basis)
        fx = _rate("CNY", "0.1389", "2026-10-01T00:00:00+08:00", quote="USD")
        if rate == "in-force":
            _import(ledger, fx)
        _import(
            ledger,
            _payment("P1", "S1", "3333.33", "2026-08-01T10:00:00+08:00"),
            _payment("P2", "S1", "6666.67", "2026-10-10T10:00:00+08:00"),
        )
        reports = Reports(ledger)
        q3 = reports.statement("r1", "2026-Q3")
        released = (_line(q3, "commission")["amount"], _line(q3, "spiff")["amount"])
        assert released == ("166.67", "333.33")
        if rate == "late":
            q3, q4 = reports.statement("r1", "2026-Q3"), reports.statement("r1", "2026-Q4")
            assert q3["unreleased"] == "1000.00"
            assert _line(q4, "commission")["amount"] == "0.00"
            assert [x["kind"] for x in q4["lines"]].count("spiff") == 0
            assert [p["subject_id"] for p in q4["pending"]] == ["P2"]
            _import(ledger, fx)
        rate_id = stored_record(ledger, "FxRateSet", base="CNY").event_id
        q3, q4 = reports.statement("r1", "2026-Q3"), reports.statement("r1", "2026-Q4")
        assert q3["unreleased"] == "0.00"
        assert (q4["currency"], q4["pending"]) == ("USD", [])
        for kind, cny, usd_amount in (
            ("commission", "333.33", "46.30"),
            ("spiff", "666.67", "92.60"),
        ):
            found = _line(q4, kind)
            assert found["amount"] == usd_amount
            (converted,) = _steps(found, "balance_converted")
            assert converted["event_ids"] == [rate_id]
            shown = converted["values"]
            assert (shown["amount"], shown["rate"], shown["converted"]) == (
                cny,
                "0.1389",
                usd_amount,
            )
            assert shown["balance"] == f"{kind}_release"
        assert q4["total"] == "138.90"
        q1 = reports.statement("r1", "2027-Q1")
        assert q1["total"] == "0.00", "paid once"
        assert verify_views(ledger, reports.projector.store) == []

    def test_a_commission_near_the_bounds_paid_in_full_is_released_to_the_cent(
        self, ledger: Ledger
    ) -> None:
        """Within SPEC §2's bounds: a sale of 987,654,321,987.65 EUR converted
        at 912,345,678,901.23 CNY, at 5 % under a band multiplying by
        987,654.321, earns about 4.5 × 10^28 CNY. Paid in full in its quarter
        and in two thirds, it released the commission rounded at 30 significant
        digits — short of the cent, by up to half a unit; now the commission to
        the cent, and nothing is left unreleased."""
        bands = tiers("credited", "marginal", "{from = 0, multiplier = 987654.321}")
        _publish(ledger, plan_toml(commission='basis = "collection"\n', tail=bands))
        amount, rate = Decimal("987654321987.65"), Decimal("912345678901.23")
        _import(
            ledger,
            enrol("r1"),
            _rate("EUR", str(rate), "2026-07-01T00:00:00+08:00"),
            {**sale("S1", "r1", str(amount)), "currency": "EUR"},
            _payment("P1", "S1", "329218107329.22", "2026-08-01T10:00:00+08:00"),
            _payment("P2", "S1", "658436214658.43", "2026-09-01T10:00:00+08:00"),
        )
        converted = round_money(CALC.multiply(amount, rate))
        earned = CALC.multiply(CALC.multiply(converted, Decimal("0.05")), Decimal("987654.321"))
        q3 = Reports(ledger).statement("r1", "2026-Q3")
        assert _line(q3, "commission")["amount"] == cents_text(earned)
        assert q3["unreleased"] == "0.00"

    def test_a_period_cap_that_leaves_a_third_shares_it_out_without_failing(
        self, ledger: Ledger
    ) -> None:
        """Three sales of 1,000 earn 150, capped at 100: each earned two thirds
        of its 50 — no decimal holds 33.33…, and the statement, `verify` and a
        rebuild failed on it (an accepted event must never make them fail)."""
        _publish(ledger, plan_toml(commission='basis = "collection"\nperiod_cap = 100\n'))
        _import(
            ledger,
            enrol("r1"),
            *(sale(f"S{i}", "r1", "1000.00") for i in range(3)),
            _payment("P1", "S0", "1000.00", "2026-08-01T10:00:00+08:00"),
        )
        reports = Reports(ledger)
        q3 = reports.statement("r1", "2026-Q3")
        assert (_line(q3, "commission")["amount"], q3["unreleased"]) == ("33.33", "66.67")
        assert verify_views(ledger, reports.projector.store) == []

    def test_a_payment_after_the_plan_moved_to_booking_still_releases(self, ledger: Ledger) -> None:
        """Version 2 pays on booking from Q4: S1, booked in Q3 on collection,
        paid 40 % in Q3 and 60 % in Q4 — Q4 releases the 300 (it released
        nothing, while Q3 counted it released: 300 earned and never paid)."""
        collection = plan_toml(commission='basis = "collection"\n')
        _publish(ledger, collection)
        booking = collection.replace("version = 1", "version = 2").replace(
            "effective_from = 2026-01-01", "effective_from = 2026-10-01"
        )
        _publish(ledger, booking.replace('basis = "collection"\n', ""))
        _import(
            ledger,
            enrol("r1"),
            sale("S1", "r1", "10000.00"),
            sale("S2", "r1", "2000.00", at="2026-10-20T10:00:00+08:00"),
            _payment("P1", "S1", "4000.00", "2026-08-01T10:00:00+08:00"),
            _payment("P2", "S1", "6000.00", "2026-10-01T10:00:00+08:00"),
        )
        reports = Reports(ledger)
        q3, q4 = reports.statement("r1", "2026-Q3"), reports.statement("r1", "2026-Q4")
        assert (_line(q3, "commission")["amount"], q3["unreleased"]) == ("200.00", "0.00")
        commission = _line(q4, "commission")
        assert commission["amount"] == "400.00", "S2 on booking (100) and P2's release (300)"
        (released,) = _steps(commission, "payment_released")
        assert released["values"]["payment_id"] == "P2"
        assert "unreleased" not in q4
        assert verify_views(ledger, reports.projector.store) == []

    def test_a_cancellation_inside_the_window_takes_the_releases_back(
        self, collection: Ledger
    ) -> None:
        """S1 cancelled 30 days after it was sold: never credited, so P1 releases
        nothing on replay."""
        _import(collection, _payment("P1", "S1", "4000.00", "2026-08-01T10:00:00+08:00"))
        _import(
            collection,
            line("SaleCancelled", at="2026-08-13T10:00:00+08:00", sale_id="S1", reason="lost"),
        )
        q3 = Reports(collection).statement("r1", "2026-Q3")
        assert (_line(q3, "commission")["amount"], q3["unreleased"]) == ("0.00", "0.00")

    def test_a_second_cancellation_unlike_the_first_is_refused_as_standing(
        self, collection: Ledger
    ) -> None:
        """A sale is cancelled once: the same cancellation again is skipped; another
        (a later day) is refused naming the day of the one recorded and that it
        stands — not "correct it with a later event", which no event of a
        cancellation is."""
        cancelled = line(
            "SaleCancelled", at="2026-08-13T10:00:00+08:00", sale_id="S1", reason="lost"
        )
        _import(collection, cancelled)
        before = stored_count(collection)
        _import(collection, cancelled)
        assert stored_count(collection) == before, "the same cancellation again is skipped"
        field, reason = _refused(
            collection, {**cancelled, "occurred_at": "2026-09-01T10:00:00+08:00"}
        )
        assert field == "sale_id"
        assert "the cancellation of sale S1 is already recorded" in reason
        assert "occurred 2026-08-13" in reason
        assert "happens once and stands" in reason
        assert "later event" not in reason

    def test_a_second_cancellation_by_another_actor_is_not_told_the_first_ones_date(
        self, collection: Ledger
    ) -> None:
        """The refusal's date is the stored cancellation's: told to the actor who
        recorded it, not to another sender (an integration reads no event), who
        gets the same refusal — its field, and that the cancellation stands —
        without it. It named the day to anyone who sent the sale's id."""
        cancelled = line(
            "SaleCancelled", at="2026-08-13T10:00:00+08:00", sale_id="S1", reason="lost"
        )
        _import(collection, cancelled)
        other = {**cancelled, "occurred_at": "2026-09-01T10:00:00+08:00", "actor": "crm-late"}
        field, reason = _refused(collection, other)
        assert field == "sale_id"
        assert "the cancellation of sale S1 is already recorded" in reason
        assert "happens once and stands" in reason
        assert "2026-08-13" not in reason
        assert "occurred" not in reason

    def test_unreleased_is_in_the_statement_text_and_its_response_model(
        self, collection: Ledger
    ) -> None:
        """The CLI's statement says what is unreleased (en, zh-CN); the OpenAPI
        model keeps the key (and leaves it out for a booking plan)."""
        _import(collection, _payment("P1", "S1", "4000.00", "2026-08-01T10:00:00+08:00"))
        q3 = Reports(collection).statement("r1", "2026-Q3")
        assert _printed(q3).count("Unreleased: 300.00 earned by this period's sales") == 1
        assert "未释放：本期销售已赚取 300.00" in _printed(q3, "zh-CN")
        assert StatementOut.model_validate(q3).model_dump(mode="json")["unreleased"] == "300.00"
        q4 = Reports(collection).statement("r1", "2026-Q4")
        assert "Unreleased: 0.00" in _printed(q4), "collection plan: said even when nothing is left"

    def test_a_booking_plan_statement_has_no_unreleased_key(self, ledger: Ledger) -> None:
        _publish(ledger, plan_toml())
        _import(ledger, enrol("r1"), sale("S1", "r1", "10000.00"))
        _import(ledger, _payment("P1", "S1", "4000.00", "2026-08-01T10:00:00+08:00"))
        q3 = Reports(ledger).statement("r1", "2026-Q3")
        assert "unreleased" not in q3
        assert "Unreleased" not in _printed(q3)
        assert "unreleased" not in StatementOut.model_validate(q3).model_dump(mode="json")
        assert _line(q3, "commission")["amount"] == "500.00", "paid on booking, whole"


# -- currencies ----------------------------------------------------------------------


@pytest.fixture
def priced(ledger: Ledger) -> Ledger:
    """The seed plan (CNY); USD→CNY 7.1 set at exactly the moment S1 is sold."""
    _publish(ledger, plan_toml())
    _import(ledger, enrol("r1"))
    ledger.import_lines(jsonl(_rate("USD", "7.1", "2026-07-14T10:00:00+08:00")), actor="fin-amy")
    return ledger


def _usd_sale(sale_id: str, amount: str, at: str = "2026-07-14T10:00:00+08:00") -> dict[str, Any]:
    return {**sale(sale_id, "r1", amount, at=at), "currency": "USD"}


class TestCurrencies:
    def test_a_rate_set_at_the_sales_moment_converts_it(self, priced: Ledger) -> None:
        """1,000.50 USD × 7.1 = 7,103.55 CNY, × 0.05 = 355.1775 → 355.18; the step
        names the rate and its event."""
        _import(priced, _usd_sale("S1", "1000.50"))
        commission = _line(Reports(priced).statement("r1", "2026-Q3"), "commission")
        assert commission["amount"] == "355.18"
        (fx,) = _steps(commission, "fx_converted")
        rate_id = stored_record(priced, "FxRateSet", base="USD").event_id
        assert fx["event_ids"] == [rate_id]
        assert fx["values"] == {
            "amount": "1000.5",
            "converted": "7103.55",
            "currency": "USD",
            "plan_currency": "CNY",
            "rate": "7.1",
            "rate_from": "2026-07-14T10:00:00+08:00",
            "sale_id": "S1",
        }
        assert rate_id in commission["event_ids"]

    def test_a_sale_before_any_rate_is_refused(self, priced: Ledger) -> None:
        field, reason = _refused(priced, _usd_sale("S1", "100.00", at="2026-07-14T09:59:59+08:00"))
        assert field == "currency"
        assert "no exchange rate USD->CNY" in reason

    def test_a_sale_in_the_plans_currency_needs_no_rate(self, priced: Ledger) -> None:
        _import(priced, {**sale("S1", "r1", "100.00"), "currency": "CNY"})
        field, _ = _refused(priced, {**_usd_sale("S2", "1.00"), "currency": "EUR"})
        assert field == "currency", "a rate of another pair does not count"

    def test_a_rate_recorded_later_but_dated_before_the_sale_changes_the_replay(
        self, priced: Ledger
    ) -> None:
        """A 7.2 rate dated 15 July, recorded after the 16 July sale: the sale now
        converts at 7.2 (1,000 → 7,200, commission 360); as of before the rate,
        at 7.1 (355)."""
        _import(priced, _usd_sale("S1", "1000.00", at="2026-07-16T10:00:00+08:00"))
        before = priced.head()
        assert before is not None
        priced.import_lines(
            jsonl(_rate("USD", "7.2", "2026-07-15T10:00:00+08:00")), actor="fin-amy"
        )
        reports = Reports(priced)
        assert _line(reports.statement("r1", "2026-Q3"), "commission")["amount"] == "360.00"
        then = reports.statement("r1", "2026-Q3", as_of=before.position)
        assert _line(then, "commission")["amount"] == "355.00"

    def test_a_paid_period_books_the_rates_change_as_a_correction(self, priced: Ledger) -> None:
        _import(priced, _usd_sale("S1", "1000.00", at="2026-07-16T10:00:00+08:00"))
        reports = Reports(priced)
        run_id = run_id_of(reports, "2026-Q3")
        approve(priced, run_id)
        priced.pay_run(run_id, actor="fin-amy")
        priced.import_lines(
            jsonl(_rate("USD", "7.2", "2026-07-15T10:00:00+08:00")), actor="fin-amy"
        )
        q3, q4 = reports.statement("r1", "2026-Q3"), reports.statement("r1", "2026-Q4")
        assert (q3["status"], q3["total"]) == ("paid", "355.00"), "a paid period stays locked"
        assert _line(q4, "correction")["amount"] == "5.00"
        late_rate = stored_record(priced, "FxRateSet", rate="7.2").event_id
        assert [e["event_id"] for e in q3["later_events"]] == [late_rate]

    def test_a_sale_left_without_a_rate_waits_for_one_not_for_approval(
        self, priced: Ledger
    ) -> None:
        """S1 (CNY) was sold under the CNY plan; r1 is then moved, from the
        quarter's first day, to a USD plan: no CNY→USD rate is in force, so S1 is
        pending — waiting for that exchange rate, not for an approval."""
        usd = plan_toml().replace('currency = "CNY"', 'currency = "USD"')
        _publish(priced, usd, plan_id="usd-sales")
        _import(
            priced,
            sale("S1", "r1", "1000.00"),
            line("RepPlanAssigned", at=Q3_START, rep_id="r1", plan_id="usd-sales"),
        )
        q3 = Reports(priced).statement("r1", "2026-Q3")
        assert q3["pending"] == [
            {
                "kind": "sale",
                "subject_id": "S1",
                "event_id": stored_record(priced, "SaleRecorded", sale_id="S1").event_id,
                "waiting_for": "fx_rate",
                "base": "CNY",
                "quote": "USD",
            }
        ]
        en = _printed(q3)
        assert "pending sale S1 (waiting for an exchange rate CNY→USD; changes no payout" in en
        assert "awaiting approval" not in en
        zh = _printed(q3, "zh-CN")
        assert "待定 销售 S1（等待汇率 CNY→USD；暂不影响支付）" in zh
        assert "等待批准" not in zh

    def test_fx_rate_refusals_name_the_field(self, priced: Ledger) -> None:
        assert _refused(priced, _rate("CNY", "1.0", Q3_START))[0] == "quote"
        assert _refused(priced, _rate("USD", "-7", Q3_START))[0] == "rate"
        same = _rate("USD", "7.1", "2026-07-14T10:00:00+08:00")
        before = stored_count(priced)
        priced.import_lines(jsonl(same), actor="fin-amy")
        assert stored_count(priced) == before, "the same rate at the same moment is skipped"
        field, reason = _refused(priced, {**same, "rate": "7.3"})
        assert field == "rate"
        assert "already stored with other content" in reason


# -- overrides ------------------------------------------------------------------------

OVERRIDE_PLAN = plan_toml(tail="[override]\nrates = [0.02, 0.01]\n")


@pytest.fixture
def team(ledger: Ledger) -> Ledger:
    """m1 manages m2, who manages r1 (both managers on an override plan);
    r2 reports to m1 until 1 October (the first day of Q4), then to m2."""
    _publish(ledger, plan_toml())
    _publish(ledger, OVERRIDE_PLAN, plan_id="managers")
    _import(
        ledger,
        enrol("m1", plan_id="managers"),
        enrol("m2", plan_id="managers", manager_id="m1"),
        enrol("r1", manager_id="m2"),
        enrol("r2", manager_id="m1"),
        sale("S1", "r1", "10000.00"),
        sale("S2", "r2", "20000.00"),
        sale("S3", "r2", "30000.00", at="2026-09-30T23:59:59+08:00"),
        line("RepTransferred", at="2026-10-01T00:00:00+08:00", rep_id="r2", manager_id="m2"),
        sale("S4", "r2", "40000.00", at="2026-10-01T00:00:00+08:00"),
    )
    return ledger


class TestOverrides:
    def test_a_manager_earns_on_two_levels(self, team: Ledger) -> None:
        """m1's Q3: level 1 = r2 (S2 + S3 = 50,000 × 0.02 = 1,000), level 2 =
        r1 through m2 (10,000 × 0.01 = 100)."""
        q3 = Reports(team).statement("m1", "2026-Q3")
        overrides = [x for x in q3["lines"] if x["kind"] == "override"]
        assert [x["amount"] for x in overrides] == ["1000.00", "100.00"]
        level1 = overrides[0]["explanation"]
        assert [s["code"] for s in level1] == ["override_rep", "override_total"]
        assert level1[0]["values"] == {"credited": "50000", "level": "1", "rep_id": "r2"}
        assert level1[1]["values"] == {
            "amount": "1000",
            "credited": "50000",
            "level": "1",
            "rate": "0.0200",
        }

    def test_a_transfer_on_the_periods_first_day_moves_that_days_sales(self, team: Ledger) -> None:
        """From 1 October r2 reports to m2: S4 (40,000, sold at 00:00 that day) is
        m2's level 1 (800) and m1's level 2 (400); S3 (the second before) was m1's."""
        reports = Reports(team)
        m1 = reports.statement("m1", "2026-Q4")
        m2 = reports.statement("m2", "2026-Q4")
        assert [x["amount"] for x in m1["lines"] if x["kind"] == "override"] == ["400.00"]
        assert [x["amount"] for x in m2["lines"] if x["kind"] == "override"] == ["800.00"]
        transfer = stored_record(team, "RepTransferred", rep_id="r2").event_id
        (rep_step,) = _steps(_line(m2, "override"), "override_rep")
        assert transfer in rep_step["event_ids"]
        m2_q3 = [x["amount"] for x in reports.statement("m2", "2026-Q3")["lines"]]
        assert "200.00" in m2_q3, "m2's Q3: r1's 10,000 at 0.02"

    def test_the_directory_and_the_override_agree_on_two_moves_of_one_day(
        self, team: Ledger
    ) -> None:
        """r2 moves to m1 at 17:00 on 2 November, recorded first, and back to m2
        at 09:00 that day, recorded after it: by the exact instant the 17:00 move
        is in force from 17:00 on, for the override (S6, sold at 18:00, is m1's
        level 1; S5, at 10:00, m2's) and for the directory (on that day and
        after, r2 reports to m1: m1's team list), not the one recorded last."""
        moved = {"rep_id": "r2", "actor": "hr-sync"}
        _import(
            team,
            line("RepTransferred", at="2026-11-02T17:00:00+08:00", manager_id="m1", **moved),
            line("RepTransferred", at="2026-11-02T09:00:00+08:00", manager_id="m2", **moved),
            sale("S5", "r2", "1000.00", at="2026-11-02T10:00:00+08:00"),
            sale("S6", "r2", "2000.00", at="2026-11-02T18:00:00+08:00"),
        )
        reports = Reports(team, today=lambda: date(2026, 11, 2))
        reports.catch_up()
        level1 = {
            manager: [
                step["values"]["credited"]
                for found in reports.statement(manager, "2026-Q4")["lines"]
                if found["kind"] == "override"
                for step in _steps(found, "override_rep")
                if (step["values"]["level"], step["values"]["rep_id"]) == ("1", "r2")
            ]
            for manager in ("m1", "m2")
        }
        assert level1 == {"m1": ["2000"], "m2": ["41000"]}  # m2: S4 and S5
        assert reports.rep("r2").manager_id == "m1"
        queues = WorkQueues(reports)
        assert "r2" in [row.rep_id for row in queues.reps(Viewer("manager", "m1")).items]

    def test_the_summary_lists_a_manager_paid_only_overrides(self, team: Ledger) -> None:
        """m1 and m2 have no fact of their own after their enrolment: their Q3 and
        Q4 are their reports' sales. The period's summary (what finance checks
        before a run) lists them with their overrides, as the run pays them."""
        queues = WorkQueues(Reports(team))
        finance = Viewer("finance", "fin-amy")
        for period, expected in (
            ("2026-Q3", {"m1": "1100.00", "m2": "200.00"}),
            ("2026-Q4", {"m1": "400.00", "m2": "800.00"}),
        ):
            items = {i.rep_id: i.payable for i in queues.summary(finance, period).items}
            assert {rep: items.get(rep) for rep in expected} == expected, period
        statements = payouts(Reports(team)).reports.plan_run("2026-Q3")[0]
        assert {s["rep_id"] for s in statements} >= {"m1", "m2"}

    def test_a_rep_without_reports_earns_no_override_line(self, team: Ledger) -> None:
        q3 = Reports(team).statement("r1", "2026-Q3")
        assert [x for x in q3["lines"] if x["kind"] == "override"] == []

    def test_the_projection_equals_an_as_of_replay(self, team: Ledger) -> None:
        """The read model (folded as events came) and a replay as of the head agree
        for the managers, whose figures rest on their reports' events."""
        reports = Reports(team)
        head = team.head()
        assert head is not None
        for rep_id in ("m1", "m2"):
            now = reports.statement(rep_id, "2026-Q4")
            replay = reports.statement(rep_id, "2026-Q4", as_of=head.position)
            assert now["lines"] == replay["lines"]

    def test_a_report_who_moved_in_and_left_replays_for_the_manager(self, team: Ledger) -> None:
        """r2 came to m2 by a transfer (its enrolment named m1) and then left and
        changed plans: m2's replay (the replay index: r2's later events, not
        r2's enrolment) failed with a KeyError on them — the statement as of a
        position, an estimate, a what-if of m2."""
        _import(
            team,
            line(
                "RepPlanAssigned",
                at="2026-11-01T00:00:00+08:00",
                rep_id="r2",
                plan_id="field-sales",
            ),
            line("RepLeft", at="2026-11-15T18:00:00+08:00", rep_id="r2", reason="resigned"),
        )
        reports = Reports(team)
        head = team.head()
        assert head is not None
        now = reports.statement("m2", "2026-Q4")
        replay = reports.statement("m2", "2026-Q4", as_of=head.position)
        assert now["lines"] == replay["lines"]
        assert [x["amount"] for x in replay["lines"] if x["kind"] == "override"] == ["800.00"]

    def test_transfer_refusals_name_the_field(self, team: Ledger) -> None:
        move = line("RepTransferred", at="2026-11-01T00:00:00+08:00", rep_id="r1")
        assert _refused(team, {**move, "manager_id": "r1"})[0] == "manager_id"
        assert _refused(team, {**move, "manager_id": " R1"})[0] == "manager_id", "any spelling"
        assert _refused(team, move)[0] == "manager_id", "neither team nor manager"
        assert _refused(team, {**move, "rep_id": "r9", "team": "east"})[0] == "rep_id"
        early = {**move, "occurred_at": "2026-06-01T00:00:00+08:00"}
        assert _refused(team, {**early, "team": "east"})[0] == "occurred_at"

    def test_a_manager_need_not_be_a_rep_at_enrolment_or_at_a_transfer(self, team: Ledger) -> None:
        """A team lead paid by no plan here manages by their id: a rep enrolled
        under them can be moved away and back again."""
        _import(
            team,
            enrol("r3", manager_id="lead-zhao"),
            line("RepTransferred", at="2026-08-01T00:00:00+08:00", rep_id="r3", manager_id="m1"),
            line(
                "RepTransferred",
                at="2026-09-01T00:00:00+08:00",
                rep_id="r3",
                manager_id="lead-zhao",
            ),
        )
        assert Reports(team).rep("r3").manager_id == "lead-zhao"

    def test_nobody_is_enrolled_as_their_own_manager(self, team: Ledger) -> None:
        """Their own manager would score their KPIs and set their targets alone."""
        assert _refused(team, enrol("r4", manager_id="r4"))[0] == "manager_id"
        assert _refused(team, enrol("r4", manager_id="R4 "))[0] == "manager_id"

    def test_two_reps_managing_each_other_earn_no_override_on_their_own_sales(
        self, team: Ledger
    ) -> None:
        """m1 now reports to m2, who reports to m1: m1's second level (m2's
        reports) holds m1 itself, whose own sales are earnings, never an override."""
        _import(
            team,
            line("RepTransferred", at="2026-07-01T00:00:00+08:00", rep_id="m1", manager_id="m2"),
            sale("S9", "m1", "50000.00"),
        )
        q3 = Reports(team).statement("m1", "2026-Q3")
        overrides = [x for x in q3["lines"] if x["kind"] == "override"]
        credited = [s["values"] for x in overrides for s in x["explanation"]]
        assert all(v.get("rep_id") != "m1" for v in credited), credited


# -- an override on a plan without reports (issue 18, acceptance 3) ------------------

OVERRIDE_V2 = OVERRIDE_PLAN.replace("version = 1", "version = 2")


def _plan_line(toml: str, plan_id: str = "field-sales") -> dict[str, Any]:
    """A PlanPublished import line of ``toml`` under ``plan_id``."""
    text = toml.replace('id = "field-sales"', f'id = "{plan_id}"')
    return line("PlanPublished", actor="admin", plan=plan_document(load_plan(text, "toml")))


def _codes(result: Any) -> list[tuple[str, str | None]]:
    return [(w.code, w.field) for _, w in result.warnings]


def _org(ledger: Ledger, *lines: dict[str, Any]) -> None:
    """Plans field-sales and other; m on other, r1 on field-sales; then ``lines``."""
    _publish(ledger, plan_toml())
    _publish(ledger, plan_toml(), plan_id="other")
    _import(ledger, enrol("m", plan_id="other"), enrol("r1"), *lines)


class TestOverrideNeedsReports:
    """A version with ``[override]`` of a plan that reps follow at the head is
    refused, naming ``plan.override``, when none of them has a direct report
    there; when nobody follows the plan yet it is accepted with a warning."""

    def test_followers_without_reports_are_refused_naming_the_field(self, ledger: Ledger) -> None:
        _publish(ledger, plan_toml())
        _publish(ledger, plan_toml(), plan_id="other")
        _import(ledger, enrol("boss", plan_id="other"), enrol("r1"), enrol("r2", manager_id="boss"))
        field, reason = _refused(ledger, _plan_line(OVERRIDE_V2))
        assert field == "plan.override"
        assert "no rep following plan field-sales (r1, r2) has reports" in reason
        assert "an override pays a manager a share of their reports' sales" in reason
        assert [p.version for p in ledger.plan_versions("field-sales")] == [1]

    def test_one_follower_with_a_report_is_enough(self, ledger: Ledger) -> None:
        _publish(ledger, plan_toml())
        _import(ledger, enrol("r1"), enrol("r2", manager_id="r1"))
        result = ledger.import_lines(jsonl(_plan_line(OVERRIDE_V2)), actor="admin")
        assert (result.stored, result.warnings) == (1, [])

    def test_the_org_at_the_head_counts_not_the_enrolment(self, ledger: Ledger) -> None:
        """r2 reported to r1 when enrolled, then moved to m (on another plan):
        at the head r1 has no report; a transfer back (dated later) gives one."""
        _org(
            ledger,
            enrol("r2", manager_id="r1", plan_id="other"),
            line("RepTransferred", at="2026-08-01T00:00:00+08:00", rep_id="r2", manager_id="m"),
        )
        assert _refused(ledger, _plan_line(OVERRIDE_V2))[0] == "plan.override"
        back = line("RepTransferred", at="2026-09-01T00:00:00+08:00", rep_id="r2", manager_id="r1")
        _import(ledger, back)
        assert ledger.import_lines(jsonl(_plan_line(OVERRIDE_V2)), actor="admin").stored == 1

    def test_the_latest_transfer_by_its_date_counts_not_the_last_recorded(
        self, ledger: Ledger
    ) -> None:
        """r2 moved to m on 1 September (recorded first), and to r1 on 1 August
        (recorded later): at the head r2 reports to m, so r1 has no report."""
        _org(
            ledger,
            enrol("r2", plan_id="other"),
            line("RepTransferred", at="2026-09-01T00:00:00+08:00", rep_id="r2", manager_id="m"),
            line("RepTransferred", at="2026-08-01T00:00:00+08:00", rep_id="r2", manager_id="r1"),
        )
        assert _refused(ledger, _plan_line(OVERRIDE_V2))[0] == "plan.override"

    def test_a_report_who_left_is_no_report(self, ledger: Ledger) -> None:
        _publish(ledger, plan_toml())
        _import(
            ledger,
            enrol("r1"),
            enrol("r2", manager_id="r1"),
            line("RepLeft", at="2026-08-01T00:00:00+08:00", rep_id="r2", reason="resigned"),
        )
        assert _refused(ledger, _plan_line(OVERRIDE_V2))[0] == "plan.override"

    def test_reports_enrolled_earlier_in_the_same_write_count(self, ledger: Ledger) -> None:
        _publish(ledger, plan_toml())
        _import(ledger, enrol("r1"))
        both = ledger.import_lines(
            jsonl(enrol("r2", manager_id="r1"), _plan_line(OVERRIDE_V2)), actor="admin"
        )
        assert both.stored == 2

    def test_followers_enrolled_in_an_earlier_chunk_of_the_same_import_count(
        self, ledger: Ledger
    ) -> None:
        """A streamed import checks its chunks one after another in one transaction:
        the reps enrolled in an earlier chunk follow the plan when a later chunk
        publishes the override (refused, not let through with a warning)."""
        _publish(ledger, plan_toml())
        before = stored_count(ledger)
        lines = jsonl(enrol("r1"), enrol("r2"), _plan_line(OVERRIDE_V2))
        with pytest.raises(BatchRejectedError) as caught:
            ledger.import_lines(lines, actor="admin", chunk_size=1)
        (error,) = caught.value.errors
        assert (error.line, error.field) == (3, "plan.override")
        assert "no rep following plan field-sales (r1, r2) has reports" in error.reason
        assert stored_count(ledger) == before
        # and with a report enrolled in an earlier chunk, the override is accepted
        lines = jsonl(enrol("r1"), enrol("r2", manager_id="r1"), _plan_line(OVERRIDE_V2))
        result = ledger.import_lines(lines, actor="admin", chunk_size=1)
        assert (result.stored, result.warnings) == (3, [])

    def test_nobody_following_yet_is_accepted_with_a_warning(self, ledger: Ledger) -> None:
        """A new plan id (or one every follower left for another plan): who will
        follow it is not known, so it is accepted, and the answer says so."""
        result = ledger.import_lines(
            jsonl(_plan_line(OVERRIDE_PLAN, plan_id="managers")), actor="admin"
        )
        assert result.stored == 1
        assert _codes(result) == [("override_unfollowed", "plan.override")]
        _publish(ledger, plan_toml(), plan_id="other")
        _import(
            ledger,
            enrol("r1", plan_id="managers"),
            line("RepPlanAssigned", at="2026-08-01T00:00:00+08:00", rep_id="r1", plan_id="other"),
        )
        moved = ledger.import_lines(
            jsonl(_plan_line(OVERRIDE_V2, plan_id="managers")), actor="admin"
        )
        assert _codes(moved) == [("override_unfollowed", "plan.override")]
        (_, warning) = moved.warnings[0]
        assert render_warning(warning).startswith(
            "Plan managers v2 has an override, but no rep follows the plan yet"
        )
        assert render_warning(warning, "zh-CN").startswith("方案 managers 第 2 版设有管理提成")

    def test_an_override_with_no_rates_is_refused_naming_its_rates(self, ledger: Ledger) -> None:
        _publish(ledger, plan_toml())
        bad = _plan_line(OVERRIDE_V2)
        bad["plan"]["override"]["rates"] = []
        assert _refused(ledger, bad)[0] == "plan.override.rates"

    def test_plan_check_says_the_warning(self, ledger: Ledger) -> None:
        """r1 followed ``managers`` and moved to another plan: a what-if of a
        version with an override runs, and says nobody follows the plan."""
        _publish(ledger, plan_toml(), plan_id="managers")
        _publish(ledger, plan_toml(), plan_id="other")
        _import(
            ledger,
            enrol("r1", plan_id="managers"),
            line("RepPlanAssigned", at="2026-10-01T00:00:00+08:00", rep_id="r1", plan_id="other"),
        )
        candidate = load_plan(OVERRIDE_V2.replace('id = "field-sales"', 'id = "managers"'), "toml")
        result = Reports(ledger).whatif(candidate, ["2026-Q3"])
        assert [(w.code, w.field) for w in result.warnings] == [
            ("override_unfollowed", "plan.override")
        ]
        (worded,) = whatif_texts(result, "zh-CN")["warnings"]
        assert worded["text"].startswith("方案 managers 第 2 版设有管理提成")
        console = Console(record=True, width=200)
        print_whatif(console, result)
        assert "warning: Plan managers v2 has an override" in console.export_text()
