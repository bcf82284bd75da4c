"""The document read models: each a table ``proj_<name>(scope, key, doc)``.

``scope`` is what a change replaces wholesale (a rep's rows, a run's row),
``key`` orders rows within it, ``doc`` is the row as JSON (money as decimal
text, keys sorted: `projections.storage.core.encode_doc`). Which read models
there are, and their versions, is declared by the modules that compute them
(`projections.read_models`). Their SQL for both stores.
"""

from __future__ import annotations

__all__ = [
    "PG_COMPRESSION",
    "PG_CREATE",
    "PG_ROW",
    "PG_ROW_AT",
    "sqlite_create",
    "sqlite_row",
    "sqlite_row_at",
]


def sqlite_create(view: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS proj_{view} ("
        "scope TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, "
        "PRIMARY KEY (scope, key))"
    )


def sqlite_row(view: str) -> str:
    return f"SELECT doc FROM proj_{view} WHERE scope = ? AND key = ?"  # noqa: S608


def sqlite_row_at(view: str, max_tracking_id: str) -> str:
    return (
        f"SELECT (SELECT doc FROM proj_{view} WHERE scope = ? AND key = ?), "  # noqa: S608
        f"({max_tracking_id})"
    )


# {schema}, {table}, {name}: identifiers or literals (psycopg.sql).
# Documents are `json`, not `jsonb`: they are only ever stored whole and read
# whole, and a statement explaining thousands of sales is megabytes that jsonb
# would parse into its binary form on every write and print back on every read
# (tables made as jsonb by earlier versions still work: json -> jsonb is an
# assignment cast).
PG_CREATE = (
    "CREATE TABLE IF NOT EXISTS {table} ("
    "scope text NOT NULL, key text NOT NULL, doc json NOT NULL, "
    "PRIMARY KEY (scope, key))"
)
# lz4 instead of the default pglz for these large documents: several times
# faster to compress on every write and to expand on every read. A server built
# without lz4 keeps the default. Only when not set yet: ALTER TABLE locks the
# table, and these statements run whenever a store is opened.
PG_COMPRESSION = (
    "DO $$ BEGIN "
    "IF (SELECT attcompression FROM pg_attribute "
    "WHERE attrelid = {name}::regclass AND attname = 'doc') <> 'l' THEN "
    "ALTER TABLE {table} ALTER COLUMN doc SET COMPRESSION lz4; END IF; "
    "EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN NULL; "
    "END $$"
)
# As UTF-8 bytes by ``convert_to``: a ``::bytea`` cast would read the text as
# bytea's escape format, and the backslash of any JSON escape (a quote in a
# reason) fails it.
PG_ROW = "SELECT convert_to(doc::text, 'UTF8') AS doc FROM {table} WHERE scope = %s AND key = %s"
PG_ROW_AT = (
    "SELECT (SELECT convert_to(doc::text, 'UTF8') FROM {table} "
    "WHERE scope = %s AND key = %s) AS doc, ({max_tracking_id}) AS position"
)
