"""Currencies (SPEC §3.1): a sale in a currency other than the plan's is
converted at the latest ``FxRateSet`` for exactly that pair (sale currency →
plan currency) whose ``occurred_at`` is at or before the sale's, rounded to
0.01; every later step uses the converted amount, and the explanation shows the
rate and its event. No rate in force: a distinct result (`MissingRate`), which
the ledger turns into a refusal (when the sale is recorded) or a pending item
(when a later plan change leaves it without a rate)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from policies.explanation import Step, money, step
from policies.rounding import CALC, number_text, round_money

__all__ = [
    "BalanceConversion",
    "Converted",
    "FxRate",
    "MissingRate",
    "convert",
    "convert_balance",
    "convert_release",
    "rate_in_force",
    "rate_on",
]


@dataclass(frozen=True)
class FxRate:
    """1 ``base`` = ``rate`` ``quote``, from ``occurred_at`` on."""

    base: str
    quote: str
    rate: Decimal
    occurred_at: datetime
    position: int
    event_id: str


@dataclass(frozen=True)
class Converted:
    amount: Decimal  # in the plan's currency, rounded to 0.01
    step: Step | None  # None: the sale was in the plan's currency already


@dataclass(frozen=True)
class MissingRate:
    """No rate for ``base`` → ``quote`` in force at ``at``."""

    base: str
    quote: str
    at: datetime


def rate_in_force(rates: Sequence[FxRate], base: str, quote: str, at: datetime) -> FxRate | None:
    """The latest rate for exactly ``base`` → ``quote`` whose ``occurred_at`` is
    at or before ``at`` (ties: the later recorded one)."""
    return _latest(r for r in rates if r.base == base and r.quote == quote and r.occurred_at <= at)


def convert(
    sale_id: str,
    amount: Decimal,
    currency: str,
    plan_currency: str,
    *,
    at: datetime,
    rates: Sequence[FxRate],
) -> Converted | MissingRate:
    """A sale's amount in the plan's currency at the sale's moment, rounded to
    0.01 (the plan currency's cents), or `MissingRate`."""
    if currency == plan_currency:
        return Converted(amount, None)
    rate = rate_in_force(rates, currency, plan_currency, at)
    if rate is None:
        return MissingRate(currency, plan_currency, at)
    return _converted(amount, rate, "fx_converted", sale_id=sale_id, amount=number_text(amount))


def rate_on(rates: Sequence[FxRate], base: str, quote: str, day: date) -> FxRate | None:
    """The latest rate for exactly ``base`` → ``quote`` dated (on its own
    calendar day) on or before ``day`` (ties: the later recorded one)."""
    return _latest(
        r for r in rates if r.base == base and r.quote == quote and r.occurred_at.date() <= day
    )


def _latest(eligible: Iterable[FxRate]) -> FxRate | None:
    """The latest of ``eligible`` rates (ties: the later recorded one)."""
    return max(eligible, key=lambda r: (r.occurred_at, r.position), default=None)


@dataclass(frozen=True)
class BalanceConversion:
    """A balance owed from a period paid in ``currency`` — a correction, a
    negative total carried on — booked in a period whose plan pays in
    ``plan_currency`` (the rep changed plans between): converted at the latest
    rate for the pair dated on or before the first day of the period it is
    booked in, ``on``. ``rate`` None: none is; the balance waits (pending)."""

    currency: str
    plan_currency: str
    on: date
    rate: FxRate | None

    @property
    def pair(self) -> tuple[str, str]:
        return self.currency, self.plan_currency


def convert_balance(
    amount: Decimal, conversion: BalanceConversion, *, what: str
) -> tuple[Decimal, Step]:
    """``amount`` (in ``conversion.currency``) in the plan's currency, rounded
    to 0.01, and the step that shows the rate and its event. ``what``: the
    balance in words' terms (``correction``, ``carried_balance``,
    ``draw_balance``)."""
    rate = conversion.rate
    assert rate is not None, "a balance waiting for its rate is not converted"
    found = _converted(amount, rate, "balance_converted", balance=what, amount=money(amount))
    assert found.step is not None
    return found.amount, found.step


def convert_release(amount: Decimal, rate: FxRate, *, what: str) -> tuple[Decimal, Step]:
    """What a payment releases (SPEC §3.1 pay on collection) of a sale earned
    in ``rate.base``, released into a period paid in ``rate.quote`` — the rep
    moved to a plan in another currency between (a store written before the
    write rule that refuses that move may hold one): converted as a balance
    owed across currencies is, rounded to 0.01, and the step that shows the
    rate and its event. ``what``: ``commission_release``, ``spiff_release``."""
    found = _converted(amount, rate, "balance_converted", balance=what, amount=money(amount))
    assert found.step is not None
    return found.amount, found.step


def _converted(value: Decimal, rate: FxRate, code: str, /, **values: str) -> Converted:
    """``value`` × the rate, rounded to 0.01; the step ``code`` shows ``values``
    (what was converted), the rate, its date and event, and the result."""
    converted = round_money(CALC.multiply(value, rate.rate))
    shown = {
        **values,
        "currency": rate.base,
        "rate": number_text(rate.rate),
        "rate_from": rate.occurred_at.isoformat(),
        "plan_currency": rate.quote,
        "converted": money(converted),
    }
    return Converted(converted, step(code, (rate.event_id,), **shown))
