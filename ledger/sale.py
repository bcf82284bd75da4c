"""A sale: recorded once, cancelled at most once (SPEC §2, natural key ``sale_id``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id
from ledger.errors import InvalidInputError

__all__ = ["Sale"]


class Sale(LedgerAggregate):
    """One closed deal and, maybe, its cancellation."""

    TOPIC = "incentive_ledger:aggregate:Sale"
    KIND = "sale"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:Sale.Created"

    @staticmethod
    def create_id(key: str) -> UUID:
        return natural_id("sale", key)

    @event("SaleRecorded", topic=event_topic("SaleRecorded"))
    def __init__(
        self,
        key: str,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        self.sale_id = key
        self.rep_id: str = data["rep_id"]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.cancellation: Receipt | None = None

    def cancel(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> bool:
        """Cancel the sale; False when this very cancellation is already stored."""
        if self.cancellation is not None:
            return not self.cancellation.check_same(
                content_sha256,
                key=f"the cancellation of sale {self.sale_id}",
                field="sale_id",
            )
        if occurred_at < self.recorded.occurred_at:
            raise InvalidInputError(
                f"a sale cannot be cancelled before it occurred "
                f"({self.recorded.occurred_at.isoformat()})",
                field="occurred_at",
            )
        self._cancelled(occurred_at, actor, content_sha256, data)
        return True

    @event("SaleCancelled", topic=event_topic("SaleCancelled"))
    def _cancelled(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        del data
        self.cancellation = Receipt(content_sha256, actor, occurred_at)
