"""The compose file's api and worker services, run as it runs them but without
Docker: the same commands and environment (secrets from files, a URL without a
password, LEDGER_API_PROJECTOR=false), probed by the same health checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders import CLI, ROOT, free_port, process_env, run_cli, run_process


def _service(name: str) -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    service = compose["services"][name]
    assert isinstance(service, dict)
    return service


# ``${NAME:-default}`` in a compose value: with NAME unset, compose reads the default
_DEFAULTED = re.compile(r"\$\{\w+:-([^}]*)\}")


def _environment(name: str, database_url: str, secrets: Path) -> dict[str, str]:
    """The service's environment as compose gives it with nothing set on the host
    (each ``${NAME:-default}`` its default), its database URL pointed at the
    test's schema (keeping the compose URL's libpq parameters), its secrets at
    ``secrets``."""
    env = {
        key: _DEFAULTED.sub(lambda found: found.group(1), str(value))
        for key, value in _service(name)["environment"].items()
    }
    query = env["LEDGER_DATABASE_URL"].partition("?")[2]
    env["LEDGER_DATABASE_URL"] = f"{database_url}&{query}"
    for key, path in env.items():
        if key.endswith("_FILE"):
            env[key] = str(secrets / Path(path).name)
    return process_env(**env)


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir()
    for name in ("postgres_password", "token_secret", "chain_key"):
        (folder / name).write_text(f"{name}-{os.urandom(16).hex()}\n", encoding="utf-8")
    return folder


def _probe(url: str) -> subprocess.CompletedProcess[str]:
    return run_process(
        [sys.executable, "-m", "api.healthcheck", url], env=dict(os.environ), timeout=60
    )


class TestComposeServicesWithoutDocker:
    def test_the_api_and_the_worker_come_up_healthy(
        self, pg_schema_url: str, secrets: Path
    ) -> None:
        """serve with its secrets from files answers the health probe; the worker's
        check passes; a SIGTERM (what init: true delivers) stops the worker."""
        port = free_port()
        api_env = _environment("api", pg_schema_url, secrets)
        worker_env = _environment("worker", pg_schema_url, secrets)
        command = _service("api")["command"]
        assert command[:2] == ["incentive-ledger", "serve"]
        api = subprocess.Popen(
            [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=api_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            url = f"http://127.0.0.1:{port}/health"
            for _ in range(600):
                assert api.poll() is None, api.stderr.read() if api.stderr else ""
                probed = _probe(url)
                if probed.returncode == 0:
                    break
                time.sleep(0.2)
            assert probed.returncode == 0, probed.stdout
            assert probed.stdout.startswith("healthy: 200 {")
            assert '"position"' in probed.stdout

            check = run_cli(*_service("worker")["healthcheck"]["test"][2:], env=worker_env)
            assert check.returncode == 0, check.stderr
            assert "projections at position" in check.stdout

            worker = subprocess.Popen(
                [CLI, *_service("worker")["command"][1:]],
                env=worker_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(1)
                assert worker.poll() is None, "project --follow should keep running"
                worker.terminate()
                assert worker.wait(timeout=60) != 0  # stopped by the signal, not exited
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
        finally:
            api.terminate()
            api.wait(timeout=60)
