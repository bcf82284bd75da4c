"""`ViewStore.read_point` and `Reports.now_position`, on SQLite and PostgreSQL:
the chain head and the read models' position in one statement, and whether a
read now is served as the read models stand or must wait for them."""

from __future__ import annotations

from ledger.application import Ledger
from projections.service import Reports
from tests.builders import jsonl, sale, seeded


def test_the_head_and_the_projected_position_read_together(ledger: Ledger) -> None:
    seeded(ledger, "r1")
    reports = Reports(ledger, projections="external")
    head = ledger.head()
    assert head is not None
    assert reports.projector.store.read_point() == (head.position, 0)
    assert reports.now_position() is None  # a read now would wait for the projector
    Reports(ledger).catch_up()  # what the worker does
    assert reports.projector.store.read_point() == (head.position, head.position)
    assert reports.now_position() == head.position
    ledger.import_lines(jsonl(sale("S-1", "r1")), actor="crm")
    assert reports.now_position() is None
    Reports(ledger).catch_up()
    assert reports.now_position() == head.position + 1


def test_inline_reads_project_first(ledger: Ledger) -> None:
    """The CLI's reports project before each read: never served as they stand."""
    seeded(ledger, "r1")
    reports = Reports(ledger)
    reports.catch_up()
    assert reports.now_position() is None
