"""A rep's record: enrolment, plan changes, transfers, KPI scores, coaching, leaving.

Natural keys (SPEC §2): ``rep_id`` for RepEnrolled and RepLeft; the whole content
for RepPlanAssigned, RepTransferred, KpiScored and CoachingRecorded, remembered here as a set of
content hashes so a re-sent score is skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, receipt_event

__all__ = ["Rep"]


class Rep(LedgerAggregate):
    """A sales rep, as far as the write side needs to know one."""

    TOPIC = "incentive_ledger:aggregate:Rep"
    KIND = "rep"

    @event("RepEnrolled", topic=event_topic("RepEnrolled"))
    def __init__(
        self, key: str, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        self.key = self.rep_id = key
        self.recorded = self.enrolled = Receipt(content_sha256, actor, occurred_at)
        self.data = data
        self.plans: list[tuple[datetime, str]] = [(occurred_at, data["plan_id"])]
        self.manager_id: str | None = data.get("manager_id")
        # (from, manager id) of the enrolment and of each transfer naming a manager
        self.managers: list[tuple[datetime, str | None]] = [(occurred_at, self.manager_id)]
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

    def manager_at_head(self) -> str | None:
        """Whom the rep reports to from the latest moment the ledger knows of
        (SPEC §3.1: the latest ``RepTransferred`` by ``occurred_at``, the
        enrolment's manager before any; ``manager_id`` is the last recorded)."""
        if len(self.managers) == 1:
            return self.managers[0][1]
        return max(enumerate(self.managers), key=lambda m: (m[1][0], m[0]))[1][1]

    def record_fact(self, type_: str, **envelope: Any) -> bool:
        """Record a keyless fact about the rep (its content is its key, SPEC §2):
        ``type_``'s event, or False when this very fact is already stored."""
        if envelope["content_sha256"] in self.facts:
            return False
        trigger = getattr(self, f"_{type_}")
        trigger(**envelope)
        return True

    def leave(self, **envelope: Any) -> bool:
        """The rep left; False when this very departure is already stored."""
        return self.record_once(
            self.left,
            self._left,
            what=f"the departure of rep {self.rep_id}",
            field="rep_id",
            **envelope,
        )

    @event("RepPlanAssigned", topic=event_topic("RepPlanAssigned"))
    def _RepPlanAssigned(  # noqa: N802 - named after its event type (`record_fact`)
        self, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        del actor
        self.plans.append((occurred_at, data["plan_id"]))
        self.facts.add(content_sha256)

    @event("KpiScored", topic=event_topic("KpiScored"))
    def _KpiScored(  # noqa: N802 - named after its event type (`record_fact`)
        self, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        del occurred_at, actor, data
        self.facts.add(content_sha256)

    @event("CoachingRecorded", topic=event_topic("CoachingRecorded"))
    def _CoachingRecorded(  # noqa: N802 - named after its event type (`record_fact`)
        self, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        del occurred_at, actor, data
        self.facts.add(content_sha256)

    @event("RepTransferred", topic=event_topic("RepTransferred"))
    def _RepTransferred(  # noqa: N802 - named after its event type (`record_fact`)
        self, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        del actor
        if "manager_id" in data:
            self.manager_id = data["manager_id"]
            self.managers.append((occurred_at, self.manager_id))
        if "team" in data:
            self.team = data["team"]
        self.facts.add(content_sha256)

    _left = receipt_event("RepLeft", "left")
