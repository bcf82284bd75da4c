"""The FastAPI application (SPEC §5): `create_app(settings)`.

Handlers are a few lines each — schema in, one service call, schema out; the
role policy lives in `api.auth`, every error handler in `api.errors`.
"""

from __future__ import annotations

import gc
import itertools
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import orjson
import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import ROUTE_ROLES
from api.body_parser import BodyParser
from api.errors import install_error_handlers, unexpected_body
from api.gate import BODY_METHODS, GatedRoute, RoleGate
from api.idempotency import KEY_HEADER, RECORDING_ROUTES, Idempotency, IdempotencyStore
from api.limits import BodyLimit, JsonBody
from api.logging import configure_logging, ledger_notices
from api.metrics import Metrics, MetricsMiddleware
from api.pages import install_pages
from api.routes import (
    approvals,
    audit,
    disputes,
    events,
    metrics,
    modelling,
    payouts,
    queues,
    statements,
)
from api.settings import ConfigurationError, Settings, get_settings
from api.tokens import TokenStore
from ledger.application import Ledger
from ledger.ingestion.group_commit import GroupCommitter
from projections.service import Reports

__all__ = ["create_app"]

log = structlog.get_logger("api")


def _require_secret(settings: Settings) -> str:
    if settings.token_secret is None:
        msg = "LEDGER_TOKEN_SECRET: set it (at least 16 random characters) to serve the API"
        raise ConfigurationError(msg)
    return settings.token_secret.get_secret_value()


def tune_collector() -> None:
    """For a serving process: what the app holds once made is long-lived, so it is
    moved out of the collector's way (`gc.freeze`), and the young generation is
    collected less often (each request allocates a lot; measured: single-event
    POST p99 60 -> 30 ms)."""
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def app_from_environment() -> FastAPI:
    """The app of one `serve --workers N` process (uvicorn's factory), from the
    environment's settings; a configuration error ends the process with one line."""
    try:
        app = create_app(get_settings())
    except ConfigurationError as exc:
        problem = str(exc)
    else:
        tune_collector()
        return app
    log.error("configuration error", reason=problem)  # one line, no traceback
    raise SystemExit(2)


def create_app(
    settings: Settings, *, ledger: Ledger | None = None, today: Callable[[], date] | None = None
) -> FastAPI:
    """The API over the ledger the settings name (or the one given, for tests);
    ``today``: the clock of the day a request is asked on (`Reports.today`: the
    UTC date unless one is given, as tests do)."""
    configure_logging(level=settings.log_level, json=settings.log_json)
    secret = _require_secret(settings)
    own = ledger is None
    the_ledger = ledger or Ledger(settings.database_url, chain_key=settings.chain_key_text())
    the_ledger.notice = ledger_notices()

    reports = Reports(
        the_ledger,
        projections="background" if settings.api_projector else "external",
        today=today,
    )

    committer = GroupCommitter(the_ledger)
    body_parser = BodyParser(workers=settings.parse_workers, max_events=settings.max_events)

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        if settings.api_projector:
            reports.start_following()
        yield
        stopped = reports.stop_following()
        stopped = committer.close() and stopped
        body_parser.close()
        # Whether the store may be closed now (by whoever gave the ledger, too):
        # closing a connection a thread still reads on can crash the process.
        served.state.stopped_cleanly = stopped
        if not stopped:
            log.error("shutdown: a writer or the projector was still at work; store left open")
        elif own:
            the_ledger.close()

    app = FastAPI(
        title="Incentive ledger",
        version="0.1.0",
        description="An event-sourced incentive ledger that explains every number.",
        lifespan=lifespan,
        docs_url=None,  # served by api.pages from the vendored Swagger UI (no CDN)
        redoc_url=None,  # FastAPI's ReDoc page loads its script and fonts from CDNs
        generate_unique_id_function=operation_id,
    )
    app.state.ledger = the_ledger
    app.state.reports = reports
    app.state.committer = committer
    app.state.body_parser = body_parser
    app.state.tokens = TokenStore(the_ledger, secret)
    app.state.metrics = Metrics(the_ledger, reports)
    app.state.metrics_public = settings.metrics_public
    install_error_handlers(app)
    for module in (
        events,
        statements,
        payouts,
        approvals,
        disputes,
        audit,
        queues,
        metrics,
        modelling,
    ):
        app.include_router(module.router)
    # the web pages under /app (SPEC §5.1) and /docs
    install_pages(app, secret, secure_cookies=settings.secure_cookies)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    with_body, without_body = _json_body_routes(app)
    app.add_middleware(JsonBody, routes=with_body, bodiless=without_body)
    app.add_middleware(Idempotency, store=IdempotencyStore(the_ledger), tokens=app.state.tokens)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # 401, 403 before any parameter or body is looked at
    public = frozenset({"get_metrics"}) if settings.metrics_public else frozenset()
    app.add_middleware(RoleGate, routes=_gated_routes(app, public=public))
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestLog)  # outermost: every answer has its request id and line
    return app


def operation_id(route: APIRoute) -> str:
    """An operation's id in the OpenAPI document: its handler's name
    (``get_statement``, ``post_events``) — what a generated client calls it."""
    return route.name


# Request ids: a random prefix per process and a counter (uuid4 per request was
# measured at ~7% of a single-event POST: a getrandom call each time).
_ID_PREFIX = uuid.uuid4().hex[:12]
_REQUEST_NUMBERS = itertools.count(1)
# A caller's X-Request-ID kept as the request's id: an id's characters, no
# longer than an id (a bearer token is longer: pasted there, it is not logged).
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


_PRIVATE = b"private, no-store"  # a token holder's answer no route made cacheable


class RequestLog:
    """One log line per request: request id, actor, role, route, status, duration.

    An unexpected error (SPEC §7: never from input, but a bug may) is answered
    here: a JSON ``{"error", "detail", "request_id"}`` 500, and one JSON log
    line with the traceback — instead of the server's multi-line one.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (what
    ``app.middleware("http")`` installs) runs every request through an extra task
    and stream, measured to cost more than the rest of a single-event POST.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        if _REQUEST_ID.fullmatch(given):  # else not written into logs and answers
            request_id = given.decode("ascii")
        else:
            request_id = f"{_ID_PREFIX}-{next(_REQUEST_NUMBERS):x}"
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        state = scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500
        responded = False
        # an answer to a token's request is that caller's own (a rep's pay, a
        # list of cases): kept by no cache unless its route says how (a
        # statement's ETag: `api.caching`), not on a shared computer's disk
        private = any(k == b"authorization" for k, _ in scope["headers"])

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                if private and not any(k == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", _PRIVATE))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.exception("unhandled error", error_type=type(exc).__name__)
            if responded:
                raise  # the answer is under way: the server ends the connection
            body = orjson.dumps(unexpected_body(request_id))
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})
        finally:
            principal = state.get("principal")
            route = scope.get("route")
            log.info(
                "request",
                method=scope["method"],
                route=getattr(route, "path", scope["path"]),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                actor=principal.actor if principal else None,
                role=principal.role if principal else None,
            )


_KEY_PARAMETER = {
    "name": KEY_HEADER,
    "in": "header",
    "required": False,
    "description": "A repeat (or a concurrent duplicate) with the same key and request gets "
    "the first answer; the same key with another request is refused (422).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}


def _json_body_routes(app: FastAPI) -> tuple[list[re.Pattern[str]], list[re.Pattern[str]]]:
    """The paths of the routes that take a JSON body FastAPI decodes, and of those
    that record without one (``POST /payouts/runs/{id}/pay``: a body sent anyway
    must still be JSON), from the OpenAPI document (what the routes declare,
    however routers nest them); ``POST /events`` checks its own body
    (`api.body_parser`)."""
    with_body, without = [], []
    for path, operations in app.openapi()["paths"].items():
        if path == "/events":
            continue
        if any("requestBody" in op for op in operations.values()):
            with_body.append(_path_pattern(path))
        elif any(method.upper() in BODY_METHODS for method in operations):
            without.append(_path_pattern(path))
    return with_body, without


def _gated_routes(app: FastAPI, *, public: frozenset[str] = frozenset()) -> list[GatedRoute]:
    """Every route that takes a bearer token (its operation's ``security``) or a
    body (POST, PUT, PATCH), from the OpenAPI document as `_json_body_routes`,
    with the role check its operation id names in `api.auth.ROUTE_ROLES`
    (`api.gate.RoleGate` answers 401 and 403 before the parameters and the
    body); but those ``public`` names, served without a token (``GET /metrics``
    when LEDGER_METRICS_PUBLIC=true: it checks a token sent anyway itself). A
    route that takes a token or a body and has no entry there is a bug: refused
    here, at start, rather than served to any role."""
    gated = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            name = operation["operationId"]
            needs_role = "security" in operation or method.upper() in BODY_METHODS
            if not needs_role or name in public:
                continue
            if name not in ROUTE_ROLES:
                msg = f"{method.upper()} {path} ({name}) has no roles in api.auth.ROUTE_ROLES"
                raise RuntimeError(msg)
            gated.append(GatedRoute(method.upper(), _path_pattern(path), name, path))
    return gated


def _path_pattern(path: str) -> re.Pattern[str]:
    """An OpenAPI path template as the pattern of the paths it serves (a
    parameter is one segment)."""
    pattern = "".join(
        "[^/]+" if part.startswith("{") else re.escape(part)
        for part in re.split(r"(\{[^}]+\})", path)
    )
    return re.compile(f"^{pattern}$")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the event schemas POST /events documents."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(events.EVENT_BODY_SCHEMA.get("$defs", {}))
    body = schema["paths"]["/events"]["post"]["requestBody"]["content"]["application/json"]
    body["schema"] = {k: v for k, v in events.EVENT_BODY_SCHEMA.items() if k != "$defs"}
    for method, path in RECORDING_ROUTES:  # the header every recording route takes
        operation = schema["paths"][path][method.lower()]
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name", "").lower() == KEY_HEADER.lower() for p in parameters):
            parameters.append(_KEY_PARAMETER)
    app.openapi_schema = schema
    return schema
