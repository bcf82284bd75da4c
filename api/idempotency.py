"""``Idempotency-Key`` on every request that records events (SPEC §5).

A request with the header gets, on a repeat or a concurrent duplicate with the
same key and the same request (method, path, query and body), the first answer:
the same status and body (marked ``Idempotent-Replayed: true``). The same key
with another request is refused (422, the field named) — a client bug, never
silently the wrong answer. Keys belong to the token's grant — its actor in
its role (and, for a rep, its rep): two actors may use the same key, and an
answer is replayed only to a request the same grant could make (a token of the
same actor in a lower role, say after a move from finance to rep, runs its
request afresh and meets the route's own role check, never the kept answer).

Answers live in the ledger's database (table ``api_idempotency``), so they hold
across processes (``serve --workers``) and restarts. A request claims its key
by inserting the row (the primary key lets one claim win across processes),
runs, and stores its answer; a duplicate in the same process waits on a lock of
the key, one in another process polls the row until the answer is there. An
answer of 500 or more is not kept (the claim is dropped: a retry runs again),
nor is one to a request that failed before answering. A claim whose process
died is taken over after `LEASE_SECONDS`; until then a duplicate that waited
`WAIT_SECONDS` is told to retry (409). The answer is stored after the events
are committed, in a transaction of its own: a process killed between the two
leaves the claim to expire, and the retry is then answered afresh (the ledger's
natural keys skip what was stored).

A plain ASGI middleware: a request without the header costs a header scan.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import STORE_UNAVAILABLE, unavailable_body
from api.limits import read_body, replaying
from api.own_table import OwnTable
from api.tokens import Principal, TokenError, TokenStore, bearer_of
from ledger.application import Ledger

__all__ = [
    "KEY_HEADER",
    "LEASE_SECONDS",
    "RECORDING_ROUTES",
    "WAIT_SECONDS",
    "Idempotency",
    "IdempotencyStore",
    "Stored",
    "holder_of",
]

log = structlog.get_logger("api")
_T = TypeVar("_T")

KEY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# The routes that record events (method, path template), as the OpenAPI document names them.
RECORDING_ROUTES = (
    ("POST", "/events"),
    ("POST", "/approvals"),
    ("POST", "/disputes"),
    ("POST", "/disputes/{dispute_id}/resolution"),
    ("POST", "/payouts/{period}/runs"),
    ("POST", "/payouts/runs/{run_id}/pay"),
)
WAIT_SECONDS = 60.0  # how long a duplicate waits for the first request's answer
LEASE_SECONDS = 600.0  # a claim unanswered this long was left by a process that died
_POLL_SECONDS = (0.02, 0.5)  # a duplicate's polls of the table: first, longest

_HEADER = KEY_HEADER.lower().encode()


@dataclass(frozen=True)
class Stored:
    """A key's row: the request it was first used for, and its answer once there."""

    fingerprint: str
    status: int | None  # None: the first request is still running
    content_type: str | None
    body: bytes | None
    claimed_at: float


class IdempotencyStore:
    """Keys and their answers in the ledger's database (SQLite or PostgreSQL)."""

    def __init__(self, ledger: Ledger) -> None:
        self._table = OwnTable(
            ledger,
            "api_idempotency",
            "actor TEXT NOT NULL, idem_key TEXT NOT NULL, fingerprint TEXT NOT NULL, "
            "status INTEGER, content_type TEXT, body {blob}, claimed_at {real} NOT NULL, "
            "PRIMARY KEY (actor, idem_key)",
        )

    def claim(self, actor: str, key: str, fingerprint: str) -> Stored | None:
        """Claim ``key`` for a request: None when this claim won (run it),
        otherwise the row that holds the key."""
        _, inserted = self._table.execute(
            "INSERT INTO {table} (actor, idem_key, fingerprint, claimed_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (actor, key, fingerprint, time.time()),
        )
        if inserted == 1:
            return None
        found = self.get(actor, key)
        return found if found is not None else self.claim(actor, key, fingerprint)

    def get(self, actor: str, key: str) -> Stored | None:
        rows, _ = self._table.execute(
            "SELECT fingerprint, status, content_type, body, claimed_at FROM {table} "
            "WHERE actor = ? AND idem_key = ?",
            (actor, key),
        )
        if not rows:
            return None
        fingerprint, status, content_type, body, claimed_at = rows[0]
        return Stored(
            fingerprint, status, content_type, bytes(body) if body is not None else None, claimed_at
        )

    def answer(self, actor: str, key: str, status: int, content_type: str, body: bytes) -> None:
        """Keep the first request's answer."""
        self._table.execute(
            "UPDATE {table} SET status = ?, content_type = ?, body = ? "
            "WHERE actor = ? AND idem_key = ? AND status IS NULL",
            (status, content_type, body, actor, key),
        )

    def release(self, actor: str, key: str) -> None:
        """Drop an unanswered claim (its request failed): a retry runs again."""
        self._table.execute(
            "DELETE FROM {table} WHERE actor = ? AND idem_key = ? AND status IS NULL",
            (actor, key),
        )

    def take_over(self, actor: str, key: str, claimed_at: float) -> bool:
        """Claim a key whose claim (made at ``claimed_at``) was left unanswered by a
        process that died; False when another request took it first."""
        _, changed = self._table.execute(
            "UPDATE {table} SET claimed_at = ? "
            "WHERE actor = ? AND idem_key = ? AND status IS NULL AND claimed_at = ?",
            (time.time(), actor, key, claimed_at),
        )
        return changed == 1


class _KeyLocks:
    """One asyncio lock per (actor, key) in use: duplicates in this process queue."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    def acquire(self, name: tuple[str, str]) -> asyncio.Lock:
        lock, users = self._locks.get(name, (asyncio.Lock(), 0))
        self._locks[name] = (lock, users + 1)
        return lock

    def release(self, name: tuple[str, str]) -> None:
        lock, users = self._locks[name]
        if users <= 1:
            del self._locks[name]
        else:
            self._locks[name] = (lock, users - 1)


def _compile(template: str) -> tuple[str, ...]:
    return tuple(template.strip("/").split("/"))


def _matches(parts: tuple[str, ...], path: str) -> bool:
    given = path.strip("/").split("/")
    return len(given) == len(parts) and all(
        p.startswith("{") or p == g for p, g in zip(parts, given, strict=True)
    )


class Idempotency:
    """The middleware: answers repeats of a keyed recording request (module doc)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: IdempotencyStore,
        tokens: TokenStore,
        routes: Sequence[tuple[str, str]] = RECORDING_ROUTES,
    ) -> None:
        self.app = app
        self.store = store
        self.tokens = tokens
        self.routes = [(method, _compile(path)) for method, path in routes]
        self._locks = _KeyLocks()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = None
        if scope["type"] == "http" and scope["method"] == "POST":
            key = next((v for k, v in scope["headers"] if k == _HEADER), None)
        if key is None or not any(
            method == scope["method"] and _matches(parts, scope["path"])
            for method, parts in self.routes
        ):
            await self.app(scope, receive, send)
            return
        text = key.decode("latin-1")
        if not 0 < len(text) <= MAX_KEY_LENGTH or not text.isprintable() or not text.isascii():
            await _send_json(
                send,
                422,
                {
                    "error": "invalid",
                    "detail": f"{KEY_HEADER} is 1 to {MAX_KEY_LENGTH} printable ASCII characters",
                    "field": KEY_HEADER,
                },
            )
            return
        actor = self._holder(scope)
        if actor is None:  # no valid token: the route answers 401, nothing to keep
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        fingerprint = _fingerprint(scope, body)
        name = (actor, text)
        lock = self._locks.acquire(name)
        try:
            async with lock:
                await self._once(scope, replaying(body, receive), send, name, fingerprint)
        except _Unavailable:  # its key could not be claimed: nothing ran, retry
            log.warning("store unavailable", error_type="idempotency claim")
            await _send_json(send, 503, unavailable_body(), retry_after=True)
        finally:
            self._locks.release(name)

    def _holder(self, scope: Scope) -> str | None:
        """Whose keys a request's are: its token's actor, role and rep (see the
        module doc); None without a valid token."""
        try:
            principal = bearer_of(scope, self.tokens)
        except TokenError:
            return None
        return holder_of(principal)

    async def _once(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        name: tuple[str, str],
        fingerprint: str,
    ) -> None:
        """Run the request if its claim wins; otherwise answer from the row."""
        actor, key = name
        waited = 0.0
        pause = _POLL_SECONDS[0]
        while True:
            found = await _unless_unavailable(self.store.claim, actor, key, fingerprint)
            if found is None:
                await self._run(scope, receive, send, name)
                return
            if found.fingerprint != fingerprint:
                await _send_json(send, 422, _reused(key))
                return
            if found.status is not None:
                await _replay(send, found)
                return
            if time.time() - found.claimed_at > LEASE_SECONDS and await _unless_unavailable(
                self.store.take_over, actor, key, found.claimed_at
            ):
                await self._run(scope, receive, send, name)
                return
            if waited >= WAIT_SECONDS:
                await _send_json(send, 409, _in_progress(key), retry_after=True)
                return
            await asyncio.sleep(pause)  # the first request runs in another process
            waited += pause
            pause = min(pause * 2, _POLL_SECONDS[1])

    async def _run(self, scope: Scope, receive: Receive, send: Send, name: tuple[str, str]) -> None:
        """Run the request, passing its answer on and keeping it (below 500)."""
        status = 0
        content_type = "application/json"
        chunks: list[bytes] = []

        async def keeping(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for k, v in message.get("headers", []):
                    if k.lower() == b"content-type":
                        content_type = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        kept = False
        try:
            await self.app(scope, receive, keeping)
            if 0 < status < 500:  # noqa: PLR2004 - a server error is not the answer to keep
                kept = await _kept(self.store.answer, *name, status, content_type, b"".join(chunks))
        finally:
            if not kept:
                await _kept(self.store.release, *name)


class _Unavailable(Exception):  # noqa: N818 - internal signal, never escapes
    """The store could not take a key's claim (busy or unreachable)."""


async def _unless_unavailable(call: Callable[..., _T], *args: Any) -> _T:
    """``call`` in a thread; the store busy or unreachable: `_Unavailable`."""
    try:
        return await run_in_threadpool(call, *args)
    except STORE_UNAVAILABLE as exc:
        raise _Unavailable from exc


async def _kept(call: Callable[..., None], *args: Any) -> bool:
    """Keep (or drop) a key's answer after the request was answered: the store
    busy or unreachable then leaves the claim to expire (its retry is run again
    and the ledger's natural keys skip what was stored), said in the log — the
    client already has its answer. True when kept."""
    try:
        await run_in_threadpool(call, *args)
    except STORE_UNAVAILABLE as exc:
        log.warning("idempotency answer not kept", error_type=type(exc).__name__)
        return False
    return True


def holder_of(principal: Principal) -> str:
    """Whose keys ``principal``'s requests use: its actor, role and rep, joined
    by a unit separator (no actor holds one: SPEC §2's pattern), so no two
    grants share a key."""
    return "\x1f".join((principal.actor, principal.role, principal.rep_id or ""))


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"")):
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


def _reused(key: str) -> dict[str, Any]:
    return {
        "error": "invalid",
        "detail": f"{KEY_HEADER} {key!r} was used for another request (method, path or "
        "body differ); use a new key for a new request",
        "field": KEY_HEADER,
    }


def _in_progress(key: str) -> dict[str, Any]:
    return {
        "error": "conflict",
        "detail": f"the first request with {KEY_HEADER} {key!r} is still running; retry later",
        "field": KEY_HEADER,
    }


async def _replay(send: Send, stored: Stored) -> None:
    body = stored.body or b""
    await send(
        {
            "type": "http.response.start",
            "status": stored.status,
            "headers": [
                (b"content-type", (stored.content_type or "application/json").encode("latin-1")),
                (b"content-length", str(len(body)).encode()),
                (b"idempotent-replayed", b"true"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_json(
    send: Send, status: int, document: dict[str, Any], *, retry_after: bool = False
) -> None:
    body = orjson.dumps(document)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if retry_after:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
