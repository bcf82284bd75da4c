"""Statements, replay, diff and the payout flow on the demo quarter, on SQLite
and PostgreSQL. Figures are worked by hand from the SPEC's plan (see
`demo/` for the events)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from demo import run_demo
from ledger.application import Ledger
from ledger.errors import BatchRejectedError, NotFoundError
from projections.diff import EventSummary
from projections.runner import verify_views
from projections.service import Reports
from tests.builders import jsonl, payouts, sale, seeded, stored_record
from tests.builders import line as event_line


@pytest.fixture
def demo(ledger: Ledger) -> tuple[Ledger, Reports, str]:
    result = run_demo(ledger)
    return ledger, Reports(ledger), result.run_id


def _amounts(statement: dict[str, Any]) -> dict[str, str]:
    return {line["kind"]: line["amount"] for line in statement["lines"]}


class TestGoldenStatements:
    def test_li_q3_as_paid(self, demo: tuple[Ledger, Reports, str]) -> None:
        """Commission 120000×0.08 + 30000×0.05 (half of S-1002) + 50000×0.08 + 30000×0.05
        = 9600 + 1500 + 4000 + 1500 = 16600; attainment 230000 ÷ 200000 = 1.15,
        score 0.6×1.15 + 0.2×0.95 + 0.2×0.9 = 1.06 → tier 1.0 → 1.5 × 10000 = 15000;
        approved adjustment +1500; total 33100, as recorded in the paid run."""
        _, reports, run_id = demo
        s = reports.statement("rep-li", "2026-Q3")
        assert s["status"] == "paid"
        assert s["paid"]["run_id"] == run_id
        assert _amounts(s) == {
            "commission": "16600.00",
            "bonus": "15000.00",
            "adjustment": "1500.00",
        }
        assert (s["total"], s["payable"]) == ("33100.00", "33100.00")
        assert (s["attainment"], s["score"], s["tier_coefficient"]) == (
            "1.1500",
            "1.0600",
            "1.5000",
        )

    def test_a_late_cancellation_is_a_correction_next_period(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        """S-1007 (50000 software) cancelled 25 days after the sale, after Q3 was paid:
        Q3 replays as commission 12600, attainment 0.9 → score 0.91 → tier 0.8 →
        12000, + 1500 = 26100; 26100 − 33100 = −7000 booked in Q4 (payable 0) and
        carried into 2027-Q1."""
        ledger, reports, _ = demo
        q3 = reports.statement("rep-li", "2026-Q3")
        cancel = stored_record(ledger, "SaleCancelled", sale_id="S-1007").position
        assert q3["correction_to"] == "2026-Q4"
        assert [e["position"] for e in q3["later_events"]] == [cancel]
        assert q3["total"] == "33100.00", "a paid period never changes"
        q4 = reports.statement("rep-li", "2026-Q4")
        correction = next(x for x in q4["lines"] if x["kind"] == "correction")
        assert correction["amount"] == "-7000.00"
        assert correction["paid_period"] == "2026-Q3"
        assert ledger.read_log(cancel - 1, 1)[0].event_id in correction["event_ids"]
        assert (q4["total"], q4["payable"]) == ("-7000.00", "0.00")
        q1 = reports.statement("rep-li", "2027-Q1")
        assert _amounts(q1)["carried_balance"] == "-7000.00"

    def test_chen_red_line_and_approved_target_change(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        """Commission 70000×0.05 + 30000×0.05 = 5000 (S-1003 clawed back after 15
        days); the approved lower target 150000 replaces 180000 but the approved
        red-line case forfeits the bonus and fines 3200: 5000 + 0 − 3200 = 1800."""
        _, reports, _ = demo
        s = reports.statement("rep-chen", "2026-Q3")
        assert _amounts(s) == {"commission": "5000.00", "bonus": "0.00", "fine": "-3200.00"}
        assert s["total"] == "1800.00"
        bonus_codes = [
            step["code"]
            for line in s["lines"]
            if line["kind"] == "bonus"
            for step in line["explanation"]
        ]
        assert "bonus_forfeited" in bonus_codes
        attainment = next(
            step
            for line in s["lines"]
            for step in line["explanation"]
            if step["code"] == "attainment"
        )
        assert attainment["values"]["target_id"] == "T-CHEN-Q3-B"

    def test_wang_ladder_and_pending_target(self, demo: tuple[Ledger, Reports, str]) -> None:
        """Commission 80000×0.08 + 45000×0.05 = 8650; the pending change to 120000
        counts nothing: 125000 ÷ 150000 → score 0.6×0.8333… + 0.22 + 0.2 = 0.92 → tier
        0.8 → 12000, less the 2nd minor case's 2 points × 100 = 11800; total 20450."""
        _, reports, _ = demo
        s = reports.statement("rep-wang", "2026-Q3")
        assert _amounts(s) == {"commission": "8650.00", "bonus": "11800.00"}
        assert s["total"] == "20450.00"
        # paid: the statement as recorded, pending list included
        assert [p["subject_id"] for p in s["pending"]] == ["T-WANG-Q3-B"]
        history = reports.history("rep-wang")
        assert [(e.kind, getattr(e, "sanction", None)) for e in history] == [
            ("case", "warning"),
            ("coaching", None),
            ("case", "points:2"),
        ]

    def test_pending_shows_on_an_open_statement(self, ledger: Ledger) -> None:
        run_demo(ledger)
        reports = Reports(ledger)
        before_run = stored_record(
            ledger, "KpiScored", rep_id="rep-wang", kpi="market_feedback"
        ).position
        s = reports.statement("rep-wang", "2026-Q3", as_of=before_run)
        assert s["status"] == "open"
        assert [p["subject_id"] for p in s["pending"]] == ["T-WANG-Q3-B"]

    def test_cancellation_outside_the_window_changes_nothing(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        """S-0901 (Q2, 40000 hardware) cancelled 157 days later: still credited, 2000."""
        _, reports, _ = demo
        s = reports.statement("rep-wang", "2026-Q2")
        assert _amounts(s)["commission"] == "2000.00"
        codes = [step["code"] for line in s["lines"] for step in line["explanation"]]
        assert "cancellation_outside_window" in codes

    def test_every_line_is_explained_and_rests_on_events(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        _, reports, _ = demo
        for rep, period in [
            ("rep-li", "2026-Q3"),
            ("rep-li", "2026-Q4"),
            ("rep-li", "2027-Q1"),
            ("rep-chen", "2026-Q3"),
            ("rep-wang", "2026-Q3"),
        ]:
            s = reports.statement(rep, period)
            assert s["lines"]
            for line in s["lines"]:
                assert line["explanation"], (rep, period, line["kind"])
                assert all(step["text"] for step in line["explanation"])
                assert line["event_ids"], (rep, period, line["kind"])
            assert sum(Decimal(x["amount"]) for x in s["lines"]) == Decimal(s["total"])

    def test_chinese_wording_same_numbers(self, demo: tuple[Ledger, Reports, str]) -> None:
        ledger, reports, _ = demo
        head = ledger.head()
        assert head is not None
        en = reports.statement("rep-chen", "2026-Q3", as_of=head.position)
        zh = reports.statement("rep-chen", "2026-Q3", as_of=head.position, locale="zh-CN")
        assert _amounts(en) == _amounts(zh)
        assert "罚款" in json.dumps(zh, ensure_ascii=False)


class TestReplayAndDiff:
    def test_as_of_a_position_replays_history(self, demo: tuple[Ledger, Reports, str]) -> None:
        """Before the adjustment's approval, Li's Q3 has no adjustment line and lists it pending."""
        ledger, reports, _ = demo
        approval = stored_record(ledger, "ApprovalGranted", subject_id="ADJ-301").position
        before = reports.statement("rep-li", "2026-Q3", as_of=approval - 1)
        after = reports.statement("rep-li", "2026-Q3", as_of=approval)
        assert "adjustment" not in _amounts(before)
        assert [p["subject_id"] for p in before["pending"]] == ["ADJ-301"]
        assert _amounts(after)["adjustment"] == "1500.00"
        assert before["as_of"]["position"] == approval - 1
        assert before["chain_head"]["hash"] == ledger.read_log(approval - 2, 1)[0].hash

    def test_diff_around_an_approval_names_it(self, demo: tuple[Ledger, Reports, str]) -> None:
        ledger, reports, _ = demo
        approval = stored_record(ledger, "ApprovalGranted", subject_id="ADJ-301").position
        approval_id = ledger.read_log(approval - 1, 1)[0].event_id
        d = reports.diff("rep-li", "2026-Q3", approval - 1, approval)
        assert d.total_change == "1500.00"
        (change,) = d.changes
        assert (change.kind, change.change) == ("adjustment", "1500.00")
        named = [e for e in change.events_added if e.event_id == approval_id]
        assert named
        assert isinstance(named[0], EventSummary)  # recorded between the two points
        assert (named[0].type, named[0].actor) == ("ApprovalGranted", "fin-amy")

    def test_a_diff_from_before_the_enrolment_names_the_point(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        """``--from 1`` (the plan, before rep-li was enrolled) said "no rep rep-li"."""
        _, reports, _ = demo
        with pytest.raises(NotFoundError) as early:
            reports.diff("rep-li", "2026-Q3", 1, 60)
        assert early.value.field == "from"
        assert "rep rep-li was not enrolled yet at position 1" in str(early.value)
        with pytest.raises(NotFoundError) as unknown:
            reports.diff("rep-nobody", "2026-Q3", 1, 60)
        assert unknown.value.field == "rep_id"

    def test_diff_lists_only_lines_whose_amount_changed(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        """SPEC §4: the approval of Chen's lower target moves her score (190000 ÷
        180000 → ÷ 150000: 0.6333 → 0.7600, unscored KPIs count 0) inside the tier
        from 0: the bonus stays 0.00, so no line is listed; the approval is among
        the events between the two points. (Before issue 16 the unchanged bonus
        line was listed, 0.00 → 0.00, for its changed event ids.)"""
        ledger, reports, _ = demo
        approval = stored_record(ledger, "ApprovalGranted", subject_id="T-CHEN-Q3-B").position
        approval_id = ledger.read_log(approval - 1, 1)[0].event_id
        d = reports.diff("rep-chen", "2026-Q3", approval - 1, approval)
        assert d.changes == []
        assert d.total_change == "0.00"
        assert [e.event_id for e in d.events_between] == [approval_id]

    def test_each_changed_line_names_the_event_that_changed_it(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        """SPEC §4: S-2003 (15,000 software, in USD) lifts Sun's August — the
        commission it is credited in, and the bonus (its attainment), the draw's
        top-up (no longer needed) and the SPIFF (a software sale in the window),
        none of whose steps cite it. Each change names it, with its type, actor
        and time; the rate it converts at, recorded earlier, is named by type and
        actor too; the draw line that went away does not "lose" the plan that
        every other line still rests on."""
        ledger, reports, _ = demo
        sale_record = stored_record(ledger, "SaleRecorded", sale_id="S-2003")
        rate = stored_record(ledger, "FxRateSet", base="USD")
        plan = stored_record(ledger, "PlanPublished")
        d = reports.diff("rep-sun", "2026-08", sale_record.position - 1, sale_record.position)
        changed = {c.kind: c for c in d.changes}
        assert set(changed) == {"commission", "bonus", "draw", "spiff"}
        for change in d.changes:
            (cause,) = change.caused_by
            assert isinstance(cause, EventSummary)
            assert (cause.event_id, cause.type, cause.actor, cause.position) == (
                sale_record.event_id,
                "SaleRecorded",
                "crm-sync",
                sale_record.position,
            )
            assert cause.occurred_at == sale_record.occurred_at.isoformat()
        (fx,) = [e for e in changed["commission"].events_added if e.event_id == rate.event_id]
        assert isinstance(fx, EventSummary)
        assert (fx.type, fx.actor) == ("FxRateSet", "fin-amy")
        assert plan.event_id not in {e.event_id for e in changed["draw"].events_removed}
        assert (changed["draw"].before, changed["draw"].after) == ("5000.00", "0.00")

    def test_a_diff_lists_only_the_events_of_the_reps_trail(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        """The events between two points are those that can change the rep's
        figures: another rep's sale and red-line case recorded meanwhile are not
        listed (a rep sees nothing of anyone else's)."""
        ledger, reports, _ = demo
        start = ledger.head().position  # type: ignore[union-attr]
        ledger.import_lines(
            jsonl(
                sale("S-DIFF-CHEN", "rep-chen", "5000.00"),
                event_line(
                    "ViolationRecorded",
                    actor="cmp-sun",
                    case_id="CASE-DIFF",
                    rep_id="rep-chen",
                    code="false-expense-claim",
                    severity="red_line",
                    description="taxi receipts",
                    amount="50.00",
                ),
                sale("S-DIFF-LI", "rep-li", "1000.00"),
            ),
            actor="crm",
        )
        end = ledger.head().position  # type: ignore[union-attr]
        mine = ledger.read_log(end - 1, 1)[0]
        d = reports.diff("rep-li", "2026-Q3", start, end)
        assert [(e.event_id, e.type) for e in d.events_between] == [(mine.event_id, "SaleRecorded")]
        theirs = reports.diff("rep-chen", "2026-Q3", start, end)
        assert [e.position for e in theirs.events_between] == [start + 1, start + 2]

    def test_a_managers_diff_lists_no_sale_of_a_report_who_moved_on(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        """lead-he (paid overrides) lost rep-sun to mgr-zhao on 1 November: a sale
        rep-sun made after the move is not lead-he's (GET /events and the audit
        bundle hide it), so lead-he's diff does not name it either — only the
        transfer, which ended the override."""
        ledger, reports, _ = demo
        start = ledger.head().position  # type: ignore[union-attr]
        ledger.import_lines(
            jsonl(
                event_line(
                    "RepTransferred",
                    actor="it-admin",
                    at="2026-11-01T00:00:00+08:00",
                    rep_id="rep-sun",
                    team="east",
                    manager_id="mgr-zhao",
                ),
                sale("S-MOVED-ON", "rep-sun", at="2026-11-10T10:00:00+08:00"),
            ),
            actor="crm",
        )
        end = ledger.head().position  # type: ignore[union-attr]
        d = reports.diff("lead-he", "2026-11", start, end)
        assert [e.type for e in d.events_between] == ["RepTransferred"]
        theirs = reports.diff("rep-sun", "2026-11", start, end)
        assert [e.position for e in theirs.events_between] == [start + 1, start + 2]

    def test_as_of_a_timestamp(self, demo: tuple[Ledger, Reports, str]) -> None:
        ledger, reports, _ = demo
        record = ledger.read_log(9, 1)[0]
        s = reports.statement("rep-li", "2026-Q3", as_of=record.recorded_at)
        assert s["as_of"]["position"] >= record.position

    def test_unknown_rep_and_bad_period(self, demo: tuple[Ledger, Reports, str]) -> None:
        _, reports, _ = demo
        with pytest.raises(NotFoundError):
            reports.statement("nobody", "2026-Q3")
        with pytest.raises(Exception, match="2026-Q3"):
            reports.statement("rep-li", "2026-13")
        with pytest.raises(NotFoundError, match="pays by quarter"):
            reports.statement("rep-li", "2026-07")


class TestPayoutFlow:
    def test_run_records_statements_with_hash_and_head(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        _, reports, run_id = demo
        run = reports.run(run_id)
        assert run["paid"] is True
        assert {s["rep_id"] for s in run["statements"]} == {"rep-li", "rep-chen", "rep-wang"}
        assert all(len(s["sha256"]) == 64 for s in run["statements"])
        assert len(run["chain_head"]["hash"]) == 64
        csv_text = reports.export_csv(run_id)
        assert csv_text.splitlines()[0].startswith(
            "run_id,period,rep_id,rep_name,currency,total,payable"
        )
        assert ",rep-li,Li Wei,CNY,33100.00,33100.00," in csv_text

    def test_a_paid_period_is_locked(self, demo: tuple[Ledger, Reports, str]) -> None:
        _, reports, _ = demo
        with pytest.raises(Exception, match="no rep has an unpaid 2026-Q3"):
            payouts(reports).payout_run("2026-Q3", actor="fin-amy")

    def test_maker_checker_on_runs(self, ledger: Ledger) -> None:
        run_demo(ledger)
        reports = Reports(ledger)
        result = payouts(reports).payout_run("2026-Q4", actor="fin-amy")
        run_id = ledger.event(str(result.outcomes[0].event_id)).data["run_id"]
        with pytest.raises(BatchRejectedError, match="maker-checker"):
            ledger.record([_approval(run_id)], actor="fin-amy")
        with pytest.raises(BatchRejectedError, match="not approved"):
            ledger.pay_run(run_id, actor="fin-amy")

    def test_projections_equal_a_fresh_replay(self, demo: tuple[Ledger, Reports, str]) -> None:
        ledger, reports, _ = demo
        reports.catch_up()
        assert verify_views(ledger) == []
        rebuilt = reports.rebuild()
        head = ledger.head()
        assert head is not None
        assert rebuilt.position == head.position
        assert verify_views(ledger) == []

    def test_the_cached_statement_equals_the_replay(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        ledger, reports, _ = demo
        head = ledger.head()
        assert head is not None
        cached = reports.statement("rep-li", "2026-Q4")
        replayed = reports.statement("rep-li", "2026-Q4", as_of=head.position)
        assert cached == replayed


def _approval(subject_id: str) -> Any:
    from datetime import UTC, datetime

    from ledger.events import ApprovalGranted

    return ApprovalGranted(
        type="ApprovalGranted", occurred_at=datetime.now(UTC), subject_id=subject_id
    )


def test_a_rep_enrolled_before_the_plan_takes_effect(ledger: Ledger) -> None:
    """Enrolled in 2025-Q4 on a plan effective 2026-01-01: Q1 has no carry-in to
    look for, and asking for Q4 itself says no plan was in force."""
    from tests.builders import enrol, jsonl, sale, seeded

    seeded(ledger)
    ledger.import_lines(jsonl(enrol("early", at="2025-12-15T09:00:00+08:00")), actor="hr")
    ledger.import_lines(
        jsonl(sale("S-E1", "early") | {"occurred_at": "2026-02-01T10:00:00+08:00"}), actor="crm"
    )
    reports = Reports(ledger)
    s = reports.statement("early", "2026-Q1")
    assert _amounts(s)["commission"] == "50.00"  # 1000 × 0.05
    with pytest.raises(NotFoundError, match="no plan version is in force"):
        reports.statement("early", "2025-Q4")


class TestStatementBytes:
    def test_served_bytes_are_the_statement(self, demo: tuple[Ledger, Reports, str]) -> None:
        """The API serves the stored document with as_of and chain_head spliced in,
        undecoded: it must be exactly the statement the read model gives."""
        import orjson

        _, reports, _ = demo
        for rep_id, period in [("rep-li", "2026-Q3"), ("rep-chen", "2026-Q3")]:
            served = orjson.loads(reports.statement_json(rep_id, period))
            assert served == reports.statement(rep_id, period)
            assert served["chain_head"]["position"] == served["as_of"]["position"]

    def test_text_with_quotes_and_backslashes_is_served_intact(self, ledger: Ledger) -> None:
        """Reasons are free text: a stored statement whose JSON holds
        escapes (a quote, a backslash, a newline) is served byte for byte."""
        import orjson

        seeded(ledger, "r1")
        reason = 'customer said "no"\nthen wrote C:\\contracts\\S2 \\ and left'
        ledger.import_lines(
            jsonl(
                sale("S1", "r1"),
                sale("S2", "r1"),
                event_line(
                    "SaleCancelled",
                    at="2026-07-20T10:00:00+08:00",
                    sale_id="S2",
                    reason=reason,
                ),
            ),
            actor="crm",
        )
        reports = Reports(ledger)
        served = orjson.loads(reports.statement_json("r1", "2026-Q3"))
        assert served == reports.statement("r1", "2026-Q3")
        texts = [s["text"] for line_ in served["lines"] for s in line_["explanation"]]
        assert any(reason in t for t in texts)

    def test_as_of_and_unknown_fall_back_to_the_calculation(
        self, demo: tuple[Ledger, Reports, str]
    ) -> None:
        import orjson

        from ledger.errors import NotFoundError

        ledger, reports, _ = demo
        position = stored_record(ledger, "PayoutPaid").position
        served = orjson.loads(reports.statement_json("rep-li", "2026-Q3", as_of=position))
        assert served == reports.statement("rep-li", "2026-Q3", as_of=position)
        with pytest.raises(NotFoundError):
            reports.statement_json("rep-nobody", "2026-Q3")
