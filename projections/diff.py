"""Diff two replays of the same rep and period (SPEC §4): which events changed
which lines, and by how much."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field

from ledger.records import EventRecord
from policies.corrections import ONE_PER_PERIOD, SUBJECT_KEYS
from projections.rows import Row

__all__ = [
    "EventRef",
    "EventSummary",
    "LineChange",
    "Point",
    "StatementDiff",
    "UnrecordedEvent",
    "WithheldEvent",
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

    @classmethod
    def of(cls, record: EventRecord, **more: Any) -> Self:
        """The summary of a stored (or, with ``more``, a what-if's) event."""
        return cls(
            event_id=record.event_id,
            type=record.type,
            position=record.position,
            actor=record.actor,
            occurred_at=record.occurred_at.isoformat(),
            **more,
        )


class UnrecordedEvent(EventSummary):
    """A what-if's event (`projections.whatif`): never recorded."""

    recorded: Literal[False]


class WithheldEvent(Row):
    """The events behind a change that its reader may not read (GET /events
    would answer 404: a sale a former report made on another team's watch, a
    case or coaching outside the reader's role): the line says it changed
    because of them, naming none — neither id nor type, actor or time."""

    withheld: Literal[True] = True


class LineChange(Row):
    """A line whose amount changed, by how much, and the events behind it."""

    kind: str
    subject: str | None
    before: str
    after: str
    change: str
    # the events the line cites now and did not, and those it cited and no
    # longer does: events are never deleted, so one the later point holds
    # (a sale whose rep left the manager's team, a target a later one
    # replaced) still stands and only stopped counting on this line; only a
    # diff back in time lists events that point had not recorded yet
    events_added: list[EventSummary | UnrecordedEvent | EventRef]
    events_removed: list[EventSummary | UnrecordedEvent | EventRef]
    # the events between the two points whose removal from the later replay
    # changes this line's amount (SPEC §4: which events changed which lines);
    # those its reader may not read, as one `WithheldEvent`
    caused_by: list[EventSummary | UnrecordedEvent | EventRef | WithheldEvent]


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


_NO_LINE = Decimal("0.00")  # a line one side does not have: money, with its cents


def _line_key(line: Mapping[str, Any]) -> tuple[str, str]:
    """A line's kind and subject, as `policies.corrections.line_subject` has them
    (the subject "" for none): two override lines of two levels, or two SPIFFs,
    are two lines."""
    if line["kind"] in ONE_PER_PERIOD:
        return line["kind"], ""
    for step in line["explanation"]:
        for name in SUBJECT_KEYS:
            if name in step["values"]:
                return line["kind"], f"{name}={step['values'][name]}"
    return line["kind"], ""


def _cited(statement: Mapping[str, Any]) -> set[str]:
    return {e for line in statement["lines"] for e in line["event_ids"]}


def _named(
    event_id: str, events: Mapping[str, EventSummary], hidden: AbstractSet[str]
) -> EventSummary | EventRef:
    """An event a line cites: its summary, or its id alone when it is not known
    or its reader may not read it."""
    found = events.get(event_id)
    return EventRef(event_id=event_id) if found is None or event_id in hidden else found


def _causes(
    event_ids: Sequence[str], events: Mapping[str, EventSummary], hidden: AbstractSet[str]
) -> list[EventSummary | UnrecordedEvent | EventRef | WithheldEvent]:
    """The events that changed a line, those its reader may not read withheld
    (one mark for all of them, at the end: how many is theirs too)."""
    named: list[EventSummary | UnrecordedEvent | EventRef | WithheldEvent] = [
        _named(e, events, hidden) for e in event_ids if e not in hidden
    ]
    if any(e in hidden for e in event_ids):
        named.append(WithheldEvent())
    return named


def diff_statements(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    events: Mapping[str, EventSummary],
    causes: Mapping[str, AbstractSet[tuple[str, str | None]]] | None = None,
    hidden: AbstractSet[str] = frozenset(),
) -> StatementDiff:
    """Line-by-line changes between ``before`` and ``after``: the lines whose
    amount changed (SPEC §4), each with the events it gained or lost and the
    events that changed it.

    ``events`` maps event ids to their summaries (type, actor, position, time):
    those recorded between the two positions, and any other a change cites, so
    each change names the events behind it and the people who recorded them.
    ``causes`` maps each event recorded between the two points whose removal
    from the later replay would change a line to those lines (kind, subject;
    `projections.statement.Calculator.changed_since`): a bonus that moved with
    a sale's attainment names the sale though its steps cite the targets.
    A line that appeared or vanished gains or loses only the events the other
    side cites nowhere (the plan it still rests on is not "removed").
    ``hidden``: the events the diff's reader may not read — a cause among
    them is withheld (one `WithheldEvent` for the line, however many), an
    event a line gained or lost is named by its id alone, as the statement's
    line, which its reader does read, cites it.
    """
    old = {_line_key(line): line for line in before["lines"]}
    new = {_line_key(line): line for line in after["lines"]}
    by_line: dict[tuple[str, str], list[str]] = {}
    for event_id, lines in (causes or {}).items():
        for kind, subject in lines:
            by_line.setdefault((kind, subject or ""), []).append(event_id)
    cited_before, cited_after = _cited(before), _cited(after)
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        amount_a = Decimal(a["amount"]) if a else _NO_LINE
        amount_b = Decimal(b["amount"]) if b else _NO_LINE
        if amount_a == amount_b:
            continue  # SPEC §4: a line whose amount did not change is not listed
        ids_a = set(a["event_ids"]) if a else cited_before
        ids_b = set(b["event_ids"]) if b else cited_after
        added = [e for e in (b["event_ids"] if b else []) if e not in ids_a]
        removed = [e for e in (a["event_ids"] if a else []) if e not in ids_b]
        changes.append(
            LineChange(
                kind=key[0],
                subject=key[1] or None,
                before=format(amount_a, "f"),
                after=format(amount_b, "f"),
                change=format(amount_b - amount_a, "f"),
                events_added=[_named(e, events, hidden) for e in added],
                events_removed=[_named(e, events, hidden) for e in removed],
                caused_by=_causes(by_line.get(key, []), events, hidden),
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
