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

    def test_the_default_deals_out_reps_when_there_are_cores(self, projected: Ledger) -> None:
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
        victim = _reps(projected)[1]  # the second rep: the first forked worker's
        self._failing_for(victim, monkeypatch, die=die)
        expected = "exited without answering" if die else "fell over"
        with pytest.raises(RuntimeError, match=expected) as failed:
            rebuild(projected, workers=2)
        assert repr(victim) in str(failed.value)
        monkeypatch.undo()
        assert open_view_store(projected).position() == position
        assert _every_row(projected) == before
        assert verify_views(projected) == []
