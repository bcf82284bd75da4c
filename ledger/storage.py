"""Storage configuration: one database URL selects the store (SPEC §1).

``sqlite:///./ledger.db`` (the embedded default), ``sqlite:////abs/path.db``,
``sqlite:///:memory:`` (tests), or a libpq connection URI for PostgreSQL,
``postgresql://user:password@host:5432/db?sslmode=verify-full&...`` (see
`parse_postgres_url`). The URL becomes the ``eventsourcing`` library's
environment; nothing here reads the process environment or a file: the caller
(CLI, API settings) decides where the URL and its password come from.
"""

from __future__ import annotations

import difflib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit
from uuid import uuid4

from ledger.errors import InvalidInputError, NotFoundError

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "DEFAULT_DATABASE_URL",
    "EVENTS_TABLE",
    "LEDGER_URL_OPTIONS",
    "LIBPQ_PARAMETERS",
    "PostgresURL",
    "StoreConfig",
    "check_sqlite",
    "library_env",
    "parse_postgres_url",
    "with_password",
]

DEFAULT_DATABASE_URL = "sqlite:///./ledger.db"
# How long to wait for a PostgreSQL connection: an unreachable server is said
# so in seconds, not after a long hang.
CONNECT_TIMEOUT_SECONDS = 5
EVENTS_TABLE = "ledger_events"  # the library's <application name>_events, on PostgreSQL

_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})

# Every connection parameter of libpq 18 (the one psycopg[binary] bundles), from
# https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS.
# A test checks that the installed libpq knows none that is missing here.
LIBPQ_PARAMETERS = frozenset(
    {
        "application_name",
        "channel_binding",
        "client_encoding",
        "connect_timeout",
        "dbname",
        "fallback_application_name",
        "gssdelegation",
        "gssencmode",
        "gsslib",
        "host",
        "hostaddr",
        "keepalives",
        "keepalives_count",
        "keepalives_idle",
        "keepalives_interval",
        "krbsrvname",
        "load_balance_hosts",
        "max_protocol_version",
        "min_protocol_version",
        "oauth_client_id",
        "oauth_client_secret",
        "oauth_issuer",
        "oauth_scope",
        "options",
        "passfile",
        "password",
        "port",
        "replication",
        "require_auth",
        "requirepeer",
        "scram_client_key",
        "scram_server_key",
        "service",
        "ssl_max_protocol_version",
        "ssl_min_protocol_version",
        "sslcert",
        "sslcertmode",
        "sslcompression",
        "sslcrl",
        "sslcrldir",
        "sslkey",
        "sslkeylogfile",
        "sslmode",
        "sslnegotiation",
        "sslpassword",
        "sslrootcert",
        "sslsni",
        "target_session_attrs",
        "tcp_user_timeout",
        "user",
    }
)
# The parts of a URI that libpq may also take as query parameters.
_URI_PARTS = frozenset({"host", "port", "dbname", "user", "password"})
# The ledger's own query parameters: the library's schema and pool settings, and
# create_tables=no for a role without DDL rights (tables made by the owner).
LEDGER_URL_OPTIONS = frozenset({"schema", "pool_size", "max_overflow", "create_tables"})
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# The values the library's strtobool reads (CREATE_TABLE).
_BOOLEANS = frozenset({"y", "yes", "t", "true", "on", "1", "n", "no", "f", "false", "off", "0"})
_DEFAULT_CONNECT_TIMEOUT_S = CONNECT_TIMEOUT_SECONDS
_MAX_PORT = 65535


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


@dataclass(frozen=True)
class PostgresURL:
    """A PostgreSQL URL taken apart: what the library's settings hold, the
    ledger's own options, and every other libpq parameter, untouched."""

    dbname: str
    host: str  # one host or several, comma-separated (libpq's multi-host form)
    port: str  # likewise, one per host
    user: str
    password: str = field(repr=False)
    schema: str = "public"
    pool_size: int = 5
    max_overflow: int = 10
    create_tables: str = "yes"
    connect_timeout_s: int = _DEFAULT_CONNECT_TIMEOUT_S
    # sslmode, sslrootcert, application_name, options, ...: passed to every connection
    libpq: Mapping[str, str] = field(default_factory=dict)


def _url_error(reason: str) -> InvalidInputError:
    return InvalidInputError(f"malformed database URL: {reason}", field="db")


def _split_query(query: str) -> dict[str, str]:
    """``key=value&...`` percent-decoded as libpq does (a ``+`` stays a ``+``);
    a repeated or valueless parameter is refused rather than guessed at."""
    params: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        raw_key, sep, raw_value = part.partition("=")
        key = unquote(raw_key)
        if not sep or not key:
            raise _url_error(f"query parameter {key or part!r} needs the form name=value")
        if key in params:
            raise _url_error(f"query parameter {key!r} is given twice")
        params[key] = unquote(raw_value)
    return params


def _check_known(params: Mapping[str, str]) -> None:
    """Refuse a parameter that neither libpq nor the ledger knows: a typo such
    as ``sslmod=require`` must not silently connect without TLS."""
    known = LIBPQ_PARAMETERS | LEDGER_URL_OPTIONS
    for key in params:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _url_error(
                f"unknown parameter {key!r}{hint}: use a libpq connection parameter "
                "(sslmode, sslrootcert, application_name, ...) or one of the ledger's "
                f"({', '.join(sorted(LEDGER_URL_OPTIONS))})"
            )


def _host_and_port(entry: str) -> tuple[str, str]:
    """One ``host[:port]`` of the netloc (``[v6addr]:port`` too), decoded."""
    if entry.startswith("["):
        end = entry.find("]")
        if end < 0:
            raise _url_error("an IPv6 host is written [address]")
        host, rest = entry[1:end], entry[end + 1 :]
        if rest and not rest.startswith(":"):
            raise _url_error("a host is followed by :port only")
        port = rest[1:]
    else:
        host, _, port = entry.partition(":")
    if port and not (port.isdigit() and 0 < int(port) <= _MAX_PORT):
        raise _url_error(f"port {port!r} is not a number from 1 to {_MAX_PORT}")
    return unquote(host), port


def _netloc(netloc: str) -> dict[str, str]:
    """user, password, host and port of ``user:password@host1:port1,host2:port2``."""
    userinfo, at, hosts = netloc.rpartition("@")
    parts: dict[str, str] = {}
    if at:
        user, colon, password = userinfo.partition(":")
        if user:
            parts["user"] = unquote(user)
        if colon:
            parts["password"] = unquote(password)
    if hosts:
        pairs = [_host_and_port(entry) for entry in hosts.split(",")]
        if any(not host for host, _ in pairs) and len(pairs) > 1:
            raise _url_error("an empty host in a list of hosts")
        if any(host for host, _ in pairs):
            parts["host"] = ",".join(host for host, _ in pairs)
        if any(port for _, port in pairs):
            parts["port"] = ",".join(port or "5432" for _, port in pairs)
    return parts


def _merge_parts(from_uri: Mapping[str, str], query: dict[str, str]) -> dict[str, str]:
    """The URI's user, host, ... and the same given as query parameters (libpq
    allows both): either place, never both, so no value silently wins."""
    merged = dict(from_uri)
    for key in _URI_PARTS & query.keys():
        if key in merged:
            raise _url_error(f"{key} is given both in the URL and as ?{key}=")
        merged[key] = query.pop(key)
    return merged


def _whole_number(params: Mapping[str, str], key: str, default: int, *, low: int) -> int:
    value = params.get(key)
    if value is None:
        return default
    if not value.strip().isdigit() or int(value) < low:
        raise _url_error(f"{key} must be a whole number of at least {low}, not {value!r}")
    return int(value)


def _check_values(libpq: Mapping[str, str], options: Mapping[str, str]) -> None:
    """Values whose mistakes would change security or fail only at connect time."""
    sslmode = libpq.get("sslmode")
    if sslmode is not None and sslmode not in _SSLMODES:
        raise _url_error(f"sslmode {sslmode!r} is not one of {', '.join(_SSLMODES)}")
    create_tables = options.get("create_tables", "yes")
    if create_tables.lower() not in _BOOLEANS:
        raise _url_error(f"create_tables must be yes or no, not {create_tables!r}")
    if not options.get("schema", "public"):
        raise _url_error("schema is empty")


def parse_postgres_url(url: str) -> PostgresURL:
    """A PostgreSQL connection URI, as libpq reads it, keeping every parameter.

    ``postgresql://[user[:password]@][host][:port][,host[:port]...][/dbname][?name=value&...]``
    where each name is a libpq connection parameter (``sslmode``, ``sslrootcert``,
    ``sslcert``, ``sslkey``, ``connect_timeout``, ``application_name``,
    ``target_session_attrs``, ``passfile``, ...; also ``host``, ``port``, ``user``,
    ``password`` and ``dbname`` in place of the URI's parts) or one of the ledger's
    own (``schema``, ``pool_size``, ``max_overflow``, ``create_tables``). Every libpq
    parameter reaches every connection the ledger opens, not only the few the
    library's settings name. An unknown name, a repeated one, a bad port or a
    missing database is refused, naming the problem but never the password.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise _url_error(str(exc)) from None
    if parts.scheme.lower() not in _POSTGRES_SCHEMES:
        raise _url_error("a PostgreSQL URL starts with postgresql://")
    if parts.fragment:
        raise _url_error("a PostgreSQL URL has no #fragment")
    query = _split_query(parts.query)
    _check_known(query)
    core = _merge_parts(_netloc(parts.netloc), query)
    path_db = unquote(parts.path.removeprefix("/"))
    if path_db and "dbname" in core:
        raise _url_error("dbname is given both in the URL and as ?dbname=")
    dbname = path_db or core.get("dbname", "")
    if not dbname:
        raise _url_error("a PostgreSQL URL names its database: .../dbname")
    options = {k: query.pop(k) for k in LEDGER_URL_OPTIONS & query.keys()}
    _check_values(query, options)
    return PostgresURL(
        dbname=dbname,
        host=core.get("host", "127.0.0.1"),
        port=core.get("port", "5432"),
        user=core.get("user", "postgres"),
        password=core.get("password", ""),
        schema=options.get("schema", "public"),
        pool_size=_whole_number(options, "pool_size", 5, low=1),
        max_overflow=_whole_number(options, "max_overflow", 10, low=0),
        create_tables=options.get("create_tables", "yes"),
        connect_timeout_s=_whole_number(
            query, "connect_timeout", _DEFAULT_CONNECT_TIMEOUT_S, low=1
        ),
        libpq=query,
    )


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` as its password (percent-encoded), for a password
    kept in a file of its own (``LEDGER_DATABASE_PASSWORD_FILE``).

    Only a PostgreSQL URL takes one, and only when it carries none already: two
    sources of one password would leave the reader to guess which one counts.
    """
    if url.split(":", 1)[0].lower() not in _POSTGRES_SCHEMES:
        raise InvalidInputError("a database password applies to a PostgreSQL URL", field="db")
    if parse_postgres_url(url).password:
        raise InvalidInputError(
            "the database URL has a password already; give it in one place", field="db"
        )
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0] if at else ""
    netloc = f"{user}:{quote(password, safe='')}@{hosts}"
    return urlunsplit(parts._replace(netloc=netloc))


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
    parsed = parse_postgres_url(url)
    return {
        # The library's factory, adding the URL's other libpq parameters
        # (POSTGRES_LIBPQ_PARAMS) to the keyword arguments of every connection.
        "PERSISTENCE_MODULE": "ledger.backends.postgres:LedgerPostgresFactory",
        "POSTGRES_DBNAME": parsed.dbname,
        "POSTGRES_HOST": parsed.host,
        "POSTGRES_PORT": parsed.port,
        "POSTGRES_USER": parsed.user,
        "POSTGRES_PASSWORD": parsed.password,
        "POSTGRES_SCHEMA": parsed.schema,
        "POSTGRES_POOL_SIZE": str(parsed.pool_size),
        "POSTGRES_MAX_OVERFLOW": str(parsed.max_overflow),
        "POSTGRES_CONNECT_TIMEOUT": str(parsed.connect_timeout_s),
        # 0 would wait forever for the writer lock; a stuck writer must surface.
        "POSTGRES_LOCK_TIMEOUT": "30",
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_LIBPQ_PARAMS": json.dumps(dict(parsed.libpq), sort_keys=True),
        "APPLICATION_RECORDER_TOPIC": "ledger.backends.postgres:LedgerPostgresRecorder",
        "CREATE_TABLE": parsed.create_tables,
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
    elif scheme in _POSTGRES_SCHEMES:
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
    """SPEC §7 for an embedded store: a file in a directory that does not exist,
    or one that is not a SQLite database, is a configuration error; with
    ``must_exist`` (a command that only reads) a file that does not exist, or
    holds no ledger, or an in-memory database (``sqlite:///``, ``:memory:``:
    empty by definition) is said so — never created empty."""
    if config.is_postgres:
        return
    path = config.env["SQLITE_DBNAME"]
    if path.startswith("file:"):
        if must_exist and "mode=memory" in path:
            raise NotFoundError(
                "no ledger in an in-memory database (sqlite:/// with no file, or "
                ":memory:): name the ledger's file, like sqlite:///./ledger.db",
                field="db",
            )
        return
    file = Path(path)
    if not file.parent.is_dir():
        raise InvalidInputError(
            f"the directory of the SQLite database {path} does not exist", field="db"
        )
    if not file.is_file():
        if must_exist:
            raise NotFoundError(
                f"no ledger at {path}: the database does not exist (check --db or "
                "LEDGER_DATABASE_URL; `import` or `demo` creates one)",
                field="db",
            )
        return
    tables = _sqlite_tables(path)
    if must_exist and tables is not None and "stored_events" not in tables:
        raise NotFoundError(
            f"no ledger at {path}: it holds no events table (check --db or "
            "LEDGER_DATABASE_URL; `import` or `demo` creates one)",
            field="db",
        )


def _sqlite_tables(path: str) -> set[str] | None:
    """The tables of the SQLite file at ``path`` (read only); InvalidInputError
    when it is not a SQLite database; None when that cannot be told now (the
    file locked, say: opening it will tell)."""
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return None
    except sqlite3.DatabaseError as exc:
        raise InvalidInputError(f"{path} is not a SQLite database ({exc})", field="db") from None
    return {str(name) for (name,) in rows}
