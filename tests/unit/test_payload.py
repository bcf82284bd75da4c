"""An event's stored fields (`EventIn.payload`): the fast reading of flat events
must be exactly pydantic's JSON dump, for every kind of event."""

from __future__ import annotations

from collections import Counter

from bench.generate import generate
from ledger.events import EventIn
from ledger.ingestion.parse import parse_line
from tests.builders import SAMPLE_EVENTS


def _events() -> list[object]:
    lines = [*generate(20_000, seed=7), *SAMPLE_EVENTS.read_text(encoding="utf-8").splitlines()]
    parsed = [parse_line(text, line=n) for n, text in enumerate(lines, 1)]
    assert all(not errors for _, errors in parsed)
    return [item for item, _ in parsed if item is not None]


def test_the_fast_payload_is_the_json_dump_for_every_event() -> None:
    events = _events()
    kinds: Counter[str] = Counter()
    for item in events:
        if type(item).payload is not EventIn.payload:
            continue  # a kind with a payload of its own (a plan's document)
        assert item.payload() == item._dumped_payload(), item  # type: ignore[attr-defined]
        assert list(item.payload()) == sorted(item.payload())  # type: ignore[attr-defined]
        if item._flat_payload() is not None:  # type: ignore[attr-defined]
            kinds[item.type] += 1  # type: ignore[attr-defined]
    # the fast reading serves the common kinds (split sales and plans are dumped)
    assert {"SaleRecorded", "SaleCancelled", "TargetSet", "KpiScored", "RepEnrolled"} <= set(kinds)
