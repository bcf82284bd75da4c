"""Attainment, the weighted score, tiers and the bonus (SPEC §3, rules 3 and 4).

Attainment and the score are exact (`fractions.Fraction`): attainment is the
quotient of credited sales by the target, never a rounded division, so a score
that is 1 on paper is 1 here and selects the tier from 1 (8500 / 7000 × 0.7 +
0.5 × 0.3 = 1 exactly; a 28-digit Decimal division made it 0.99…98 and paid the
tier below).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from typing import NamedTuple

from policies.discipline import minor_deductions, red_line_forfeits
from policies.explanation import Line, Step, money, ratio, step
from policies.facts import KpiScoreFact, PeriodFacts, TargetFact
from policies.plan import Plan, Tier
from policies.proration import Proration
from policies.rounding import CALC, shown_as_reached

__all__ = ["BonusResult", "bonus_line", "effective_target", "tier_for"]

SALES_KPI = "sales_amount"


@dataclass(frozen=True)
class BonusResult:
    line: Line
    attainment: Fraction | None
    score: Fraction | None
    tier_coefficient: Decimal | None


def tier_for(tiers: Sequence[Tier], score: Fraction) -> Tier:
    """The highest tier whose lower bound ("from", inclusive) is at most the
    score, compared exactly (a Decimal bound converts to a Fraction without loss)."""
    chosen = tiers[0]
    for tier in tiers:
        if Fraction(tier.from_) <= score:
            chosen = tier
    return chosen


def attainment_of(credited_total: Decimal, target: Decimal) -> Fraction:
    """Rule 3: credited sales ÷ the approved target, as an exact quotient."""
    return Fraction(credited_total) / Fraction(target)


def effective_target(targets: Sequence[TargetFact], kpi: str) -> TargetFact | None:
    """The target that counts: approved (or needing no approval), the latest by
    business time; a later TargetSet replaces an earlier one."""
    counting = [t for t in targets if t.kpi == kpi and t.decision.counts]
    return max(counting, key=lambda t: (t.occurred_at, t.position), default=None)


def _latest_score(scores: Sequence[KpiScoreFact], kpi: str) -> KpiScoreFact | None:
    return max(
        (s for s in scores if s.kpi == kpi), key=lambda s: (s.occurred_at, s.position), default=None
    )


def _score(
    plan: Plan, credited_total: Decimal, target: TargetFact, scores: Sequence[KpiScoreFact]
) -> tuple[Fraction, Fraction, list[Step]]:
    """Rule 3: score = Σ weight × attainment, exact."""
    steps: list[Step] = []
    attainment = attainment_of(credited_total, target.value)
    total = Fraction(0)
    for weight in plan.bonus.kpis:
        value: Fraction
        if weight.kpi == SALES_KPI:
            value = attainment
            steps.append(
                step(
                    "attainment",
                    (target.event_id, target.decision.event_id),
                    kpi=SALES_KPI,
                    credited=credited_total,
                    target=target.value,
                    target_id=target.target_id,
                    attainment=attainment,
                    weight=ratio(weight.weight),
                )
            )
        else:
            latest = _latest_score(scores, weight.kpi)
            value = Fraction(latest.score) if latest else Fraction(0)
            steps.append(
                step(
                    "kpi_score" if latest else "kpi_missing",
                    (latest.event_id,) if latest else (),
                    kpi=weight.kpi,
                    score=value,
                    weight=ratio(weight.weight),
                )
            )
        total += Fraction(weight.weight) * value
    steps.append(step("weighted_score", score=total))
    return attainment, total, steps


def bonus_line(
    plan: Plan,
    facts: PeriodFacts,
    *,
    credited_total: Decimal,
    proration: Proration | None = None,
) -> BonusResult:
    """Rule 4: target_bonus × the tier coefficient of the score, capped at cap ×
    target_bonus, less deducted points × point_value (not below 0); 0 when an
    approved red-line case with forfeit_bonus occurred in the period. ``facts``:
    the period's targets, KPI scores and cases (and the plan's event).

    ``proration`` (SPEC §3.1, ``prorate``): the target bonus scaled by the
    enrolled days replaces it everywhere here, the cap included, unrounded
    until the line is rounded."""
    bonus, plan_event_id = plan.bonus, facts.plan_event_id
    deduction, discipline_steps = minor_deductions(plan, facts.cases, facts.minor_history)
    forfeits = red_line_forfeits(plan, facts.cases)
    target = effective_target(facts.targets, SALES_KPI)
    prorated = [] if proration is None else [proration.step(bonus.target_bonus, (plan_event_id,))]
    if target is None:
        steps = [
            step("no_sales_target", (plan_event_id,), kpi=SALES_KPI, plan_id=plan.id),
            *prorated,
            *discipline_steps,
            *forfeits,
        ]
        return BonusResult(Line.of("bonus", Decimal(0), steps), None, None, None)
    attainment, score, steps = _score(plan, credited_total, target, facts.kpi_scores)
    steps.extend(prorated)
    tier = tier_for(bonus.tiers, score)
    selected = _Selected(plan, tier, score, plan_event_id)
    if proration is not None:
        deducted = _Deducted(deduction, discipline_steps, forfeits)
        line = _prorated_bonus(selected, proration, steps, deducted)
        return BonusResult(line, attainment, score, tier.coefficient)
    amount = CALC.multiply(bonus.target_bonus, tier.coefficient)
    steps.append(selected.step(bonus.target_bonus, amount))
    steps.extend(selected.below_next())
    ceiling = CALC.multiply(bonus.cap, bonus.target_bonus)
    if amount > ceiling:
        steps.append(step("bonus_capped", cap=ratio(bonus.cap), ceiling=money(ceiling)))
        amount = ceiling
    steps.extend(discipline_steps)
    if deduction:
        after = max(amount - deduction, Decimal(0))
        steps.append(step("bonus_after_points", deduction=money(deduction), amount=money(after)))
        amount = after
    if forfeits:
        steps.extend(forfeits)
        amount = Decimal(0)
    return BonusResult(Line.of("bonus", amount, steps), attainment, score, tier.coefficient)


class _Selected(NamedTuple):
    """The tier a score selects in a plan."""

    plan: Plan
    tier: Tier
    score: Fraction
    plan_event_id: str | None

    def step(self, target_bonus: Decimal, amount: Decimal) -> Step:
        """The step that says so: the (scaled) target bonus and what the tier makes of it."""
        tier = self.tier
        return step(
            "tier_selected",
            (self.plan_event_id,),
            score=self.score,
            tier_from=ratio(tier.from_),
            coefficient=ratio(tier.coefficient),
            target_bonus=money(target_bonus),
            amount=money(amount),
            plan_id=self.plan.id,
            plan_version=self.plan.version,
        )

    def below_next(self) -> list[Step]:
        """A step when the score reads, to the 4 places ratios are shown with,
        as the next tier's bound while it is below it (0.99995 is "1.0000"):
        the tier step alone — "Score 1.0000 reaches the tier from 0.8000" —
        reads as a tier skipped (`shown_as_reached`). None otherwise."""
        above = [t for t in self.plan.bonus.tiers if Fraction(t.from_) > self.score]
        shown = shown_as_reached(self.score, above[0].from_) if above else None
        if shown is None:
            return []
        return [
            step(
                "tier_next_not_reached",
                (self.plan_event_id,),
                score_shown=shown[0],
                tier_from_shown=shown[1],
                coefficient=ratio(above[0].coefficient),
            )
        ]


class _Deducted(NamedTuple):
    """What discipline takes from a bonus: points' worth, their steps, red-line forfeits."""

    deduction: Decimal
    steps: Sequence[Step]
    forfeits: Sequence[Step]


# Enough digits to carry a prorated bonus (a Fraction whose denominator divides
# a period's days times the plan's decimals) to the cent without a double
# rounding: a quotient that is not a whole number of cents lies further than
# 10^-20 from the nearest half cent, far above this precision's error.
_PRORATED = Context(prec=60, rounding=ROUND_HALF_UP)


def _decimal_of(value: Fraction) -> Decimal:
    return _PRORATED.divide(Decimal(value.numerator), Decimal(value.denominator))


def _prorated_bonus(
    selected: _Selected, proration: Proration, steps: list[Step], deducted: _Deducted
) -> Line:
    """Rule 4's tier, cap and deductions on the prorated target bonus, in exact
    fractions (``steps``: the score's so far)."""
    bonus = selected.plan.bonus
    scaled = Fraction(bonus.target_bonus) * proration.fraction
    amount = scaled * Fraction(selected.tier.coefficient)
    steps.append(selected.step(_decimal_of(scaled), _decimal_of(amount)))
    steps.extend(selected.below_next())
    ceiling = Fraction(bonus.cap) * scaled
    if amount > ceiling:
        steps.append(
            step("bonus_capped", cap=ratio(bonus.cap), ceiling=money(_decimal_of(ceiling)))
        )
        amount = ceiling
    steps.extend(deducted.steps)
    if deducted.deduction:
        after = max(amount - Fraction(deducted.deduction), Fraction(0))
        steps.append(
            step(
                "bonus_after_points",
                deduction=money(deducted.deduction),
                amount=money(_decimal_of(after)),
            )
        )
        amount = after
    if deducted.forfeits:
        steps.extend(deducted.forfeits)
        amount = Fraction(0)
    return Line.of("bonus", _decimal_of(amount), steps)
