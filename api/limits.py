"""Limits at the edge of the API (SPEC §7): body size (413), content type (415),
JSON depth (422), checked before a body is decoded.

`BodyLimit` is a plain ASGI middleware in front of every route: a declared
``Content-Length`` over the limit is refused before a byte is read; a body
without one (chunked) is counted as it is read and refused once it passes the
limit, so no more than the limit is ever buffered. `JsonBody` wraps the routes
whose bodies FastAPI decodes itself (a pydantic model): it refuses another
content type and JSON nested too deep before FastAPI's decoder (which recurses)
sees it. ``POST /events`` parses its own body and checks the same things on
its way (`api.body_parser`), to keep the hot path free of a second layer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.events import DuplicateKeyError, decode_exact
from ledger.ingestion.parse import TWICE
from ledger.limits import MAX_JSON_DEPTH, depth_error, exceeds_depth

__all__ = [
    "BodyLimit",
    "BodyTooLargeError",
    "JsonBody",
    "UnsupportedMediaTypeError",
    "is_json",
    "read_body",
    "replaying",
]

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLargeError(HTTPException):
    """The request body is over the limit (413): nothing of it was decoded."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is over the limit of {max_bytes} bytes")


class UnsupportedMediaTypeError(HTTPException):
    """A JSON body route was sent something else (415)."""

    def __init__(self, given: str | None) -> None:
        what = f"{given!r}" if given else "no content type"
        super().__init__(415, f"the body must be application/json, not {what}")


def is_json(content_type: str | bytes | None) -> bool:
    """Whether a Content-Type header says application/json (parameters, such as
    a charset, allowed; case-insensitive)."""
    if content_type is None:
        return False
    text = content_type.decode("latin-1") if isinstance(content_type, bytes) else content_type
    return text.partition(";")[0].strip().lower() == "application/json"


def _problem(
    status: int, error: str, detail: str, field: str | None = None
) -> tuple[Message, Message]:
    body = orjson.dumps({"error": error, "detail": detail, "field": field})
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` (413) without buffering them."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, "invalid", "Content-Length is not a number")
            elif int(declared) > self.max_bytes:
                await _refuse(send, 413, "too_large", BodyTooLargeError(self.max_bytes).detail)
            else:  # the server delivers no more than it declared
                await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body of unknown length, counted as it arrives."""
        read = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLargeError as exc:  # raised where no handler turned it into a response
            if started:
                raise
            await _refuse(send, 413, "too_large", str(exc.detail))


async def _refuse(
    send: Send, status: int, error: str, detail: str, field: str | None = None
) -> None:
    start, body = _problem(status, error, detail, field)
    await send(start)
    await send(body)


async def read_body(receive: Receive) -> bytes:
    """The whole request body (as limited by `BodyLimit`)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` (already read), then waits as
    the server's would (for the client to go)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class JsonBody:
    """For the routes whose body FastAPI decodes (a pydantic model, ``routes``):
    415 unless the body is declared JSON, 422 when it nests deeper than
    ``max_depth`` or is not UTF-8 — before FastAPI's decoder sees it. The routes
    that take no body (``bodiless``) ignore none sent: one sent anyway is held
    to the same rules, and is 422 unless it is JSON (SPEC §7). A middleware, so
    its answers are sent here (exception handlers sit further in)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[re.Pattern[str]],
        bodiless: Sequence[re.Pattern[str]] = (),
        max_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.bodiless = tuple(bodiless)
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _WITH_BODY
            or scope["path"] == "/events"  # the hot path checks its own body
        ):
            await self.app(scope, receive, send)
            return
        bodiless = any(r.match(scope["path"]) for r in self.bodiless)
        if not bodiless and not any(r.match(scope["path"]) for r in self.routes):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive)
        except BodyTooLargeError as exc:
            await _refuse(send, 413, "too_large", str(exc.detail))
            return
        refusal = self._refusal(scope, body, bodiless=bodiless) if body else None
        if refusal is not None:
            await _refuse(send, *refusal)
            return
        await self.app(scope, replaying(body, receive), send)

    def _refusal(
        self, scope: Scope, body: bytes, *, bodiless: bool
    ) -> tuple[int, str, str, str | None] | None:
        """Why a body is refused (status, error, detail, field), or None;
        ``bodiless``: sent to a route that takes none (then it must be JSON)."""
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), None)
        if not is_json(content_type):
            detail = UnsupportedMediaTypeError(_text(content_type)).detail
            return 415, "unsupported_media_type", detail, None
        if exceeds_depth(body, self.max_depth):
            return 422, "invalid", depth_error(self.max_depth), "body"
        try:
            body.decode()
        except UnicodeDecodeError as exc:  # FastAPI answers a bare 400
            return 422, "invalid", f"malformed JSON: not UTF-8 (byte {exc.start})", "body"
        twice = _key_given_twice(body)
        if twice is not None:  # FastAPI's decoder would take the last silently
            return 422, "invalid", f"{twice}: {TWICE}", twice
        if bodiless and not _is_json(body):
            return 422, "invalid", "malformed JSON", "body"
        return None


def _key_given_twice(body: bytes) -> str | None:
    """The key an object of ``body`` names twice, if any (malformed JSON is
    left to FastAPI's decoder, which names where)."""
    try:
        decode_exact(body)
    except DuplicateKeyError as exc:
        return exc.key
    except (ValueError, UnicodeDecodeError):
        return None
    return None


def _is_json(body: bytes) -> bool:
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None
