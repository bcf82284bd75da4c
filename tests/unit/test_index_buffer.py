"""The replay index rows a SQLite rebuild holds until it writes them."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from projections.storage.replay_index import IndexBuffer as _IndexBuffer
from projections.storage.replay_index import copy_text as _copy_text

days = st.one_of(st.none(), st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
reps = st.sampled_from([("*",), ("r1",), ("r1", "r2"), ("r2",), ("tab\there",), ()])


@given(st.lists(st.tuples(st.integers(1, 2**62), reps, days, days), max_size=50))
def test_rows_come_back_as_they_went_in(
    rows: list[tuple[int, tuple[str, ...], date, date]],
) -> None:
    """Positions, rep sets and both dates (or their absence) survive the compact form."""
    buffer = _IndexBuffer()
    buffer.extend(rows[: len(rows) // 2])
    buffer.extend(rows[len(rows) // 2 :])
    assert list(buffer) == rows


def test_copy_text_escapes_what_copy_would_misread() -> None:
    """A rep id with a tab or backslash still lands in its own column."""
    text = _copy_text([(7, ("a\tb", "c\\d"), None, date(2026, 7, 1))])
    assert text == b"a\\tb\t7\t\\N\t2026-07-01\nc\\\\d\t7\t\\N\t2026-07-01\n"
