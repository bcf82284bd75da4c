"""Configuration errors (SPEC §7): one clear line on stderr and a nonzero exit —
never a traceback, never a secret's value; a command that only reads never
creates an empty database. Each in a subprocess, as an operator meets it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.builders import ROOT, SAMPLE_EVENTS, process_env
from tests.conftest import PG_URL, require_postgres

SECRET = "s3cr3t-value-never-printed"
GOOD_SECRET = "0123456789abcdef-good-secret"


def _cli(
    *args: str, cwd: Path, timeout: float = 120, **settings: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "incentive-ledger"), *args],
        cwd=cwd,
        env=process_env(**settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _one_line(result: subprocess.CompletedProcess[str], *, says: str) -> str:
    """The command failed with exactly one line on stderr that says ``says``."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert says in lines[0], lines[0]
    return lines[0]


class TestBadSettings:
    @pytest.mark.parametrize(
        ("settings", "says"),
        [
            ({"LEDGER_TOKEN_SECRET": "short"}, "LEDGER_TOKEN_SECRET: refusing a weak secret"),
            ({"LEDGER_CHAIN_KEY": "changeme"}, "LEDGER_CHAIN_KEY: refusing a weak secret"),
            ({"LEDGER_MAX_EVENTS": "lots"}, "LEDGER_MAX_EVENTS"),
            ({"LEDGER_MAX_BODY_BYTES": "-1"}, "LEDGER_MAX_BODY_BYTES"),
            # a level logging does not know was a traceback at the first log line
            ({"LEDGER_LOG_LEVEL": "loud"}, "LEDGER_LOG_LEVEL: the log level is one of DEBUG"),
        ],
    )
    def test_a_bad_setting_is_one_line_without_its_value(
        self, tmp_path: Path, settings: dict[str, str], says: str
    ) -> None:
        """It was a traceback holding the refused secret."""
        for command in (["statement", "--rep", "r", "--period", "2026-Q3"], ["serve"]):
            result = _cli(*command, cwd=tmp_path, **settings)
            assert result.returncode == 2
            line = _one_line(result, says=says)
            for value in settings.values():
                assert value not in line.removeprefix("error: ").split(":", 1)[1]

    def test_a_weak_secret_value_is_never_printed(self, tmp_path: Path) -> None:
        weak = "weak-" + SECRET[:6]
        result = _cli(
            "token",
            "create",
            "--actor",
            "a",
            "--role",
            "admin",
            cwd=tmp_path,
            LEDGER_TOKEN_SECRET=weak,
        )
        _one_line(result, says="LEDGER_TOKEN_SECRET")
        assert weak not in result.stderr + result.stdout

    def test_serve_without_a_secret_says_which_setting(self, tmp_path: Path) -> None:
        _one_line(_cli("serve", cwd=tmp_path), says="LEDGER_TOKEN_SECRET: set it")


class TestBadDatabase:
    @pytest.mark.parametrize(
        ("url", "says"),
        [
            ("mysql://localhost/x", "unsupported database URL scheme"),
            ("sqlite:/relative.db", "a SQLite URL is"),
            (f"postgresql://u:{SECRET}@127.0.0.1:port/x", "port 'port' is not a number"),
            ("postgresql://127.0.0.1:5432/", "names its database"),
            ("postgresql://127.0.0.1/x?pool_size=many", "pool_size"),
        ],
    )
    def test_a_malformed_url_is_one_line(self, tmp_path: Path, url: str, says: str) -> None:
        result = _cli("verify", "--db", url, cwd=tmp_path)
        assert result.returncode == 2
        _one_line(result, says=says)
        assert SECRET not in result.stderr

    def test_an_unreachable_postgresql_is_one_line_and_no_password(self, tmp_path: Path) -> None:
        """It was a traceback after 10 s; now the connection is given a few seconds."""
        url = f"postgresql://postgres:{SECRET}@127.0.0.1:1/test"
        for command in (["statement", "--rep", "r", "--period", "2026-Q3"], ["import", "-"]):
            result = _cli(*command, "--db", url, cwd=tmp_path, timeout=60)
            assert result.returncode == 2
            _one_line(result, says="cannot reach the database at 127.0.0.1:1/test")
            assert SECRET not in result.stderr
        served = _cli(
            "serve", "--db", url, cwd=tmp_path, timeout=60, LEDGER_TOKEN_SECRET=GOOD_SECRET
        )
        _one_line(served, says="cannot reach the database")

    def test_a_sqlite_file_in_a_missing_directory_is_one_line(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'nowhere' / 'ledger.db'}"
        for command in (["import", str(SAMPLE_EVENTS)], ["demo"], ["verify"]):
            result = _cli(*command, "--db", url, cwd=tmp_path)
            assert result.returncode == 2
            _one_line(result, says="does not exist")
        assert not (tmp_path / "nowhere").exists()


READ_ONLY = [
    ["statement", "--rep", "rep-li", "--period", "2026-Q3"],
    ["diff", "--rep", "rep-li", "--period", "2026-Q3", "--from", "1", "--to", "2"],
    ["history", "--rep", "rep-li"],
    ["verify"],
    ["payout", "export", "run-1"],
    ["project", "--check"],
    ["rebuild"],
]


class TestReadOnlyCommands:
    @pytest.mark.parametrize("command", READ_ONLY, ids=lambda c: " ".join(c[:2]))
    def test_no_database_is_said_and_none_is_created(
        self, tmp_path: Path, command: list[str]
    ) -> None:
        """`statement` in the wrong directory silently created an empty ./ledger.db."""
        result = _cli(*command, cwd=tmp_path)
        assert result.returncode == 2
        _one_line(result, says="no ledger at ./ledger.db: the database does not exist")
        assert list(tmp_path.iterdir()) == []

    def test_a_file_that_is_not_a_database_is_one_line(self, tmp_path: Path) -> None:
        """It printed sqlite3's traceback ("file is not a database")."""
        (tmp_path / "notes.txt").write_text("hello\n", encoding="utf-8")
        url = "sqlite:///./notes.txt"
        for command in (READ_ONLY[0], ["import", str(SAMPLE_EVENTS)]):
            result = _cli(*command, "--db", url, cwd=tmp_path)
            assert result.returncode == 2
            _one_line(result, says="notes.txt is not a SQLite database")
        assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "hello\n"

    def test_a_database_without_a_ledger_is_said_and_left_alone(self, tmp_path: Path) -> None:
        other = tmp_path / "other.db"
        with sqlite3.connect(other) as conn:
            conn.execute("CREATE TABLE t (x)")
        conn.close()
        result = _cli("verify", "--db", "sqlite:///./other.db", cwd=tmp_path)
        assert result.returncode == 2
        _one_line(result, says="no ledger at ./other.db: it holds no events table")
        with sqlite3.connect(other) as conn:
            tables = conn.execute("SELECT name FROM sqlite_master").fetchall()
        conn.close()
        assert tables == [("t",)]

    @pytest.mark.parametrize("url", ["sqlite:///", "sqlite:///:memory:"])
    def test_an_in_memory_database_holds_no_ledger_to_read(self, tmp_path: Path, url: str) -> None:
        """`verify` said "chain intact: 0 events" of a throwaway database."""
        for command in (["verify"], ["runs"]):
            result = _cli(*command, "--db", url, cwd=tmp_path)
            assert result.returncode == 2
            _one_line(result, says="no ledger in an in-memory database")

    def test_no_ledger_in_a_postgresql_schema_is_said_and_none_is_created(
        self, tmp_path: Path, pg_schema_url: str
    ) -> None:
        result = _cli(
            "statement", "--rep", "r", "--period", "2026-Q3", "--db", pg_schema_url, cwd=tmp_path
        )
        assert result.returncode == 2
        _one_line(result, says="no ledger at 127.0.0.1:5432/test")
        schema = pg_schema_url.rsplit("schema=", 1)[1]
        with psycopg.connect(PG_URL) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            ).fetchone()
        assert tables == (0,)

    @pytest.mark.parametrize(
        "command",
        [["import", str(SAMPLE_EVENTS)], ["statement", "--rep", "r", "--period", "2026-Q3"]],
    )
    def test_a_postgresql_schema_that_does_not_exist_is_one_line(
        self, tmp_path: Path, command: list[str]
    ) -> None:
        """`?schema=` naming no schema of the database (a typo, or one not
        created yet) printed the library's traceback on `import`: a
        configuration error like a SQLite file's missing directory."""
        require_postgres()
        schema = f"missing_{uuid.uuid4().hex[:12]}"
        separator = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{separator}schema={schema}"
        result = _cli(*command, "--db", url, cwd=tmp_path)
        assert result.returncode == 2
        line = _one_line(result, says=f"schema {schema} does not exist")
        assert "CREATE SCHEMA" in line

    def test_an_existing_ledger_is_read(self, tmp_path: Path) -> None:
        plan = ROOT / "samples" / "field-sales.toml"
        assert _cli("import", str(SAMPLE_EVENTS), "--plan", str(plan), cwd=tmp_path).returncode == 0
        result = _cli("verify", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
