"""A payout run: the statements as computed, then approved, then paid.

Natural key ``run_id``. What a run records is the decision, not the recipe: each
statement as computed (lines, explanations, total, the position it was computed
at, its SHA-256), so a paid statement still explains itself after the policy code
changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledger.domain import LedgerAggregate, Receipt, created_by, receipt_event

__all__ = ["PayoutRun"]


class PayoutRun(LedgerAggregate):
    """One period's payout for a set of reps."""

    TOPIC = "incentive_ledger:aggregate:PayoutRun"
    KIND = "run"
    LABEL = "payout run"

    if TYPE_CHECKING:
        run_id: str
        period: str
        rep_ids: list[str]
        paid: Receipt | None

    def _calculated(self) -> None:
        self.rep_ids = [s["rep_id"] for s in self.data["statements"]]
        self.data = {"run_id": self.run_id, "period": self.period}  # not the statements: megabytes

    __init__ = created_by(
        "PayoutCalculated", keeps=("run_id", "period"), later=("paid",), then=_calculated
    )

    def pay(self, **envelope: Any) -> bool:
        """Mark the run paid; False when it already is (any payment of it is the same fact)."""
        if self.paid is not None:
            return False
        self._paid(**envelope)
        return True

    _paid = receipt_event("PayoutPaid", "paid")
