"""The application's PostgreSQL role without UPDATE or DELETE on stored events
(SPEC §6), set up by the README's own block of grants, run as written.

Before, every write failed on that role: the library's ``LOCK TABLE ... IN
EXCLUSIVE MODE`` needs UPDATE, DELETE or TRUNCATE on the events table.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from api.tokens import TokenStore
from ledger.application import Ledger
from projections.service import Reports
from tests.builders import jsonl, pay_period, sale, seeded
from tests.conftest import PG_URL

README = Path(__file__).resolve().parents[2] / "README.md"
PASSWORD = "app-role-password"


def _readme_grants(schema: str, role: str) -> str:
    """The SQL block of the README's "Running without UPDATE or DELETE", for this
    test's schema and role."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("**Running without UPDATE or DELETE.**") :]
    [block] = re.findall(r"```sql\n(.*?)```", section[: section.index("\n## ")], re.DOTALL)
    return (
        block.replace("SCHEMA public", f'SCHEMA "{schema}"')
        .replace("schemaname = 'public'", f"schemaname = '{schema}'")
        .replace("public.%I", f'"{schema}".%I')
        .replace("ledger_app", role)
        .replace("PASSWORD '...'", f"PASSWORD '{PASSWORD}'")
    )


def _as_role(url: str, role: str) -> str:
    """``url`` (the owner's) logging in as ``role``."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}:{PASSWORD}@{host}"))


@pytest.fixture
def app_role(pg_schema_url: str) -> Iterator[tuple[str, str]]:
    """(the owner's URL, the application role's), the role made by the README's
    block once the owner has created the tables; dropped afterwards."""
    schema = re.findall(r"schema=(\w+)", pg_schema_url)[0]
    role = f"app_{uuid.uuid4().hex[:10]}"
    owner = Ledger(pg_schema_url)
    try:
        seeded(owner, "rep-a", "rep-b")
        Reports(owner).catch_up()  # the read models' tables, as any command makes them
    finally:
        owner.close()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(_readme_grants(schema, role))
    try:
        yield pg_schema_url, _as_role(pg_schema_url, role) + "&create_tables=no"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_the_application_role_appends_pays_and_reads(app_role: tuple[str, str]) -> None:
    _, app_url = app_role
    ledger = Ledger(app_url)
    try:
        # imports, the group commit's path and the payout flow all append
        result = ledger.import_lines(
            jsonl(sale("S-1", "rep-a", "1000.00"), sale("S-2", "rep-b", "2000.00")),
            actor="crm-sync",
        )
        assert result.stored == 2
        reports = Reports(ledger)
        run_id = pay_period(reports, "2026-Q3")
        statement = reports.statement("rep-a", "2026-Q3")
        assert (statement["status"], statement["total"]) == ("paid", "50.00")
        assert reports.verify_projections(workers=None) == []
        assert ledger.verify().ok
        # its working tables: tokens made (a table it creates itself) and revoked
        tokens = TokenStore(ledger, "least-privilege-secret-0123456789")
        _, principal = tokens.create(actor="fin-amy", role="finance")
        tokens.revoke(principal.token_id)
    finally:
        ledger.close()
    assert run_id.startswith("run-2026-Q3-")


def test_the_application_role_cannot_change_a_stored_event(app_role: tuple[str, str]) -> None:
    _, app_url = app_role
    schema = re.findall(r"schema=(\w+)", app_url)[0]
    plain = app_url.replace("&create_tables=no", "").replace(f"?schema={schema}", "")
    for statement in (
        "UPDATE {}.ledger_events SET topic = topic",
        "DELETE FROM {}.ledger_events",
        "DELETE FROM {}.ledger_events_chain",
        "TRUNCATE {}.ledger_events",
    ):
        with (
            psycopg.connect(plain, autocommit=True) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(statement.format(f'"{schema}"'))
