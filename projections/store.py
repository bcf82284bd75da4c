"""Where the read models live: tables in the ledger's own database, written
together with the library's tracking row in one transaction (exactly once).

Each read model is a table ``proj_<name>(scope, key, doc)``: ``scope`` is what a
change replaces wholesale (a rep's rows, a run's row), ``key`` orders rows within
it, ``doc`` is the row as JSON (money as decimal text). A replayed position fails
on the tracking row and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL, Identifier

from ledger.application import Ledger

__all__ = ["VIEWS", "Replacement", "ViewStore", "open_view_store"]

VIEWS: tuple[str, ...] = (
    "balances",
    "attainment",
    "statements",
    "discipline",
    "pending_approvals",
    "payout_runs",
)
TRACKING_NAME = "incentive_ledger_views"


@dataclass(frozen=True)
class Replacement:
    """Replace every row of ``view`` in ``scope`` with ``rows`` (key -> doc)."""

    view: str
    scope: str
    rows: Mapping[str, Mapping[str, Any]]


class ViewStore(Protocol):
    def position(self) -> int: ...

    def write(self, replacements: Sequence[Replacement], position: int) -> None: ...

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
        return statements

    def position(self) -> int:
        return self.max_tracking_id(TRACKING_NAME) or 0

    def write(self, replacements: Sequence[Replacement], position: int) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, Tracking(TRACKING_NAME, position))
            for r in replacements:
                c.execute(f"DELETE FROM proj_{r.view} WHERE scope = ?", (r.scope,))  # noqa: S608
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
            c.execute("DELETE FROM tracking WHERE application_name = ?", (TRACKING_NAME,))


class PostgresViewStore(PostgresTrackingRecorder):
    """Read models in the ledger's PostgreSQL schema."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, tracking_table_name="ledger_views_tracking", **kwargs)
        schema = Identifier(self.datastore.schema)
        for view in VIEWS:
            self.sql_create_statements.append(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                    "scope text NOT NULL, key text NOT NULL, doc jsonb NOT NULL, "
                    "PRIMARY KEY (scope, key))"
                ).format(schema=schema, table=Identifier(f"proj_{view}"))
            )

    def _table(self, view: str) -> Any:
        assert view in VIEWS, view
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(f"proj_{view}"))

    def position(self) -> int:
        return self.max_tracking_id(TRACKING_NAME) or 0

    def write(self, replacements: Sequence[Replacement], position: int) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, Tracking(TRACKING_NAME, position))
            for r in replacements:
                table = self._table(r.view)
                curs.execute(SQL("DELETE FROM {} WHERE scope = %s").format(table), (r.scope,))
                if r.rows:
                    curs.executemany(
                        SQL("INSERT INTO {} VALUES (%s, %s, %s::jsonb)").format(table),
                        [(r.scope, key, _doc(doc)) for key, doc in r.rows.items()],
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
            curs.execute(
                SQL("DELETE FROM {}.{} WHERE application_name = %s").format(
                    Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
                ),
                (TRACKING_NAME,),
            )


def open_view_store(ledger: Ledger) -> ViewStore:
    """The read-model store in the same database as ``ledger``."""
    datastore = ledger.factory.datastore  # type: ignore[attr-defined]
    store: SQLiteViewStore | PostgresViewStore
    store = PostgresViewStore(datastore) if ledger.store.is_postgres else SQLiteViewStore(datastore)
    store.create_table()
    return store


def replacements_by_view(items: Iterable[Replacement]) -> dict[str, list[Replacement]]:
    grouped: dict[str, list[Replacement]] = {}
    for item in items:
        grouped.setdefault(item.view, []).append(item)
    return grouped
