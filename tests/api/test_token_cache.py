"""A valid token is not re-read from the store on every request (issue 5: a
query per request), but revocation still holds: at once through the same
store, within the recheck interval through another process."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api import tokens as tokens_module
from api.tokens import TokenError, TokenStore
from ledger.application import Ledger

SECRET = "a-test-secret-that-is-long-enough-0123"


def test_revocation_through_the_same_store_is_immediate(tmp_path: object) -> None:
    ledger = Ledger("sqlite:///:memory:")
    store = TokenStore(ledger, SECRET)
    token, principal = store.create(actor="amy", role="finance")
    assert store.check(token).token_id == principal.token_id  # now cached
    assert store.revoke(principal.token_id)
    with pytest.raises(TokenError, match="revoked"):
        store.check(token)
    ledger.close()


def test_revocation_elsewhere_holds_after_the_recheck_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = Ledger("sqlite:///:memory:")
    api_side, cli_side = TokenStore(ledger, SECRET), TokenStore(ledger, SECRET)
    token, principal = api_side.create(actor="amy", role="finance")
    now = [1_000.0]
    monkeypatch.setattr(tokens_module.time, "monotonic", lambda: now[0])
    api_side.check(token)
    cli_side.revoke(principal.token_id)
    api_side.check(token)  # still within the interval: served from the cache
    now[0] += tokens_module._RECHECK_SECONDS + 0.01
    with pytest.raises(TokenError, match="revoked"):
        api_side.check(token)
    ledger.close()


def test_a_signature_is_verified_once_and_expiry_still_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = Ledger("sqlite:///:memory:")
    store = TokenStore(ledger, SECRET)
    token, principal = store.create(actor="amy", role="finance")
    signed: list[str] = []
    real_sign = store._sign
    monkeypatch.setattr(
        store, "_sign", lambda payload: signed.append(payload) or real_sign(payload)
    )
    checked = [store.check(token) for _ in range(3)]
    assert {c.token_id for c in checked} == {principal.token_id}
    assert len(signed) == 1
    # A token with one character changed is its own entry, verified (and refused).
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(TokenError, match="signature"):
        store.check(forged)
    later = checked[0].expires_at + timedelta(seconds=1)
    monkeypatch.setattr(tokens_module, "_now", lambda: later)
    with pytest.raises(TokenError, match="expired"):
        store.check(token)
    ledger.close()
