"""The replay index, ``proj_rep_events(rep_id, position, since, until)``: each
rep's events ("*": every rep's) with the business dates an event can change —
from ``since`` on (carried balances included) and, of its own figures, up to
``until`` (NULL: unbounded; a bounded event has both). An ``--as-of`` replay of
one period reads only the events that reach into it, and knows whether a stored
total still holds then. Read by position, it also names the reps an event
concerns (the API's access check on ``GET /events/{id}``).

Its SQL for both stores, and the compact form a rebuild holds its rows in.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from datetime import date
from functools import lru_cache

from projections.storage.core import IndexRow

__all__ = [
    "PG_CREATE",
    "PG_EARLIEST_CHANGE",
    "PG_EARLIEST_REACH",
    "PG_POSITIONS",
    "PG_POSITION_INDEX",
    "SQLITE_CREATE",
    "SQLITE_EARLIEST_CHANGE",
    "SQLITE_EARLIEST_REACH",
    "SQLITE_INSERT",
    "SQLITE_POSITIONS",
    "IndexBuffer",
    "copy_text",
    "day_of",
    "day_text",
    "index_rows",
]

SQLITE_CREATE = (
    (
        "CREATE TABLE IF NOT EXISTS proj_rep_events ("
        "rep_id TEXT NOT NULL, position INTEGER NOT NULL, since TEXT, until TEXT, "
        "PRIMARY KEY (rep_id, position)) WITHOUT ROWID"
    ),
    "CREATE INDEX IF NOT EXISTS proj_rep_events_position ON proj_rep_events (position)",
)
SQLITE_INSERT = "INSERT INTO proj_rep_events VALUES (?, ?, ?, ?)"
SQLITE_POSITIONS = (
    "SELECT position FROM proj_rep_events WHERE rep_id IN (?, '*') "
    "AND position <= ? AND (until IS NULL OR (until >= ? AND since <= ?)) "
    "ORDER BY position"
)
SQLITE_EARLIEST_CHANGE = (
    "SELECT count(*), max(since IS NULL), min(since) FROM proj_rep_events "
    "WHERE rep_id IN (?, '*') AND position > ?"
)
# The earliest date reached by the bounded events whose reach ends in a span: a
# payment's booking day (its row runs from the sale's day to the payment's).
SQLITE_EARLIEST_REACH = (
    "SELECT min(since) FROM proj_rep_events WHERE rep_id IN (?, '*') "
    "AND position <= ? AND until >= ? AND until <= ?"
)

# {schema} and {table} are filled in with identifiers (psycopg.sql).
PG_CREATE = (
    "CREATE TABLE IF NOT EXISTS {schema}.proj_rep_events ("
    "rep_id text NOT NULL, position bigint NOT NULL, since date, until date, "
    "PRIMARY KEY (rep_id, position))"
)
# Checked first: CREATE INDEX locks the table (SHARE) even when the index
# exists, and these statements run whenever a store is opened — while a
# rebuild's transaction holds the table, opening a store would wait for it.
PG_POSITION_INDEX = (
    "DO $$ BEGIN "
    "IF to_regclass({index}) IS NULL THEN "
    "CREATE INDEX proj_rep_events_position ON {schema}.proj_rep_events (position); "
    "END IF; END $$"
)
PG_POSITIONS = (
    "SELECT position FROM {table} WHERE rep_id IN (%s, '*') AND position <= %s "
    "AND (until IS NULL OR (until >= %s AND since <= %s)) ORDER BY position"
)
PG_EARLIEST_CHANGE = (
    "SELECT count(*) AS n, bool_or(since IS NULL) AS unbounded, "
    "min(since) AS earliest FROM {table} WHERE rep_id IN (%s, '*') AND position > %s"
)
PG_EARLIEST_REACH = (
    "SELECT min(since) AS earliest FROM {table} WHERE rep_id IN (%s, '*') "
    "AND position <= %s AND until >= %s AND until <= %s"
)


def index_rows(
    event_reps: Sequence[IndexRow],
) -> list[tuple[str, int, date | None, date | None]]:
    """(rep id, position, since, until) rows of the replay index; "*" marks events
    every rep needs."""
    return [
        (rep, position, since, until) for position, reps, since, until in event_reps for rep in reps
    ]


def copy_text(event_reps: Sequence[IndexRow]) -> bytes:
    """The replay index rows of ``event_reps`` in COPY's text format.

    Rep ids recorded through `ledger.events` need no escaping (letters, digits
    and ``-_.:@``), but an id is escaped all the same if it does; dates are ISO text.
    """
    day = _copy_day
    text = _copy_text_field
    return "".join(
        [
            f"{text(rep)}\t{position}\t{day(since)}\t{day(until)}\n"
            for position, reps, since, until in event_reps
            for rep in reps
        ]
    ).encode()


@lru_cache(maxsize=8192)
def _copy_text_field(value: str) -> str:
    return value.translate(_COPY_ESCAPES)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@lru_cache(maxsize=8192)
def _copy_day(day: date | None) -> str:
    return "\\N" if day is None else day.isoformat()


def day_text(day: date | None) -> str | None:
    """A date as SQLite stores it (ISO text)."""
    return day.isoformat() if day is not None else None


def day_of(text: str | None) -> date | None:
    return date.fromisoformat(text) if text is not None else None


class IndexBuffer:
    """Replay index rows held compactly until written: ~20 bytes an event (a
    tuple with its own dates took ~150), so a million-event rebuild holds 20 MB."""

    def __init__(self) -> None:
        self._positions = array("q")
        self._reps = array("I")
        self._since = array("i")
        self._until = array("i")
        self._rep_sets: list[tuple[str, ...]] = []
        self._rep_set_ids: dict[tuple[str, ...], int] = {}

    def extend(self, rows: Sequence[IndexRow]) -> None:
        ids = self._rep_set_ids
        for position, reps, since, until in rows:
            found = ids.get(reps)
            if found is None:
                found = ids[reps] = len(self._rep_sets)
                self._rep_sets.append(reps)
            self._positions.append(position)
            self._reps.append(found)
            self._since.append(since.toordinal() if since is not None else 0)
            self._until.append(until.toordinal() if until is not None else 0)

    def __iter__(self) -> Iterator[IndexRow]:
        day = _day_of_ordinal
        sets = self._rep_sets
        for position, reps, since, until in zip(
            self._positions, self._reps, self._since, self._until, strict=True
        ):
            yield position, sets[reps], day(since), day(until)


@lru_cache(maxsize=8192)
def _day_of_ordinal(ordinal: int) -> date | None:
    return date.fromordinal(ordinal) if ordinal else None
