"""A target for one rep, period and KPI; natural key ``target_id``.

A target set after its period has started needs approval (SPEC §2; the rule is
`ledger.catalogue`'s, from the two clocks of the stored event: ``occurred_at``
and the moment the write side staged it — the library's event ``timestamp``,
`created_on` here, `ledger.records.EventRecord.staged_at` on the read side — one
stored value, so both sides decide alike on every replay, and neither reads
"now" when it decides).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from ledger.domain import LedgerAggregate, Receipt, event_topic

__all__ = ["Target"]


class Target(LedgerAggregate):
    """One TargetSet."""

    TOPIC = "incentive_ledger:aggregate:Target"
    KIND = "target"

    class Created(LedgerAggregate.Created):
        TOPIC = "incentive_ledger:aggregate:Target.Created"

    @event("TargetSet", topic=event_topic("TargetSet"))
    def __init__(
        self, key: str, occurred_at: datetime, actor: str, content_sha256: str, data: dict[str, Any]
    ) -> None:
        self.key = self.target_id = key
        self.rep_id: str = data["rep_id"]
        self.recorded = Receipt(content_sha256, actor, occurred_at)
        self.data = data
