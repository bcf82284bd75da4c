"""Diff two replays of the same rep and period (SPEC §4): which events changed
which lines, and by how much."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import ConfigDict, Field

from projections.rows import Row

__all__ = [
    "EventRef",
    "EventSummary",
    "LineChange",
    "Point",
    "StatementDiff",
    "UnrecordedEvent",
    "diff_statements",
]


class EventRef(Row):
    """An event a line gained or lost that was recorded outside the two points
    compared: named by its id only."""

    event_id: str


class EventSummary(Row):
    """An event recorded between the two points compared, and who recorded it."""

    event_id: str
    type: str
    position: int
    actor: str
    occurred_at: str


class UnrecordedEvent(EventSummary):
    """A what-if's event (`projections.whatif`): never recorded."""

    recorded: Literal[False]


class LineChange(Row):
    """A line whose amount changed, by how much, and the events behind it."""

    kind: str
    subject: str | None
    before: str
    after: str
    change: str
    events_added: list[EventSummary | UnrecordedEvent | EventRef]
    events_removed: list[EventSummary | UnrecordedEvent | EventRef]


class Point(Row):
    """A point of the event order a statement was computed at."""

    position: int
    recorded_at: str | None


class StatementDiff(Row):
    """Which events changed which lines of a rep's period between two points
    (``from`` and ``to``) of the event order."""

    model_config = ConfigDict(populate_by_name=True)

    rep_id: str
    period: str
    from_: Point = Field(alias="from")
    to: Point
    total_before: str
    total_after: str
    total_change: str
    changes: Sequence[LineChange]
    events_between: list[EventSummary]


def _line_key(line: Mapping[str, Any]) -> tuple[str, str]:
    """A line's kind and subject, as `policies.corrections.line_subject` has them."""
    subject = ""
    if line["kind"] in {"commission", "bonus"}:  # one a period
        return line["kind"], subject
    for step in line["explanation"]:
        for name in ("case_id", "adjustment_id", "paid_period", "from_period"):
            if name in step["values"]:
                subject = f"{name}={step['values'][name]}"
                break
        if subject:
            break
    return line["kind"], subject


def diff_statements(
    before: Mapping[str, Any], after: Mapping[str, Any], events: Mapping[str, EventSummary]
) -> StatementDiff:
    """Line-by-line changes between ``before`` and ``after``: the lines whose
    amount changed (SPEC §4), each with the events it gained or lost.

    ``events`` maps event ids to their summaries (type, actor, position) for the
    events recorded between the two positions, so each change names the events
    behind it and the people who recorded them.
    """
    old = {_line_key(line): line for line in before["lines"]}
    new = {_line_key(line): line for line in after["lines"]}
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        amount_a = Decimal(a["amount"]) if a else Decimal(0)
        amount_b = Decimal(b["amount"]) if b else Decimal(0)
        ids_a = set(a["event_ids"]) if a else set()
        ids_b = set(b["event_ids"]) if b else set()
        added = [e for e in (b["event_ids"] if b else []) if e not in ids_a]
        removed = [e for e in (a["event_ids"] if a else []) if e not in ids_b]
        if amount_a == amount_b:
            continue  # SPEC §4: a line whose amount did not change is not listed
        changes.append(
            LineChange(
                kind=key[0],
                subject=key[1] or None,
                before=format(amount_a, "f"),
                after=format(amount_b, "f"),
                change=format(amount_b - amount_a, "f"),
                events_added=[events.get(e) or EventRef(event_id=e) for e in added],
                events_removed=[events.get(e) or EventRef(event_id=e) for e in removed],
            )
        )
    total_a, total_b = Decimal(before["total"]), Decimal(after["total"])
    return StatementDiff(
        rep_id=after["rep_id"],
        period=after["period"],
        from_=Point.model_validate(before["as_of"]),
        to=Point.model_validate(after["as_of"]),
        total_before=before["total"],
        total_after=after["total"],
        total_change=format(total_b - total_a, "f"),
        changes=changes,
        events_between=list(events.values()),
    )
