"""`token create` and `token revoke` on the command line: a token is revoked by
the id `token create --json` gives, once; an unknown one is refused naming
``token_id`` (exit 1)."""

from __future__ import annotations

import json

import pytest

from tests.payout_scenes import cli

SECRET = "cli-token-secret-0123456789abcdef"


def test_a_token_is_revoked_once_by_its_id(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_TOKEN_SECRET", SECRET)
    made = cli(
        "token", "create", "--actor", "fin-amy", "--role", "finance", "--json", "--db", db_url
    )
    assert made.exit_code == 0, made.output
    token_id = json.loads(made.output)["token_id"]
    revoked = cli("token", "revoke", token_id, "--db", db_url)
    assert revoked.exit_code == 0, revoked.output
    assert revoked.output.strip() == f"revoked {token_id}"
    again = cli("token", "revoke", token_id, "--db", db_url)
    assert again.exit_code == 1
    # it said "error: no active token ..." naming no field
    assert f"error: token_id: no active token {token_id}" in again.output
