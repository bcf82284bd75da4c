"""Who may call a route, decided before anything reads its body or its
parameters (SPEC §5, §7).

`RoleGate` is a plain ASGI middleware in front of the edge's limits
(`api.limits.BodyLimit`, `api.idempotency.Idempotency`, `api.limits.JsonBody`)
and of the routes: a request to a route that takes a token — every route of the
OpenAPI document but ``GET /health`` (and ``GET /metrics`` when it is public); the
web pages sign in their own way — or a body is answered 401 without a valid
bearer token and 403 when the token's role may not call the route
(`api.auth.ROUTE_ROLES`). A write is refused before its size, content type, JSON
or ``Idempotency-Key`` are looked at; a read before its query and path
parameters (``period``, ``as_of``, ``offset``/``limit``, ``status``...) and its
``Accept-Language`` are. A caller who may not use a route learns nothing of what
the route takes, and costs no more than a token check: an unknown caller's
10 MiB body is refused unread, as a 401.

The answers are the routes' own (`api.errors`): the same ``{"error",
"detail"}`` bodies and ``WWW-Authenticate`` header. A route that lets the
caller's role through still checks it itself (`api.deps.allowed_to`,
`api.auth.require_role`), and what depends on the resource (a rep asking for
another rep's statement: 404) stays the route's: the gate only answers first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import ForbiddenError, require_role
from api.deps import authenticate
from api.errors import (
    STORE_UNAVAILABLE,
    forbidden_response,
    unauthorized_response,
    unavailable_body,
)
from api.tokens import TokenError

__all__ = ["BODY_METHODS", "GatedRoute", "RoleGate"]

# The methods whose requests carry a body: the ones `BodyLimit` and `JsonBody` read.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class GatedRoute:
    """A route the gate answers for: its method, its path as a pattern, the
    route's name in `api.auth.ROUTE_ROLES` and its path template (what the
    request log and the metrics name a refused request by, as they name a
    served one)."""

    method: str
    pattern: re.Pattern[str]
    name: str
    path: str


class RoleGate:
    """401 and 403 for the routes that take a token or a body, before their
    parameters and body (module doc)."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[GatedRoute]) -> None:
        self.app = app
        self.routes: dict[str, tuple[GatedRoute, ...]] = {}
        for route in routes:
            self.routes[route.method] = (*self.routes.get(route.method, ()), route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope)
        if route is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            require_role(authenticate(request), route.name)  # the principal kept for the log
        except TokenError as refused:
            answer = unauthorized_response(refused)
        except ForbiddenError as refused:
            answer = forbidden_response(refused)
        except STORE_UNAVAILABLE:  # the token could not be checked: nothing ran, retry
            answer = JSONResponse(unavailable_body(), 503, headers={"Retry-After": "1"})
        else:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # the log line and the metrics name the route, not the path
        await answer(scope, receive, send)

    def _route(self, scope: Scope) -> GatedRoute | None:
        if scope["type"] != "http":
            return None
        path = scope["path"]
        candidates = self.routes.get(scope["method"], ())
        return next((r for r in candidates if r.pattern.match(path)), None)
