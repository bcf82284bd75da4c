"""Properties of the pure calculation (hypothesis): determinism, totals, payable,
monotone commission, and the period and plan round-trips."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.calculate import calculate_period
from policies.commission import sale_commission_step
from policies.explanation import money, ratio, step
from policies.periods import Period, parse_period
from policies.plan import Plan, plan_document
from policies.rounding import money_text, number_text
from tests.unit.factories import (
    APPROVED,
    PENDING,
    PLAN,
    adjustment,
    case,
    drawn_scores,
    facts,
    sale,
    target,
)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1_000_000), places=2)
shares = st.sampled_from(["1", "0.5", "0.25", "0.3333", "0.1"])


@st.composite
def period_facts(draw: st.DrawFn) -> object:
    sales = tuple(
        sale(
            str(draw(amounts)),
            share=draw(shares),
            category=draw(st.sampled_from(["software", "hardware", None])),
            day=draw(st.integers(0, 85)),
            cancelled_after_days=draw(st.sampled_from([None, None, 10, 90, 91])),
        )
        for _ in range(draw(st.integers(0, 8)))
    )
    targets = (target(str(draw(st.integers(1, 500)) * 1000)),) if draw(st.booleans()) else ()
    scores = drawn_scores(draw)
    cases = tuple(
        case(
            draw(st.sampled_from(["minor", "red_line"])),
            day=draw(st.integers(0, 80)),
            amount=str(draw(st.integers(1, 9999))) + ".00",
            decision=draw(st.sampled_from([APPROVED, PENDING])),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    adjustments = tuple(
        adjustment(
            str(draw(st.integers(-5000, 5000)) or 1) + ".00",
            draw(st.sampled_from([APPROVED, PENDING])),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    return facts(
        sales=sales, targets=targets, kpi_scores=scores, cases=cases, adjustments=adjustments
    )


def _bytes(result: object) -> bytes:
    lines = [line.to_dict() for line in result.lines]  # type: ignore[attr-defined]
    return orjson.dumps(
        {"lines": lines, "total": str(result.total), "payable": str(result.payable)}, default=str
    )  # type: ignore[attr-defined]


class TestCalculation:
    @settings(max_examples=200, deadline=None)
    @given(period_facts())
    def test_is_deterministic_and_adds_up(self, f: object) -> None:
        """Same facts → byte-identical lines; total = Σ rounded lines; payable ≥ 0."""
        first = calculate_period(PLAN, f)  # type: ignore[arg-type]
        second = calculate_period(PLAN, f)  # type: ignore[arg-type]
        assert _bytes(first) == _bytes(second)
        assert first.total == sum((x.amount for x in first.lines), Decimal(0))
        assert all(x.amount == x.amount.quantize(Decimal("0.01")) for x in first.lines)
        assert first.payable == max(first.total, Decimal(0))
        assert first.carry_out == min(first.total, Decimal(0))
        assert all(x.steps for x in first.lines)

    @settings(max_examples=200, deadline=None)
    @given(amounts, amounts)
    def test_commission_is_monotone_in_the_sale_amount(self, a: Decimal, b: Decimal) -> None:
        low, high = sorted((a, b))
        commission = [
            next(
                x.amount
                for x in calculate_period(PLAN, facts(sales=(sale(str(v)),))).lines
                if x.kind == "commission"
            )
            for v in (low, high)
        ]
        assert commission[0] <= commission[1]


class TestSaleCommissionStep:
    @settings(max_examples=300, deadline=None)
    @given(
        amounts,
        st.sampled_from(["1", "0.5", "0.25", "0.3333", "1.0", "0.50"]),
        st.sampled_from(["0.05", "0.08", "0.1", "0.050", "1"]),
        st.sampled_from(["software", "hardware", None]),
        st.sampled_from(["category", "default"]),
    )
    def test_is_the_generic_step_spelled_out(
        self, amount: Decimal, share: str, rate: str, category: str | None, source: str
    ) -> None:
        """The per-sale fast path makes exactly the step `step` makes of the same values."""
        fact = sale(str(amount), share=share, category=category)
        credit = fact.amount * fact.share
        commission = credit * Decimal(rate)
        generic = step(
            "sale_commission",
            (fact.event_id,),
            sale_id=fact.sale_id,
            amount=money(fact.amount),
            share=ratio(fact.share),
            credited=credit,
            category=fact.category or "(none)",
            rate=ratio(Decimal(rate)),
            rate_source=source,
            commission=commission,
        )
        fast = sale_commission_step(fact, credit, Decimal(rate), source, commission)
        assert fast == generic
        assert orjson.dumps(fast.to_dict(), option=orjson.OPT_SORT_KEYS) == orjson.dumps(
            generic.to_dict(), option=orjson.OPT_SORT_KEYS
        )


class TestRoundTrips:
    @given(st.sampled_from(["month", "quarter"]), st.integers(1, 9998), st.integers(1, 12))
    def test_period_text_round_trips(self, kind: str, year: int, index: int) -> None:
        if kind == "quarter":
            index = (index - 1) % 4 + 1
        period = Period(kind, year, index)  # type: ignore[arg-type]
        if 2000 <= year <= 2199:  # SPEC §2 bounds: parsed at the edge only within them
            assert parse_period(str(period)) == period
        else:
            with pytest.raises(ValueError, match="2000-2199"):
                parse_period(str(period))
        assert period.next().previous() == period
        assert period.contains(period.first_day)
        assert period.contains(period.last_day)
        assert not period.contains(period.next().first_day)

    def test_plan_document_round_trips(self) -> None:
        assert Plan.model_validate(plan_document(PLAN)) == PLAN
        assert orjson.dumps(plan_document(PLAN)) == orjson.dumps(
            plan_document(Plan.model_validate(plan_document(PLAN)))
        )


@given(
    st.decimals(
        min_value=Decimal("-1e15"), max_value=Decimal("1e15"), allow_nan=False, places=None
    ).filter(lambda d: len(d.as_tuple().digits) <= 28)
)
def test_number_text_is_plain_exact_and_minimal(value: Decimal) -> None:
    """Step values (SPEC §5) are decimal text: no exponent, no trailing zeros, the
    same number."""
    text = number_text(value)
    assert "e" not in text.lower()
    assert Decimal(text) == value
    if "." in text:
        assert not text.endswith("0")
        assert not text.endswith(".")
    elif value == value.to_integral_value():
        assert text.lstrip("-") == str(abs(int(value)))


@given(st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), allow_nan=False))
def test_money_text_is_the_rounded_amount_with_two_decimals(value: Decimal) -> None:
    """Money in a step: rounded half-up to the cent, plain text, two decimals."""
    text = money_text(value)
    assert text == format(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), "f")
    assert "e" not in text.lower()
    assert text.split(".")[1].isdigit()
    assert len(text.split(".")[1]) == 2
