"""A manual adjustment request; natural key ``adjustment_id``; needs approval."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic

__all__ = ["Adjustment"]


class Adjustment(LedgerAggregate):
    """A signed amount for a rep and period, pending until approved."""

    TOPIC = "incentive_ledger:aggregate:Adjustment"
    KIND = "adjustment"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:Adjustment.Created"

    @event("AdjustmentRequested", topic=event_topic("AdjustmentRequested"))
    def __init__(
        self, key: str, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        self.key = self.adjustment_id = key
        self.rep_id: str = data["rep_id"]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.data = data
