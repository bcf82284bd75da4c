"""The one decision on a subject (SPEC §2): natural key ``subject_id``.

A decision is its own stream, keyed by the subject, so "one decision per subject"
is the database's primary key, not a read-then-write race.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Self

from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id

__all__ = ["Decision"]


class _Decided(LedgerAggregate.Created):
    """The envelope both decisions share; ``GRANTED`` says which one it is."""

    GRANTED: ClassVar[bool]
    occurred_at: datetime
    actor: str
    content_sha256: str
    data: dict[str, Any]

    def apply(self, aggregate: Decision) -> None:
        aggregate.granted = self.GRANTED


class Decision(LedgerAggregate):
    """ApprovalGranted or ApprovalRejected on one subject."""

    TOPIC = "incentive_ledger:aggregate:Decision"
    KIND = "decision"

    class ApprovalGranted(_Decided):
        TOPIC = event_topic("ApprovalGranted")
        GRANTED = True

    class ApprovalRejected(_Decided):
        TOPIC = event_topic("ApprovalRejected")
        GRANTED = False

    def __init__(
        self, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        self.key = self.subject_id = data["subject_id"]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.data = data
        self.granted = False  # set by the event's apply()

    @classmethod
    def decide(cls, *, granted: bool, **envelope: Any) -> Self:
        """Record the decision; the caller has checked maker-checker."""
        event_class = cls.ApprovalGranted if granted else cls.ApprovalRejected
        subject_id = envelope["data"]["subject_id"]
        return cls._create(event_class, id=natural_id(cls.KIND, subject_id), **envelope)
