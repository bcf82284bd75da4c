"""A rebuild's forked workers (`projections.fanout`) leave what they inherit
to the process that forked them: their collector finalises none of it."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from projections import fanout, runner
from projections.statement import AsOf
from projections.storage.core import Replacement

_REPS = ("r1", "r2", "r3", "r4")
_FINALISED: list[tuple[str, int]] = []  # (what, the process that finalised it)


class _Cycle:
    """Garbage the collector alone can free — as a cycle holding an sqlite3
    connection, whose finaliser closes it — noting where it was finalised."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.itself = self

    def __del__(self) -> None:
        _FINALISED.append((self.what, os.getpid()))


def _collector_report(_facts: Any, _as_of: Any, reps: Any, *_: Any, **__: Any) -> Iterator[Any]:
    """In place of a rep's rows, in a worker: what a full collection there
    finalised (its own garbage, and what it inherited), and how its collector
    is set."""
    for rep in reps:
        own = _Cycle("own")
        del own
        gc.collect()
        report = {
            "finalised": sorted({what for what, pid in _FINALISED if pid == os.getpid()}),
            "frozen": gc.get_freeze_count() > 0,
            "collecting": gc.isenabled(),
        }
        yield Replacement("statements", rep, {"collector": report})


def _reports(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the two workers forked for four reps report, one report a rep."""
    monkeypatch.setattr(runner, "compute_rows", _collector_report)
    facts = SimpleNamespace(reps=dict.fromkeys(_REPS), runs={})
    rows = fanout.encoded_rows(facts, AsOf(0, None, None), _REPS, (), workers=2)
    return [json.loads(doc) for _, found in rows for _, _, doc in found]


@pytest.fixture
def collector_paused() -> Iterator[None]:
    """The collector paused, as a rebuild pauses it (`ledger.records.bulk`):
    garbage made now outlives the fork; collected after the test."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        if was_enabled:
            gc.enable()


@pytest.mark.usefixtures("collector_paused")
def test_a_worker_never_finalises_garbage_it_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    """Garbage the rebuilding process had not collected when it forked — a
    cycle holding its store connection — was collected in each worker too,
    its finaliser run there (an sqlite3 connection closed, a psycopg one
    ending the parent's session on the server). A worker's collector leaves
    all it inherited alone, and still frees its own garbage."""
    inherited = _Cycle("inherited")
    del inherited
    reports = _reports(monkeypatch)
    assert len(reports) == len(_REPS)
    assert all(r["finalised"] == ["own"] for r in reports), reports
    assert all(r["frozen"] for r in reports)
    assert not gc.isenabled()  # this process's collector left as it was
    assert ("inherited", os.getpid()) not in _FINALISED  # still this process's to free


@pytest.fixture
def collector_running() -> Iterator[None]:
    """The collector running, as in a replay `verify` computes."""
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was_enabled:
            gc.disable()


@pytest.mark.usefixtures("collector_running")
def test_a_worker_collects_as_its_parent_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The collector paused across the fork runs again in a worker forked
    from a process where it ran, and in that process after: a worker's own
    cycles do not pile up."""
    reports = _reports(monkeypatch)
    assert [r["collecting"] for r in reports] == [True] * len(_REPS)
    assert all(r["frozen"] for r in reports)
    assert gc.isenabled()
