"""Exact ratios (SPEC §3): attainment and the score are exact quotients, tiers
compare the exact value, and statements show ratios to 4 places.

The issue's case: target 7,000, credited 8,500, weights 0.7 / 0.3, satisfaction
0.5. On paper 8500/7000 × 0.7 + 0.5 × 0.3 = 0.85 + 0.15 = 1 exactly, the tier
from 1.0 (coefficient 1.5). A 28-digit Decimal division made the score
0.9999999999999999999999999998 and paid coefficient 1.2: 4,000 instead of 5,000.
"""

from __future__ import annotations

from decimal import Context, Decimal, Inexact, localcontext
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from policies.calculate import calculate_period
from policies.explanation import Step, ratio
from policies.plan import Plan
from policies.rounding import CALC, ratio_text
from policies.tiers import tier_for
from policies.wording import render_step
from tests.unit.factories import PLAN, facts, sale, score, target
from tests.unit.shapes import ACCELERATOR, shaped, tiers


def _plan(
    weights: list[tuple[str, str]],
    tiers: list[tuple[str, str]],
    *,
    target_bonus: str = "10000",
    cap: str = "100",
) -> Plan:
    document = PLAN.model_dump(mode="json", by_alias=True)
    document["bonus"] = {
        "target_bonus": target_bonus,
        "cap": cap,
        "kpis": [{"kpi": k, "weight": w} for k, w in weights],
        "tiers": [{"from": f, "coefficient": c} for f, c in tiers],
    }
    return Plan.model_validate(document)


SPEC_TIERS = [("0.0", "0.0"), ("0.8", "1.2"), ("1.0", "1.5"), ("1.2", "1.8")]
ISSUE_PLAN = _plan(
    [("sales_amount", "0.7"), ("customer_satisfaction", "0.3")],
    SPEC_TIERS,
    target_bonus="3333.33",
    cap="2.0",
)


class TestTheIssuesCase:
    def test_score_one_on_paper_is_one_and_pays_the_tier_from_one(self) -> None:
        """8500/7000 × 0.7 + 0.5 × 0.3 = 1 → coefficient 1.5: 1.5 × 3333.33 =
        4999.995 → 5000.00 (the 28-digit division paid 1.2 × 3333.33 = 4000.00)."""
        result = calculate_period(
            ISSUE_PLAN,
            facts(
                sales=(sale("8500", category="hardware"),),
                targets=(target("7000", tid="T-7000"),),
                kpi_scores=(score("customer_satisfaction", "0.5"),),
            ),
        )
        assert result.attainment == Fraction(17, 14)
        assert result.score == 1
        assert result.tier_coefficient == Decimal("1.5")
        (bonus,) = [x for x in result.lines if x.kind == "bonus"]
        assert bonus.amount == Decimal("5000.00")
        assert [(s.code, dict(s.values)) for s in bonus.steps] == [
            (
                "attainment",
                {
                    "kpi": "sales_amount",
                    "credited": "8500",
                    "target": "7000",
                    "target_id": "T-7000",
                    "attainment": "1.2143",
                    "weight": "0.7000",
                },
            ),
            (
                "kpi_score",
                {"kpi": "customer_satisfaction", "score": "0.5000", "weight": "0.3000"},
            ),
            ("weighted_score", {"score": "1.0000"}),
            (
                "tier_selected",
                {
                    "score": "1.0000",
                    "tier_from": "1.0000",
                    "coefficient": "1.5000",
                    "target_bonus": "3333.33",
                    "amount": "5000.00",
                    "plan_id": "field-sales",
                    "plan_version": "1",
                },
            ),
            ("rounded", {"unrounded": "4999.995", "amount": "5000.00"}),
        ]
        assert [render_step(s) for s in bonus.steps[:4]] == [
            (
                "sales_amount: credited 8500.00 ÷ target 7000.00 (T-7000) = attainment 1.2143, "
                "weight 0.7000"
            ),
            "customer_satisfaction: score 0.5000, weight 0.3000",
            "Weighted score: 1.0000",
            (
                "Score 1.0000 reaches the tier from 1.0000: coefficient 1.5000 × target bonus "
                "3333.33 = 5000.00 (plan field-sales v1)"
            ),
        ]

    def test_whatever_the_callers_decimal_context(self) -> None:
        """The calculation keeps its own exact context: a caller's 3-digit global
        context changes nothing."""
        base = facts(
            sales=(sale("8500"),),
            targets=(target("7000"),),
            kpi_scores=(score("customer_satisfaction", "0.5"),),
        )
        expected = calculate_period(ISSUE_PLAN, base)
        with localcontext(Context(prec=3)):
            shrunk = calculate_period(ISSUE_PLAN, base)
        assert shrunk == expected


class TestNoRoundingByConstruction:
    def test_the_calculation_context_refuses_an_inexact_division(self) -> None:
        """What made 0.99…98: in the policies' context a division that would round
        raises instead of rounding."""
        with pytest.raises(Inexact):
            CALC.divide(Decimal(8500), Decimal(7000))
        assert CALC.divide(Decimal(8500), Decimal(8000)) == Decimal("1.0625")  # exact: fine

    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (Fraction(17, 14), "1.2143"),
            (Fraction(1), "1.0000"),
            (Decimal("1.05"), "1.0500"),
            (Fraction(2, 3), "0.6667"),
            (Fraction(1, 20000), "0.0001"),  # 0.00005: half up
            (Fraction(1, 20001), "0.0000"),
            (Decimal("0.99995"), "1.0000"),
            (Decimal("-0.00005"), "-0.0001"),
            (Fraction(0), "0.0000"),
            (Decimal("123456789.123456"), "123456789.1235"),
        ],
    )
    def test_ratio_text_is_half_up_to_four_places(self, value: Fraction, text: str) -> None:
        assert ratio_text(value) == text


# -- the exact-boundary property (issue 16, acceptance 4) ---------------------

_OTHER_KPIS = ("customer_satisfaction", "market_feedback")


@st.composite
def _ladders(draw: st.DrawFn) -> list[tuple[str, str]]:
    """A tier ladder from 0, strictly ascending, bounds with up to 4 places."""
    steps = draw(st.lists(st.integers(1, 8_000), min_size=1, max_size=5))
    bounds, at = [Decimal(0)], 0
    for gap in steps:
        at += gap
        bounds.append(Decimal(at).scaleb(-4))
    coefficients = sorted(draw(st.integers(0, 300)) for _ in bounds)
    return [(str(b), str(Decimal(c).scaleb(-2))) for b, c in zip(bounds, coefficients, strict=True)]


@st.composite
def _weights(draw: st.DrawFn) -> list[tuple[str, Decimal]]:
    """Weights of sales_amount and up to two other KPIs, each > 0, summing to 1,
    with up to 4 places (0.7, 0.1234, ...): most make attainment a quotient that
    no decimal expansion ends (a multiple of 1/7, 1/3, ...)."""
    others = draw(st.integers(0, 2))
    cuts = sorted(
        draw(st.lists(st.integers(1, 9_999), min_size=others, max_size=others, unique=True))
    )
    edges = [0, *cuts, 10_000]
    parts = [Decimal(b - a).scaleb(-4) for a, b in pairwise(edges)]
    return [("sales_amount", parts[0]), *zip(_OTHER_KPIS, parts[1:], strict=False)]


def _just_below(credited: str, others: str) -> tuple[Fraction | None, list[Step]]:
    """The seed plan's score and bonus steps for ``credited`` of a 20,000
    target, with both other KPIs scored ``others``."""
    result = calculate_period(
        PLAN,
        facts(
            sales=(sale(credited),),
            targets=(target("20000"),),
            kpi_scores=(
                score("customer_satisfaction", others),
                score("market_feedback", others),
            ),
        ),
    )
    (bonus,) = [x for x in result.lines if x.kind == "bonus"]
    return result.score, list(bonus.steps)


def _reads(step: Step, english: str, chinese: str) -> None:
    """``step`` in its words, English and Chinese."""
    assert render_step(step) == english
    assert render_step(step, "zh-CN") == chinese


class TestJustBelowATier:
    def test_a_score_shown_as_the_next_tier_s_bound_says_it_is_below_it(self) -> None:
        """19,999 of a 20,000 target and both other KPIs at 0.99995: the score is
        0.99995, shown to 4 places as 1.0000, and pays the tier from 0.8 —
        "Score 1.0000 reaches the tier from 0.8000" read as a tier skipped.
        A step says the score is below the next tier, to as many places as
        it takes to read so."""
        found, steps = _just_below("19999", "0.99995")
        assert found == Fraction(99995, 100000)
        (below,) = [s for s in steps if s.code == "tier_next_not_reached"]
        assert dict(below.values) == {
            "score_shown": "0.99995",
            "tier_from_shown": "1.00000",
            "coefficient": "1.5000",
        }
        _reads(
            below,
            "Score 0.99995 is below the next tier, from 1.00000 (coefficient 1.5000): "
            "tiers compare the exact score, not the 4 places it is shown with",
            "得分 0.99995 低于下一档（自 1.00000 起，系数 1.5000）：档位按精确得分比较，"
            "而非显示的四位小数",
        )

    def test_a_score_that_reads_below_the_next_tier_needs_no_such_step(self) -> None:
        """0.9999 reads below 1.0000: the tier step says enough."""
        found, steps = _just_below("19998", "0.9999")
        assert found == Fraction(9999, 10000)
        assert "tier_next_not_reached" not in [s.code for s in steps]


class TestJustBelowABand:
    @pytest.mark.parametrize("method", ["retroactive", "marginal"])
    def test_an_attainment_shown_as_the_next_band_s_bound_says_it_is_below_it(
        self, method: str
    ) -> None:
        """19,999 of 20,000 is 0.99995, shown as 1.0000: "the period reached
        the band from 0.0000 (attainment 1.0000)" read as the accelerator
        from 1.0 skipped. A step says the attainment is below the next band."""
        plan = shaped(tail=tiers("attainment", method, ACCELERATOR))
        result = calculate_period(plan, facts(sales=(sale("19999"),), targets=(target("20000"),)))
        (commission,) = [x for x in result.lines if x.kind == "commission"]
        (below,) = [s for s in commission.steps if s.code == "band_next_not_reached"]
        assert dict(below.values) == {
            "attainment_shown": "0.99995",
            "band_from_shown": "1.00000",
        }
        _reads(
            below,
            "Attainment 0.99995 is below the next band, from 1.00000: bands compare the "
            "exact attainment, not the 4 places it is shown with",
            "达成率 0.99995 低于下一区间（自 1.00000 起）：区间按精确达成率比较，而非显示的四位小数",
        )

    def test_an_attainment_that_reads_below_the_next_band_needs_no_such_step(self) -> None:
        plan = shaped(tail=tiers("attainment", "retroactive", ACCELERATOR))
        result = calculate_period(plan, facts(sales=(sale("19998"),), targets=(target("20000"),)))
        (commission,) = [x for x in result.lines if x.kind == "commission"]
        assert "band_next_not_reached" not in [s.code for s in commission.steps]


class TestExactBoundaries:
    @settings(max_examples=400, deadline=None)
    @given(
        ladder=_ladders(),
        weights=_weights(),
        data=st.data(),
    )
    def test_a_score_exactly_at_a_tier_bound_selects_that_tier(
        self, ladder: list[tuple[str, str]], weights: list[tuple[str, Decimal]], data: st.DataObject
    ) -> None:
        """For every tier's ``from``: with targets, weights and KPI scores built so
        that the score is exactly that bound, the tier selected is that tier.

        The credited total and the target are money (2 places) whose quotient is
        the attainment that makes the score land on the bound; a quotient
        rounded to 28 digits lands just below it, in the tier under it.
        """
        plan = _plan([(k, str(w)) for k, w in weights], ladder)
        sales_weight = weights[0][1]
        checked: list[int] = []
        for index, (bound_text, coefficient) in enumerate(ladder):
            bound = Fraction(Decimal(bound_text))
            scores = {
                kpi: Decimal(data.draw(st.integers(0, 10_000), label=kpi)).scaleb(-4)
                for kpi, _ in weights[1:]
            }
            rest = sum((Fraction(w) * Fraction(scores[k]) for k, w in weights[1:]), Fraction(0))
            attainment = (bound - rest) / Fraction(sales_weight)
            if attainment < 0:
                continue  # the other KPIs alone score above this bound
            scale = data.draw(st.integers(1, 50), label="scale")
            credited_cents = attainment.numerator * scale
            target_cents = attainment.denominator * scale
            if max(credited_cents, target_cents) >= 10**14:
                continue
            checked.append(index)
            credited = Decimal(credited_cents).scaleb(-2)
            period_facts = facts(
                sales=(sale(str(credited)),) if credited else (),
                targets=(target(str(Decimal(target_cents).scaleb(-2))),),
                kpi_scores=tuple(score(k, str(v)) for k, v in scores.items()),
            )
            result = calculate_period(plan, period_facts)
            assert result.score == bound, (bound_text, result.score)
            assert result.tier_coefficient == Decimal(coefficient), (index, ladder)
            assert tier_for(plan.bonus.tiers, bound) is plan.bonus.tiers[index]
        assume(checked)


class TestExactBandBoundaries:
    @settings(max_examples=300, deadline=None)
    @given(
        froms=st.lists(st.integers(1, 30_000), min_size=1, max_size=4, unique=True),
        hundreds=st.integers(1, 100_000),
        method=st.sampled_from(["retroactive", "marginal"]),
    )
    def test_credited_exactly_at_a_band_from_selects_that_band(
        self, froms: list[int], hundreds: int, method: str
    ) -> None:
        """For every commission band's ``from`` (attainment, up to 4 decimals):
        credited exactly ``from`` × the target reaches that band, a cent less
        the band under it — with either method, whatever the target (marginal
        pays the cents above the bound at the band: at the bound there are none).

        The bound is ``from`` × target in money (exact), never a quotient
        rounded to 28 digits, which can land a hair under ``from``."""
        bounds = [Decimal(0), *(Decimal(f).scaleb(-4) for f in sorted(froms))]
        rates = [Decimal(i + 1).scaleb(-2) for i in range(len(bounds))]
        bands = ", ".join(f"{{from = {b}, rate = {r}}}" for b, r in zip(bounds, rates, strict=True))
        plan = shaped(tail=tiers("attainment", method, bands))
        quota = Decimal(hundreds * 100)  # whole hundreds: from × quota is in cents
        for index in range(1, len(bounds)):
            at = bounds[index] * quota
            for credited, reached in ((at, index), (at - Decimal("0.01"), index - 1)):
                result = calculate_period(
                    plan, facts(sales=(sale(str(credited)),), targets=(target(str(quota)),))
                )
                (line,) = [x for x in result.lines if x.kind == "commission"]
                (step,) = [dict(s.values) for s in line.steps if s.code == "tiers_reached"]
                assert step["band_from"] == ratio(bounds[reached]), (credited, quota, bounds)
                if method == "retroactive":  # all of it at the band reached
                    part = next(dict(s.values) for s in line.steps if s.code == "sale_band")
                    assert Decimal(part["rate"]) == rates[reached]
