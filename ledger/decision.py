"""The one decision on a subject (SPEC §2): natural key ``subject_id``.

A decision is its own stream, keyed by the subject, so "one decision per subject"
is the database's primary key, not a read-then-write race.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Self, cast

from eventsourcing.utils import get_topic

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
        """Record the decision; the caller has checked maker-checker.

        A stream with two creation events: the library's class call cannot pick
        one, so the chosen event is made and applied here, as the library's own
        constructor does (`mutate` on no aggregate, then the event pending).
        """
        event_class = cls.ApprovalGranted if granted else cls.ApprovalRejected
        created = event_class(
            originator_topic=get_topic(cls),
            originator_id=natural_id(cls.KIND, envelope["data"]["subject_id"]),
            originator_version=cls.INITIAL_VERSION,
            timestamp=event_class.create_timestamp(),
            **envelope,
        )
        decision = cast("Self", created.mutate(None))
        decision.pending_events.append(created)
        return decision
