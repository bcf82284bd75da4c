"""One rep's payout for one period (SPEC §3): the entry point of the policies."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from policies.commission import SaleSteps, commission_line, credited_sales
from policies.corrections import carried_balance_line, correction_line
from policies.discipline import fine_lines
from policies.explanation import Line, money, step
from policies.facts import PendingItem, PeriodFacts
from policies.pay_warnings import PayWarning, period_warnings
from policies.plan import Plan
from policies.rounding import CALC
from policies.tiers import bonus_line

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
        )
        lines = [commission_line(plan, credited, facts.plan_event_id, known), bonus.line]
        lines += fine_lines(plan, facts.cases)
        lines += adjustment_lines(facts)
        lines += [correction_line(c) for c in facts.corrections]
        if facts.carried_in is not None:
            lines.append(carried_balance_line(facts.carried_in))
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
    )
