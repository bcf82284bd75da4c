"""Pay periods: a month (``2026-07``) or a quarter (``2026-Q3``), as a plan says.

SPEC §2: an event belongs to the period of ``occurred_at``'s date *in its own
offset* — a sale at 23:30 on 30 September in Shanghai is a Q3 sale, whatever
the UTC clock says.

SPEC §2 bounds: periods lie in the years 2000-2199 (``2000-01``..``2199-12``,
``2000-Q1``..``2199-Q4``), like the dates they are made of. `parse_period` — the
edge, for inputs and queries — refuses any other; a `Period` itself spans any
year, so arithmetic just past either edge (``2199-Q4``'s next period holds
the corrections of a paid ``2199-Q4``) still works, and `stored_period` reads
back the keys the read side wrote for such a period.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal, NamedTuple, Self

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "Period",
    "PeriodKind",
    "after_the_day_of",
    "in_bounds",
    "iso_moment",
    "parse_period",
    "period_of",
    "period_of_day",
    "stored_period",
]

PeriodKind = Literal["month", "quarter"]
FIRST_YEAR = 2000
LAST_YEAR = 2199
_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.ASCII)
# ISO 8601 as written: a date, then "T" or a space and a time (its offset optional)
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d.*)?|\d{8}(?:[Tt]\d.*)?", re.ASCII)
_DATE_AT_OFFSET = re.compile(r"(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})", re.ASCII)
_MONTHS_IN_QUARTER = 3
_MONTHS_IN_YEAR = 12
_QUARTERS_IN_YEAR = 4


class _PeriodFields(NamedTuple):
    kind: PeriodKind
    year: int
    number: int  # month 1-12, or quarter 1-4


class Period(_PeriodFields):
    """One pay period.

    A named tuple (ordered and hashed as ``(kind, year, number)``, as the frozen
    dataclass it replaced), and the ones this module makes are shared: a rebuild
    places a million sales in periods and keys its tables by them, and a
    dataclass cost 1.5 us to make and 0.4 us to hash.
    """

    __slots__ = ()

    def __new__(cls, kind: PeriodKind, year: int, number: int) -> Self:
        top = _MONTHS_IN_YEAR if kind == "month" else _QUARTERS_IN_YEAR
        assert kind in {"month", "quarter"}, kind
        assert 1 <= number <= top, (kind, year, number)
        assert 1 <= year <= 9999, (kind, year, number)  # noqa: PLR2004
        return super().__new__(cls, kind, year, number)

    def __str__(self) -> str:
        if self.kind == "month":
            return f"{self.year:04d}-{self.number:02d}"
        return f"{self.year:04d}-Q{self.number}"

    def __repr__(self) -> str:
        return f"Period({self.kind!r}, {self.year}, {self.number})"

    @property
    def first_day(self) -> date:
        month = self.number if self.kind == "month" else (self.number - 1) * 3 + 1
        return date(self.year, month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def next(self) -> Period:
        top = _MONTHS_IN_YEAR if self.kind == "month" else _QUARTERS_IN_YEAR
        if self.number == top:
            return _period(self.kind, self.year + 1, 1)
        return _period(self.kind, self.year, self.number + 1)

    def previous(self) -> Period:
        top = _MONTHS_IN_YEAR if self.kind == "month" else _QUARTERS_IN_YEAR
        if self.number == 1:
            return _period(self.kind, self.year - 1, top)
        return _period(self.kind, self.year, self.number - 1)

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def overlaps(self, other: Period) -> bool:
        """Whether the two share a day: the same period, a quarter and one of
        its months, or a month and its quarter."""
        return self.first_day <= other.last_day and other.first_day <= self.last_day

    def overlapping(self) -> tuple[Period, ...]:
        """The periods of the other kind that share a day with this one: a
        quarter's three months, or a month's quarter (SPEC §5: a rep's days are
        paid at most once, whichever kind of period paid them)."""
        if self.kind == "quarter":
            first = (self.number - 1) * _MONTHS_IN_QUARTER + 1
            return tuple(_period("month", self.year, m) for m in range(first, first + 3))
        return (_period("quarter", self.year, (self.number - 1) // _MONTHS_IN_QUARTER + 1),)


def after_the_day_of(moment: datetime, event_at: datetime) -> bool:
    """Whether ``moment`` falls after the day of ``event_at`` — at or after the
    midnight that ends that day in ``event_at``'s own offset, compared as
    instants (a sale after the day its rep left: dates each in its own offset
    credited a sale made 7 hours before the departure nothing, and paid one
    made 35 hours after)."""
    next_day = event_at.date() + timedelta(days=1)
    return moment >= datetime.combine(next_day, time(0), event_at.tzinfo)


def in_bounds(year: int) -> bool:
    """SPEC §2: whether a year lies in 2000-2199, the ledger's bounds."""
    return FIRST_YEAR <= year <= LAST_YEAR


def parse_period(text: str) -> Period:
    """Parse ``2026-07`` or ``2026-Q3`` within SPEC §2's bounds (years
    2000-2199); ValueError names what is wrong."""
    value = text.strip()
    if match := _MONTH.match(value):
        month = int(match.group(2))
        if 1 <= month <= _MONTHS_IN_YEAR:
            return _bounded("month", int(match.group(1)), month, text)
    if match := _QUARTER.match(value):
        return _bounded("quarter", int(match.group(1)), int(match.group(2)), text)
    msg = f"period must look like 2026-07 or 2026-Q3, got {text[:40]!r}"
    raise ValueError(msg)


def stored_period(text: str) -> Period:
    """A period the ledger wrote itself — a read model's key — in any year a
    `Period` spans: the period after ``2199-Q4`` holds a paid ``2199-Q4``'s
    correction and carried balance, and reading its key back must not fail
    as an input outside SPEC §2's bounds would (`parse_period`, the edge's:
    a kept ``2200-Q1`` stopped the projector at the rep's next event, and
    the pages listing periods). ValueError for text that is no period."""
    if (match := _MONTH.match(text)) and 1 <= int(match.group(2)) <= _MONTHS_IN_YEAR:
        return _period("month", int(match.group(1)), int(match.group(2)))
    if match := _QUARTER.match(text):
        return _period("quarter", int(match.group(1)), int(match.group(2)))
    msg = f"not a stored period: {text[:40]!r}"
    raise ValueError(msg)


def _bounded(kind: PeriodKind, year: int, number: int, text: str) -> Period:
    if not in_bounds(year):
        msg = (
            f"period must lie in the years {FIRST_YEAR}-{LAST_YEAR} "
            f"({FIRST_YEAR}-01..{LAST_YEAR}-12 or {FIRST_YEAR}-Q1..{LAST_YEAR}-Q4), "
            f"got {text!r}"
        )
        raise ValueError(msg)
    return _period(kind, year, number)


def period_of(occurred_at: datetime, kind: PeriodKind) -> Period:
    """The period an event belongs to: its date in its own offset."""
    if occurred_at.tzinfo is None:
        msg = "occurred_at needs an offset to have a period"
        raise ValueError(msg)
    return _period_of_month(kind, occurred_at.year, occurred_at.month)


def period_of_day(day: date, kind: PeriodKind) -> Period:
    """The period of ``kind`` that holds ``day``."""
    return _period_of_month(kind, day.year, day.month)


@lru_cache(maxsize=4096)
def _period_of_month(kind: PeriodKind, year: int, month: int) -> Period:
    if kind == "month":
        return _period("month", year, month)
    return _period("quarter", year, (month - 1) // _MONTHS_IN_QUARTER + 1)


@lru_cache(maxsize=4096)
def _period(kind: PeriodKind, year: int, number: int) -> Period:
    """The shared `Period` of these fields (checked once)."""
    return Period(kind, year, number)


def iso_moment(text: str) -> datetime | None:
    """``text`` as an ISO 8601 date, or date and time, with its offset if it
    has one; None when it is neither. A date with an offset
    (``2026-09-30-05:00``, as XML writes one) is the start of that day at
    that offset. Python's own reading takes any character between a date
    and a time, so it read that date as 05:00 with no offset — the offset
    lost, the time made up —; here a date and a time are apart by "T" or a
    space only."""
    text = text.strip()
    if day := _DATE_AT_OFFSET.fullmatch(text):
        offset = "+00:00" if day[2] == "Z" else day[2]
        text = f"{day[1]}T00:00:00{offset}"
    elif not _ISO_MOMENT.fullmatch(text):
        return None
    try:  # a day or an offset out of range (2026-02-30+08:00, +25:00): none
        return datetime.fromisoformat(text)
    except ValueError:
        return None
