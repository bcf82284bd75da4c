"""Tampering with the stored rows, caught by `verify` (SPEC §6), on SQLite and
PostgreSQL. Each test changes the real database rows with raw SQL, checks that the
change really happened, then verifies through the ledger and the CLI."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

import orjson
import psycopg
from typer.testing import CliRunner

from api.settings import get_settings
from cli import app as cli_app
from ledger.application import Ledger
from ledger.chain import (
    CURRENT_LINKS,
    GENESIS,
    Anchor,
    ChainHasher,
    ChainLink,
    LogRow,
    merge_rows,
)
from ledger.chain_guard import CHAIN_MODE, log_rows
from ledger.domain import event_id_for
from projections.audit_check import check_bundle
from projections.service import Reports
from tests.builders import jsonl, payouts, sale, seeded

KEY = "chain-key-kept-outside-the-db"


class Raw:
    """Direct access to the stored rows, as an attacker with database access has."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = url.startswith("postgresql")
        if self.pg:
            self.schema = parse_qs(urlsplit(url).query)["schema"][0]
            self.events = f'"{self.schema}".ledger_events'
            self.chain = f'"{self.schema}".ledger_events_chain'
            self.state_table = f'"{self.schema}".ledger_events_state'
            self.rep_keys = f'"{self.schema}".ledger_events_rep_keys'
            self.payment_keys = f'"{self.schema}".ledger_events_payment_keys'
            self.pos = "notification_id"
        else:
            self.path = url.removeprefix("sqlite:///")
            self.events, self.chain, self.pos = "stored_events", "event_chain", "rowid"
            self.state_table = "ledger_state"
            self.rep_keys = "rep_keys"
            self.payment_keys = "payment_keys"

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        if self.pg:
            base = self.url.split("?")[0]
            with psycopg.connect(base, autocommit=True) as conn, conn.cursor() as cur:
                yield _PgCursor(cur)
        else:
            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                yield conn.cursor()
            finally:
                conn.close()

    def q(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.pg else sql

    def state(self, position: int) -> bytes:
        with self.cursor() as c:
            c.execute(self.q(f"SELECT state FROM {self.events} WHERE {self.pos} = ?"), (position,))
            row = c.fetchone()
        return bytes(row[0]) if row else b""

    def set_state(self, position: int, state: bytes) -> None:
        with self.cursor() as c:
            c.execute(
                self.q(f"UPDATE {self.events} SET state = ? WHERE {self.pos} = ?"),
                (state, position),
            )

    def count(self, table: str) -> int:
        with self.cursor() as c:
            c.execute(f"SELECT COUNT(*) FROM {table}")
            return int(c.fetchone()[0])

    def delete_event(self, position: int) -> None:
        with self.cursor() as c:
            c.execute(self.q(f"DELETE FROM {self.events} WHERE {self.pos} = ?"), (position,))

    def delete_link(self, position: int) -> None:
        with self.cursor() as c:
            c.execute(self.q(f"DELETE FROM {self.chain} WHERE position = ?"), (position,))

    def rows(self) -> list[tuple[int, UUID, int, str, bytes]]:
        with self.cursor() as c:
            c.execute(
                f"SELECT {self.pos}, originator_id, originator_version, topic, state "
                f"FROM {self.events} ORDER BY {self.pos}"
            )
            return [
                (r[0], r[1] if isinstance(r[1], UUID) else UUID(r[1]), r[2], r[3], bytes(r[4]))
                for r in c.fetchall()
            ]

    def links(self) -> list[tuple[int, str, str, str]]:
        with self.cursor() as c:
            c.execute(
                f"SELECT position, event_id, recorded_at, hash FROM {self.chain} ORDER BY position"
            )
            return [(r[0], str(r[1]), r[2], r[3]) for r in c.fetchall()]

    def rehash_from(self, position: int, hasher: ChainHasher) -> None:
        """Recompute every link from ``position`` on, as a forger without the key would."""
        links = [ChainLink(*link) for link in self.links()]
        previous = GENESIS
        with self.cursor() as c:
            for row in merge_rows(self.rows(), links):
                assert row.link is not None
                stored = row.link.hash
                if row.position >= position:
                    stored = hasher.row_hash(previous, row)
                    c.execute(
                        self.q(f"UPDATE {self.chain} SET hash = ? WHERE position = ?"),
                        (stored, row.position),
                    )
                previous = stored

    def append_forged(self, hasher: ChainHasher) -> int:
        """Insert an event row and a matching plain-SHA-256 link after the head."""
        *_, (last_pos, _, last_at, last_hash) = self.links()
        oid = uuid4()
        state = json.dumps({"actor": "mallory", "data": {"sale_id": "FORGED"}}).encode()
        topic = "incentive_ledger:SaleRecorded"
        with self.cursor() as c:
            c.execute(
                self.q(
                    f"INSERT INTO {self.events} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)"
                ),
                (oid if self.pg else oid.hex, 1, topic, state),
            )
            c.execute(f"SELECT MAX({self.pos}) FROM {self.events}")
            position = int(c.fetchone()[0])
            assert position > last_pos
            event_id = str(event_id_for(oid, 1))
            link = ChainLink(position, event_id, last_at, hash="")  # the hash is to be made
            digest = hasher.row_hash(last_hash, LogRow(position, oid, 1, topic, state, link))
            c.execute(
                self.q(f"INSERT INTO {self.chain} VALUES (?, ?, ?, ?)"),
                (position, event_id, last_at, digest),
            )
        return position

    def insert_unlinked(self) -> int:
        with self.cursor() as c:
            c.execute(
                self.q(
                    f"INSERT INTO {self.events} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)"
                ),
                (uuid4() if self.pg else uuid4().hex, 1, "incentive_ledger:SaleRecorded", b"{}"),
            )
            c.execute(f"SELECT MAX({self.pos}) FROM {self.events}")
            return int(c.fetchone()[0])


class _PgCursor:
    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Any = ()) -> None:
        self._cur.execute(sql, params)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> Any:
        return self._cur.fetchall()


def _store(make_ledger: Callable[..., Ledger], *, chain_key: str | None = None) -> Ledger:
    ledger = seeded(make_ledger(chain_key=chain_key), "r1", "r2")
    ledger.import_lines(
        jsonl(*(sale(f"S{i}", "r1" if i % 2 else "r2") for i in range(8))), actor="crm"
    )
    return ledger


def _cli_verify(url: str, *args: str, chain_key: str | None = None) -> Any:
    env = {"LEDGER_CHAIN_KEY": chain_key} if chain_key else {}
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli_app, ["verify", "--db", url, *args], env=env)
    finally:
        get_settings.cache_clear()


def _anchor(ledger: Ledger) -> Anchor:
    head = ledger.head()
    assert head is not None
    return Anchor(head.position, head.hash)


class TestPlainChain:
    def test_an_untouched_store_verifies(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger = _store(make_ledger)
        report = ledger.verify([_anchor(ledger)])
        assert report.ok
        assert report.checked == Raw(db_url).count(Raw(db_url).events)
        result = _cli_verify(db_url)
        assert result.exit_code == 0, result.output
        assert "chain intact" in result.output

    def test_editing_one_byte_is_caught(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger, raw = _store(make_ledger), Raw(db_url)
        original = raw.state(5)
        tampered = (
            original.replace(b"1000.00", b"9000.00")
            if b"1000.00" in original
            else original[:-2] + b" }"
        )
        raw.set_state(5, tampered)
        assert raw.state(5) != original, "the row really changed"
        report = ledger.verify()
        assert (report.ok, report.broken_position) == (False, 5)
        result = _cli_verify(db_url)
        assert result.exit_code == 1
        assert "position 5" in result.output

    def test_deleting_an_event_is_caught(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger, raw = _store(make_ledger), Raw(db_url)
        before = raw.count(raw.events)
        raw.delete_event(4)
        assert raw.count(raw.events) == before - 1
        report = ledger.verify()
        assert (report.ok, report.broken_position) == (False, 4)
        assert "deleted" in str(report.reason)
        assert _cli_verify(db_url).exit_code == 1

    def test_deleting_an_event_and_its_link_is_caught(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger, raw = _store(make_ledger), Raw(db_url)
        raw.delete_event(4)
        raw.delete_link(4)
        assert 4 not in [p for p, *_ in raw.links()]
        report = ledger.verify()
        assert (report.ok, report.broken_position) == (False, 5)

    def test_swapping_two_events_is_caught(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger, raw = _store(make_ledger), Raw(db_url)
        a, b = raw.state(6), raw.state(7)
        assert a != b
        raw.set_state(6, b)
        raw.set_state(7, a)
        assert (raw.state(6), raw.state(7)) == (b, a)
        report = ledger.verify()
        assert (report.ok, report.broken_position) == (False, 6)
        assert _cli_verify(db_url).exit_code == 1

    def test_a_row_written_around_the_ledger_is_caught(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger, raw = _store(make_ledger), Raw(db_url)
        position = raw.insert_unlinked()
        report = ledger.verify()
        assert (report.ok, report.broken_position) == (False, position)
        assert "no chain link" in str(report.reason)

    def test_truncating_the_tail_needs_an_anchor(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        """A plain chain cannot see a cut-off tail; a head published earlier can."""
        ledger, raw = _store(make_ledger), Raw(db_url)
        anchor = _anchor(ledger)
        for position in range(anchor.position - 2, anchor.position + 1):
            raw.delete_event(position)
            raw.delete_link(position)
        assert raw.count(raw.events) == anchor.position - 3
        assert ledger.verify().ok, "plain verification cannot see truncation"
        report = ledger.verify([anchor])
        assert (report.ok, report.broken_position) == (False, anchor.position)
        assert "truncated" in str(report.reason)
        result = _cli_verify(db_url, "--anchor", str(anchor))
        assert result.exit_code == 1
        assert f"position {anchor.position}" in result.output

    def test_rewrite_and_rehash_needs_an_anchor(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger, raw = _store(make_ledger), Raw(db_url)
        anchor = _anchor(ledger)
        original = raw.state(5)
        raw.set_state(5, original.replace(b"crm", b"xyz"))
        raw.rehash_from(5, ChainHasher(None, links=CURRENT_LINKS))
        assert raw.state(5) != original
        assert ledger.verify().ok, "a plain chain cannot see a full rewrite"
        report = ledger.verify([anchor])
        assert (report.ok, report.broken_position) == (False, anchor.position)
        assert "rewritten" in str(report.reason)
        # the hash it holds now, to compare with the published one (a miscopied
        # anchor, which said only "history was rewritten", is told apart so)
        now = ledger.read_log(anchor.position - 1, 1)[0]
        assert f"hash at position {anchor.position} is {now.hash}" in str(report.reason)
        assert "unless the anchor was miscopied" in str(report.reason)
        assert _cli_verify(db_url, "--anchor", str(anchor)).exit_code == 1

    def test_a_payroll_exports_head_anchors_what_the_run_recorded(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        """The export's chain head was the head the run was computed at, which
        comes before the run's own event: a run's recorded payable rewritten,
        and every later link recomputed, still verified against it. It is the
        link of the run's event now."""
        ledger, raw = _store(make_ledger), Raw(db_url)
        reports = Reports(ledger)
        result = payouts(reports).payout_run("2026-Q3", actor="fin-amy")
        run_id = str(ledger.event(str(result.outcomes[0].event_id)).data["run_id"])
        csv = reports.export_file(run_id, "csv").decode().splitlines()
        columns = csv[0].split(",")
        row = dict(zip(columns, csv[1].split(","), strict=True))
        anchor = Anchor(int(row["chain_position"]), row["chain_hash"])
        position = anchor.position
        assert ledger.read_log(position - 1, 1)[0].type == "PayoutCalculated"
        original = raw.state(position)
        raw.set_state(position, original.replace(b'"payable":"', b'"payable":"9', 1))
        raw.rehash_from(position, ChainHasher(None, links=CURRENT_LINKS))
        assert ledger.verify().ok, "a plain chain cannot see a full rewrite"
        report = ledger.verify([anchor])
        assert (report.ok, report.broken_position) == (False, anchor.position)

    def test_a_forged_append_is_not_seen_without_a_key(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger, raw = _store(make_ledger), Raw(db_url)
        raw.append_forged(ChainHasher(None, links=CURRENT_LINKS))
        assert ledger.verify().ok, "documented: plain SHA-256 cannot tell a forged append"


class TestKeyedChain:
    def test_rewrite_and_rehash_without_the_key_is_caught(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger, raw = _store(make_ledger, chain_key=KEY), Raw(db_url)
        assert ledger.verify().ok
        original = raw.state(5)
        raw.set_state(5, original.replace(b"crm", b"xyz"))
        raw.rehash_from(5, ChainHasher(None, links=CURRENT_LINKS))
        assert raw.state(5) != original
        report = ledger.verify()
        assert (report.ok, report.broken_position) == (False, 5)
        result = _cli_verify(db_url, chain_key=KEY)
        assert result.exit_code == 1
        assert "position 5" in result.output

    def test_a_forged_append_is_caught(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger, raw = _store(make_ledger, chain_key=KEY), Raw(db_url)
        position = raw.append_forged(ChainHasher(None, links=CURRENT_LINKS))
        report = ledger.verify()
        assert (report.ok, report.broken_position) == (False, position)
        assert _cli_verify(db_url, chain_key=KEY).exit_code == 1

    def test_the_keyed_chain_verifies_only_with_its_key(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        _store(make_ledger, chain_key=KEY)
        assert _cli_verify(db_url, chain_key=KEY).exit_code == 0
        assert _cli_verify(db_url).exit_code == 1


def test_an_edit_stored_as_text_is_named_not_a_traceback(tmp_path: Path) -> None:
    """SQLite's ``replace()`` on the state writes TEXT where the ledger wrote a
    BLOB (the obvious hand edit; PostgreSQL's bytea keeps its type): verify
    crashed with a TypeError instead of naming the position."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = _store(lambda **_: Ledger(url))
    raw = Raw(url)
    with raw.cursor() as c:
        c.execute("UPDATE stored_events SET state = replace(state, '0', '1') WHERE rowid = 5")
        c.execute("SELECT typeof(state) FROM stored_events WHERE rowid = 5")
        assert c.fetchone()[0] == "text"
    report = ledger.verify()
    assert (report.ok, report.broken_position) == (False, 5)
    result = _cli_verify(url)
    assert result.exit_code == 1
    assert "position 5" in result.output
    ledger.close()


class TestLinkVersions:
    """Links 2 (`ledger.chain`) for a store begun now; a store begun with links 1
    keeps them: its recorded links stay valid, and new ones follow them."""

    @staticmethod
    def _rows_verify_as(ledger: Ledger, links: int) -> bool:
        hasher, previous = ChainHasher(links=links), GENESIS
        for row in log_rows(ledger.chain):
            assert row.link is not None
            if hasher.row_hash(previous, row) != row.link.hash:
                return False
            previous = row.link.hash
        return True

    def test_a_new_store_records_links_2(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        ledger = _store(make_ledger)
        assert ledger.chain.get_state(CHAIN_MODE) == {"mode": "sha256", "links": CURRENT_LINKS}
        assert self._rows_verify_as(ledger, CURRENT_LINKS)
        assert not self._rows_verify_as(ledger, 1)
        assert ledger.verify().ok

    def test_a_store_begun_with_links_1_keeps_them(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        """As a store recorded before links 2 existed: its mode with no links."""
        ledger = make_ledger()
        ledger.chain.put_state(CHAIN_MODE, {"mode": "sha256"})
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")
        assert self._rows_verify_as(ledger, 1)
        assert ledger.verify().ok
        reader = make_ledger()  # another process: reads the version from the store
        assert reader.verify().ok
        bundle = orjson.loads(Reports(ledger).audit_bundle("r1", "2026-Q3"))
        assert "links" not in bundle["chain"]
        assert check_bundle(orjson.dumps(bundle)).ok

    def test_a_links_1_store_with_no_record_is_read_and_extended_as_links_1(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        """A store written before any record of its mode (links 1, the only links
        then): a reader and a writer tell its links from its head."""
        ledger = make_ledger()
        ledger.chain.put_state(CHAIN_MODE, {"mode": "sha256"})
        seeded(ledger, "r1")
        raw = Raw(db_url)
        with raw.cursor() as c:  # as before the record existed
            c.execute(raw.q(f"DELETE FROM {raw.state_table} WHERE key = ?"), (CHAIN_MODE,))
        assert make_ledger().verify().ok  # a reader
        writer = make_ledger()
        writer.import_lines(jsonl(sale("S1", "r1")), actor="crm")
        assert writer.chain.get_state(CHAIN_MODE) == {"mode": "sha256"}
        assert self._rows_verify_as(writer, 1)
        assert make_ledger().verify().ok
