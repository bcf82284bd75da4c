"""A paid statement names the later events that changed what it would pay, and
the correction explains only the lines whose amount changed (SPEC §4, §3 rule
7), on SQLite and PostgreSQL.

The demo quarter is paid; afterwards (besides the demo's own late cancellation
of S-1007, inside the window) compliance overturns Chen's red-line case, and two
Q3 sales are cancelled long after the 90-day window: S-1001 (Li, 129 days) and
S-1004 (Chen, 126 days), which change nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from demo import run_demo
from ledger.application import Ledger
from projections.service import Reports
from tests.builders import jsonl, line, stored_record


@pytest.fixture
def paid(ledger: Ledger) -> tuple[Ledger, Reports]:
    run_demo(ledger)
    ledger.import_lines(
        jsonl(
            line(
                "ViolationOverturned",
                at="2026-10-25T10:00:00+08:00",
                actor="cmp-head",
                case_id="CASE-201",
                reason="appeal upheld: the client visits took place",
            ),
            line(
                "SaleCancelled",
                at="2026-11-20T10:00:00+08:00",
                sale_id="S-1001",
                reason="licence returned after renewal dispute",
            ),
            line(
                "SaleCancelled",
                at="2026-11-25T10:00:00+08:00",
                sale_id="S-1004",
                reason="hardware returned",
            ),
        ),
        actor="demo",
    )
    return ledger, Reports(ledger)


def _correction(statement: dict[str, Any]) -> dict[str, Any]:
    (line_,) = [x for x in statement["lines"] if x["kind"] == "correction"]
    return line_


class TestLaterEvents:
    def test_an_overturned_case_is_named_a_cancellation_outside_the_window_is_not(
        self, paid: tuple[Ledger, Reports]
    ) -> None:
        """Chen's Q3 (paid 1800.00: commission 5000, bonus forfeited, fine −3200)
        replays as 5000.00: the overturning is the one later event that changed
        it; S-1004's cancellation, 126 days after the sale, changed nothing."""
        ledger, reports = paid
        overturn = stored_record(ledger, "ViolationOverturned", case_id="CASE-201").event_id
        q3 = reports.statement("rep-chen", "2026-Q3")
        assert q3["status"] == "paid"
        assert q3["total"] == "1800.00", "a paid period never changes"
        assert [e["event_id"] for e in q3["later_events"]] == [overturn]
        assert q3["later_events"][0]["type"] == "ViolationOverturned"
        assert q3["later_events"][0]["actor"] == "cmp-head"
        assert q3["correction_to"] == "2026-Q4"

    def test_only_the_cancellation_inside_the_window_is_named(
        self, paid: tuple[Ledger, Reports]
    ) -> None:
        ledger, reports = paid
        inside = stored_record(ledger, "SaleCancelled", sale_id="S-1007").event_id
        q3 = reports.statement("rep-li", "2026-Q3")
        assert [e["event_id"] for e in q3["later_events"]] == [inside]
        assert q3["correction_to"] == "2026-Q4"


class TestCorrectionExplanation:
    def test_chen_q4_explains_the_fine_alone(self, paid: tuple[Ledger, Reports]) -> None:
        """Replay 5000.00 − paid 1800.00 = +3200.00; the fine moved (−3200.00 →
        0.00); the bonus, 0.00 either way (score 0.73 sits in the tier from 0), and
        the commission, whose cancellation came too late, are not listed."""
        ledger, reports = paid
        overturn = stored_record(ledger, "ViolationOverturned", case_id="CASE-201").event_id
        correction = _correction(reports.statement("rep-chen", "2026-Q4"))
        assert correction["amount"] == "3200.00"
        assert correction["paid_period"] == "2026-Q3"
        assert correction["event_ids"] == [overturn]
        steps = [(s["code"], s["values"], s["event_ids"]) for s in correction["explanation"]]
        assert steps[1:] == [
            (
                "correction_change",
                {
                    "kind": "fine",
                    "subject": "case_id=CASE-201",
                    "before": "-3200.00",
                    "after": "0.00",
                    "change": "3200.00",
                },
                [overturn],
            )
        ]
        assert steps[0][0] == "correction"
        assert steps[0][1]["paid_total"] == "1800.00"
        assert steps[0][1]["replay_total"] == "5000.00"
        assert [s["text"] for s in correction["explanation"]][1] == (
            "fine: -3200.00 → 0.00 (3200.00)"
        )

    def test_li_q4_names_the_cancellation_on_each_line_it_moved(
        self, paid: tuple[Ledger, Reports]
    ) -> None:
        """S-1007 (50000 software) clawed back: commission 16600 → 12600 and bonus
        15000 → 12000 (attainment 1.15 → 0.9, tier 1.0 → 0.8), −7000 in all; the
        cancellation of S-1001 after the window is on neither line."""
        ledger, reports = paid
        inside = stored_record(ledger, "SaleCancelled", sale_id="S-1007").event_id
        correction = _correction(reports.statement("rep-li", "2026-Q4"))
        assert correction["amount"] == "-7000.00"
        assert correction["event_ids"] == [inside]
        changes = [
            (s["values"]["kind"], s["values"]["before"], s["values"]["after"], s["event_ids"])
            for s in correction["explanation"]
            if s["code"] == "correction_change"
        ]
        assert changes == [
            ("bonus", "15000.00", "12000.00", [inside]),
            ("commission", "16600.00", "12600.00", [inside]),
        ]

    def test_a_diff_up_to_a_paid_statement_names_what_it_was_computed_from(
        self, paid: tuple[Ledger, Reports]
    ) -> None:
        """From before Li's sales to the head, Q3's later side is what was paid
        (S-1007 still counted): its commission rests on S-1007's sale, and the
        cancellation recorded after the run was computed is the correction's
        cause, not this diff's."""
        ledger, reports = paid
        sold = stored_record(ledger, "SaleRecorded", sale_id="S-1007")
        cancelled = stored_record(ledger, "SaleCancelled", sale_id="S-1007")
        head = ledger.head()
        assert head is not None
        diff = reports.diff("rep-li", "2026-Q3", sold.position - 1, head.position)
        (commission,) = [c for c in diff.changes if c.kind == "commission"]
        named = {e.event_id for e in commission.caused_by}
        assert sold.event_id in named
        assert cancelled.event_id not in named
