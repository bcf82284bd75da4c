"""A manual adjustment request; natural key ``adjustment_id``; needs approval."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.domain import LedgerAggregate, created_by

__all__ = ["Adjustment"]


class Adjustment(LedgerAggregate):
    """A signed amount for a rep and period, pending until approved."""

    TOPIC = "incentive_ledger:aggregate:Adjustment"
    KIND = "adjustment"
    if TYPE_CHECKING:
        rep_id: str

    __init__ = created_by("AdjustmentRequested", keeps=("rep_id",))
