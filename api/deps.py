"""Dependencies as Annotated aliases: the services, and the authenticated caller.

All are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, a
hop that costs more than the lookup. The caller check reads the token store
only when its short cache misses (`TokenStore.check`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import require_role
from api.tokens import Principal, TokenStore, bearer_of
from ledger.application import Ledger
from policies.wording import LOCALES
from projections.service import Reports
from service import UseCases

__all__ = [
    "BEARER",
    "AcceptLanguage",
    "Caller",
    "LedgerDep",
    "LocaleDep",
    "ReportsDep",
    "UseCasesDep",
    "allowed_to",
    "authenticate",
    "negotiate_locale",
]

_bearer = HTTPBearer(auto_error=False, description="A token from `incentive-ledger token create`.")


async def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def _reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


async def _use_cases(request: Request) -> UseCases:
    return UseCases(request.app.state.ledger, request.app.state.reports)


LedgerDep = Annotated[Ledger, Depends(_ledger)]
ReportsDep = Annotated[Reports, Depends(_reports)]
UseCasesDep = Annotated[UseCases, Depends(_use_cases)]


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
    tokens: TokenStore = request.app.state.tokens  # not a dependency: one less to solve
    return bearer_of(request.scope, tokens)  # checked once a request


Caller = Annotated[Principal, Depends(_caller)]


def allowed_to(route: str) -> Any:
    """``route``'s role check (`api.auth.ROUTE_ROLES`) as a dependency of its
    decorator: solved before the route's parameters and body fields are
    validated — like `Caller`, which it reads (401 first) — so a role that may
    not call the route gets 403 whatever it sends, never a 422 describing
    what the route takes."""

    async def check(principal: Caller) -> None:
        require_role(principal, route)

    return Depends(check)


# An ``Idempotency-Key`` a route reads itself (`api.idempotency` answers repeats):
# a payout run's and a dispute's ids derive from it.
IdempotencyKey = Annotated[str | None, Header(max_length=200)]

# The OpenAPI security requirement `Caller` adds, for a route that calls `authenticate`.
BEARER: dict[str, Any] = {"security": [{_bearer.scheme_name: []}]}


# Language tags (lower case) and the locale each is served in; a tag also
# matches its longer forms (zh-hans-cn is zh-hans).
_LANGUAGES = {"en": "en", "zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN", "zh-sg": "zh-CN"}
_NOT_CHINESE_SIMPLIFIED = ("zh-tw", "zh-hk", "zh-mo", "zh-hant")


def _served(tag: str) -> str | None:
    """The locale a language tag is served in, if any."""
    if tag == "*":
        return "en"
    if tag.startswith(_NOT_CHINESE_SIMPLIFIED):
        return None
    for prefix, locale in _LANGUAGES.items():
        if tag == prefix or tag.startswith(prefix + "-"):
            return locale
    return None


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def negotiate_locale(header: str | None) -> str:
    """The locale of a statement, diff or history from ``Accept-Language`` (SPEC
    §4): the served language the client weighs highest (q-values; ``en``;
    ``zh``, ``zh-CN``, ``zh-Hans`` are zh-CN); English when the header is absent
    or says ``*``. A header naming only languages not served is refused (406,
    naming the ones that are): never silently English."""
    if header is None or not header.strip():
        return "en"
    choices: list[tuple[float, int, str]] = []
    for order, item in enumerate(header.split(",")):
        tag, *parameters = item.split(";")
        locale = _served(tag.strip().lower())
        q = _quality(parameters)
        if locale is not None and q > 0:
            choices.append((-q, order, locale))
    if not choices:
        served = ", ".join(LOCALES)
        raise HTTPException(406, f"Accept-Language names no language served here; served: {served}")
    return min(choices)[2]


# The Accept-Language header as a route declares it (`LocaleDep`, or a route that
# negotiates the locale itself with `negotiate_locale`).
AcceptLanguage = Annotated[
    str | None,
    Header(
        description="en or zh-CN (zh, zh-Hans); q-values honoured; absent or * is en. "
        "Only unsupported languages: 406."
    ),
]


async def _locale(accept_language: AcceptLanguage = None) -> str:
    return negotiate_locale(accept_language)


LocaleDep = Annotated[str, Depends(_locale)]
