"""The rep directory (name, team, manager, plan) and each rep's disputes.

A rep's team and manager change from a transfer's ``occurred_at`` on (SPEC §2),
which may lie after the day it is recorded, or before a transfer recorded
earlier. The directory row keeps every dated team and manager (`DirectoryRow`),
a function of the events alone (`verify` compares it with a fresh replay);
which of them is in force is asked for one day, where a request is served
(`DirectoryRow.on`, and `team_on` and `manager_on` of a stored document).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from projections.facts import LedgerFacts
from projections.rows import Row
from projections.versioning import ReadModel

__all__ = [
    "DISPUTES",
    "REPS",
    "Dated",
    "DirectoryRow",
    "DisputeRow",
    "RepRow",
    "disputes_of",
    "in_force",
    "manager_on",
    "rep_row",
    "team_on",
]

REPS = ReadModel("reps", 3, "the rep directory: names, dated teams and managers, plans, leaving")
DISPUTES = ReadModel("disputes", 1, "each rep's disputes, open and resolved")

# A team or manager from a moment on: (its event's occurred_at as recorded, in
# its own offset; the event's position; the team or manager id, None for none)
Dated = tuple[str, int, str | None]


def in_force(dated: Sequence[Sequence[Any]], day: date) -> str | None:
    """The value of ``dated`` (in the order of their moments, then positions) in
    force on ``day``: the latest whose occurred_at falls on or before it (its date
    in its own offset, as an event's period is); before the first, the first's
    (a rep keeps the team they were enrolled in until it changes)."""
    if not dated:
        return None
    found: str | None = dated[0][2]
    asked = day.isoformat()
    for since, _, value in dated:
        if since[:10] <= asked:
            found = value
    return found


def in_force_at(dated: Sequence[Sequence[Any]], at: datetime) -> str | None:
    """The value of ``dated`` in force at the instant ``at``: the latest whose
    occurred_at is at or before it (ties by log position, as they are ordered);
    before the first, the first's. The rule of SPEC §3.1's overrides (the
    reporting lines at a sale's moment), where `in_force` asks of a whole day."""
    if not dated:
        return None
    found: str | None = dated[0][2]
    for since, _, value in dated:
        if datetime.fromisoformat(since) > at:
            break
        found = value
    return found


def team_on(doc: Mapping[str, Any], day: date) -> str | None:
    """The team a stored directory document gives the rep on ``day``."""
    return in_force(doc.get("teams") or (), day)


def manager_on(doc: Mapping[str, Any], day: date) -> str | None:
    """The manager a stored directory document gives the rep on ``day``."""
    return in_force(doc.get("managers") or (), day)


class RepRow(Row):
    """Who a rep reports to on one day and what pays them (`DirectoryRow.on`),
    as the API's lists send it: no name (the pages read `DirectoryRow.name`)."""

    left: bool
    manager_id: str | None
    plan_ids: list[str]
    rep_id: str
    team: str | None


class DirectoryRow(Row):
    """A rep's directory row as stored: their name (the enrolment's, which no
    event changes), every team and manager they had, each from its moment on,
    in that order (ties by log position), and what pays them. ``name`` is None
    in a row stored before the directory held names (version 2), until the
    replay of the new version replaces it."""

    left: bool
    managers: list[Dated]
    name: str | None = None
    plan_ids: list[str]
    rep_id: str
    teams: list[Dated]

    def on(self, day: date) -> RepRow:
        """The rep as of ``day``: the team and manager in force then."""
        return RepRow(
            left=self.left,
            manager_id=in_force(self.managers, day),
            plan_ids=self.plan_ids,
            rep_id=self.rep_id,
            team=in_force(self.teams, day),
        )

    def manager_at(self, at: datetime) -> str | None:
        """The rep's manager at the instant ``at`` (`in_force_at`): whose watch an
        event of that moment is on, as the overrides count it."""
        return in_force_at(self.managers, at)

    def managers_between(self, first: date, last: date) -> list[str]:
        """Every manager the rep had on some day from ``first`` to ``last``: the one
        in force on ``first``, then each that took over by ``last`` — and the one
        a move dated ``first`` took over from, when that move is not at its
        midnight: the rep was theirs from that day's start to the move's
        instant, whose events are on their watch (`manager_at`, the overrides'
        rule); a manager moved from at 15:00 on 1 September was refused the
        rep's September, the morning's sale in it paying them an override.
        Each that took over on ``first`` itself is among them too: moved to at
        10:00 and on at 14:00, the rep was theirs for those hours."""
        found = [in_force(self.managers, first)]
        after, until = first.isoformat(), last.isoformat()
        moved = next((since for since, _, _ in self.managers if since[:10] == after), None)
        if moved is not None:
            start = datetime.combine(first, time(0), datetime.fromisoformat(moved).tzinfo)
            found.insert(0, in_force_at(self.managers, start))
        found += [value for since, _, value in self.managers if after <= since[:10] <= until]
        return [m for m in dict.fromkeys(found) if m is not None]


class DisputeRow(Row):
    """A dispute a rep raised on a payout run, and its resolution once made."""

    adjustment_id: str | None
    dispute_id: str
    message: str
    note: str | None
    outcome: str | None
    raised_at: str
    raised_by: str
    raised_event_id: str
    rep_id: str
    resolved_by: str | None
    resolved_event_id: str | None
    run_id: str
    status: str


def rep_row(facts: LedgerFacts, rep_id: str) -> dict[str, Any]:
    """The rep's directory row (`DirectoryRow`), as stored: their teams and
    managers in the order of their moments, then of the log."""
    rep = facts.reps[rep_id]
    return DirectoryRow(
        rep_id=rep_id,
        teams=[(at.isoformat(), p, team) for at, p, team in sorted(rep.teams, key=_moment)],
        managers=[(at.isoformat(), p, who) for at, p, who in sorted(rep.managers, key=_moment)],
        name=rep.enrolled.data["name"],
        plan_ids=sorted({plan_id for _, _, plan_id in rep.assignments}),
        left=rep.left is not None,
    ).doc()


def _moment(dated: tuple[Any, int, Any]) -> tuple[Any, int]:
    return dated[0], dated[1]


def disputes_of(facts: LedgerFacts, rep_id: str) -> dict[str, Any]:
    """The rep's disputes, raised and (maybe) resolved, by dispute id."""
    rows: dict[str, Any] = {}
    for dispute_id in facts.by_rep.get(rep_id, {}).get("disputes", []):
        raised = facts.disputes[dispute_id]
        resolved = facts.resolutions.get(dispute_id)
        rows[dispute_id] = DisputeRow(
            dispute_id=dispute_id,
            rep_id=rep_id,
            run_id=raised.data["run_id"],
            message=raised.data["message"],
            raised_by=raised.actor,
            raised_event_id=raised.event_id,
            raised_at=raised.occurred_at.isoformat(),
            status="resolved" if resolved else "open",
            outcome=resolved.data["outcome"] if resolved else None,
            note=resolved.data["note"] if resolved else None,
            adjustment_id=resolved.data.get("adjustment_id") if resolved else None,
            resolved_by=resolved.actor if resolved else None,
            resolved_event_id=resolved.event_id if resolved else None,
        ).doc()
    return rows
