"""Money rounding (SPEC §3): each line to 0.01, ROUND_HALF_UP; ratios are never
rounded in the calculation, only written without exponent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

__all__ = ["CALC", "number_text", "round_money"]

# Every calculation runs in this context, whatever the caller's global one.
CALC = Context(prec=28, rounding=ROUND_HALF_UP)
_CENT = Decimal("0.01")


def round_money(amount: Decimal) -> Decimal:
    """A line amount: to the cent, halves away from zero (0.005 -> 0.01)."""
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP, context=CALC)


def number_text(value: Decimal) -> str:
    """A decimal as plain text, without exponent or trailing zeros.

    ``normalize`` strips the zeros (``100`` becomes ``1E+2``) and the ``f`` format
    writes the exponent out again (``100``).
    """
    return format(value.normalize(CALC), "f")
