"""``as_of`` outside the ledger is refused, never clamped (SPEC §4), on SQLite
and PostgreSQL: a position beyond the head, position 0, a timestamp before the
first event or in the future, anything on an empty ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInputError
from projections.service import Reports
from tests.builders import jsonl, sale, seeded


def _refused(call: object, field: str = "as_of") -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.field == field
    return caught.value


@pytest.fixture
def filled(ledger: Ledger) -> Ledger:
    seeded(ledger, "r1")
    ledger.import_lines(jsonl(sale("S1", "r1"), sale("S2", "r1")), actor="crm")
    return ledger


class TestPositions:
    def test_the_head_and_every_position_before_it(self, filled: Ledger) -> None:
        head = filled.head()
        assert head is not None
        assert filled.resolve_as_of(str(head.position)) == head.position
        assert filled.resolve_as_of("1") == 1
        assert filled.resolve_as_of(None) == head.position
        assert filled.resolve_as_of("") == head.position

    def test_beyond_the_head_is_refused_not_clamped(self, filled: Ledger) -> None:
        head = filled.head()
        assert head is not None
        error = _refused(lambda: filled.resolve_as_of(str(head.position + 1)))
        assert f"beyond the ledger's head (position {head.position})" in error.reason
        _refused(lambda: filled.resolve_as_of("9" * 5000))  # no int() of 5,000 digits
        reports = Reports(filled)
        _refused(lambda: reports.statement("r1", "2026-Q3", as_of=head.position + 1))

    def test_position_zero_is_before_the_first_event(self, filled: Ledger) -> None:
        error = _refused(lambda: filled.resolve_as_of("0"))
        assert "positions start at 1" in error.reason

    def test_not_a_position_nor_a_timestamp(self, filled: Ledger) -> None:
        for text in ("-3", "1e3", "twelve", "١٢"):
            _refused(lambda text=text: filled.resolve_as_of(text))  # type: ignore[misc]

    def test_the_diff_names_its_own_bound(self, filled: Ledger) -> None:
        head = filled.head()
        assert head is not None
        reports = Reports(filled)
        _refused(lambda: reports.diff("r1", "2026-Q3", 1, head.position + 5), field="to")
        _refused(lambda: reports.diff("r1", "2026-Q3", 0, head.position), field="from")


class TestTimestamps:
    def test_between_the_first_event_and_now(self, filled: Ledger) -> None:
        first = filled.read_log(0, 1)[0]
        assert filled.resolve_as_of(first.recorded_at) == first.position
        head = filled.head()
        assert head is not None
        assert filled.resolve_as_of(datetime.now(UTC).isoformat()) == head.position

    def test_before_the_first_event_is_refused(self, filled: Ledger) -> None:
        first = filled.read_log(0, 1)[0]
        earlier = datetime.fromisoformat(first.recorded_at) - timedelta(microseconds=1)
        error = _refused(lambda: filled.resolve_as_of(earlier.isoformat()))
        assert first.recorded_at in error.reason
        _refused(lambda: filled.resolve_as_of("0001-01-01T00:00:00+08:00"))

    def test_in_the_future_is_refused(self, filled: Ledger) -> None:
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        error = _refused(lambda: filled.resolve_as_of(tomorrow.isoformat()))
        assert "in the future" in error.reason
        _refused(lambda: filled.resolve_as_of("9999-12-31T23:59:59-08:00"))

    def test_a_timestamp_needs_an_offset(self, filled: Ledger) -> None:
        error = _refused(lambda: filled.resolve_as_of("2026-10-01T00:00:00"))
        assert "offset" in error.reason

    def test_a_date_with_an_offset_as_the_hint_says(self, filled: Ledger) -> None:
        """A date alone is told to add an offset, "2026-10-01+08:00", which
        was then refused in turn (read as 08:00 with no offset, the hint
        "2026-10-01+08:00+08:00"): it is the day's start at that offset, here
        before the ledger's first event."""
        error = _refused(lambda: filled.resolve_as_of("2026-10-01"))
        assert "e.g. 2026-10-01+08:00)" in error.reason
        error = _refused(lambda: filled.resolve_as_of("2026-10-01+08:00"))
        assert "2026-10-01+08:00 is before the first event" in error.reason
        error = _refused(lambda: filled.resolve_as_of("2026-10-01x10:00+08:00"))
        assert error.reason.startswith("a position (e.g. 1200) or a timestamp with offset")

    @pytest.mark.parametrize("text", ["2026-02-30+08:00", "2026-10-01+25:00"])
    def test_a_date_with_an_offset_out_of_range_is_refused(self, filled: Ledger, text: str) -> None:
        """A day or an offset out of range beside a date alone is refused
        naming the field, not raised as a bare ValueError (an answer 500)."""
        error = _refused(lambda: filled.resolve_as_of(text))
        assert error.reason.startswith("a position (e.g. 1200) or a timestamp with offset")


class TestAnEmptyLedger:
    def test_now_is_position_zero_and_nothing_else_exists(self, ledger: Ledger) -> None:
        assert ledger.resolve_as_of(None) == 0
        for text in ("0", "1", datetime.now(UTC).isoformat()):
            error = _refused(lambda text=text: ledger.resolve_as_of(text))  # type: ignore[misc]
            assert "no events yet" in error.reason
