"""A sale: recorded once, cancelled at most once (SPEC §2, natural key ``sale_id``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledger.domain import LedgerAggregate, Receipt, created_by, receipt_event
from ledger.errors import InvalidInputError

__all__ = ["Sale"]


class Sale(LedgerAggregate):
    """One closed deal and, maybe, its cancellation."""

    TOPIC = "incentive_ledger:aggregate:Sale"
    KIND = "sale"
    if TYPE_CHECKING:
        rep_id: str
        cancellation: Receipt | None

    __init__ = created_by("SaleRecorded", keeps=("rep_id",), later=("cancellation",))

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
            what=f"the cancellation of sale {self.key}",
            field="sale_id",
            **envelope,
        )

    _cancelled = receipt_event("SaleCancelled", "cancellation")
