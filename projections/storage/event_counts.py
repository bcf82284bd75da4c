"""``proj_event_counts(type, count)``: the events applied, per type, kept by
*adding* to the stored count — the one read model that would show an event
applied twice (or lost), which is what the crash test checks. Its SQL for both
stores."""

from __future__ import annotations

__all__ = ["PG_ADD", "PG_CREATE", "SQLITE_ADD", "SQLITE_CREATE"]

SQLITE_CREATE = (
    "CREATE TABLE IF NOT EXISTS proj_event_counts (type TEXT PRIMARY KEY, count INTEGER NOT NULL)"
)
SQLITE_ADD = (
    "INSERT INTO proj_event_counts VALUES (?, ?) ON CONFLICT (type) "
    "DO UPDATE SET count = count + excluded.count"
)
# {schema} / {table}: identifiers (psycopg.sql)
PG_CREATE = (
    "CREATE TABLE IF NOT EXISTS {schema}.proj_event_counts ("
    "type text PRIMARY KEY, count bigint NOT NULL)"
)
PG_ADD = (
    "INSERT INTO {table} AS t VALUES (%s, %s) ON CONFLICT (type) "
    "DO UPDATE SET count = t.count + excluded.count"
)
