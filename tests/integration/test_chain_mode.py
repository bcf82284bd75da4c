"""SPEC §6/§7: a writer never extends the audit chain in another mode than the
chain was written in — ``LEDGER_CHAIN_KEY`` set on a plain chain, unset on a
keyed one, or another key. Its links would break the chain for good (events
are never deleted) and refuse every payout from then on; it is refused as a
configuration error instead, naming the setting, with nothing stored — on
SQLite and PostgreSQL, through the library, an import and the CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from api.settings import get_settings
from cli import app as cli_app
from ledger.application import Ledger
from ledger.backends import postgres, sqlite
from ledger.chain import CURRENT_LINKS
from ledger.chain_guard import CHAIN_MODE
from ledger.errors import ChainLinksError, ChainModeError
from tests.builders import jsonl, sale, seeded, stored_count
from tests.integration.test_audit_chain import Raw

KEY = "chain-key-0123456789abcdef"
OTHER = "another-key-0123456789abcdef"


def _written(make_ledger: Callable[..., Ledger], key: str | None) -> Ledger:
    ledger = seeded(make_ledger(chain_key=key), "r1")
    ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")
    return ledger


def _forget_the_mode(url: str) -> None:
    """As a store written before the mode was recorded."""
    raw = Raw(url)
    table = f'"{raw.schema}".ledger_events_state' if raw.pg else "ledger_state"
    with raw.cursor() as c:
        c.execute(raw.q(f"DELETE FROM {table} WHERE key = ?"), (CHAIN_MODE,))


CASES = [
    pytest.param(KEY, None, "keyed (HMAC-SHA-256) and LEDGER_CHAIN_KEY is not set", id="unset"),
    pytest.param(None, KEY, "plain SHA-256 and LEDGER_CHAIN_KEY is set", id="set"),
    pytest.param(KEY, OTHER, "keyed with another LEDGER_CHAIN_KEY", id="another"),
]


class TestAnotherMode:
    @pytest.mark.parametrize(("written", "writer", "why"), CASES)
    def test_a_writer_in_another_mode_is_refused_and_stores_nothing(
        self, make_ledger: Callable[..., Ledger], written: str | None, writer: str | None, why: str
    ) -> None:
        first = _written(make_ledger, written)
        before = stored_count(first)
        other = make_ledger(chain_key=writer)
        with pytest.raises(ChainModeError) as refused:
            other.import_lines(jsonl(sale("S2", "r1")), actor="crm")
        assert why in str(refused.value)
        assert refused.value.field == "LEDGER_CHAIN_KEY"
        assert "nothing was stored" in str(refused.value)
        with pytest.raises(ChainModeError):  # a single event too, through the group commit
            other.import_lines(jsonl(sale("S3", "r1")), actor="crm", parse_workers=0)
        assert stored_count(first) == before
        assert first.verify().ok
        first.import_lines(jsonl(sale("S4", "r1")), actor="crm")  # its own mode still writes
        assert first.verify().ok

    @pytest.mark.parametrize(("written", "writer", "why"), CASES)
    def test_a_store_written_before_the_record_is_checked_at_its_head(
        self,
        db_url: str,
        make_ledger: Callable[..., Ledger],
        written: str | None,
        writer: str | None,
        why: str,
    ) -> None:
        first = _written(make_ledger, written)
        _forget_the_mode(db_url)
        before = stored_count(first)
        with pytest.raises(ChainModeError, match="does not verify as"):
            make_ledger(chain_key=writer).import_lines(jsonl(sale("S2", "r1")), actor="crm")
        assert stored_count(first) == before
        same = make_ledger(chain_key=written)  # the chain's own mode: checked, then recorded
        same.import_lines(jsonl(sale("S2", "r1")), actor="crm")
        # recorded, with the links its head verified as (this store's: the current)
        recorded = same.chain.get_state(CHAIN_MODE)
        assert recorded == {**same.chain.hasher.identity(), "links": CURRENT_LINKS}
        assert first.verify().ok
        del why

    def test_the_record_names_the_key_by_an_id_never_the_key(
        self, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger = _written(make_ledger, KEY)
        recorded = ledger.chain.get_state(CHAIN_MODE)
        assert recorded is not None
        assert recorded["mode"] == "hmac-sha256"
        assert KEY not in str(recorded)
        assert len(recorded["key_id"]) == 16
        plain = make_ledger()
        assert plain.chain.hasher.identity() == {"mode": "sha256"}


def test_the_cli_says_so_in_one_line_and_exits_nonzero(
    db_url: str, make_ledger: Callable[..., Ledger], tmp_path: pytest.TempPathFactory
) -> None:
    first = _written(make_ledger, KEY)
    before = stored_count(first)
    lines = tmp_path / "more.jsonl"  # type: ignore[operator]
    lines.write_text(jsonl(sale("S9", "r1"))[0] + "\n", encoding="utf-8")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli_app, ["import", str(lines), "--db", db_url, "--actor", "crm"], env={}
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "LEDGER_CHAIN_KEY is not set" in result.output
    assert "Traceback" not in result.output
    assert KEY not in result.output
    assert stored_count(first) == before


class TestTheRecord:
    def test_a_first_append_that_fails_leaves_the_record_to_the_next(
        self, db_url: str, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The first append to an empty store fails after its mode was checked (a
        dropped connection: the append is retried): the record it wrote is rolled
        back with it, and the retry writes it again — it was taken as settled,
        and every other process then read a links 2 chain as links 1, broken."""
        backend = postgres if db_url.startswith("postgresql") else sqlite
        real = backend.ensure_chain_mode
        failed: list[int] = []

        def fails_once(session: Any, recorder: Any) -> None:
            real(session, recorder)
            if not failed:
                failed.append(1)
                pg = backend is postgres
                raise (psycopg.OperationalError if pg else sqlite3.OperationalError)("dropped")

        monkeypatch.setattr(backend, "ensure_chain_mode", fails_once)
        ledger = seeded(make_ledger(), "r1")
        assert failed
        assert ledger.chain.get_state(CHAIN_MODE) == {"mode": "sha256", "links": CURRENT_LINKS}
        assert make_ledger().verify().ok  # another process

    def test_links_of_a_version_this_code_does_not_know_are_one_clear_refusal(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        """A store written by a newer version (links 3): verify and a writer say
        so as a ChainLinksError (one line from the CLI), not a ValueError."""
        _written(make_ledger, None)
        make_ledger().chain.put_state(CHAIN_MODE, {"mode": "sha256", "links": 3})
        with pytest.raises(ChainLinksError, match="version 3"):
            make_ledger().verify()
        with pytest.raises(ChainLinksError, match="version 3"):
            make_ledger().import_lines(jsonl(sale("S2", "r1")), actor="crm")
        result = CliRunner().invoke(cli_app, ["verify", "--db", db_url])
        assert result.exit_code != 0
        assert "version 3" in result.output
        assert "Traceback" not in result.output
