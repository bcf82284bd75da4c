"""Pay periods: a month (``2026-07``) or a quarter (``2026-Q3``), as a plan says.

SPEC §2: an event belongs to the period of ``occurred_at``'s date *in its own
offset* — a sale at 23:30 on 30 September in Shanghai is a Q3 sale, whatever
the UTC clock says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

__all__ = ["Period", "PeriodKind", "parse_period", "period_of"]

PeriodKind = Literal["month", "quarter"]
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTHS_IN_QUARTER = 3
_MONTHS_IN_YEAR = 12
_QUARTERS_IN_YEAR = 4


@dataclass(frozen=True, order=True)
class Period:
    """One pay period."""

    kind: PeriodKind
    year: int
    index: int  # month 1-12, or quarter 1-4

    def __post_init__(self) -> None:
        top = _MONTHS_IN_YEAR if self.kind == "month" else _QUARTERS_IN_YEAR
        assert 1 <= self.index <= top, self
        assert 1 <= self.year <= 9999, self  # noqa: PLR2004

    def __str__(self) -> str:
        if self.kind == "month":
            return f"{self.year:04d}-{self.index:02d}"
        return f"{self.year:04d}-Q{self.index}"

    @property
    def first_day(self) -> date:
        month = self.index if self.kind == "month" else (self.index - 1) * 3 + 1
        return date(self.year, month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def next(self) -> Period:
        top = _MONTHS_IN_YEAR if self.kind == "month" else _QUARTERS_IN_YEAR
        if self.index == top:
            return Period(self.kind, self.year + 1, 1)
        return Period(self.kind, self.year, self.index + 1)

    def previous(self) -> Period:
        top = _MONTHS_IN_YEAR if self.kind == "month" else _QUARTERS_IN_YEAR
        if self.index == 1:
            return Period(self.kind, self.year - 1, top)
        return Period(self.kind, self.year, self.index - 1)

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


def parse_period(text: str) -> Period:
    """Parse ``2026-07`` or ``2026-Q3``; ValueError names what is wrong."""
    value = text.strip()
    if match := _MONTH.match(value):
        month = int(match.group(2))
        if 1 <= month <= _MONTHS_IN_YEAR:
            return Period("month", int(match.group(1)), month)
    if match := _QUARTER.match(value):
        return Period("quarter", int(match.group(1)), int(match.group(2)))
    msg = f"period must look like 2026-07 or 2026-Q3, got {text!r}"
    raise ValueError(msg)


def period_of(occurred_at: datetime, kind: PeriodKind) -> Period:
    """The period an event belongs to: its date in its own offset."""
    if occurred_at.tzinfo is None:
        msg = "occurred_at needs an offset to have a period"
        raise ValueError(msg)
    day = occurred_at.date()
    if kind == "month":
        return Period("month", day.year, day.month)
    return Period("quarter", day.year, (day.month - 1) // _MONTHS_IN_QUARTER + 1)
