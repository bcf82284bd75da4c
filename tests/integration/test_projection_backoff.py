"""A projection that fails on an event never loops hot (SPEC §7), on SQLite and
PostgreSQL: the follower — in the API's process or the `project --follow`
worker — retries after a growing delay, reports the error (type and message, no
secrets) for `GET /health`, reads keep being served as of where the read models
are, and once the cause is gone the events are applied exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.application import Ledger
from projections import runner
from projections.facts import LedgerFacts
from projections.runner import ProjectionHealth, health_status, public_message, verify_views
from projections.service import Reports
from tests.builders import backoff_allows, enrol, held_replay, jsonl, line, sale, seeded
from tests.payout_scenes import head_of

# A store error can quote its connection string: never shown.
LEAKY = "cannot take this event (postgresql://ledger:hunter2@db:5432/ledger)"
WINDOW_SECONDS = 2.0


class Poison:
    """Makes the projection fail on rep ``r-bad``'s events, one way or another,
    counting the attempts, until `cure`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
        self.attempts = 0
        self._monkeypatch = monkeypatch
        if where == "computation":  # the statement computation of one rep
            real = runner.rep_rows

            def rep_rows(facts: Any, calc: Any, rep_id: str, start: Any = None) -> Any:
                if rep_id == "r-bad":
                    self._fail()
                return real(facts, calc, rep_id, start)

            monkeypatch.setattr(runner, "rep_rows", rep_rows)
        else:  # an event the fold cannot take
            fold = LedgerFacts._on_KpiScored

            def on_kpi(facts: LedgerFacts, r: Any, d: dict[str, Any]) -> set[str]:
                if d["rep_id"] == "r-bad":
                    self._fail()
                return fold(facts, r, d)

            monkeypatch.setattr(LedgerFacts, "_on_KpiScored", on_kpi)

    def _fail(self) -> None:
        self.attempts += 1
        raise ValueError(LEAKY)

    def cure(self) -> None:
        self._monkeypatch.undo()


def _poisoned(ledger: Ledger) -> None:
    ledger.import_lines(
        jsonl(
            enrol("r-bad"),
            sale("S-bad", "r-bad"),
            line("KpiScored", rep_id="r-bad", period="2026-Q3", kpi="market_feedback", score="0.5"),
        ),
        actor="crm",
    )


def _until(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    """Wait for ``condition`` (a generous deadline: a busy machine is slow, never
    asserted on)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


@pytest.fixture(params=["computation", "fold"])
def where(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestInTheApiProcess:
    def test_it_backs_off_reports_and_catches_up_exactly_once(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, where: str
    ) -> None:
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S-1", "r1")), actor="crm")
        reports = Reports(ledger, projections="background")
        reports.start_following()
        try:
            _until(lambda: reports.projector.store.position() == head_of(ledger), "catch-up")
            poison = Poison(monkeypatch, where)
            started = time.monotonic()
            _poisoned(ledger)
            _until(lambda: reports.projection_health()["state"] == "failing", "the failure")
            time.sleep(WINDOW_SECONDS)
            # 0.5 s, then 1 s, then 2 s between attempts: 3 or 4 in the window
            # (a busy machine stretches it); the loop it replaces retried every 50 ms
            allowed = backoff_allows(time.monotonic() - started)
            assert 1 <= poison.attempts <= allowed, (poison.attempts, allowed)
            health = reports.projection_health()
            assert health["state"] == "failing"
            assert health["error"]["type"] == "ValueError"
            assert "cannot take this event" in health["error"]["message"]
            assert "hunter2" not in str(health)
            assert reports.projector.store.position() < head_of(ledger)
            # reads are served meanwhile, as of where the read models are
            statement = reports.statement("r1", "2026-Q3")
            assert statement["as_of"]["position"] < head_of(ledger)
            poison.cure()
            _until(lambda: reports.projector.store.position() == head_of(ledger), "recovery")
            # the health turns ok when the catch-up that committed the head returns:
            # a busy machine can show the head a moment before
            _until(lambda: reports.projection_health()["state"] == "ok", "healthy again")
        finally:
            assert reports.stop_following()
        assert verify_views(ledger) == []  # every event applied exactly once


class TestInTheWorker:
    def test_the_worker_backs_off_and_the_api_reports_its_error(
        self, ledger: Ledger, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`project --follow` (`Projector.follow`) in another "process" (ledger):
        the API's `GET /health` reads the worker's report from the database."""
        seeded(ledger, "r1")
        poison = Poison(monkeypatch, "computation")
        _poisoned(ledger)
        api_side = Reports(make_ledger(), projections="external")
        started = time.monotonic()
        with _worker(make_ledger()) as worker:
            _until(lambda: api_side.projection_health()["state"] == "failing", "the report")
            time.sleep(WINDOW_SECONDS)
            allowed = backoff_allows(time.monotonic() - started)
            assert 1 <= poison.attempts <= allowed, (poison.attempts, allowed)
            health = api_side.projection_health()
            assert (health["projector"], health["state"]) == ("worker", "failing")
            assert health["error"]["type"] == "ValueError"
            assert "hunter2" not in str(health)
            # a read does not wait for a worker that keeps failing
            assert api_side.fresh() < head_of(ledger)
            poison.cure()
            _until(lambda: worker.store.position() == head_of(ledger), "recovery")
            _until(lambda: api_side.projection_health()["state"] == "ok", "the report")
        assert verify_views(ledger) == []

    def test_a_new_worker_clears_what_a_stopped_one_reported(
        self, ledger: Ledger, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seeded(ledger, "r1")
        poison = Poison(monkeypatch, "computation")
        _poisoned(ledger)
        api_side = Reports(make_ledger(), projections="external")
        with _worker(make_ledger()):
            _until(lambda: api_side.projection_health()["state"] == "failing", "the report")
        poison.cure()
        with _worker(make_ledger()) as worker:
            _until(lambda: worker.store.position() == head_of(ledger), "the catch-up")
            assert api_side.projection_health()["state"] == "ok"

    def test_a_worker_not_heard_from_is_reported_silent(
        self, ledger: Ledger, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A worker killed while fine left "ok" behind, and `GET /health` said ok
        while the lag grew. A following worker says it is alive every
        `HEARTBEAT_SECONDS`; a report older than `PROJECTOR_SILENT_SECONDS` is
        ``silent`` (the status degraded)."""
        seeded(ledger, "r1")
        monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.05)  # this thread's worker only
        api_side = Reports(make_ledger(), projections="external")

        def said() -> Any:
            return ledger.chain.get_state(runner.PROJECTOR_STATE)

        with _worker(make_ledger()) as worker:
            _until(lambda: worker.store.position() == head_of(ledger), "the catch-up")
            first = said()["updated_at"]
            _until(lambda: said()["updated_at"] != first, "a heartbeat while idle")
        assert api_side.projection_health()["state"] == "ok"
        # its last word, a minute and more ago (its process killed then)
        ago = timedelta(seconds=runner.PROJECTOR_SILENT_SECONDS + 5)
        ledger.chain.put_state(
            runner.PROJECTOR_STATE, {**said(), "updated_at": (datetime.now(UTC) - ago).isoformat()}
        )
        health = api_side.projection_health()
        assert (health["projector"], health["state"]) == ("worker", "silent")
        assert health["silent_seconds"] >= runner.PROJECTOR_SILENT_SECONDS
        assert health_status(health) == "degraded"

    def test_a_worker_that_stops_mid_replay_is_reported_silent(
        self, ledger: Ledger, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A worker replaying a changed read model says so, and keeps saying it is
        alive while it replays (a replay of a long log takes minutes). Killed
        mid-replay, it left "rebuilding" behind, which `GET /health` showed —
        status ok — for good: only an "ok" report was ever found silent."""
        from projections import disputes
        from projections.versioning import ReadModel

        seeded(ledger, "r1")
        runner.Projector(ledger).catch_up()
        monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.05)  # this thread's worker only
        monkeypatch.setattr(disputes, "REPS", ReadModel("reps", disputes.REPS.version + 1))
        release = held_replay(monkeypatch)
        api_side = Reports(make_ledger(), projections="external")

        def said() -> Any:
            return ledger.chain.get_state(runner.PROJECTOR_STATE) or {}

        try:
            with _worker(make_ledger()):
                _until(lambda: said().get("state") == "rebuilding", "the replay")
                first = said()["updated_at"]
                _until(lambda: said()["updated_at"] != first, "a heartbeat while replaying")
                assert said()["state"] == "rebuilding"
                # its last word, a minute and more ago (its process killed then)
                ago = timedelta(seconds=runner.PROJECTOR_SILENT_SECONDS + 5)
                stale = {**said(), "updated_at": (datetime.now(UTC) - ago).isoformat()}
                release.set()
        finally:
            release.set()
        ledger.chain.put_state(runner.PROJECTOR_STATE, stale)
        health = api_side.projection_health()
        assert (health["projector"], health["state"]) == ("worker", "silent")
        assert health_status(health) == "degraded"
        assert verify_views(ledger) == []


@contextmanager
def _worker(ledger: Ledger) -> Iterator[runner.Projector]:
    projector = runner.Projector(ledger)
    stop = threading.Event()
    thread = threading.Thread(
        target=projector.follow,
        kwargs={"stop": stop.is_set, "wait": stop.wait, "poll_seconds": 0.05},
    )
    thread.start()
    try:
        yield projector
    finally:
        stop.set()
        thread.join(timeout=120)
        assert not thread.is_alive()


class TestBackoff:
    def test_delays_grow_and_are_capped_and_success_clears_them(self) -> None:
        health = ProjectionHealth(first_retry_seconds=0.5, max_retry_seconds=4.0)
        delays = [health.failed(ValueError("x")) for _ in range(6)]
        assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
        assert health.to_dict()["failures"] == 6
        # an attempt that took long rests in proportion (`pause_after`)
        assert health.failed(ValueError("x"), at_least=9.0) == 9.0
        health.recovered()
        assert health.to_dict() == {
            "state": "ok",
            "error": None,
            "failures": 0,
            "failing_since": None,
            "retry_in_seconds": None,
        }

    @pytest.mark.parametrize(
        ("message", "shown"),
        [
            (LEAKY, "cannot take this event (postgresql://ledger:***@db:5432/ledger)"),
            ("connect failed: password=hunter2 host=db", "connect failed: password=*** host=db"),
            ("first line\nsecond line", "first line"),
        ],
    )
    def test_messages_keep_no_secret(self, message: str, shown: str) -> None:
        assert public_message(RuntimeError(message)) == shown
