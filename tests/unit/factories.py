"""Plain facts for policy tests (no events, no database)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from policies.facts import (
    AdjustmentFact,
    CancellationFact,
    CaseFact,
    Decision,
    KpiScoreFact,
    PeriodFacts,
    SaleFact,
    TargetFact,
)
from policies.periods import parse_period
from policies.plan import Plan, load_plan
from tests.builders import PLAN_TOML

PLAN: Plan = load_plan(PLAN_TOML, "toml")
_positions = count(1)
BASE = datetime.fromisoformat("2026-07-10T10:00:00+08:00")
APPROVED = Decision("approved", "approval-event", "fin-bob")
NOT_REQUIRED = Decision("not_required")
PENDING = Decision("pending")


def at(days: float) -> datetime:
    return BASE + timedelta(days=days)


def sale(
    amount: str,
    *,
    sale_id: str | None = None,
    share: str = "1",
    category: str | None = "hardware",
    day: float = 0,
    cancelled_after_days: float | None = None,
) -> SaleFact:
    n = next(_positions)
    sid = sale_id or f"S{n}"
    occurred = at(day)
    cancellation = None
    if cancelled_after_days is not None:
        cancellation = CancellationFact(
            f"cancel-{sid}", next(_positions), occurred + timedelta(days=cancelled_after_days), "x"
        )
    return SaleFact(
        sid, f"event-{sid}", n, occurred, Decimal(amount), Decimal(share), category, cancellation
    )


def target(
    value: str, *, decision: Decision = NOT_REQUIRED, day: float = -20, tid: str | None = None
) -> TargetFact:
    n = next(_positions)
    return TargetFact(
        tid or f"T{n}", f"event-T{n}", n, at(day), "sales_amount", Decimal(value), decision
    )


def score(kpi: str, value: str) -> KpiScoreFact:
    n = next(_positions)
    return KpiScoreFact(kpi, Decimal(value), f"event-K{n}", n, at(60))


def drawn_scores(draw: DrawFn) -> tuple[KpiScoreFact, ...]:
    """Hypothesis: a score from 0 to 2 for each of the plan's scored KPIs, or none."""
    return tuple(
        score(k, str(draw(st.decimals(0, 2, places=2))))
        for k in ("customer_satisfaction", "market_feedback")
        if draw(st.booleans())
    )


def case(
    severity: str = "minor",
    *,
    day: float = 0,
    amount: str | None = None,
    decision: Decision = NOT_REQUIRED,
    overturned: bool = False,
    case_id: str | None = None,
) -> CaseFact:
    n = next(_positions)
    cid = case_id or f"C{n}"
    return CaseFact(
        cid,
        f"event-{cid}",
        n,
        at(day),
        "code",
        severity,  # type: ignore[arg-type]
        Decimal(amount) if amount else None,
        decision,
        f"overturn-{cid}" if overturned else None,
    )


def adjustment(amount: str, decision: Decision = APPROVED) -> AdjustmentFact:
    n = next(_positions)
    return AdjustmentFact(f"A{n}", f"event-A{n}", n, at(30), Decimal(amount), "reason", decision)


def facts(**kwargs: object) -> PeriodFacts:
    kwargs.setdefault("minor_history", kwargs.get("cases", ()))
    return PeriodFacts(rep_id="r1", period=parse_period("2026-Q3"), **kwargs)  # type: ignore[arg-type]
