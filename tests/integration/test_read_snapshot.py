"""`ViewStore.snapshot` and `Reports.snapshot`, on SQLite and PostgreSQL: a page
or list that reads several read models reads them as of one moment, however the
projector moves on meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from ledger.application import Ledger
from projections import service
from projections.queues import Viewer, WorkQueues
from projections.service import Reports
from projections.storage.core import Batch, Replacement, ViewStore
from tests.builders import enrol, jsonl, payouts, sale, seeded

PERIOD = "2026-Q3"
FINANCE = Viewer("finance", "fin-amy", decides=frozenset({"run"}))
# how long a second thread is given to start a second projector of its own
_SECOND_MAKES_ONE_SECONDS = 0.5


@pytest.fixture
def reports(ledger: Ledger) -> Reports:
    seeded(ledger)
    ledger.import_lines(
        jsonl(enrol("r1", team="east"), sale("S1", "r1", "10000.00")), actor="crm-sync"
    )
    reports = Reports(ledger)
    reports.catch_up()
    return reports


def _move(store: ViewStore, view: str, change: dict[str, Any]) -> dict[str, Any]:
    """What a projector's next batch would do: r1's ``view`` row of the period
    changed, the position one further (written on a connection of its own)."""
    before = store.row(view, "r1", PERIOD)
    assert before is not None
    after = {**before, **change}
    store.write(
        Batch([Replacement(view, "r1", {PERIOD: after}, from_key=PERIOD)], store.position() + 1)
    )
    return after


def _read_in_another_thread(store: ViewStore) -> dict[str, Any] | None:
    found: list[dict[str, Any] | None] = []
    reader = threading.Thread(target=lambda: found.append(store.row("balances", "r1", PERIOD)))
    reader.start()
    reader.join()
    return found[0]


class TestViewStoreSnapshot:
    def test_reads_inside_see_one_moment_and_others_see_the_writes(self, reports: Reports) -> None:
        store = reports.projector.store
        at = store.position()
        with store.snapshot():
            before = store.row("balances", "r1", PERIOD)
            assert before is not None
            after = _move(store, "balances", {"total": "1.00"})
            assert store.row("balances", "r1", PERIOD) == before
            assert store.row_json("balances", "r1", PERIOD) is not None
            assert [doc for _, key, doc in store.rows("balances", "r1") if key == PERIOD] == [
                before
            ]
            assert store.position() == at
            assert store.in_snapshot()
            # another thread is not pinned by this one's snapshot
            assert _read_in_another_thread(store) == after
        assert not store.in_snapshot()
        assert store.row("balances", "r1", PERIOD) == after
        assert store.position() == at + 1

    def test_a_snapshot_inside_a_snapshot_is_the_outer_one(self, reports: Reports) -> None:
        store = reports.projector.store
        with store.snapshot():
            before = store.row("balances", "r1", PERIOD)
            with store.snapshot():
                after = _move(store, "balances", {"total": "2.00"})
                assert store.row("balances", "r1", PERIOD) == before
            assert store.row("balances", "r1", PERIOD) == before  # still the outer's
        assert store.row("balances", "r1", PERIOD) == after


class TestReportsSnapshot:
    def test_projects_first_then_holds_still(self, reports: Reports, ledger: Ledger) -> None:
        """The read models are brought to the head on entry; an event recorded
        meanwhile is not projected inside (nothing waits or writes there), and
        is once it ends."""
        ledger.import_lines(jsonl(sale("S2", "r1", "500.00")), actor="crm-sync")
        head = ledger.head()
        assert head is not None
        with reports.snapshot() as position:
            assert position == head.position  # caught up on entry
            ledger.import_lines(jsonl(sale("S3", "r1", "700.00")), actor="crm-sync")
            assert reports.fresh() == position
            assert reports.projector.store.position() == position
        assert reports.fresh() == position + 1

    def test_the_summary_reads_balances_and_attainment_as_of_one_moment(
        self, reports: Reports, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The projector moves r1's attainment on just after the summary read its
        balances: the summary's attainment is still the one of its balances."""
        store = reports.projector.store
        before = store.row("attainment", "r1", PERIOD)
        assert before is not None
        read = store.row
        moved: list[dict[str, Any]] = []

        def row_then_move(view: str, scope: str, key: str) -> dict[str, Any] | None:
            found = read(view, scope, key)
            if view == "balances" and not moved:
                moved.append(_move(store, "attainment", {"attainment": "9.9999"}))
            return found

        monkeypatch.setattr(store, "row", row_then_move)
        summary = WorkQueues(reports).summary(FINANCE, PERIOD)
        assert moved, "the summary read r1's balances"
        (item,) = summary.items
        assert item.attainment == before.get("attainment") != "9.9999"
        monkeypatch.undo()
        (item,) = WorkQueues(reports).summary(FINANCE, PERIOD).items
        assert item.attainment == "9.9999"


class TestOneProjector:
    def test_two_threads_asking_at_once_get_the_same_projector(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With an external projector the API makes its `Projector` on a
        request's first read: two requests at once each made one (the work
        twice, a snapshot pinned on one's store while reads went to the
        other's). The first thread is held inside the constructor until the
        second has asked; the second may make none of its own meanwhile."""
        made: list[object] = []
        entered = threading.Semaphore(0)
        release = threading.Event()

        class HeldProjector:
            def __init__(self, _ledger: Ledger) -> None:
                made.append(self)
                entered.release()
                release.wait()

        monkeypatch.setattr(service, "Projector", HeldProjector)
        reports = Reports(ledger, projections="external")
        got: list[object] = []
        askers = [threading.Thread(target=lambda: got.append(reports.projector)) for _ in "ab"]
        askers[0].start()
        assert entered.acquire(timeout=60)  # the first is inside the constructor
        askers[1].start()
        # unfixed, the second makes its own at once; fixed, it waits for the first
        # (the bound only ends the wait for a constructor that never starts)
        second_made = entered.acquire(timeout=_SECOND_MAKES_ONE_SECONDS)
        release.set()
        for asker in askers:
            asker.join(timeout=60)
        assert not second_made
        assert len(made) == 1
        assert got == [made[0], made[0]]
        assert reports.projector is made[0]


class TestOneConnectionAtATime:
    def test_reads_in_a_snapshot_take_no_second_connection(
        self, reports: Reports, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A snapshot holds a pooled connection for a request: a second one taken
        inside it (a read of the log, say) would let as many concurrent requests
        as the pool holds wait on each other until its timeout. The summary, the
        pending queue (its items read their events), disputes, cases, My pay and
        the overview take at most one at a time."""
        from api.pages import views

        payouts(reports).payout_run(PERIOD, actor="fin-amy")  # an open run: My pay reads it
        datastore: Any = ledger.factory.datastore  # type: ignore[attr-defined]
        take = datastore.get_connection
        held = threading.local()
        deepest: list[int] = [0]

        @contextmanager
        def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
            held.n = getattr(held, "n", 0) + 1
            deepest[0] = max(deepest[0], held.n)
            try:
                with take(*args, **kwargs) as conn:
                    yield conn
            finally:
                held.n -= 1

        monkeypatch.setattr(datastore, "get_connection", counted)
        queues = WorkQueues(reports)
        queues.summary(FINANCE, PERIOD)
        checker = Viewer("finance", "fin-bob", decides=frozenset({"run"}))
        assert [item.kind for item in queues.pending(checker).items] == ["run"]  # reads its event
        queues.disputes(FINANCE)
        queues.cases(FINANCE)
        assert views.rep_periods(reports, "r1").rows
        views.overview(reports, PERIOD)
        assert deepest[0] == 1


class TestUnderLoad:
    def test_more_readers_than_the_pool_holds_while_events_arrive(
        self, reports: Reports, ledger: Ledger
    ) -> None:
        """Sixteen threads (the pool holds at most fifteen connections) read the
        summary, the pending queue, disputes, My pay and the overview, each in
        its snapshot, while sales are imported and projected: none fails and
        none is left waiting on another's connection."""
        from api.pages import views

        queues = WorkQueues(reports)
        (before,) = queues.summary(FINANCE, PERIOD).items
        checker = Viewer("finance", "fin-bob", decides=frozenset({"run"}))
        stop = threading.Event()
        failures: list[BaseException] = []
        rounds: list[int] = []

        def read() -> None:
            done = 0
            try:
                while not stop.is_set() or done == 0:
                    queues.summary(FINANCE, PERIOD)
                    queues.pending(checker)
                    queues.disputes(FINANCE)
                    views.rep_periods(reports, "r1")
                    views.overview(reports, None)
                    done += 1
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                failures.append(exc)
            rounds.append(done)

        readers = [threading.Thread(target=read) for _ in range(16)]
        for reader in readers:
            reader.start()
        for n in range(10):
            ledger.import_lines(
                jsonl(*(sale(f"L-{n}-{i}", "r1", "100.00") for i in range(10))), actor="crm-sync"
            )
            reports.catch_up()
        stop.set()
        for reader in readers:
            reader.join(timeout=300)
        assert not [r for r in readers if r.is_alive()], "a reader is stuck"
        assert failures == []
        assert len(rounds) == 16
        (after,) = queues.summary(FINANCE, PERIOD).items
        assert Decimal(after.total) > Decimal(before.total)  # the hundred sales counted
