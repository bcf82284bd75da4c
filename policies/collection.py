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

from policies.explanation import Step, money, recorded, step
from policies.rounding import CALC, scaled

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
    commission: Decimal  # unrounded: rounded once with its line
    spiff: Decimal
    step: Step


def release(
    payment: PaymentFact, sale_amount: Decimal, commission: Decimal, spiff: Decimal = Decimal(0)
) -> Release:
    """A payment's release: the sale's commission and SPIFF × payment ÷ sale
    amount. The product is kept exact: a Decimal is exact when the sale's
    amount divides evenly, else carried to 30 significant digits before the
    line rounds it once (a difference far below the cent)."""
    fraction = Fraction(payment.amount) / Fraction(sale_amount)
    released_commission = scaled(commission, fraction)
    released_spiff = scaled(spiff, fraction)
    return Release(
        fraction,
        released_commission,
        released_spiff,
        step(
            "payment_released",
            (payment.event_id,),
            payment_id=payment.payment_id,
            sale_id=payment.sale_id,
            paid=recorded(payment.amount),
            sale_amount=recorded(sale_amount),
            fraction=fraction,
            commission=released_commission,
            spiff=released_spiff if spiff else None,
        ),
    )


def unreleased(earned: Decimal, releases: Sequence[Release]) -> Decimal:
    """SPEC §3.1 ``unreleased``: what a booking period earned less what payments
    have released of it so far."""
    return CALC.subtract(earned, sum((r.commission for r in releases), Decimal(0)))
