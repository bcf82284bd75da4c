"""Money rounding (SPEC §3): each line to 0.01, ROUND_HALF_UP; ratios are never
rounded in the calculation, only written without exponent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

__all__ = ["CALC", "money_text", "number_text", "round_money"]

# Every calculation runs in this context, whatever the caller's global one.
CALC = Context(prec=28, rounding=ROUND_HALF_UP)
_CENT = Decimal("0.01")


# The context's own methods, positional: a keyword argument costs more than the
# rounding itself (a statement rounds and writes a few numbers per sale).
_quantize = CALC.quantize
_normalize = CALC.normalize


def round_money(amount: Decimal) -> Decimal:
    """A line amount: to the cent, halves away from zero (0.005 -> 0.01)."""
    return _quantize(amount, _CENT)


def money_text(amount: Decimal) -> str:
    """``amount`` rounded to the cent, as text with both decimals (``12.50``).

    ``str`` of a number with exponent -2 never uses scientific notation.
    """
    return str(_quantize(amount, _CENT))


def number_text(value: Decimal) -> str:
    """A decimal as plain text, without exponent or trailing zeros.

    ``normalize`` strips the zeros (``100`` becomes ``1E+2``) and the ``f`` format
    writes the exponent out again (``100``). ``str`` gives the same text, faster,
    whenever it has no exponent to write out.
    """
    normal = _normalize(value)
    text = str(normal)
    return format(normal, "f") if "E" in text else text
