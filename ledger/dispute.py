"""A rep's dispute of a payout run; natural key ``dispute_id``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, receipt_event

__all__ = ["Dispute"]


class Dispute(LedgerAggregate):
    """Raised once, resolved once."""

    TOPIC = "incentive_ledger:aggregate:Dispute"
    KIND = "dispute"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:Dispute.Created"

    @event("DisputeRaised", topic=event_topic("DisputeRaised"))
    def __init__(
        self, key: str, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        self.key = self.dispute_id = key
        self.rep_id: str = data["rep_id"]
        self.run_id: str = data["run_id"]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.resolved: Receipt | None = None

    def resolve(self, **envelope: Any) -> bool:
        """Resolve the dispute; False when this very resolution is already stored."""
        return self.record_once(
            self.resolved,
            self._resolved,
            what=f"the resolution of dispute {self.dispute_id}",
            field="dispute_id",
            **envelope,
        )

    _resolved = receipt_event("DisputeResolved", "resolved")
