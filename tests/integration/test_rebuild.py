"""`rebuild`: every read model replaced by one replay of the log, in one
transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from demo import run_demo
from ledger.application import Ledger
from projections import runner
from projections.runner import rebuild, verify_views
from projections.service import Reports
from projections.storage import open_view_store
from projections.storage.core import Batch
from tests.builders import jsonl, sale


@pytest.fixture
def projected(ledger: Ledger) -> Ledger:
    """The demo quarter, its read models caught up."""
    run_demo(ledger)
    Reports(ledger).catch_up()
    return ledger


def _statement(url: str) -> bytes | None:
    """Li Wei's Q3 statement as a reader on a connection of its own sees it."""
    other = Ledger(url)
    try:
        return open_view_store(other).row_json("statements", "rep-li", "2026-Q3")
    finally:
        other.close()


class TestRebuild:
    def test_equals_a_fresh_replay_and_drops_what_a_replay_would_not_make(
        self, projected: Ledger
    ) -> None:
        """Rows no replay makes (here, planted by hand) are gone after a rebuild."""
        store = open_view_store(projected)
        ghost = runner.Replacement("statements", "rep-ghost", {"2026-Q3": {"x": 1}})
        store.write(Batch([ghost], 10**9))
        assert verify_views(projected) != []
        progress: list[int] = []
        result = rebuild(projected, on_progress=progress.append)
        head = projected.head()
        assert head is not None
        assert (result.position, result.applied, sum(progress)) == (head.position,) * 3
        assert store.position() == head.position
        assert verify_views(projected) == []
        assert store.row("statements", "rep-ghost", "2026-Q3") is None

    def test_a_failed_rebuild_leaves_the_read_models_as_they_were(
        self, projected: Ledger, db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Nothing of a rebuild that fails midway is seen: not its deletions, not
        its rows, not its tracking position."""
        before = _statement(db_url)
        assert before is not None
        position = open_view_store(projected).position()
        real = runner.compute_rows

        def failing(*args: Any, **kwargs: Any) -> Iterator[runner.Replacement]:
            rows = real(*args, **kwargs)
            yield from (next(rows) for _ in range(10))
            raise RuntimeError("the machine fell over")

        monkeypatch.setattr(runner, "compute_rows", failing)
        with pytest.raises(RuntimeError, match="fell over"):
            rebuild(projected)
        monkeypatch.undo()
        assert open_view_store(projected).position() == position
        assert _statement(db_url) == before
        assert verify_views(projected) == []

    def test_readers_see_the_old_read_models_until_it_commits(
        self, projected: Ledger, db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """While the rebuild computes (its deletions made, on PostgreSQL), another
        connection still reads the statement the rebuild replaces."""
        late = projected.import_lines(
            jsonl(sale("S-late", "rep-li", "5000.00", at="2026-08-01T10:00:00+08:00")),
            actor="crm-sync",
        )
        before = _statement(db_url)
        seen: list[bytes | None] = []
        real = runner.compute_rows

        def watching(*args: Any, **kwargs: Any) -> Iterator[runner.Replacement]:
            seen.append(_statement(db_url))
            yield from real(*args, **kwargs)

        monkeypatch.setattr(runner, "compute_rows", watching)
        rebuild(projected)
        assert seen == [before]
        after = _statement(db_url)
        assert after is not None
        assert after != before
        # Q3 is paid: the late sale is named among the later events that touch it
        assert str(late.outcomes[0].event_id).encode() in after

    def test_an_empty_log_rebuilds_to_nothing(self, ledger: Ledger) -> None:
        result = rebuild(ledger)
        assert (result.applied, result.position) == (0, 0)
        assert open_view_store(ledger).position() == 0
        assert verify_views(ledger) == []


def test_a_failing_write_on_the_writer_thread_fails_the_rebuild(
    pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL writes a rebuild from a thread of its own: a statement it fails
    is raised to the caller, and nothing is committed."""
    from projections.storage import replay_index

    ledger = Ledger(pg_schema_url)
    try:
        run_demo(ledger)
        Reports(ledger).catch_up()
        position = open_view_store(ledger).position()
        monkeypatch.setattr(replay_index, "copy_text", lambda rows: b"not\tan index row\n")
        with pytest.raises(Exception, match=r"(?i)invalid input syntax|bigint"):
            rebuild(ledger)
        monkeypatch.undo()
        assert open_view_store(ledger).position() == position
        assert verify_views(ledger) == []
    finally:
        ledger.close()
