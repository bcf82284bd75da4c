"""The managers of a rep's period asked by day (`DirectoryRow.managers_between`):
each manager whose watch some instant of the period is on."""

from __future__ import annotations

from datetime import date

import pytest

from projections.disputes import Dated, DirectoryRow


def _row(*moves: tuple[str, str]) -> DirectoryRow:
    managers: list[Dated] = [("2026-06-01T09:00:00+08:00", 1, "mgr-old")]
    managers += [(at, 2 + i, manager) for i, (at, manager) in enumerate(moves)]
    return DirectoryRow(left=False, managers=managers, plan_ids=["p"], rep_id="r-moved", teams=[])


SEPTEMBER = (date(2026, 9, 1), date(2026, 9, 30))


@pytest.mark.parametrize(
    ("moves", "expected"),
    [
        pytest.param((), ["mgr-old"], id="no-move"),
        pytest.param(
            (("2026-09-01T15:00:00+08:00", "mgr-new"),), ["mgr-old", "mgr-new"], id="afternoon"
        ),
        pytest.param((("2026-09-01T00:00:00+08:00", "mgr-new"),), ["mgr-new"], id="midnight"),
        pytest.param(
            (("2026-09-01T10:00:00+08:00", "mgr-mid"), ("2026-09-01T14:00:00+08:00", "mgr-new")),
            ["mgr-old", "mgr-mid", "mgr-new"],
            id="two-moves-on-the-first",
        ),
        pytest.param(
            (("2026-09-01T00:00:00+08:00", "mgr-mid"), ("2026-09-01T14:00:00+08:00", "mgr-new")),
            ["mgr-mid", "mgr-new"],
            id="midnight-then-afternoon",
        ),
        pytest.param((("2026-08-20T10:00:00+08:00", "mgr-new"),), ["mgr-new"], id="moved-before"),
        pytest.param((("2026-10-01T10:00:00+08:00", "mgr-new"),), ["mgr-old"], id="moved-after"),
    ],
)
def test_every_manager_with_some_instant_of_the_period(
    moves: tuple[tuple[str, str], ...], expected: list[str]
) -> None:
    """A manager moved to at 10:00 on the first and on at 14:00 had the rep
    for those hours: their override and decisions on them are in that period."""
    assert sorted(_row(*moves).managers_between(*SEPTEMBER)) == sorted(expected)
