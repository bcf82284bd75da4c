"""A compliance case; natural key ``case_id`` for ViolationRecorded and
ViolationOverturned. Red-line cases need approval before they count."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledger.domain import LedgerAggregate, Receipt, created_by, receipt_event

__all__ = ["Case"]


class Case(LedgerAggregate):
    """A violation and, maybe, its overturning on appeal."""

    TOPIC = "incentive_ledger:aggregate:Case"
    KIND = "case"
    if TYPE_CHECKING:
        rep_id: str
        overturned: Receipt | None

    __init__ = created_by("ViolationRecorded", keeps=("rep_id",), later=("overturned",))

    def overturn(self, **envelope: Any) -> bool:
        """Overturn the case; False when this very overturning is already stored."""
        return self.record_once("overturned", "the overturning", **envelope)

    _overturned = receipt_event("ViolationOverturned", "overturned")
