"""structlog, configured once: JSON lines (console rendering on a terminal).

A redaction processor runs last before rendering: it drops anything that looks
like a bearer token and replaces rep names with a marker, so logs name reps by
id only (SPEC §7).
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO, cast

import structlog

__all__ = ["configure_logging", "redact"]

_SENSITIVE_KEYS = {"token", "authorization", "password", "secret", "name", "rep_name"}
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
_TOKEN_SHAPE = re.compile(r"\bil1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\b")
_configured = False


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _TOKEN_SHAPE.sub("[token]", _BEARER.sub("Bearer [redacted]", value))
    if isinstance(value, dict):
        return {
            k: "[redacted]" if k.lower() in _SENSITIVE_KEYS else _scrub(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Drop tokens and rep names from a log entry."""
    for key in list(event_dict):
        if key.lower() in _SENSITIVE_KEYS:
            event_dict[key] = "[redacted]"
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


class _CurrentStderr(io.TextIOBase):
    """Whatever ``sys.stderr`` is when a line is written, not when logging was set up
    (a stream swapped out later — a test's capture, a daemon's redirect — may be
    closed by then, and a request would fail on its log line)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(*, level: str = "INFO", json: bool | None = None) -> None:
    """Configure structlog and the standard library logging once per process."""
    global _configured  # noqa: PLW0603 - logging is process-wide by nature
    if _configured:
        return
    as_json = json if json is not None else not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=cast("TextIO", _CurrentStderr())),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(message)s")
    _configured = True


def ledger_notices() -> Callable[..., None]:
    """What the ledger core reports but does not log (`ledger.application.Notice`),
    logged here as warnings of the ``ledger`` logger."""
    logger: Callable[..., None] = structlog.get_logger("ledger").warning
    return logger
