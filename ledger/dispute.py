"""A rep's dispute of a payout run; natural key ``dispute_id``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from ledger.domain import LedgerAggregate, Receipt, created_by, receipt_event

__all__ = ["Dispute", "StoredDispute"]


class StoredDispute(NamedTuple):
    """A stored dispute as the write side holds it: whose, of which run, what it
    says, and when it was raised and resolved — what a retry of the same request
    is recognised by (`service.usecases.UseCases.raise_dispute`)."""

    rep_id: str
    run_id: str
    message: str
    raised_at: datetime
    resolved_at: datetime | None


class Dispute(LedgerAggregate):
    """Raised once, resolved once."""

    TOPIC = "incentive_ledger:aggregate:Dispute"
    KIND = "dispute"
    if TYPE_CHECKING:
        rep_id: str
        run_id: str
        resolved: Receipt | None

    __init__ = created_by("DisputeRaised", keeps=("rep_id", "run_id"), later=("resolved",))

    def resolve(self, **envelope: Any) -> bool:
        """Resolve the dispute; False when this very resolution is already stored."""
        return self.record_once("resolved", "the resolution", **envelope)

    _resolved = receipt_event("DisputeResolved", "resolved")
