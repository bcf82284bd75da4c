"""Pay on collection (SPEC §3.1): with ``basis = "collection"`` a sale's
commission and SPIFF (decided in its booking period) are released in proportion
to the payments received — a payment of 40 % of the sale's amount in period P
releases 40 % of the sale's amounts into P. What is earned and not yet released
is the ``unreleased`` amount. The payments of a sale never sum above its amount
(`check_payment`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from policies.currency import FxRate, convert_release
from policies.explanation import Step, money, recorded, step
from policies.rounding import CALC, round_money, scaled

__all__ = ["OverPayment", "PaymentFact", "Release", "check_payment", "release", "unreleased"]


@dataclass(frozen=True)
class PaymentFact:
    payment_id: str
    sale_id: str
    amount: Decimal  # in the sale's currency
    occurred_at: datetime
    position: int
    event_id: str


@dataclass(frozen=True)
class OverPayment:
    """A payment that would take a sale's payments above its amount."""

    sale_id: str
    sale_amount: Decimal
    paid_before: Decimal
    payment: Decimal

    @property
    def message(self) -> str:
        return (
            f"amount: payment of {money(self.payment)} would take sale {self.sale_id}'s "
            f"payments to {money(self.paid_before + self.payment)}, above its amount "
            f"{money(self.sale_amount)}"
        )

    @property
    def withheld_message(self) -> str:
        """The refusal without the sale's amount or what was paid before: to
        a sender who may not read them."""
        return (
            f"amount: payment of {money(self.payment)} would take sale {self.sale_id}'s "
            "payments above its amount"
        )


def check_payment(
    sale_id: str, sale_amount: Decimal, earlier: Sequence[Decimal], payment: Decimal
) -> OverPayment | None:
    """SPEC §2: the payments of a sale never sum above its amount; a payment
    must be positive. None when ``payment`` may be accepted."""
    paid = sum(earlier, Decimal(0))
    if payment <= 0 or paid + payment > sale_amount:
        return OverPayment(sale_id, sale_amount, paid, payment)
    return None


@dataclass(frozen=True)
class Release:
    """What one payment releases of a sale's earned amounts."""

    fraction: Fraction  # the payment ÷ the sale's amount, exact
    commission: Decimal  # to the cent: the sale's released so far less released before
    spiff: Decimal
    step: Step
    # the payment's exact share (fraction × earned): what `unreleased` weighs
    # (in the currency earned in, as the booking period's lines are)
    share_commission: Decimal = Decimal(0)
    share_spiff: Decimal = Decimal(0)
    # released into a period paid in another currency: how ``commission`` and
    # ``spiff`` were converted into it (None: the same currency, or no SPIFF)
    commission_fx: Step | None = None
    spiff_fx: Step | None = None


def release(
    payment: PaymentFact,
    sale_amount: Decimal,
    commission: Decimal,
    spiff: Decimal = Decimal(0),
    paid_before: Decimal = Decimal(0),
    *,
    fx: FxRate | None = None,
    sale_event_id: str | None = None,
) -> Release:
    """A payment's release: what the sale's payments so far release of its
    commission and SPIFF (paid ÷ sale amount × earned, to the cent) less what
    its earlier payments (``paid_before``, in the sale's currency) released.

    To the cent per payment, and cumulative, because the periods of a sale's
    payments each round their line alone: a third of a 5.00 commission
    released in each of three quarters, each third 1.6665 rounded by its own
    line, paid 1.67 three times — 5.01. Released cumulatively, a sale's
    payments add up to its commission rounded once (1.67, 1.66, 1.67),
    however many periods they fall in.

    ``fx``: the period it is released into pays in another currency than the
    one the sale earned in (the rep moved plans between): each amount, to the
    cent in the earning currency, converted at that rate (`convert_release`),
    never paid as the same number in the other currency.

    The step shows what the sale earned (``earned``, unrounded, in the
    currency it was earned in) beside the fraction paid, so the release can
    be worked out from the line, and rests on the payment and, given
    ``sale_event_id``, on the sale it pays."""
    fraction = Fraction(payment.amount) / Fraction(sale_amount)
    before = Fraction(paid_before) / Fraction(sale_amount)
    released_commission = _released_between(commission, before, before + fraction)
    released_spiff = _released_between(spiff, before, before + fraction)
    released_before = _released_between(commission, Fraction(0), before)
    shown = step(
        "payment_released",
        (payment.event_id, sale_event_id),
        payment_id=payment.payment_id,
        sale_id=payment.sale_id,
        paid=recorded(payment.amount),
        sale_amount=recorded(sale_amount),
        earned=commission,
        fraction=fraction,
        released_before=released_before,
        commission=released_commission,
        spiff=released_spiff if spiff else None,
    )
    commission_fx = spiff_fx = None
    if fx is not None:
        released_commission, commission_fx = convert_release(
            released_commission, fx, what="commission_release"
        )
        if spiff:
            released_spiff, spiff_fx = convert_release(released_spiff, fx, what="spiff_release")
    return Release(
        fraction,
        released_commission,
        released_spiff,
        shown,
        scaled(commission, fraction),
        scaled(spiff, fraction),
        commission_fx,
        spiff_fx,
    )


def _released_between(earned: Decimal, before: Fraction, after: Fraction) -> Decimal:
    """What a sale's payments release of ``earned`` between the paid fractions
    ``before`` and ``after``, to the cent: each end rounded once."""
    if not earned:
        return Decimal(0)
    return CALC.subtract(round_money(scaled(earned, after)), round_money(scaled(earned, before)))


def unreleased(earned: Decimal, releases: Sequence[Release]) -> Decimal:
    """SPEC §3.1 ``unreleased``: what a booking period earned less what payments
    have released of it so far."""
    return CALC.subtract(earned, sum((r.share_commission for r in releases), Decimal(0)))
