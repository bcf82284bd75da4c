"""Every exception handler of the API: errors are JSON ``{"error", "detail"}``.

401 unknown/malformed/expired token · 403 role · 404 unknown or not yours ·
406 no language of Accept-Language is served · 409 conflicting duplicate,
self-approval, second decision · 413 body or event count over the limit ·
415 a body that is not application/json · 422 invalid input (JSON nested
deeper than 32 levels too) · 503 the store dropped the connection and nothing
was stored, or did not answer in time (busy: another writer held it past the
wait; unreachable): ``Retry-After`` · 500 an unexpected error: the answer names
the request id, the log has one JSON line with the traceback (`api.app.RequestLog`).
"""

from __future__ import annotations

from typing import Any

import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import ForbiddenError
from api.tokens import TokenError
from ledger.errors import BatchRejectedError, LedgerError

__all__ = [
    "STORE_UNAVAILABLE",
    "forbidden_response",
    "install_error_handlers",
    "unauthorized_response",
    "unavailable_body",
    "unexpected_body",
]

_STATUS = {
    "invalid": 422,
    "conflict": 409,
    "not_found": 404,
    "unavailable": 503,
    "too_large": 413,
}
_HTTP_ERRORS = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
}
log = structlog.get_logger("api")


def _body(error: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail, **extra}


async def _ledger_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LedgerError)
    extra: dict[str, Any] = {"field": exc.field}
    detail = exc.reason
    if isinstance(exc, BatchRejectedError):
        # a request's inputs are items of its list (0-based), never "lines"
        detail = exc.summary("item")
        extra["errors"] = [
            {"index": e.line - 1, "field": e.field, "reason": e.reason_in("item"), "kind": e.status}
            for e in exc.errors
        ]
    return JSONResponse(_body(exc.status, detail, **extra), status_code=_STATUS[exc.status])


def unauthorized_response(exc: Exception) -> JSONResponse:
    """The answer to a request without a valid token (401), from its route or
    before its body is read (`api.gate.RoleGate`)."""
    return JSONResponse(
        _body("unauthorized", str(exc)),
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def forbidden_response(exc: Exception) -> JSONResponse:
    """The answer to a role that may not do this (403), from its route or
    before its body is read (`api.gate.RoleGate`)."""
    return JSONResponse(_body("forbidden", str(exc)), status_code=403)


async def _token_error(_: Request, exc: Exception) -> JSONResponse:
    return unauthorized_response(exc)


async def _forbidden(_: Request, exc: Exception) -> JSONResponse:
    return forbidden_response(exc)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    # On a route that takes a token, only a caller whose role may call it gets
    # here: `api.gate.RoleGate` answered 401 and 403 before the parameters.
    assert isinstance(exc, RequestValidationError)
    errors = [_validation_error(e) for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return JSONResponse(_body("invalid", detail, errors=errors), status_code=422)


def _validation_error(error: Any) -> dict[str, Any]:
    """One of FastAPI's validation errors as ``{"field", "reason"}``; a body that
    is not JSON names the body (FastAPI's location is a character offset)."""
    if error["type"] == "json_invalid":
        where = error["loc"][1] if len(error["loc"]) > 1 else 0
        detail = error.get("ctx", {}).get("error", "invalid JSON")
        return {"field": "body", "reason": f"malformed JSON: {detail} (character {where})"}
    return {"field": ".".join(str(p) for p in error["loc"][1:]) or None, "reason": error["msg"]}


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        _body(_HTTP_ERRORS.get(exc.status_code, "error"), str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _store_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """The library's connection errors, the same pair an import reports as the
    store unavailable (`Ledger.import_lines`): the store busy past the wait for
    a connection, or unreachable. Its other errors (a bad statement, say) stay
    500. Safe to retry: writes are idempotent by natural
    key (a repeat of a stored event is skipped)."""
    log.warning("store unavailable", error_type=type(exc).__name__)
    return JSONResponse(unavailable_body(), status_code=503, headers={"Retry-After": "1"})


# The library's errors of a store that is busy or unreachable (answered 503).
STORE_UNAVAILABLE = (InterfaceError, OperationalError)


def unavailable_body() -> dict[str, Any]:
    """What a request the store could not take answers (503, ``Retry-After: 1``)."""
    return _body(
        "unavailable", "the store is busy or unreachable; retry (a repeated event is skipped)"
    )


def unexpected_body(request_id: str | None) -> dict[str, Any]:
    """What an unexpected error answers: no detail of it, the request id to find
    its log line by."""
    return _body(
        "internal",
        f"an unexpected error; see the server log for request {request_id}",
        request_id=request_id,
    )


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    """The last resort (errors of a route are answered by `api.app.RequestLog`)."""
    log.error("unhandled error", error_type=type(exc).__name__, exc_info=exc)
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return JSONResponse(unexpected_body(request_id), 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(TokenError, _token_error)
    app.add_exception_handler(ForbiddenError, _forbidden)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    for unavailable in STORE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _store_unavailable)
    app.add_exception_handler(Exception, _unexpected)
