"""Storage configuration: one database URL selects the store (SPEC §1).

``sqlite:///./ledger.db`` (the embedded default), ``sqlite:////abs/path.db``,
``sqlite:///:memory:`` (tests), or ``postgresql://user:password@host:5432/db``
(with an optional ``?schema=name``). The URL becomes the ``eventsourcing``
library's environment; nothing here reads the process environment: the caller
(CLI, API settings) decides where the URL comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import uuid4

from ledger.errors import InvalidInputError, NotFoundError

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "DEFAULT_DATABASE_URL",
    "EVENTS_TABLE",
    "StoreConfig",
    "check_sqlite",
    "library_env",
]

DEFAULT_DATABASE_URL = "sqlite:///./ledger.db"
# How long to wait for a PostgreSQL connection: an unreachable server is said
# so in seconds, not after a long hang.
CONNECT_TIMEOUT_SECONDS = 5
EVENTS_TABLE = "ledger_events"  # the library's <application name>_events, on PostgreSQL


@dataclass(frozen=True)
class StoreConfig:
    """What kind of store a URL names."""

    kind: str  # "sqlite" | "postgres"
    env: dict[str, str]

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgres"

    def where(self) -> str:
        """Where the store is, for messages: the file, or host:port/database
        (schema) — never a password."""
        env = self.env
        if not self.is_postgres:
            return env["SQLITE_DBNAME"]
        return (
            f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']} "
            f"(schema {env['POSTGRES_SCHEMA']})"
        )


def _sqlite_env(path: str) -> dict[str, str]:
    if path in {":memory:", ""}:
        path = f"file:ledger-{uuid4().hex}?mode=memory&cache=shared"
    return {
        "PERSISTENCE_MODULE": "ledger.backends.sqlite:LedgerSQLiteFactory",
        "SQLITE_DBNAME": path,
        "SQLITE_LOCK_TIMEOUT": "30",
        "APPLICATION_RECORDER_TOPIC": "ledger.backends.sqlite:LedgerSQLiteRecorder",
    }


def _postgres_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise InvalidInputError("a PostgreSQL URL names its database: .../dbname", field="db")
    try:
        port = parts.port
    except ValueError:
        raise InvalidInputError("the port of a PostgreSQL URL is a number", field="db") from None
    options = parse_qs(parts.query)
    schema = options.get("schema", ["public"])[0]
    for name in ("pool_size", "max_overflow"):
        if not options.get(name, ["0"])[0].isdigit():
            raise InvalidInputError(f"?{name}= is a whole number", field="db")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": options.get("pool_size", ["5"])[0],
        "POSTGRES_MAX_OVERFLOW": options.get("max_overflow", ["10"])[0],
        "POSTGRES_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT_SECONDS),
        # 0 would wait forever for the table lock; a stuck writer must surface.
        "POSTGRES_LOCK_TIMEOUT": "30",
        "POSTGRES_PRE_PING": "y",
        "APPLICATION_RECORDER_TOPIC": "ledger.backends.postgres:LedgerPostgresRecorder",
        # ?create_tables=no for a role without DDL rights (tables made by the owner)
        "CREATE_TABLE": options.get("create_tables", ["yes"])[0],
    }


def library_env(url: str, *, chain_key: str | None = None) -> StoreConfig:
    """The library environment for a database URL (and the optional chain key)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        if not url.startswith("sqlite:///"):
            raise InvalidInputError(
                "a SQLite URL is sqlite:///relative/path.db or sqlite:////absolute/path.db",
                field="db",
            )
        config = StoreConfig("sqlite", _sqlite_env(url.removeprefix("sqlite:///")))
    elif scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        config = StoreConfig("postgres", _postgres_env(url))
    else:
        raise InvalidInputError(
            f"unsupported database URL scheme {scheme!r}: use sqlite:/// or postgresql://",
            field="db",
        )
    if chain_key:
        config.env["LEDGER_CHAIN_KEY"] = chain_key
    return config


def check_sqlite(config: StoreConfig, *, must_exist: bool) -> None:
    """SPEC §7 for an embedded store: a file in a directory that does not exist
    is a configuration error; with ``must_exist`` (a command that only reads)
    a file that does not exist is said so — never created empty."""
    if config.is_postgres or config.env["SQLITE_DBNAME"].startswith("file:"):
        return
    path = config.env["SQLITE_DBNAME"]
    file = Path(path)
    if not file.parent.is_dir():
        raise InvalidInputError(
            f"the directory of the SQLite database {path} does not exist", field="db"
        )
    if must_exist and not file.is_file():
        raise NotFoundError(
            f"no ledger at {path}: the database does not exist (check --db or "
            "LEDGER_DATABASE_URL; `import` or `demo` creates one)",
            field="db",
        )
