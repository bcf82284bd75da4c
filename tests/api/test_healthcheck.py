"""The container's health probe says why, in one line, and exits 0 only when healthy."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from api.healthcheck import main, probe
from tests.builders import ROOT


class _Health(BaseHTTPRequestHandler):
    status = 200
    body: bytes = b""

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture
def health_server() -> Iterator[tuple[str, type[_Health]]]:
    """A stand-in /health on a free loopback port, its answer set by the test."""
    handler = type("Handler", (_Health,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health", handler
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        url = f"http://127.0.0.1:{_closed_port()}/health"
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
        url = f"http://127.0.0.1:{_closed_port()}/health"
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
