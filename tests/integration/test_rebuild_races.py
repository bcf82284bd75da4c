"""A replay of every read model (a version changed, or `rebuild`) racing the
projector of another process: every event is still applied exactly once, on
SQLite and PostgreSQL (SPEC §7: projections catch up exactly once).

The replay folds the log up to some position, computes the rows, then commits
them with that position. Meanwhile another process's projector — the worker, or
an API's — keeps catching up. Its batch read before the replay committed and
written after must not land on the replayed rows as if nothing happened."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from ledger.application import Ledger
from projections import runner
from projections.runner import Projector, verify_views
from projections.storage import open_view_store
from projections.storage.core import Batch
from projections.storage.postgres import REBUILD_LOCK
from tests.builders import jsonl, sale, seeded
from tests.conftest import PG_URL

WAIT = 60.0


@contextmanager
def _rebuild_lock_held(ledger: Ledger) -> Iterator[Callable[[], None]]:
    """On PostgreSQL, the rebuild lock held by another session (another replay
    still at work): a replay started meanwhile folds the log but waits to touch
    the read models. Yields the call that releases it. SQLite has no such lock:
    its replay touches the read models only when it commits."""
    if not ledger.store.is_postgres:
        yield lambda: None
        return
    schema = ledger.factory.datastore.schema  # type: ignore[attr-defined]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        key = (REBUILD_LOCK, schema)
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", key)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", key)
                released = True

        try:
            yield release
        finally:
            release()


def _counts(ledger: Ledger) -> dict[str, int]:
    return dict(Counter(r.type for r in ledger.iter_log()))


def test_a_batch_read_before_a_replay_commits_is_not_written_over_it(
    db_url: str, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker is at T; a replay folds the log to P < T' (the worker moved on
    to T' = P + 1 meanwhile); the worker reads its next batch (P + 2), the replay
    commits at P, then the worker writes. Before, the worker's write moved the
    position from P to P + 2 as if it had been at P: the event at P + 1 — in
    neither the replay nor the batch — was lost for good (its rep's rows stale,
    its count missing, `verify` failing)."""
    ledger = seeded(make_ledger(), "r1", "r2", "r3")
    worker = Projector(make_ledger())
    worker.catch_up()

    folded, go = threading.Event(), threading.Event()
    real_rows = runner.encoded_rows

    def held_rows(*args: Any, **kwargs: Any) -> Any:
        folded.set()
        assert go.wait(WAIT), "the test never let the replay go on"
        return real_rows(*args, **kwargs)

    monkeypatch.setattr(runner, "encoded_rows", held_rows)
    ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")  # P: in the replay
    replayer = make_ledger()
    failures: list[BaseException] = []

    def replay() -> None:
        try:
            runner.rebuild(replayer, workers=1)
        except BaseException as exc:
            failures.append(exc)
            raise

    with _rebuild_lock_held(ledger) as release:
        replaying = threading.Thread(target=replay)
        replaying.start()
        assert folded.wait(WAIT)
        ledger.import_lines(jsonl(sale("S2", "r2")), actor="crm")  # P + 1
        assert worker.catch_up().applied == 2  # S1 and S2: the worker is at P + 1
        ledger.import_lines(jsonl(sale("S3", "r3")), actor="crm")  # P + 2

        read, committed = threading.Event(), threading.Event()
        real_write = worker.store.write

        def late_write(batch: Batch) -> None:
            read.set()
            committed.wait(WAIT)  # on PostgreSQL the write would wait for the replay anyway
            real_write(batch)

        monkeypatch.setattr(worker.store, "write", late_write)
        catching_up = threading.Thread(target=worker.catch_up)
        catching_up.start()
        assert read.wait(WAIT)
        release()
        go.set()
        replaying.join(WAIT)
        assert not replaying.is_alive()
        assert not failures
        committed.set()
        catching_up.join(WAIT)
        assert not catching_up.is_alive()

    monkeypatch.setattr(worker.store, "write", real_write)
    worker.catch_up()
    head = ledger.head()
    assert head is not None
    store = open_view_store(ledger)
    assert store.position() == head.position
    assert store.event_counts() == _counts(ledger)
    assert verify_views(ledger) == []
