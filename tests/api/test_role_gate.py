"""SPEC §5 and §7 in their order: on every route that takes a token or a body,
a caller without a valid token gets 401 and a role that may not call the route
403 — before the body's size (413), content type (415), JSON (422) or
``Idempotency-Key`` (422) are looked at, and before a read's query and path
parameters (422) or ``Accept-Language`` (406) are, so a caller who may not use a
route learns nothing of what the route takes. Before: every write route but
``POST /events`` answered those to a rep or to no token at all, and ``POST
/events`` its 413 and its key's 422; every read with ``offset``/``limit``, a
statement's ``view``, a diff's ``from``/``to`` and ``Accept-Language`` answered
them to a role the route refuses (a rep on ``GET /payouts/runs?limit=0``: 422).
On both stores: the token is checked in the ledger's database."""

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
from api.deps import Caller
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
    # the GET routes that take a token: path, route name, their parameters
    read_routes: list[tuple[str, str, list[dict[str, Any]]]]

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
    reads = [
        (path, operation["operationId"], operation.get("parameters", []))
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if method == "get" and "security" in operation
    ]
    with TestClient(app) as client:
        yield Gated(client, ledger, tokens, routes, reads)


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


# Requests without a valid bearer token.
NO_VALID_TOKEN = pytest.mark.parametrize(
    "auth",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic Zm9vOmJhcg=="},
    ],
    ids=["none", "malformed", "not bearer"],
)


def _check_forbidden(response: Any, role: str, where: str) -> None:
    """The route's own 403 for ``role``."""
    assert response.status_code == 403, (where, response.text)
    assert response.json() == {
        "error": "forbidden",
        "detail": f"role {role} may not call this endpoint",
    }, where


def _check_unauthorized(response: Any, where: str) -> None:
    """The route's own 401: its body and ``WWW-Authenticate``."""
    assert response.status_code == 401, (where, response.text)
    assert response.json()["error"] == "unauthorized", where
    assert set(response.json()) == {"error", "detail"}, where
    assert response.headers["www-authenticate"] == "Bearer", where


def _check_logged_as_refused(gated: Gated, logs: list[Any], template: str) -> None:
    """One request line naming the rep and ``template`` with the 403, and the
    metrics counting it by that template, as they name a served request."""
    (line,) = [e for e in logs if e["event"] == "request"]
    assert (line["route"], line["status"], line["actor"], line["role"]) == (
        template,
        403,
        "rep-li",
        "rep",
    )
    metrics = gated.client.get("/metrics", headers=_bearer(gated.tokens["finance"])).text
    assert f'route="{template}",status="403"' in metrics


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
                    _check_forbidden(response, role, f"{method} {path} as {role}, {sent.label}")
            taker = min(allowed)
            for sent in BAD_BODIES:
                response = _send(gated, method, path, sent, _bearer(gated.tokens[taker]))
                where = f"{method} {path} as {taker}, {sent.label}"
                assert response.status_code == sent.status, (where, response.text)
        assert gated.head() == before

    @NO_VALID_TOKEN
    def test_no_valid_token_gets_401_whatever_it_sends(
        self, gated: Gated, auth: dict[str, str]
    ) -> None:
        before = gated.head()
        for method, path, _ in gated.write_routes:
            for sent in BAD_BODIES:
                response = _send(gated, method, path, sent, auth)
                _check_unauthorized(response, f"{method} {path}, {sent.label}")
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
        _check_logged_as_refused(gated, logs, "/disputes/{dispute_id}/resolution")


@dataclass(frozen=True)
class Ask:
    """A bad value of one parameter of a read, and what a role the route takes
    gets for it on the empty ledger: None where that depends on the resource
    (an unknown rep, run or event: 404, or the period a rep's own statement
    checks first) rather than on the value alone."""

    value: str
    taker_status: int | None


# Every query and path parameter of every read, by name (a new one fails
# `test_every_parameter_of_a_read_has_a_bad_value`), and ``Accept-Language``.
BAD_VALUES = {
    "period": Ask("2026-Q9", None),
    "as_of": Ask("yesterday", None),
    "view": Ask("bogus", 422),
    "offset": Ask("-1", 422),
    "limit": Ask("0", 422),
    "status": Ask("weird", 422),
    "severity": Ask("huge", 422),
    "from": Ask("x", 422),
    "to": Ask("y", 422),
    "anchor": Ask("zz", 422),
    "encoding": Ask("latin-1", 422),
    "team": Ask("", None),  # any team: none of that name is an empty list
    "rep_id": Ask("no rep", None),
    "run_id": Ask("no run", None),
    "event_id": Ask("no event", None),
    "accept-language": Ask("fr", 406),
}
# Headers a read takes any value of (the others: `BAD_VALUES`).
_ANY_HEADER = frozenset({"if-none-match"})


@dataclass(frozen=True)
class Asking:
    """One parameter of a read (``where``: query, path or header) and its bad value."""

    name: str
    where: str
    bad: Ask


def _asks(parameters: list[dict[str, Any]]) -> Iterator[Asking]:
    """A read's parameters, each with its bad value."""
    for parameter in parameters:
        name, where = parameter["name"].lower(), parameter["in"]
        if where == "header" and name in _ANY_HEADER:
            continue
        yield Asking(name, where, BAD_VALUES[name])


def _ask(gated: Gated, path: str, asking: Asking, auth: dict[str, str]) -> Any:
    """GET ``path`` with the parameter ``asking`` names bad."""
    name, where, bad = asking.name, asking.where, asking.bad
    if where == "path":
        return gated.client.get(_url(path.replace(f"{{{name}}}", bad.value)), headers=auth)
    if where == "header":
        return gated.client.get(_url(path), headers={**auth, name: bad.value})
    return gated.client.get(_url(path), params={name: bad.value}, headers=auth)


class TestRoleBeforeParameters:
    def test_the_reads_are_the_routes_that_take_a_token_and_no_body(self, gated: Gated) -> None:
        """Every GET route but ``/health`` takes a token; each has its roles in
        ROUTE_ROLES, and the gate answers for all of them (``/metrics`` too,
        unless it is public) and for the write routes."""
        assert {path for path, _, _ in gated.read_routes} == {
            "/events/{event_id}",
            "/reps/{rep_id}/statements/{period}",
            "/reps/{rep_id}/statements/{period}/diff",
            "/reps/{rep_id}/statements/{period}/bundle",
            "/reps/{rep_id}/history",
            "/reps/{rep_id}/disputes",
            "/payouts/runs/{run_id}/export.csv",
            "/payouts/runs/{run_id}/export.xlsx",
            "/payouts/runs",
            "/payouts/runs/{run_id}",
            "/disputes",
            "/audit/verify",
            "/reps",
            "/periods/{period}/summary",
            "/approvals/pending",
            "/cases",
            "/metrics",
        }
        assert all(name in ROUTE_ROLES for _, name, _ in gated.read_routes)
        app = gated.client.app
        assert isinstance(app, FastAPI)
        answered = {(r.method, r.path) for r in _gated_routes(app)}
        reads = {("GET", path) for path, _, _ in gated.read_routes}
        assert answered == reads | {(m, p) for m, p, _ in gated.write_routes}
        public = _gated_routes(app, public=frozenset({"get_metrics"}))
        assert ("GET", "/metrics") not in {(r.method, r.path) for r in public}

    def test_every_parameter_of_a_read_has_a_bad_value(self, gated: Gated) -> None:
        """The tests below send each parameter a bad value: a parameter added
        to a read must be given one here."""
        for path, _, parameters in gated.read_routes:
            named = {p["name"].lower() for p in parameters} - _ANY_HEADER
            assert named <= set(BAD_VALUES), (path, named - set(BAD_VALUES))

    def test_a_refused_role_gets_403_whatever_it_asks(self, gated: Gated) -> None:
        """Every read, every role it refuses, a bad value of each of its
        parameters: 403 with the route's own body, never the 422 (or 406)
        that describes the parameter; a role it takes still gets that."""
        for path, name, parameters in gated.read_routes:
            allowed = ROUTE_ROLES[name]
            refused = [role for role in ROLES if role not in allowed]
            assert refused, name
            # and with no parameter at all
            for asking in [*_asks(parameters), Asking("none", "query", Ask("", None))]:
                bad = asking.bad
                for role in refused:
                    response = _ask(gated, path, asking, _bearer(gated.tokens[role]))
                    _check_forbidden(response, role, f"GET {path} as {role}, {asking.name}")
                if bad.taker_status is None:
                    continue
                for role in allowed:
                    response = _ask(gated, path, asking, _bearer(gated.tokens[role]))
                    at = f"GET {path} as {role}, {asking.name}={bad.value!r}"
                    assert response.status_code == bad.taker_status, (at, response.text)

    @NO_VALID_TOKEN
    def test_no_valid_token_gets_401_whatever_it_asks(
        self, gated: Gated, auth: dict[str, str]
    ) -> None:
        for path, _, parameters in gated.read_routes:
            for asking in _asks(parameters):
                response = _ask(gated, path, asking, auth)
                _check_unauthorized(response, f"GET {path}, {asking.name}")

    def test_a_refusal_is_logged_and_counted_by_its_route(self, gated: Gated) -> None:
        """A rep asking for the payout runs with a bad page: the 403's log line
        names the caller and the route template, as a served read's does."""
        with capture_logs() as logs:
            response = gated.client.get(
                "/payouts/runs", params={"limit": "0"}, headers=_bearer(gated.tokens["rep"])
            )
        assert response.status_code == 403
        _check_logged_as_refused(gated, logs, "/payouts/runs")


def test_a_read_without_roles_is_refused_at_start() -> None:
    """A GET route that takes a token but names no roles would be answered
    (its parameters checked) before its own role check: the app refuses to
    start with it. One that takes no token (``/health``) is not gated."""
    app = FastAPI(generate_unique_id_function=operation_id)

    @app.get("/open")
    def get_open(limit: int = 0) -> None: ...

    assert _gated_routes(app) == []

    @app.get("/unlisted")
    def get_unlisted(_: Caller) -> None: ...

    with pytest.raises(RuntimeError, match=r"GET /unlisted \(get_unlisted\) has no roles"):
        _gated_routes(app)


def test_a_write_route_without_roles_is_refused_at_start() -> None:
    """A route that takes a body but names no roles would be served to anyone:
    the app refuses to start with it."""
    app = FastAPI(generate_unique_id_function=operation_id)

    @app.post("/unlisted")
    def post_unlisted() -> None: ...

    with pytest.raises(RuntimeError, match=r"POST /unlisted \(post_unlisted\) has no roles"):
        _gated_routes(app)


def test_a_token_is_checked_once_a_request(gated: Gated, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate checks the token, and the route reads what the gate found for
    this request's token instead of checking it again (a read and a write)."""
    checked: list[str] = []
    real = TokenStore.check

    def counted(self: TokenStore, token: str) -> Any:
        checked.append(token)
        return real(self, token)

    monkeypatch.setattr(TokenStore, "check", counted)
    finance = _bearer(gated.tokens["finance"])
    assert gated.client.get("/payouts/runs", headers=finance).status_code == 200
    assert checked == [gated.tokens["finance"]]
    checked.clear()
    ran = gated.client.post("/payouts/2026-Q3/runs", headers=finance)
    assert ran.status_code == 422, ran.text  # it ran: nobody to pay in an empty ledger
    assert checked == [gated.tokens["finance"]]
