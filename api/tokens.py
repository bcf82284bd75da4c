"""Bearer tokens for the API: signed, expiring, revocable.

A token is ``il1.<payload>.<signature>``: the payload (token id, actor, role, rep
id, expiry) in base64url JSON, signed with HMAC-SHA-256 under
``LEDGER_TOKEN_SECRET``. The ledger's database keeps one row per token (never
the token itself), so a token can be revoked and an unknown one is refused.
A token found valid is not looked up again for a second: revoking it through
another process (the CLI) takes effect within that second.

SPEC §2, actors are identities: a token is made only for a valid actor, and
carries (and its row keeps) the normalised form (`ledger.actors`), so the
actor of every event it records and every maker-checker comparison uses that
form. A token signed before this rule is read in normalised form too; one
whose actor has none is refused (401: issue a new one).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.types import Scope

from api.own_table import OwnTable
from ledger.actors import normalise_actor
from ledger.application import Ledger

__all__ = ["ROLES", "Principal", "TokenError", "TokenStore", "bearer_of", "checked_grant"]

ROLES = ("rep", "manager", "finance", "compliance", "integration", "admin")
_PREFIX = "il1"
_RECHECK_SECONDS = 1.0
_CACHE_SIZE = 10_000


def bearer_of(scope: Scope, tokens: TokenStore) -> Principal:
    """The caller of a request (an ASGI ``scope``), from its bearer token —
    checked once a request: the role gate (`api.gate`), the idempotency keys'
    holder (`api.idempotency`) and the route (`api.deps.authenticate`) each
    ask, and the first answer is kept in the request's state beside the token
    it is for. TokenError when there is no valid bearer token."""
    header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
    scheme, _, token = header.decode("latin-1").partition(" ")
    if not token or scheme.lower() != "bearer":
        raise TokenError("a bearer token is required")
    state = scope.setdefault("state", {})
    checked: tuple[str, Principal] | None = state.get("bearer")
    if checked is not None and checked[0] == token:
        return checked[1]
    principal = tokens.check(token)
    state["bearer"] = (token, principal)
    state["principal"] = principal  # what the request log names the caller by
    return principal


def checked_grant(actor: str, role: str, rep_id: str | None, *, what: str) -> str:
    """The normalised actor of a token or sign-in link about to be issued: the
    actor must be a valid actor, the role one of ROLES, and a rep's ``what``
    names its rep (and only a rep's does). ValueError says which field is wrong."""
    try:
        actor = normalise_actor(actor)
    except ValueError as exc:
        raise ValueError(f"actor: {exc}") from None
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if (role == "rep") != (rep_id is not None):
        raise ValueError(f"a rep's {what} names its rep (--rep), and only a rep's {what} does")
    return actor


class TokenError(Exception):
    """The token is unknown, malformed, expired or revoked (always a 401)."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's actor, role and (for reps) rep id."""

    token_id: str
    actor: str
    role: str
    rep_id: str | None
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenStore:
    """Issues and checks tokens; rows live in the ledger's database."""

    def __init__(self, ledger: Ledger, secret: str) -> None:
        self._secret = secret.encode()
        # token id -> until when it is known valid (not revoked): a revocation by
        # another process (the CLI) takes effect within _RECHECK_SECONDS; one
        # through this store at once.
        self._valid_until: dict[str, float] = {}
        # token -> its principal, once its signature verified: a signature is the
        # same every time, and checking it (HMAC, base64, JSON) was a tenth of a
        # single-event write's CPU. Expiry and revocation are checked every time.
        self._verified: dict[str, Principal] = {}
        self._table = OwnTable(
            ledger,
            "api_tokens",
            "token_id TEXT PRIMARY KEY, actor TEXT NOT NULL, role TEXT NOT NULL, rep_id TEXT, "
            "created_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT",
        )

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def create(
        self,
        *,
        actor: str,
        role: str,
        rep_id: str | None = None,
        days: int = 30,
        ttl: timedelta | None = None,
    ) -> tuple[str, Principal]:
        """Issue a token; the actor must be a valid actor (stored normalised), the
        role one of ROLES, and a rep token names its rep. ValueError says why not."""
        actor = checked_grant(actor, role, rep_id, what="token")
        now = datetime.now(UTC)
        expires = now + (ttl if ttl is not None else timedelta(days=days))
        principal = Principal(uuid.uuid4().hex, actor, role, rep_id, expires)
        body = {
            "tid": principal.token_id,
            "sub": actor,
            "role": role,
            "rep": rep_id,
            "exp": int(principal.expires_at.timestamp()),
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        self._table.execute(
            "INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, NULL)",
            (
                principal.token_id,
                actor,
                role,
                rep_id,
                now.isoformat(),
                principal.expires_at.isoformat(),
            ),
        )
        return f"{_PREFIX}.{payload}.{self._sign(payload)}", principal

    def _verify(self, token: str) -> Principal:
        """The principal a token was signed for; TokenError when it was not signed here."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _PREFIX:  # noqa: PLR2004
            raise TokenError("malformed token")
        _, payload, signature = parts
        if not hmac.compare_digest(self._sign(payload), signature):
            raise TokenError("bad token signature")
        try:
            body = json.loads(_unb64(payload))
            expires = datetime.fromtimestamp(int(body["exp"]), UTC)
            principal = Principal(body["tid"], body["sub"], body["role"], body["rep"], expires)
        except (ValueError, KeyError, TypeError):
            raise TokenError("malformed token") from None
        try:
            actor = normalise_actor(principal.actor)
        except ValueError:
            raise TokenError(
                "the token's actor is not a valid actor (SPEC §2); issue a new token"
            ) from None
        return dataclasses.replace(principal, actor=actor)

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by id; False when there is no such token."""
        self._valid_until.pop(token_id, None)
        rows, _ = self._table.execute(
            "UPDATE {table} SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL "
            "RETURNING token_id",
            (datetime.now(UTC).isoformat(), token_id),
        )
        return bool(rows)

    def check(self, token: str) -> Principal:
        """The principal of a valid token; TokenError otherwise."""
        principal = self._verified.get(token)
        if principal is None:
            principal = self._verify(token)
            if len(self._verified) > _CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = principal
        if principal.expires_at <= _now():
            raise TokenError("token expired")
        checked = self._valid_until.get(principal.token_id)
        if checked is not None and checked > time.monotonic():
            return principal
        rows, _ = self._table.execute(
            "SELECT revoked_at FROM {table} WHERE token_id = ?", (principal.token_id,)
        )
        if not rows:
            raise TokenError("unknown token")
        revoked = rows[0][0]
        if revoked is not None:
            raise TokenError("token revoked")
        if len(self._valid_until) > _CACHE_SIZE:
            self._valid_until.clear()
        self._valid_until[principal.token_id] = time.monotonic() + _RECHECK_SECONDS
        return principal
