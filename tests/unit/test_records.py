"""Decoding stored timestamps: `ledger.records.instant`."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from ledger.records import instant

offsets = st.sampled_from(["+08:00", "+00:00", "-05:30", "+05:45", "-00:00", "Z", ""])


class TestInstant:
    @given(
        # naive bounds: the offset is appended as text below
        st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),  # noqa: DTZ001
        offsets,
        st.booleans(),
    )
    def test_equals_the_standard_parse(self, moment: datetime, offset: str, micro: bool) -> None:
        """Whatever the offset (or none), the value is what `fromisoformat` reads."""
        text = moment.isoformat(timespec="microseconds" if micro else "seconds") + offset
        for _ in range(2):  # the first read of an offset learns it, the second uses it
            parsed = instant(text)
            expected = datetime.fromisoformat(text)
            assert parsed == expected
            assert parsed.utcoffset() == expected.utcoffset()
            assert parsed.isoformat() == expected.isoformat()

    def test_timestamps_of_one_offset_share_one_zone(self) -> None:
        """Aware datetimes with one tzinfo object compare without `utcoffset()` calls."""
        a = instant("2026-07-14T10:00:00+08:00")
        b = instant("2026-07-15T11:30:00.250000+08:00")
        c = instant("2026-07-15T11:30:00-05:00")
        assert a.tzinfo is b.tzinfo
        assert c.tzinfo is not a.tzinfo
        assert a < b
