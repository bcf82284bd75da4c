"""Dependencies as Annotated aliases: the services, and the authenticated caller.

All are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, a
hop that costs more than the lookup. The caller check reads the token store
only when its short cache misses (`TokenStore.check`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.tokens import Principal, TokenError, TokenStore
from ledger.application import Ledger
from projections.service import Reports

__all__ = ["BEARER", "Caller", "LedgerDep", "ReportsDep", "authenticate"]

_bearer = HTTPBearer(auto_error=False, description="A token from `incentive-ledger token create`.")


async def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def _reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


LedgerDep = Annotated[Ledger, Depends(_ledger)]
ReportsDep = Annotated[Reports, Depends(_reports)]


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    del credentials  # declared for the OpenAPI document; read by `authenticate`
    return authenticate(request)


def authenticate(request: Request) -> Principal:
    """The caller of ``request``, from its bearer token (what `Caller` resolves to).

    The single-event write route calls this directly instead of declaring
    `Caller` (and `BEARER` for its OpenAPI document): solving dependencies was
    a tenth of that route's CPU.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        raise TokenError("a bearer token is required")
    tokens: TokenStore = request.app.state.tokens  # not a dependency: one less to solve
    principal = tokens.check(token)
    request.state.principal = principal
    return principal


Caller = Annotated[Principal, Depends(_caller)]
# The OpenAPI security requirement `Caller` adds, for a route that calls `authenticate`.
BEARER: dict[str, Any] = {"security": [{_bearer.scheme_name: []}]}
