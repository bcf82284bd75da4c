"""The disciplinary history of a rep: cases, rungs, sanctions, coaching, appeals.

An overturned case is undone everywhere — it takes no rung and costs nothing,
and the rungs of the rep's later cases are counted without it — and its history
shows both events.
"""

from __future__ import annotations

from typing import Any

from policies.discipline import minor_rungs
from policies.periods import period_of
from projections.facts import LedgerFacts
from projections.statement import Calculator
from projections.versioning import ReadModel

__all__ = ["DISCIPLINE", "history"]

DISCIPLINE = ReadModel("discipline", 1, "each rep's disciplinary history, oldest first")


def history(facts: LedgerFacts, calc: Calculator, rep_id: str) -> list[dict[str, Any]]:
    """The rep's disciplinary history, oldest first."""
    entries: list[dict[str, Any]] = []
    case_ids = facts.by_rep.get(rep_id, {}).get("cases", [])
    case_facts = [calc._case_fact(cid) for cid in case_ids]  # noqa: SLF001
    kind = facts.period_kind(rep_id)
    for case in case_facts:
        info = facts.cases[case.case_id]
        record = info.record
        period = period_of(record.occurred_at, kind)
        plan = facts.plan_for(rep_id, period)
        rung = None
        if case.severity == "minor" and plan is not None:
            minors = [c for c in case_facts if c.severity == "minor"]
            rung = minor_rungs(plan.discipline.minor_ladder, minors).get(case.case_id)
        entry: dict[str, Any] = {
            "kind": "case",
            "case_id": case.case_id,
            "event_id": record.event_id,
            "position": record.position,
            "occurred_at": record.occurred_at.isoformat(),
            "recorded_by": record.actor,
            "period": str(period),
            "code": case.code,
            "severity": case.severity,
            "description": record.data["description"],
            "evidence": record.data.get("evidence", []),
            "amount": record.data.get("amount"),
            "approval": case.decision.status,
            "approval_event_id": case.decision.event_id,
            "approved_by": case.decision.actor,
            "rung": rung,
            "sanction": _sanction(case.severity, rung, case.decision.status, plan),
            "overturned": info.overturned is not None,
        }
        entries.append(entry)
        if info.overturned is not None:
            o = info.overturned
            entries.append(
                {
                    "kind": "overturned",
                    "case_id": case.case_id,
                    "event_id": o.event_id,
                    "position": o.position,
                    "occurred_at": o.occurred_at.isoformat(),
                    "recorded_by": o.actor,
                    "reason": o.data["reason"],
                }
            )
    entries.extend(
        {
            "kind": "coaching",
            "event_id": coaching.event_id,
            "position": coaching.position,
            "occurred_at": coaching.occurred_at.isoformat(),
            "recorded_by": coaching.actor,
            "topic": coaching.data["topic"],
        }
        for coaching in facts.coaching.get(rep_id, [])
    )
    entries.sort(key=lambda e: (e["occurred_at"], e["position"]))
    return entries


def _sanction(severity: str, rung: str | None, approval: str, plan: Any) -> str | None:
    if severity == "minor":
        return rung
    if approval not in {"approved", "not_required"}:
        return f"none while {approval}"
    if plan is None:
        return None
    parts = []
    if plan.discipline.red_line.forfeit_bonus:
        parts.append("bonus forfeited")
    if plan.discipline.red_line.fine == "amount":
        parts.append("fined the amount involved")
    return ", ".join(parts) or None
