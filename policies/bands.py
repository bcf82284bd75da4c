"""Commission tiers (SPEC §3.1): bands by attainment or by credited money,
marginal or retroactive, each band a multiplier of the category rate or a rate
of its own.

Bands are compared exactly. A band measured by attainment starts at ``from`` ×
the approved ``sales_amount`` target in money (a product of two decimals: exact),
so "the running total crosses a band's lower bound" is a comparison of money
with money, and ``credited / target >= from`` holds exactly when it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from policies.commission import Credited, sale_commission_step, sale_rate
from policies.explanation import Step, ratio, step
from policies.facts import SaleFact
from policies.plan import Band, CommissionTiers, Plan
from policies.rounding import CALC, number_text, shown_as_reached

__all__ = [
    "SaleCommission",
    "band_bounds",
    "band_of",
    "band_rate",
    "base_rate_sales",
    "marginal_parts",
    "tiered_sales",
]


@dataclass(frozen=True)
class SaleCommission:
    """One credited sale's commission after tiers (unrounded) and its steps."""

    sale: SaleFact
    credit: Decimal
    amount: Decimal
    steps: tuple[Step, ...]


def band_bounds(tiers: CommissionTiers, target: Decimal | None) -> tuple[Decimal, ...] | None:
    """Each band's lower bound in money: ``from`` itself when the measure is
    credited money, ``from`` × target when it is attainment (None: no target,
    so attainment bands cannot apply)."""
    if tiers.measure == "credited":
        return tuple(b.from_ for b in tiers.bands)
    if target is None or target <= 0:
        return None
    return tuple(CALC.multiply(b.from_, target) for b in tiers.bands)


def band_of(bounds: Sequence[Decimal], measure: Decimal) -> int:
    """The index of the highest band whose lower bound (inclusive) is at most
    ``measure``."""
    chosen = 0
    for i, bound in enumerate(bounds):
        if bound <= measure:
            chosen = i
    return chosen


def band_rate(band: Band, base_rate: Decimal) -> Decimal:
    """A band's rate for a sale: its own ``rate``, else the sale's category
    rate × the band's ``multiplier``."""
    if band.rate is not None:
        return band.rate
    assert band.multiplier is not None, "a band has a multiplier or a rate"
    return CALC.multiply(base_rate, band.multiplier)


def marginal_parts(
    before: Decimal, credit: Decimal, bounds: Sequence[Decimal]
) -> list[tuple[int, Decimal]]:
    """SPEC §3.1 marginal tiers: a sale's credited amount cut where the running
    total (``before`` → ``before + credit``) crosses a band's lower bound, as
    (band index, part). The parts sum to ``credit``; a zero credit is one empty
    part in the band the running total is in."""
    after = CALC.add(before, credit)
    if credit <= 0:
        return [(band_of(bounds, before), credit)]
    start_band = band_of(bounds, before)
    if start_band + 1 == len(bounds) or after <= bounds[start_band + 1]:
        return [(start_band, credit)]  # most sales: within one band
    parts: list[tuple[int, Decimal]] = []
    for i, lower in enumerate(bounds):
        upper = bounds[i + 1] if i + 1 < len(bounds) else None
        start = max(before, lower)
        end = after if upper is None else min(after, upper)
        if end > start:
            parts.append((i, CALC.subtract(end, start)))
    return parts


def _measure_values(
    tiers: CommissionTiers, measure: Decimal, target: Decimal | None
) -> dict[str, object]:
    if tiers.measure == "attainment":
        assert target is not None
        return {"attainment": Fraction(measure) / Fraction(target)}
    return {"credited": measure}


def _band_texts(tiers: CommissionTiers) -> list[dict[str, str]]:
    """Each band's fixed values as a step shows them (worked out once a period)."""
    texts = []
    for band in tiers.bands:
        shown: dict[str, str] = {
            "band_from": ratio(band.from_)
            if tiers.measure == "attainment"
            else number_text(band.from_)
        }
        if band.multiplier is not None:
            shown["multiplier"] = ratio(band.multiplier)
        if band.rate is not None:
            shown["band_rate"] = ratio(band.rate)
        texts.append(shown)
    return texts


def tiered_sales(
    plan: Plan, credited: Credited, target: Decimal | None, target_event_ids: Sequence[str] = ()
) -> tuple[list[SaleCommission], list[Step]] | None:
    """SPEC §3.1: each credited sale's commission under the plan's bands, in
    business order, and the steps that say which band the period reached.
    None when the bands cannot apply (measured by attainment, with no target).

    A statement makes a step per sale part: the steps are made straight from
    their values (as `policies.commission.sale_commission_step` does), each
    band's fixed text worked out once."""
    tiers = plan.commission.tiers
    assert tiers is not None
    bounds = band_bounds(tiers, target)
    if bounds is None:
        return None
    bands = tiers.bands
    texts = _band_texts(tiers)
    final = credited.total
    reached = band_of(bounds, final)
    retroactive = tiers.method == "retroactive"
    multiply, add = CALC.multiply, CALC.add
    # (category, band) -> its rate and the step values every sale of it shares
    fixed: dict[tuple[str | None, int], tuple[Decimal, dict[str, str]]] = {}
    result: list[SaleCommission] = []
    running = Decimal(0)
    for sale, credit in credited.by_sale:
        parts = [(reached, credit)] if retroactive else marginal_parts(running, credit, bounds)
        running = add(running, credit)
        total = Decimal(0)
        steps = []
        for index, part in parts:
            known = fixed.get((sale.category, index))
            if known is None:
                base_rate, source = sale_rate(plan, sale.category)
                rate = band_rate(bands[index], base_rate)
                known = fixed[sale.category, index] = (
                    rate,
                    {
                        "category": sale.category or "(none)",
                        **texts[index],
                        "base_rate": ratio(base_rate),
                        "rate_source": source,
                        "rate": ratio(rate),
                    },
                )
            rate, shown = known
            amount = multiply(part, rate)
            total = add(total, amount)
            values = {"sale_id": sale.sale_id, "credited": number_text(part), **shown}
            values["commission"] = number_text(amount)
            steps.append(Step("sale_band", values, (sale.event_id,)))
        result.append(SaleCommission(sale, credit, total, tuple(steps)))
    summary = step(
        "tiers_reached",
        target_event_ids,
        measure=tiers.measure,
        method=tiers.method,
        band_from=texts[reached]["band_from"],
        **_measure_values(tiers, final, target),
    )
    return result, [summary, *_below_next_band(tiers, reached, final, target)]


def _below_next_band(
    tiers: CommissionTiers, reached: int, final: Decimal, target: Decimal | None
) -> list[Step]:
    """A step when the period's attainment reads, to 4 places, as the next
    band's bound while it is below it (`policies.rounding.shown_as_reached`):
    "reached the band from 0.0000 (attainment 1.0000)" reads as the band from
    1.0 skipped. Money (``credited``) is shown exactly: never."""
    if tiers.measure != "attainment" or target is None or reached + 1 >= len(tiers.bands):
        return []
    attainment = Fraction(final) / Fraction(target)
    shown = shown_as_reached(attainment, tiers.bands[reached + 1].from_)
    if shown is None:
        return []
    return [step("band_next_not_reached", attainment_shown=shown[0], band_from_shown=shown[1])]


def base_rate_sales(plan: Plan, credited: Credited) -> list[SaleCommission]:
    """Each credited sale at its category rate (no bands apply): the step of
    rule 2 (`policies.commission.sale_commission_step`)."""
    result = []
    for sale, credit in credited.by_sale:
        rate, source = sale_rate(plan, sale.category)
        amount = CALC.multiply(credit, rate)
        commission_step = sale_commission_step(sale, credit, rate, source, amount)
        result.append(SaleCommission(sale, credit, amount, (commission_step,)))
    return result
