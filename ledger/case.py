"""A compliance case; natural key ``case_id`` for ViolationRecorded and
ViolationOverturned. Red-line cases need approval before they count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, receipt_event

__all__ = ["Case"]


class Case(LedgerAggregate):
    """A violation and, maybe, its overturning on appeal."""

    TOPIC = "incentive_ledger:aggregate:Case"
    KIND = "case"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:Case.Created"

    @event("ViolationRecorded", topic=event_topic("ViolationRecorded"))
    def __init__(
        self, key: str, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        self.key = self.case_id = key
        self.rep_id: str = data["rep_id"]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.data = data
        self.overturned: Receipt | None = None

    def overturn(self, **envelope: Any) -> bool:
        """Overturn the case; False when this very overturning is already stored."""
        return self.record_once(
            self.overturned,
            self._overturned,
            what=f"the overturning of case {self.case_id}",
            field="case_id",
            **envelope,
        )

    _overturned = receipt_event("ViolationOverturned", "overturned")
