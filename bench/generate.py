"""A seeded generator of a realistic organisation (same seed, same data).

200 reps in teams of 10 under their managers, on a quarterly CNY plan with two
versions; quarterly sales targets set before each quarter and some changed
mid-quarter (approved by finance); sales (most of the events; some split between
two reps; some cancelled inside the clawback window, some after it); KPI scores
at quarter end; minor and red-line cases (the red-line ones approved by
compliance); adjustments approved by finance. One "top rep" carries 10,000 sales,
for the statement-latency benchmark.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["TOP_REP", "generate"]

TOP_REP = "rep-000"
TZ = "+08:00"


def _steps(key: str, *steps: tuple[str, str]) -> list[dict[str, str]]:
    """A plan's table of steps: ``{"from": lower bound, key: value}`` each."""
    return [{"from": lower, key: value} for lower, value in steps]


_PLAN = {
    "id": "field-sales",
    "effective_from": "2024-01-01",
    "currency": "CNY",
    "period": "quarter",
    "commission": {"default_rate": "0.05", "rates": {"software": "0.08", "services": "0.06"}},
    "bonus": {
        "target_bonus": "10000",
        "cap": "2.0",
        "kpis": [
            {"kpi": "sales_amount", "weight": "0.6"},
            {"kpi": "customer_satisfaction", "weight": "0.2"},
            {"kpi": "market_feedback", "weight": "0.2"},
        ],
        "tiers": _steps(
            "coefficient", ("0.0", "0.0"), ("0.8", "1.2"), ("1.0", "1.5"), ("1.2", "1.8")
        ),
    },
    "clawback": {"window_days": 90},
    "discipline": {
        "point_value": "100",
        "minor_ladder": ["warning", "points:2", "points:5"],
        "red_line": {"forfeit_bonus": True, "fine": "amount"},
    },
}


# `--plan marginal`: commission by attainment bands, marginal (SPEC §3.1), on every
# version: the issue's "as-of replay of a rep with 10,000 sales on a tiered
# marginal plan"
MARGINAL_TIERS = {
    "measure": "attainment",
    "method": "marginal",
    "bands": _steps("multiplier", ("0.0", "1.0"), ("0.8", "1.25"), ("1.0", "1.5")),
}


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + TZ


def _quarter(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def _e(type_: str, moment: datetime, actor: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "occurred_at": _at(moment), "actor": actor, **fields}


def _manager(rep: str) -> str:
    """The manager of a rep (teams of 10: rep-042 is under mgr-04)."""
    return f"mgr-{int(rep[4:]) // 10:02d}"


def _target(
    moment: datetime, rep: str, target_id: str, period: str, value: int, reason: str
) -> dict[str, Any]:
    """A quarterly sales target set by the rep's manager (``value`` in 100,000s)."""
    return _e(
        "TargetSet",
        moment,
        _manager(rep),
        target_id=target_id,
        rep_id=rep,
        period=period,
        kpi="sales_amount",
        value=str(value * 100_000),
        reason=reason,
    )


def generate(events: int, *, reps: int = 200, seed: int = 42, plan: str = "flat") -> Iterator[str]:
    """JSON Lines of about ``events`` events, deterministic for a seed; ``plan``
    "marginal" pays commission by marginal attainment bands."""
    rnd = random.Random(seed)
    start = datetime(2024, 1, 1, 9, tzinfo=UTC).replace(tzinfo=None)
    quarters = 8
    rep_ids = [f"rep-{i:03d}" for i in range(reps)]
    count = 0

    def emit(event: dict[str, Any]) -> str:
        nonlocal count
        count += 1
        return json.dumps(event, separators=(",", ":"))

    v1 = {**_PLAN, "version": 1}
    v2 = {**_PLAN, "version": 2, "effective_from": "2025-01-01"}
    v2["commission"] = {"default_rate": "0.05", "rates": {"software": "0.09", "services": "0.06"}}
    if plan == "marginal":
        for version in (v1, v2):
            version["commission"] = {**version["commission"], "tiers": MARGINAL_TIERS}
    yield emit(_e("PlanPublished", start - timedelta(days=30), "admin", plan=v1))
    yield emit(_e("PlanPublished", start + timedelta(days=300), "admin", plan=v2))
    for i, rep in enumerate(rep_ids):
        yield emit(
            _e(
                "RepEnrolled",
                start - timedelta(days=20),
                "hr-sync",
                rep_id=rep,
                name=f"Rep {i}",
                plan_id="field-sales",
                team=f"team-{i // 10:02d}",
                manager_id=f"mgr-{i // 10:02d}",
            )
        )
    fixed = count + reps * quarters * 4  # targets, scores: an estimate to size the sales
    sales_total = max(events - fixed - events // 50, reps)
    top_sales = min(10_000, sales_total // 4)
    per_rep = (sales_total - top_sales) // max(reps - 1, 1)
    sale_no = 0
    for q in range(quarters):
        q_start = datetime(2024 + q // 4, 3 * (q % 4) + 1, 1, 9)
        period = _quarter(q_start + timedelta(days=1))
        for rep in rep_ids:
            value = rnd.randint(8, 30)
            yield emit(
                _target(
                    q_start - timedelta(days=5), rep, f"T-{rep}-{period}", period, value, "plan"
                )
            )
        for rep in rnd.sample(rep_ids, k=max(1, reps // 20)):
            target_id = f"T-{rep}-{period}-B"
            value = rnd.randint(6, 25)
            yield emit(
                _target(
                    q_start + timedelta(days=40), rep, target_id, period, value, "territory change"
                )
            )
            yield emit(
                _e("ApprovalGranted", q_start + timedelta(days=41), "fin-amy", subject_id=target_id)
            )
        for rep in rep_ids:
            n = (top_sales if rep == "rep-000" else per_rep) // quarters
            for _ in range(n):
                sale_no += 1
                moment = q_start + timedelta(seconds=rnd.randint(0, 90 * 86_400))
                sale: dict[str, Any] = _e(
                    "SaleRecorded",
                    moment,
                    "crm-sync",
                    sale_id=f"S{sale_no:08d}",
                    rep_id=rep,
                    amount=f"{rnd.randint(500, 50_000)}.{rnd.randint(0, 99):02d}",
                    currency="CNY",
                    category=rnd.choice(["software", "hardware", "services", "hardware"]),
                )
                if rnd.random() < 0.05:
                    other = rnd.choice(rep_ids)
                    if other != rep:
                        sale["splits"] = [
                            {"rep_id": rep, "share": "0.6"},
                            {"rep_id": other, "share": "0.4"},
                        ]
                yield emit(sale)
                if rnd.random() < 0.02:
                    later = moment + timedelta(days=rnd.choice([10, 45, 89, 120, 200]))
                    yield emit(
                        _e(
                            "SaleCancelled",
                            later,
                            "crm-sync",
                            sale_id=f"S{sale_no:08d}",
                            reason="cancelled",
                        )
                    )
        for rep in rep_ids:
            for kpi in ("customer_satisfaction", "market_feedback"):
                score = f"{rnd.randint(60, 120) / 100}"
                scored_at = q_start + timedelta(days=88)
                yield emit(
                    _e(
                        "KpiScored",
                        scored_at,
                        _manager(rep),
                        rep_id=rep,
                        period=period,
                        kpi=kpi,
                        score=score,
                    )
                )
        for i, rep in enumerate(rnd.sample(rep_ids, k=max(1, reps // 10))):
            yield emit(
                _e(
                    "ViolationRecorded",
                    q_start + timedelta(days=rnd.randint(1, 85)),
                    _manager(rep),
                    case_id=f"C-{period}-{i}",
                    rep_id=rep,
                    code="crm-late-update",
                    severity="minor",
                    description="late pipeline update",
                )
            )
        red = rnd.choice(rep_ids)
        case_id = f"RL-{period}"
        yield emit(
            _e(
                "ViolationRecorded",
                q_start + timedelta(days=30),
                "cmp-sun",
                case_id=case_id,
                rep_id=red,
                code="false-expense-claim",
                severity="red_line",
                description="false expense claim",
                amount=f"{rnd.randint(500, 5000)}.00",
            )
        )
        yield emit(
            _e("ApprovalGranted", q_start + timedelta(days=35), "cmp-head", subject_id=case_id)
        )
        for i, rep in enumerate(rnd.sample(rep_ids, k=max(1, reps // 20))):
            adjustment_id = f"ADJ-{period}-{i}"
            yield emit(
                _e(
                    "AdjustmentRequested",
                    q_start + timedelta(days=80),
                    "fin-bob",
                    adjustment_id=adjustment_id,
                    rep_id=rep,
                    period=period,
                    amount=f"{rnd.randint(-2000, 3000) or 100}.00",
                    reason="spiff",
                )
            )
            yield emit(
                _e(
                    "ApprovalGranted",
                    q_start + timedelta(days=82),
                    "fin-amy",
                    subject_id=adjustment_id,
                )
            )


def main(path: str, events: int, seed: int) -> int:
    with open(path, "w", encoding="utf-8") as out:  # noqa: PTH123
        n = 0
        for line in generate(events, seed=seed):
            out.write(line + "\n")
            n += 1
    return n
