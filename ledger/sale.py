"""A sale: recorded once, cancelled at most once (SPEC §2, natural key ``sale_id``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, receipt_event
from ledger.errors import InvalidInputError

__all__ = ["Sale"]


class Sale(LedgerAggregate):
    """One closed deal and, maybe, its cancellation."""

    TOPIC = "incentive_ledger:aggregate:Sale"
    KIND = "sale"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:Sale.Created"

    @event("SaleRecorded", topic=event_topic("SaleRecorded"))
    def __init__(
        self, key: str, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        self.sale_id = key
        self.rep_id: str = data["rep_id"]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.cancellation: Receipt | None = None

    def cancel(self, **envelope: Any) -> bool:
        """Cancel the sale; False when this very cancellation is already stored."""
        if self.cancellation is None and envelope["occurred_at"] < self.recorded.occurred_at:
            raise InvalidInputError(
                f"a sale cannot be cancelled before it occurred "
                f"({self.recorded.occurred_at.isoformat()})",
                field="occurred_at",
            )
        return self.record_once(
            self.cancellation,
            self._cancelled,
            what=f"the cancellation of sale {self.sale_id}",
            field="sale_id",
            **envelope,
        )

    _cancelled = receipt_event("SaleCancelled", "cancellation")
