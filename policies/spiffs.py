"""SPIFFs (SPEC §3.1): time-boxed incentives on top of commission.

Every credited sale that qualifies — its ``occurred_at`` date within the SPIFF's
window (both ends inclusive), its category the SPIFF's (any when it names none),
its credited amount at least ``min_amount`` — earns the SPIFF: ``amount`` × the
rep's share, or ``rate`` × its credited amount. A sale cancelled within the
clawback window is not credited, so it earns no SPIFF either. One ``spiff``
line per SPIFF that paid anything.
"""

from __future__ import annotations

from decimal import Decimal

from policies.commission import Credited
from policies.explanation import Line, Step, money, ratio, step
from policies.facts import SaleFact
from policies.plan import Plan, Spiff
from policies.rounding import CALC

__all__ = ["qualifies", "spiff_lines", "spiff_of_sale"]


def qualifies(spiff: Spiff, sale: SaleFact, credit: Decimal) -> bool:
    """Whether a credited sale earns ``spiff``: in its window (by the sale's
    ``occurred_at`` date, in its own offset), of its category, and at least its
    ``min_amount`` credited."""
    day = sale.occurred_at.date()
    if not spiff.from_ <= day <= spiff.to:
        return False
    if spiff.category is not None and sale.category != spiff.category:
        return False
    return spiff.min_amount is None or credit >= spiff.min_amount


def spiff_of_sale(spiff: Spiff, sale: SaleFact, credit: Decimal) -> tuple[Decimal, Step]:
    """What one qualifying sale earns: the fixed amount × the rep's share, or the
    rate × the credited amount."""
    if spiff.amount is not None:
        earned = CALC.multiply(spiff.amount, sale.share)
        how: dict[str, object] = {"fixed": money(spiff.amount), "share": ratio(sale.share)}
    else:
        assert spiff.rate is not None, "a SPIFF has an amount or a rate"
        earned = CALC.multiply(credit, spiff.rate)
        how = {"rate": ratio(spiff.rate)}
    return earned, step(
        "spiff_sale",
        (sale.event_id,),
        spiff_id=spiff.id,
        sale_id=sale.sale_id,
        credited=credit,
        category=sale.category or "(none)",
        earned=earned,
        **how,
    )


def spiff_lines(plan: Plan, credited: Credited, plan_event_id: str | None = None) -> list[Line]:
    """A ``spiff`` line per SPIFF of the plan that a credited sale of the period
    qualifies for, a step per sale."""
    lines = []
    for spiff in plan.spiffs:
        total = Decimal(0)
        steps: list[Step] = []
        for sale, credit in credited.by_sale:
            if not qualifies(spiff, sale, credit):
                continue
            earned, sale_step = spiff_of_sale(spiff, sale, credit)
            total = CALC.add(total, earned)
            steps.append(sale_step)
        if not steps:
            continue
        steps.append(
            step(
                "spiff_total",
                (plan_event_id,),
                spiff_id=spiff.id,
                window_from=spiff.from_.isoformat(),
                window_to=spiff.to.isoformat(),
                category=spiff.category or "(any)",
                min_amount=money(spiff.min_amount) if spiff.min_amount is not None else None,
                sales=len(steps),
                amount=total,
            )
        )
        lines.append(Line.of("spiff", total, steps))
    return lines
