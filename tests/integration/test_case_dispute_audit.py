"""Red-line cases and disputes as compliance and a rep audit them (SPEC §2
approvals, §3 fines, §5 disputes), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import LedgerError
from presentation import history_texts
from projections.discipline_history import CaseEntry
from projections.service import Reports
from tests.builders import jsonl, line, pay_period, payouts, sale, seeded


def _case(actor: str = "cmp-officer", at: str = "2026-08-03T10:00:00+08:00") -> dict[str, Any]:
    return line(
        "ViolationRecorded",
        at=at,
        actor=actor,
        case_id="CASE-RL",
        rep_id="rep-li",
        code="false_expense",
        severity="red_line",
        description="false taxi receipts",
        amount="2500.50",
    )


def _decision(kind: str, actor: str, at: str = "2026-08-04T10:00:00+08:00") -> dict[str, Any]:
    return line(kind, at=at, actor=actor, subject_id="CASE-RL", note="checked")


def _fines(reports: Reports, period: str = "2026-Q3") -> list[Decimal]:
    doc = reports.statement("rep-li", period)
    return [Decimal(x["amount"]) for x in doc["lines"] if x["kind"] == "fine"]


@pytest.fixture
def reports(ledger: Ledger) -> Reports:
    seeded(ledger, "rep-li", "rep-wu")
    ledger.import_lines(jsonl(sale("S-1", "rep-li", "9000.00")), actor="crm-sync")
    ledger.import_lines(jsonl(_case()), actor="cmp-officer")
    return Reports(ledger)


_OWN = "cannot also decide on it (maker-checker)"
_NOT_AN_ACTOR = "is not a valid actor"


@pytest.mark.parametrize(
    ("spelling", "refusal"),
    [
        ("cmp-officer", _OWN),
        ("CMP-Officer", _OWN),
        (" cmp-officer ", _OWN),
        ("\uff43\uff4d\uff50-officer", _OWN),  # fullwidth letters, NFKC to ASCII
        ("cmp-officer\u200b", _NOT_AN_ACTOR),
        ("\u0441mp-officer", _NOT_AN_ACTOR),  # a Cyrillic es that looks like c
    ],
    ids=["exact", "case", "spaces", "fullwidth", "zero-width", "cyrillic"],
)
def test_the_recorder_cannot_approve_their_own_case(
    reports: Reports, spelling: str, refusal: str
) -> None:
    """However the recorder's name is spelled, their approval is refused and
    the case stays unfined."""
    with pytest.raises(LedgerError, match=re.escape(refusal)):
        reports.ledger.import_lines(jsonl(_decision("ApprovalGranted", spelling)), actor="x")
    assert _fines(reports) == []


def test_a_pending_case_fines_nothing_and_an_approved_one_once(reports: Reports) -> None:
    """Pending, the case is listed and fines nothing; approved by another, it
    fines the amount involved once, in the period it occurred."""
    assert _fines(reports) == []
    doc = reports.statement("rep-li", "2026-Q3")
    assert "CASE-RL" in str(doc["pending"])
    reports.ledger.import_lines(jsonl(_decision("ApprovalGranted", "cmp-head")), actor="x")
    assert _fines(reports) == [Decimal("-2500.50")]
    assert _fines(reports, "2026-Q4") == []


def test_a_rejected_case_fines_nothing_and_its_history_says_why(reports: Reports) -> None:
    """The history named who rejected the case but not the rejection's note:
    compliance reading it could not tell why the case came to nothing."""
    rejection = _decision("ApprovalRejected", "cmp-head")
    rejection["note"] = "receipts were genuine"
    reports.ledger.import_lines(jsonl(rejection), actor="x")
    assert _fines(reports) == []
    (entry,) = reports.history("rep-li")
    assert isinstance(entry, CaseEntry)
    assert (entry.approval, entry.approved_by, entry.recorded_by) == (
        "rejected",
        "cmp-head",
        "cmp-officer",
    )
    assert entry.decision_note == "receipts were genuine"
    assert entry.sanction == "none while rejected"
    # and in its words, as the CLI's `history` and the API's text give them
    (english,) = history_texts([entry], "en")
    assert english["text"].endswith("sanction none while rejected — note: receipts were genuine")
    (chinese,) = history_texts([entry], "zh-CN")
    assert chinese["text"].endswith(" — 审批意见：receipts were genuine")


@pytest.mark.parametrize("second", ["ApprovalGranted", "ApprovalRejected"], ids=["grant", "reject"])
def test_a_case_decided_twice_is_a_conflict(reports: Reports, second: str) -> None:
    """A second decision on an approved case is refused, naming the first."""
    reports.ledger.import_lines(jsonl(_decision("ApprovalGranted", "cmp-head")), actor="x")
    with pytest.raises(LedgerError, match="already approved by cmp-head"):
        reports.ledger.import_lines(
            jsonl(_decision(second, "cmp-boss", at="2026-08-05T10:00:00+08:00")), actor="x"
        )
    assert _fines(reports) == [Decimal("-2500.50")]


def _kinds(reports: Reports, period: str) -> list[tuple[str, Decimal]]:
    doc = reports.statement("rep-li", period)
    return [(x["kind"], Decimal(x["amount"])) for x in doc["lines"]]


def test_a_case_approved_after_its_period_was_paid_is_corrected_once(reports: Reports) -> None:
    """The paid quarter stays as paid; the forfeited bonus and the fine come
    back once, as corrections in the next unpaid quarter."""
    paid = _kinds(reports, "2026-Q3")
    pay_period(reports, "2026-Q3")
    reports.ledger.import_lines(jsonl(_decision("ApprovalGranted", "cmp-head")), actor="x")
    assert _kinds(reports, "2026-Q3") == paid
    q4 = _kinds(reports, "2026-Q4")
    corrections = [amount for kind, amount in q4 if kind == "correction"]
    bonus = sum((a for k, a in paid if k == "bonus"), Decimal(0))
    assert sum(corrections, Decimal(0)) == -bonus - Decimal("2500.50"), q4
    assert not [k for k, _ in q4 if k == "fine"]


def _disputed_q3(reports: Reports) -> str:
    """Q3 paid, and rep-li's dispute of its run: the dispute id."""
    run_id = pay_period(reports, "2026-Q3")
    dispute_id, _ = payouts(reports).raise_dispute(
        rep_id="rep-li", run_id=run_id, message="missing sale", actor="rep-li", by_the_rep=True
    )
    return dispute_id


def test_an_upheld_dispute_books_its_amount_once_in_the_next_unpaid_period(
    reports: Reports,
) -> None:
    """Upheld, the amount waits for a second person (not the resolver, however
    spelled), then is paid once in the next unpaid quarter; the paid one and
    the resolution stand."""
    dispute_id = _disputed_q3(reports)
    q3 = _kinds(reports, "2026-Q3")
    cases = payouts(reports)
    adjustment_id, _ = cases.resolve_dispute(
        dispute_id, outcome="upheld", note="sale S-9 missed", actor="fin-amy", amount="150.00"
    )
    assert adjustment_id is not None
    assert adjustment_id in str(reports.statement("rep-li", "2026-Q4")["pending"])
    with pytest.raises(LedgerError, match=re.escape("(maker-checker)")):
        cases.decide(adjustment_id, actor="FIN-Amy", granted=True)
    cases.decide(adjustment_id, actor="fin-bob", granted=True)
    q4 = _kinds(reports, "2026-Q4")
    assert [a for k, a in q4 if k == "adjustment"] == [Decimal("150.00")]
    assert _kinds(reports, "2026-Q3") == q3
    with pytest.raises(LedgerError, match="resolved"):
        cases.resolve_dispute(dispute_id, outcome="rejected", note="no", actor="fin-bob")
    (row,) = reports.disputes("rep-li")
    assert (row.status, row.outcome, row.adjustment_id) == ("resolved", "upheld", adjustment_id)


def test_a_rejected_dispute_books_nothing(reports: Reports) -> None:
    """Rejected: no adjustment, nothing pending, the next quarter unchanged."""
    dispute_id = _disputed_q3(reports)
    q4 = _kinds(reports, "2026-Q4")
    adjustment_id, _ = payouts(reports).resolve_dispute(
        dispute_id, outcome="rejected", note="no such sale", actor="fin-amy"
    )
    assert adjustment_id is None
    assert _kinds(reports, "2026-Q4") == q4
    assert reports.statement("rep-li", "2026-Q4")["pending"] == []


def test_a_rep_cannot_dispute_a_run_that_does_not_exist(reports: Reports) -> None:
    """A run id naming nothing is refused and stores no dispute."""
    pay_period(reports, "2026-Q3")
    with pytest.raises(LedgerError, match="run_id"):
        payouts(reports).raise_dispute(
            rep_id="rep-li", run_id="run-none", message="x", actor="rep-li", by_the_rep=True
        )
    assert reports.disputes("rep-li") == []


def test_an_upheld_dispute_skips_every_paid_period(reports: Reports) -> None:
    """Q3 disputed, Q4 paid meanwhile: the upheld amount goes to 2027-Q1, the
    first quarter still unpaid, and the paid Q4 is untouched."""
    dispute_id = _disputed_q3(reports)
    pay_period(reports, "2026-Q4")
    q4 = _kinds(reports, "2026-Q4")
    cases = payouts(reports)
    adjustment_id, _ = cases.resolve_dispute(
        dispute_id, outcome="upheld", note="sale S-9 missed", actor="fin-amy", amount="150.00"
    )
    assert adjustment_id is not None
    cases.decide(adjustment_id, actor="fin-bob", granted=True)
    q1 = _kinds(reports, "2027-Q1")
    assert [a for k, a in q1 if k == "adjustment"] == [Decimal("150.00")]
    assert _kinds(reports, "2026-Q4") == q4
