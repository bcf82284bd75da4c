"""The ceilings our figures are compared with, measured in the same run:
raw executemany into a scratch table shaped like the events table, the
`eventsourcing` library's own batched save, and its notification scan."""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from ledger.storage import library_env

__all__ = ["library_batched_save", "library_scan", "raw_executemany"]


def raw_executemany(url: str, rows: int, *, batch: int = 1_000) -> float:
    """Rows/s of plain executemany (batch rows per transaction) into a scratch table."""
    payload = b'{"actor":"crm-sync","data":{"amount":"1234.50","rep_id":"rep-001"}}' * 3
    data = [(uuid.uuid4().hex, 1, "scratch", payload) for _ in range(rows)]
    started = time.perf_counter()
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///") + ".scratch"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS scratch (id TEXT, v INTEGER, topic TEXT, state BLOB, PRIMARY KEY (id, v))"
        )
        started = time.perf_counter()
        for i in range(0, rows, batch):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO scratch VALUES (?,?,?,?)", data[i : i + batch])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
        os.remove(path)  # noqa: PTH107
        for suffix in ("-wal", "-shm"):
            if os.path.exists(path + suffix):  # noqa: PTH110
                os.remove(path + suffix)  # noqa: PTH107
        return rows / elapsed
    base = url.split("?", maxsplit=1)[0]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(
            "CREATE TEMP TABLE scratch (id uuid, v bigint, topic text, state bytea, n bigserial, PRIMARY KEY (id, v))"
        )
        started = time.perf_counter()
        with conn.cursor() as cur:
            for i in range(0, rows, batch):
                with conn.transaction():
                    cur.executemany(
                        "INSERT INTO scratch (id, v, topic, state) VALUES (%s,%s,%s,%s)",
                        data[i : i + batch],
                    )
        return rows / (time.perf_counter() - started)


class _Account(Aggregate):
    @event("Opened")
    def __init__(self) -> None:
        self.balance = Decimal(0)

    @event("Credited")
    def credit(self, amount: Decimal) -> None:
        self.balance += amount


@contextmanager
def _library_env(url: str) -> Iterator[dict[str, Any]]:
    """The library's own settings for ``url``'s store, in a scratch database (SQLite)
    or schema (PostgreSQL) of its own, dropped after: its events must not land in
    the ledger's table (they would be rows without chain links, and every log
    read past the head would walk them)."""
    env = dict(library_env(url).env)
    env.pop("APPLICATION_RECORDER_TOPIC", None)
    if "SQLITE_DBNAME" in env:
        path = f"{env['SQLITE_DBNAME']}.ceiling-{uuid.uuid4().hex[:6]}"
        env["SQLITE_DBNAME"] = path
        try:
            yield env
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
        return
    schema = f"ceiling_{uuid.uuid4().hex[:8]}"
    base = url.split("?", 1)[0]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    env["POSTGRES_SCHEMA"] = schema
    try:
        yield env
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


class _Bench(Application[Any]):
    name = "Bench"


def library_batched_save(url: str, events: int, *, per_save: int = 100) -> tuple[float, float]:
    """(events/s saving ``per_save`` aggregates of 10 events per transaction,
    events/s scanning and decoding them back in pages of 1,000)."""
    with _library_env(url) as env:
        return _save_and_scan(_Bench(env=env), events, per_save)


def _save_and_scan(app: _Bench, events: int, per_save: int) -> tuple[float, float]:
    aggregates = max(events // 10, per_save)
    started = time.perf_counter()
    batch: list[Any] = []
    written = 0
    for _ in range(aggregates):
        account = _Account()
        for _ in range(9):
            account.credit(Decimal("12.34"))
        batch.append(account)
        if len(batch) == per_save:
            app.save(*batch)
            written += 10 * len(batch)
            batch = []
    if batch:
        app.save(*batch)
        written += 10 * len(batch)
    save_rate = written / (time.perf_counter() - started)
    scan_rate = library_scan(app)
    app.close()
    return save_rate, scan_rate


def library_scan(app: Application[Any]) -> float:
    started = time.perf_counter()
    count = 0
    after = 0
    while page := app.recorder.select_notifications(after, 1_000, inclusive_of_start=False):
        for n in page:
            app.mapper.to_domain_event(n)
        count += len(page)
        after = page[-1].id
    return count / (time.perf_counter() - started)
