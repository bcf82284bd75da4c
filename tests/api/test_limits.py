"""Limits at the edge (SPEC §7): 413 over the body size or event count, 415 for a
body that is not JSON, 422 for JSON nested deeper than 32 levels — each with
nothing stored; and an unexpected error is a JSON 500 with the request id."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from api import body_parser
from api.app import create_app
from api.limits import BodyLimit
from api.settings import Settings
from tests.api.conftest import SECRET, Api, demo_sale

JSON = {"Content-Type": "application/json"}


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def small(api: Api) -> Iterator[Api]:
    """The same ledger behind an app with small limits (4 KiB, 5 events)."""
    settings = Settings(
        database_url="sqlite:///:memory:",
        token_secret=SECRET,  # type: ignore[arg-type]
        max_body_bytes=4096,
        max_events=5,
        log_json=True,
    )
    app = create_app(settings, ledger=api.ledger)
    with TestClient(app) as client:
        yield Api(client, api.ledger, api.tokens, api.demo)


class TestBodySize:
    def test_a_declared_length_over_the_limit_is_refused_unread(self, small: Api) -> None:
        before = small.head()
        body = json.dumps([demo_sale(f"S-BIG-{i}") for i in range(40)])
        assert len(body) > 4096
        response = small.client.post(
            "/events", content=body, headers={**small.as_("integration"), **JSON}
        )
        assert response.status_code == 413
        assert response.json()["error"] == "too_large"
        assert "4096" in response.json()["detail"]
        assert small.head() == before

    def test_a_chunked_body_is_counted_as_it_arrives(self, small: Api) -> None:
        before = small.head()

        def chunks() -> Iterator[bytes]:
            yield b"["
            for i in range(40):
                yield json.dumps(demo_sale(f"S-CH-{i}")).encode() + b","
            yield b"{}]"

        response = small.client.post(
            "/events", content=chunks(), headers={**small.as_("integration"), **JSON}
        )
        assert response.status_code == 413
        assert small.head() == before

    @pytest.mark.parametrize("path", ["/approvals", "/disputes", "/disputes/DSP-1/resolution"])
    def test_every_json_route_has_the_limit(self, small: Api, path: str) -> None:
        body = json.dumps({"subject_id": "x", "decision": "grant", "note": "n" * 5000})
        response = small.client.post(path, content=body, headers={**small.as_("finance"), **JSON})
        assert response.status_code == 413

    def test_the_middleware_stops_reading_at_the_limit(self) -> None:
        """A chunked body is never buffered past the limit: the middleware stops
        asking for more once the count passes it."""
        received: list[int] = []
        answered: list[dict[str, Any]] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            while (await receive())["more_body"]:
                pass

        async def receive() -> dict[str, Any]:
            received.append(1)
            return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

        async def send(message: dict[str, Any]) -> None:
            answered.append(message)

        scope = {"type": "http", "method": "POST", "headers": [], "path": "/events"}
        asyncio.run(BodyLimit(app, max_bytes=10_000)(scope, receive, send))
        assert len(received) == 11  # 11,000 bytes: one message past the limit, no more
        assert answered[0]["status"] == 413

    def test_under_the_limit_is_served(self, small: Api) -> None:
        body = json.dumps([demo_sale("S-SMALL-1")])
        response = small.client.post(
            "/events", content=body, headers={**small.as_("integration"), **JSON}
        )
        assert response.status_code == 201, response.text


class TestEventCount:
    def test_more_events_than_the_limit_is_413(self, small: Api) -> None:
        before = small.head()
        body = json.dumps([demo_sale(f"S-N-{i}") for i in range(6)]).replace(" ", "")
        response = small.client.post(
            "/events", content=body, headers={**small.as_("integration"), **JSON}
        )
        assert response.status_code == 413, response.text
        assert "at most 5" in response.json()["detail"]
        assert small.head() == before
        exactly = json.dumps([demo_sale(f"S-N-{i}") for i in range(5)])
        response = small.client.post(
            "/events", content=exactly, headers={**small.as_("integration"), **JSON}
        )
        assert response.status_code == 201

    @pytest.mark.parametrize("large", [False, True])
    def test_ten_thousand_and_one_events_by_default(self, api: Api, large: bool) -> None:
        """The default limit, in the API process (a small body of empty objects)
        and in the parse worker (a body of real sales)."""
        before = api.head()
        items = [demo_sale(f"S-M-{i}") for i in range(10_001)] if large else [{}] * 10_001
        body = json.dumps(items, separators=(",", ":")).encode()
        response = api.client.post(
            "/events", content=body, headers={**api.as_("integration"), **JSON}
        )
        assert response.status_code == 413, response.text
        assert "10001 events" in response.json()["detail"]
        assert api.head() == before


class TestDepth:
    @pytest.mark.parametrize("depth", [33, 1_000, 100_000])
    def test_deep_json_on_post_events_is_422(self, api: Api, depth: int) -> None:
        """1,000-deep JSON was a 500 (the decoder recursed past the interpreter's limit)."""
        before = api.head()
        body = json.dumps({**demo_sale("S-D"), "category": "x"}).replace('"x"', _deep(depth))
        response = api.client.post(
            "/events", content=body, headers={**api.as_("integration"), **JSON}
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == "JSON nested deeper than 32 levels"
        assert response.json()["field"] == "body"
        assert api.head() == before

    def test_deep_json_in_a_large_body_is_refused_by_the_worker(self, api: Api) -> None:
        before = api.head()
        items = [demo_sale(f"S-W-{i}") for i in range(400)]
        body = json.dumps([*items, json.loads(_deep(40))]).encode()
        response = api.client.post(
            "/events", content=body, headers={**api.as_("integration"), **JSON}
        )
        assert response.status_code == 422, response.text
        assert "deeper than 32" in response.json()["detail"]
        assert api.client.app.state.body_parser._pool is not None  # type: ignore[attr-defined]
        assert api.head() == before

    def test_thirty_two_levels_are_parsed_as_usual(self, api: Api) -> None:
        body = json.dumps({**demo_sale("S-D32"), "category": "x"}).replace('"x"', _deep(31))
        response = api.client.post(
            "/events", content=body, headers={**api.as_("integration"), **JSON}
        )
        assert response.status_code == 422
        assert "deeper" not in response.json()["detail"]  # refused for its type, not depth

    @pytest.mark.parametrize(
        ("path", "role"),
        [
            ("/approvals", "finance"),
            ("/disputes", "rep"),
            ("/disputes/DSP-1/resolution", "finance"),
        ],
    )
    @pytest.mark.parametrize("depth", [33, 1_000, 100_000])
    def test_deep_json_on_model_routes_is_422(
        self, api: Api, path: str, role: str, depth: int
    ) -> None:
        before = api.head()
        body = '{"note": ' + _deep(depth) + "}"
        response = api.client.post(path, content=body, headers={**api.as_(role), **JSON})
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == "JSON nested deeper than 32 levels"
        assert api.head() == before


class TestContentType:
    @pytest.mark.parametrize(
        ("path", "role", "body"),
        [
            ("/events", "integration", demo_sale("S-CT")),
            ("/approvals", "finance", {"subject_id": "x", "decision": "grant"}),
            ("/disputes", "rep", {"run_id": "x", "message": "m"}),
            ("/disputes/DSP-1/resolution", "finance", {"outcome": "rejected", "note": "n"}),
        ],
    )
    @pytest.mark.parametrize(
        "content_type",
        ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", None],
    )
    def test_another_type_is_415(
        self, api: Api, path: str, role: str, body: dict[str, Any], content_type: str | None
    ) -> None:
        before = api.head()
        headers = api.as_(role)
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = api.client.post(path, content=json.dumps(body), headers=headers)
        assert response.status_code == 415, response.text
        assert response.json()["error"] == "unsupported_media_type"
        assert api.head() == before

    @pytest.mark.parametrize(
        ("body", "content_type", "status"),
        [
            (b"pay it", "text/plain", 415),
            (b"{not json", "application/json", 422),
            (b"[" * 40 + b"]" * 40, "application/json", 422),
        ],
    )
    @pytest.mark.parametrize("route", ["run", "pay"])
    def test_a_body_sent_to_a_route_that_takes_none_is_still_held_to_json(
        self, api: Api, route: str, body: bytes, content_type: str, status: int
    ) -> None:
        """SPEC §7: POST /payouts/{period}/runs and .../pay take no body; one sent
        anyway was ignored whatever it was (a text/plain body created a run)."""
        before = api.head()
        path = "/payouts/2026-Q4/runs" if route == "run" else f"/payouts/runs/{api.demo.run_id}/pay"
        headers = {**api.as_("finance"), "Content-Type": content_type}
        response = api.client.post(path, content=body, headers=headers)
        assert response.status_code == status, response.text
        assert api.head() == before
        empty = api.client.post("/payouts/2026-Q4/runs", json={}, headers=api.as_("finance"))
        assert empty.status_code == 201, empty.text  # JSON (or nothing) is still taken

    @pytest.mark.parametrize(
        "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
    )
    def test_json_with_a_charset_is_taken(self, api: Api, content_type: str) -> None:
        response = api.client.post(
            "/events",
            content=json.dumps(demo_sale(f"S-CS-{len(content_type)}")),
            headers={**api.as_("integration"), "Content-Type": content_type},
        )
        assert response.status_code == 201, response.text


class TestUnexpectedErrors:
    def test_a_bug_is_a_json_500_with_the_request_id_and_one_log_line(
        self, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(rep_id: str) -> Any:
            raise ZeroDivisionError("a bug")

        monkeypatch.setattr(api.client.app.state.reports, "history", broken)  # type: ignore[attr-defined]
        with capture_logs() as logs:
            response = api.client.get(
                "/reps/rep-li/history", headers={**api.as_("compliance"), "X-Request-ID": "req-500"}
            )
        assert response.status_code == 500
        assert response.json() == {
            "error": "internal",
            "detail": "an unexpected error; see the server log for request req-500",
            "request_id": "req-500",
        }
        assert response.headers["x-request-id"] == "req-500"
        errors = [e for e in logs if e["event"] == "unhandled error"]
        assert len(errors) == 1
        assert errors[0]["error_type"] == "ZeroDivisionError"
        assert errors[0]["exc_info"] is not None
        assert "a bug" not in response.text

    @pytest.mark.parametrize(
        "given",
        [
            "x" * 200,  # a log line and an error body per request, at the caller's length
            "finance",  # that holder's token, pasted into the wrong header
            'req"1',
        ],
    )
    def test_a_request_id_that_is_no_id_is_replaced(self, api: Api, given: str) -> None:
        """A caller's ``X-Request-ID`` is kept when it looks like one (letters,
        digits, ``._:-``, at most 128); any other text is not written into the
        logs and answers (SPEC §7: logs never contain tokens) — the request gets
        an id of the server's own, as one without the header does."""
        given = api.tokens.get(given, given)
        with capture_logs() as logs:
            response = api.client.get(
                "/reps/rep-li/history", headers={**api.as_("compliance"), "X-Request-ID": given}
            )
        assert response.status_code == 200
        assert response.headers["x-request-id"] != given
        assert given not in json.dumps(logs)


class TestMalformedBodies:
    @pytest.mark.parametrize("path", ["/approvals", "/disputes", "/disputes/DSP-1/resolution"])
    def test_a_body_that_is_not_utf8_is_422_naming_the_body(self, api: Api, path: str) -> None:
        """It was FastAPI's bare 400 "There was an error parsing the body"."""
        response = api.client.post(
            path, content=b'{"note": "\xff"}', headers={**api.as_("finance"), **JSON}
        )
        assert response.status_code == 422
        assert response.json()["field"] == "body"
        assert "not UTF-8" in response.json()["detail"]

    def test_an_event_that_is_not_utf8_is_422_saying_so(self, api: Api) -> None:
        """``POST /events`` too (its body is parsed by the ledger, not FastAPI): a
        Latin-1 body is refused saying it must be UTF-8, and records nothing."""
        head = api.ledger.head()
        sale = json.dumps(demo_sale("S-LATIN1", category="café"), ensure_ascii=False)
        response = api.client.post(
            "/events", content=sale.encode("latin-1"), headers={**api.as_("integration"), **JSON}
        )
        assert response.status_code == 422, response.text
        assert "must be UTF-8" in response.json()["errors"][0]["reason"]
        assert api.ledger.head() == head

    def test_a_key_given_twice_is_422_naming_it_and_records_nothing(self, api: Api) -> None:
        """JSON leaves a repeated key's meaning open; FastAPI and orjson both took
        the last silently (an approval of another subject, a sale at 5.00)."""
        head = api.ledger.head()
        approval = b'{"subject_id": "ADJ-301", "decision": "grant", "subject_id": "T-X"}'
        response = api.client.post(
            "/approvals", content=approval, headers={**api.as_("finance2"), **JSON}
        )
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "subject_id"
        assert "appears twice" in response.json()["detail"]
        sale = (
            b'{"type": "SaleRecorded", "occurred_at": "2026-09-01T10:00:00+08:00", '
            b'"sale_id": "S-TWICE", "rep_id": "rep-li", "amount": "100.00", '
            b'"currency": "CNY", "amount": "5.00"}'
        )
        recorded = api.client.post(
            "/events", content=sale, headers={**api.as_("integration"), **JSON}
        )
        assert recorded.status_code == 422, recorded.text
        assert recorded.json()["errors"][0]["field"] == "amount"
        assert api.ledger.head() == head

    def test_malformed_json_names_the_body(self, api: Api) -> None:
        response = api.client.post(
            "/approvals", content=b'{"subject_id": ', headers={**api.as_("finance"), **JSON}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body"
        assert "malformed JSON" in response.json()["detail"]


class TestBodyParserWorker:
    """`LEDGER_PARSE_WORKERS` unset: a worker only when a second core is usable (a
    container held to one CPU must not start a process that competes with the
    API for it); the inputs are the same wherever the body is parsed."""

    @pytest.mark.parametrize(("cores", "worker"), [(1, False), (2, True)])
    def test_by_default_a_worker_only_when_a_second_core_is_usable(
        self, monkeypatch: pytest.MonkeyPatch, cores: int, *, worker: bool
    ) -> None:
        monkeypatch.setattr(body_parser, "usable_cores", lambda: cores)
        parser = body_parser.BodyParser()
        body = json.dumps([demo_sale(f"S-C-{i}") for i in range(400)]).encode()
        assert len(body) >= body_parser.LARGE_BODY_BYTES
        try:
            inputs, errors = asyncio.run(parser.parse(body, "integration"))
            assert (parser._pool is not None) is worker
        finally:
            parser.close()
        here, here_errors = body_parser.parse_body(body, "integration")
        assert errors == here_errors == []
        assert inputs == here
        assert len(inputs) == 400
