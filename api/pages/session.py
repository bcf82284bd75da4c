"""Sign-in by one-time link, the session cookie, and CSRF tokens (SPEC §5.1).

``token create --link`` stores a sign-in code (only its SHA-256, with the actor,
role and rep it signs in as) and prints ``BASE/app/signin/<code>``. Opening the
link shows who it signs in as (`SigninCodes.peek`: a GET — a link scanner, a
chat's preview — spends nothing); its button posts the code from this site's
own page, which redeems it — once: the row is marked used in the same
statement that reads it, so two concurrent sign-ins cannot both succeed — and
issues a session: an ordinary bearer token of the API's token store (`api.tokens`,
revocable, expiring after `SESSION_HOURS`), set as an HttpOnly,
SameSite=Strict cookie, never shown to scripts or put in a URL. Sign-out
revokes that token, so a copied cookie stops working too.

Forms carry a synchronizer token: an HMAC of the session's token id under the
token secret, so it needs no storage and a page of another site cannot know it.

What a form did is said once on the page it leads to by a one-shot note (a
"flash"): a short-lived cookie holding the note's words key, its subject and
the page it is for, signed with the session's token id (`flash_value`,
`flash_read`). It is not a query parameter, which anyone could write into a
link ("Run X paid." for a run nobody paid).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from api.own_table import OwnTable
from api.tokens import Principal, checked_grant
from ledger.application import Ledger

__all__ = [
    "CODE_MINUTES",
    "FLASH_COOKIE",
    "SESSION_COOKIE",
    "SESSION_HOURS",
    "SignIn",
    "SigninCodes",
    "csrf_token",
    "csrf_valid",
    "flash_read",
    "flash_value",
    "signin_link",
]

SESSION_COOKIE: Final = "il_session"
CODE_MINUTES: Final = 15
SESSION_HOURS: Final = 12
FLASH_COOKIE: Final = "il_flash"


@dataclass(frozen=True)
class SignIn:
    """Who a redeemed sign-in code signs in as."""

    actor: str
    role: str
    rep_id: str | None


def _stamp(moment: datetime) -> str:
    """A UTC time as fixed-width text, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def signin_link(base_url: str, code: str) -> str:
    """The link that redeems ``code`` on the server at ``base_url``."""
    return f"{base_url.rstrip('/')}/app/signin/{code}"


class SigninCodes:
    """One-time sign-in codes, kept in the ledger's database (table
    ``page_signin_codes``) so that the CLI issuing them and every server process
    redeeming them agree; the code itself is never stored."""

    def __init__(self, ledger: Ledger) -> None:
        self._table = OwnTable(
            ledger,
            "page_signin_codes",
            "code_sha256 TEXT PRIMARY KEY, actor TEXT NOT NULL, role TEXT NOT NULL, "
            "rep_id TEXT, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT",
        )

    def issue(
        self,
        *,
        actor: str,
        role: str,
        rep_id: str | None = None,
        minutes: int = CODE_MINUTES,
    ) -> str:
        """A new one-time code for ``actor`` in ``role``; ValueError says which
        field is wrong (the same rules as a token's)."""
        actor = checked_grant(actor, role, rep_id, what="link")
        code = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        self._table.execute(
            "INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, NULL)",
            (
                _digest(code),
                actor,
                role,
                rep_id,
                _stamp(now),
                _stamp(now + timedelta(minutes=minutes)),
            ),
        )
        return code

    def peek(self, code: str) -> SignIn | None:
        """Who ``code`` would sign in as, leaving it unused; None when it is
        unknown, used or expired."""
        if not code or len(code) > 200:  # noqa: PLR2004
            return None
        rows, _ = self._table.execute(
            "SELECT actor, role, rep_id FROM {table} WHERE code_sha256 = ? "
            "AND used_at IS NULL AND expires_at > ?",
            (_digest(code), _stamp(datetime.now(UTC))),
        )
        return _signin_of(rows)

    def redeem(self, code: str) -> SignIn | None:
        """Who ``code`` signs in as, marking it used; None when it is unknown,
        used or expired (the caller cannot tell which: a guesser learns nothing)."""
        if not code or len(code) > 200:  # noqa: PLR2004
            return None
        now = _stamp(datetime.now(UTC))
        rows, _ = self._table.execute(
            "UPDATE {table} SET used_at = ? WHERE code_sha256 = ? AND used_at IS NULL "
            "AND expires_at > ? RETURNING actor, role, rep_id",
            (now, _digest(code), now),
        )
        return _signin_of(rows)


def _signin_of(rows: Sequence[Sequence[object]]) -> SignIn | None:
    if not rows:
        return None
    actor, role, rep_id = rows[0]
    return SignIn(str(actor), str(role), None if rep_id is None else str(rep_id))


def csrf_token(secret: bytes, principal: Principal) -> str:
    """The form token of ``principal``'s session."""
    return hmac.new(secret, b"csrf:" + principal.token_id.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret: bytes, principal: Principal, given: str | None) -> bool:
    """Whether a submitted form token is the session's (compared as bytes: a
    token of any text, ``é`` say, is simply not it)."""
    if given is None:
        return False
    expected = csrf_token(secret, principal).encode()
    return hmac.compare_digest(expected, given.encode("utf-8", "replace"))


def _flash_mac(secret: bytes, principal: Principal, payload: str) -> str:
    message = b"flash:" + principal.token_id.encode() + b"\x00" + payload.encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def flash_value(secret: bytes, principal: Principal, path: str, key: str, subject: str) -> str:
    """The flash cookie's value: the note ``key`` about ``subject``, for the page
    at ``path``, signed for ``principal``'s session."""
    raw = json.dumps([path, key, subject], separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{payload}.{_flash_mac(secret, principal, payload)}"


def flash_read(
    secret: bytes, principal: Principal, path: str, value: str
) -> tuple[str, str] | None:
    """The note (words key, subject) a flash cookie carries for the page at
    ``path``; None unless this server signed it for this session and page."""
    payload, _, mac = value.rpartition(".")
    expected = _flash_mac(secret, principal, payload).encode()
    if not hmac.compare_digest(expected, mac.encode("utf-8", "replace")):
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return None
    match decoded:
        case [str(page), str(key), str(subject)] if page == path:
            return key, subject
    return None
