"""An exchange rate (SPEC §2 ``FxRateSet``): 1 ``base`` = ``rate`` ``quote``
from ``occurred_at`` on. Natural key: base, quote and ``occurred_at`` (the
instant, whatever offset it was written in); a rate never changes once set —
a later ``FxRateSet`` of the pair takes over from its own moment."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.domain import LedgerAggregate, created_by

__all__ = ["FxRate"]


class FxRate(LedgerAggregate):
    """One rate of one currency pair, from one moment on."""

    TOPIC = "incentive_ledger:aggregate:FxRate"
    KIND = "fx_rate"
    LABEL = "exchange rate"

    @staticmethod
    def key_of(base: str, quote: str, occurred_at: datetime) -> str:
        """``EUR/CNY@2026-07-01T00:00:00+00:00``: the pair and the instant in UTC."""
        return f"{base}/{quote}@{occurred_at.astimezone(UTC).isoformat()}"

    __init__ = created_by("FxRateSet")
