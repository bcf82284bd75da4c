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

import queue
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
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
from ledger.records import loads_document

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


class RebuildSession(Protocol):
    """The one transaction of a rebuild (`ViewStore.rebuilding`)."""

    def index(self, rows: Sequence[IndexRow]) -> None:
        """Add replay index rows, in position order, as the log is folded."""
        ...

    def finish(
        self, replacements: Iterable[Replacement], position: int, counts: Mapping[str, int]
    ) -> None:
        """Write every read model's rows and the tracking position; committed
        when the session ends without an error."""
        ...


class ViewStore(Protocol):
    def position(self) -> int: ...

    def rebuilding(self) -> AbstractContextManager[RebuildSession]:
        """A transaction that replaces every read model: whoever reads them sees
        the old ones until it commits, and nothing of it if it fails."""
        ...

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
        return loads_document(found) if found is not None else None

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
            self._delete_all(c)

    def _delete_all(self, c: Any) -> None:
        for view in VIEWS:
            c.execute(f"DELETE FROM proj_{view}")  # noqa: S608
        c.execute("DELETE FROM proj_event_counts")
        c.execute("DELETE FROM proj_rep_events")
        c.execute("DELETE FROM tracking WHERE application_name = ?", (TRACKING_NAME,))

    @contextmanager
    def rebuilding(self) -> Iterator[RebuildSession]:
        """Index rows are kept (compactly) until `finish`, which writes everything
        in one transaction: SQLite has one writer at a time, and a rebuild holding
        the write lock while it reads the log would stall every import meanwhile."""
        yield _SQLiteRebuild(self)


class _SQLiteRebuild:
    def __init__(self, store: SQLiteViewStore) -> None:
        self.store = store
        self._index = _IndexBuffer()

    def index(self, rows: Sequence[IndexRow]) -> None:
        self._index.extend(rows)

    def finish(
        self, replacements: Iterable[Replacement], position: int, counts: Mapping[str, int]
    ) -> None:
        with self.store.datastore.transaction(commit=True) as c:
            self.store._delete_all(c)  # noqa: SLF001
            c.executemany(
                "INSERT INTO proj_rep_events VALUES (?, ?, ?, ?)",
                (
                    (rep, at, _text(since), _text(until))
                    for at, reps, since, until in self._index
                    for rep in reps
                ),
            )
            for r in replacements:
                assert r.from_key is None, "a rebuild replaces every row"
                c.executemany(
                    f"INSERT INTO proj_{r.view} VALUES (?, ?, ?)",  # noqa: S608
                    [(r.scope, key, _doc(doc)) for key, doc in r.rows.items()],
                )
            c.executemany("INSERT INTO proj_event_counts VALUES (?, ?)", sorted(counts.items()))
            if position:
                self.store._insert_tracking(c, Tracking(TRACKING_NAME, position))  # noqa: SLF001


class _IndexBuffer:
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
        # Checked first: CREATE INDEX locks the table (SHARE) even when the index
        # exists, and these statements run whenever a store is opened — while a
        # rebuild's transaction holds the table, opening a store would wait for it.
        self.sql_create_statements.append(
            SQL(
                "DO $$ BEGIN "
                "IF to_regclass({index}) IS NULL THEN "
                "CREATE INDEX proj_rep_events_position ON {schema}.proj_rep_events (position); "
                "END IF; END $$"
            ).format(
                index=Literal(f'"{self.datastore.schema}".proj_rep_events_position'),
                schema=schema,
            )
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
        return loads_document(found) if found is not None else None

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
            self._delete_all(curs)

    def _delete_all(self, curs: Any) -> None:
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

    @contextmanager
    def rebuilding(self) -> Iterator[RebuildSession]:
        """One transaction from the start, written by a thread of its own: the old
        rows are deleted and the index rows copied in while the log is folded,
        the statements as they are computed (a COPY waits for the server to take
        its rows in: on the folding thread that wait was a fifth of a rebuild).
        ``DELETE``, not ``TRUNCATE``: readers keep the old read models until the
        commit instead of waiting on a lock."""
        with self.datastore.transaction(commit=True) as curs:
            session = _PostgresRebuild(self, curs)
            try:
                yield session
            finally:
                session.close()


class _PostgresRebuild:
    """A rebuild's transaction, and the thread that writes to it in order."""

    def __init__(self, store: PostgresViewStore, curs: Any) -> None:
        self.store = store
        self.curs = curs
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=4)
        self._failed: BaseException | None = None
        self._writer = threading.Thread(target=self._write, name="rebuild-writer", daemon=True)
        self._writer.start()
        self._submit(self._begin)

    def _begin(self) -> None:
        # the fold of a long log may leave the transaction idle between statements
        # for longer than the library's 5 s limit on idle transactions
        self.curs.execute("SET LOCAL idle_in_transaction_session_timeout = '30min'")
        self.store._delete_all(self.curs)  # noqa: SLF001

    def _write(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._failed is None:
                try:
                    job()
                except BaseException as exc:  # noqa: BLE001 - raised on the caller's thread
                    self._failed = exc

    def _submit(self, job: Callable[[], None]) -> None:
        if self._failed is not None:
            raise self._failed
        self._jobs.put(job)

    def close(self) -> None:
        """Wait for every write; raise the first that failed."""
        if self._writer.is_alive():
            self._jobs.put(None)
            self._writer.join()
        if self._failed is not None:
            raise self._failed

    def index(self, rows: Sequence[IndexRow]) -> None:
        if rows:
            text = _copy_text(rows)
            statement = SQL("COPY {} FROM STDIN").format(self.store._rep_events)  # noqa: SLF001

            def copy_index() -> None:
                with self.curs.copy(statement) as copy:
                    copy.write(text)

            self._submit(copy_index)

    def finish(
        self, replacements: Iterable[Replacement], position: int, counts: Mapping[str, int]
    ) -> None:
        """Statements (nearly all the bytes) are copied in as they are computed;
        the other views, small, are held and copied after."""
        statements: queue.Queue[list[tuple[str, str, str]] | None] = queue.Queue(maxsize=16)

        def copy_statements() -> None:
            rows: list[tuple[str, str, str]] | None = []
            try:
                with self._copy("statements") as copy:
                    while (rows := statements.get()) is not None:
                        for row in rows:
                            copy.write_row(row)
            finally:  # whatever happened, the computing thread must not block on put
                while rows is not None:
                    rows = statements.get()

        self._submit(copy_statements)
        others: dict[str, list[tuple[str, str, str]]] = {}
        try:
            for r in replacements:
                assert r.from_key is None, "a rebuild replaces every row"
                docs = [(r.scope, key, _doc(doc)) for key, doc in r.rows.items()]
                if r.view == "statements":
                    statements.put(docs)
                else:
                    others.setdefault(r.view, []).extend(docs)
        finally:
            statements.put(None)
        self._submit(lambda: self._finish(others, position, counts))

    def _finish(
        self,
        others: Mapping[str, list[tuple[str, str, str]]],
        position: int,
        counts: Mapping[str, int],
    ) -> None:
        for view, rows in others.items():
            with self._copy(view) as copy:
                for row in rows:
                    copy.write_row(row)
        self.curs.executemany(
            SQL("INSERT INTO {} VALUES (%s, %s)").format(self.store._counts),  # noqa: SLF001
            sorted(counts.items()),
        )
        if position:
            self.store._insert_tracking(self.curs, Tracking(TRACKING_NAME, position))  # noqa: SLF001

    @contextmanager
    def _copy(self, view: str) -> Iterator[Any]:
        table = self.store._table(view)  # noqa: SLF001
        with self.curs.copy(SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(table)) as copy:
            # the documents go as text; the server checks them as json on the way in
            copy.set_types(["text", "text", "text"])
            yield copy


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
