"""`policies.explanation.recorded`: an amount an event recorded, quoted in a step
as recorded — two decimals like every money value (the text of statements made
before is unchanged), every decimal of a three-decimal currency's amount."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from policies.explanation import money, recorded

cents = st.integers(-(10**14) + 1, 10**14 - 1).map(lambda n: Decimal(n).scaleb(-2))
mils = st.integers(-(10**15) + 1, 10**15 - 1).map(lambda n: Decimal(n).scaleb(-3))


@given(cents)
def test_an_amount_of_two_decimals_reads_as_money_always_did(amount: Decimal) -> None:
    assert recorded(amount) == money(amount)


@given(mils)
def test_an_amount_of_three_decimals_is_quoted_whole(amount: Decimal) -> None:
    assert Decimal(recorded(amount)) == amount
    assert "E" not in recorded(amount)


def test_examples() -> None:
    assert recorded(Decimal("1000.105")) == "1000.105"
    assert recorded(Decimal("1234.5")) == "1234.50"
    assert recorded(Decimal(12345)) == "12345.00"  # whole yen, stored as "12345.00"
    assert recorded(Decimal("-2.345")) == "-2.345"
