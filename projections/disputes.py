"""The rep directory (team, manager, plan; no names) and each rep's disputes."""

from __future__ import annotations

from typing import Any

from projections.facts import LedgerFacts
from projections.rows import Row
from projections.versioning import ReadModel

__all__ = ["DISPUTES", "REPS", "DisputeRow", "RepRow", "disputes_of", "rep_row"]

REPS = ReadModel("reps", 1, "the rep directory: team, manager, plans, whether they left")
DISPUTES = ReadModel("disputes", 1, "each rep's disputes, open and resolved")


class RepRow(Row):
    """Who a rep reports to and what pays them; names stay in the events only."""

    left: bool
    manager_id: str | None
    plan_ids: list[str]
    rep_id: str
    team: str | None


class DisputeRow(Row):
    """A dispute a rep raised on a payout run, and its resolution once made."""

    adjustment_id: str | None
    dispute_id: str
    message: str
    note: str | None
    outcome: str | None
    raised_at: str
    raised_by: str
    raised_event_id: str
    rep_id: str
    resolved_by: str | None
    resolved_event_id: str | None
    run_id: str
    status: str


def rep_row(facts: LedgerFacts, rep_id: str) -> dict[str, Any]:
    """The rep's directory row (`RepRow`), as stored."""
    rep = facts.reps[rep_id]
    return RepRow(
        rep_id=rep_id,
        team=rep.team,
        manager_id=rep.manager_id,
        plan_ids=sorted({plan_id for _, _, plan_id in rep.assignments}),
        left=rep.left is not None,
    ).doc()


def disputes_of(facts: LedgerFacts, rep_id: str) -> dict[str, Any]:
    """The rep's disputes, raised and (maybe) resolved, by dispute id."""
    rows: dict[str, Any] = {}
    for dispute_id in facts.by_rep.get(rep_id, {}).get("disputes", []):
        raised = facts.disputes[dispute_id]
        resolved = facts.resolutions.get(dispute_id)
        rows[dispute_id] = DisputeRow(
            dispute_id=dispute_id,
            rep_id=rep_id,
            run_id=raised.data["run_id"],
            message=raised.data["message"],
            raised_by=raised.actor,
            raised_event_id=raised.event_id,
            raised_at=raised.occurred_at.isoformat(),
            status="resolved" if resolved else "open",
            outcome=resolved.data["outcome"] if resolved else None,
            note=resolved.data["note"] if resolved else None,
            adjustment_id=resolved.data.get("adjustment_id") if resolved else None,
            resolved_by=resolved.actor if resolved else None,
            resolved_event_id=resolved.event_id if resolved else None,
        ).doc()
    return rows
