"""Shared fixtures: a fresh ledger on SQLite and on PostgreSQL.

PostgreSQL tests read ``LEDGER_TEST_DATABASE_URL`` (default: the local server),
isolate themselves in a schema of their own that is dropped afterwards, and
under ``CI=true`` fail — never skip — when the server is unreachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from api.settings import get_settings
from ledger.application import Ledger

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 in their environment;
# rich would freeze the CLI's consoles (made at import) at 80 columns, and the
# tests that set a terminal width per command (COLUMNS in CliRunner's env) would
# see 80 instead. A real terminal gives each command a process of its own.
for _variable in ("COLUMNS", "LINES"):
    os.environ.pop(_variable, None)

PG_URL = os.environ.get("LEDGER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _settings_of_this_test() -> Iterator[None]:
    """The process's settings are cached (`api.settings.get_settings`): a command
    run in-process by one test must not hand its environment to the next."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    return None


_PG_PROBLEM = _pg_available()


def require_postgres() -> None:
    """Fail under CI, skip elsewhere, when PostgreSQL is unreachable."""
    if _PG_PROBLEM is None:
        return
    message = f"PostgreSQL at {PG_URL} is unreachable: {_PG_PROBLEM}"
    if IN_CI:
        pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
    pytest.skip(message)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL pointing at a fresh schema, dropped after the test."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}schema={schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same behaviour suite on both stores."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def make_ledger(db_url: str) -> Iterator[Callable[..., Ledger]]:
    """Open (and later close) ledgers on the test's database."""
    opened: list[Ledger] = []

    def make(*, chain_key: str | None = None) -> Ledger:
        ledger = Ledger(db_url, chain_key=chain_key)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger]) -> Ledger:
    return make_ledger()
