"""A payout run: the statements as computed, then approved, then paid.

Natural key ``run_id``. What a run records is the decision, not the recipe: each
statement as computed (lines, explanations, total, the position it was computed
at, its SHA-256), so a paid statement still explains itself after the policy code
changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id

__all__ = ["PayoutRun"]


class PayoutRun(LedgerAggregate):
    """One period's payout for a set of reps."""

    TOPIC = "incentive_ledger:aggregate:PayoutRun"
    KIND = "run"
    needs_approval = True

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:PayoutRun.Created"

    @staticmethod
    def create_id(key: str) -> UUID:
        return natural_id("run", key)

    @event("PayoutCalculated", topic=event_topic("PayoutCalculated"))
    def __init__(
        self,
        key: str,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        self.run_id = key
        self.period: str = data["period"]
        self.rep_ids: list[str] = [s["rep_id"] for s in data["statements"]]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.paid: Receipt | None = None

    @property
    def subject_label(self) -> str:
        return f"payout run {self.run_id}"

    def pay(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> bool:
        """Mark the run paid; False when it already is."""
        if self.paid is not None:
            return False
        self._paid(occurred_at, actor, content_sha256, data)
        return True

    @event("PayoutPaid", topic=event_topic("PayoutPaid"))
    def _paid(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        del data
        self.paid = Receipt(content_sha256, actor, occurred_at)
