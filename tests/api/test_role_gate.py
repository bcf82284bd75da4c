"""SPEC §5 and §7 in their order: on every route that takes a body, a caller
without a valid token gets 401 and a role that may not call the route 403 —
before the body's size (413), content type (415), JSON (422) or
``Idempotency-Key`` (422) are looked at, so a caller who may not write learns
nothing of what the route takes. Before: every write route but ``POST
/events`` answered those to a rep or to no token at all, and ``POST /events``
its 413 and its key's 422. On both stores: the token is checked in the
ledger's database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from api.app import _gated_routes, create_app, operation_id
from api.auth import ROUTE_ROLES
from api.idempotency import RECORDING_ROUTES
from api.settings import Settings
from api.tokens import ROLES, TokenStore
from ledger.application import Ledger
from tests.api.conftest import HOLDERS, SECRET

MAX_BODY_BYTES = 2048
# One holder of each role (`tests.api.conftest.HOLDERS`).
HOLDER_OF: dict[str, str] = {}
for _name, (_, _role, _) in HOLDERS.items():
    HOLDER_OF.setdefault(_role, _name)


@dataclass(frozen=True)
class Send:
    """A request body a route would refuse — from a caller allowed to call it,
    with ``status``."""

    label: str
    body: bytes | Callable[[], Iterator[bytes]]
    headers: dict[str, str]
    status: int


_JSON = {"Content-Type": "application/json"}


def _chunked() -> Iterator[bytes]:
    """A body without a declared length, over the limit."""
    for _ in range(4):
        yield b" " * MAX_BODY_BYTES


BAD_BODIES = [
    Send("text", b"pay it", {"Content-Type": "text/plain"}, 415),
    Send("no content type", b"{}", {}, 415),
    Send("form", b"a=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    Send("malformed JSON", b"{not json", _JSON, 422),
    Send("nested too deep", b"[" * 40 + b"]" * 40, _JSON, 422),
    Send("a key twice", b'{"note": "a", "note": "b"}', _JSON, 422),
    Send("not UTF-8", b'{"note": "\xff"}', _JSON, 422),
    Send("bad Idempotency-Key", b"{}", {**_JSON, "Idempotency-Key": "a\x7fb"}, 422),
    Send("declared over the limit", b"[" + b"1," * MAX_BODY_BYTES + b"1]", _JSON, 413),
    Send("chunked over the limit", _chunked, _JSON, 413),
]


@dataclass(frozen=True)
class Gated:
    client: TestClient
    ledger: Ledger
    tokens: dict[str, str]
    write_routes: list[tuple[str, str, str]]  # method, path, route name

    def head(self) -> int:
        head = self.ledger.head()
        return head.position if head else 0


@pytest.fixture
def gated(ledger: Ledger, db_url: str) -> Iterator[Gated]:
    """An app over an empty ledger on each store, small body limit, a token
    for one holder of each role."""
    settings = Settings(
        database_url=db_url,
        token_secret=SECRET,  # type: ignore[arg-type]
        max_body_bytes=MAX_BODY_BYTES,
        log_json=True,
        parse_workers=1,
    )
    app = create_app(settings, ledger=ledger)
    store = TokenStore(ledger, SECRET)
    tokens = {}
    for role, name in HOLDER_OF.items():
        actor, _, rep_id = HOLDERS[name]
        tokens[role] = store.create(actor=actor, role=role, rep_id=rep_id)[0]
    routes = [
        (method.upper(), path, operation["operationId"])
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if method in {"post", "put", "patch"}
    ]
    with TestClient(app) as client:
        yield Gated(client, ledger, tokens, routes)


def _url(path: str) -> str:
    return (
        path.replace("{period}", "2026-Q4")
        .replace("{run_id}", "RUN-2026-Q4-1")
        .replace("{dispute_id}", "DSP-1")
        .replace("{rep_id}", "rep-li")
    )


def _send(gated: Gated, method: str, path: str, sent: Send, auth: dict[str, str]) -> Any:
    body = sent.body() if callable(sent.body) else sent.body
    return gated.client.request(method, _url(path), content=body, headers={**sent.headers, **auth})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestRoleBeforeBody:
    def test_the_write_routes_are_the_ones_the_spec_names(self, gated: Gated) -> None:
        """The routes below are every route that takes a body (a new one is
        gated too: it must have its roles in ROUTE_ROLES, `_gated_routes`)."""
        # those that record events, and the two that compute without recording
        computing = {("POST", "/whatif"), ("POST", "/reps/{rep_id}/estimate")}
        assert {(m, p) for m, p, _ in gated.write_routes} == {*RECORDING_ROUTES, *computing}
        assert all(name in ROUTE_ROLES for _, _, name in gated.write_routes)

    def test_a_refused_role_gets_403_whatever_it_sends(self, gated: Gated) -> None:
        """Every write route, every role it refuses, every kind of bad body:
        403 with the route's own body, nothing stored; a role it takes still
        gets the body's error (the limits stand for those who may write)."""
        before = gated.head()
        for method, path, name in gated.write_routes:
            allowed = ROUTE_ROLES[name]
            refused = [role for role in ROLES if role not in allowed]
            assert refused, name
            for role in refused:
                for sent in BAD_BODIES:
                    response = _send(gated, method, path, sent, _bearer(gated.tokens[role]))
                    where = f"{method} {path} as {role}, {sent.label}"
                    assert response.status_code == 403, (where, response.text)
                    assert response.json() == {
                        "error": "forbidden",
                        "detail": f"role {role} may not call this endpoint",
                    }, where
            taker = min(allowed)
            for sent in BAD_BODIES:
                response = _send(gated, method, path, sent, _bearer(gated.tokens[taker]))
                where = f"{method} {path} as {taker}, {sent.label}"
                assert response.status_code == sent.status, (where, response.text)
        assert gated.head() == before

    @pytest.mark.parametrize(
        "auth",
        [
            {},
            {"Authorization": "Bearer not-a-token"},
            {"Authorization": "Basic Zm9vOmJhcg=="},
        ],
        ids=["none", "malformed", "not bearer"],
    )
    def test_no_valid_token_gets_401_whatever_it_sends(
        self, gated: Gated, auth: dict[str, str]
    ) -> None:
        before = gated.head()
        for method, path, _ in gated.write_routes:
            for sent in BAD_BODIES:
                response = _send(gated, method, path, sent, auth)
                where = f"{method} {path}, {sent.label}"
                assert response.status_code == 401, (where, response.text)
                assert response.json()["error"] == "unauthorized", where
                assert set(response.json()) == {"error", "detail"}, where
                assert response.headers["www-authenticate"] == "Bearer", where
        assert gated.head() == before

    def test_a_refusal_is_logged_and_counted_by_its_route(self, gated: Gated) -> None:
        """The request log names the caller and the route template of a 403
        answered before the body, as of one the route answered."""
        with capture_logs() as logs:
            response = gated.client.post(
                "/disputes/DSP-9/resolution",
                content=b"x",
                headers={"Content-Type": "text/plain", **_bearer(gated.tokens["rep"])},
            )
        assert response.status_code == 403
        (line,) = [e for e in logs if e["event"] == "request"]
        assert (line["route"], line["status"], line["actor"], line["role"]) == (
            "/disputes/{dispute_id}/resolution",
            403,
            "rep-li",
            "rep",
        )
        metrics = gated.client.get("/metrics", headers=_bearer(gated.tokens["finance"])).text
        assert 'route="/disputes/{dispute_id}/resolution"' in metrics


def test_a_write_route_without_roles_is_refused_at_start() -> None:
    """A route that takes a body but names no roles would be served to anyone:
    the app refuses to start with it."""
    app = FastAPI(generate_unique_id_function=operation_id)

    @app.post("/unlisted")
    def post_unlisted() -> None: ...

    with pytest.raises(RuntimeError, match=r"POST /unlisted \(post_unlisted\) has no roles"):
        _gated_routes(app)
