"""`LedgerFacts.fork`: a copy to fold never-recorded events into (a what-if's
plan version, an estimate's sale) that leaves the facts it was made from as
they were, derived indexes included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from demo import PLAN_TOML
from ledger.records import EventRecord
from policies.periods import parse_period
from policies.plan import load_plan, plan_document
from projections.facts import LedgerFacts

_PLAN = plan_document(load_plan(PLAN_TOML, "toml"))


def _record(position: int, type_: str, day: int, **data: Any) -> EventRecord:
    moment = datetime(2026, 7, day, 10, tzinfo=UTC)
    return EventRecord(
        position, f"e-{position}", type_, moment, moment.isoformat(), "t", data, "h", None
    )


def _sale(position: int, sale_id: str, amount: str) -> EventRecord:
    return _record(
        position,
        "SaleRecorded",
        position,
        sale_id=sale_id,
        rep_id="r1",
        amount=amount,
        currency="CNY",
    )


def _facts() -> LedgerFacts:
    return LedgerFacts.of(
        [
            _record(1, "PlanPublished", 1, plan=_PLAN),
            _record(2, "RepEnrolled", 1, rep_id="r1", name="R", plan_id="field-sales"),
            _sale(3, "S1", "100.00"),
            _sale(4, "S2", "200.00"),
        ]
    )


Q3 = parse_period("2026-Q3")


class TestFork:
    def test_a_sale_folded_into_the_fork_leaves_the_facts_as_they_were(self) -> None:
        facts = _facts()
        assert len(facts.sales_by_period("r1", "quarter")[Q3]) == 2  # the index is made
        fork = facts.fork()
        fork.apply(_sale(5, "S3", "300.00"))
        assert [s.sale_id for s in fork.sales_by_period("r1", "quarter")[Q3]] == ["S1", "S2", "S3"]
        assert [s.sale_id for s in facts.sales_by_period("r1", "quarter")[Q3]] == ["S1", "S2"]
        assert set(facts.sales) == {"S1", "S2"}
        assert len(facts.sales_by_rep["r1"]) == 2
        assert facts.position == 4
        assert fork.record("e-5") is not None
        assert facts.record("e-5") is None

    def test_a_plan_version_folded_into_the_fork_is_the_forks_only(self) -> None:
        facts = _facts()
        fork = facts.fork()
        fork.apply(_record(5, "PlanPublished", 2, plan={**_PLAN, "version": 2}))
        assert sorted(fork.plans["field-sales"]) == [1, 2]
        assert sorted(facts.plans["field-sales"]) == [1]
        assert ("field-sales", 2) not in facts.plan_events
        assert "e-5" not in facts.records
