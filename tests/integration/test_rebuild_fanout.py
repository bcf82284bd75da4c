"""A rebuild's rows computed by forked processes (`projections.fanout`): the
same read models as one process computes, on SQLite and PostgreSQL, and a
worker that fails or dies fails the rebuild with nothing of it seen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from demo import run_demo
from ledger.application import Ledger
from projections import runner
from projections.runner import rebuild, verify_views
from projections.service import Reports
from projections.storage import VIEWS, Replacement, open_view_store
from projections.storage.core import Batch
from tests.builders import enrol, jsonl, sale

# more reps than the demo's, so that each of three processes gets several
_EXTRA_REPS = [f"rep-x{i:02d}" for i in range(9)]


@pytest.fixture
def projected(ledger: Ledger) -> Ledger:
    """The demo quarter (splits, a currency, a two-level override) and nine more
    reps with sales, its read models caught up."""
    run_demo(ledger)
    ledger.import_lines(
        jsonl(*(enrol(rep, plan_id="field-sales") for rep in _EXTRA_REPS)), actor="hr-sync"
    )
    sales = [
        sale(f"x-{rep}-{n}", rep, f"{1000 + 137 * n}.50", category="software")
        for rep in _EXTRA_REPS
        for n in range(3)
    ]
    ledger.import_lines(jsonl(*sales), actor="crm-sync")
    Reports(ledger).catch_up()
    return ledger


def _every_row(ledger: Ledger) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    store = open_view_store(ledger)
    return {view: store.rows(view) for view in VIEWS}


def _reps(ledger: Ledger) -> list[str]:
    return sorted({scope for scope, _, _ in open_view_store(ledger).rows("reps")})


class TestTheSameRows:
    @pytest.mark.parametrize("workers", [2, 3])
    def test_as_one_process_computes_them(self, projected: Ledger, workers: int) -> None:
        rebuild(projected, workers=1)
        alone = _every_row(projected)
        assert len(alone["statements"]) > len(_EXTRA_REPS)
        rebuild(projected, workers=workers)
        assert _every_row(projected) == alone
        assert verify_views(projected) == []

    def test_the_default_forks_workers_when_there_are_cores(self, projected: Ledger) -> None:
        alone = _every_row(projected)
        rebuild(projected)  # one process per core (this machine's), if several
        assert _every_row(projected) == alone


class TestVerify:
    def test_a_replay_computed_by_workers_finds_a_changed_row(self, projected: Ledger) -> None:
        assert verify_views(projected, workers=2) == []
        store = open_view_store(projected)
        rep_id = _reps(projected)[-1]  # dealt to the forked worker of two
        rows = {key: doc for _, key, doc in store.rows("statements", rep_id)}
        key = min(rows)
        rows[key] = {**rows[key], "total": "1.00"}
        store.write(Batch([Replacement("statements", rep_id, rows)], store.position() + 1))
        scope = rep_id
        assert verify_views(projected, workers=2) == [
            f"statements {(scope, key)}: differs from a fresh replay"
        ]
        assert verify_views(projected, workers=1) == verify_views(projected, workers=2)


class TestAFailingWorker:
    def _failing_for(self, rep_id: str, monkeypatch: pytest.MonkeyPatch, *, die: bool) -> None:
        """Computing ``rep_id``'s rows raises (or the process exits) — in whichever
        process computes it (a fork inherits the patch)."""
        real = runner.compute_rows

        def failing(facts: Any, as_of: Any, reps: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            for replacement in real(facts, as_of, reps, *args, **kwargs):
                if replacement.scope == rep_id:
                    if die:
                        os._exit(3)
                    raise RuntimeError("the machine fell over")
                yield replacement

        monkeypatch.setattr(runner, "compute_rows", failing)

    @pytest.mark.parametrize("die", [False, True], ids=["raises", "dies"])
    def test_fails_the_rebuild_and_leaves_the_read_models(
        self, projected: Ledger, monkeypatch: pytest.MonkeyPatch, *, die: bool
    ) -> None:
        before = _every_row(projected)
        position = open_view_store(projected).position()
        victim = _reps(projected)[1]  # computed by whichever forked worker takes it
        self._failing_for(victim, monkeypatch, die=die)
        expected = "exited without answering" if die else "fell over"
        with pytest.raises(RuntimeError, match=expected) as failed:
            rebuild(projected, workers=2)
        assert repr(victim) in str(failed.value)
        monkeypatch.undo()
        assert open_view_store(projected).position() == position
        assert _every_row(projected) == before
        assert verify_views(projected) == []


_KILLED_REBUILD = """
import os, sys, time
from ledger.application import Ledger
from projections import runner

parent, compute = os.getpid(), runner.compute_rows

def stalled(facts, as_of, reps, runs, **options):
    if os.getpid() != parent:  # the forked worker: still computing when its parent dies
        print(os.getpid(), flush=True)
        time.sleep(600)
    return compute(facts, as_of, reps, runs, **options)

runner.compute_rows = stalled
runner.rebuild(Ledger(sys.argv[1]), workers=2)
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped yet has exited)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:  # noqa: PTH123
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_worker_never_outlives_a_killed_rebuild(projected: Ledger, db_url: str) -> None:
    """The rebuild killed (SIGKILL, the OOM killer) while its forked worker
    computes: the worker exits. It held the rebuild's database connection (a
    fork inherits it): left waiting, on PostgreSQL the rebuild's transaction was
    never rolled back and every projection write waited on its locks."""
    import signal
    import subprocess
    import sys
    import time

    from tests.builders import process_env

    rebuild_process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_REBUILD, db_url],
        env=process_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert rebuild_process.stdout is not None
    worker = int(rebuild_process.stdout.readline())
    rebuild_process.send_signal(signal.SIGKILL)
    rebuild_process.wait()
    for _ in range(600):  # the worker looks for its parent every half second
        if not _running(worker):
            break
        time.sleep(0.1)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the forked worker outlived the rebuild by a minute")
    ledger = Ledger(db_url)  # the store takes writes again: nothing holds its locks
    ledger.import_lines(jsonl(sale("after-kill", _EXTRA_REPS[0])), actor="crm-sync")
    Reports(ledger).catch_up()
    assert verify_views(ledger) == []
    ledger.close()
