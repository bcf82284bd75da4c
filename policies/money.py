"""Money bounds (SPEC §2): how precise and how large an amount may be.

Money has at most 2 decimal places, or its currency's minor units where ISO 4217
gives others (0 for JPY and KRW, 3 for KWD and BHD, ...), and an absolute value
below 10^12. The ledger refuses anything else at the edge, naming the field, so
no stored amount can make a calculation overflow or lose a digit.

The table below is ISO 4217's list of currencies whose minor unit is not 2
(a handful of fixed entries: a dependency would be more code than it saves).
Every other three-letter code has 2.

Canonical text (what is stored, and so what content hashes cover): an amount
is written with two decimals when it is whole cents (``"1234.50"``, and
``"1234.00"`` for a whole yen amount, as every amount stored before this rule
was), otherwise with the decimals its currency allows and it needs (``"1.505"``
KWD), and zero without a sign. One value, one text: the content hashes of
amounts accepted before stay the same (but for a zero given as ``"-0.00"``,
see `ledger.events.signed_zero_sha256`).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Final

__all__ = [
    "MAX_MONEY",
    "MAX_MONEY_PLACES",
    "MINOR_UNITS",
    "canonical_money",
    "check_money",
    "decimal_places",
    "has_places",
    "minor_units",
    "ungrouped",
]

MINOR_UNITS: Final[dict[str, int]] = {
    # ISO 4217: no minor unit
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    # ISO 4217: three decimals
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    # ISO 4217: four decimals (units of account)
    **dict.fromkeys(["CLF", "UYW"], 4),
}
_DEFAULT_MINOR_UNITS = 2
MAX_MONEY_PLACES: Final[int] = max(MINOR_UNITS.values())
MAX_MONEY: Final[Decimal] = Decimal(10) ** 12  # exclusive
# The unit of each number of decimals (1, 0.1, 0.01, ...), and a context wide
# enough that quantizing a bounded number (< 10^12, a few decimals) is exact.
_UNITS: Final[tuple[Decimal, ...]] = tuple(Decimal(1).scaleb(-n) for n in range(7))
_CENT = _UNITS[2]
_EXACT = Context(prec=40, rounding=ROUND_HALF_UP)


def minor_units(currency: str) -> int:
    """ISO 4217: the decimal places of ``currency`` (2 unless the table says other)."""
    return MINOR_UNITS.get(currency, _DEFAULT_MINOR_UNITS)


def decimal_places(value: Decimal) -> int:
    """How many decimals ``value`` needs: trailing zeros do not count
    (``1.50`` needs 1, ``100`` none). Reads the digits; never formats the
    number, so a huge exponent costs nothing."""
    _sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN, Infinity
        msg = "a number must be finite"
        raise ValueError(msg)  # noqa: TRY004 - pydantic turns ValueError into a field error
    trailing = 0
    for digit in reversed(digits):
        if digit:
            break
        trailing += 1
    if trailing == len(digits):  # zero
        return 0
    return max(0, -(exponent + trailing))


def has_places(value: Decimal, places: int) -> bool:
    """Whether a number below 10^12 needs at most ``places`` decimals (0-6):
    one exact quantize, cheaper than reading its digits (a sale checks this
    on every import line)."""
    return value.quantize(_UNITS[places], None, _EXACT) == value


def check_money(amount: Decimal, currency: str | None = None) -> None:
    """SPEC §2 money bounds: ValueError unless |amount| < 10^12 and its decimals
    fit ``currency``'s minor units (or the most any currency has, when it is
    not known yet: the write rules check it against the plan's)."""
    if not amount.is_finite() or amount.copy_abs() >= MAX_MONEY:
        msg = "money must be below 10^12 in absolute value"
        raise ValueError(msg)
    allowed = MAX_MONEY_PLACES if currency is None else minor_units(currency)
    if has_places(amount, allowed):
        return
    places = decimal_places(amount)
    if currency is None:
        msg = f"money has at most {MAX_MONEY_PLACES} decimal places, got {places}"
    else:
        unit = "no decimals" if allowed == 0 else f"at most {allowed} decimal places"
        msg = f"{currency} money has {unit} (ISO 4217 minor unit), got {places}"
    raise ValueError(msg)


def canonical_money(amount: Decimal) -> Decimal:
    """The stored form of an amount within the bounds: two decimals when it is
    whole cents, else exactly the decimals it needs (see the module docstring).

    Zero is unsigned: ``"-0.00"`` is ``0.00``, one value with one text (a
    Decimal keeps the sign of a negative zero, which would store the same fact
    under two contents and show "-0.00")."""
    if not amount:
        amount = amount.copy_abs()
    cents = amount.quantize(_CENT, None, _EXACT)
    if cents == amount:  # cents, the form every amount had before
        return cents
    return amount.quantize(_UNITS[decimal_places(amount)], None, _EXACT)


def ungrouped(text: str, separator: str) -> str | None:
    """``text`` without its thousands ``separator`` where the separator groups
    the integer digits in threes (``12,345.50`` -> ``12345.50``; a decimal part
    after "." unless "." is the separator); ``text`` itself when it holds no
    separator; None when it holds one elsewhere — ``1234,50``, a decimal comma,
    or ``1,23,4.50`` — which must never be read as a larger number."""
    if separator not in text:
        return text
    decimals = "" if separator == "." else r"(?:\.\d+)?"
    grouped = rf"[+-]?\d{{1,3}}(?:{re.escape(separator)}\d{{3}})+{decimals}"
    return text.replace(separator, "") if re.fullmatch(grouped, text) else None
