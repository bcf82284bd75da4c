"""Where the read models live: tables in the ledger's own database, written
together with the library's tracking row in one transaction (exactly once).

``proj_event_counts`` counts the events applied per type by *adding* to the
stored count: the one read model that would show an event applied twice (or
lost), which is what the crash test checks.

Each other read model is a table ``proj_<name>(scope, key, doc)``: ``scope`` is what a
change replaces wholesale (a rep's rows, a run's row), ``key`` orders rows within
it, ``doc`` is the row as JSON (money as decimal text). A replayed position fails
on the tracking row and changes nothing.

The replay index ``proj_rep_events(rep_id, position, since, until)`` lists each
rep's events ("*": every rep's) with the business dates an event can change:
from ``since`` on (carried balances included) and, of its own figures, up to
``until`` (NULL: unbounded; a bounded event has both). An ``--as-of`` replay of
one period reads only the events that reach into it, and knows whether a stored
total still holds then. Read by position, it also names the reps an event
concerns (the API's access check on ``GET /events/{id}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Protocol

import orjson
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL, Identifier, Literal

from ledger.application import Ledger
from ledger.backends.postgres import schema_lock

__all__ = ["VIEWS", "IndexRow", "Replacement", "ViewStore", "open_view_store"]

VIEWS: tuple[str, ...] = (
    "balances",
    "attainment",
    "statements",
    "discipline",
    "pending_approvals",
    "payout_runs",
    "reps",
    "disputes",
)
TRACKING_NAME = "incentive_ledger_views"

# The replay index entry of one event: (position, the reps it touches or ("*",),
# the first date it can change, the last of its own figures).
IndexRow = tuple[int, tuple[str, ...], date | None, date | None]


@dataclass(frozen=True)
class Replacement:
    """Replace every row of ``view`` in ``scope`` with ``rows`` (key -> doc)."""

    view: str
    scope: str
    rows: Mapping[str, Mapping[str, Any]]
    from_key: str | None = None  # replace only the rows whose key is >= this


class ViewStore(Protocol):
    def position(self) -> int: ...

    def write(
        self,
        replacements: Iterable[Replacement],
        position: int,
        counts: Mapping[str, int] | None = None,
        event_reps: Sequence[IndexRow] = (),
    ) -> None: ...

    def event_counts(self) -> dict[str, int]: ...

    def reps_at(self, position: int) -> list[str]:
        """The reps the event at ``position`` concerns ("*": every rep)."""
        ...

    def row(self, view: str, scope: str, key: str) -> dict[str, Any] | None: ...

    def row_json(self, view: str, scope: str, key: str) -> bytes | None: ...

    def row_json_at(self, view: str, scope: str, key: str) -> tuple[bytes | None, int]:
        """`row_json` and the position the read models are at, read together
        (one statement: the document is exactly as of that position)."""
        ...

    def rep_positions(
        self,
        rep_id: str,
        upto: int,
        *,
        reaching: date | None = None,
        through: date | None = None,
    ) -> list[int]:
        """Positions of ``rep_id``'s events up to ``upto``; with ``reaching`` and
        ``through``, only those that can change that span's own figures (and the
        unbounded ones: plans, enrolment, runs, disputes)."""
        ...

    def earliest_change_after(self, rep_id: str, after: int) -> date | None:
        """The first business date ``rep_id``'s events after ``after`` can change
        (``date.min``: any); None when there are none."""
        ...

    def rep_index(self) -> dict[tuple[str, int], tuple[date | None, date | None]]: ...

    def last_key_before(self, view: str, scope: str, key: str) -> str | None:
        """The greatest key of ``scope``'s rows in ``view`` below ``key``."""
        ...

    def rows(
        self, view: str, scope: str | None = None
    ) -> list[tuple[str, str, dict[str, Any]]]: ...

    def drop(self) -> None: ...


def _doc(value: Mapping[str, Any]) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class SQLiteViewStore(SQLiteTrackingRecorder):
    """Read models in the embedded SQLite file."""

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.extend(
            f"CREATE TABLE IF NOT EXISTS proj_{view} ("
            "scope TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, "
            "PRIMARY KEY (scope, key))"
            for view in VIEWS
        )
        statements.append(
            "CREATE TABLE IF NOT EXISTS proj_event_counts ("
            "type TEXT PRIMARY KEY, count INTEGER NOT NULL)"
        )
        statements.append(
            "CREATE TABLE IF NOT EXISTS proj_rep_events ("
            "rep_id TEXT NOT NULL, position INTEGER NOT NULL, since TEXT, until TEXT, "
            "PRIMARY KEY (rep_id, position)) WITHOUT ROWID"
        )
        statements.append(
            "CREATE INDEX IF NOT EXISTS proj_rep_events_position ON proj_rep_events (position)"
        )
        # An earlier version kept event id -> reps in a table of its own (a second
        # row per event, written by every rebuild): the index above answers it.
        statements.append("DROP TABLE IF EXISTS proj_event_reps")
        return statements

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as c:
            c.execute("PRAGMA table_info(proj_rep_events)")
            if "since" not in {row[1] for row in c.fetchall()}:
                # made by an earlier version: NULL dates read as "any period",
                # which is always correct (replays of them read every event)
                c.execute("ALTER TABLE proj_rep_events ADD COLUMN since TEXT")
                c.execute("ALTER TABLE proj_rep_events ADD COLUMN until TEXT")

    def row(self, view: str, scope: str, key: str) -> dict[str, Any] | None:
        found = self.row_json(view, scope, key)
        return dict(orjson.loads(found)) if found is not None else None

    def row_json(self, view: str, scope: str, key: str) -> bytes | None:
        """A row's document as stored (JSON text), not decoded."""
        assert view in VIEWS, view
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT doc FROM proj_{view} WHERE scope = ? AND key = ?",  # noqa: S608
                (scope, key),
            )
            found = c.fetchone()
        return str(found[0]).encode() if found else None

    def row_json_at(self, view: str, scope: str, key: str) -> tuple[bytes | None, int]:
        assert view in VIEWS, view
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT (SELECT doc FROM proj_{view} WHERE scope = ? AND key = ?), "  # noqa: S608
                f"({self.select_max_tracking_id_statement})",
                (scope, key, TRACKING_NAME),
            )
            doc, position = c.fetchone()
        return (str(doc).encode() if doc is not None else None), int(position or 0)

    def rep_positions(
        self,
        rep_id: str,
        upto: int,
        *,
        reaching: date | None = None,
        through: date | None = None,
    ) -> list[int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT position FROM proj_rep_events WHERE rep_id IN (?, '*') "
                "AND position <= ? AND (until IS NULL OR (until >= ? AND since <= ?)) "
                "ORDER BY position",
                (rep_id, upto, _text(reaching or date.min), _text(through or date.max)),
            )
            return [int(r[0]) for r in c.fetchall()]

    def earliest_change_after(self, rep_id: str, after: int) -> date | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT count(*), max(since IS NULL), min(since) FROM proj_rep_events "
                "WHERE rep_id IN (?, '*') AND position > ?",
                (rep_id, after),
            )
            count, unbounded, earliest = c.fetchone()
        if not count:
            return None
        return date.min if unbounded else date.fromisoformat(earliest)

    def rep_index(self) -> dict[tuple[str, int], tuple[date | None, date | None]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT rep_id, position, since, until FROM proj_rep_events")
            return {(row[0], int(row[1])): (_date(row[2]), _date(row[3])) for row in c.fetchall()}

    def last_key_before(self, view: str, scope: str, key: str) -> str | None:
        assert view in VIEWS, view
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT max(key) FROM proj_{view} WHERE scope = ? AND key < ?",  # noqa: S608
                (scope, key),
            )
            found = c.fetchone()
        return str(found[0]) if found and found[0] is not None else None

    def reps_at(self, position: int) -> list[str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT rep_id FROM proj_rep_events WHERE position = ? ORDER BY rep_id",
                (position,),
            )
            return [row[0] for row in c.fetchall()]

    def position(self) -> int:
        return self.max_tracking_id(TRACKING_NAME) or 0

    def event_counts(self) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT type, count FROM proj_event_counts")
            return {row[0]: int(row[1]) for row in c.fetchall()}

    def write(
        self,
        replacements: Iterable[Replacement],
        position: int,
        counts: Mapping[str, int] | None = None,
        event_reps: Sequence[IndexRow] = (),
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, Tracking(TRACKING_NAME, position))
            c.executemany(
                "INSERT INTO proj_rep_events VALUES (?, ?, ?, ?)",
                [
                    (rep, position, _text(since), _text(until))
                    for rep, position, since, until in _rep_events(event_reps)
                ],
            )
            c.executemany(
                "INSERT INTO proj_event_counts VALUES (?, ?) ON CONFLICT (type) "
                "DO UPDATE SET count = count + excluded.count",
                sorted((counts or {}).items()),
            )
            for r in replacements:
                if r.from_key is None:
                    c.execute(f"DELETE FROM proj_{r.view} WHERE scope = ?", (r.scope,))  # noqa: S608
                else:
                    c.execute(
                        f"DELETE FROM proj_{r.view} WHERE scope = ? AND key >= ?",  # noqa: S608
                        (r.scope, r.from_key),
                    )
                c.executemany(
                    f"INSERT INTO proj_{r.view} VALUES (?, ?, ?)",  # noqa: S608
                    [(r.scope, key, _doc(doc)) for key, doc in r.rows.items()],
                )

    def rows(self, view: str, scope: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        assert view in VIEWS, view
        statement = f"SELECT scope, key, doc FROM proj_{view}"  # noqa: S608
        params: tuple[str, ...] = ()
        if scope is not None:
            statement += " WHERE scope = ?"
            params = (scope,)
        statement += " ORDER BY scope, key"
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [(row[0], row[1], orjson.loads(row[2])) for row in c.fetchall()]

    def drop(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for view in VIEWS:
                c.execute(f"DELETE FROM proj_{view}")  # noqa: S608
            c.execute("DELETE FROM proj_event_counts")
            c.execute("DELETE FROM proj_rep_events")
            c.execute("DELETE FROM tracking WHERE application_name = ?", (TRACKING_NAME,))


class PostgresViewStore(PostgresTrackingRecorder):
    """Read models in the ledger's PostgreSQL schema."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, tracking_table_name="ledger_views_tracking", **kwargs)
        schema = Identifier(self.datastore.schema)
        # Documents are `json`, not `jsonb`: they are only ever stored whole and
        # read whole, and a statement explaining thousands of sales is megabytes
        # that jsonb would parse into its binary form on every write and print
        # back on every read (tables made as jsonb by earlier versions still work:
        # json -> jsonb is an assignment cast).
        for view in VIEWS:
            self.sql_create_statements.append(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                    "scope text NOT NULL, key text NOT NULL, doc json NOT NULL, "
                    "PRIMARY KEY (scope, key))"
                ).format(schema=schema, table=Identifier(f"proj_{view}"))
            )
            # lz4 instead of the default pglz for these large documents: several
            # times faster to compress on every write and to expand on every read.
            # A server built without lz4 keeps the default.
            # Only when not set yet: ALTER TABLE locks the table, and these
            # statements run whenever a store is opened.
            table = SQL("{schema}.{table}").format(schema=schema, table=Identifier(f"proj_{view}"))
            self.sql_create_statements.append(
                SQL(
                    "DO $$ BEGIN "
                    "IF (SELECT attcompression FROM pg_attribute "
                    "WHERE attrelid = {name}::regclass AND attname = 'doc') <> 'l' THEN "
                    "ALTER TABLE {table} ALTER COLUMN doc SET COMPRESSION lz4; END IF; "
                    "EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN NULL; "
                    "END $$"
                ).format(name=Literal(f'"{self.datastore.schema}"."proj_{view}"'), table=table)
            )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.proj_event_counts ("
                "type text PRIMARY KEY, count bigint NOT NULL)"
            ).format(schema=schema)
        )
        self._counts = SQL("{}.proj_event_counts").format(schema)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.proj_rep_events ("
                "rep_id text NOT NULL, position bigint NOT NULL, since date, until date, "
                "PRIMARY KEY (rep_id, position))"
            ).format(schema=schema)
        )
        # Made by an earlier version: add the dates (NULL reads as "any period",
        # always correct). Checked first: ALTER TABLE would lock the table.
        self.sql_create_statements.append(
            SQL(
                "DO $$ BEGIN "
                "IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = {name}::regclass "
                "AND attname = 'since') THEN "
                "ALTER TABLE {schema}.proj_rep_events "
                "ADD COLUMN since date, ADD COLUMN until date; "
                "END IF; END $$"
            ).format(name=Literal(f'"{self.datastore.schema}"."proj_rep_events"'), schema=schema)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE INDEX IF NOT EXISTS proj_rep_events_position ON {schema}.proj_rep_events "
                "(position)"
            ).format(schema=schema)
        )
        # An earlier version kept event id -> reps in a table of its own (a second
        # row per event, a third of a rebuild's server time): the index above answers it.
        self.sql_create_statements.append(
            SQL("DROP TABLE IF EXISTS {schema}.proj_event_reps").format(schema=schema)
        )
        self._rep_events = SQL("{}.proj_rep_events").format(schema)

    def _table(self, view: str) -> Any:
        assert view in VIEWS, view
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(f"proj_{view}"))

    def position(self) -> int:
        return self.max_tracking_id(TRACKING_NAME) or 0

    def row(self, view: str, scope: str, key: str) -> dict[str, Any] | None:
        found = self.row_json(view, scope, key)
        return dict(orjson.loads(found)) if found is not None else None

    def row_json(self, view: str, scope: str, key: str) -> bytes | None:
        """A row's document as JSON text, not decoded.

        As UTF-8 bytes by ``convert_to``: a ``::bytea`` cast would read the text as
        bytea's escape format, and the backslash of any JSON escape (a quote in a
        reason) fails it.
        """
        with self.datastore.get_connection() as conn, conn.cursor(binary=True) as curs:
            curs.execute(
                SQL(
                    "SELECT convert_to(doc::text, 'UTF8') AS doc FROM {} "
                    "WHERE scope = %s AND key = %s"
                ).format(self._table(view)),
                (scope, key),
                prepare=True,
            )
            found = curs.fetchone()
        return bytes(found["doc"]) if found else None

    def row_json_at(self, view: str, scope: str, key: str) -> tuple[bytes | None, int]:
        with self.datastore.get_connection() as conn, conn.cursor(binary=True) as curs:
            curs.execute(
                SQL(
                    "SELECT (SELECT convert_to(doc::text, 'UTF8') FROM {} "
                    "WHERE scope = %s AND key = %s) "
                    "AS doc, ({}) AS position"
                ).format(self._table(view), self.max_tracking_id_statement),
                (scope, key, TRACKING_NAME),
                prepare=True,
            )
            found = curs.fetchone()
        assert found is not None
        doc = found["doc"]
        return (bytes(doc) if doc is not None else None), int(found["position"] or 0)

    def rep_positions(
        self,
        rep_id: str,
        upto: int,
        *,
        reaching: date | None = None,
        through: date | None = None,
    ) -> list[int]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT position FROM {} WHERE rep_id IN (%s, '*') AND position <= %s "
                    "AND (until IS NULL OR (until >= %s AND since <= %s)) ORDER BY position"
                ).format(self._rep_events),
                (rep_id, upto, reaching or date.min, through or date.max),
                prepare=True,
            )
            return [int(r["position"]) for r in curs.fetchall()]

    def earliest_change_after(self, rep_id: str, after: int) -> date | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT count(*) AS n, bool_or(since IS NULL) AS unbounded, "
                    "min(since) AS earliest FROM {} WHERE rep_id IN (%s, '*') AND position > %s"
                ).format(self._rep_events),
                (rep_id, after),
                prepare=True,
            )
            found = curs.fetchone()
        if not found or not found["n"]:
            return None
        return date.min if found["unbounded"] else found["earliest"]

    def rep_index(self) -> dict[tuple[str, int], tuple[date | None, date | None]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL("SELECT rep_id, position, since, until FROM {}").format(self._rep_events)
            )
            return {
                (r["rep_id"], int(r["position"])): (r["since"], r["until"]) for r in curs.fetchall()
            }

    def last_key_before(self, view: str, scope: str, key: str) -> str | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL("SELECT max(key) AS key FROM {} WHERE scope = %s AND key < %s").format(
                    self._table(view)
                ),
                (scope, key),
                prepare=True,
            )
            found = curs.fetchone()
        return str(found["key"]) if found and found["key"] is not None else None

    def reps_at(self, position: int) -> list[str]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL("SELECT rep_id FROM {} WHERE position = %s ORDER BY rep_id").format(
                    self._rep_events
                ),
                (position,),
                prepare=True,
            )
            return [r["rep_id"] for r in curs.fetchall()]

    def event_counts(self) -> dict[str, int]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("SELECT type, count FROM {}").format(self._counts))
            return {r["type"]: int(r["count"]) for r in curs.fetchall()}

    def write(
        self,
        replacements: Iterable[Replacement],
        position: int,
        counts: Mapping[str, int] | None = None,
        event_reps: Sequence[IndexRow] = (),
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, Tracking(TRACKING_NAME, position))
            if event_reps:
                # COPY: a rebuild writes a row per event (and per rep it touched),
                # its text made here in one piece (a fifth of the cost of a
                # write_row per row).
                with curs.copy(SQL("COPY {} FROM STDIN").format(self._rep_events)) as copy:
                    copy.write(_copy_text(event_reps))
            if counts:
                curs.executemany(
                    SQL(
                        "INSERT INTO {0} AS t VALUES (%s, %s) ON CONFLICT (type) "
                        "DO UPDATE SET count = t.count + excluded.count"
                    ).format(self._counts),
                    sorted(counts.items()),
                )
            # A few statements per group of replacements, not a few per replacement:
            # a rebuild replaces thousands, and each statement is a round trip.
            for group in _groups(replacements, 100):
                by_view: dict[str, list[Replacement]] = {}
                for r in group:
                    by_view.setdefault(r.view, []).append(r)
                for view, items in by_view.items():
                    table = self._table(view)
                    curs.executemany(
                        SQL("DELETE FROM {} WHERE scope = %s AND key >= %s").format(table),
                        [(r.scope, r.from_key or "") for r in items],
                    )
                    rows = [(r.scope, k, _doc(doc)) for r in items for k, doc in r.rows.items()]
                    if rows:
                        curs.executemany(
                            SQL("INSERT INTO {} VALUES (%s, %s, %s::json)").format(table), rows
                        )

    def rows(self, view: str, scope: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        statement = SQL("SELECT scope, key, doc::text AS doc FROM {}").format(self._table(view))
        params: tuple[str, ...] = ()
        if scope is not None:
            statement += SQL(" WHERE scope = %s")
            params = (scope,)
        statement += SQL(" ORDER BY scope, key")
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return [(r["scope"], r["key"], orjson.loads(r["doc"])) for r in curs.fetchall()]

    def drop(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for view in VIEWS:
                curs.execute(SQL("DELETE FROM {}").format(self._table(view)))
            curs.execute(SQL("DELETE FROM {}").format(self._counts))
            curs.execute(SQL("DELETE FROM {}").format(self._rep_events))
            curs.execute(
                SQL("DELETE FROM {}.{} WHERE application_name = %s").format(
                    Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
                ),
                (TRACKING_NAME,),
            )


def _groups(items: Iterable[Replacement], size: int) -> Iterator[list[Replacement]]:
    group: list[Replacement] = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def _rep_events(
    event_reps: Sequence[IndexRow],
) -> list[tuple[str, int, date | None, date | None]]:
    """(rep id, position, since, until) rows of the replay index; "*" marks events
    every rep needs."""
    return [
        (rep, position, since, until) for position, reps, since, until in event_reps for rep in reps
    ]


def _copy_text(event_reps: Sequence[IndexRow]) -> bytes:
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


def _text(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text is not None else None


def open_view_store(ledger: Ledger) -> ViewStore:
    """The read-model store in the same database as ``ledger``."""
    datastore = ledger.factory.datastore  # type: ignore[attr-defined]
    store: SQLiteViewStore | PostgresViewStore
    store = PostgresViewStore(datastore) if ledger.store.is_postgres else SQLiteViewStore(datastore)
    if isinstance(store, PostgresViewStore):
        with schema_lock(datastore):
            store.create_table()
    else:
        store.create_table()
    return store


def replacements_by_view(items: Iterable[Replacement]) -> dict[str, list[Replacement]]:
    grouped: dict[str, list[Replacement]] = {}
    for item in items:
        grouped.setdefault(item.view, []).append(item)
    return grouped
