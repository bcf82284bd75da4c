"""Overrides (SPEC §3.1): a manager whose plan has ``[override]`` earns an
``override`` line per level — the level's rate × the credited sales, in the
manager's period, of the reps who reported to them (level 1) or to those reps
(level 2) at each sale's ``occurred_at``.

Reporting lines change over time (``RepEnrolled.manager_id``, then the latest
``RepTransferred`` at or before the moment): `ReportingLines` answers "who was
X's manager at T" from those facts, and `override_lines` takes each team
member's credited sales as plain input, so the rule knows nothing of events.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from policies.explanation import Line, Step, ratio, step
from policies.plan import Override
from policies.rounding import CALC

__all__ = ["ManagerChange", "ReportingLines", "TeamSale", "override_lines"]


@dataclass(frozen=True)
class ManagerChange:
    """From ``occurred_at`` on, ``rep_id`` reports to ``manager_id`` (None: to no one)."""

    rep_id: str
    manager_id: str | None
    occurred_at: datetime
    position: int
    event_id: str


@dataclass
class ReportingLines:
    """Who reported to whom, over time."""

    _changes: dict[str, list[ManagerChange]] = field(default_factory=dict)
    # each history's moments, in its order: what `manager_at` bisects
    _moments: dict[str, list[datetime]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, changes: Iterable[ManagerChange]) -> ReportingLines:
        lines = cls()
        for change in changes:
            lines._changes.setdefault(change.rep_id, []).append(change)
        for rep_id, history in lines._changes.items():
            history.sort(key=lambda c: (c.occurred_at, c.position))
            lines._moments[rep_id] = [c.occurred_at for c in history]
        return lines

    def without(self, rep_id: str, event_id: str) -> ReportingLines:
        """These lines as if ``rep_id``'s change ``event_id`` had never been
        recorded (the other histories shared, never changed)."""
        history = [c for c in self._changes.get(rep_id, ()) if c.event_id != event_id]
        return ReportingLines(
            {**self._changes, rep_id: history},
            {**self._moments, rep_id: [c.occurred_at for c in history]},
        )

    def manager_at(self, rep_id: str, at: datetime) -> ManagerChange | None:
        """The change in force for ``rep_id`` at ``at``: the latest at or before it."""
        history = self._changes.get(rep_id)
        if not history:
            return None
        index = bisect_right(self._moments[rep_id], at)
        return history[index - 1] if index else None

    def level_of(
        self, manager_id: str, rep_id: str, at: datetime
    ) -> tuple[int, tuple[str, ...]] | None:
        """1 when ``rep_id`` reported to ``manager_id`` at ``at``, 2 when their
        manager did; with the events that say so. None otherwise."""
        found, _ = self._level_and_reads(manager_id, rep_id, at)
        return found

    def consulted(self, manager_id: str, rep_id: str, at: datetime) -> tuple[str, ...]:
        """The reporting events `level_of`'s answer rests on, a level or none:
        the change in force for ``rep_id`` at ``at`` and, when it names another
        manager, that manager's. Each is the latest of its history at ``at``,
        so taking out any other event leaves the answer as it is."""
        _, read = self._level_and_reads(manager_id, rep_id, at)
        return read

    def _level_and_reads(
        self, manager_id: str, rep_id: str, at: datetime
    ) -> tuple[tuple[int, tuple[str, ...]] | None, tuple[str, ...]]:
        if rep_id == manager_id:  # their own sales: earnings, never an override
            return None, ()
        first = self.manager_at(rep_id, at)
        if first is None or first.manager_id is None:
            return None, (first.event_id,) if first is not None else ()
        if first.manager_id == manager_id:
            return (1, (first.event_id,)), (first.event_id,)
        second = self.manager_at(first.manager_id, at)
        if second is None:
            return None, (first.event_id,)
        read = (first.event_id, second.event_id)
        return ((2, read) if second.manager_id == manager_id else None), read

    def has_reports(self, manager_id: str) -> bool:
        """Whether anyone ever reported to ``manager_id``."""
        return any(
            c.manager_id == manager_id for history in self._changes.values() for c in history
        )


@dataclass(frozen=True)
class TeamSale:
    """A credited sale of a rep in the manager's period (credited to that rep),
    with the exchange rate events its conversion used (SPEC §3.1 currencies:
    none in the manager's currency)."""

    rep_id: str
    sale_id: str
    event_id: str
    occurred_at: datetime
    credited: Decimal
    rate_event_ids: tuple[str, ...] = ()


def override_lines(
    manager_id: str,
    override: Override,
    sales: Sequence[TeamSale],
    lines: ReportingLines,
    plan_event_id: str | None = None,
) -> list[Line]:
    """An ``override`` line per level with a rate: the rate × the credited sales
    of the reps at that level at each sale's moment; its explanation lists each
    rep's credited total and the sales, rates and reporting events it rests on."""
    by_level: dict[int, dict[str, tuple[Decimal, list[str]]]] = {}
    for sale in sorted(sales, key=lambda s: (s.occurred_at, s.sale_id, s.rep_id)):
        found = lines.level_of(manager_id, sale.rep_id, sale.occurred_at)
        if found is None or found[0] > len(override.rates):
            continue
        level, reporting_ids = found
        reps = by_level.setdefault(level, {})
        credited, ids = reps.get(sale.rep_id, (Decimal(0), []))
        ids.extend((sale.event_id, *sale.rate_event_ids, *reporting_ids))
        reps[sale.rep_id] = (CALC.add(credited, sale.credited), ids)
    result = []
    for level, rate in enumerate(override.rates, start=1):
        found_reps = by_level.get(level)
        if not found_reps:
            continue
        steps: list[Step] = []
        total = Decimal(0)
        for rep_id in sorted(found_reps):
            credited, ids = found_reps[rep_id]
            total = CALC.add(total, credited)
            steps.append(
                step(
                    "override_rep",
                    dict.fromkeys(ids),
                    level=level,
                    rep_id=rep_id,
                    credited=credited,
                )
            )
        amount = CALC.multiply(total, rate)
        steps.append(
            step(
                "override_total",
                (plan_event_id,),
                level=level,
                credited=total,
                rate=ratio(rate),
                amount=amount,
            )
        )
        result.append(Line.of("override", amount, steps))
    return result
