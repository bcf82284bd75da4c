"""A target for one rep, period and KPI; natural key ``target_id``.

A target set after its period has started needs approval (SPEC §2): otherwise a
manager could lower a target the day before quarter end.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id
from policies.periods import parse_period

__all__ = ["Target", "target_needs_approval"]


def target_needs_approval(occurred_at: datetime, period: str) -> bool:
    """SPEC §2: a TargetSet whose occurred_at is after its period started.

    The period starts at midnight of its first day, in the event's own offset.
    """
    start = datetime.combine(parse_period(period).first_day, time(0), occurred_at.tzinfo)
    return occurred_at > start


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
        self.needs_approval = target_needs_approval(occurred_at, data["period"])

    @property
    def subject_label(self) -> str:
        return f"target {self.target_id}"
