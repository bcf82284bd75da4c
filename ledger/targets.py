"""A target for one rep, period and KPI; natural key ``target_id``.

A target set after its period has started needs approval (SPEC §2; the rule is
`ledger.catalogue`'s, from the two clocks of the stored event: ``occurred_at``
and the moment the write side staged it — the library's event ``timestamp``,
`created_on` here, `ledger.records.EventRecord.staged_at` on the read side — one
stored value, so both sides decide alike on every replay, and neither reads
"now" when it decides).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.domain import LedgerAggregate, created_by

__all__ = ["Target"]


class Target(LedgerAggregate):
    """One TargetSet."""

    TOPIC = "incentive_ledger:aggregate:Target"
    KIND = "target"
    if TYPE_CHECKING:
        rep_id: str

    __init__ = created_by("TargetSet", keeps=("rep_id",))
