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
        """Caught up to 100 and the head is still 100: the writes paused."""
        _projector([100]).rest(2.0, 100, lambda: False)
        assert len(clock.naps) == 1

    def test_stops_resting_when_the_writes_stop(self, clock: _Clock) -> None:
        """Writes came in during the catch-up and for a while after, then stopped."""
        _projector([120, 140, 140]).rest(2.0, 100, lambda: False)
        assert len(clock.naps) == 3

    def test_rests_its_whole_pause_while_writes_keep_coming(self, clock: _Clock) -> None:
        heads: list[Any] = list(range(101, 1000))
        _projector(heads).rest(0.5, 100, lambda: False)
        assert sum(clock.naps) == pytest.approx(0.5)

    def test_stops_when_asked_to(self, clock: _Clock) -> None:
        _projector(list(range(101, 1000))).rest(5.0, 100, lambda: True)
        assert clock.naps == []
