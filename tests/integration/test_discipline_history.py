"""A rep's disciplinary history as compliance reads it (SPEC §3: "an
overturned case is undone everywhere, and its history shows both events"), on
SQLite and PostgreSQL, through the read side, the cases queue and the CLI.

One rep on the SPEC's plan: a red-line false expense claim approved by
compliance and later overturned, and on one day a minor case at 09:00 in
Beijing (01:00 UTC) and a coaching session logged at 03:00 UTC (11:00 in
Beijing) by a manager in another office.
"""

from __future__ import annotations

import json

import pytest

from ledger.application import Ledger
from presentation import history_texts
from projections.discipline_history import CaseEntry
from projections.queues import Viewer, WorkQueues
from projections.service import Reports
from tests.builders import invoke_cli, jsonl, line, seeded


def _red_line_approved() -> tuple[dict[str, object], ...]:
    """rep-li's red-line false expense claim of 2500.50, approved by compliance."""
    return (
        line(
            "ViolationRecorded",
            at="2026-08-03T10:00:00+08:00",
            actor="cmp-officer",
            case_id="CASE-RL",
            rep_id="rep-li",
            code="false_expense",
            severity="red_line",
            description="taxi receipts for visits that did not happen",
            amount="2500.50",
        ),
        line(
            "ApprovalGranted",
            at="2026-08-04T10:00:00+08:00",
            actor="cmp-head",
            subject_id="CASE-RL",
        ),
    )


@pytest.fixture
def reports(ledger: Ledger) -> Reports:
    seeded(ledger, "rep-li")
    ledger.import_lines(
        jsonl(
            *_red_line_approved(),
            line(
                "ViolationRecorded",
                at="2026-08-15T09:00:00+08:00",
                actor="mgr-zhao",
                case_id="CASE-MINOR",
                rep_id="rep-li",
                code="late_report",
                severity="minor",
                description="call report late",
            ),
            line(
                "CoachingRecorded",
                at="2026-08-15T03:00:00+00:00",
                actor="mgr-qian",
                rep_id="rep-li",
                topic="call reports",
            ),
            line(
                "ViolationOverturned",
                at="2026-09-01T10:00:00+08:00",
                actor="cmp-head",
                case_id="CASE-RL",
                reason="appeal upheld: the visits took place",
            ),
        ),
        actor="import",
    )
    return Reports(ledger)


class TestHistory:
    def test_oldest_first_by_the_instant_not_the_text(self, reports: Reports) -> None:
        """09:00+08:00 (01:00 UTC) happened before 03:00+00:00: the minor case
        comes before the coaching session, though its text sorts after."""
        entries = reports.history("rep-li")
        assert [(e.kind, getattr(e, "case_id", None)) for e in entries] == [
            ("case", "CASE-RL"),
            ("case", "CASE-MINOR"),
            ("coaching", None),
            ("overturned", "CASE-RL"),
        ]

    def test_an_overturned_red_line_case_carries_no_sanction(self, reports: Reports) -> None:
        """Undone everywhere: no forfeited bonus and no fine, as an overturned
        minor case takes no rung; the overturning entry says why."""
        case, *_ = reports.history("rep-li")
        assert case.kind == "case"
        assert (case.case_id, case.overturned, case.sanction) == ("CASE-RL", True, None)
        q3 = reports.statement("rep-li", "2026-Q3")
        assert [line_["kind"] for line_ in q3["lines"]] == ["commission", "bonus"]

    def test_the_cases_queue_says_the_same(self, reports: Reports) -> None:
        """Compliance's queue of red-line cases: overturned, nothing sanctioned."""
        viewer = Viewer("compliance", "cmp-head")
        page = WorkQueues(reports).cases(viewer, severity="red_line")
        assert [(c.case_id, c.status, c.sanction) for c in page.items] == [
            ("CASE-RL", "overturned", None)
        ]

    def test_the_cli_history(self, reports: Reports, db_url: str) -> None:
        """`history` words it as it words an overturned minor case."""
        reports.ledger.close()
        shown = invoke_cli("history", "--rep", "rep-li", "--db", db_url)
        assert shown.exit_code == 0, shown.output
        lines = shown.output.splitlines()
        assert "CASE-RL red line false_expense" in lines[1]
        assert lines[1].endswith("sanction none [overturned]"), lines[1]
        assert "CASE-MINOR" in lines[2]
        assert "coaching: call reports" in lines[3]
        as_json = invoke_cli("history", "--rep", "rep-li", "--json", "--db", db_url)
        assert [e["kind"] for e in json.loads(as_json.output)] == [
            "case",
            "case",
            "coaching",
            "overturned",
        ]


def test_a_red_line_fine_names_its_amount(ledger: Ledger) -> None:
    """Compliance and the rep read what an approved red-line case fined: the
    amount involved, in numbers, in both languages (it said only "fined the
    amount involved")."""
    seeded(ledger, "rep-li")
    ledger.import_lines(jsonl(*_red_line_approved()), actor="import")
    (entry,) = history_texts(Reports(ledger).history("rep-li"), "en")
    assert entry["text"].endswith("sanction bonus forfeited, fined 2500.50 (the amount involved)")
    (zh,) = history_texts(Reports(ledger).history("rep-li"), "zh-CN")
    assert zh["text"].endswith("按涉及金额罚款 2500.50")


def test_each_entry_says_when_it_was_recorded_and_decided(reports: Reports) -> None:
    """Compliance reads when the ledger learned of each entry and when a case's
    approval was recorded (the history gave who, not when): the log's own
    ``recorded_at`` of the entry's event and of its decision."""
    ledger = reports.ledger
    entries = reports.history("rep-li")
    for entry in entries:
        assert entry.recorded_at == ledger.event(entry.event_id).recorded_at
    red_line, minor = (e for e in entries if isinstance(e, CaseEntry))
    assert red_line.approval_event_id is not None
    assert red_line.approved_at == ledger.event(red_line.approval_event_id).recorded_at
    assert (minor.approval, minor.approved_at) == ("not_required", None)
