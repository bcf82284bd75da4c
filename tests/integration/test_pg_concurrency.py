"""Eight concurrent writers on PostgreSQL, with and without their backends being
killed under them (`pg_terminate_backend`): every acknowledged event is stored
exactly once, positions strictly increase, the chain verifies, and no retry is
ever reported as a conflict."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import psycopg
import pytest

from ledger.application import Ledger
from ledger.errors import ConflictError
from tests.builders import enrol, jsonl, seeded
from tests.conftest import PG_URL

WRITERS = 8
BATCHES = 12
PER_BATCH = 5
ATTEMPTS = 40


def _batch(writer: int, batch: int) -> list[str]:
    """Five sales; every third batch is shared by all writers (identical content)."""
    owner = "shared" if batch % 3 == 0 else f"w{writer}"
    return jsonl(
        *(
            {
                "type": "SaleRecorded",
                "occurred_at": "2026-07-14T10:00:00+08:00",
                "actor": "crm",
                "sale_id": f"{owner}-b{batch}-s{i}",
                "rep_id": "r1",
                "amount": f"{100 + i}.00",
                "currency": "CNY",
            }
            for i in range(PER_BATCH)
        )
    )


class Writer:
    """A client: its own Ledger (own pool), retrying a batch on any failure."""

    def __init__(self, url: str, number: int) -> None:
        self.ledger = Ledger(url)
        self.number = number
        self.acked: list[str] = []
        self.conflicts: list[str] = []
        self.retries = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for batch in range(BATCHES):
                self._send(_batch(self.number, batch))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.ledger.close()

    def _send(self, lines: list[str]) -> None:
        for attempt in range(ATTEMPTS):
            try:
                self.ledger.import_lines(lines, actor="crm")
            except ConflictError as exc:
                self.conflicts.append(str(exc))
                return
            except Exception:
                if attempt == ATTEMPTS - 1:
                    raise
                self.retries += 1
                time.sleep(0.05)
                continue
            self.acked.extend(json.loads(line)["sale_id"] for line in lines)
            return


def _run(url: str, started: threading.Event | None = None) -> list[Writer]:
    writers = [Writer(url, i) for i in range(WRITERS)]  # opened before any kill
    if started is not None:
        started.set()
    threads = [threading.Thread(target=w.run) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert [w.error for w in writers if w.error] == []
    return writers


def _check(ledger: Ledger, writers: list[Writer]) -> None:
    records = list(ledger.iter_log())
    positions = [r.position for r in records]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    stored = Counter(r.data["sale_id"] for r in records if r.type == "SaleRecorded")
    assert all(count == 1 for count in stored.values()), "no sale stored twice"
    acked = {sale for w in writers for sale in w.acked}
    assert acked <= set(stored), "every acknowledged sale is stored"
    expected = {
        f"{owner}-b{b}-s{i}"
        for b in range(BATCHES)
        for i in range(PER_BATCH)
        for owner in ({"shared"} if b % 3 == 0 else {f"w{w}" for w in range(WRITERS)})
    }
    assert set(stored) == expected
    assert acked == expected
    report = ledger.verify()
    assert report.ok, report.summary()


@pytest.mark.postgres
def test_eight_concurrent_writers(pg_schema_url: str) -> None:
    ledger = seeded(Ledger(pg_schema_url))
    ledger.import_lines(jsonl(enrol("r1")), actor="hr")
    writers = _run(pg_schema_url)
    assert [c for w in writers for c in w.conflicts] == []
    _check(ledger, writers)
    ledger.close()


@pytest.mark.postgres
def test_writers_survive_killed_backends(pg_schema_url: str) -> None:
    ledger = seeded(Ledger(pg_schema_url))
    ledger.import_lines(jsonl(enrol("r1")), actor="hr")
    schema = pg_schema_url.rsplit("schema=", 1)[1]
    killed = 0
    done, started = threading.Event(), threading.Event()

    def chaos() -> None:
        nonlocal killed
        started.wait(timeout=60)
        with psycopg.connect(PG_URL, autocommit=True, application_name="chaos") as conn:
            while not done.is_set():
                # Only this test's writers: busy backends whose statement names
                # its schema (other sessions on the server are left alone).
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND application_name <> 'chaos' AND backend_type = 'client backend' "
                    "AND state <> 'idle' AND strpos(query, %s) > 0",
                    (schema,),
                ).fetchall()
                killed += sum(1 for (ok,) in rows if ok)
                time.sleep(0.03)

    thread = threading.Thread(target=chaos)
    thread.start()
    try:
        writers = _run(pg_schema_url, started)
    finally:
        done.set()
        thread.join(timeout=10)
    assert killed > 0, "the chaos thread really killed backends"
    conflicts = [c for w in writers for c in w.conflicts]
    assert conflicts == [], f"a retry was reported as a conflict: {conflicts[:3]}"
    _check(ledger, writers)
    ledger.close()


def _drop_connection_once(ledger: Ledger, *, after_commit: bool) -> list[int]:
    """Make the next append session lose its connection: before it commits, or
    after the commit went through (only the reply lost). Returns a call counter."""
    from contextlib import contextmanager

    from eventsourcing.persistence import OperationalError

    recorder = ledger.recorder
    real = recorder.append_session  # type: ignore[attr-defined]
    calls = [0]

    @contextmanager
    def flaky(**kwargs):  # type: ignore[no-untyped-def]
        calls[0] += 1
        first = calls[0] == 1
        with real(**kwargs) as session:
            yield session
            if first and not after_commit:
                msg = "server closed the connection unexpectedly"
                raise OperationalError(msg)
        if first and after_commit:
            msg = "server closed the connection unexpectedly"
            raise OperationalError(msg)

    recorder.append_session = flaky  # type: ignore[attr-defined]
    return calls


def _stored_once(ledger: Ledger, lines: list[str]) -> None:
    stored = Counter(r.data["sale_id"] for r in ledger.iter_log() if r.type == "SaleRecorded")
    assert sorted(stored) == sorted(json.loads(line)["sale_id"] for line in lines)
    assert set(stored.values()) == {1}
    assert ledger.verify().ok


@pytest.mark.postgres
@pytest.mark.parametrize("path", ["import", "record"])
@pytest.mark.parametrize(("after_commit", "attempts"), [(True, 1), (False, 2)])
def test_a_dropped_connection_stores_the_batch_exactly_once(
    pg_schema_url: str, path: str, *, after_commit: bool, attempts: int
) -> None:
    """The connection drops after the commit (only the reply is lost: the ledger
    finds its last link in the stored chain and reports the batch stored) or
    before it (nothing was stored: the ledger tries again on a fresh connection).
    Either way every event is stored exactly once — never a conflict, never twice."""
    ledger = seeded(Ledger(pg_schema_url))
    ledger.import_lines(jsonl(enrol("r1")), actor="hr")
    calls = _drop_connection_once(ledger, after_commit=after_commit)
    lines = _batch(0, 1)
    if path == "import":
        result = ledger.import_lines(lines, actor="crm")
    else:
        from ledger.ingestion.parse import parse_line

        items = [parse_line(line, line=1)[0] for line in lines]
        result = ledger.record([i for i in items if i is not None], actor="crm")
    assert calls[0] == attempts
    assert (result.stored, result.skipped) == (PER_BATCH, 0)
    _stored_once(ledger, lines)
    ledger.close()


@pytest.mark.postgres
def test_an_import_from_a_one_pass_stream_is_not_retried_blindly(pg_schema_url: str) -> None:
    """When the input cannot be read again, a dropped connection is reported (503,
    nothing stored) instead of silently importing half a stream."""
    from ledger.errors import StoreUnavailableError

    ledger = seeded(Ledger(pg_schema_url))
    ledger.import_lines(jsonl(enrol("r1")), actor="hr")
    _drop_connection_once(ledger, after_commit=False)
    lines = _batch(0, 4)
    with pytest.raises(StoreUnavailableError):
        ledger.import_lines(iter(lines), actor="crm")
    assert not [r for r in ledger.iter_log() if r.type == "SaleRecorded"]
    ledger.close()


def test_a_rebuild_waits_only_for_a_rebuild_of_its_own_schema(pg_schema_url: str) -> None:
    """Two rebuilds of one ledger take turns (an advisory lock); a ledger in
    another schema of the database rebuilds meanwhile — the lock was one for the
    whole database, so a stuck rebuild held up every other ledger's."""
    from projections.runner import rebuild

    schema = pg_schema_url.rsplit("schema=", 1)[1]
    ledger = seeded(Ledger(pg_schema_url), "r1")
    other = f"{schema}_other"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{other}"')
    try:
        with psycopg.connect(PG_URL) as holder:  # a rebuild of this schema, under way
            holder.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (0x1ED6E5, schema))
            elsewhere = seeded(Ledger(pg_schema_url.replace(schema, other)), "r1")
            assert rebuild(elsewhere).applied > 0
            elsewhere.close()
            waiting = threading.Thread(target=rebuild, args=(ledger,), daemon=True)
            waiting.start()
            for _ in range(600):  # this schema's rebuild waits its turn
                found = holder.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchone()
                if waiting.is_alive() is False or (found is not None and found[0] > 0):
                    break
                time.sleep(0.1)
            assert waiting.is_alive()
            holder.rollback()
            waiting.join(timeout=120)
            assert not waiting.is_alive()
    finally:
        ledger.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{other}" CASCADE')
