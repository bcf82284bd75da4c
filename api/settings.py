"""Deployment settings, read from the environment once, by `get_settings()`.

The only place that reads ``os.environ`` (through pydantic-settings); the CLI's
``--db`` overrides the database URL.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.storage import DEFAULT_DATABASE_URL

__all__ = ["Settings", "get_settings"]

_KNOWN_WEAK = {"", "changeme", "secret", "password", "dev"}


class Settings(BaseSettings):
    """Everything an operator can set; names are the environment variables."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

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


@lru_cache
def get_settings() -> Settings:
    """The settings of this process (cached; tests build their own `Settings`)."""
    return Settings()
