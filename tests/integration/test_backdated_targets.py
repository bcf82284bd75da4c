"""Backdated targets (SPEC §2, issue 16): a TargetSet needs approval when it
takes effect *or is recorded* after its period started — backdating
``occurred_at`` does not escape approval. The write side (which refuses to
approve what needs no approval) and the read side (pending or approved in
statements) decide alike, also after a replay from the store. On SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import BatchRejectedError
from policies.periods import Period, period_of
from projections.runner import verify_views
from projections.service import Reports
from tests.builders import jsonl, line, sale, seeded

# A period that began long ago (and always will have): a target for it recorded
# today is recorded mid-period, or after it.
STARTED = "2026-Q3"


def _future_period() -> Period:
    """A quarter that starts well after today: a target recorded now is recorded
    before it."""
    return period_of(datetime.now(UTC) + timedelta(days=200), "quarter")


def _target(target_id: str, period: str, at: str, value: str = "100000") -> dict[str, Any]:
    return line(
        "TargetSet",
        at=at,
        actor="mgr-zhao",
        target_id=target_id,
        rep_id="r1",
        period=period,
        kpi="sales_amount",
        value=value,
        reason="quarter plan",
    )


def _approve(ledger: Ledger, subject_id: str, actor: str = "fin-amy") -> None:
    ledger.import_lines(
        jsonl(line("ApprovalGranted", actor=actor, subject_id=subject_id)), actor=actor
    )


def _bonus_codes(statement: dict[str, Any]) -> list[str]:
    (bonus,) = [x for x in statement["lines"] if x["kind"] == "bonus"]
    return [step["code"] for step in bonus["explanation"]]


class TestRecordedAfterThePeriodStarted:
    def test_backdated_occurred_at_is_pending_until_approved(self, ledger: Ledger) -> None:
        """Recorded today for 2026-Q3 with occurred_at in June: pending (no bonus,
        listed under pending) until someone else approves it; then it counts."""
        seeded(ledger, "r1")
        ledger.import_lines(
            jsonl(
                _target("T-BACK", STARTED, "2026-06-20T10:00:00+08:00"),
                sale("S1", "r1", "100000.00"),
            ),
            actor="mgr-zhao",
        )
        reports = Reports(ledger)
        before = reports.statement("r1", STARTED)
        assert [p["subject_id"] for p in before["pending"]] == ["T-BACK"]
        assert _bonus_codes(before) == ["no_sales_target"]
        assert before["attainment"] is None

        with pytest.raises(BatchRejectedError, match="maker-checker"):
            _approve(ledger, "T-BACK", actor="mgr-zhao")
        _approve(ledger, "T-BACK")
        after = reports.statement("r1", STARTED)
        assert after["pending"] == []
        assert after["attainment"] == "1.0000"  # 100000 ÷ 100000
        assert "attainment" in _bonus_codes(after)

    def test_a_later_ledger_on_the_same_store_decides_alike(self, make_ledger: Any) -> None:
        """The write side's decision comes from the stored event: a fresh process
        (aggregates replayed from the store) accepts the approval, and the
        projections agree with a fresh replay."""
        first = make_ledger()
        seeded(first, "r1")
        first.import_lines(
            jsonl(_target("T-BACK", STARTED, "2026-06-20T10:00:00+08:00")), actor="mgr-zhao"
        )
        second = make_ledger()
        _approve(second, "T-BACK")
        reports = Reports(second)
        assert reports.statement("r1", STARTED)["pending"] == []
        reports.catch_up()
        assert verify_views(second) == []


class TestRecordedBeforeThePeriod:
    def test_counts_at_once_and_needs_no_approval(self, make_ledger: Any) -> None:
        """Recorded today for a quarter that starts months from now: it counts
        without approval, and an approval of it is refused — by this process and
        by a fresh one alike."""
        period = _future_period()
        ledger = make_ledger()
        seeded(ledger, "r1")
        at = datetime.combine(period.first_day, datetime.min.time(), UTC) - timedelta(days=3)
        ledger.import_lines(
            jsonl(_target("T-EARLY", str(period), at.isoformat())), actor="mgr-zhao"
        )
        statement = Reports(ledger).statement("r1", str(period))
        assert statement["pending"] == []
        assert statement["attainment"] == "0.0000"  # no sales yet, target in force
        assert "attainment" in _bonus_codes(statement)
        for writer in (ledger, make_ledger()):
            with pytest.raises(BatchRejectedError, match="needs no approval"):
                _approve(writer, "T-EARLY")

    def test_occurred_after_the_start_still_needs_approval(self, ledger: Ledger) -> None:
        """The other clock: recorded before the period but taking effect after it
        began (a change scheduled mid-period) needs approval too."""
        period = _future_period()
        seeded(ledger, "r1")
        mid = datetime.combine(period.first_day, datetime.min.time(), UTC) + timedelta(days=20)
        ledger.import_lines(jsonl(_target("T-MID", str(period), mid.isoformat())), actor="mgr-zhao")
        statement = Reports(ledger).statement("r1", str(period))
        assert [p["subject_id"] for p in statement["pending"]] == ["T-MID"]
        _approve(ledger, "T-MID")
        assert Reports(ledger).statement("r1", str(period))["pending"] == []
