"""A compliance case; natural key ``case_id`` for ViolationRecorded and
ViolationOverturned. Red-line cases need approval before they count."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id

__all__ = ["Case"]


class Case(LedgerAggregate):
    """A violation and, maybe, its overturning on appeal."""

    TOPIC = "incentive_ledger:aggregate:Case"
    KIND = "case"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:Case.Created"

    @staticmethod
    def create_id(key: str) -> UUID:
        return natural_id("case", key)

    @event("ViolationRecorded", topic=event_topic("ViolationRecorded"))
    def __init__(
        self,
        key: str,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        self.case_id = key
        self.rep_id: str = data["rep_id"]
        self.severity: str = data["severity"]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.overturned: Receipt | None = None

    @property
    def needs_approval(self) -> bool:
        return self.severity == "red_line"

    @property
    def subject_label(self) -> str:
        return f"case {self.case_id}"

    def overturn(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> bool:
        """Overturn the case; False when this very overturning is already stored."""
        if self.overturned is not None:
            return not self.overturned.check_same(
                content_sha256,
                key=f"the overturning of case {self.case_id}",
                field="case_id",
            )
        self._overturned(occurred_at, actor, content_sha256, data)
        return True

    @event("ViolationOverturned", topic=event_topic("ViolationOverturned"))
    def _overturned(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        del data
        self.overturned = Receipt(content_sha256, actor, occurred_at)
