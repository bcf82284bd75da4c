"""Parse workers never outlive their process: a killed import (SIGKILL) or a
killed API leaves no worker process behind (`ledger.ingestion.workers.watch_parent`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from tests.builders import CLI, free_port, process_env, sale, wait_healthy
from tests.e2e.test_cli_serve import SECRET, _token

_WAIT_SECONDS = 120.0  # generous: the machine may be busy


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with suppress(OSError):
            found.update(int(p) for p in task.read_text().split())
    return {p for p in found if _alive(p)}


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _spawn_workers(pid: int) -> set[int]:
    """The children of ``pid`` started by multiprocessing's spawn (parse workers)."""
    workers = set()
    for child in _children(pid):
        with suppress(OSError):
            command = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in command:
                workers.add(child)
    return workers


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + _WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"waited {_WAIT_SECONDS:.0f} s for {what}")


def _gone(pids: set[int]) -> bool:
    return not any(_alive(p) for p in pids)


@contextmanager
def _reaped(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


class TestKilledParents:
    def test_a_killed_import_leaves_no_parse_worker(self, tmp_path: Path) -> None:
        """A SIGKILLed import left its parse worker waiting for work, for good."""
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        process = subprocess.Popen(
            [CLI, "import", "-", "--db", url],
            env=process_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with _reaped(process):
            assert process.stdin is not None
            lines = (json.dumps(sale(f"S-{i}", "r1")) + "\n" for i in range(12_000))
            process.stdin.write("".join(lines).encode())  # three chunks: the worker starts
            process.stdin.flush()  # and the import waits for more input, its worker alive
            _wait_for(lambda: _spawn_workers(process.pid), "the import's parse worker")
            workers = _spawn_workers(process.pid)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            _wait_for(lambda: _gone(workers), f"parse worker(s) {workers} to exit")

    def test_a_killed_api_leaves_no_body_parser(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        token = _token(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port), "--db", url],
            env=process_env(LEDGER_TOKEN_SECRET=SECRET, LEDGER_LOG_LEVEL="WARNING"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with _reaped(process):
            wait_healthy(base, process)
            body = json.dumps([sale(f"S-{i}", "nobody") for i in range(400)])  # a large body
            response = httpx.post(
                f"{base}/events",
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                timeout=60,
            )
            assert response.status_code in {201, 403, 422}, response.text
            _wait_for(lambda: _spawn_workers(process.pid), "the API's body parser")
            workers = _spawn_workers(process.pid)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            _wait_for(lambda: _gone(workers), f"body parser(s) {workers} to exit")
