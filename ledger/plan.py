"""A published plan version (SPEC §3); natural key ``plan id @ version``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id

__all__ = ["PlanVersion"]


class PlanVersion(LedgerAggregate):
    """One version of a plan; versions never change once published."""

    TOPIC = "incentive_ledger:aggregate:PlanVersion"
    KIND = "plan"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:PlanVersion.Created"

    @staticmethod
    def create_id(key: str) -> UUID:
        return natural_id("plan", key)

    @staticmethod
    def key_of(plan_id: str, version: int) -> str:
        return f"{plan_id}@{version}"

    @event("PlanPublished", topic=event_topic("PlanPublished"))
    def __init__(
        self,
        key: str,
        occurred_at: datetime,
        actor: str,
        content_sha256: str,
        data: dict[str, Any],
    ) -> None:
        self.key = key
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.document: dict[str, Any] = data["plan"]
