"""Payout runs: period, status, totals, the chain head each was computed at."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.facts import LedgerFacts
from projections.versioning import ReadModel

__all__ = ["PAYOUT_RUNS", "run_row", "run_status"]

PAYOUT_RUNS = ReadModel("payout_runs", 1, "each payout run: period, status, totals, chain head")


def run_row(facts: LedgerFacts, run_id: str) -> dict[str, Any]:
    run = facts.runs[run_id]
    data = run.record.data
    statements = data["statements"]
    decision = facts.decisions.get(run_id)
    status = run_status(None if decision is None else decision.granted, paid=run.paid is not None)
    return {
        "run_id": run_id,
        "period": data["period"],
        "status": status,
        "calculated_by": run.record.actor,
        "calculated_event_id": run.record.event_id,
        "position": data["position"],
        "chain_head": data["chain_head"],
        "reps": len(statements),
        "total": format(sum((Decimal(s["total"]) for s in statements), Decimal(0)), "f"),
        "payable": format(sum((Decimal(s["payable"]) for s in statements), Decimal(0)), "f"),
        "decided_by": decision.record.actor if decision else None,
        "paid_event_id": run.paid.event_id if run.paid else None,
    }


def run_status(granted: bool | None, *, paid: bool) -> str:
    """A run's status: ``calculated`` until decided, then ``approved`` or
    ``rejected``; ``paid`` once paid."""
    if paid:
        return "paid"
    if granted is None:
        return "calculated"
    return "approved" if granted else "rejected"
