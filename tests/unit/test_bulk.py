"""`ledger.records.bulk`: the collector paused for bulk work, what survives frozen —
and no garbage frozen with it (a serving process enters bulk() on every catch-up)."""

from __future__ import annotations

import gc
import weakref

import orjson

from ledger.ingestion.parse import inputs_from_wire, parse_body_wire, parse_chunk
from ledger.records import bulk, loads_document
from tests.builders import jsonl, sale


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
    kept: list[_Node] = []
    refs = _cycles(5_000)  # garbage a request left behind
    frozen = gc.get_freeze_count()
    with bulk():
        assert not gc.isenabled()
        refs += _cycles(5_000)  # and garbage of the bulk work itself
        kept.extend(_Node() for _ in range(100_000))  # what bulk work builds: facts
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen + 100_000  # the survivors are frozen
    gc.collect()  # the permanent generation is never collected: frozen garbage stays
    assert sum(1 for r in refs if r() is not None) == 0


def test_little_bulk_work_freezes_nothing() -> None:
    """A catch-up with nothing to apply (every few ms in a serving process)."""
    gc.collect()
    frozen = gc.get_freeze_count()
    refs = _cycles(100)
    with bulk():
        pass
    # nothing frozen: the count never rises (it may fall: a frozen object that
    # another thread of the process lets go of is freed, and leaves the count)
    assert gc.get_freeze_count() <= frozen
    gc.collect()
    assert sum(1 for r in refs if r() is not None) == 0


def test_a_document_is_decoded_with_the_collector_paused_and_nothing_frozen() -> None:
    """`loads_document`: no collection runs while a large statement is decoded (its
    containers set off round after round, the oldest of which walk the whole heap),
    the collector's state is given back as it was, and nothing is frozen."""
    doc = orjson.dumps({"lines": [{"event_ids": [str(i)], "amount": "1.00"} for i in range(5_000)]})
    collections: list[str] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(phase)

    gc.collect()
    frozen = gc.get_freeze_count()
    gc.callbacks.append(seen)
    try:
        decoded = loads_document(doc)
        # at most the one young-generation round the first container made after
        # resuming sets off (the count went on while paused), none while decoding
        during = len(collections)
        assert during <= 1
        assert gc.isenabled()
        assert decoded["lines"][4_999] == {"event_ids": ["4999"], "amount": "1.00"}
        gc.collect()
        collections.clear()
        orjson.loads(doc)  # the same, unpaused: the collector runs while decoding
        during = len(collections)
        assert during > 1
        gc.disable()
        loads_document(doc)
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()
        gc.callbacks.remove(seen)
    # nothing frozen: the count never rises (it may fall: a frozen object that
    # another thread of the process lets go of is freed, and leaves the count)
    assert gc.get_freeze_count() <= frozen


def test_a_parse_worker_parses_a_chunk_with_the_collector_paused() -> None:
    """`parse_chunk` (the import's worker) and `parse_body_wire` (the API's):
    the validated models of a chunk set off no collection rounds while it is
    parsed (9 % of the parse), and the collector is running again afterwards."""
    lines = jsonl(*(sale(f"S-{i}", "r1", "100.00") for i in range(2_000)))
    chunk = list(enumerate(lines, start=1))
    body = orjson.dumps([orjson.loads(line) for line in lines])
    collections: list[str] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(phase)

    gc.collect()
    gc.callbacks.append(seen)
    try:
        for parse in (
            lambda: parse_chunk(chunk, "crm-sync"),
            lambda: parse_body_wire(body, "crm-sync"),
        ):
            collections.clear()
            answer = parse()
            during = len(collections)
            assert during <= 1  # the round resuming sets off, at most
            inputs, errors = inputs_from_wire(answer)
            assert (len(inputs), errors) == (2_000, [])
            assert gc.isenabled()
    finally:
        gc.callbacks.remove(seen)
