"""Credited sales and commission (SPEC §3, rules 1 and 2)."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter

from policies.explanation import Line, Step, recorded, step
from policies.facts import SaleFact
from policies.plan import Plan
from policies.rounding import CALC, number_text, ratio_text

__all__ = [
    "Credited",
    "SaleStepKey",
    "SaleSteps",
    "cancelled_within_window",
    "commission_line",
    "commission_total_step",
    "credited_sales",
    "sale_commission_step",
    "sale_rate",
    "window_end",
]

# A credited sale's commission step is a function of the sale event, the rep's
# share and the plan version alone (the rep is not in it): the key of a cache of
# (commission, step) that a projection keeps between its batches (`SaleSteps`).
SaleStepKey = tuple[str, Decimal, str, int]
SaleSteps = MutableMapping[SaleStepKey, tuple[Decimal, Step]]


@dataclass(frozen=True)
class Credited:
    total: Decimal
    by_sale: tuple[tuple[SaleFact, Decimal], ...]  # credited sales and their credit
    steps: tuple[Step, ...]


def window_end(sold_at: datetime, window_days: int) -> datetime:
    """SPEC §3 rule 1: the last moment a cancellation takes a sale back — "at
    most ``window_days`` after the sale's" ``occurred_at``, compared to the
    second (a cancellation at 18:00 on day 90 of a sale at 10:00 is 90 days
    and 8 hours after it: outside a 90-day window). In the sale's offset."""
    return sold_at + timedelta(days=window_days)


def _clawed_back(sale: SaleFact, window_days: int) -> tuple[bool, dict[str, object]]:
    """Whether ``sale`` was cancelled within the window, and the step values
    that say so: the two moments compared (the cancellation, the window's
    end) and the whole days between sale and cancellation."""
    if sale.cancellation is None:
        return False, {}
    cancelled_at = sale.cancellation.occurred_at
    moments = {
        "cancelled_at": cancelled_at.isoformat(),
        "window_ends_at": window_end(sale.occurred_at, window_days).isoformat(),
        "days": (cancelled_at - sale.occurred_at).days,
    }
    return cancelled_within_window(sale, window_days), moments


def cancelled_within_window(sale: SaleFact, window_days: int) -> bool:
    """Rule 1: whether ``sale`` was cancelled within the clawback window (taken
    back: never credited) — the moments compared, and no step's words made."""
    cancel = sale.cancellation
    return cancel is not None and cancel.occurred_at <= window_end(sale.occurred_at, window_days)


# Sales in business order: by occurred_at, then position (fields 3 and 2 of a
# SaleFact; a C key function instead of a lambda, per sale of a period).
_BUSINESS_ORDER = itemgetter(3, 2)
assert SaleFact._fields[3] == "occurred_at"
assert SaleFact._fields[2] == "position"


def credited_sales(plan: Plan, sales: Sequence[SaleFact]) -> Credited:
    """Rule 1: each sale in the period times the rep's share, less those cancelled
    within the clawback window; a later cancellation changes nothing."""
    window = plan.clawback.window_days
    total = Decimal(0)
    kept: list[tuple[SaleFact, Decimal]] = []
    steps: list[Step] = []
    multiply, add = CALC.multiply, CALC.add
    for sale in sorted(sales, key=_BUSINESS_ORDER):
        if sale.fx is not None:  # SPEC §3.1: converted into the plan's currency
            steps.append(sale.fx)
        cancel = sale.cancellation
        if cancel is None:  # most sales: no clawback to weigh
            credit = multiply(sale.amount, sale.share)
            total = add(total, credit)
            kept.append((sale, credit))
            continue
        reversed_, moments = _clawed_back(sale, window)
        if reversed_:
            assert cancel is not None
            steps.append(
                step(
                    "sale_clawed_back",
                    (sale.event_id, cancel.event_id),
                    sale_id=sale.sale_id,
                    amount=recorded(sale.amount),
                    window_days=window,
                    reason=cancel.reason,
                    **moments,
                )
            )
            continue
        credit = multiply(sale.amount, sale.share)
        total = add(total, credit)
        kept.append((sale, credit))
        steps.append(
            step(
                "cancellation_outside_window",
                (sale.event_id, cancel.event_id),
                sale_id=sale.sale_id,
                window_days=window,
                **moments,
            )
        )
    return Credited(total, tuple(kept), tuple(steps))


def sale_commission_step(
    sale: SaleFact, credit: Decimal, rate: Decimal, rate_source: str, commission: Decimal
) -> Step:
    """One credited sale's step: amount × share = credited, × rate = commission.

    What `step` would make of the same values, spelled out: a statement has a
    step per sale, a rebuild makes a million of them, and the generic `step`
    (a loop over keyword arguments, a type test and a text conversion per value)
    cost three times as much. The share and rate are among a handful of values
    (their text is cached); a test pins this to the generic form.
    """
    return Step(
        "sale_commission",
        {
            "sale_id": sale.sale_id,
            "amount": recorded(sale.amount),
            "share": _ratio_text(sale.share),
            "credited": number_text(credit),
            "category": sale.category or "(none)",
            "rate": _ratio_text(rate),
            "rate_source": rate_source,
            "commission": number_text(commission),
        },
        (sale.event_id,),
    )


@lru_cache(maxsize=1024)
def _ratio_text(value: Decimal) -> str:
    """`ratio_text` (4 places, SPEC §3) of a value drawn from a small set
    (shares, plan rates)."""
    return ratio_text(value)


def sale_rate(plan: Plan, category: str | None) -> tuple[Decimal, str]:
    """Rule 2: the rate of a sale's category, else the plan's default rate
    (and which of the two it is)."""
    rates = plan.commission.rates
    if category is not None and category in rates:
        return rates[category], "category"
    return plan.commission.default_rate, "default"


def commission_line(
    plan: Plan,
    credited: Credited,
    plan_event_id: str | None = None,
    known: SaleSteps | None = None,
) -> Line:
    """Rule 2: commission = Σ credited amount × the rate of its category
    (else the plan's default rate); one line, rounded once.

    ``known``: sale steps worked out before (the same result, not worked out
    again); new ones are added to it.
    """
    steps: list[Step] = []
    total = Decimal(0)
    multiply, add = CALC.multiply, CALC.add
    for sale, credit in credited.by_sale:
        if known is not None and sale.fx is None:  # a converted amount may change
            key = (sale.event_id, sale.share, plan.id, plan.version)
            if (hit := known.get(key)) is not None:
                total = add(total, hit[0])
                steps.append(hit[1])
                continue
        rate, source = sale_rate(plan, sale.category)
        amount = multiply(credit, rate)
        total = add(total, amount)
        steps.append(sale_commission_step(sale, credit, rate, source, amount))
        if known is not None and sale.fx is None:
            known[key] = (amount, steps[-1])
    steps.extend(credited.steps)
    steps.append(commission_total_step(plan, plan_event_id, credited, total, len(credited.by_sale)))
    return Line.of("commission", total, steps)


def commission_total_step(
    plan: Plan, plan_event_id: str | None, credited: Credited, total: Decimal, sales: int
) -> Step:
    """The commission line's last step: ``total`` over ``sales`` credited sales."""
    return step(
        "commission_total",
        (plan_event_id,),
        credited_total=credited.total,
        commission=total,
        sales=sales,
        plan_id=plan.id,
        plan_version=plan.version,
    )
