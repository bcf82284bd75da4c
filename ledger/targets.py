"""A target for one rep, period and KPI; natural key ``target_id``.

A target set after its period has started needs approval (SPEC §2): otherwise a
manager could lower a target the day before quarter end — and "set" is both
clocks: a TargetSet that takes effect (``occurred_at``) *or is recorded* after
the period started needs one, so backdating ``occurred_at`` escapes nothing.

The recording clock is the moment the write side staged the event: the
library's event ``timestamp``, stored in the event itself. The write side (which
refuses an approval of a target that needs none) reads it from the aggregate's
creation event, the read side (pending or approved in statements) from the
stored event (`ledger.records.EventRecord.staged_at`): one stored value, so both
decide alike on every replay, and neither reads "now" when it decides. (The
chain's ``recorded_at`` is stamped when the append writes the links, a few
milliseconds later; a rule reading it on one side and the staging clock on the
other could disagree for a target staged just before midnight.)
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id
from policies.periods import parse_period

__all__ = ["Target", "target_needs_approval"]


def target_needs_approval(period: str, occurred_at: datetime, recorded_at: datetime) -> bool:
    """SPEC §2: a TargetSet needs approval when it takes effect (``occurred_at``)
    or is recorded (``recorded_at``: when the ledger staged it) after its period
    started.

    The period starts at midnight of its first day, in the event's own offset
    (the offset of ``occurred_at``); both instants compare as instants.
    """
    start = datetime.combine(parse_period(period).first_day, time(0), occurred_at.tzinfo)
    return occurred_at > start or recorded_at > start


class Target(LedgerAggregate):
    """One TargetSet."""

    TOPIC = "incentive_ledger:aggregate:Target"
    KIND = "target"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:Target.Created"

    @staticmethod
    def create_id(key: str) -> UUID:
        return natural_id("target", key)

    @event("TargetSet", topic=event_topic("TargetSet"))
    def __init__(
        self,
        key: str,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        self.target_id = key
        self.rep_id: str = data["rep_id"]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        # `created_on` is the stored event's own timestamp (set by the library
        # before this body runs): the same on every replay, never "now".
        self.needs_approval = target_needs_approval(data["period"], occurred_at, self.created_on)

    @property
    def subject_label(self) -> str:
        return f"target {self.target_id}"
