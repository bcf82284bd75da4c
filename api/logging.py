"""structlog, configured once: JSON lines (console rendering on a terminal).

A redaction processor runs last before rendering: it drops anything that looks
like a bearer token and replaces rep names with a marker, so logs name reps by
id only (SPEC §7); a sign-in code in a path (``/app/signin/<code>``) is
redacted too.

uvicorn's own loggers (``uvicorn``, ``uvicorn.error``, ``uvicorn.access``) log
through the standard library: `uvicorn_log_config` routes them through
structlog's ``ProcessorFormatter``, so they are the same JSON lines, redacted
alike (an access line has the path, never headers, so no token).
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO, cast

import structlog

__all__ = ["CURRENT_STDERR", "configure_logging", "redact", "uvicorn_log_config"]

_SENSITIVE_KEYS = {"token", "authorization", "password", "secret", "name", "rep_name"}
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
_TOKEN_SHAPE = re.compile(r"\bil1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\b")
# a sign-in link's one-time code is as good as a token until used (api.pages)
_SIGNIN_CODE = re.compile(r"(/signin/)[^/?#\s\"']+")
_configured = False


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        value = _TOKEN_SHAPE.sub("[token]", _BEARER.sub("Bearer [redacted]", value))
        return _SIGNIN_CODE.sub(r"\1[redacted]", value)
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


CURRENT_STDERR = _CurrentStderr()
"""The stream every log line goes to (also by name, from `uvicorn_log_config`)."""


def _renderer(json: bool | None) -> Any:
    as_json = json if json is not None else not sys.stderr.isatty()
    if as_json:
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def uvicorn_log_config(*, level: str = "INFO", json: bool | None = None) -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn's ``log_config``: its server
    and access loggers as this module's lines (JSON unless on a terminal), with
    level, logger name, UTC timestamp, and the same redaction."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": [
                    structlog.stdlib.add_logger_name,
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.format_exc_info,
                    redact,
                ],
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    _renderer(json),
                ],
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "structlog",
                "stream": "ext://api.logging.CURRENT_STDERR",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
        },
    }


def configure_logging(*, level: str = "INFO", json: bool | None = None) -> None:
    """Configure structlog and the standard library logging once per process."""
    global _configured  # noqa: PLW0603 - logging is process-wide by nature
    if _configured:
        return
    renderer = _renderer(json)
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
        logger_factory=structlog.PrintLoggerFactory(file=cast("TextIO", CURRENT_STDERR)),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(message)s")
    _configured = True


def ledger_notices() -> Callable[..., None]:
    """What the ledger core reports but does not log (`ledger.application.Notice`),
    logged here as warnings of the ``ledger`` logger."""
    logger: Callable[..., None] = structlog.get_logger("ledger").warning
    return logger
