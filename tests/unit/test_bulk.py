"""`ledger.records.bulk`: the collector paused for bulk work, what survives frozen —
and no garbage frozen with it (a serving process enters bulk() on every catch-up)."""

from __future__ import annotations

import gc
import weakref

from ledger.records import bulk


class _Node:
    other: _Node


def _cycles(n: int) -> list[weakref.ref[_Node]]:
    refs = []
    for _ in range(n):
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        refs.append(weakref.ref(a))
    return refs


def test_reference_cycles_left_before_or_during_bulk_work_are_not_frozen() -> None:
    kept = _Node()
    refs = _cycles(5_000)  # garbage a request left behind
    with bulk():
        assert not gc.isenabled()
        refs += _cycles(5_000)  # and garbage of the bulk work itself
        kept.other = _Node()
    assert gc.isenabled()
    gc.collect()  # the permanent generation is never collected: frozen garbage stays
    assert sum(1 for r in refs if r() is not None) == 0
    assert gc.get_freeze_count() > 0
    assert kept.other is not None
