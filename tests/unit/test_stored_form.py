"""The write side's shortcut for creation events must store exactly what the
library's aggregate and mapper would: the same topic, stream, version and bytes
(for every kind of stream an input creates), and it must read back through the
library into the same aggregate."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import domain, writes
from ledger.adjustment import Adjustment
from ledger.application import Ledger
from ledger.case import Case
from ledger.dispute import Dispute
from ledger.domain import LedgerAggregate
from ledger.payout_run import PayoutRun
from ledger.plan import PlanVersion
from ledger.rep import Rep
from ledger.sale import Sale
from ledger.targets import Target
from ledger.writes import Input, Staging

CREATED: list[tuple[type[LedgerAggregate], str, dict[str, Any]]] = [
    (Rep, "RepEnrolled", {"rep_id": "r1", "name": "Ana", "plan_id": "p", "team": "north"}),
    (Sale, "SaleRecorded", {"sale_id": "S1", "rep_id": "r1", "amount": "10.50"}),
    (Target, "TargetSet", {"target_id": "T1", "rep_id": "r1", "period": "2026-Q3"}),
    (Case, "ViolationRecorded", {"case_id": "C1", "rep_id": "r1", "severity": "minor"}),
    (Adjustment, "AdjustmentRequested", {"adjustment_id": "A1", "rep_id": "r1"}),
    (Dispute, "DisputeRaised", {"dispute_id": "D1", "rep_id": "r1", "run_id": "R1"}),
    (PayoutRun, "PayoutCalculated", {"run_id": "R1", "period": "2026-Q3", "statements": []}),
    (PlanVersion, "PlanPublished", {"plan": {"id": "p", "version": 1}}),
]


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    ledger = Ledger("sqlite:///:memory:")
    yield ledger
    ledger.close()


@pytest.mark.parametrize(("cls", "created", "data"), CREATED, ids=[c[1] for c in CREATED])
def test_created_streams_are_stored_as_the_library_stores_them(
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    cls: type[Any],
    created: str,
    data: dict[str, Any],
) -> None:
    item = Input(
        created, datetime(2026, 7, 14, 10, 0, tzinfo=UTC), "crm", "ab" * 32, {**data, "note": "é"}
    )
    key = "p@1" if cls is PlanVersion else str(next(iter(data.values())))
    library_event = cls(key=key, **item.kwargs()).collect_events()[0]
    expected = ledger.mapper.to_stored_event(library_event)

    monkeypatch.setattr(writes, "datetime_now_with_tzinfo", lambda: library_event.timestamp)
    staging = Staging(ledger.chain, ledger.mapper, lambda _: None)
    staging.create(cls, key, item)
    [stored] = staging.take_pending()

    assert (stored.originator_id, stored.originator_version, stored.topic) == (
        expected.originator_id,
        expected.originator_version,
        expected.topic,
    )
    assert stored.state == expected.state
    # and the library reads it back into the aggregate the constructor made
    again = ledger.mapper.to_domain_event(stored).mutate(None)  # type: ignore[attr-defined]
    original = library_event.mutate(None)
    assert vars(again) == vars(original)


def test_the_orjson_transcoder_reads_the_standard_library_format(ledger: Ledger) -> None:
    """Events stored before the switch (by the library's json encoder) still decode."""
    from eventsourcing.persistence import JSONTranscoder

    from ledger.transcoder import OrjsonTranscoder

    old = JSONTranscoder()
    ledger.register_transcodings(old)
    new = OrjsonTranscoder()
    # the same transcodings as the library's application registers (a new one in
    # a later release would show here first)
    assert {(t.name, t.type) for t in new.names.values()} == {
        (t.name, t.type) for t in old.names.values()
    }
    value = {
        "at": datetime(2026, 7, 14, 10, 0, tzinfo=UTC),
        "amount": Decimal("10.50"),
        "nested": [{"when": datetime(2025, 1, 1, tzinfo=UTC)}],
        "text": "注意",
    }
    assert new.decode(old.encode(value)) == value
    assert old.decode(new.encode(value)) == value
    assert new.encode(value) == old.encode(value)


def test_the_orjson_transcoder_refuses_what_it_cannot_read_back() -> None:
    """A value of a type without a transcoding is refused on write, and a stored
    ``_type_`` it does not know is refused on read — never passed through."""
    from eventsourcing.persistence import TranscodingNotRegisteredError

    from ledger.transcoder import OrjsonTranscoder

    transcoder = OrjsonTranscoder()
    with pytest.raises(TypeError) as refused:  # orjson's, raised from ours
        transcoder.encode({"z": complex(1, 2)})
    assert isinstance(refused.value.__cause__, TranscodingNotRegisteredError)
    assert "complex" in str(refused.value.__cause__)
    with pytest.raises(TranscodingNotRegisteredError, match="'money_v9'"):
        transcoder.decode(b'{"a":{"_type_":"money_v9","_data_":"1"}}')
    # a dict that merely has other keys beside these is data, not a typed value
    plain = {"_type_": "x", "_data_": "y", "z": 1}
    assert transcoder.decode(transcoder.encode(plain)) == plain


@pytest.mark.parametrize("key", [None, b"k3y"])
def test_appended_links_are_the_links_verify_recomputes(key: bytes | None) -> None:
    """`ChainHasher.extend` (the write path, inlined for speed) and `link_hash`
    (what `verify` recomputes) must agree byte for byte, keyed or not."""
    from uuid import uuid4

    from ledger.chain import GENESIS, ChainHasher

    hasher = ChainHasher(key)
    rows = [(p, uuid4(), p % 3 + 1, "incentive_ledger:SaleRecorded", b"{}" * p) for p in (3, 4, 9)]
    links = hasher.extend(None, rows)
    previous = GENESIS
    for link, (position, oid, version, topic, state) in zip(links, rows, strict=True):
        assert link.hash == hasher.link_hash(
            previous,
            position=position,
            event_id=link.event_id,
            recorded_at=link.recorded_at,
            originator_id=oid,
            originator_version=version,
            topic=topic,
            state=state,
        )
        previous = link.hash


@given(st.text(max_size=80), st.uuids(), st.integers(min_value=1, max_value=10**9))
def test_ids_are_the_standard_uuid5_of_their_names(name: str, stream: UUID, version: int) -> None:
    """Stored ids never change: the fast derivations equal the stdlib's uuid5."""
    assert domain._uuid5(name) == uuid.uuid5(domain.LEDGER_NAMESPACE, name)
    expected = uuid.uuid5(domain.LEDGER_NAMESPACE, f"event:{stream.hex}:{version}")
    assert domain.event_id_for(stream, version) == expected
    assert domain.event_id_text(stream, version) == str(expected)
