"""The embedded store's connection pool: a writer waiting for the writer
connection holds up no reader (`ledger.backends.sqlite.WritersQueuedPool`).

The library's pool let a waiting writer keep its one-at-a-time turn until the
writer before it was done or 5 s passed: with the API's projector waiting to
write while an import held the writer, every read of the process waited, and
the import's own read of the plans waited on itself for the 5 s.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import ConnectionUnavailableError

from ledger.application import Ledger
from ledger.backends.sqlite import WritersQueuedPool
from ledger.ingestion.group_commit import GroupCommitter
from ledger.ingestion.parse import parse_line
from tests.builders import sale, seeded


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield ledger
    ledger.close()


def _pool(ledger: Ledger) -> WritersQueuedPool:
    pool = ledger.factory.datastore.pool  # type: ignore[attr-defined]
    assert isinstance(pool, WritersQueuedPool)
    return pool


def _take_writer(pool: WritersQueuedPool, outcomes: list[str]) -> None:
    try:
        conn = pool.get_connection(is_writer=True)
    except ConnectionUnavailableError:
        outcomes.append("timed out")
        return
    pool.put_connection(conn)
    outcomes.append("written")


def test_a_reader_passes_a_writer_waiting_for_the_writer(ledger: Ledger) -> None:
    pool = _pool(ledger)
    outcomes: list[str] = []
    with ledger.chain.append_session():  # holds the writer connection
        waiting = threading.Thread(target=_take_writer, args=(pool, outcomes))
        waiting.start()
        time.sleep(0.2)  # lets it queue for the writer (not a measurement)
        assert ledger.chain.chain_head() is None  # a read, on a connection of its own
        # answered while the other writer still waits (the library's pool
        # answered only once that writer had timed out, 5 s later)
        assert waiting.is_alive()
        assert outcomes == []
    waiting.join()
    assert outcomes == ["written"]  # and that writer went on once the session ended


def test_writers_still_take_turns(ledger: Ledger) -> None:
    pool = _pool(ledger)
    outcomes: list[str] = []
    first = pool.get_connection(is_writer=True)
    try:
        second = threading.Thread(target=_take_writer, args=(pool, outcomes))
        second.start()
        time.sleep(0.2)
        assert second.is_alive()
        assert outcomes == []
    finally:
        pool.put_connection(first)
    second.join()
    assert outcomes == ["written"]


def test_a_timed_out_writer_leaves_the_queue_open(ledger: Ledger) -> None:
    pool = _pool(ledger)
    first = pool.get_connection(is_writer=True)
    try:
        with pytest.raises(ConnectionUnavailableError):
            pool.get_connection(is_writer=True, timeout=0.05)
    finally:
        pool.put_connection(first)
    conn = pool.get_connection(is_writer=True, timeout=1)  # not left locked
    pool.put_connection(conn)


def test_a_group_commit_at_work_is_not_stopped_under_its_connection(ledger: Ledger) -> None:
    """`GroupCommitter.close` says when its threads are still at work (the API then
    leaves the store open: closing a connection in use can crash the process)."""
    seeded(ledger, "r1")
    committer = GroupCommitter(ledger)
    item, errors = parse_line(json.dumps(sale("C-1", "r1")), line=1)
    assert item is not None
    assert not errors
    with ledger.chain.append_session():  # the writer is busy: the commit waits
        pending = committer.submit([item], actor="crm")
        time.sleep(0.2)
        assert committer.close(timeout=0.05) is False
    assert pending.result().stored == 1  # it went on once the writer was free
    assert committer.close() is True


def test_a_writer_that_got_no_connection_leaves_writing_possible(ledger: Ledger) -> None:
    """Every connection in use (readers of a busy API), a writer times out; once
    they are back, the next writer gets one (the library's pool kept its writer
    lock taken, and the process could never write again)."""
    pool = _pool(ledger)
    readers = [
        pool.get_connection(is_writer=False) for _ in range(pool.pool_size + pool.max_overflow)
    ]
    try:
        with pytest.raises(ConnectionUnavailableError):
            pool.get_connection(is_writer=True, timeout=0.05)
    finally:
        for conn in readers:
            pool.put_connection(conn)
    conn = pool.get_connection(is_writer=True, timeout=1)
    pool.put_connection(conn)
    seeded(ledger, "r1")  # and the ledger writes
    assert ledger.head() is not None


# A thread reads on its connection before and after the ledger is closed under
# it (a projector or a request still at work when a server or a test closes its
# ledger); run in a process of its own, so that a crash fails this test rather
# than taking the test worker down. The library's pool closed the connection in
# use, and CPython's sqlite3 crashed on the thread's next call (SIGSEGV).
_CLOSED_UNDER_A_READER = """
import sys, threading
from ledger.application import Ledger

ledger = Ledger("sqlite:///" + sys.argv[1])
ledger.chain.chain_head()  # makes the tables
pool = ledger.factory.datastore.pool
pool.close_wait_seconds = float(sys.argv[2])
started, go, read = threading.Event(), threading.Event(), []

def reader():
    with ledger.factory.datastore.transaction(commit=False) as cursor:
        started.set()
        go.wait(10)
        for _ in range(200):
            cursor.execute("SELECT count(*) FROM event_chain")
        read.append(cursor.fetchone()[0])

thread = threading.Thread(target=reader)
thread.start()
started.wait(10)
threading.Timer(0.3, go.set).start()
ledger.close()
thread.join(10)
print(read, pool.closed, pool.num_in_use)
"""


@pytest.mark.parametrize(
    ("wait", "closed"),
    [(30.0, True), (0.05, False)],
    ids=["waits-for-the-read", "leaves-it-open-past-the-wait"],
)
def test_closing_the_ledger_under_a_thread_reading_does_not_crash_the_process(
    tmp_path: Path, wait: float, closed: bool
) -> None:
    """`close` waits for connections in use to come back, then closes them
    (the read goes on to its end); one still out after the wait is left open,
    with the pool — a leak at the end of a process, not a crash."""
    printed = _run_alone(_CLOSED_UNDER_A_READER, str(tmp_path / "ledger.db"), str(wait))
    assert printed == ["[0]", str(closed), "0"]


def _run_alone(script: str, *args: str) -> list[str]:
    """What ``script`` prints, run in a process of its own (a crash there fails
    the test instead of ending the test worker)."""
    import subprocess
    import sys

    from tests.builders import ROOT, process_env

    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=process_env(PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    return done.stdout.split()


# A thread keeps taking connections and reading on them (a projector polling,
# a request) while the ledger is closed; the close is held up for a moment
# after its wait found no connection out — a thread switch there — and the
# thread's next connection is taken meanwhile. The close then closed that
# connection under the thread: an error on its next call, or the process
# crashed (SIGSEGV). Run in a process of its own, as above.
_CLOSED_AFTER_THE_WAIT = """
import sys, threading, time
from eventsourcing.persistence import ConnectionPoolClosedError
from eventsourcing.sqlite import SQLiteConnectionPool
from ledger.application import Ledger

ledger = Ledger("sqlite:///" + sys.argv[1])
ledger.chain.chain_head()  # makes the tables
datastore = ledger.factory.datastore
library_close = SQLiteConnectionPool.close
taken = threading.Event()

def held_close(pool):
    taken.clear()
    taken.wait(10)  # the thread took its next connection after the wait
    library_close(pool)

SQLiteConnectionPool.close = held_close
running, outcome = threading.Event(), []

def reader():
    for _ in range(1000):
        try:
            with datastore.transaction(commit=False) as cursor:
                taken.set()
                running.set()
                try:
                    for _ in range(20):
                        cursor.execute("SELECT count(*) FROM event_chain")
                        cursor.fetchone()
                        time.sleep(0.001)
                except Exception as exc:
                    outcome.append("read: " + type(exc).__name__)
                    raise
        except ConnectionPoolClosedError:
            outcome.append("refused")
            return
        except Exception as exc:
            outcome.append(type(exc).__name__)
            return
        time.sleep(0.02)  # none out: the close's wait ends here

thread = threading.Thread(target=reader, daemon=True)
thread.start()
running.wait(10)
ledger.close()
thread.join(30)
print(repr(outcome).replace(" ", ""), datastore.pool.closed, datastore.pool.num_in_use)
"""


def test_no_connection_is_taken_between_the_wait_and_the_close(tmp_path: Path) -> None:
    """Once `close` has found no connection out, none is handed out any more
    (a thread asking is refused, `ConnectionPoolClosedError`, as after the
    close): the library's close never runs with a connection in use."""
    printed = _run_alone(_CLOSED_AFTER_THE_WAIT, str(tmp_path / "ledger.db"))
    assert printed == ["['refused']", "True", "0"]
