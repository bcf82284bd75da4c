"""Secrets from files: LEDGER_<NAME>_FILE, the way Docker and Kubernetes hand them over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.settings import SECRET_FILE_SETTINGS, Settings
from ledger.storage import parse_postgres_url
from tests.builders import process_env, run_cli

STRONG = "a-strong-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_ledger_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what each test sets (a developer's own LEDGER_* would leak in)."""
    for key in [k for k in os.environ if k.startswith("LEDGER_")]:
        monkeypatch.delenv(key)


def _secret(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _value(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    return value if isinstance(value, str) else value.get_secret_value()


class TestSecretFiles:
    @pytest.mark.parametrize(
        ("name", "content"),
        [
            ("token_secret", STRONG),
            ("chain_key", STRONG),
            ("database_url", "postgresql://ledger:pw@db:5432/ledger?sslmode=require"),
        ],
    )
    def test_the_value_is_read_from_the_file(
        self, name: str, content: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """LEDGER_<NAME>_FILE gives LEDGER_<NAME>, without the file's trailing newline."""
        path = _secret(tmp_path, name, content + "\n")
        monkeypatch.setenv(f"LEDGER_{name.upper()}_FILE", str(path))
        assert _value(Settings(), name) == content

    def test_every_secret_setting_has_a_file_form(self) -> None:
        for name in SECRET_FILE_SETTINGS:
            assert name in Settings.model_fields
            assert f"{name}_file" in Settings.model_fields

    def test_both_forms_at_once_are_refused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Which one would count is a guess: say so, naming both variables."""
        monkeypatch.setenv("LEDGER_TOKEN_SECRET", STRONG)
        monkeypatch.setenv("LEDGER_TOKEN_SECRET_FILE", str(_secret(tmp_path, "t", STRONG + "x")))
        with pytest.raises(ValidationError) as caught:
            Settings()
        message = str(caught.value)
        assert "set LEDGER_TOKEN_SECRET or LEDGER_TOKEN_SECRET_FILE, not both" in message
        assert STRONG not in message

    @pytest.mark.parametrize(
        ("content", "reason"),
        [
            (None, "cannot read {path}: No such file or directory"),
            ("", "{path} is empty"),
            ("\n\n", "{path} is empty"),
            (b"\xff\xfe-not-utf8", "{path} is not UTF-8 text"),
            ("x" * 70_000, "{path} is larger than a secret"),
        ],
    )
    def test_an_unusable_file_is_a_clear_error(
        self,
        content: str | bytes | None,
        reason: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The error names the variable and the path, never what the file holds."""
        path = tmp_path / "chain_key"
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content, encoding="utf-8")
        monkeypatch.setenv("LEDGER_CHAIN_KEY_FILE", str(path))
        with pytest.raises(ValidationError) as caught:
            Settings()
        assert f"LEDGER_CHAIN_KEY_FILE: {reason.format(path=path)}" in str(caught.value)

    def test_a_directory_is_a_clear_error(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """What Compose v1 mounts when the secret file is missing on the host."""
        monkeypatch.setenv("LEDGER_TOKEN_SECRET_FILE", str(tmp_path))
        with pytest.raises(ValidationError, match=r"cannot read .*: Is a directory"):
            Settings()

    def test_a_weak_secret_in_a_file_is_refused_like_one_given_directly(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The file's value goes through the same validation, and is never echoed."""
        monkeypatch.setenv("LEDGER_TOKEN_SECRET_FILE", str(_secret(tmp_path, "t", "changeme\n")))
        with pytest.raises(ValidationError) as caught:
            Settings()
        assert "refusing a weak secret" in str(caught.value)
        assert "changeme" not in str(caught.value)

    def test_no_secret_value_appears_in_any_settings_error(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An error elsewhere does not print the other settings (hide_input_in_errors)."""
        monkeypatch.setenv("LEDGER_CHAIN_KEY_FILE", str(_secret(tmp_path, "k", STRONG)))
        monkeypatch.setenv("LEDGER_TOKEN_SECRET_FILE", str(tmp_path / "missing"))
        monkeypatch.setenv("LEDGER_PARSE_WORKERS", "-1")
        with pytest.raises(ValidationError) as caught:
            Settings()
        assert STRONG not in str(caught.value)


class TestDatabasePassword:
    def test_the_password_file_completes_the_url(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The URL holds no secret; the file's password joins it, every other part kept."""
        monkeypatch.setenv(
            "LEDGER_DATABASE_URL", "postgresql://ledger@postgres:5432/ledger?sslmode=require"
        )
        path = _secret(tmp_path, "postgres_password", "p@ss:w/rd\n")
        monkeypatch.setenv("LEDGER_DATABASE_PASSWORD_FILE", str(path))
        settings = Settings()
        parsed = parse_postgres_url(settings.database_url)
        assert (parsed.user, parsed.password, parsed.host, parsed.dbname) == (
            "ledger",
            "p@ss:w/rd",
            "postgres",
            "ledger",
        )
        assert parsed.libpq["sslmode"] == "require"
        assert "p@ss" not in repr(settings)

    def test_a_url_with_a_password_of_its_own_is_refused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LEDGER_DATABASE_URL", "postgresql://ledger:inline@postgres/ledger")
        monkeypatch.setenv(
            "LEDGER_DATABASE_PASSWORD_FILE", str(_secret(tmp_path, "pw", "from-file"))
        )
        with pytest.raises(ValidationError) as caught:
            Settings()
        assert "LEDGER_DATABASE_PASSWORD: the database URL has a password already" in str(
            caught.value
        )
        assert "from-file" not in str(caught.value)

    def test_a_password_for_sqlite_is_refused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LEDGER_DATABASE_PASSWORD_FILE", str(_secret(tmp_path, "pw", "x")))
        with pytest.raises(ValidationError, match="applies to a PostgreSQL URL"):
            Settings()


class TestTheCommandLineReadsThem:
    def test_token_create_with_the_secret_in_a_file(self, tmp_path: Path) -> None:
        """The CLI end to end: LEDGER_TOKEN_SECRET_FILE alone is enough to issue a token."""
        env = process_env(
            LEDGER_DATABASE_URL=f"sqlite:///{tmp_path / 'ledger.db'}",
            LEDGER_TOKEN_SECRET_FILE=str(_secret(tmp_path, "token_secret", STRONG + "\n")),
        )
        result = run_cli("token", "create", "--actor", "fin-amy", "--role", "finance", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
        assert STRONG not in result.stdout + result.stderr
