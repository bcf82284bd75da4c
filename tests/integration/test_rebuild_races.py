"""A replay of every read model (a version changed, or `rebuild`) racing the
projector of another process: every event is still applied exactly once, on
SQLite and PostgreSQL (SPEC §7: projections catch up exactly once).

The replay folds the log up to some position, computes the rows, then commits
them with that position. Meanwhile another process's projector — the worker, or
an API's — keeps catching up. Its batch read before the replay committed and
written after must not land on the replayed rows as if nothing happened."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from ledger.application import Ledger
from projections import disputes, runner
from projections.runner import PROJECTOR_STATE, Projector, verify_views
from projections.storage import open_view_store
from projections.storage.core import Batch
from projections.versioning import ReadModel
from tests.builders import CLI, held_after_fold, jsonl, process_env, sale, seeded

WAIT = 60.0


def _counts(ledger: Ledger) -> dict[str, int]:
    return dict(Counter(r.type for r in ledger.iter_log()))


def _each_event_applied_once(ledger: Ledger) -> None:
    """The read models at the head, each event counted once, equal to a replay."""
    head = ledger.head()
    assert head is not None
    store = open_view_store(ledger)
    assert store.position() == head.position
    assert store.event_counts() == _counts(ledger)
    assert verify_views(ledger) == []


def test_a_batch_read_before_a_replay_commits_is_not_written_over_it(
    db_url: str, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker is at T; a replay folds the log to P < T' (the worker moved on
    to T' = P + 1 meanwhile); the worker reads its next batch (P + 2), the replay
    commits at P, then the worker writes. Before, the worker's write moved the
    position from P to P + 2 as if it had been at P: the event at P + 1 — in
    neither the replay nor the batch — was lost for good (its rep's rows stale,
    its count missing, `verify` failing).

    SQLite only: PostgreSQL's replay takes the rebuild lock and deletes the
    tracking row before it folds, so no batch commits between its fold and its
    commit (a batch written after it lands only on its position: `Batch.after`)."""
    ledger = seeded(make_ledger(), "r1", "r2", "r3")
    if ledger.store.is_postgres:
        pytest.skip("no batch commits between a PostgreSQL replay's fold and its commit")
    worker = Projector(make_ledger())
    worker.catch_up()

    folded, go = held_after_fold(monkeypatch)
    ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")  # P: in the replay
    replayer = make_ledger()
    failures: list[BaseException] = []

    def replay() -> None:
        try:
            runner.rebuild(replayer, workers=1)
        except BaseException as exc:
            failures.append(exc)
            raise

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
    go.set()
    replaying.join(WAIT)
    assert not replaying.is_alive()
    assert not failures
    committed.set()
    catching_up.join(WAIT)
    assert not catching_up.is_alive()

    monkeypatch.setattr(worker.store, "write", real_write)
    worker.catch_up()
    _each_event_applied_once(ledger)


def _newer_rep_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process runs newer code from here on: the rep directory holds names
    in capitals, and its version is raised by one."""
    real = runner.rep_row

    def rep_row(facts: Any, rep_id: str) -> dict[str, Any]:
        row = real(facts, rep_id)
        return {**row, "name": row["name"].upper()}

    monkeypatch.setattr(runner, "rep_row", rep_row)
    monkeypatch.setattr(disputes, "REPS", ReadModel("reps", disputes.REPS.version + 1))


def _until(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert process.poll() is None, f"the worker ended while waiting for {what}"
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def test_an_older_worker_writes_nothing_under_versions_a_newer_process_stamped(
    db_url: str, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rolling deploy: the worker (a real process, this code) checked the
    versions when it started; then a newer process replays the read models and
    stamps its versions. Before, the worker went on writing rows of its own,
    older shape under the newer versions — for good, since nobody checks them
    again: `verify` found r1's directory row unlike a fresh replay. Now its
    batch is refused in its own transaction, and it says why (`/health`)."""
    ledger = seeded(make_ledger(), "r1", "r2")
    Projector(ledger).catch_up()
    store = open_view_store(ledger)
    worker = subprocess.Popen(
        [CLI, "project", "--follow", "--db", db_url],
        env=process_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def worker_state() -> Any:
        return (ledger.chain.get_state(PROJECTOR_STATE) or {}).get("state")

    try:
        _until(lambda: worker_state() == "ok", "the worker to follow", worker)
        _newer_rep_directory(monkeypatch)
        assert Projector(make_ledger()).catch_up().rebuilt
        ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")
        head = ledger.head()
        assert head is not None
        _until(
            lambda: store.position() == head.position or worker_state() == "failing",
            "the worker to take the sale",
            worker,
        )
        kept = ledger.chain.get_state(PROJECTOR_STATE) or {}
        assert (kept.get("error") or {}).get("type") == "ReadModelsNewerError", kept
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    Projector(make_ledger()).catch_up()  # the newer code's projector
    assert store.position() == head.position
    assert verify_views(ledger) == []


def test_writes_during_a_version_replay_are_projected_once_after_it(
    db_url: str, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sales keep coming while the API's projector replays a changed read model:
    readers see the old rows until the replay commits, and every sale — those
    the replay folded, and those after — is applied exactly once."""
    ledger = seeded(make_ledger(), "r1", "r2")
    ledger.import_lines(jsonl(*(sale(f"S{i}", f"r{1 + i % 2}") for i in range(10))), actor="crm")
    Projector(ledger).catch_up()
    store = open_view_store(ledger)
    old_rows = store.rows("reps")
    folded, go = held_after_fold(monkeypatch)
    _newer_rep_directory(monkeypatch)
    projector = Projector(make_ledger())
    replaying = threading.Thread(target=projector.catch_up)
    replaying.start()
    try:
        assert folded.wait(WAIT)
        more = [sale(f"T{i}", f"r{1 + i % 2}", "10.00") for i in range(7)]
        for item in more:
            ledger.import_lines(jsonl(item), actor="crm")
        assert store.rows("reps") == old_rows  # the old read models until the commit
    finally:
        go.set()
        replaying.join(WAIT)
    assert not replaying.is_alive()
    assert store.rows("reps") != old_rows
    assert projector.catch_up().applied == len(more)
    assert projector.catch_up().applied == 0
    assert store.event_counts() == _counts(ledger)
    assert verify_views(ledger) == []


def test_a_replay_that_fails_leaves_the_old_read_models_and_is_tried_again(
    db_url: str, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed read model whose new code fails on one rep: nothing of the
    replay is kept — rows, position, versions as they were — the follower says
    it is failing, and once the fault is gone its retry replays."""
    ledger = seeded(make_ledger(), "r1", "r2")
    ledger.import_lines(jsonl(sale("S1", "r1"), sale("S2", "r2")), actor="crm")
    Projector(ledger).catch_up()
    store = open_view_store(ledger)
    before = (
        store.versions(),
        store.position(),
        {v: store.rows(v) for v in ("reps", "statements")},
    )
    _newer_rep_directory(monkeypatch)
    newer = runner.rep_row
    broken = {"r2"}

    def failing_row(facts: Any, rep_id: str) -> dict[str, Any]:
        if rep_id in broken:
            raise RuntimeError(f"no row for {rep_id}")
        return newer(facts, rep_id)

    monkeypatch.setattr(runner, "rep_row", failing_row)
    projector = Projector(make_ledger())
    waits: list[float] = []
    projector.follow(stop=lambda: projector.health.failing or len(waits) > 3, wait=waits.append)
    health = projector.health.to_dict()
    assert (health["state"], health["error"]["message"]) == ("failing", "no row for r2")
    assert "rebuild" not in health
    after = (store.versions(), store.position(), {v: store.rows(v) for v in ("reps", "statements")})
    assert after == before
    broken.clear()
    assert projector.catch_up().rebuilt
    assert store.event_counts() == _counts(ledger)
    assert verify_views(ledger) == []


def test_two_processes_starting_on_a_changed_version_replay_it_once(
    db_url: str, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API and the worker start together after an upgrade: both find a
    version changed before either has replayed. Before, both replayed, the
    second deleting and rewriting every row the first had just committed (on
    PostgreSQL it held the read models' tracking row meanwhile: the projection
    stood still for a second replay). Now the second finds the versions made
    and keeps the first's rows: one replay, and both then follow it."""
    ledger = seeded(make_ledger(), "r1", "r2")
    ledger.import_lines(jsonl(*(sale(f"S{i}", f"r{1 + i % 2}") for i in range(20))), actor="crm")
    Projector(ledger).catch_up()
    _newer_rep_directory(monkeypatch)
    both_checked = threading.Barrier(2, timeout=WAIT)
    real = runner._replay_all

    def replay_after_both_checked(*args: Any, **kwargs: Any) -> Any:
        both_checked.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "_replay_all", replay_after_both_checked)
    projectors = [Projector(make_ledger()), Projector(make_ledger())]
    done: list[Any] = []
    threads = [threading.Thread(target=lambda p=p: done.append(p.catch_up())) for p in projectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(done) == 2
    assert sorted(d.rebuilt for d in done) == [False, True]
    ledger.import_lines(jsonl(sale("S-after", "r1")), actor="crm")
    for projector in projectors:
        projector.catch_up()
    _each_event_applied_once(ledger)
