"""SPEC §3.1 pay on collection across currencies, as the fold places a rate:
a rate recorded late reaches back to the booking period of a sale whose
payment at or after it is released into a period paid in its quote currency
(`LedgerFacts.affects_since`), and finds those reps without reading every
paid rep's plans — a rebuild folds a rate a day for each pair."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from demo import PLAN_TOML
from ledger.records import EventRecord
from policies.plan import load_plan, plan_document
from projections.facts import LedgerFacts

_CNY = plan_document(load_plan(PLAN_TOML, "toml"))
_COLLECTION = {**_CNY, "commission": {**_CNY["commission"], "basis": "collection"}}
_USD = {**_CNY, "id": "usd-sales", "currency": "USD"}


def _record(position: int, type_: str, moment: datetime, **data: Any) -> EventRecord:
    return EventRecord(
        position, f"e-{position}", type_, moment, moment.isoformat(), "t", data, "h", None
    )


class _Read(defaultdict[str, list[EventRecord]]):
    """``payments_by_rep``, noting whose payments are read."""

    def __init__(self, *args: Any) -> None:
        super().__init__(list, *args)
        self.read: set[str] = set()

    def items(self) -> Any:
        self.read.update(self.keys())
        return super().items()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> list[EventRecord]:
        self.read.add(key)
        return super().__getitem__(key)


def _facts(reps: int) -> LedgerFacts:
    """``reps`` reps on a CNY plan paying on collection, each with a sale in
    July paid in October; and ``mover``, the same, moved to a USD plan from
    October (a store written before the rule refusing it)."""
    july, october = datetime(2026, 7, 5, tzinfo=UTC), datetime(2026, 10, 10, tzinfo=UTC)
    events: list[tuple[str, datetime, dict[str, Any]]] = [
        ("PlanPublished", july, {"plan": _COLLECTION}),
        ("PlanPublished", july, {"plan": _USD}),
    ]
    for rep in [f"r{n}" for n in range(reps)] + ["mover"]:
        events += [
            ("RepEnrolled", july, {"rep_id": rep, "name": rep, "plan_id": "field-sales"}),
            (
                "SaleRecorded",
                july,
                {"sale_id": f"S-{rep}", "rep_id": rep, "amount": "1000.00", "currency": "CNY"},
            ),
            (
                "PaymentReceived",
                october,
                {"payment_id": f"P-{rep}", "sale_id": f"S-{rep}", "amount": "1000.00"},
            ),
        ]
    moved = datetime(2026, 10, 1, tzinfo=UTC)
    events.append(("RepPlanAssigned", moved, {"rep_id": "mover", "plan_id": "usd-sales"}))
    return LedgerFacts.of(
        _record(n, type_, at, **data) for n, (type_, at, data) in enumerate(events, 1)
    )


def _rate(facts: LedgerFacts) -> EventRecord:
    """CNY → USD from 1 October, recorded after everything in ``facts``."""
    moment = datetime(2026, 10, 1, tzinfo=UTC)
    return _record(facts.position + 1, "FxRateSet", moment, base="CNY", quote="USD", rate="0.14")


class TestARateRecordedLate:
    def test_reaches_back_to_the_booking_period_of_a_payment_it_converts(self) -> None:
        """The rate of 1 October converts mover's October payment of a July
        sale: the July booking period's ``unreleased`` changes with it."""
        facts = _facts(3)
        rate = _rate(facts)
        touched = facts.apply(rate)
        assert touched == {"r0", "r1", "r2", "mover"}  # every CNY sale's rep, as before
        assert facts.affects_since(rate) == date(2026, 7, 5)

    def test_reads_the_payments_of_only_the_reps_who_followed_both_plans(self) -> None:
        """Twenty reps paid on collection in CNY and one who moved to the USD
        plan: placing the rate reads mover's payments, not every paid rep's
        (it looked at each rep's plans, twice a rate)."""
        facts = _facts(20)
        facts.payments_by_rep = read = _Read(facts.payments_by_rep)
        rate = _rate(facts)
        facts.apply(rate)
        assert facts.affects_since(rate) == date(2026, 7, 5)
        assert read.read == {"mover"}
