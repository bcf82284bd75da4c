"""`incentive-ledger serve` in a subprocess: one process, and several (`--workers`)
beside a separate projection worker, as docker-compose runs them."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ledger.application import Ledger
from tests.builders import CLI, free_port, process_env, wait_healthy

SECRET = "e2e-token-secret-0123456789abcdef"


def _env(**extra: str) -> dict[str, str]:
    return process_env(LEDGER_TOKEN_SECRET=SECRET, LEDGER_LOG_LEVEL="WARNING", **extra)


@contextmanager
def _running(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [CLI, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _token(url: str) -> str:
    """An admin token (admins enrol reps), after publishing the sample plan."""
    plan = Path(__file__).resolve().parents[2] / "samples" / "field-sales.toml"
    subprocess.run(
        [CLI, "plan", "publish", str(plan), "--db", url],
        env=_env(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    result = subprocess.run(
        [CLI, "token", "create", "--actor", "hr-admin", "--role", "admin", "--db", url],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return next(word for word in result.stdout.split() if word.startswith("il1."))


def _enrol_and_read(base: str, token: str, url: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    enrol = {
        "type": "RepEnrolled",
        "occurred_at": "2026-06-01T09:00:00+08:00",
        "rep_id": "rep-e2e",
        "name": "E2E",
        "plan_id": "field-sales",
    }
    for _ in range(3):  # spread over the workers
        response = httpx.post(f"{base}/events", json=enrol, headers=headers, timeout=30)
        assert response.status_code == 201, response.text
    ledger = Ledger(url)
    try:
        stored = [r for r in ledger.iter_log() if r.type == "RepEnrolled"]
    finally:
        ledger.close()
    assert len(stored) == 1, "a re-sent event is stored once"


def test_serve_one_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    port = free_port()
    with _running(["serve", "--db", url, "--port", str(port)], _env()) as server:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, server)
        _enrol_and_read(base, _token(url), url)


def test_serve_several_workers_beside_a_projection_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    port = free_port()
    env = _env(LEDGER_API_PROJECTOR="false")
    args = ["serve", "--db", url, "--port", str(port), "--workers", "2"]
    with _running(args, env) as server, _running(["project", "--follow", "--db", url], env):
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, server)
        _enrol_and_read(base, _token(url), url)
        for _ in range(100):
            health = httpx.get(f"{base}/health", timeout=5).json()
            if health["projected"] == health["position"]:
                break
            time.sleep(0.1)
        assert health["projected"] == health["position"], "the worker projects"


def test_several_workers_need_a_separate_projector(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = subprocess.run(
        [CLI, "serve", "--db", url, "--port", str(free_port()), "--workers", "2"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "LEDGER_API_PROJECTOR=false" in result.stderr
