"""Who may send a body, decided before anything reads it (SPEC §5, §7).

`RoleGate` is a plain ASGI middleware in front of the edge's limits
(`api.limits.BodyLimit`, `api.idempotency.Idempotency`, `api.limits.JsonBody`):
a request to a route that takes a body (POST, PUT, PATCH) is answered 401
without a valid bearer token and 403 when the token's role may not call the
route (`api.auth.ROUTE_ROLES`) — before its size, content type, JSON or
``Idempotency-Key`` are looked at. A caller who may not write learns nothing
of what the route takes, and costs no more than a token check: an unknown
caller's 10 MiB body is refused unread, as a 401.

The answers are the routes' own (`api.errors`): the same ``{"error",
"detail"}`` bodies and ``WWW-Authenticate`` header. A route that lets the
caller's role through still checks it itself (`api.deps.allowed_to`,
`api.auth.require_role`): the gate only answers first.
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

__all__ = ["GATED_METHODS", "GatedRoute", "RoleGate"]

# The methods whose requests carry a body: the ones `BodyLimit` and `JsonBody` read.
GATED_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class GatedRoute:
    """A route that takes a body: its method, its path as a pattern, the route's
    name in `api.auth.ROUTE_ROLES` and its path template (what the request log
    and the metrics name a refused request by, as they name a served one)."""

    method: str
    pattern: re.Pattern[str]
    name: str
    path: str


class RoleGate:
    """401 and 403 for the routes that take a body, before the body (module doc)."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[GatedRoute]) -> None:
        self.app = app
        self.routes = tuple(routes)

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
        if scope["type"] != "http" or scope["method"] not in GATED_METHODS:
            return None
        path = scope["path"]
        method = scope["method"]
        return next((r for r in self.routes if r.method == method and r.pattern.match(path)), None)
