"""Discipline (SPEC §3): the minor-violation ladder and red-line sanctions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from policies.explanation import Line, Step, money, recorded, step
from policies.facts import CaseFact
from policies.plan import Plan

__all__ = [
    "LADDER_LOOKBACK",
    "fine_lines",
    "minor_deductions",
    "minor_rungs",
    "red_line_forfeits",
    "rung_points",
]

_YEAR = timedelta(days=365)
LADDER_LOOKBACK = _YEAR  # how far back a minor case looks for earlier ones


def minor_rungs(ladder: Sequence[str], cases: Sequence[CaseFact]) -> dict[str, str]:
    """Each minor case takes the next rung of the ladder: its index is the number
    of the rep's other minor cases, not overturned, that occurred in the 365 days
    before it (the last rung repeats). Overturned cases take no rung."""
    live = sorted(
        (c for c in cases if c.severity == "minor" and c.overturned_by is None),
        key=lambda c: (c.occurred_at, c.position),
    )
    rungs: dict[str, str] = {}
    for i, case in enumerate(live):
        prior = sum(1 for other in live[:i] if case.occurred_at - other.occurred_at <= _YEAR)
        rungs[case.case_id] = ladder[min(prior, len(ladder) - 1)]
    return rungs


def rung_points(rung: str) -> int:
    """Points a rung deducts: "points:N" -> N, "warning" -> 0."""
    return int(rung.split(":", 1)[1]) if rung.startswith("points:") else 0


def minor_deductions(
    plan: Plan, cases: Sequence[CaseFact], history: Sequence[CaseFact]
) -> tuple[Decimal, tuple[Step, ...]]:
    """Points of this period's minor cases, in money, with a step per case."""
    rungs = minor_rungs(plan.discipline.minor_ladder, history)
    total = Decimal(0)
    steps: list[Step] = []
    for case in sorted(cases, key=lambda c: (c.occurred_at, c.position)):
        if case.severity != "minor":
            continue
        if case.overturned_by is not None:
            steps.append(
                step("case_overturned", (case.event_id, case.overturned_by), case_id=case.case_id)
            )
            continue
        rung = rungs[case.case_id]
        points = rung_points(rung)
        deduction = plan.discipline.point_value * points
        total += deduction
        steps.append(
            step(
                "points_deducted" if points else "minor_warning",
                (case.event_id,),
                case_id=case.case_id,
                code=case.code,
                rung=rung,
                points=points,
                point_value=money(plan.discipline.point_value),
                deduction=money(deduction),
            )
        )
    return total, tuple(steps)


def _counting_red_lines(cases: Sequence[CaseFact]) -> list[CaseFact]:
    return sorted(
        (c for c in cases if c.severity == "red_line" and c.in_force),
        key=lambda c: (c.occurred_at, c.position),
    )


def red_line_forfeits(plan: Plan, cases: Sequence[CaseFact]) -> tuple[Step, ...]:
    """Approved red-line cases that forfeit the period's bonus (empty: none)."""
    if not plan.discipline.red_line.forfeit_bonus:
        return ()
    return tuple(
        step(
            "bonus_forfeited",
            (case.event_id, case.decision.event_id),
            case_id=case.case_id,
            code=case.code,
            approved_by=case.decision.actor,
        )
        for case in _counting_red_lines(cases)
    )


def fine_lines(plan: Plan, cases: Sequence[CaseFact]) -> list[Line]:
    """Rule 5: an approved red-line case with fine = "amount" fines the money
    involved, in the period it occurred (one negative line per case)."""
    if plan.discipline.red_line.fine != "amount":
        return []
    lines = []
    for case in _counting_red_lines(cases):
        if case.amount is None:
            continue
        lines.append(
            Line.of(
                "fine",
                -case.amount,
                [
                    step(
                        "fine_red_line",
                        (case.event_id, case.decision.event_id),
                        case_id=case.case_id,
                        code=case.code,
                        amount=recorded(case.amount),
                        approved_by=case.decision.actor,
                    )
                ],
            )
        )
    return lines
