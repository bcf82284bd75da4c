"""The checks of "warn, don't guess" (`policies.pay_warnings`): a table of
inputs and what they say (issue 16)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from policies.calculate import calculate_period
from policies.facts import UnsplitSaleFact
from policies.pay_warnings import PlanTerms, category_warning, kpi_warning, splits_warning
from policies.plan import plan_document
from tests.unit.factories import PLAN, facts, sale, score, target

TERMS = PlanTerms.of(PLAN)


class TestChecks:
    @pytest.mark.parametrize(
        ("category", "warned"),
        [
            ("software", False),  # the plan's own
            ("hardware", False),  # no rate of its own: the default rate, as meant
            (None, False),
            ("Software", True),
            ("SOFTWARE", True),
            ("soft-ware", True),
            ("Soft_Ware", True),
            ("ｓｏｆｔｗａｒｅ", True),  # full-width: NFKC
            ("softwares", False),  # another word: no guess
        ],
    )
    def test_category_lookalikes(self, category: str | None, warned: bool) -> None:
        warning = category_warning(TERMS, category)
        assert (warning is not None) is warned
        if warning is not None:
            assert warning.values["plan_category"] == "software"
            assert (warning.values["plan_rate"], warning.values["default_rate"]) == (
                "0.0800",
                "0.0500",
            )

    def test_unknown_kpi(self) -> None:
        assert kpi_warning(TERMS, "sales_amount") is None
        warning = kpi_warning(TERMS, "nsp", ["e1"])
        assert warning is not None
        assert (warning.code, warning.field, warning.event_ids) == ("unknown_kpi", "kpi", ("e1",))

    def test_rep_not_in_splits(self) -> None:
        shares = [("r2", Decimal("0.6")), ("r3", Decimal("0.4"))]
        assert splits_warning("S1", "r2", shares) is None
        assert splits_warning("S1", "r1", []) is None
        warning = splits_warning("S1", "r1", shares)
        assert warning is not None
        assert warning.values["splits"] == "r2 0.6000, r3 0.4000"

    def test_terms_from_a_stored_document_equal_the_plans(self) -> None:
        assert PlanTerms.of_document(plan_document(PLAN)) == TERMS


class TestOnTheStatement:
    def test_grouped_by_kpi_and_category_in_the_order_of_their_first_event(self) -> None:
        first = sale("100", category="Software")
        nsp_target = target("5")
        nsp_target = type(nsp_target)(**{**nsp_target.__dict__, "kpi": "nsp"})
        nsp_score = score("nsp", "0.9")
        second = sale("200", category="Software")
        unsplit = UnsplitSaleFact("S9", "event-S9", 10**9, "r1", (("r2", Decimal(1)),))
        result = calculate_period(
            PLAN,
            facts(
                sales=(first, second),
                targets=(nsp_target,),
                kpi_scores=(nsp_score,),
                unsplit_sales=(unsplit,),
            ),
        )
        assert [(w.code, w.event_ids) for w in result.warnings] == [
            ("category_lookalike", (first.event_id, second.event_id)),
            ("unknown_kpi", (nsp_target.event_id, nsp_score.event_id)),
            ("rep_not_in_splits", ("event-S9",)),
        ]
        assert result.warnings[0].values["sales"] == "2"
        assert all(w.field is None for w in result.warnings)
