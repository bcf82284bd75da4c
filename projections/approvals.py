"""Pending approvals: every subject that needs a decision and has none yet."""

from __future__ import annotations

from typing import Any, Literal

from ledger.records import EventRecord
from projections.facts import LedgerFacts
from projections.rows import Row
from projections.versioning import ReadModel

__all__ = ["PENDING_APPROVALS", "PendingKind", "PendingRow", "pending_for_rep", "pending_for_run"]

PENDING_APPROVALS = ReadModel("pending_approvals", 1, "subjects awaiting a decision")

PendingKind = Literal["target", "case", "adjustment", "payout_run"]


class PendingRow(Row):
    """A subject awaiting a decision: what it is, whose, and the event that
    recorded it (a payout run's has no rep: it is every rep's of its period)."""

    event_id: str
    kind: PendingKind
    occurred_at: str
    position: int
    recorded_by: str
    rep_id: str | None
    subject_id: str


def _row(
    kind: PendingKind,
    subject_id: str,
    record: EventRecord,
    rep_id: str | None,
) -> dict[str, Any]:
    return PendingRow(
        kind=kind,
        subject_id=subject_id,
        rep_id=rep_id,
        recorded_by=record.actor,
        event_id=record.event_id,
        position=record.position,
        occurred_at=record.occurred_at.isoformat(),
    ).doc()


def pending_for_rep(facts: LedgerFacts, rep_id: str) -> dict[str, Any]:
    """The rep's targets, cases and adjustments awaiting a decision, by subject id."""
    rows: dict[str, Any] = {}
    owned = facts.by_rep.get(rep_id, {})
    subjects: list[tuple[Literal["target", "case", "adjustment"], str, EventRecord]] = [
        *(("target", tid, facts.targets[tid]) for tid in owned.get("targets", [])),
        *(("case", cid, facts.cases[cid].record) for cid in owned.get("cases", [])),
        *(("adjustment", aid, facts.adjustments[aid]) for aid in owned.get("adjustments", [])),
    ]
    for kind, subject_id, record in subjects:
        if facts.needs_approval(record) and subject_id not in facts.decisions:
            rows[subject_id] = _row(kind, subject_id, record, rep_id)
    return rows


def pending_for_run(facts: LedgerFacts, run_id: str) -> dict[str, Any]:
    run = facts.runs[run_id]
    if run_id in facts.decisions:
        return {}
    return {run_id: _row("payout_run", run_id, run.record, None)}
