"""Payout runs: period, status, totals, the chain head each was computed at."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from projections.facts import LedgerFacts
from projections.rows import Row
from projections.versioning import ReadModel

__all__ = ["PAYOUT_RUNS", "ChainHead", "RunRow", "RunStatus", "run_row", "run_status"]

PAYOUT_RUNS = ReadModel("payout_runs", 1, "each payout run: period, status, totals, chain head")

RunStatus = Literal["calculated", "approved", "rejected", "paid"]


class ChainHead(Row):
    """The chain's head a run was calculated at: what its statements rest on."""

    hash: str
    position: int


class RunRow(Row):
    """A payout run: its period and status, who calculated and decided it, the
    chain head it was calculated at, and what it pays in all."""

    calculated_by: str
    calculated_event_id: str
    chain_head: ChainHead
    decided_by: str | None
    paid_event_id: str | None
    payable: str
    period: str
    position: int
    reps: int
    run_id: str
    status: RunStatus
    total: str


def run_row(facts: LedgerFacts, run_id: str) -> dict[str, Any]:
    """The run's row (`RunRow`), as stored."""
    run = facts.runs[run_id]
    data = run.record.data
    statements = data["statements"]
    decision = facts.decisions.get(run_id)
    status = run_status(None if decision is None else decision.granted, paid=run.paid is not None)
    return RunRow(
        run_id=run_id,
        period=data["period"],
        status=status,
        calculated_by=run.record.actor,
        calculated_event_id=run.record.event_id,
        position=data["position"],
        chain_head=ChainHead.model_validate(data["chain_head"]),
        reps=len(statements),
        total=format(sum((Decimal(s["total"]) for s in statements), Decimal(0)), "f"),
        payable=format(sum((Decimal(s["payable"]) for s in statements), Decimal(0)), "f"),
        decided_by=decision.record.actor if decision else None,
        paid_event_id=run.paid.event_id if run.paid else None,
    ).doc()


def run_status(granted: bool | None, *, paid: bool) -> RunStatus:
    """A run's status: ``calculated`` until decided, then ``approved`` or
    ``rejected``; ``paid`` once paid."""
    if paid:
        return "paid"
    if granted is None:
        return "calculated"
    return "approved" if granted else "rejected"
