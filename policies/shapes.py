"""Commission under SPEC §3.1's shapes: tiers, then the per-sale cap, the
period cap and the gate, in that order. A plan that uses none of them is paid
by `policies.commission` exactly as before (`uses_commission_shapes`)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from policies.bands import SaleCommission, base_rate_sales, tiered_sales
from policies.caps import cap_sale, gate_line, period_cap_line
from policies.commission import Credited, commission_total_step
from policies.explanation import Line, Step, ratio, step
from policies.facts import TargetFact
from policies.plan import Plan
from policies.rounding import CALC, scaled

__all__ = ["commission_by_sale", "shaped_commission_lines", "uses_commission_shapes"]

SALES_KPI = "sales_amount"


def uses_commission_shapes(plan: Plan) -> bool:
    """Whether the plan's commission has tiers, a cap or a gate."""
    c = plan.commission
    return (
        c.tiers is not None
        or c.per_sale_cap is not None
        or c.period_cap is not None
        or c.gate is not None
    )


def _sales(
    plan: Plan, credited: Credited, target: TargetFact | None
) -> tuple[list[SaleCommission], list[Step]]:
    tiers = plan.commission.tiers
    if tiers is None:
        return base_rate_sales(plan, credited), []
    target_ids = (target.event_id, target.decision.event_id or "") if target else ()
    tiered = tiered_sales(
        plan, credited, target.value if target else None, [e for e in target_ids if e]
    )
    if tiered is not None:
        return tiered
    why = step("tiers_without_target", kpi=SALES_KPI, measure=tiers.measure)
    return base_rate_sales(plan, credited), [why]


def shaped_commission_lines(
    plan: Plan,
    credited: Credited,
    target: TargetFact | None,
    plan_event_id: str | None = None,
) -> list[Line]:
    """SPEC §3.1: the commission line (tiers, per-sale cap), then a ``cap`` line
    when the period cap is reached, then a ``gate`` line when the period's final
    attainment is below the gate. With no approved sales target, neither
    attainment bands nor the gate apply, and the steps say so."""
    c = plan.commission
    sales, tier_steps = _sales(plan, credited, target)
    steps: list[Step] = []
    total = Decimal(0)
    for sold in sales:
        amount, cut = cap_sale(sold.sale.sale_id, sold.amount, c.per_sale_cap)
        total = CALC.add(total, amount)
        steps.extend(sold.steps)
        if cut is not None:
            steps.append(cut)
    steps.extend(credited.steps)
    steps.extend(tier_steps)
    steps.append(commission_total_step(plan, plan_event_id, credited, total, len(sales)))
    commission = Line.of("commission", total, steps)
    lines = [commission]
    capped = period_cap_line(commission.amount, c.period_cap, plan_event_id)
    left = commission.amount
    if capped is not None:
        lines.append(capped)
        left += capped.amount
    if c.gate is not None:
        if target is None:
            lines[0] = Line.of(
                "commission",
                total,
                [*steps, step("gate_without_target", kpi=SALES_KPI, gate=ratio(c.gate))],
            )
        else:
            attainment = Fraction(credited.total) / Fraction(target.value)
            gated = gate_line(left, attainment, c.gate, (target.event_id, target.decision.event_id))
            if gated is not None:
                lines.append(gated)
    return lines


def commission_by_sale(
    plan: Plan, credited: Credited, target: TargetFact | None
) -> dict[str, Decimal]:
    """Each credited sale's share of the period's commission under the shapes
    (SPEC §3.1 pay on collection: what a payment of the sale releases): its
    commission after tiers and the per-sale cap, scaled by what the period cap
    and the gate left of the period's commission. Unrounded."""
    sales, _ = _sales(plan, credited, target)
    c = plan.commission
    by_sale: dict[str, Decimal] = {}
    gross = Decimal(0)
    for sold in sales:
        amount, _cut = cap_sale(sold.sale.sale_id, sold.amount, c.per_sale_cap)
        by_sale[sold.sale.sale_id] = CALC.add(by_sale.get(sold.sale.sale_id, Decimal(0)), amount)
        gross = CALC.add(gross, amount)
    lines = shaped_commission_lines(plan, credited, target)
    net = sum((line.amount for line in lines), Decimal(0))
    if gross == 0 or net == lines[0].amount:
        return by_sale
    left = Fraction(net) / Fraction(lines[0].amount) if lines[0].amount else Fraction(0)
    # what the caps and the gate left may be a third: no Decimal holds its share
    return {sale_id: scaled(amount, left) for sale_id, amount in by_sale.items()}
