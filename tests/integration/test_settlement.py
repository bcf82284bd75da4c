"""Money is settled once, however finance orders its runs (SPEC §3 steps 7 and 8,
§5), on SQLite and PostgreSQL:

- a period paid before the one it carries a balance from (paid out of order)
  carried that period's total as it stood then; when the total changes later —
  a clawback booked into it, a fine overturned — or is paid as another figure,
  the difference is the paid period's correction, booked in the rep's next
  unpaid period, so neither a clawback nor a deduction undone is lost;
- a rep who left is still owed, or still owes, what later events book to a
  period after they left (a correction, an upheld dispute's adjustment): a run
  of that period covers them when it books anything, and not otherwise.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import BatchRejectedError
from ledger.events import ApprovalGranted, make_event
from policies.periods import parse_period
from policies.plan import load_plan
from projections.facts import LEAVER_RULE_FROM, LedgerFacts
from projections.queues import Viewer, WorkQueues
from projections.service import Reports
from projections.statement import Calculator
from tests.builders import calculate_period, enrol, jsonl, line, payouts, sale, seeded
from tests.unit.shapes import plan_toml

RED_LINE_AT = "2026-08-01T10:00:00+08:00"


def _reports(ledger: Ledger, *events: dict[str, Any]) -> Reports:
    seeded(ledger)
    ledger.import_lines(jsonl(enrol("r1"), enrol("r2")), actor="hr-sync")
    ledger.import_lines(jsonl(*events), actor="crm")
    return Reports(ledger)


def _approve(ledger: Ledger, subject_id: str, actor: str = "fin-bob") -> None:
    ledger.record(
        [make_event(ApprovalGranted, occurred_at=datetime.now(UTC), subject_id=subject_id)],
        actor=actor,
    )


def _pay(reports: Reports, period: str) -> str:
    run_id = calculate_period(reports, period)
    _approve(reports.ledger, run_id)
    payouts(reports).pay_run(run_id, actor="fin-amy")
    return run_id


def _paid_to(reports: Reports, rep_id: str) -> Decimal:
    """Every payable a paid run paid ``rep_id``."""
    paid = Decimal(0)
    for record in reports.ledger.iter_log():
        if record.type != "PayoutPaid":
            continue
        for statement in reports.run(record.data["run_id"])["statements"]:
            if statement["rep_id"] == rep_id:
                paid += Decimal(statement["payable"])
    return paid


def _lines(reports: Reports, rep_id: str, period: str) -> dict[str, str]:
    return {x["kind"]: x["amount"] for x in reports.statement(rep_id, period)["lines"]}


def _overturn(ledger: Ledger, case_id: str) -> None:
    ledger.import_lines(
        jsonl(
            line("ViolationOverturned", at="2026-09-30T10:00:00+08:00", case_id=case_id, reason="x")
        ),
        actor="cmp-a",
    )


def _leave(ledger: Ledger, rep_id: str, at: str, reason: str = "resigned") -> None:
    ledger.import_lines(
        jsonl(line("RepLeft", at=at, rep_id=rep_id, reason=reason)), actor="hr-sync"
    )


def _covered(reports: Reports, run_id: str) -> dict[str, str]:
    """Each rep a run covers, with what it pays them."""
    return {s["rep_id"]: s["payable"] for s in reports.run(run_id)["statements"]}


def _override_team(ledger: Ledger, leaver: str, *later: dict[str, Any]) -> Reports:
    """m1 (override 2 %) over r2, who sells 100,000 in July and in September;
    ``leaver`` (m1 or r2) left on 15 August; ``later``: more events."""
    ledger.publish_plan(
        load_plan(plan_toml(tail="[override]\nrates = [0.02, 0.01]\n"), "toml"),
        actor="admin",
    )
    ledger.import_lines(
        jsonl(
            enrol("m1"),
            enrol("r2", manager_id="m1"),
            sale("S1", "r2", "100000.00"),
            line("RepLeft", at="2026-08-15T10:00:00+08:00", rep_id=leaver, reason="dismissed"),
            sale("S2", "r2", "100000.00", at="2026-09-20T10:00:00+08:00"),
            *later,
        ),
        actor="hr-sync",
    )
    return Reports(ledger)


def _red_line(ledger: Ledger, case_id: str, rep_id: str, amount: str) -> None:
    ledger.import_lines(
        jsonl(
            line(
                "ViolationRecorded",
                at=RED_LINE_AT,
                case_id=case_id,
                rep_id=rep_id,
                code="false-expense",
                severity="red_line",
                description="a false expense claim",
                amount=amount,
            )
        ),
        actor="cmp-a",
    )
    _approve(ledger, case_id, actor="cmp-b")


class TestPaidOutOfOrder:
    def test_a_clawback_booked_into_an_unpaid_period_reaches_the_next_unpaid_one(
        self, ledger: Ledger
    ) -> None:
        """Q3 paid (5,000 commission), then 2027-Q1 paid while 2026-Q4 is not;
        Q3's sale cancelled in its window books -5,000 into Q4, whose negative
        total carries into Q1 — paid, so Q1's correction takes it to Q2."""
        reports = _reports(
            ledger,
            sale("S1", "r1", "100000.00"),
            sale("S5", "r1", "10000.00", at="2027-01-20T10:00:00+08:00"),
        )
        _pay(reports, "2026-Q3")
        _pay(reports, "2027-Q1")
        ledger.import_lines(
            jsonl(line("SaleCancelled", at="2026-08-01T10:00:00+08:00", sale_id="S1", reason="x")),
            actor="crm",
        )
        assert _lines(reports, "r1", "2026-Q4")["correction"] == "-5000.00"
        q2 = reports.statement("r1", "2027-Q2")
        [correction] = [x for x in q2["lines"] if x["kind"] == "correction"]
        assert correction["amount"] == "-5000.00"
        assert correction["paid_period"] == "2027-Q1"
        change = correction["explanation"][1]["values"]
        assert change["kind"] == "carried_balance"
        assert (change["before"], change["after"]) == ("0.00", "-5000.00")
        # Q4 paid now (nothing payable): the clawback stays booked once, in Q2.
        _pay(reports, "2026-Q4")
        assert reports.statement("r1", "2027-Q2")["total"] == "-5000.00"
        assert _paid_to(reports, "r1") == Decimal("5500.00")  # 5,000 + 500 paid so far

    def test_a_deduction_carried_into_a_paid_period_and_then_undone_is_paid_back(
        self, ledger: Ledger
    ) -> None:
        """Q3: 2,000 commission less a 5,000 fine carries -3,000 into Q4, which
        is paid first (5,000 less 3,000). The case is overturned: Q3 pays its
        2,000, and Q4's correction pays back the 3,000 it deducted — 7,000 in
        all, what the rep earned."""
        reports = _reports(
            ledger,
            sale("S1", "r1", "40000.00"),
            sale("S4", "r1", "100000.00", at="2026-10-20T10:00:00+08:00"),
        )
        _red_line(ledger, "C1", "r1", "5000.00")
        assert reports.statement("r1", "2026-Q3")["total"] == "-3000.00"
        _pay(reports, "2026-Q4")
        assert _lines(reports, "r1", "2026-Q4")["carried_balance"] == "-3000.00"
        ledger.import_lines(
            jsonl(
                line(
                    "ViolationOverturned",
                    at="2026-09-30T10:00:00+08:00",
                    case_id="C1",
                    reason="appeal won",
                )
            ),
            actor="cmp-a",
        )
        _pay(reports, "2026-Q3")
        assert _lines(reports, "r1", "2027-Q1")["correction"] == "3000.00"
        _pay(reports, "2027-Q1")
        assert _paid_to(reports, "r1") == Decimal("7000.00")

    def test_paid_in_order_a_carried_balance_is_never_corrected(self, ledger: Ledger) -> None:
        """The usual order (Q3 paid, then Q4): Q4 carried Q3's total as paid,
        which never changes, so a later change of Q3 is Q3's own correction
        only — booked once, in Q1."""
        reports = _reports(
            ledger,
            sale("S1", "r1", "40000.00"),
            sale("S4", "r1", "100000.00", at="2026-10-20T10:00:00+08:00"),
        )
        _red_line(ledger, "C1", "r1", "5000.00")
        _pay(reports, "2026-Q3")
        _pay(reports, "2026-Q4")
        _overturn(ledger, "C1")
        q1 = reports.statement("r1", "2027-Q1")
        corrections = [x for x in q1["lines"] if x["kind"] == "correction"]
        assert [(x["paid_period"], x["amount"]) for x in corrections] == [("2026-Q3", "5000.00")]
        _pay(reports, "2027-Q1")
        assert _paid_to(reports, "r1") == Decimal("7000.00")


class TestLeavers:
    def test_what_is_booked_after_a_rep_left_is_paid_by_a_run(self, ledger: Ledger) -> None:
        """r1 left in August with Q3 paid less a fine; the case overturned books
        +3,000 into Q4 and an upheld dispute +700: Q4's run covers r1 for the
        3,000, and Q1's for the 700 booked into Q4 after its run."""
        reports = _reports(
            ledger,
            sale("S1", "r1", "100000.00"),
            sale("S2", "r2", "1000.00"),
            sale("S3", "r2", "1000.00", at="2026-10-20T10:00:00+08:00"),
            sale("S6", "r2", "1000.00", at="2027-01-20T10:00:00+08:00"),
        )
        _red_line(ledger, "C1", "r1", "3000.00")
        _leave(ledger, "r1", "2026-08-15T10:00:00+08:00", "dismissed")
        q3 = _pay(reports, "2026-Q3")
        _overturn(ledger, "C1")
        q4 = calculate_period(reports, "2026-Q4")
        assert _covered(reports, q4) == {"r1": "3000.00", "r2": "50.00"}
        use = payouts(reports)
        dispute_id, _ = use.raise_dispute(rep_id="r1", run_id=q3, message="short", actor="r1")
        adjustment_id, _ = use.resolve_dispute(
            dispute_id, outcome="upheld", note="ok", actor="fin-amy", amount="700.00"
        )
        _approve(ledger, adjustment_id)
        _approve(ledger, q4)
        use.pay_run(q4, actor="fin-amy")
        q1 = calculate_period(reports, "2027-Q1")
        assert _covered(reports, q1) == {"r1": "700.00", "r2": "50.00"}

    def test_a_rep_who_left_is_credited_nothing_for_sales_dated_after(self, ledger: Ledger) -> None:
        """r1 left on 15 August; a sale of theirs dated 10 September and half of
        one dated in October are credited to nobody: Q3 pays r1 for July's sale
        alone, and the Q4 run that covers r1 for an overturned fine pays them
        that fine and nothing of the October sale (it paid 3,250)."""
        reports = _reports(ledger, sale("S1", "r1", "100000.00"), sale("S2", "r2", "1000.00"))
        _red_line(ledger, "C1", "r1", "3000.00")
        _leave(ledger, "r1", "2026-08-15T10:00:00+08:00", "resigned")
        split = [{"rep_id": "r1", "share": "0.5"}, {"rep_id": "r2", "share": "0.5"}]
        answer = ledger.import_lines(
            jsonl(
                sale("S4", "r1", "50000.00", at="2026-08-16T09:00:00+08:00"),
                sale("S3", "r2", "10000.00", at="2026-10-20T10:00:00+08:00", splits=split),
                sale("S5", "r1", "1000.00", at="2026-08-15T23:00:00+08:00"),  # the day they left
            ),
            actor="crm",
        )
        said = [(n, w.code, w.values["sale_id"]) for n, w in answer.warnings]
        assert said == [(1, "sale_after_leaving", "S4"), (2, "sale_after_leaving", "S3")]
        q3 = reports.statement("r1", "2026-Q3")
        assert _lines(reports, "r1", "2026-Q3")["commission"] == "5050.00"
        assert [(w["code"], w["values"]["sale_id"]) for w in q3["warnings"]] == [
            ("sale_after_leaving", "S4")
        ]
        _pay(reports, "2026-Q3")
        _overturn(ledger, "C1")
        q4 = calculate_period(reports, "2026-Q4")
        assert _covered(reports, q4) == {"r1": "3000.00", "r2": "250.00"}

    def test_a_departure_recorded_after_the_payment_is_the_corrections_cause(
        self, ledger: Ledger
    ) -> None:
        """Q3 paid r1 7,500 with a September sale; HR then records r1's departure
        dated in August: Q4 books −2,500 resting on the RepLeft, and the paid Q3
        names it among its later events; a diff of an unpaid period across a
        departure blames it (it named no event, and the diff the sale)."""
        reports = _reports(
            ledger,
            sale("S1", "r1", "100000.00"),
            sale("S4", "r1", "50000.00", at="2026-09-10T10:00:00+08:00"),
            sale("S9", "r2", "1000.00", at="2026-10-10T10:00:00+08:00"),
        )
        _pay(reports, "2026-Q3")
        _leave(ledger, "r1", "2026-08-15T10:00:00+08:00", "resigned")
        head = ledger.head()
        assert head is not None
        left = ledger.read_log(head.position - 1, 1)[0]
        assert left.type == "RepLeft"
        (correction,) = [
            x for x in reports.statement("r1", "2026-Q4")["lines"] if x["kind"] == "correction"
        ]
        assert correction["amount"] == "-2500.00"
        assert left.event_id in correction["event_ids"]
        paid = reports.statement("r1", "2026-Q3")
        assert [e["event_id"] for e in paid["later_events"]] == [left.event_id]
        ledger.import_lines(  # r2's Q4, not paid: a diff across the departure
            jsonl(line("RepLeft", at="2026-10-01T10:00:00+08:00", rep_id="r2", reason="resigned")),
            actor="hr-sync",
        )
        diff = reports.diff("r2", "2026-Q4", head.position, head.position + 1)
        (change,) = diff.changes
        assert (change.kind, change.change) == ("commission", "-50.00")
        assert [e.event_id for e in change.caused_by] == [
            ledger.read_log(head.position, 1)[0].event_id
        ]

    def test_after_the_day_of_leaving_is_an_instant_in_the_departure_s_offset(
        self, ledger: Ledger
    ) -> None:
        """r1 left at 23:00 on 15 August in −10:00; a sale at 10:00 on the 16th in
        +08:00 came 7 hours before and counts. r2 left at 10:00 on the 15th in
        +14:00; a sale at 20:00 on the 15th in −11:00 came 35 hours after and
        does not. Dates each in its own offset had it the other way round."""
        reports = _reports(ledger)
        answer = ledger.import_lines(
            jsonl(
                line("RepLeft", at="2026-08-15T23:00:00-10:00", rep_id="r1", reason="resigned"),
                line("RepLeft", at="2026-08-15T10:00:00+14:00", rep_id="r2", reason="resigned"),
                sale("SA", "r1", "100000.00", at="2026-08-16T10:00:00+08:00"),
                sale("SB", "r2", "100000.00", at="2026-08-15T20:00:00-11:00"),
            ),
            actor="crm",
        )
        assert [(w.code, w.values["sale_id"]) for _, w in answer.warnings] == [
            ("sale_after_leaving", "SB")
        ]
        assert _lines(reports, "r1", "2026-Q3")["commission"] == "5000.00"
        assert _lines(reports, "r2", "2026-Q3")["commission"] == "0.00"

    def test_a_sale_and_departure_recorded_before_the_rule_keep_their_pay(
        self, ledger: Ledger
    ) -> None:
        """The rule holds for what is recorded since `LEAVER_RULE_FROM`: a store
        written before it (its events' recorded times moved back here) credits
        the sale after the departure as it did, so a replay of a period paid
        then books no correction that no event caused."""
        reports = _reports(ledger, sale("S1", "r1", "100000.00"))
        ledger.import_lines(
            jsonl(
                line("RepLeft", at="2026-08-15T10:00:00+08:00", rep_id="r1", reason="resigned"),
                sale("S4", "r1", "50000.00", at="2026-09-10T10:00:00+08:00"),
            ),
            actor="crm",
        )
        head = ledger.head()
        assert head is not None
        facts, at = reports.facts_at(head.position)
        now = Calculator(facts, at).statement("r1", parse_period("2026-Q3"))
        records = [r._replace(recorded_at="2026-11-30T09:00:00+00:00") for r in ledger.iter_log()]
        assert all(r.recorded_at < LEAVER_RULE_FROM for r in records)
        before = LedgerFacts.of(records)
        assert before.leaver_rule_from is None
        then = Calculator(before, at).statement("r1", parse_period("2026-Q3"))
        commission = {s["kind"]: s["amount"] for s in then["lines"]}["commission"]
        assert commission == "7500.00"
        assert {s["kind"]: s["amount"] for s in now["lines"]}["commission"] == "5000.00"

    def test_a_rep_who_left_with_nothing_booked_is_not_in_later_runs(self, ledger: Ledger) -> None:
        """Gone in August with a negative total carried on (what they owe): no
        later run covers them for it — a carried balance alone settles nothing."""
        reports = _reports(ledger, sale("S1", "r1", "20000.00"), sale("S2", "r2", "1000.00"))
        _red_line(ledger, "C1", "r1", "3000.00")
        _leave(ledger, "r1", "2026-08-15T10:00:00+08:00", "resigned")
        _pay(reports, "2026-Q3")
        assert reports.statement("r1", "2026-Q4")["total"] == "-2000.00"
        q4 = calculate_period(reports, "2026-Q4")
        assert [s["rep_id"] for s in reports.run(q4)["statements"]] == ["r2"]


class TestCorrectedTwice:
    def test_a_second_correction_explains_only_what_it_books(self, ledger: Ledger) -> None:
        """Q3 paid 6,500 of commission; S1's cancellation books -5,000 into Q4,
        which is paid; S2's then books -1,500 into Q1: that line starts from
        what was paid and corrected already (1,500 → 0), its steps add up to
        it, and it names S2's cancellation alone."""
        reports = _reports(ledger, sale("S1", "r1", "100000.00"), sale("S2", "r1", "30000.00"))
        q3 = _pay(reports, "2026-Q3")
        cancel = {"at": "2026-08-01T10:00:00+08:00", "reason": "returned"}
        ledger.import_lines(jsonl(line("SaleCancelled", sale_id="S1", **cancel)), actor="crm")
        _pay(reports, "2026-Q4")
        ledger.import_lines(jsonl(line("SaleCancelled", sale_id="S2", **cancel)), actor="crm")
        second = next(
            x for x in reports.statement("r1", "2027-Q1")["lines"] if x["kind"] == "correction"
        )
        assert second["amount"] == "-1500.00"
        head, *changes = second["explanation"]
        assert head["code"] == "correction_again"
        assert head["values"] == {
            "paid_period": "2026-Q3",
            "run_id": q3,
            "paid_total": "6500.00",
            "corrected_before": "-5000.00",
            "replay_total": "0.00",
            "difference": "-1500.00",
        }
        assert "corrected before -5000.00" in head["text"]
        assert [
            (c["values"]["kind"], c["values"]["before"], c["values"]["after"]) for c in changes
        ] == [("commission", "1500.00", "0.00")]
        assert sum(Decimal(c["values"]["change"]) for c in changes) == Decimal("-1500.00")
        s2_cancelled = next(
            r.event_id
            for r in ledger.iter_log()
            if r.type == "SaleCancelled" and r.data["sale_id"] == "S2"
        )
        assert second["event_ids"] == [s2_cancelled]


class TestManyPeriods:
    def test_periods_paid_every_other_quarter_are_replayed_without_going_deeper(
        self, ledger: Ledger
    ) -> None:
        """A paid period's correction reads the unpaid one before it, whose
        corrections read the paid ones before that: replayed as calls within
        calls, a rep paid every other quarter for fifty years ran out of stack
        (a RecursionError on every run). Walked oldest first, a statement goes
        no deeper with eleven such pairs behind it than with one."""
        seeded(ledger)
        ledger.import_lines(jsonl(enrol("r1")), actor="hr-sync")
        quarters = [f"{2026 + (i + 2) // 4}-Q{(i + 2) % 4 + 1}" for i in range(24)]
        ledger.import_lines(
            jsonl(
                *(
                    sale(
                        f"S{i}",
                        "r1",
                        "1000.00",
                        at=f"{q[:4]}-{int(q[-1]) * 3 - 1:02d}-10T10:00:00+08:00",
                    )
                    for i, q in enumerate(quarters)
                )
            ),
            actor="crm",
        )
        reports = Reports(ledger)
        for quarter in quarters[1::2]:
            _pay(reports, quarter)
        head = ledger.head()
        assert head is not None

        def depth_of(quarter: str) -> int:
            facts, at = reports.facts_at(head.position)
            deepest = 0

            def watch(frame: Any, event: str, _arg: Any) -> None:
                nonlocal deepest
                if event == "call":
                    n, f = 0, frame
                    while f is not None:
                        n, f = n + 1, f.f_back
                    deepest = max(deepest, n)

            sys.setprofile(watch)
            try:
                Calculator(facts, at).statement("r1", parse_period(quarter))
            finally:
                sys.setprofile(None)
            return deepest

        assert depth_of(quarters[-2]) - depth_of(quarters[2]) <= 5


class TestLeaversEarnNothingAfter:
    def test_a_manager_who_left_is_paid_no_override_after_and_no_later_run(
        self, ledger: Ledger
    ) -> None:
        """m1 (override 2 % of r2's sales) was dismissed on 15 August; r2 stays
        recorded under m1 and sells 100,000 in July, in September and every
        quarter after. m1's Q3 override counts July's sale alone, and no later
        run covers m1 for overrides of a team they no longer lead."""
        reports = _override_team(
            ledger, "m1", sale("S3", "r2", "100000.00", at="2026-10-20T10:00:00+08:00")
        )
        q3 = reports.statement("m1", "2026-Q3")
        assert [x["amount"] for x in q3["lines"] if x["kind"] == "override"] == ["2000.00"]
        _pay(reports, "2026-Q3")
        q4 = calculate_period(reports, "2026-Q4")
        assert [s["rep_id"] for s in reports.run(q4)["statements"]] == ["r2"]

    def test_no_override_on_a_report_s_sales_dated_after_the_report_left(
        self, ledger: Ledger
    ) -> None:
        """r2 (under m1, override 2 %) left on 15 August; a sale of r2's dated in
        September credits r2 nothing, so m1's override counts July's sale alone."""
        q3 = _override_team(ledger, "r2").statement("m1", "2026-Q3")
        assert [x["amount"] for x in q3["lines"] if x["kind"] == "override"] == ["2000.00"]


def test_an_upheld_disputes_bad_amount_is_said_once(ledger: Ledger) -> None:
    """1.001 CNY is refused naming the amount — not also the resolution for
    naming the adjustment that was refused with it — and nothing is stored."""
    reports = _reports(ledger, sale("S1", "r1", "10000.00"))
    q3 = _pay(reports, "2026-Q3")
    use = payouts(reports)
    dispute_id, _ = use.raise_dispute(rep_id="r1", run_id=q3, message="short", actor="r1")
    head = ledger.head()
    with pytest.raises(BatchRejectedError) as refused:
        use.resolve_dispute(
            dispute_id, outcome="upheld", note="ok", actor="fin-amy", amount="1.001"
        )
    assert [e.field for e in refused.value.errors] == ["amount"]
    assert ledger.head() == head


def test_a_dispute_and_its_resolution_sent_again_are_recorded_once(ledger: Ledger) -> None:
    """A request re-run after a crash lost its first answer (the Idempotency-Key's
    lease ran out) raised a second dispute under a fresh random id; the same
    dispute sent again with its id was refused as "other content" (its moment
    was the retry's). Both are the same fact now: one dispute, one resolution."""
    reports = _reports(ledger, sale("S1", "r1", "10000.00"))
    q3 = _pay(reports, "2026-Q3")
    use = payouts(reports)
    raise_it = {"rep_id": "r1", "run_id": q3, "message": "short", "actor": "r1"}
    first, stored = use.raise_dispute(**raise_it, by_the_rep=True, idempotency_key="k-1")
    again, skipped = use.raise_dispute(**raise_it, by_the_rep=True, idempotency_key="k-1")
    assert (again, stored.stored, skipped.stored, skipped.skipped) == (first, 1, 0, 1)
    other, _ = use.raise_dispute(**raise_it, by_the_rep=True, idempotency_key="k-2")
    assert other != first  # another key is another request
    named, _ = use.raise_dispute(**raise_it, dispute_id=first, by_the_rep=True)
    assert named == first
    with pytest.raises(BatchRejectedError):  # the same id saying something else
        use.raise_dispute(**{**raise_it, "message": "longer"}, dispute_id=first)
    head = ledger.head()
    resolve = {"outcome": "upheld", "note": "ok", "actor": "fin-amy", "amount": "100.00"}
    adjustment, resolved = use.resolve_dispute(first, **resolve)
    assert resolved.stored == 2
    assert use.resolve_dispute(first, **resolve)[1].skipped == 2
    for other in ({"amount": "200.00"}, {"outcome": "rejected", "amount": None}):
        with pytest.raises(BatchRejectedError) as refused:  # one resolution
            use.resolve_dispute(first, **{**resolve, **other})
        # (it was the adjustment's "other content", to correct "with a later event")
        [error] = refused.value.errors
        assert (error.field, error.status) == ("dispute_id", "conflict")
        assert error.reason.startswith(f"dispute {first} was resolved on ")
        assert "resolved once, and its resolution stands" in error.reason
    assert [e.type for e in ledger.read_log(head.position if head else 0)] == [
        "AdjustmentRequested",
        "DisputeResolved",
    ]
    assert adjustment == f"ADJ-{first}"


def test_a_dispute_with_any_valid_id_can_be_upheld(ledger: Ledger) -> None:
    """``ADJ-`` and a dispute id of 125 characters is over the 128 an id may
    have; ``ADJ-301`` was already another adjustment (pending): both disputes
    could only be rejected. Their adjustments take a digest of the id instead."""
    reports = _reports(ledger, sale("S1", "r1", "10000.00"))
    ledger.import_lines(
        jsonl(
            line(
                "AdjustmentRequested",
                actor="fin-amy",
                adjustment_id="ADJ-301",
                rep_id="r1",
                period="2026-Q4",
                amount="10.00",
                reason="r",
            )
        ),
        actor="fin-amy",
    )
    q3 = _pay(reports, "2026-Q3")
    use = payouts(reports)
    booked = []
    for dispute_id in ("d" * 125, "301", "302"):
        use.raise_dispute(
            rep_id="r1", run_id=q3, message="short", actor="r1", dispute_id=dispute_id
        )
        adjustment_id, _ = use.resolve_dispute(
            dispute_id, outcome="upheld", note="ok", actor="fin-amy", amount="100.00"
        )
        assert adjustment_id is not None
        booked.append(adjustment_id)
    assert booked[0].startswith("ADJ-D-")
    assert booked[1].startswith("ADJ-D-")
    assert booked[0] != booked[1]
    assert booked[2] == "ADJ-302"
    for adjustment_id in booked:
        _approve(ledger, adjustment_id)
    q4 = reports.statement("r1", "2026-Q4")
    paid = [x["amount"] for x in q4["lines"] if x["kind"] == "adjustment"]
    assert paid == ["100.00", "100.00", "100.00"]
    assert [p["subject_id"] for p in q4["pending"]] == ["ADJ-301"]


def test_the_summary_shows_what_an_open_run_will_pay(ledger: Ledger) -> None:
    """Q4 calculated and approved at 50.00; then a Q3 sale is cancelled (Q3
    paid): the summary says approved, 50.00 payable — the run's figures, as
    its status — and beside them what Q4 would pay now (0.00, -4,950.00)."""
    reports = _reports(
        ledger,
        sale("S1", "r1", "100000.00"),
        sale("S4", "r1", "1000.00", at="2026-10-20T10:00:00+08:00"),
    )
    _pay(reports, "2026-Q3")
    q4 = calculate_period(reports, "2026-Q4")
    _approve(ledger, q4)
    ledger.import_lines(
        jsonl(line("SaleCancelled", at="2026-08-01T10:00:00+08:00", sale_id="S1", reason="x")),
        actor="crm",
    )
    reports.catch_up()
    summary = WorkQueues(reports).summary(Viewer.operator("fin-amy"), "2026-Q4")
    (item,) = [i for i in summary.items if i.rep_id == "r1"]
    assert (item.status, item.run_id) == ("approved", q4)
    assert (item.total, item.payable) == ("50.00", "50.00")
    assert (item.now_total, item.now_payable) == ("-4950.00", "0.00")
    assert [(t.reps, t.payable) for t in summary.teams] == [(2, "50.00")], "r2: 0.00"


@pytest.mark.parametrize(
    "order",
    [
        ("late sale", "2026-Q3", "2026-Q4", "2027-Q1"),
        ("2026-Q4", "late sale", "2026-Q3", "2027-Q1"),
    ],
)
def test_a_recoverable_draw_pays_the_same_in_any_order(
    ledger: Ledger, order: tuple[str, ...]
) -> None:
    """A draw of 3,000 a quarter. Paid first, Q4 recovered 2,000 of the draw
    Q3's replay then made (no sale yet); Q3's sale arrives, so Q3 never draws —
    the rep repaid a draw never paid: Q4's correction gives the 2,000 back and
    2027-Q1 recovers nothing. 20,000 in all, as paid in order."""
    seeded(ledger)
    draw = load_plan(plan_toml(tail="[draw]\namount = 3000\nrecoverable = true\n"), "toml")
    ledger.publish_plan(draw.model_copy(update={"id": "drawn"}), actor="admin")
    ledger.import_lines(
        jsonl(enrol("r1", plan_id="drawn", at="2026-07-01T09:00:00+08:00")), actor="hr-sync"
    )
    ledger.import_lines(
        jsonl(
            sale("S4", "r1", "100000.00", at="2026-11-10T10:00:00+08:00"),
            sale("S1", "r1", "200000.00", at="2027-02-10T10:00:00+08:00"),
        ),
        actor="crm",
    )
    reports = Reports(ledger)
    for step in order:
        if step == "late sale":
            ledger.import_lines(jsonl(sale("S3", "r1", "100000.00")), actor="crm")
        else:
            _pay(reports, step)
    assert _paid_to(reports, "r1") == Decimal("20000.00")


@pytest.mark.parametrize(
    ("late", "order"),
    [
        ("sale", ("late", "2026-Q3", "2026-Q4")),
        ("sale", ("2026-Q3", "late", "2026-Q4")),
        ("cancellation", ("late", "2026-Q3", "2026-Q4")),
        ("cancellation", ("2026-Q3", "late", "2026-Q4")),
    ],
)
def test_a_forgiven_draw_is_settled_when_the_total_it_topped_up_changes(
    ledger: Ledger, late: str, order: tuple[str, ...]
) -> None:
    """A draw of 3,000 that is not recoverable. Q3 paid with nothing sold drew
    3,000; a late sale (commission 4,000) no longer needs it — Q4's correction
    is +1,000, not +4,000 on top of the draw. Q3 paid 4,000 of commission and
    then its sale cancelled needs the draw: -1,000, not -4,000. Either way the
    rep is paid what paying in order pays."""
    seeded(ledger)
    terms = "[draw]\namount = 3000\nrecoverable = false\nuntil = 2026-12-31\n"
    ledger.publish_plan(
        load_plan(plan_toml(tail=terms), "toml").model_copy(update={"id": "drawn"}),
        actor="admin",
    )
    ledger.import_lines(
        jsonl(enrol("r1", plan_id="drawn", at="2026-07-01T09:00:00+08:00")), actor="hr-sync"
    )
    q3_sale = sale("S3", "r1", "80000.00", at="2026-08-14T10:00:00+08:00")
    events = [sale("S4", "r1", "100000.00", at="2026-11-10T10:00:00+08:00")]
    if late == "cancellation":
        events.append(q3_sale)
        q3_sale = line("SaleCancelled", at="2026-09-01T10:00:00+08:00", sale_id="S3", reason="x")
    ledger.import_lines(jsonl(*events), actor="crm")
    reports = Reports(ledger)
    for step in order:
        if step == "late":
            ledger.import_lines(jsonl(q3_sale), actor="crm")
        else:
            _pay(reports, step)
    assert _paid_to(reports, "r1") == Decimal("9000.00" if late == "sale" else "8000.00")
