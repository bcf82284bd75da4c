"""A rep's record: enrolment, plan changes, transfers, KPI scores, coaching, leaving.

Natural keys (SPEC §2): ``rep_id`` for RepEnrolled and RepLeft; the whole content
for RepPlanAssigned, RepTransferred, KpiScored and CoachingRecorded, remembered here as a set of
content hashes so a re-sent score is skipped.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, created_by, event_topic, receipt_event

__all__ = ["Rep"]


def _fact_event(type_: str) -> Any:
    """The ``@event`` method of a keyless fact that changes nothing the write
    side reads: the rep only remembers its content hash (`Rep.record_fact`)."""

    def record(
        self: Rep, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        del occurred_at, actor, data
        self.facts.add(content_sha256)

    record.__name__ = record.__qualname__ = f"_{type_}"
    return event(type_, topic=event_topic(type_))(record)


class Rep(LedgerAggregate):
    """A sales rep, as far as the write side needs to know one."""

    TOPIC = "incentive_ledger:aggregate:Rep"
    KIND = "rep"

    if TYPE_CHECKING:
        rep_id: str
        enrolled: Receipt
        plans: list[tuple[datetime, str]]  # (since, plan id), the enrolment's first
        manager_id: str | None
        # (from, manager id) of the enrolment and of each transfer naming a manager
        managers: list[tuple[datetime, str | None]]
        team: str | None
        # (from, the manager_id and team it names) of each transfer
        transfers: list[tuple[datetime, dict[str, str]]]
        # (period, kpi) -> the latest occurred_at among the rep's scores of it
        scored: dict[tuple[str, str], datetime]
        facts: set[str]  # the content hashes of its keyless facts
        left: Receipt | None

    def _enrolled(self) -> None:
        self.enrolled = self.recorded
        self.plans = [(self.recorded.occurred_at, self.data["plan_id"])]
        self.manager_id = self.data.get("manager_id")
        self.managers = [(self.recorded.occurred_at, self.manager_id)]
        self.team = self.data.get("team")
        self.transfers = []
        self.scored = {}
        self.facts = set()

    __init__ = created_by("RepEnrolled", keeps=("rep_id",), later=("left",), then=_enrolled)

    def plan_at(self, moment: datetime) -> str:
        """The plan id assigned to the rep at ``moment`` (the enrolment plan before)."""
        if len(self.plans) == 1:  # most reps: never reassigned
            return self.plans[0][1]
        current = self.plans[0][1]
        for since, plan_id in sorted(self.plans, key=lambda p: p[0]):
            if since <= moment:
                current = plan_id
        return current

    def plan_for_period(self, first_day: date) -> str:
        """The plan id that pays the rep for the period starting ``first_day``:
        the last assigned on or before that day, the enrolment plan before any
        (as the read side's `LedgerFacts.plan_id_for`)."""
        current = self.plans[0][1]
        for since, plan_id in sorted(self.plans, key=lambda p: p[0].date()):
            if since.date() <= first_day:
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
        return self.record_once("left", "the departure", **envelope)

    @event("RepPlanAssigned", topic=event_topic("RepPlanAssigned"))
    def _RepPlanAssigned(  # noqa: N802 - named after its event type (`record_fact`)
        self, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        del actor
        self.plans.append((occurred_at, data["plan_id"]))
        self.facts.add(content_sha256)

    def same_instant_transfer(self, occurred_at: datetime, data: dict[str, Any]) -> list[str]:
        """The fields (``manager_id``, ``team``) that an earlier transfer taking
        effect at the same instant as ``occurred_at`` sets to another value
        than ``data`` does: which of the two is in force is then the order they
        were recorded in, not their dates."""
        return sorted(
            {
                name
                for at, named in self.transfers
                if at == occurred_at
                for name, value in named.items()
                if name in data and data[name] != value
            }
        )

    def latest_score(self, period: str, kpi: str) -> datetime | None:
        """The latest ``occurred_at`` of the rep's scores of ``kpi`` for ``period``."""
        return self.scored.get((period, kpi))

    @event("KpiScored", topic=event_topic("KpiScored"))
    def _KpiScored(  # noqa: N802 - named after its event type (`record_fact`)
        self, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        del actor
        key = (data["period"], data["kpi"])
        latest = self.scored.get(key)
        self.scored[key] = occurred_at if latest is None else max(latest, occurred_at)
        self.facts.add(content_sha256)

    _CoachingRecorded = _fact_event("CoachingRecorded")

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
        named = {k: data[k] for k in ("manager_id", "team") if data.get(k) is not None}
        self.transfers.append((occurred_at, named))
        self.facts.add(content_sha256)

    _left = receipt_event("RepLeft", "left")
