"""Deployment settings, read from the environment once, by `get_settings()`.

The only place that reads ``os.environ`` (through pydantic-settings); the CLI's
``--db`` overrides the database URL. A bad setting is a `ConfigurationError`:
one line naming the variable and why, never the value (secrets are in there).
"""

from __future__ import annotations

from functools import lru_cache

import psycopg
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.errors import LedgerError
from ledger.limits import MAX_BODY_BYTES, MAX_EVENTS
from ledger.storage import (
    CONNECT_TIMEOUT_SECONDS,
    DEFAULT_DATABASE_URL,
    EVENTS_TABLE,
    StoreConfig,
    check_sqlite,
    library_env,
)

__all__ = ["ConfigurationError", "Settings", "check_database", "get_settings"]

_ENV_PREFIX = "LEDGER_"


class ConfigurationError(Exception):
    """A setting is missing or invalid: one line naming the variable, without its value."""


_KNOWN_WEAK = {"", "changeme", "secret", "password", "dev"}


class Settings(BaseSettings):
    """Everything an operator can set; names are the environment variables."""

    # hide_input_in_errors: a refused secret must never reach a message or a log
    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX, extra="ignore", hide_input_in_errors=True
    )

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="sqlite:///path.db or postgresql://...",
    )
    chain_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for the audit chain; keep it outside the database.",
    )
    token_secret: SecretStr | None = Field(
        default=None, description="Signs API bearer tokens (at least 32 characters)."
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
    max_body_bytes: int = Field(
        default=MAX_BODY_BYTES,
        ge=1024,
        description="Largest request body (and import line) accepted, in bytes; "
        "larger ones are refused with 413 without being read.",
    )
    max_events: int = Field(
        default=MAX_EVENTS,
        ge=1,
        description="Most events one POST /events may carry (more: 413).",
    )
    log_level: str = Field(default="INFO")
    log_json: bool | None = Field(
        default=None,
        description="JSON logs; default: JSON unless a terminal is attached.",
    )

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


def _variable(loc: tuple[int | str, ...]) -> str:
    return f"{_ENV_PREFIX}{loc[0]}".upper() if loc else "settings"


def configuration_error(exc: ValidationError) -> ConfigurationError:
    """One line for a refused set of settings: each variable and why (the
    values are hidden: `hide_input_in_errors`)."""
    reasons = "; ".join(
        f"{_variable(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors(include_input=False, include_url=False)
    )
    return ConfigurationError(reasons)


@lru_cache
def get_settings() -> Settings:
    """The settings of this process (cached; tests build their own `Settings`);
    ConfigurationError when the environment holds a bad one."""
    try:
        return Settings()
    except ValidationError as exc:
        raise configuration_error(exc) from None


def check_database(url: str, *, must_exist: bool) -> StoreConfig:
    """The store a URL names, checked before the ledger opens it (SPEC §7): a
    malformed URL, a SQLite file in a directory that does not exist, or a
    PostgreSQL server that cannot be reached (within a few seconds) is a
    `ConfigurationError` of one line naming where, never a password. With
    ``must_exist`` (a command that only reads) a store holding no ledger is
    one too: it is never created empty."""
    try:
        config = library_env(url)
        check_sqlite(config, must_exist=must_exist)
    except LedgerError as exc:
        raise ConfigurationError(f"database: {exc.reason}") from None
    if config.is_postgres:
        _check_postgres(config, must_exist=must_exist)
    return config


def _check_postgres(config: StoreConfig, *, must_exist: bool) -> None:
    env = config.env
    try:
        with psycopg.connect(
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"],
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        ) as conn:
            row = conn.execute(
                "SELECT to_regclass(%s)", (f'"{env["POSTGRES_SCHEMA"]}".{EVENTS_TABLE}',)
            ).fetchone()
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        reason = (
            reason.replace(env["POSTGRES_PASSWORD"], "***") if env["POSTGRES_PASSWORD"] else reason
        )
        msg = f"cannot reach the database at {config.where()}: {reason}"
        raise ConfigurationError(msg) from None
    if must_exist and (row is None or row[0] is None):
        msg = (
            f"no ledger at {config.where()}: it holds no events table (check --db or "
            "LEDGER_DATABASE_URL; `import` or `demo` creates one)"
        )
        raise ConfigurationError(msg)
