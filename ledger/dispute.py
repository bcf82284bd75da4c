"""A rep's dispute of a payout run; natural key ``dispute_id``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id

__all__ = ["Dispute"]


class Dispute(LedgerAggregate):
    """Raised once, resolved once."""

    TOPIC = "incentive_ledger:aggregate:Dispute"
    KIND = "dispute"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:Dispute.Created"

    @staticmethod
    def create_id(key: str) -> UUID:
        return natural_id("dispute", key)

    @event("DisputeRaised", topic=event_topic("DisputeRaised"))
    def __init__(
        self,
        key: str,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        self.dispute_id = key
        self.rep_id: str = data["rep_id"]
        self.run_id: str = data["run_id"]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.resolved: Receipt | None = None

    def resolve(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> bool:
        """Resolve the dispute; False when this very resolution is already stored."""
        if self.resolved is not None:
            return not self.resolved.check_same(
                content_sha256,
                key=f"the resolution of dispute {self.dispute_id}",
                field="dispute_id",
            )
        self._resolved(occurred_at, actor, content_sha256, data)
        return True

    @event("DisputeResolved", topic=event_topic("DisputeResolved"))
    def _resolved(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        del data
        self.resolved = Receipt(content_sha256, actor, occurred_at)
