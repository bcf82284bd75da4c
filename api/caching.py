"""Conditional GETs of a rep's pay: a strong ``ETag`` from the body's SHA-256, a
``304 Not Modified`` with no body when ``If-None-Match`` names it, and
``Cache-Control: private, no-cache`` on both (a browser may keep the bytes but
asks every time; a shared cache never keeps them).

The tag is of the bytes answered, not of the statement's own ``sha256`` (which
covers the statement without its ``as_of`` and ``chain_head``): equal tags mean
equal bytes, whatever the representation."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Header, Response, status

__all__ = ["CACHE_CONTROL", "IfNoneMatch", "conditional", "etag_of", "responses"]

CACHE_CONTROL = "private, no-cache"

IfNoneMatch = Annotated[
    str | None,
    Header(
        max_length=2000,
        description="ETags of a copy the caller holds: 304 with no body if one still matches.",
    ),
]


def etag_of(body: bytes) -> str:
    """A strong entity tag: the quoted hex SHA-256 of the body."""
    return f'"{hashlib.sha256(body).hexdigest()}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: ``*`` or any listed tag, compared weakly (``W/`` ignored)."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def conditional(
    body: bytes,
    *,
    media_type: str,
    if_none_match: str | None,
    headers: dict[str, str] | None = None,
) -> Response:
    """``body`` with its ETag, or 304 (no body) when ``if_none_match`` names it."""
    etag = etag_of(body)
    common = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=common)
    return Response(body, media_type=media_type, headers={**common, **(headers or {})})


_HEADERS = {
    "ETag": {"description": "SHA-256 of the body (strong)", "schema": {"type": "string"}},
    "Cache-Control": {"description": CACHE_CONTROL, "schema": {"type": "string"}},
}


def responses(
    *media_types: str, schema: bool = True, description: str | None = None
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI of a conditional GET: the 200's headers (and, when
    ``schema`` is false — a file, not the response model —, each media type
    it is served as, with the parameters of its Content-Type: a CSV's
    charset) and the 304."""
    ok: dict[str, Any] = {"headers": _HEADERS}
    if description is not None:
        ok["description"] = description
    if not schema:  # text as a string, anything else as bytes
        ok["content"] = {}
        for media_type in media_types:
            body: dict[str, str] = {"type": "string"}
            if not media_type.startswith("text/"):
                body["format"] = "binary"
            ok["content"][media_type] = {"schema": body}
    return {
        200: ok,
        304: {
            "description": "Not modified: If-None-Match names the current ETag (no body)",
            "headers": _HEADERS,
        },
    }
