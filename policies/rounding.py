"""Exactness and rounding (SPEC §3).

Money is rounded once per line, to 0.01 with ROUND_HALF_UP. Nothing else is ever
rounded in the calculation: every Decimal operation of the policies runs in
`CALC`, whose precision holds any product or sum of the ledger's bounded numbers
exactly and which *traps* an inexact result — a division such as 8500 / 7000,
which a 28-digit context would silently round to 1.214285714285714285714285714,
raises `decimal.Inexact` instead. Ratios that are quotients (attainment, the
weighted score) are `fractions.Fraction`s and never Decimals; statements show
ratios rounded half-up to 4 decimal places (`ratio_text`), for reading only.
"""

from __future__ import annotations

from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from fractions import Fraction

__all__ = [
    "CALC",
    "RATIO_PLACES",
    "Ratio",
    "as_fraction",
    "money_text",
    "number_text",
    "ratio_text",
    "ratio_texts_below",
    "round_money",
    "scaled",
    "shown_as_reached",
]

# Digits the exact context keeps. The ledger's numbers are bounded (money below
# 10^12 with a few decimals, shares and scores with 6, plan rates as written):
# their products and sums take a few dozen digits. A division would try to fill
# them all before the Inexact trap fires: 1,000 bounds that work.
_EXACT_DIGITS = 1000

# Every calculation runs in this context, whatever the caller's global one: an
# operation whose exact result it cannot hold raises, it never rounds.
CALC = Context(
    prec=_EXACT_DIGITS,
    rounding=ROUND_HALF_UP,
    traps=[Inexact, InvalidOperation, DivisionByZero, Overflow],
)
# Money rounding alone is allowed to be inexact (that is its point).
_MONEY = Context(prec=_EXACT_DIGITS, rounding=ROUND_HALF_UP, traps=[InvalidOperation])
# An amount shown to the cent as the read side always showed it (halves to even,
# the default rounding), in all the digits it has (`cents_text`).
_SHOWN = Context(prec=_EXACT_DIGITS, traps=[InvalidOperation])
_CENT = Decimal("0.01")

# A ratio as the calculation holds it: exact, a quotient (Fraction) or a number
# written in a plan or an event (Decimal).
Ratio = Fraction | Decimal

RATIO_PLACES = 4
_RATIO_SCALE = 10**RATIO_PLACES


# The contexts' own methods, positional: a keyword argument costs more than the
# rounding itself (a statement rounds and writes a few numbers per sale).
_quantize = _MONEY.quantize
_normalize = CALC.normalize


def round_money(amount: Decimal) -> Decimal:
    """A line amount: to the cent, halves away from zero (0.005 -> 0.01)."""
    return _quantize(amount, _CENT)


def money_text(amount: Decimal) -> str:
    """``amount`` rounded to the cent, as text with both decimals (``12.50``).

    ``str`` of a number with exponent -2 never uses scientific notation.
    """
    return str(_quantize(amount, _CENT))


def cents_text(value: Decimal) -> str:
    """A statement's, a what-if's or a list's amount, to the cent, as text.

    Not in the default context: its 28 digits hold no line of sales at SPEC
    §2's bounds converted at a large rate and multiplied by a large band
    (each number within the bounds, their product near 10^36), and the
    quantize raised — the projector's catch-up with it, on every retry."""
    return format(_SHOWN.quantize(value, _CENT), "f")


def number_text(value: Decimal) -> str:
    """A decimal as plain text, without exponent or trailing zeros.

    ``normalize`` strips the zeros (``100`` becomes ``1E+2``) and the ``f`` format
    writes the exponent out again (``100``). ``str`` gives the same text, faster,
    whenever it has no exponent to write out.
    """
    normal = _normalize(value)
    text = str(normal)
    return format(normal, "f") if "E" in text else text


def as_fraction(value: Ratio) -> Fraction:
    """``value`` as an exact Fraction (a Decimal converts without loss)."""
    return value if isinstance(value, Fraction) else Fraction(value)


def ratio_text(value: Ratio, places: int = RATIO_PLACES) -> str:
    """SPEC §3: a ratio as statements show it, rounded half-up (away from zero)
    to 4 decimal places: 1.05 -> ``1.0500``, 17/14 -> ``1.2143`` (``places``:
    to more, where a step must show what 4 places hide: `ratio_texts_below`).

    Worked in integers from the exact value, so the text never depends on a
    context's precision: only this display is rounded, never the calculation.
    """
    exact = as_fraction(value)
    scale = _RATIO_SCALE if places == RATIO_PLACES else 10**places
    numerator, denominator = abs(exact.numerator), exact.denominator
    scaled = (2 * numerator * scale + denominator) // (2 * denominator)
    whole, digits = divmod(scaled, scale)
    sign = "-" if exact < 0 and scaled else ""
    return f"{sign}{whole}.{digits:0{places}d}"


# Past this many places a ratio below a bound is shown as its quotient: the
# ledger's bounded numbers never need as many (money below 10^12 with 3
# decimals over a target alike, against a bound with 6: about 22 places).
_MAX_PLACES = 40


def ratio_texts_below(value: Ratio, bound: Ratio) -> tuple[str, str]:
    """A ratio the rules found below ``bound`` (compared exactly, SPEC §3) and
    that bound, as a step shows them: to 4 places like every ratio, or — when
    those make them read alike (49,999.99 / 100,000 rounds to 0.5000, a gate
    of 0.5 is 0.5000) — to as many more as it takes for the one to read below
    the other (``0.4999999``, ``0.5000000``), so the words say why. The
    two quotients when no text of up to 40 places does."""
    exact, limit = as_fraction(value), as_fraction(bound)
    assert exact < limit, "only a ratio below the bound"
    for places in range(RATIO_PLACES, _MAX_PLACES + 1):
        shown, bound_shown = ratio_text(exact, places), ratio_text(limit, places)
        if Fraction(shown) < Fraction(bound_shown):
            return shown, bound_shown
    return f"{exact.numerator}/{exact.denominator}", f"{limit.numerator}/{limit.denominator}"


def shown_as_reached(value: Ratio, bound: Ratio) -> tuple[str, str] | None:
    """A ratio below ``bound`` that 4 places show as ``bound`` or above it
    (0.99995 reads "1.0000" beside a bound of "1.0000"), as `ratio_texts_below`
    shows the two so that the one reads below the other; None when it is not
    below the bound, or already reads below it. A step that names the tier or
    band it reached otherwise reads as one skipped."""
    exact, limit = as_fraction(value), as_fraction(bound)
    if exact >= limit or Fraction(ratio_text(exact)) < Fraction(ratio_text(limit)):
        return None
    return ratio_texts_below(exact, limit)


# `scaled`'s places beyond those an exact rounding to the cent needs.
_GUARD_PLACES = 30


def scaled(amount: Decimal, fraction: Fraction) -> Decimal:
    """``amount`` × ``fraction`` (unrounded money: what a payment releases of a
    sale, a sale's share of a capped period): exact when the quotient has a
    finite decimal form; else carried to as many places as rounding it to the
    cent needs to round exactly as the quotient does — never to a number of
    significant digits. Thirty of them stopped short of the cent above 10^28,
    which SPEC §2's bounds reach (a sale converted at a large rate, under a
    large band: near 10^36): a payment in full of a commission of
    123,456,789,012,345,678,901,234,567,890,123,456.785 released 123,456.79
    less than it.

    A quotient with no finite decimal form lies at least 1 / (200 × its
    denominator) from any half cent: carried to more places than that
    denominator has digits, plus 3, its rounding to the cent is exact; 30
    places more keep sums of many such amounts, and products of one with
    another, as far from the cent as 30 digits kept them at small amounts."""
    if not amount:
        return Decimal(0)
    product = Fraction(amount) * fraction
    numerator, denominator = product.numerator, product.denominator
    if _terminates(denominator):
        return CALC.divide(Decimal(numerator), Decimal(denominator))
    # 2^bits > the denominator, and 10^(bits // 3 + 4) > 1000 × 2^bits
    places = denominator.bit_length() // 3 + 4 + _GUARD_PLACES
    whole, rest = divmod(abs(numerator) * 10**places, denominator)
    if 2 * rest >= denominator:
        whole += 1
    return CALC.scaleb(Decimal(whole if numerator > 0 else -whole), -places)


def _terminates(denominator: int) -> bool:
    """Whether a quotient by ``denominator`` (in lowest terms) has a finite
    decimal form: no prime factor but 2 and 5."""
    odd = denominator >> ((denominator & -denominator).bit_length() - 1)
    while odd % 5 == 0:
        odd //= 5
    return odd == 1
