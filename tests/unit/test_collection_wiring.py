"""SPEC §3.1 pay on collection, as `calculate_period` pays it: what a booking
period earned per sale (`earned_by_sale`, after tiers, caps and the gate), the
release lines of a period's payments and the booking period's ``unreleased``,
golden and as a property (the releases of a fully paid sale add up to what it
earned)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.calculate import calculate_period, earned_by_sale
from policies.collection import PaymentFact
from policies.facts import ReleaseFact
from policies.rounding import CALC, round_money, scaled
from tests.unit.factories import at, facts, sale, target
from tests.unit.shapes import shaped, spiff, tiers

COLLECTION = 'basis = "collection"\n'


def _payment(pid: str, sale_id: str, amount: str, day: float = 20) -> PaymentFact:
    return PaymentFact(pid, sale_id, Decimal(amount), at(day), 1000 + int(day), f"event-{pid}")


class TestEarnedBySale:
    def test_base_rates_per_sale(self) -> None:
        plan = shaped(commission=COLLECTION)
        sold = (sale("10000", sale_id="S1"), sale("5000", sale_id="S2", category="software"))
        assert earned_by_sale(plan, facts(sales=sold)) == {
            "S1": (Decimal("500.00"), Decimal(0)),
            "S2": (Decimal("400.00"), Decimal(0)),
        }

    def test_the_period_cap_is_shared_out_by_sale(self) -> None:
        """Commission 500 + 1,500 = 2,000, period cap 1,000: each sale keeps half."""
        plan = shaped(commission=COLLECTION + "period_cap = 1000\n", default_rate="0.10")
        sold = (sale("5000", sale_id="S1"), sale("15000", sale_id="S2"))
        earned = earned_by_sale(plan, facts(sales=sold))
        assert earned["S1"][0] == Decimal(250)
        assert earned["S2"][0] == Decimal(750)

    def test_a_sale_clawed_back_earned_nothing(self) -> None:
        plan = shaped(commission=COLLECTION)
        sold = (sale("10000", sale_id="S1", cancelled_after_days=10),)
        assert earned_by_sale(plan, facts(sales=sold)) == {}

    def test_tiers_decide_in_the_booking_period(self) -> None:
        """Quota 10,000 at 10 %, ×1.5 above: 12,000 earns 1,000 + 300."""
        plan = shaped(
            commission=COLLECTION,
            default_rate="0.10",
            tail=tiers(
                "attainment", "marginal", "{from = 0, multiplier = 1}, {from = 1, multiplier = 1.5}"
            ),
        )
        sold = (sale("12000", sale_id="S1"),)
        earned = earned_by_sale(plan, facts(sales=sold, targets=(target("10000"),)))
        assert earned == {"S1": (Decimal(1300), Decimal(0))}


class TestReleases:
    def test_a_period_pays_what_its_payments_release(self) -> None:
        plan = shaped(commission=COLLECTION)
        release = ReleaseFact(
            _payment("P1", "S0", "2500.00"), Decimal(10000), Decimal(500), Decimal(0)
        )
        result = calculate_period(plan, facts(releases=(release,)))
        (commission,) = [x for x in result.lines if x.kind == "commission"]
        assert commission.amount == Decimal("125.00")
        assert [s.code for s in commission.steps] == ["payment_released", "collection_total"]
        assert commission.event_ids[0] == "event-P1"
        assert result.unreleased == Decimal("0.00"), "the period booked nothing"

    def test_the_booking_period_shows_what_is_unreleased(self) -> None:
        plan = shaped(commission=COLLECTION)
        sold = (sale("10000", sale_id="S1"),)
        paid = ReleaseFact(
            _payment("P1", "S1", "4000.00"), Decimal(10000), Decimal(500), Decimal(0)
        )
        result = calculate_period(plan, facts(sales=sold, booked_releases=(paid,)))
        assert result.unreleased == Decimal("300.00")
        (commission,) = [x for x in result.lines if x.kind == "commission"]
        assert commission.amount == Decimal("0.00"), "released only when paid"


# A sale's amount, how its payments split it (weights) and what it earned.
_PAID_IN_PARTS = (
    st.decimals(min_value=Decimal("0.03"), max_value=Decimal(1_000_000), places=2),
    st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=6),
    st.decimals(min_value=Decimal(0), max_value=Decimal(100_000), places=4),
)


def _paid_in_parts(amount: Decimal, weights: list[int], earned: Decimal) -> tuple[ReleaseFact, ...]:
    """A sale of ``amount`` that earned ``earned``, paid in parts of its amount
    in proportion to ``weights`` (to the cent, the last what is left), in
    order; none when a part would not be positive."""
    total = sum(weights)
    parts = [(amount * w / total).quantize(Decimal("0.01")) for w in weights[:-1]]
    parts.append(amount - sum(parts, Decimal(0)))
    if any(p <= 0 for p in parts):
        return ()
    return tuple(
        ReleaseFact(
            _payment(f"P{i}", "S1", str(p), day=i),
            amount,
            earned,
            Decimal(0),
            paid_before=sum(parts[:i], Decimal(0)),
        )
        for i, p in enumerate(parts)
    )


@settings(max_examples=60, deadline=None)
@given(*_PAID_IN_PARTS)
def test_a_fully_paid_sale_releases_what_it_earned(
    amount: Decimal, weights: list[int], earned: Decimal
) -> None:
    """Payments splitting a sale's amount in any proportions release, together,
    its whole commission, rounded once."""
    releases = _paid_in_parts(amount, weights, earned)
    if not releases:
        return
    result = calculate_period(shaped(commission=COLLECTION), facts(releases=releases))
    (commission,) = [x for x in result.lines if x.kind == "commission"]
    assert commission.amount == round_money(earned)


@settings(max_examples=60, deadline=None)
@given(*_PAID_IN_PARTS)
def test_a_sale_paid_over_periods_releases_what_it_earned_to_the_cent(
    amount: Decimal, weights: list[int], earned: Decimal
) -> None:
    """Each payment in a period of its own, each period's line rounded alone:
    together they pay the sale's commission rounded once — no cent made or
    lost however its payments fall (released at their exact shares, three
    thirds of 5.00 paid 1.67 three times)."""
    plan = shaped(commission=COLLECTION)
    paid = Decimal(0)
    for release in _paid_in_parts(amount, weights, earned):
        result = calculate_period(plan, facts(releases=(release,)))
        (commission,) = [x for x in result.lines if x.kind == "commission"]
        paid += commission.amount
    assert paid == round_money(earned) or not _paid_in_parts(amount, weights, earned)


# Near SPEC §2's bounds: a sale below 10^12 converted at a rate below 10^12,
# under a band's multiplier below 10^12, earns near 10^36, with decimals.
_EARNED_NEAR_THE_BOUNDS = st.decimals(
    min_value=Decimal(10) ** 27, max_value=Decimal(10) ** 36, places=8
)


@settings(max_examples=60, deadline=None)
@given(_PAID_IN_PARTS[0], _PAID_IN_PARTS[1], _EARNED_NEAR_THE_BOUNDS)
def test_a_commission_near_the_bounds_is_released_to_the_cent(
    amount: Decimal, weights: list[int], earned: Decimal
) -> None:
    """A sale that earned near 10^36 and is paid in parts, each in a period of
    its own: the periods pay together its commission rounded once, and the
    payments in one period release it whole. A payment's share was carried to
    30 significant digits, which stop short of the cent above 10^28."""
    releases = _paid_in_parts(amount, weights, earned)
    if not releases:
        return
    plan = shaped(commission=COLLECTION)
    paid = Decimal(0)
    for release in releases:
        result = calculate_period(plan, facts(releases=(release,)))
        (commission,) = [x for x in result.lines if x.kind == "commission"]
        paid = CALC.add(paid, commission.amount)  # the default context keeps 28 digits
    assert paid == round_money(earned)
    whole = calculate_period(plan, facts(releases=releases))
    (commission,) = [x for x in whole.lines if x.kind == "commission"]
    assert commission.amount == round_money(earned)


class TestScaled:
    """`policies.rounding.scaled`: a share of unrounded money, exact to the cent."""

    @pytest.mark.parametrize(
        ("amount", "fraction", "cents"),
        [
            (
                "123456789012345678901234567890123456.785",
                Fraction(1),
                "123456789012345678901234567890123456.79",
            ),
            (
                "123456789012345678901234567890123456.785",
                Fraction(1, 3),
                "41152263004115226300411522630041152.26",
            ),
            (
                "999999999999999999999999999999999999.99",
                Fraction(999_999_999_999, 1_000_000_000_000),
                "999999999998999999999999999999999999.99",
            ),
            ("5", Fraction(1, 3), "1.67"),
            ("-5", Fraction(1, 3), "-1.67"),
            ("0.015", Fraction(1, 3), "0.01"),
            ("0.01", Fraction(1, 2), "0.01"),
        ],
        ids=["whole", "a-third", "nearly-whole", "small-third", "negative", "below-half", "half"],
    )
    def test_rounds_to_the_cent_as_the_exact_share_does(
        self, amount: str, fraction: Fraction, cents: str
    ) -> None:
        assert round_money(scaled(Decimal(amount), fraction)) == Decimal(cents)

    def test_a_share_with_a_finite_decimal_form_is_exact(self) -> None:
        exact = Decimal("123456789012345678901234567890123456.785") / 2
        assert scaled(Decimal("123456789012345678901234567890123456.785"), Fraction(1, 2)) == (
            Decimal("61728394506172839450617283945061728.3925")
        )
        assert exact.is_finite()


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=Decimal(-(10**36)), max_value=Decimal(10**36), places=8),
    st.fractions(min_value=Fraction(0), max_value=Fraction(1), max_denominator=10**15),
)
def test_scaled_rounds_to_the_cent_as_the_exact_quotient_does(
    amount: Decimal, fraction: Fraction
) -> None:
    exact = Fraction(amount) * fraction
    cents, rest = divmod(abs(exact.numerator) * 100, exact.denominator)
    cents += 2 * rest >= exact.denominator
    expected = Decimal(cents if exact >= 0 else -cents).scaleb(-2, CALC)
    assert round_money(scaled(amount, fraction)) == expected


@settings(max_examples=80, deadline=None)
@given(
    _PAID_IN_PARTS[0],
    _PAID_IN_PARTS[1],
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1_000_000), places=2),
    st.integers(min_value=0, max_value=6),
)
def test_the_releases_of_a_sale_never_pay_above_it_and_leave_nothing_once_it_is_paid(
    amount: Decimal, weights: list[int], spiff_amount: Decimal, paid: int
) -> None:
    """A sale's commission and SPIFF (5 % of its amount, and a SPIFF) released
    by the first ``paid`` of its payments, each in a period of its own: what
    those periods pay never sums above what the booking period earned,
    rounded; the booking period's ``unreleased`` is what is left of it, within
    the cent each rounding may take; and paid in full, it is 0.00."""
    plan = shaped(
        commission=COLLECTION,
        tail=spiff("push", "2026-07-01", "2026-09-30", amount=str(spiff_amount)),
    )
    sold = (sale(str(amount), sale_id="S1"),)
    commission, earned_spiff = earned_by_sale(plan, facts(sales=sold))["S1"]
    releases = tuple(
        replace(r, commission=commission, spiff=earned_spiff)
        for r in _paid_in_parts(amount, weights, commission)
    )
    if not releases:
        return
    received = releases[: min(paid, len(releases))]
    released = Decimal(0)
    for release in received:
        lines = calculate_period(plan, facts(releases=(release,))).lines
        released += sum((x.amount for x in lines if x.kind in {"commission", "spiff"}), Decimal(0))
    booked = calculate_period(plan, facts(sales=sold, booked_releases=received))
    assert earned_spiff == spiff_amount, "the sale earns the SPIFF"
    earned = round_money(commission) + earned_spiff  # two lines, each rounded
    assert released <= earned
    assert booked.unreleased is not None
    assert abs(released + booked.unreleased - earned) <= Decimal("0.02")
    if len(received) == len(releases):
        assert (released, str(booked.unreleased)) == (earned, "0.00")
