"""One of the API's own small tables (tokens, sign-in codes, idempotency keys)
in the ledger's database, SQLite or PostgreSQL: created on first use (under the
schema lock on PostgreSQL), each statement in a transaction of its own."""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Identifier

from ledger.application import Ledger
from ledger.backends.postgres import schema_lock

__all__ = ["OwnTable"]

# Column types that differ between the two databases, by the name a schema uses.
_TYPES = {
    False: {"{blob}": "BLOB", "{real}": "REAL"},
    True: {"{blob}": "BYTEA", "{real}": "FLOAT8"},
}


class OwnTable:
    """Statements name the table ``{table}`` and take ``?`` parameters."""

    def __init__(self, ledger: Ledger, name: str, columns: str) -> None:
        """Create table ``name`` with ``columns`` (``{blob}`` and ``{real}`` for
        the column types the two databases spell apart) unless it exists."""
        self._datastore: Any = ledger.factory.datastore  # type: ignore[attr-defined]
        self._pg = isinstance(self._datastore, PostgresDatastore)
        self._name = name
        for placeholder, type_ in _TYPES[self._pg].items():
            columns = columns.replace(placeholder, type_)
        create = f"CREATE TABLE IF NOT EXISTS {{table}} ({columns})"
        if self._pg:
            with schema_lock(self._datastore):
                self.execute(create)
        else:
            self.execute(create)

    def execute(
        self, statement: str, params: tuple[Any, ...] = ()
    ) -> tuple[list[tuple[Any, ...]], int]:
        """The rows ``statement`` returns (as tuples) and the count of rows it changed."""
        if self._pg:
            table = SQL("{}.{}").format(Identifier(self._datastore.schema), Identifier(self._name))
            query = SQL(statement.replace("?", "%s")).format(table=table)
            with self._datastore.transaction(commit=True) as curs:
                curs.execute(query, params)
                rows = curs.fetchall() if curs.description else []
                found = [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]
                return found, curs.rowcount
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(statement.format(table=self._name), params)
            found = [tuple(r) for r in cursor.fetchall()]
            return found, cursor.sqlite_cursor.rowcount  # the library's wrapper lacks it
