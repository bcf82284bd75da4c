"""One rep's payout for one period (SPEC §3): the entry point of the policies."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from policies.commission import SaleSteps, commission_line, credited_sales
from policies.corrections import carried_balance_line, correction_line
from policies.discipline import fine_lines
from policies.draws import DrawResult, draw_lines
from policies.explanation import Line, money, step
from policies.facts import PendingItem, PeriodFacts
from policies.overrides import override_lines
from policies.pay_warnings import PayWarning, period_warnings
from policies.plan import Plan
from policies.proration import Proration, proration
from policies.rounding import CALC
from policies.shapes import SALES_KPI, shaped_commission_lines, uses_commission_shapes
from policies.spiffs import spiff_lines
from policies.tiers import bonus_line, effective_target

__all__ = ["PeriodResult", "adjustment_lines", "calculate_period"]


@dataclass(frozen=True)
class PeriodResult:
    lines: tuple[Line, ...]
    attainment: Fraction | None  # exact (SPEC §3); shown to 4 places
    score: Fraction | None
    tier_coefficient: Decimal | None
    total: Decimal
    payable: Decimal
    pending: tuple[PendingItem, ...]
    carry_out: Decimal
    warnings: tuple[PayWarning, ...] = ()  # probable typos that change pay
    # SPEC §3.1 draws: the recoverable balance before and after the period
    # (None: the plan has no draw)
    draw_balance_before: Decimal | None = None
    draw_balance_after: Decimal | None = None


def adjustment_lines(facts: PeriodFacts) -> list[Line]:
    """Rule 6: approved adjustments for the period, one signed line each."""
    lines = []
    for a in sorted(facts.adjustments, key=lambda a: (a.occurred_at, a.position)):
        if a.decision.status != "approved":
            continue
        lines.append(
            Line.of(
                "adjustment",
                a.amount,
                [
                    step(
                        "adjustment_approved",
                        (a.event_id, a.decision.event_id),
                        adjustment_id=a.adjustment_id,
                        reason=a.reason,
                        amount=money(a.amount),
                        approved_by=a.decision.actor,
                        dispute_id=a.dispute_id,
                    )
                ],
            )
        )
    return lines


def _pending(facts: PeriodFacts) -> tuple[PendingItem, ...]:
    items = [
        *(
            (t.position, PendingItem("target", t.target_id, t.event_id))
            for t in facts.targets
            if t.decision.status == "pending"
        ),
        *(
            (c.position, PendingItem("case", c.case_id, c.event_id))
            for c in facts.cases
            if c.decision.status == "pending" and c.overturned_by is None
        ),
        *(
            (a.position, PendingItem("adjustment", a.adjustment_id, a.event_id))
            for a in facts.adjustments
            if a.decision.status == "pending"
        ),
    ]
    return tuple(item for _, item in sorted(items, key=lambda p: p[0]))


def calculate_period(
    plan: Plan, facts: PeriodFacts, known: SaleSteps | None = None
) -> PeriodResult:
    """Rule 8: total = commission + bonus − fines + adjustments + corrections +
    carried balance, each line rounded first; payable = the total when positive;
    a negative total is carried into the next period. ``known``: see
    `policies.commission.commission_line`."""
    assert plan.period == facts.period.kind, "the plan pays by this kind of period"
    with localcontext(CALC):
        credited = credited_sales(plan, facts.sales)
        bonus = bonus_line(
            plan,
            credited_total=credited.total,
            targets=facts.targets,
            scores=facts.kpi_scores,
            cases=facts.cases,
            minor_history=facts.minor_history,
            plan_event_id=facts.plan_event_id,
            proration=_proration(plan, facts),
        )
        if uses_commission_shapes(plan):
            lines = shaped_commission_lines(
                plan, credited, effective_target(facts.targets, SALES_KPI), facts.plan_event_id
            )
        else:
            lines = [commission_line(plan, credited, facts.plan_event_id, known)]
        lines += spiff_lines(plan, credited, facts.plan_event_id)
        lines.append(bonus.line)
        lines += _override_lines(plan, facts)
        lines += fine_lines(plan, facts.cases)
        lines += adjustment_lines(facts)
        lines += [correction_line(c) for c in facts.corrections]
        if facts.carried_in is not None:
            lines.append(carried_balance_line(facts.carried_in))
        total = sum((line.amount for line in lines), Decimal(0))
        drawn = _draw(plan, facts, total)
        if drawn is not None:
            lines += drawn.lines
            total = sum((line.amount for line in lines), Decimal(0))
    return PeriodResult(
        lines=tuple(lines),
        attainment=bonus.attainment,
        score=bonus.score,
        tier_coefficient=bonus.tier_coefficient,
        total=total,
        payable=total if total > 0 else Decimal("0.00"),
        pending=_pending(facts),
        carry_out=total if total < 0 else Decimal("0.00"),
        warnings=period_warnings(plan, facts),
        draw_balance_before=drawn.balance_before if drawn is not None else None,
        draw_balance_after=drawn.balance_after if drawn is not None else None,
    )


def _proration(plan: Plan, facts: PeriodFacts) -> Proration | None:
    """SPEC §3.1 ``prorate``: the rep's enrolled days of the period."""
    if not plan.bonus.prorate or facts.enrolled_on is None:
        return None
    return proration(facts.period, facts.enrolled_on, facts.left_on)


def _override_lines(plan: Plan, facts: PeriodFacts) -> list[Line]:
    """SPEC §3.1 overrides: a manager's share of their reports' credited sales."""
    if plan.override is None or facts.reporting is None:
        return []
    return override_lines(
        facts.rep_id, plan.override, facts.team_sales, facts.reporting, facts.plan_event_id
    )


def _draw(plan: Plan, facts: PeriodFacts, earned: Decimal) -> DrawResult | None:
    """SPEC §3.1 draws, on the total before the draw (E)."""
    if plan.draw is None:
        return None
    first = facts.first_period or facts.period
    return draw_lines(
        plan.draw,
        facts.period,
        first,
        earned,
        facts.draw_balance_in,
        plan_event_id=facts.plan_event_id,
    )
