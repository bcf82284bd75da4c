"""Where the read models live: tables in the ledger's own database, written
together with the library's tracking row in one transaction (exactly once).

Modules: `core` (what a store does: `ViewStore`, `Replacement`), one module per
kind of read model with its SQL for both stores — `documents` (every read model
kept as documents: balances, statements, ...), `replay_index`, `event_counts` —
`migrations` (ordered schema changes, recorded), and the two stores, `sqlite`
and `postgres`. A replayed position fails on the tracking row and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.backends.postgres import schema_lock
from projections.storage.core import VIEWS, IndexRow, Replacement, ViewStore
from projections.storage.postgres import PostgresViewStore
from projections.storage.sqlite import SQLiteViewStore

if TYPE_CHECKING:
    from ledger.application import Ledger

__all__ = ["VIEWS", "IndexRow", "Replacement", "ViewStore", "open_view_store"]


def open_view_store(ledger: Ledger) -> ViewStore:
    """The read-model store in the same database as ``ledger``: its tables made
    and its migrations applied (`projections.storage.migrations`)."""
    datastore = ledger.factory.datastore  # type: ignore[attr-defined]
    head = ledger.chain.head_position_statement
    if ledger.store.is_postgres:
        store = PostgresViewStore(datastore, head_position_statement=head)
        with schema_lock(datastore):
            store.create_table()
        return store
    sqlite = SQLiteViewStore(datastore, head_position_statement=head)
    sqlite.create_table()
    return sqlite
