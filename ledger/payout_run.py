"""A payout run: the statements as computed, then approved, then paid.

Natural key ``run_id``. What a run records is the decision, not the recipe: each
statement as computed (lines, explanations, total, the position it was computed
at, its SHA-256), so a paid statement still explains itself after the policy code
changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, receipt_event

__all__ = ["PayoutRun"]


class PayoutRun(LedgerAggregate):
    """One period's payout for a set of reps."""

    TOPIC = "incentive_ledger:aggregate:PayoutRun"
    KIND = "run"
    LABEL = "payout run"

    @event("PayoutCalculated", topic=event_topic("PayoutCalculated"))
    def __init__(
        self, key: str, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        self.key = self.run_id = key
        self.period: str = data["period"]
        self.rep_ids: list[str] = [s["rep_id"] for s in data["statements"]]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.data = {"run_id": key, "period": self.period}  # not the statements: megabytes
        self.paid: Receipt | None = None

    def pay(self, **envelope: Any) -> bool:
        """Mark the run paid; False when it already is (any payment of it is the same fact)."""
        if self.paid is not None:
            return False
        self._paid(**envelope)
        return True

    _paid = receipt_event("PayoutPaid", "paid")
