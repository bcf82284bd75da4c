"""The container's health probe says why, in one line, and exits 0 only when healthy."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from api.healthcheck import main, probe
from tests.builders import ROOT, StandIn, free_port, serving


class _Health(StandIn):
    status = 200
    body: bytes = b""

    def do_GET(self) -> None:  # noqa: N802 (the handler method's own name)
        self.answer_json(self.status, self.body)


@pytest.fixture
def health_server() -> Iterator[tuple[str, type[_Health]]]:
    """A stand-in /health on a free loopback port, its answer set by the test."""
    with serving(_Health, "/health") as served:
        yield served


class TestProbe:
    def test_healthy_prints_the_answer(self, health_server: tuple[str, type[_Health]]) -> None:
        url, handler = health_server
        handler.body = json.dumps({"status": "ok", "position": 39, "projected": 39}).encode()
        healthy, line = probe(url)
        assert healthy
        assert line == 'healthy: 200 {"status": "ok", "position": 39, "projected": 39}'

    def test_an_error_status_is_unhealthy_with_its_answer(
        self, health_server: tuple[str, type[_Health]]
    ) -> None:
        """A 503 with the API's reason (e.g. the projector's error) is passed on."""
        url, handler = health_server
        handler.status = 503
        handler.body = b'{"error": "unavailable",\n "detail": "database unreachable"}'
        healthy, line = probe(url)
        assert not healthy
        assert line == (
            f'unhealthy: {url} answered 503: {{"error": "unavailable", '
            '"detail": "database unreachable"}'
        )

    def test_nothing_listening_is_unhealthy_and_says_so(self) -> None:
        url = f"http://127.0.0.1:{free_port()}/health"
        healthy, line = probe(url, timeout_s=2)
        assert not healthy
        assert line.startswith(f"unhealthy: {url} unreachable: ")
        assert "refused" in line.lower()

    def test_a_long_answer_is_cut(self, health_server: tuple[str, type[_Health]]) -> None:
        url, handler = health_server
        handler.body = b"x" * 10_000
        _, line = probe(url)
        assert len(line) < 2100

    def test_only_http_urls(self) -> None:
        healthy, line = probe("file:///etc/passwd")
        assert not healthy
        assert "not an http(s) URL" in line

    def test_main_exits_0_when_healthy_and_1_when_not(
        self, health_server: tuple[str, type[_Health]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        url, handler = health_server
        handler.body = b'{"status": "ok"}'
        assert main([url]) == 0
        handler.status = 500
        assert main([url]) == 1
        assert capsys.readouterr().out.splitlines() == [
            'healthy: 200 {"status": "ok"}',
            f'unhealthy: {url} answered 500: {{"status": "ok"}}',
        ]

    def test_as_the_container_runs_it(self) -> None:
        """`python -m api.healthcheck URL`, as the Dockerfile and compose file do."""
        url = f"http://127.0.0.1:{free_port()}/health"
        result = subprocess.run(
            [sys.executable, "-m", "api.healthcheck", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 1
        assert result.stdout.startswith(f"unhealthy: {url} unreachable")
        assert result.stderr == ""
