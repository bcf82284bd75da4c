"""Reading the log in pages across positions that were drawn and never stored.

An append that fails before its commit has drawn its positions (PostgreSQL's
sequence does not give them back), so the stored log has gaps. PostgreSQL reads
the log in windows of positions (`LedgerPostgresRecorder.select_log`); a page
must still hold ``limit`` events while more exist, or a reader that takes a short
page for the end of the log (`Ledger.iter_log`, the projector) would stop there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import OperationalError

from ledger.application import Ledger
from tests.builders import enrol, jsonl, sale, seeded


def _fail_next_append_before_commit(ledger: Ledger) -> None:
    """The next append session stores its events, then fails before committing
    (the connection lost): rolled back; the ledger retries on a fresh session."""
    recorder: Any = ledger.recorder
    real = recorder.append_session
    failed = [False]

    @contextmanager
    def failing(**kwargs: Any) -> Iterator[Any]:
        with real(**kwargs) as session:
            yield session
            if not failed[0]:
                failed[0] = True
                msg = "server closed the connection unexpectedly"
                raise OperationalError(msg)

    recorder.append_session = failing


def _ledger_with_gaps(url: str) -> Ledger:
    ledger = seeded(Ledger(url))
    ledger.import_lines(jsonl(enrol("r1")), actor="hr")
    for batch in range(3):
        _fail_next_append_before_commit(ledger)
        lines = jsonl(*(sale(f"b{batch}-{i}", "r1", "100.00") for i in range(7)))
        assert ledger.import_lines(lines, actor="crm").stored == 7
    return ledger


def test_pages_stay_full_across_positions_never_stored(db_url: str) -> None:
    ledger = _ledger_with_gaps(db_url)
    everything = list(ledger.iter_log())
    positions = [r.position for r in everything]
    assert positions == sorted(set(positions))
    sales = [r.data["sale_id"] for r in everything if r.type == "SaleRecorded"]
    assert sales == [f"b{b}-{i}" for b in range(3) for i in range(7)]
    if db_url.startswith("postgresql"):
        # the failed appends' positions are gaps: the paging below crosses them
        assert positions[-1] - positions[0] + 1 > len(positions)

    for size in (1, 4, 5, 9):
        after, pages = 0, []
        while page := ledger.read_log(after, size):
            pages.append(page)
            after = page[-1].position
        assert [r.position for p in pages for r in p] == positions, size
        assert all(len(p) == size for p in pages[:-1]), size  # only the last is short

    # iter_log with a limit, and a stop inside a gap's far side
    assert [r.position for r in ledger.iter_log(limit=10)] == positions[:10]
    stop = positions[-3]
    assert [r.position for r in ledger.iter_log(after=positions[2], stop=stop)] == [
        p for p in positions if positions[2] < p <= stop
    ]
    ledger.close()
