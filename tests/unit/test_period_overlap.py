"""Which periods share days (`Period.overlaps`, `Period.overlapping`): what a
payout run checks so that a rep's days are paid once whichever kind of period
paid them (SPEC §5)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from policies.periods import Period, parse_period

months = st.builds(Period, st.just("month"), st.integers(2000, 2199), st.integers(1, 12))
quarters = st.builds(Period, st.just("quarter"), st.integers(2000, 2199), st.integers(1, 4))
periods = st.one_of(months, quarters)


def test_a_quarter_overlaps_its_three_months_and_a_month_its_quarter() -> None:
    q3 = parse_period("2026-Q3")
    assert [str(p) for p in q3.overlapping()] == ["2026-07", "2026-08", "2026-09"]
    assert [str(p) for p in parse_period("2026-09").overlapping()] == ["2026-Q3"]
    assert [str(p) for p in parse_period("2026-10").overlapping()] == ["2026-Q4"]
    assert [str(p) for p in parse_period("2026-Q1").overlapping()] == [
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    assert not q3.overlaps(parse_period("2026-10"))  # the day after its last
    assert not q3.overlaps(parse_period("2026-06"))  # the day before its first
    assert q3.overlaps(q3)


@given(periods, periods)
def test_overlapping_is_exactly_the_other_kind_sharing_a_day(a: Period, b: Period) -> None:
    shares_a_day = any(
        b.contains(a.first_day + timedelta(days=d))
        for d in range((a.last_day - a.first_day).days + 1)
    )
    assert a.overlaps(b) == shares_a_day == b.overlaps(a)
    if a.kind != b.kind:
        assert (b in a.overlapping()) == shares_a_day


@given(periods)
def test_the_overlapping_periods_cover_the_period_exactly(p: Period) -> None:
    others = p.overlapping()
    assert all(o.kind != p.kind for o in others)
    if p.kind == "quarter":
        assert (others[0].first_day, others[-1].last_day) == (p.first_day, p.last_day)
    else:
        (quarter,) = others
        assert quarter.contains(p.first_day)
        assert quarter.contains(p.last_day)
