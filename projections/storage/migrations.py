"""Schema changes of the read models' own tables: an ordered list of
migrations, each applied once and recorded by number.

**Why a list in code, not a migration library.** The tables live beside the
library's event and tracking tables, in the same database and on the
connections of the library's own datastore (its pools, its transactions, its
advisory lock on PostgreSQL). Alembic needs SQLAlchemy, which nothing here
uses; yoyo-migrations and its kin open connections of their own and keep their
own bookkeeping, outside the transaction that creates the tables. A change of
these tables has been a column or a dropped table, twice in the project's life:
a dozen lines of runner, in the same transaction as everything it checks, is
less to trust than a dependency. Should the schema grow branches or downgrades,
that is the time for a library.

How it works. Opening a store first makes every table the code declares, if
absent, in its current shape (a new read model is a new table: no migration),
then applies, in order and in one transaction, each migration whose number
``proj_schema_migrations`` does not hold yet, recording it. On PostgreSQL the
whole runs under the schema lock (`ledger.backends.postgres.schema_lock`), so
two processes opening one database apply each migration once.

The first two migrations predate the record: a database made by an earlier
version holds some of their changes already, so they look before they change.
Later ones may assume every migration before them has run. The rows of the read
models are never migrated: a changed read model raises its version
(`projections.versioning`) and is replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg.sql import SQL, Identifier, Literal

__all__ = ["MIGRATIONS", "Migration", "migrate_postgres", "migrate_sqlite"]


@dataclass(frozen=True)
class Migration:
    """One schema change, for each store: ``sqlite(cursor)``,
    ``postgres(cursor, schema)``."""

    number: int
    about: str
    sqlite: Callable[[Any], None]
    postgres: Callable[[Any, str], None]


def _sqlite_dates(c: Any) -> None:
    c.execute("PRAGMA table_info(proj_rep_events)")
    if "since" not in {row[1] for row in c.fetchall()}:
        # NULL dates read as "any period", which is always correct (replays of
        # such events read every event)
        c.execute("ALTER TABLE proj_rep_events ADD COLUMN since TEXT")
        c.execute("ALTER TABLE proj_rep_events ADD COLUMN until TEXT")


def _pg_dates(curs: Any, schema: str) -> None:
    curs.execute(
        SQL(
            "DO $$ BEGIN "
            "IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = {name}::regclass "
            "AND attname = 'since') THEN "
            "ALTER TABLE {schema}.proj_rep_events ADD COLUMN since date, ADD COLUMN until date; "
            "END IF; END $$"
        ).format(name=Literal(f'"{schema}"."proj_rep_events"'), schema=Identifier(schema))
    )


def _sqlite_drop_event_reps(c: Any) -> None:
    c.execute("DROP TABLE IF EXISTS proj_event_reps")


def _pg_drop_event_reps(curs: Any, schema: str) -> None:
    curs.execute(SQL("DROP TABLE IF EXISTS {}.proj_event_reps").format(Identifier(schema)))


def _sqlite_versions(c: Any) -> None:
    c.execute("CREATE TABLE proj_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)")


def _pg_versions(curs: Any, schema: str) -> None:
    curs.execute(
        SQL(
            "CREATE TABLE {}.proj_versions (name text PRIMARY KEY, version integer NOT NULL)"
        ).format(Identifier(schema))
    )


# The read models a period's summary reads for every rep at once (`rows(view, key=...)`).
_BY_PERIOD = ("balances", "attainment")


def _sqlite_by_period(c: Any) -> None:
    for view in _BY_PERIOD:
        c.execute(f"CREATE INDEX IF NOT EXISTS proj_{view}_key ON proj_{view} (key)")


def _pg_by_period(curs: Any, schema: str) -> None:
    for view in _BY_PERIOD:
        curs.execute(
            SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} (key)").format(
                Identifier(f"proj_{view}_key"), Identifier(schema), Identifier(f"proj_{view}")
            )
        )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "replay index: the business dates each event can change (since, until)",
        _sqlite_dates,
        _pg_dates,
    ),
    Migration(
        2,
        "event -> reps table dropped: the replay index answers it (a third of a rebuild)",
        _sqlite_drop_event_reps,
        _pg_drop_event_reps,
    ),
    Migration(
        3,
        "read-model versions recorded (proj_versions): a changed one is replayed on start",
        _sqlite_versions,
        _pg_versions,
    ),
    Migration(
        4,
        "balances and attainment indexed by period: a period's summary reads every rep's "
        "row of it in one query",
        _sqlite_by_period,
        _pg_by_period,
    ),
)


def _check_order() -> None:
    numbers = [m.number for m in MIGRATIONS]
    assert numbers == list(range(1, len(numbers) + 1)), f"migrations out of order: {numbers}"


_check_order()


def migrate_sqlite(c: Any) -> list[int]:
    """Apply the migrations ``c``'s database lacks, in order; their numbers."""
    c.execute(
        "CREATE TABLE IF NOT EXISTS proj_schema_migrations ("
        "number INTEGER PRIMARY KEY, about TEXT NOT NULL)"
    )
    c.execute("SELECT number FROM proj_schema_migrations")
    done = {int(row[0]) for row in c.fetchall()}
    applied = []
    for migration in MIGRATIONS:
        if migration.number not in done:
            migration.sqlite(c)
            c.execute(
                "INSERT INTO proj_schema_migrations VALUES (?, ?)",
                (migration.number, migration.about),
            )
            applied.append(migration.number)
    return applied


def migrate_postgres(curs: Any, schema: str) -> list[int]:
    """Apply the migrations ``schema`` lacks, in order; their numbers. Run it
    under the schema lock, in one transaction."""
    table = SQL("{}.proj_schema_migrations").format(Identifier(schema))
    curs.execute(
        SQL(
            "CREATE TABLE IF NOT EXISTS {} (number integer PRIMARY KEY, about text NOT NULL)"
        ).format(table)
    )
    curs.execute(SQL("SELECT number FROM {}").format(table))
    done = {int(row["number"]) for row in curs.fetchall()}
    applied = []
    for migration in MIGRATIONS:
        if migration.number not in done:
            migration.postgres(curs, schema)
            curs.execute(
                SQL("INSERT INTO {} VALUES (%s, %s)").format(table),
                (migration.number, migration.about),
            )
            applied.append(migration.number)
    return applied
