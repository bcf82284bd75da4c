"""The one decision on a subject (SPEC §2): natural key ``subject_id``.

A decision is its own stream, keyed by the subject, so "one decision per subject"
is the database's primary key, not a read-then-write race.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self
from uuid import UUID

from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id

__all__ = ["Decision"]


class Decision(LedgerAggregate):
    """ApprovalGranted or ApprovalRejected on one subject."""

    TOPIC = "incentive_ledger:aggregate:Decision"
    KIND = "decision"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:Decision.Created"

    class ApprovalGranted(LedgerAggregate.Created):
        TOPIC = event_topic("ApprovalGranted")
        occurred_at: datetime
        actor: str
        content_sha256: str
        data: dict[str, Any]

        def apply(self, aggregate: Decision) -> None:
            aggregate.granted = True

    class ApprovalRejected(LedgerAggregate.Created):
        TOPIC = event_topic("ApprovalRejected")
        occurred_at: datetime
        actor: str
        content_sha256: str
        data: dict[str, Any]

        def apply(self, aggregate: Decision) -> None:
            aggregate.granted = False

    def __init__(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        self.subject_id: str = data["subject_id"]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.granted = False  # set by the event's apply()

    @classmethod
    def decide(
        cls,
        *,
        granted: bool,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> Self:
        """Record the decision; the caller has checked maker-checker."""
        event_class = cls.ApprovalGranted if granted else cls.ApprovalRejected
        return cls._create(
            event_class,
            id=natural_id("decision", data["subject_id"]),
            occurred_at=occurred_at,
            actor=actor,
            content_sha256=content_sha256,
            data=data,
        )

    @staticmethod
    def create_id(key: str) -> UUID:
        return natural_id("decision", key)
