"""Payout runs: period, status, totals, the chain head each was computed at."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from projections.facts import LedgerFacts
from projections.rows import Row
from projections.versioning import ReadModel

__all__ = [
    "PAYOUT_RUNS",
    "ChainHead",
    "CurrencyTotal",
    "RunRow",
    "RunStatus",
    "currency_totals",
    "run_row",
    "run_status",
]

# 2: totals by currency (``currencies``); ``total`` and ``payable`` only for a run
# in one currency (they added a USD rep's pay to CNY pay)
PAYOUT_RUNS = ReadModel("payout_runs", 2, "each payout run: period, status, totals, chain head")

RunStatus = Literal["calculated", "approved", "rejected", "paid"]


class ChainHead(Row):
    """The chain's head a run was calculated at: what its statements rest on."""

    hash: str
    position: int


class CurrencyTotal(Row):
    """What a run pays in one currency: its reps paid in it, their totals and payables."""

    currency: str
    reps: int
    total: str
    payable: str


class RunRow(Row):
    """A payout run: its period and status, who calculated and decided it, the
    chain head it was calculated at, and what it pays in all: in each currency
    (``currencies``), and ``total``/``payable`` when it pays in one (None when
    its reps are paid in several: money of two currencies does not add up)."""

    calculated_by: str
    calculated_event_id: str
    chain_head: ChainHead
    currencies: list[CurrencyTotal]
    decided_by: str | None
    paid_event_id: str | None
    payable: str | None
    period: str
    position: int
    reps: int
    run_id: str
    status: RunStatus
    total: str | None


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
        currencies=(currencies := currency_totals(statements)),
        total=currencies[0].total if len(currencies) == 1 else None,
        payable=currencies[0].payable if len(currencies) == 1 else None,
        decided_by=decision.record.actor if decision else None,
        paid_event_id=run.paid.event_id if run.paid else None,
    ).doc()


def currency_totals(statements: list[dict[str, Any]]) -> list[CurrencyTotal]:
    """A run's statements summed in each currency they are in, by currency code."""
    sums: dict[str, tuple[int, Decimal, Decimal]] = {}
    for s in statements:
        reps, total, payable = sums.get(s["currency"], (0, Decimal(0), Decimal(0)))
        sums[s["currency"]] = (
            reps + 1,
            total + Decimal(s["total"]),
            payable + Decimal(s["payable"]),
        )
    return [
        CurrencyTotal(currency=c, reps=n, total=format(t, "f"), payable=format(p, "f"))
        for c, (n, t, p) in sorted(sums.items())
    ]


def run_status(granted: bool | None, *, paid: bool) -> RunStatus:
    """A run's status: ``calculated`` until decided, then ``approved`` or
    ``rejected``; ``paid`` once paid."""
    if paid:
        return "paid"
    if granted is None:
        return "calculated"
    return "approved" if granted else "rejected"
