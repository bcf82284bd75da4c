"""Caps and the gate (SPEC §3.1), in this order: ``per_sale_cap`` limits one
sale's commission after tiers; ``period_cap`` limits the period's commission (a
negative ``cap`` line); then, when the period's final attainment is below
``gate``, a negative ``gate`` line takes what is left of the commission to 0.
SPIFFs are not commission: caps and the gate leave them alone."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from policies.explanation import Line, Step, money, ratio, step
from policies.rounding import ratio_texts_below

__all__ = ["cap_sale", "gate_line", "period_cap_line"]


def cap_sale(sale_id: str, commission: Decimal, cap: Decimal | None) -> tuple[Decimal, Step | None]:
    """``per_sale_cap``: a sale earns at most ``cap``; the step shows the cut."""
    if cap is None or commission <= cap:
        return commission, None
    return cap, step(
        "per_sale_cap",
        sale_id=sale_id,
        commission=commission,
        cap=money(cap),
        cut=commission - cap,
    )


def period_cap_line(
    commission: Decimal, cap: Decimal | None, plan_event_id: str | None = None
) -> Line | None:
    """``period_cap``: the period's (rounded) commission above ``cap`` is taken
    back by a negative ``cap`` line; None when it is not reached."""
    if cap is None or commission <= cap:
        return None
    return Line.of(
        "cap",
        cap - commission,
        [
            step(
                "period_cap",
                (plan_event_id,),
                commission=money(commission),
                cap=money(cap),
                cut=money(commission - cap),
            )
        ],
    )


def gate_line(
    commission_left: Decimal,
    attainment: Fraction,
    gate: Decimal,
    event_ids: tuple[str | None, ...] = (),
) -> Line | None:
    """``gate``: a period whose final attainment is below the gate earns no
    commission (what is left after the cap is taken to 0); None at or above
    the gate (compared exactly)."""
    if attainment >= Fraction(gate):
        return None
    shown = ratio_texts_below(attainment, gate)
    return Line.of(
        "gate",
        -commission_left,
        [
            step(
                "gate_not_reached",
                event_ids,
                attainment=attainment,
                gate=ratio(gate),
                # both to as many places as show the one below the other (4
                # round 49,999.99 / 100,000 up to 0.5000, the gate of 0.5)
                attainment_shown=shown[0],
                gate_shown=shown[1],
                commission=money(commission_left),
            )
        ],
    )
