"""The write side's approval rule of a TargetSet (SPEC §2) replays from the
stored event: its body reads the event's own timestamp, never "now"."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.catalogue import needs_approval
from ledger.targets import Target
from ledger.writes import Staging

_DATA = {
    "target_id": "T1",
    "rep_id": "r1",
    "period": "2026-Q3",
    "kpi": "sales_amount",
    "value": "100000",
    "reason": "plan",
}
_JUNE = datetime.fromisoformat("2026-06-20T10:00:00+08:00")


def _replayed(staged_at: datetime) -> Target:
    """A Target as the store would give it back had it been staged at ``staged_at``."""
    made = Target(key="T1", occurred_at=_JUNE, actor="mgr", content_sha256="x", data=_DATA)
    (created,) = made.collect_events()
    stored: Any = type(created)(**{**asdict(created), "timestamp": staged_at})
    replayed: Target = stored.mutate(None)
    return replayed


class TestTargetNeedsApproval:
    @pytest.mark.parametrize(
        ("occurred", "recorded", "needed"),
        [
            ("2026-06-20T10:00:00+08:00", "2026-06-21T00:00:00+00:00", False),
            ("2026-06-20T10:00:00+08:00", "2026-08-01T00:00:00+00:00", True),  # backdated
            ("2026-08-01T10:00:00+08:00", "2026-06-21T00:00:00+00:00", True),  # scheduled
            # the period starts at midnight in the event's own offset: 16:00 UTC
            ("2026-06-30T10:00:00+08:00", "2026-06-30T15:59:59+00:00", False),
            ("2026-06-30T10:00:00+08:00", "2026-06-30T16:00:01+00:00", True),
            # staged since EARLIEST_START_FROM: it starts at midnight at +14:00,
            # the earliest anywhere (10:00 UTC the day before), whatever the offset
            ("2026-12-31T12:00:00+08:00", "2026-12-31T09:59:59+00:00", False),
            ("2026-12-31T12:00:00+08:00", "2026-12-31T10:00:01+00:00", True),
            ("2026-12-31T23:00:00-23:00", "2027-01-01T15:00:00+00:00", True),  # was False
            ("2026-12-31T23:00:00-23:00", "2026-12-31T09:00:00+00:00", True),  # takes effect
        ],
    )
    def test_either_clock_after_the_start(self, occurred: str, recorded: str, needed: bool) -> None:
        period = "2027-Q1" if occurred.startswith("2026-12") else "2026-Q3"
        assert (
            needs_approval(
                "TargetSet",
                _DATA | {"period": period},
                datetime.fromisoformat(occurred),
                datetime.fromisoformat(recorded),
            )
            is needed
        )

    def test_the_aggregate_decides_from_its_stored_timestamp(self) -> None:
        """Replayed today, a target staged before its period needs none; one staged
        mid-period needs approval — whenever the replay runs."""
        assert Staging.needs_approval(_replayed(datetime(2026, 6, 21, tzinfo=UTC))) is False
        assert Staging.needs_approval(_replayed(datetime(2026, 8, 1, tzinfo=UTC))) is True
