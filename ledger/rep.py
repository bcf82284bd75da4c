"""A rep's record: enrolment, plan changes, KPI scores, coaching, leaving.

Natural keys (SPEC §2): ``rep_id`` for RepEnrolled and RepLeft; the whole content
for RepPlanAssigned, KpiScored and CoachingRecorded, remembered here as a set of
content hashes so a re-sent score is skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id

__all__ = ["Rep"]


class Rep(LedgerAggregate):
    """A sales rep, as far as the write side needs to know one."""

    TOPIC = "incentive_ledger:aggregate:Rep"
    KIND = "rep"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:Rep.Created"

    @staticmethod
    def create_id(key: str) -> UUID:
        return natural_id("rep", key)

    @event("RepEnrolled", topic=event_topic("RepEnrolled"))
    def __init__(
        self,
        key: str,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        self.rep_id = key
        self.enrolled = Receipt(content_sha256, actor, occurred_at)
        self.plans: list[tuple[datetime, str]] = [(occurred_at, data["plan_id"])]
        self.manager_id: str | None = data.get("manager_id")
        self.team: str | None = data.get("team")
        self.facts: set[str] = set()
        self.left: Receipt | None = None

    def plan_at(self, moment: datetime) -> str:
        """The plan id assigned to the rep at ``moment`` (the enrolment plan before)."""
        if len(self.plans) == 1:  # most reps: never reassigned
            return self.plans[0][1]
        current = self.plans[0][1]
        for since, plan_id in sorted(self.plans, key=lambda p: p[0]):
            if since <= moment:
                current = plan_id
        return current

    def plan_ids(self) -> set[str]:
        return {plan_id for _, plan_id in self.plans}

    def record_fact(
        self,
        type_: str,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> bool:
        """Record a keyless fact about the rep; False when already stored."""
        if content_sha256 in self.facts:
            return False
        trigger = {
            "RepPlanAssigned": self._plan_assigned,
            "KpiScored": self._kpi_scored,
            "CoachingRecorded": self._coaching_recorded,
        }[type_]
        trigger(occurred_at, actor, content_sha256, data)
        return True

    def leave(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> bool:
        """The rep left; False when this very departure is already stored."""
        if self.left is not None:
            return not self.left.check_same(
                content_sha256,
                key=f"the departure of rep {self.rep_id}",
                field="rep_id",
            )
        self._left(occurred_at, actor, content_sha256, data)
        return True

    @event("RepPlanAssigned", topic=event_topic("RepPlanAssigned"))
    def _plan_assigned(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        del actor
        self.plans.append((occurred_at, data["plan_id"]))
        self.facts.add(content_sha256)

    @event("KpiScored", topic=event_topic("KpiScored"))
    def _kpi_scored(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        del occurred_at, actor, data
        self.facts.add(content_sha256)

    @event("CoachingRecorded", topic=event_topic("CoachingRecorded"))
    def _coaching_recorded(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        del occurred_at, actor, data
        self.facts.add(content_sha256)

    @event("RepLeft", topic=event_topic("RepLeft"))
    def _left(
        self,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        del data
        self.left = Receipt(content_sha256, actor, occurred_at)
