"""Deployment settings, read from the environment once, by `get_settings()`.

The only place that reads ``os.environ`` (through pydantic-settings); the CLI's
``--db`` overrides the database URL. A bad setting is a `ConfigurationError`:
one line naming the variable and why, never the value (secrets are in there).

Secrets may come from files, the way Docker and Kubernetes hand them over:
``LEDGER_<NAME>_FILE`` names a file that holds the value of ``LEDGER_<NAME>``
(see `SECRET_FILE_SETTINGS`). ``LEDGER_DATABASE_PASSWORD[_FILE]`` completes a
PostgreSQL URL that carries no password, so the URL itself holds no secret.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

import psycopg
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
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
    with_password,
)

__all__ = [
    "SECRET_FILE_SETTINGS",
    "ConfigurationError",
    "Settings",
    "check_database",
    "get_settings",
]

_ENV_PREFIX = "LEDGER_"


class ConfigurationError(Exception):
    """A setting is missing or invalid: one line naming the variable, without its value."""


# The levels LEDGER_LOG_LEVEL may name (the logging module's own).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

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

    # hide_input_in_errors: a refused secret must never reach a message or a log
    # (the file-reading validator below sees every setting at once).
    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX, extra="ignore", hide_input_in_errors=True
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
        default=None, description="Signs API bearer tokens (at least 16 random characters)."
    )
    token_secret_file: Path | None = Field(
        default=None, description="A file holding LEDGER_TOKEN_SECRET."
    )
    api_projector: bool = Field(
        default=True,
        description="The API keeps the projections current in a background thread; "
        "false when a separate worker (`project --follow`) does.",
    )
    metrics_public: bool = Field(
        default=False,
        description="GET /metrics answers without a token (its figures name no rep, "
        "amount or token, but count cases and disputes); false, the default: a "
        "finance or admin token is required.",
    )
    secure_cookies: bool = Field(
        default=False,
        description="The pages' cookies (the session above all) are marked Secure on "
        "every answer, not only on one the server saw arrive over https: set it behind "
        "a TLS proxy, whose X-Forwarded-Proto the server trusts from 127.0.0.1 only.",
    )
    parse_workers: int | None = Field(
        default=None,
        ge=0,
        description="Processes that parse large POST /events bodies off the API's "
        "request thread (0: parse every body in the API process; unset: one when "
        "a second core is usable, as an import's parse worker).",
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
    log_level: str = Field(
        default="INFO",
        description="The log level: DEBUG, INFO, WARNING, ERROR or CRITICAL (any case).",
    )
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

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        """A level the logging module knows: an unknown one was a traceback at
        the first log line, after the settings were taken."""
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            msg = f"the log level is one of {', '.join(LOG_LEVELS)} (any case)"
            raise ValueError(msg)
        return level

    def chain_key_text(self) -> str | None:
        return self.chain_key.get_secret_value() if self.chain_key else None


def _variable_of(loc: tuple[int | str, ...]) -> str:
    return f"{_ENV_PREFIX}{loc[0]}".upper() if loc else "settings"


def configuration_error(exc: ValidationError) -> ConfigurationError:
    """One line for a refused set of settings: each variable and why (the
    values are hidden: `hide_input_in_errors`)."""
    reasons = "; ".join(
        f"{_variable_of(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
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
    malformed URL, a SQLite file in a directory that does not exist, a
    PostgreSQL server that cannot be reached (within a few seconds) or a
    PostgreSQL schema that does not exist is a
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


def _other_libpq_params(env: dict[str, str]) -> dict[str, Any]:
    """The URL's libpq parameters beyond those passed by name (sslmode, ...)."""
    params: dict[str, Any] = json.loads(env.get("POSTGRES_LIBPQ_PARAMS") or "{}")
    return {k: v for k, v in params.items() if k != "connect_timeout"}


def _check_postgres(config: StoreConfig, *, must_exist: bool) -> None:
    env = config.env
    try:
        with psycopg.connect(
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"],
            connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT", CONNECT_TIMEOUT_SECONDS)),
            **_other_libpq_params(env),
        ) as conn:
            schema = env["POSTGRES_SCHEMA"]
            found = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", (schema,)
            ).fetchone()
            row = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".{EVENTS_TABLE}',)).fetchone()
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        reason = (
            reason.replace(env["POSTGRES_PASSWORD"], "***") if env["POSTGRES_PASSWORD"] else reason
        )
        msg = f"cannot reach the database at {config.where()}: {reason}"
        raise ConfigurationError(msg) from None
    if found is None or not found[0]:
        # the library creates its tables, not their schema: left to it, the
        # first CREATE TABLE fails with a traceback
        msg = (
            f"cannot use the database at {config.where()}: schema {schema} does not exist "
            f'(create it first: CREATE SCHEMA "{schema}"; or correct schema= in the URL)'
        )
        raise ConfigurationError(msg)
    if must_exist and (row is None or row[0] is None):
        msg = (
            f"no ledger at {config.where()}: it holds no events table (check --db or "
            "LEDGER_DATABASE_URL; `import` or `demo` creates one)"
        )
        raise ConfigurationError(msg)
