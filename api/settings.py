"""Deployment settings, read from the environment once, by `get_settings()`.

The only place that reads ``os.environ`` (through pydantic-settings); the CLI's
``--db`` overrides the database URL.

Secrets may come from files, the way Docker and Kubernetes hand them over:
``LEDGER_<NAME>_FILE`` names a file that holds the value of ``LEDGER_<NAME>``
(see `SECRET_FILE_SETTINGS`). ``LEDGER_DATABASE_PASSWORD[_FILE]`` completes a
PostgreSQL URL that carries no password, so the URL itself holds no secret.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.errors import LedgerError
from ledger.storage import DEFAULT_DATABASE_URL, with_password

__all__ = ["SECRET_FILE_SETTINGS", "Settings", "get_settings"]

_KNOWN_WEAK = {"", "changeme", "secret", "password", "dev"}

# The settings that may be read from a file named by LEDGER_<NAME>_FILE.
SECRET_FILE_SETTINGS = ("database_url", "database_password", "token_secret", "chain_key")
# A secret is a line of text; anything bigger is the wrong file (or /dev/zero).
_MAX_SECRET_BYTES = 64 * 1024


def _variable(name: str) -> str:
    return f"LEDGER_{name.upper()}"


def _read_secret_file(variable: str, path: Path) -> str:
    """The secret in ``path``, without its trailing newline(s), as Docker's own
    images read ``*_FILE`` (``$(< file)``). Errors name the variable and the
    path, never what the file holds."""
    try:
        with path.open("rb") as file:
            raw = file.read(_MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"{variable}: cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > _MAX_SECRET_BYTES:
        raise ValueError(f"{variable}: {path} is larger than a secret (over 64 KiB)")
    try:
        value = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ValueError(f"{variable}: {path} is not UTF-8 text") from None
    if not value:
        raise ValueError(f"{variable}: {path} is empty")
    return value


class Settings(BaseSettings):
    """Everything an operator can set; names are the environment variables."""

    # hide_input_in_errors: a validation error must never echo a secret (the
    # file-reading validator below sees every setting at once).
    model_config = SettingsConfigDict(
        env_prefix="LEDGER_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="sqlite:///path.db or postgresql://... (every libpq parameter kept).",
        repr=False,  # it may carry a password
    )
    database_url_file: Path | None = Field(
        default=None, description="A file holding LEDGER_DATABASE_URL."
    )
    database_password: SecretStr | None = Field(
        default=None,
        description="The PostgreSQL password, for a LEDGER_DATABASE_URL without one.",
    )
    database_password_file: Path | None = Field(
        default=None,
        description="A file holding the PostgreSQL password (e.g. a Docker secret, the "
        "same file the postgres image reads as POSTGRES_PASSWORD_FILE).",
    )
    chain_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for the audit chain; keep it outside the database.",
    )
    chain_key_file: Path | None = Field(
        default=None, description="A file holding LEDGER_CHAIN_KEY."
    )
    token_secret: SecretStr | None = Field(
        default=None, description="Signs API bearer tokens (at least 32 characters)."
    )
    token_secret_file: Path | None = Field(
        default=None, description="A file holding LEDGER_TOKEN_SECRET."
    )
    api_projector: bool = Field(
        default=True,
        description="The API keeps the projections current in a background thread; "
        "false when a separate worker (`project --follow`) does.",
    )
    parse_workers: int = Field(
        default=1,
        ge=0,
        description="Processes that parse large POST /events bodies off the API's "
        "request thread (0: parse every body in the API process).",
    )
    log_level: str = Field(default="INFO")
    log_json: bool | None = Field(
        default=None,
        description="JSON logs; default: JSON unless a terminal is attached.",
    )

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """LEDGER_<NAME>_FILE: the value of LEDGER_<NAME> read from a file, then
        validated like one given directly. Both at once is refused: which one
        counts would be a guess."""
        if not isinstance(data, dict):
            return data
        for name in SECRET_FILE_SETTINGS:
            path = data.get(f"{name}_file")
            if path is None or str(path) == "":
                continue
            variable = _variable(name)
            if data.get(name) not in {None, ""}:
                raise ValueError(f"set {variable} or {variable}_FILE, not both")
            data = {**data, name: _read_secret_file(f"{variable}_FILE", Path(path))}
        return data

    @model_validator(mode="after")
    def _password_into_url(self) -> Self:
        """A separate database password completes the URL (PostgreSQL only, and
        only a URL that has none: one password, one place)."""
        if self.database_password is not None:
            try:
                self.database_url = with_password(
                    self.database_url, self.database_password.get_secret_value()
                )
            except LedgerError as exc:
                raise ValueError(f"LEDGER_DATABASE_PASSWORD: {exc.reason}") from None
        return self

    @field_validator("chain_key", "token_secret")
    @classmethod
    def _refuse_weak_secrets(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if secret.lower() in _KNOWN_WEAK or len(secret) < 16:  # noqa: PLR2004
            msg = "refusing a weak secret: use at least 16 random characters"
            raise ValueError(msg)
        return value

    def chain_key_text(self) -> str | None:
        return self.chain_key.get_secret_value() if self.chain_key else None


@lru_cache
def get_settings() -> Settings:
    """The settings of this process (cached; tests build their own `Settings`)."""
    return Settings()
