"""A following projector's pacing: how long it rests after a catch-up, and that
it rests only while writes keep coming (no clock is read: time is faked)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from projections import runner
from projections.runner import Projector, pause_after


class TestPauseAfter:
    @pytest.mark.parametrize(
        ("busy", "share", "rest"),
        [(0.3, 0.3, 0.7), (0.1, 0.5, 0.1), (0.2, 1.0, 0.0), (0.0, 0.3, 0.0)],
    )
    def test_rests_so_that_busy_time_is_the_share(
        self, busy: float, share: float, rest: float
    ) -> None:
        """busy / (busy + rest) == share."""
        assert pause_after(busy, share) == pytest.approx(rest)

    def test_a_share_outside_0_to_1_is_refused(self) -> None:
        with pytest.raises(AssertionError):
            pause_after(1.0, 0.0)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.naps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


def _projector(heads: list[int]) -> Projector:
    """A projector whose ledger reports these chain heads, one per look."""
    projector = Projector.__new__(Projector)
    looks = iter(heads)
    projector.ledger = SimpleNamespace(head=lambda: SimpleNamespace(position=next(looks)))  # type: ignore[assignment]
    return projector


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(runner, "time", SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    return fake


class TestRest:
    def test_stops_resting_when_no_write_came_in(self, clock: _Clock) -> None:
        """Caught up to 100 and the head stays 100 for the quiet spell: the writes paused."""
        _projector([100] * 100).rest(2.0, 100, lambda: False, quiet_seconds=0.2)
        assert 0.2 <= sum(clock.naps) <= 0.2 + 0.05 + 1e-9

    def test_stops_resting_when_the_writes_stop(self, clock: _Clock) -> None:
        """Writes came in during the catch-up and for a while after, then stopped."""
        _projector([120, 140, *[140] * 100]).rest(2.0, 100, lambda: False, quiet_seconds=0.2)
        # the last move seen at 0.1 s, then quiet for 0.2 s (to a look's step)
        assert 0.1 + 0.2 <= sum(clock.naps) <= 0.1 + 0.2 + 0.05 + 1e-9

    def test_a_pause_between_group_commits_is_not_the_end_of_the_writes(
        self, clock: _Clock
    ) -> None:
        """Under load the head moves a few times a second, not at every look."""
        heads = [h for h in range(101, 200) for _ in range(3)]  # moves every third look
        _projector(heads).rest(1.0, 100, lambda: False, quiet_seconds=0.2)
        assert sum(clock.naps) == pytest.approx(1.0)

    def test_rests_its_whole_pause_while_writes_keep_coming(self, clock: _Clock) -> None:
        heads: list[Any] = list(range(101, 1000))
        _projector(heads).rest(0.5, 100, lambda: False)
        assert sum(clock.naps) == pytest.approx(0.5)

    def test_stops_when_asked_to(self, clock: _Clock) -> None:
        _projector(list(range(101, 1000))).rest(5.0, 100, lambda: True)
        assert clock.naps == []
