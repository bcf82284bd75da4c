"""A rep's plans all pay by one kind of period (SPEC §2 ``RepPlanAssigned``, §5
"a rep's period is paid at most once"), on SQLite and PostgreSQL.

A move from a quarterly plan to a monthly one (or back) is refused at the edge,
naming ``plan_id`` and storing nothing: accepted, it left the months paid before
the move without a statement and let a quarterly run pay the same days again.
A store written before the refusal may hold such a move; a payout run then
treats a paid or open run of a month as holding its quarter, and a quarter's as
holding its months — in the plan of a run and in the rule that records it.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger import rules
from ledger.application import Ledger
from ledger.errors import BatchRejectedError
from policies.plan import load_plan
from projections import service
from projections.service import Reports
from tests.builders import PLAN_TOML, enrol, jsonl, line, sale, stored_count
from tests.payout_scenes import approve, run_id_of

MONTHLY = PLAN_TOML.replace('id = "field-sales"', 'id = "monthly"').replace(
    'period = "quarter"', 'period = "month"'
)
QUARTERLY_TOO = PLAN_TOML.replace('id = "field-sales"', 'id = "field-sales-2"')


Q3_START = "2026-07-01T00:00:00+08:00"


def _assign(plan_id: str, at: str = Q3_START) -> dict[str, Any]:
    return line("RepPlanAssigned", at=at, actor="hr-sync", rep_id="r1", plan_id=plan_id)


@pytest.fixture
def plans(ledger: Ledger) -> Ledger:
    for toml in (PLAN_TOML, MONTHLY, QUARTERLY_TOO):
        ledger.publish_plan(load_plan(toml, "toml"), actor="admin")
    return ledger


class TestRefusedAtTheEdge:
    @pytest.mark.parametrize(
        ("enrolled", "moved"), [("field-sales", "monthly"), ("monthly", "field-sales")]
    )
    def test_a_move_to_the_other_kind_of_period_is_refused_naming_the_plan(
        self, plans: Ledger, enrolled: str, moved: str
    ) -> None:
        plans.import_lines(jsonl(enrol("r1", plan_id=enrolled)), actor="hr-sync")
        before = stored_count(plans)
        with pytest.raises(BatchRejectedError) as refused:
            plans.import_lines(jsonl(_assign(moved)), actor="hr-sync")
        (error,) = refused.value.errors
        assert error.field == "plan_id"
        assert "a rep's plans all pay by one kind of period" in error.reason
        assert f"plan {moved} pays by" in error.reason
        assert stored_count(plans) == before

    def test_a_move_to_a_plan_of_the_same_kind_is_recorded(self, plans: Ledger) -> None:
        plans.import_lines(jsonl(enrol("r1"), _assign("field-sales-2")), actor="hr-sync")
        assert Reports(plans).statement("r1", "2026-Q3")["rep_id"] == "r1"

    def test_an_unknown_plan_is_still_named(self, plans: Ledger) -> None:
        plans.import_lines(jsonl(enrol("r1")), actor="hr-sync")
        with pytest.raises(BatchRejectedError) as refused:
            plans.import_lines(jsonl(_assign("nowhere")), actor="hr-sync")
        (error,) = refused.value.errors
        assert (error.field, error.reason) == ("plan_id", "unknown plan 'nowhere'")


@pytest.fixture
def moved_after_pay(plans: Ledger, monkeypatch: pytest.MonkeyPatch) -> Reports:
    """r1 on the monthly plan from 1 July, July paid; then (as a store written
    before the refusal could) moved to the quarterly plan from that moment."""
    plans.import_lines(
        jsonl(
            enrol("r1", plan_id="monthly", at=Q3_START),
            sale("S-JUL", "r1", at="2026-07-14T10:00:00+08:00"),
            sale("S-AUG", "r1", at="2026-08-14T10:00:00+08:00"),
        ),
        actor="crm",
    )
    reports = Reports(plans)
    july = run_id_of(reports, "2026-07")
    approve(plans, july)
    plans.pay_run(july, actor="fin-bob")
    with monkeypatch.context() as legacy:
        legacy.setattr(rules, "_check_same_period_kind", lambda *_: None)
        plans.import_lines(jsonl(_assign("field-sales")), actor="hr-sync")
    return reports


class TestAStoreThatHoldsAMove:
    def test_a_quarterly_run_does_not_cover_a_rep_whose_month_is_paid(
        self, moved_after_pay: Reports
    ) -> None:
        with pytest.raises(Exception, match="a run that would cover nobody is refused"):
            run_id_of(moved_after_pay, "2026-Q3")

    def test_the_rule_refuses_it_when_the_plan_missed_it(
        self, moved_after_pay: Reports, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Under the writer lock too: the run's rule reads the claims of the
        quarter's months."""
        monkeypatch.setattr(service, "_held_reps", lambda *_: set())
        ledger = moved_after_pay.ledger
        before = stored_count(ledger)
        with pytest.raises(BatchRejectedError) as refused:
            run_id_of(moved_after_pay, "2026-Q3")
        (error,) = refused.value.errors
        assert error.field == "statements[0].rep_id"
        assert "rep r1's 2026-07 was paid by payout run" in error.reason
        assert stored_count(ledger) == before

    def test_a_month_run_does_not_cover_a_rep_whose_quarter_is_open(
        self, plans: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        plans.import_lines(jsonl(enrol("r1", at=Q3_START), sale("S-JUL", "r1")), actor="crm")
        reports = Reports(plans)
        run_id_of(reports, "2026-Q3")  # calculated, open
        with monkeypatch.context() as legacy:
            legacy.setattr(rules, "_check_same_period_kind", lambda *_: None)
            plans.import_lines(jsonl(_assign("monthly")), actor="hr-sync")
        monkeypatch.setattr(service, "_held_reps", lambda *_: set())
        with pytest.raises(BatchRejectedError) as refused:
            run_id_of(reports, "2026-09")
        (error,) = refused.value.errors
        assert "rep r1's 2026-Q3 is in payout run" in error.reason
