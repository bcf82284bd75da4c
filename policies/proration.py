"""Bonus proration (SPEC §3.1): with ``prorate``, the target bonus is scaled by
the rep's enrolled days in the period over the period's days, counting both the
enrolment day and the day of ``RepLeft``. The scaled amount replaces
``target_bonus`` everywhere in rule 4 (the cap included), unrounded until the
bonus line is rounded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from policies.explanation import Step, money, step
from policies.periods import Period

__all__ = ["Proration", "proration"]


@dataclass(frozen=True)
class Proration:
    """The share of a period a rep was enrolled: ``days`` of ``period_days``."""

    first_day: date
    last_day: date
    days: int
    period_days: int

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.days, self.period_days)

    def step(self, target_bonus: Decimal, event_ids: tuple[str | None, ...] = ()) -> Step:
        """The step that explains the scaling of ``target_bonus``."""
        return step(
            "bonus_prorated",
            event_ids,
            enrolled_from=self.first_day.isoformat(),
            enrolled_to=self.last_day.isoformat(),
            days=self.days,
            period_days=self.period_days,
            fraction=self.fraction,
            target_bonus=money(target_bonus),
        )


def proration(period: Period, enrolled_on: date, left_on: date | None = None) -> Proration:
    """The enrolled days of ``period``: from the later of its first day and the
    enrolment day to the earlier of its last day and the day the rep left, both
    ends counted; 0 days when the rep was not enrolled in it at all."""
    first = max(period.first_day, enrolled_on)
    last = period.last_day if left_on is None else min(period.last_day, left_on)
    period_days = (period.last_day - period.first_day).days + 1
    days = max((last - first).days + 1, 0)
    return Proration(first, last, days, period_days)
