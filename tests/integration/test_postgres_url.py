"""Every libpq parameter of the database URL reaches the ledger's PostgreSQL
connections, and a password kept in a file reaches them too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from api.settings import Settings
from ledger.application import Ledger
from tests.builders import seeded, stored_count


def _connection_facts(ledger: Ledger) -> tuple[dict[str, str], str, str | None]:
    """(what the server says of the session, the connection's DSN, its password)."""
    datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
    with datastore.get_connection() as conn:
        row = conn.execute(
            "SELECT current_setting('application_name') AS application_name, "
            "current_setting('statement_timeout') AS statement_timeout"
        ).fetchone()
        return dict(row), conn.info.dsn, conn.info.password


class TestLibpqParameters:
    def test_every_parameter_reaches_the_connection(self, pg_schema_url: str) -> None:
        """application_name and options act on the server; the TLS files, keepalives
        and target_session_attrs are in the connection's own parameters. (Before,
        only dbname, host, port, user and password were passed on.)"""
        url = (
            f"{pg_schema_url}&application_name=ledger-url-test"
            "&options=-c%20statement_timeout%3D4321&sslmode=allow"
            "&sslrootcert=/nonexistent/ca.pem&sslcert=/nonexistent/client.crt"
            "&sslkey=/nonexistent/client.key&keepalives_idle=30"
            "&target_session_attrs=read-write&connect_timeout=5"
        )
        ledger = Ledger(url)
        try:
            server, dsn, _ = _connection_facts(ledger)
            seeded(ledger, "rep-a")  # the ledger works through such connections
            assert stored_count(ledger) == 2
        finally:
            ledger.close()
        assert server == {"application_name": "ledger-url-test", "statement_timeout": "4321ms"}
        for expected in (
            "sslmode=allow",
            "sslrootcert=/nonexistent/ca.pem",
            "sslcert=/nonexistent/client.crt",
            "sslkey=/nonexistent/client.key",
            "keepalives_idle=30",
            "target_session_attrs=read-write",
            "connect_timeout=5",
        ):
            assert expected in dsn, expected

    def test_sslmode_is_enforced_not_ignored(self, pg_schema_url: str) -> None:
        """This server has TLS off: sslmode=require must refuse to connect rather
        than silently connect in clear text (as the dropped parameter did)."""
        with pytest.raises(OperationalError):
            Ledger(f"{pg_schema_url}&sslmode=require&connect_timeout=2")


class TestPasswordFromAFile:
    def test_the_password_file_reaches_the_connection(
        self, pg_schema_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """LEDGER_DATABASE_PASSWORD_FILE completes a URL without a password; the
        connection carries exactly the file's password (this server trusts local
        connections, so it is checked on the connection, not by a login)."""
        for key in [k for k in os.environ if k.startswith("LEDGER_")]:
            monkeypatch.delenv(key)
        secret = tmp_path / "postgres_password"
        secret.write_text("s3cret p@ss/word\n", encoding="utf-8")
        monkeypatch.setenv("LEDGER_DATABASE_URL", pg_schema_url)
        monkeypatch.setenv("LEDGER_DATABASE_PASSWORD_FILE", str(secret))
        settings = Settings()
        ledger = Ledger(settings.database_url)
        try:
            _, dsn, password = _connection_facts(ledger)
        finally:
            ledger.close()
        assert password == "s3cret p@ss/word"
        assert "s3cret" not in dsn
