"""Properties of SPEC §3.1's rules (hypothesis): marginal never pays more than
retroactive when multipliers rise, caps are never exceeded, a draw's balance is
never negative, conversions are deterministic, marginal parts add up."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.bands import marginal_parts
from policies.calculate import calculate_period
from policies.currency import FxRate, convert
from policies.draws import draw_lines
from policies.periods import parse_period
from policies.plan import Draw
from tests.unit.factories import facts, sale, target
from tests.unit.shapes import shaped, tiers

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1_000_000), places=2)
money = st.decimals(min_value=Decimal(-100_000), max_value=Decimal(100_000), places=2)


@st.composite
def rising_bands(draw: st.DrawFn) -> str:
    """Two to four attainment bands from 0, multipliers rising with the bound."""
    count = draw(st.integers(min_value=2, max_value=4))
    bounds = sorted(draw(st.sets(st.integers(1, 30), min_size=count - 1, max_size=count - 1)))
    multipliers = sorted(draw(st.lists(st.integers(0, 30), min_size=count, max_size=count)))
    froms = [Decimal(0), *(Decimal(b) / 10 for b in bounds)]
    return ", ".join(
        f"{{from = {f}, multiplier = {Decimal(m) / 10}}}"
        for f, m in zip(froms, multipliers, strict=True)
    )


@settings(max_examples=60, deadline=None)
@given(rising_bands(), st.lists(amounts, min_size=1, max_size=6), amounts)
def test_marginal_never_above_retroactive_when_multipliers_rise(
    bands: str, sold: list[Decimal], quota: Decimal
) -> None:
    """Each part of a marginal sale is in a band at or below the one the period
    reached: with rising multipliers it never earns more than retroactive."""
    sales = tuple(
        sale(str(a), category="software" if i % 2 else "hardware") for i, a in enumerate(sold)
    )
    period = facts(sales=sales, targets=(target(str(quota)),))
    paid = {}
    for method in ("marginal", "retroactive"):
        plan = shaped(tail=tiers("attainment", method, bands))
        (line,) = [x for x in calculate_period(plan, period).lines if x.kind == "commission"]
        paid[method] = line.amount
    assert paid["marginal"] <= paid["retroactive"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(amounts, min_size=1, max_size=6),
    st.decimals(min_value=0, max_value=50_000, places=2),
    st.decimals(min_value=0, max_value=100_000, places=2),
)
def test_caps_are_never_exceeded(
    sold: list[Decimal], per_sale: Decimal, period_cap: Decimal
) -> None:
    """No sale's commission step is above the per-sale cap, and the commission
    less the cap line is never above the period cap (nor below 0)."""
    plan = shaped(commission=f"per_sale_cap = {per_sale}\nperiod_cap = {period_cap}\n")
    result = calculate_period(plan, facts(sales=tuple(sale(str(a)) for a in sold)))
    commission = sum(
        (x.amount for x in result.lines if x.kind in {"commission", "cap"}), Decimal(0)
    )
    assert Decimal(0) <= commission <= period_cap
    (line,) = [x for x in result.lines if x.kind == "commission"]
    assert line.amount <= per_sale * len(sold)
    for s in line.steps:
        if s.code == "sale_commission":
            assert Decimal(s.values["commission"]) <= per_sale or any(
                c.code == "per_sale_cap" and c.values["sale_id"] == s.values["sale_id"]
                for c in line.steps
            )


@settings(max_examples=100, deadline=None)
@given(
    st.decimals(min_value=Decimal("0.01"), max_value=20_000, places=2),
    st.booleans(),
    st.lists(money, min_size=1, max_size=12),
    st.integers(0, 12),
)
def test_a_draw_balance_is_never_negative(
    amount: Decimal, recoverable: bool, earnings: list[Decimal], draw_months: int
) -> None:
    """Month after month, whatever is earned: the balance stays ≥ 0, the payable
    in a draw month is at least the draw, and a recovery never takes more than
    the balance."""
    first = parse_period("2026-01")
    until = (first.first_day.replace(day=1) + timedelta(days=31 * draw_months)).replace(day=1)
    draw = Draw(amount=amount, recoverable=recoverable, until=until - timedelta(days=1))
    balance = Decimal(0)
    period = first
    for earned in earnings:
        result = draw_lines(draw, period, (first, None), earned, balance)
        assert result.balance_after >= 0
        total = earned + sum((x.amount for x in result.lines), Decimal(0))
        if period.first_day <= draw.until and earned >= 0:
            assert total >= amount  # a negative E is topped up by the amount only
        for line in result.lines:
            if line.kind == "draw_recovery":
                assert -line.amount <= balance
        balance = result.balance_after
        period = period.next()


@settings(max_examples=100, deadline=None)
@given(
    st.decimals(min_value=Decimal("0.001"), max_value=20, places=3),
    st.lists(money, min_size=1, max_size=12),
    st.integers(0, 12),
)
def test_a_draw_balance_is_what_the_lines_paid_out_less_what_they_recovered(
    amount: Decimal, earnings: list[Decimal], draw_months: int
) -> None:
    """A 3-decimal currency's draw (KWD 0.004): the balance holds the rounded
    lines, never the unrounded top-ups — a 0.00 line leaves no 0.004 debt."""
    first = parse_period("2026-01")
    until = (first.first_day.replace(day=1) + timedelta(days=31 * draw_months)).replace(day=1)
    draw = Draw(amount=amount, recoverable=True, until=until - timedelta(days=1))
    balance, lines_sum, period = Decimal(0), Decimal(0), first
    for earned in earnings:
        result = draw_lines(draw, period, (first, None), earned, balance)
        lines_sum += sum((x.amount for x in result.lines), Decimal(0))
        balance = result.balance_after
        assert balance == lines_sum
        period = period.next()


_T = datetime.fromisoformat("2026-07-01T00:00:00+08:00")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 100), st.decimals(min_value=Decimal("0.0001"), max_value=200, places=4)
        ),
        max_size=6,
    ),
    amounts,
    st.integers(0, 100),
    st.randoms(use_true_random=False),
)
def test_conversions_are_deterministic(
    set_rates: list[tuple[int, Decimal]], amount: Decimal, day: int, rng: object
) -> None:
    """The same sale and rates give the same amount and step in any order the
    rates come in; the amount is rounded to the cent."""
    rates = [
        FxRate("USD", "CNY", rate, _T + timedelta(days=d), n, f"fx-{n}")
        for n, (d, rate) in enumerate(set_rates)
    ]
    shuffled = list(rates)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    at = _T + timedelta(days=day)
    first = convert("S", amount, "USD", "CNY", at=at, rates=rates)
    assert convert("S", amount, "USD", "CNY", at=at, rates=shuffled) == first
    if hasattr(first, "amount"):
        assert first.amount == first.amount.quantize(Decimal("0.01"))


@settings(max_examples=200, deadline=None)
@given(money, amounts, st.lists(st.integers(1, 10**7), max_size=4, unique=True))
def test_marginal_parts_add_up_to_the_sale(
    before: Decimal, credit: Decimal, raw: list[int]
) -> None:
    bounds = [Decimal(0), *sorted(Decimal(b) / 100 for b in raw)]
    parts = marginal_parts(abs(before), credit, bounds)
    assert sum((p for _, p in parts), Decimal(0)) == credit
    assert [i for i, _ in parts] == sorted({i for i, _ in parts})
