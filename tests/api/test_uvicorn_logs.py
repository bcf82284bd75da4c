"""uvicorn's own logs are JSON lines like the rest (issue 22, "API polish"):
its server and access loggers go through structlog's ProcessorFormatter, and an
access line never carries a sign-in code or a token."""

from __future__ import annotations

import logging
import logging.config
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from api.logging import uvicorn_log_config
from tests.builders import CLI, free_port, process_env, wait_healthy

_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")
_CODE = "Zx9-SECRET-signin-code"
_TOKEN = "il1.abcDEF123.sig_nature-XYZ"


@pytest.fixture
def uvicorn_loggers() -> Iterator[None]:
    """uvicorn's loggers as `uvicorn_log_config` sets them, restored afterwards."""
    saved = {
        name: (list(lg.handlers), lg.level, lg.propagate, lg.disabled)
        for name in _UVICORN
        for lg in [logging.getLogger(name)]
    }
    logging.config.dictConfig(uvicorn_log_config(level="INFO", json=True))
    yield
    for name, (handlers, level, propagate, disabled) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate
        lg.disabled = disabled


def _lines(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.usefixtures("uvicorn_loggers")
def test_uvicorns_lines_are_json_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 4242)
    access = logging.getLogger("uvicorn.access")
    access.info(  # the format and arguments uvicorn's access logger uses
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:50000",
        "GET",
        f"/app/signin/{_CODE}?next=/app/",
        "1.1",
        303,
    )
    access.info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", f"/x?token={_TOKEN}", "1.1", 404
    )
    try:
        raise RuntimeError("boom")  # noqa: TRY301 - a traceback to log
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    err = capsys.readouterr().err
    assert _CODE not in err
    assert _TOKEN not in err
    started, signin, token, failed = _lines(err)  # every line JSON, one per record
    assert started["event"] == "Started server process [4242]"
    assert (started["logger"], started["level"]) == ("uvicorn.error", "info")
    assert "timestamp" in started
    assert signin["logger"] == "uvicorn.access"
    assert "/app/signin/[redacted]?next=/app/" in signin["event"]
    assert "[token]" in token["event"]
    assert failed["level"] == "error"
    assert "RuntimeError: boom" in failed["exception"]


@pytest.mark.slow
def test_serve_logs_only_json_lines(tmp_path: Path) -> None:
    """`serve --access-log` in a subprocess: startup, access and shutdown lines
    are all JSON, and a sign-in link's code is not in them."""
    port = free_port()
    env = process_env(
        LEDGER_TOKEN_SECRET="log-test-token-secret-0123456789",
        LEDGER_LOG_JSON="true",
    )
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    args = [CLI, "serve", "--port", str(port), "--db", db, "--access-log"]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process)
        httpx.get(f"{base}/app/signin/{_CODE}", timeout=5)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    text = err.decode()
    assert _CODE not in text
    lines = _lines(text)  # raises on any line that is not JSON
    loggers = {line.get("logger") for line in lines}
    assert {"uvicorn.error", "uvicorn.access"} <= loggers, text
    events = [line["event"] for line in lines]
    assert any("Uvicorn running on" in e for e in events), events
    assert any("/app/signin/[redacted]" in e for e in events), events
