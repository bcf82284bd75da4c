"""A paid period's balances carried in name the later events that moved them
(SPEC §3 rules 7 and 8, §4), on SQLite and PostgreSQL.

A period paid while the one before it was still open carried that period's
negative total as it stood then (and, under a recoverable draw, the draw
balance after it). When a later event changes that total — a red-line case
overturned, an adjustment approved late, a clawback booked into it — the paid
period's correction settles the difference on its ``carried_balance`` line
(or gives back a recovery beyond the balance). That correction, and the paid
period's ``later_events``, name the events whose removal from the replay
would change what it settles: the later causes of the total carried from, and
of the periods that total carried from in turn. They named none (``event_ids``
``[]``): a number nobody could trace. An event that changes the total carried
from but not what it carries is not named.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.events import ApprovalGranted, make_event
from policies.periods import parse_period
from policies.plan import load_plan
from projections.service import Reports
from projections.statement import Calculator
from tests.builders import enrol, jsonl, line, pay_period, sale, seeded, stored_record
from tests.unit.shapes import draw, plan_toml

_Q3 = "2026-08-01T10:00:00+08:00"


def _approve(ledger: Ledger, subject_id: str, actor: str = "fin-bob") -> None:
    ledger.record(
        [make_event(ApprovalGranted, occurred_at=datetime.now(UTC), subject_id=subject_id)],
        actor=actor,
    )


def _fined_in_q3(ledger: Ledger, *more: dict[str, Any]) -> Reports:
    """r1 earns 2,000.00 in Q3 (S1) less a 5,000.00 red-line fine (C1,
    approved): Q3 ends at −3,000.00; S4 earns 5,000.00 in ``more``'s period
    (Q4 when not given); ``more``: other events."""
    seeded(ledger)
    ledger.import_lines(
        jsonl(enrol("r1"), sale("S1", "r1", "40000.00"), *more),
        actor="crm",
    )
    claim = {"code": "false-expense", "severity": "red_line", "description": "a false claim"}
    red_line = line("ViolationRecorded", at=_Q3, case_id="C1", rep_id="r1", **claim)
    red_line["amount"] = "5000.00"
    ledger.import_lines(jsonl(red_line), actor="cmp-a")
    _approve(ledger, "C1", actor="cmp-b")
    return Reports(ledger)


def _late(ledger: Ledger, actor: str, *events: dict[str, Any]) -> tuple[int, int]:
    """``events`` recorded by ``actor``: the head's positions before and after."""
    before = ledger.head()
    assert before is not None
    ledger.import_lines(jsonl(*events), actor=actor)
    after = ledger.head()
    assert after is not None
    return before.position, after.position


def _overturned() -> dict[str, Any]:
    return line(
        "ViolationOverturned",
        at="2026-09-30T10:00:00+08:00",
        actor="cmp-a",
        case_id="C1",
        reason="x",
    )


def _correction(
    reports: Reports, paid: str, booked: str, head: int, named: list[str]
) -> dict[str, Any]:
    """``paid``'s correction in ``booked``: now and replayed as of ``head``
    alike, naming ``named`` on the line, on each of its steps and as the paid
    period's later events (each with the period its correction went to)."""
    found: dict[str, Any] = {}
    for period in (paid, booked):
        now = reports.statement("r1", period)
        assert reports.statement("r1", period, as_of=head) == now, period
        found[period] = now
    assert found[paid]["correction_to"] == booked
    assert [(e["event_id"], e["correction_in"]) for e in found[paid]["later_events"]] == [
        (e, booked) for e in named
    ]
    (correction,) = [
        x for x in found[booked]["lines"] if x["kind"] == "correction" and x["paid_period"] == paid
    ]
    assert correction["event_ids"] == named
    assert [s["event_ids"] for s in correction["explanation"]] == [named] * len(
        correction["explanation"]
    )
    return correction


def _version_2() -> str:
    """The SPEC's plan as version 2: a 10 % default rate from 1 July 2026."""
    later = plan_toml(default_rate="0.10").replace("version = 1", "version = 2")
    return later.replace("effective_from = 2026-01-01", "effective_from = 2026-07-01")


def _change(correction: dict[str, Any]) -> tuple[str, str, str]:
    (step,) = [s for s in correction["explanation"] if s["code"] == "correction_change"]
    values = step["values"]
    return values["kind"], values["before"], values["after"]


class TestACarriedBalanceMovedByTheSourcePeriod:
    """Q4 paid carrying Q3's −3,000.00 while Q3 is open; a later event moves
    Q3's total, and Q4's correction in 2027-Q1 settles the carried balance."""

    def test_an_overturned_case_is_named_and_a_sale_that_moves_nothing_carried_is_not(
        self, ledger: Ledger
    ) -> None:
        """C1 overturned: Q3 now ends at +2,500.00 (with S9's late 500.00) and
        carries nothing; 2027-Q1 pays back the 3,000.00. S9 moved Q3's total
        but not what it carries (without it: +2,000.00, nothing): not named."""
        reports = _fined_in_q3(
            ledger, sale("S4", "r1", "100000.00", at="2026-10-20T10:00:00+08:00")
        )
        pay_period(reports, "2026-Q4")
        before, head = _late(
            ledger,
            "cmp-a",
            _overturned(),
            sale("S9", "r1", "10000.00", at="2026-09-10T10:00:00+08:00"),
            line("CoachingRecorded", at="2026-09-12T10:00:00+08:00", rep_id="r1", topic="t"),
        )
        overturn = stored_record(ledger, "ViolationOverturned", case_id="C1").event_id
        correction = _correction(reports, "2026-Q4", "2027-Q1", head, [overturn])
        assert correction["amount"] == "3000.00"
        assert _change(correction) == ("carried_balance", "-3000.00", "0.00")
        (moved,) = reports.diff("r1", "2027-Q1", before, head).changes
        assert (moved.kind, moved.change) == ("correction", "3000.00")
        assert [(e.event_id, e.type, e.actor) for e in moved.events_added] == [
            (overturn, "ViolationOverturned", "cmp-a")
        ]

    def test_a_late_approval_of_an_adjustment_is_named(self, ledger: Ledger) -> None:
        """A1 (+1,000.00 for Q3) was asked before Q4 was paid and approved
        after: Q3 carries −2,000.00 now; the approval is named, not the
        request (recorded before Q4 was computed)."""
        a1 = {"adjustment_id": "A1", "rep_id": "r1", "period": "2026-Q3"}
        asked = line("AdjustmentRequested", at=_Q3, amount="1000.00", reason="missed split", **a1)
        reports = _fined_in_q3(
            ledger, asked, sale("S4", "r1", "100000.00", at="2026-10-20T10:00:00+08:00")
        )
        pay_period(reports, "2026-Q4")
        _approve(ledger, "A1")
        head = ledger.head()
        assert head is not None
        approval = stored_record(ledger, "ApprovalGranted", subject_id="A1").event_id
        correction = _correction(reports, "2026-Q4", "2027-Q1", head.position, [approval])
        assert _change(correction) == ("carried_balance", "-3000.00", "-2000.00")

    def test_a_late_plan_version_is_named(self, ledger: Ledger) -> None:
        """Version 2 (a 10 % default rate from 1 July) published after Q4 was
        paid: Q3 now ends at −1,000.00 (4,000.00 less the fine) and Q4 earns
        10,000.00; the correction names the version on the carried balance as
        on the commission — without it, version 1 governs Q3 again."""
        reports = _fined_in_q3(
            ledger, sale("S4", "r1", "100000.00", at="2026-10-20T10:00:00+08:00")
        )
        pay_period(reports, "2026-Q4")
        paid = ledger.head()
        assert paid is not None
        ledger.publish_plan(load_plan(_version_2(), "toml"), actor="admin")
        (version,) = ledger.iter_log(after=paid.position)
        correction = _correction(
            reports, "2026-Q4", "2027-Q1", version.position, [version.event_id]
        )
        assert correction["amount"] == "7000.00"
        changes = [s["values"] for s in correction["explanation"][1:]]
        assert [(v["kind"], v["before"], v["after"]) for v in changes] == [
            ("carried_balance", "-3000.00", "-1000.00"),
            ("commission", "5000.00", "10000.00"),
        ]

    def test_a_source_period_paid_since_names_what_moved_it_before_its_run(
        self, ledger: Ledger
    ) -> None:
        """C1 overturned and S9 (500.00) recorded late in Q3, then Q3 paid at
        +2,500.00: Q4 carries nothing now, and 2027-Q1 pays back the 3,000.00
        naming the overturning — not S9 (without it Q3 still carries nothing),
        nor the fine C2 (10,000.00) approved after Q3 was paid, which is Q3's
        own correction (without it as Q3's run worked it out, Q3 carried
        nothing either)."""
        reports = _fined_in_q3(
            ledger, sale("S4", "r1", "100000.00", at="2026-10-20T10:00:00+08:00")
        )
        pay_period(reports, "2026-Q4")
        _late(
            ledger,
            "cmp-a",
            _overturned(),
            sale("S9", "r1", "10000.00", at="2026-09-10T10:00:00+08:00"),
        )
        pay_period(reports, "2026-Q3")
        claim = {"code": "bribe", "severity": "red_line", "description": "a bribe"}
        fined = line("ViolationRecorded", at=_Q3, case_id="C2", rep_id="r1", **claim)
        _, head = _late(ledger, "cmp-a", fined | {"amount": "10000.00"})
        _approve(ledger, "C2", actor="cmp-b")
        overturn = stored_record(ledger, "ViolationOverturned", case_id="C1").event_id
        correction = _correction(reports, "2026-Q4", "2027-Q1", head + 1, [overturn])
        assert _change(correction) == ("carried_balance", "-3000.00", "0.00")

    def test_a_balance_carried_on_through_an_open_period_names_the_first_cause(
        self, ledger: Ledger
    ) -> None:
        """Q4 earns nothing and carries Q3's −3,000.00 on into 2027-Q1, paid;
        C1 overturned: Q3 and Q4 carry nothing, and 2027-Q2 pays back the
        3,000.00 — naming the overturning, two periods back."""
        reports = _fined_in_q3(
            ledger, sale("S4", "r1", "100000.00", at="2027-01-20T10:00:00+08:00")
        )
        assert reports.statement("r1", "2026-Q4")["total"] == "-3000.00"
        pay_period(reports, "2027-Q1")
        _, head = _late(ledger, "cmp-a", _overturned())
        overturn = stored_record(ledger, "ViolationOverturned", case_id="C1").event_id
        correction = _correction(reports, "2027-Q1", "2027-Q2", head, [overturn])
        assert _change(correction) == ("carried_balance", "-3000.00", "0.00")


def test_a_clawback_booked_into_the_period_carried_from_is_named(ledger: Ledger) -> None:
    """Q3 paid (5,000.00), then 2027-Q1 while Q4 is open; S1's cancellation
    books −5,000.00 into Q4, whose negative total Q1 now carries: 2027-Q2's
    correction of Q1 names the cancellation, as Q4's correction of Q3 does."""
    seeded(ledger)
    ledger.import_lines(
        jsonl(
            enrol("r1"),
            sale("S1", "r1", "100000.00"),
            sale("S5", "r1", "10000.00", at="2027-01-20T10:00:00+08:00"),
        ),
        actor="crm",
    )
    reports = Reports(ledger)
    pay_period(reports, "2026-Q3")
    pay_period(reports, "2027-Q1")
    _, head = _late(ledger, "crm", line("SaleCancelled", at=_Q3, sale_id="S1", reason="returned"))
    cancelled = stored_record(ledger, "SaleCancelled", sale_id="S1").event_id
    correction = _correction(reports, "2027-Q1", "2027-Q2", head, [cancelled])
    assert _change(correction) == ("carried_balance", "0.00", "-5000.00")
    (of_q3,) = [x for x in reports.statement("r1", "2026-Q4")["lines"] if x["kind"] == "correction"]
    assert of_q3["event_ids"] == [cancelled]


def test_a_draw_balance_moved_by_an_earlier_period_names_the_cause(ledger: Ledger) -> None:
    """A recoverable draw of 8,000.00 to the end of 2026: r1 (enrolled 1 July)
    earns 2,000.00 in Q3 and draws 6,000.00; Q4 earns 20,000.00 and, paid,
    recovers the 6,000.00. S7 (7,000.00) and S8 (500.00) recorded late in Q3
    lift it above the draw: Q3 drew nothing, and 2027-Q1 gives the 6,000.00
    back, naming S7 — without S8 Q3 still draws nothing: S8 is not named."""
    plan = plan_toml(tail=draw("8000", "2026-12-31"))
    ledger.publish_plan(load_plan(plan, "toml"), actor="admin")
    ledger.import_lines(
        jsonl(
            enrol("r1", at="2026-07-01T09:00:00+08:00"),
            sale("S1", "r1", "40000.00"),
            sale("S4", "r1", "400000.00", at="2026-10-20T10:00:00+08:00"),
        ),
        actor="crm",
    )
    reports = Reports(ledger)
    pay_period(reports, "2026-Q4")
    _, head = _late(
        ledger,
        "crm",
        sale("S7", "r1", "140000.00", at="2026-09-10T10:00:00+08:00"),
        sale("S8", "r1", "10000.00", at="2026-09-11T10:00:00+08:00"),
    )
    s7 = stored_record(ledger, "SaleRecorded", sale_id="S7").event_id
    correction = _correction(reports, "2026-Q4", "2027-Q1", head, [s7])
    assert correction["amount"] == "6000.00"
    assert _change(correction) == ("draw_recovery", "-6000.00", "0.00")


@pytest.mark.parametrize(
    ("paid", "booked"),
    [("2026-Q4", "2027-Q1"), ("2027-Q1", "2027-Q2")],
    ids=["from-the-period-before", "through-an-open-period"],
)
def test_a_backfill_of_the_period_carried_from_is_weighed_without_a_replay_each(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, paid: str, booked: str
) -> None:
    """``paid`` (earning 5,000.00 on S4) paid carrying Q3's −3,000.00 — from
    Q4 itself, or carried on through Q4, open and earning nothing —; then 40
    Q3 sales of 10.00, S1's cancellation inside its window and a coaching
    note recorded late. Each sale and the cancellation moves what ``paid``
    carried, and is named in its correction in ``booked``; the note is not.
    Each is weighed from Q3's own lines without it, carried on as Q4's total
    is, never by working the periods out again without it (a backfill of 400
    took 7 s, through Q4 3.5 s: a replay each), and the answers are those
    worked out whole."""
    s4 = sale("S4", "r1", "100000.00", at=f"{parse_period(paid).first_day}T10:00:00+08:00")
    reports = _fined_in_q3(ledger, s4)
    pay_period(reports, paid)
    backfill = [sale(f"L{k}", "r1", "10.00", at="2026-09-10T10:00:00+08:00") for k in range(40)]
    cancelled = line("SaleCancelled", at="2026-09-20T10:00:00+08:00", sale_id="S1", reason="x")
    coached = line("CoachingRecorded", at="2026-09-12T10:00:00+08:00", rep_id="r1", topic="t")
    before, head = _late(ledger, "crm", *backfill, cancelled, coached)
    weighed: list[str | None] = []
    whole = Calculator._settled_without

    def counted(self: Calculator, event_id: str | None, *args: Any) -> Any:
        weighed.append(event_id)
        return whole(self, event_id, *args)

    monkeypatch.setattr(Calculator, "_settled_without", counted)
    quick = [Reports(ledger).statement("r1", p, as_of=head) for p in (paid, booked)]
    assert weighed == []
    named = [e.event_id for e in ledger.iter_log(after=before) if e.type != "CoachingRecorded"]
    correction = _correction(reports, paid, booked, head, named)
    assert _change(correction) == ("carried_balance", "-3000.00", "-4980.00")
    monkeypatch.setattr(Calculator, "weigh_whole", True)
    assert [Reports(ledger).statement("r1", p, as_of=head) for p in (paid, booked)] == quick
    assert set(weighed) == set(named)  # worked out whole this time


def test_the_diff_of_an_open_period_names_what_moved_the_balance_it_carries(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Q3 (open) ends at −3,000.00 and Q4 (open) carries it. S9 (1,000.00)
    recorded late in Q3 moves Q4's carried balance to −2,950.00, and a
    coaching note moves nothing: Q4's diff names S9 on that line. Version 2
    (10 % from 1 July) then moves it to −900.00 and Q4's commission to
    10,000.00: the diff names the version on both lines (it named it on the
    commission only). The answers are those worked out whole."""
    reports = _fined_in_q3(ledger, sale("S4", "r1", "100000.00", at="2026-10-20T10:00:00+08:00"))
    coached = line("CoachingRecorded", at="2026-09-12T10:00:00+08:00", rep_id="r1", topic="t")
    late = sale("S9", "r1", "1000.00", at="2026-09-10T10:00:00+08:00")
    before, head = _late(ledger, "crm", late, coached)
    ledger.publish_plan(load_plan(_version_2(), "toml"), actor="admin")
    s9 = stored_record(ledger, "SaleRecorded", sale_id="S9").event_id
    (version,) = ledger.iter_log(after=head)

    def diffs() -> list[list[tuple[str, str, str, list[str]]]]:
        return [
            [(c.kind, c.before, c.after, [e.event_id for e in c.caused_by]) for c in d.changes]
            for d in (
                reports.diff("r1", "2026-Q4", before, head),
                reports.diff("r1", "2026-Q4", head, version.position),
            )
        ]

    quick = diffs()
    assert quick == [
        [("carried_balance", "-3000.00", "-2950.00", [s9])],
        [
            ("carried_balance", "-2950.00", "-900.00", [version.event_id]),
            ("commission", "5000.00", "10000.00", [version.event_id]),
        ],
    ]
    monkeypatch.setattr(Calculator, "weigh_whole", True)
    assert diffs() == quick
