"""SPEC §2 "Bounds" on both stores: every event the ledger accepts projects,
verifies, rebuilds and has statements; every event outside the bounds is
refused, its line and field named, and nothing is stored (issue 16: "a poison
event" — a period 9999-Q4 or a case on 9999-12-31 once broke every read)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from api.pages import views
from ledger.application import Ledger
from ledger.errors import BatchRejectedError, InvalidInputError
from ledger.events import ApprovalGranted, make_event
from ledger.ingestion.parse import parse_event
from ledger.writes import Input
from policies.periods import parse_period, period_of
from policies.plan import load_plan
from projections.queues import Viewer, WorkQueues
from projections.service import Reports
from tests.builders import PLAN_TOML, jsonl, line, payouts, stored_count

FIRST = "2000-01-01T00:00:00+14:00"  # the first instant of the bounds, in its own offset
LAST = "2199-12-31T23:59:59.999999-12:00"  # the last one
LAST_DAY = "2199-12-31T12:00:00+08:00"

# Three plans in force from the first day of the bounds: quarterly CNY, monthly
# JPY (no minor unit), quarterly KWD (three decimals).
PLANS = {
    "edge-cny": ("CNY", "quarter"),
    "edge-jpy": ("JPY", "month"),
    "edge-kwd": ("KWD", "quarter"),
}
REPS = {"rq": "edge-cny", "rx": "edge-cny", "rm": "edge-jpy", "rk": "edge-kwd"}


def _plan_toml(plan_id: str) -> str:
    currency, period = PLANS[plan_id]
    return (
        PLAN_TOML.replace('id = "field-sales"', f'id = "{plan_id}"')
        .replace("effective_from = 2026-01-01", "effective_from = 2000-01-01")
        .replace('currency = "CNY"', f'currency = "{currency}"')
        .replace('period = "quarter"', f'period = "{period}"')
    )


def seed_edges(ledger: Ledger) -> Ledger:
    """The three plans, and the reps enrolled at the first instant of the bounds."""
    for plan_id in PLANS:
        ledger.publish_plan(load_plan(_plan_toml(plan_id), "toml"), actor="admin")
    enrolments = [
        line(
            "RepEnrolled",
            at=FIRST,
            actor="hr-sync",
            rep_id=rep_id,
            name=f"Name of {rep_id}",
            plan_id=plan_id,
            manager_id="mgr",
        )
        for rep_id, plan_id in REPS.items()
    ]
    ledger.import_lines(jsonl(*enrolments), actor="hr-sync", parse_workers=0)
    return ledger


def _kind(rep_id: str) -> Any:
    return PLANS[REPS[rep_id]][1]


def touched(events: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """(rep, period) of every event that names a rep: its period field, else the
    period of its occurred_at in its own offset."""
    found: set[tuple[str, str]] = set()
    for event in events:
        rep_ids = [event["rep_id"]] if "rep_id" in event else []
        rep_ids += [s["rep_id"] for s in event.get("splits", [])]
        for rep_id in rep_ids:
            if "period" in event:
                found.add((rep_id, str(parse_period(event["period"]))))
            else:
                at = datetime.fromisoformat(event["occurred_at"])
                found.add((rep_id, str(period_of(at, _kind(rep_id)))))
    return found


def assert_projects(ledger: Ledger, periods: Iterable[tuple[str, str]]) -> None:
    """SPEC §2: an accepted event projects (catch-up), `verify`s (chain, and
    projections equal a fresh replay), `rebuild`s, and the statements and
    histories of the reps and periods it touched compute."""
    reports = Reports(ledger)
    reports.catch_up()
    report = ledger.verify()
    assert report.ok, report.summary()
    assert reports.verify_projections() == []
    reports.rebuild()
    assert reports.verify_projections() == []
    for rep_id, period in sorted(periods):
        statement = reports.statement(rep_id, period)
        assert statement["period"] == period
        assert statement["total"] is not None
        reports.history(rep_id)


def assert_refused(
    ledger: Ledger, lines: list[str], expected: set[tuple[int, str]]
) -> BatchRejectedError:
    """Refused: exactly these (line, field) named, and nothing stored."""
    before = stored_count(ledger)
    with pytest.raises(BatchRejectedError) as caught:
        ledger.import_lines(lines, actor="tester", parse_workers=0)
    assert stored_count(ledger) == before, "a refused import stores nothing"
    assert {(e.line, e.field) for e in caught.value.errors} == expected, caught.value.errors
    return caught.value


def _case(at: str, case_id: str, rep_id: str = "rq", **fields: Any) -> dict[str, Any]:
    return line(
        "ViolationRecorded",
        at=at,
        actor=fields.pop("actor", "mgr"),
        case_id=case_id,
        rep_id=rep_id,
        code=fields.pop("code", "late-report"),
        severity=fields.pop("severity", "minor"),
        description="what happened",
        **fields,
    )


def _sale(at: str, sale_id: str, rep_id: str = "rq", amount: str = "1000.00", **fields: Any) -> Any:
    currency = PLANS[REPS[rep_id]][0]
    return line(
        "SaleRecorded",
        at=at,
        sale_id=sale_id,
        rep_id=rep_id,
        amount=amount,
        currency=currency,
        **fields,
    )


def _kpi_line(type_: str, period: str, rep_id: str, at: str, kpi: str, **fields: Any) -> Any:
    """The manager's line on ``rep_id``'s ``kpi`` for ``period``: a score or a target."""
    return line(type_, at=at, actor="mgr", rep_id=rep_id, period=period, kpi=kpi, **fields)


def _score(
    period: str,
    score: Any = "0.9",
    rep_id: str = "rq",
    at: str = LAST_DAY,
    kpi: str = "customer_satisfaction",
) -> Any:
    return _kpi_line("KpiScored", period, rep_id, at, kpi, score=score)


def _target(period: str, value: Any = "200000", rep_id: str = "rq", at: str = FIRST) -> Any:
    target_id = f"T-{rep_id}-{period}"
    return _kpi_line(
        "TargetSet",
        period,
        rep_id,
        at,
        "sales_amount",
        target_id=target_id,
        value=value,
        reason="quota",
    )


def _adjustment(period: str, amount: str, rep_id: str = "rq", at: str = LAST_DAY) -> Any:
    return line(
        "AdjustmentRequested",
        at=at,
        actor="fin-amy",
        adjustment_id=f"A-{rep_id}-{period}",
        rep_id=rep_id,
        period=period,
        amount=amount,
        reason="manual",
    )


def _approve(subject_id: str, at: str = LAST_DAY) -> Any:
    return line("ApprovalGranted", at=at, actor="checker", subject_id=subject_id)


# Accepted at the edges: each must then project, verify, rebuild and compute.
ACCEPTED: dict[str, list[dict[str, Any]]] = {
    "sale at the first instant": [_sale(FIRST, "S-first")],
    "sale at the last instant": [_sale(LAST, "S-last")],
    "largest sale, target and split": [
        _target("2199-Q4", "999999999999.999999"),
        _sale(
            LAST,
            "S-big",
            amount="999999999999.99",
            splits=[{"rep_id": "rq", "share": "0.000001"}, {"rep_id": "rx", "share": "0.999999"}],
        ),
    ],
    "scores at 0 and 100 in the last quarter": [
        _score("2199-Q4", "100"),
        _score("2199-Q4", "0", at=LAST, kpi="market_feedback"),
    ],
    "score and target in the last month": [
        _score("2199-12", "99.999999", rep_id="rm"),
        _target("2199-12", "1", rep_id="rm"),
    ],
    "minor cases up the ladder to 2199-12-31": [
        _case("2199-01-01T00:00:00+14:00", "C-a"),
        _case("2199-06-30T00:00:00+00:00", "C-b"),
        _case(LAST, "C-c"),
    ],
    "minor case on the first day: the ladder looks back into 1999": [_case(FIRST, "C-first")],
    "red-line case with the largest amount, approved": [
        _case(LAST, "C-red", severity="red_line", actor="compliance", amount="999999999999.99"),
        _approve("C-red"),
    ],
    "largest negative adjustment, approved": [
        _adjustment("2199-Q4", "-999999999999.99"),
        _approve("A-rq-2199-Q4"),
    ],
    "three-decimal KWD adjustment and case": [
        _adjustment("2199-Q4", "1.505", rep_id="rk"),
        _approve("A-rk-2199-Q4"),
        _case(LAST_DAY, "C-kwd", rep_id="rk", severity="red_line", amount="0.125"),
    ],
    "whole-yen JPY sale and adjustment": [
        _sale(LAST_DAY, "S-jpy", rep_id="rm", amount="12345"),
        _adjustment("2199-12", "100", rep_id="rm"),
        _approve("A-rm-2199-12"),
    ],
    "a statement 800 quarters after enrolment": [
        line("CoachingRecorded", at=LAST, actor="mgr", rep_id="rq", topic="coaching")
    ],
    "a statement 2,400 months after enrolment": [
        line("CoachingRecorded", at=LAST, actor="mgr", rep_id="rm", topic="coaching")
    ],
    "text of 10,000 characters": [
        line("CoachingRecorded", at=LAST, actor="mgr", rep_id="rq", topic="t" * 10_000)
    ],
}

# Refused: (the lines, every (line, field) named).
REFUSED: dict[str, tuple[list[dict[str, Any]], set[tuple[int, str]]]] = {
    "score for 9999-Q4": ([_score("9999-Q4")], {(1, "period")}),
    "target for 9999-Q4": ([_target("9999-Q4")], {(1, "period")}),
    "adjustment for 9999-Q4": ([_adjustment("9999-Q4", "10.00")], {(1, "period")}),
    "minor case on 9999-12-31": (
        [_case("9999-12-31T10:00:00+00:00", "C-9999")],
        {(1, "occurred_at")},
    ),
    "sale in 9999": ([_sale("9999-06-30T10:00:00+00:00", "S-9999")], {(1, "occurred_at")}),
    "sale in 1999": ([_sale("1999-12-31T23:59:59-12:00", "S-1999")], {(1, "occurred_at")}),
    "score for 1999-12 and 2200-01": (
        [_score("1999-12", rep_id="rm"), _score("2200-01", rep_id="rm")],
        {(1, "period"), (2, "period")},
    ),
    "score 1e1000000": ([_score("2026-Q3", "1e1000000")], {(1, "score")}),
    "score 100.000001": ([_score("2026-Q3", "100.000001")], {(1, "score")}),
    "share 1.0000001": (
        [_sale(LAST_DAY, "S-share", splits=[{"rep_id": "rq", "share": "1.0000001"}])],
        {(1, "splits[0].share")},
    ),
    "money at 10^12": ([_sale(LAST_DAY, "S-1e12", amount="1000000000000.00")], {(1, "amount")}),
    "CNY adjustment with three decimals": ([_adjustment("2026-Q3", "1.505")], {(1, "amount")}),
    "JPY adjustment with cents": ([_adjustment("2026-07", "100.50", rep_id="rm")], {(1, "amount")}),
    "JPY case money with cents": (
        [_case(LAST_DAY, "C-jpy", rep_id="rm", amount="0.50")],
        {(1, "amount")},
    ),
    "KWD sale with four decimals": (
        [_sale(LAST_DAY, "S-kwd", rep_id="rk", amount="1.0001")],
        {(1, "amount")},
    ),
    "a good line beside a bad one": (
        [_sale(LAST_DAY, "S-good"), _score("9999-Q4"), _case(LAST_DAY, "C-x", actor="a lice")],
        {(2, "period"), (3, "actor")},
    ),
}


_LARGEST = "999999999999.999999"  # a rate, a band's multiplier: the largest within the bounds


def _largest_sale(ledger: Ledger) -> str:
    """Rep rb's sale at the largest rate through the largest band (below), in
    2199-Q4; the TOML of rb's plan."""
    banded = _plan_toml("edge-cny").replace('id = "edge-cny"', 'id = "edge-band"') + (
        '\n[commission.tiers]\nmeasure = "credited"\nmethod = "marginal"\n'
        f"bands = [ {{ from = 0, multiplier = {_LARGEST} }} ]\n"
    )
    ledger.publish_plan(load_plan(banded, "toml"), actor="admin")
    lines = [
        line("RepEnrolled", at=FIRST, actor="hr-sync", rep_id="rb", name="B", plan_id="edge-band"),
        line("FxRateSet", at=FIRST, actor="fin-amy", base="USD", quote="CNY", rate=_LARGEST),
        line(
            "SaleRecorded",
            at=LAST_DAY,
            sale_id="S-band",
            rep_id="rb",
            amount="999999999999.99",
            currency="USD",
        ),
    ]
    ledger.import_lines(jsonl(*lines), actor="tester", parse_workers=0)
    return banded


def test_a_sale_at_the_largest_rate_through_the_largest_band_projects(ledger: Ledger) -> None:
    """Each number within the bounds — a sale of 999,999,999,999.99 USD, a rate
    of 999,999,999,999.999999 to CNY, a band multiplying commission by as
    much — makes a commission line near 10^36 CNY: the statement wrote its
    amounts in the default context's 28 digits, the quantize raised, and so
    did the projector's catch-up, on every retry."""
    _largest_sale(ledger)
    assert_projects(ledger, {("rb", "2199-Q4")})
    statement = Reports(ledger).statement("rb", "2199-Q4")
    assert statement["total"] == "49999999999999499900000000000000500.05"


def test_a_whatif_of_the_largest_sale_differs_to_the_cent(ledger: Ledger) -> None:
    """A candidate paying 6 % instead of 5 % on that sale: today's total, the
    candidate's and their difference, per rep and for the period, are exact
    to the cent — the what-if subtracted and summed them in the default
    context's 28 digits, and its difference and totals, near 10^36, were
    silently rounded (off by up to 10^8 CNY)."""
    candidate = _largest_sale(ledger).replace("version = 1", "version = 2")
    candidate = candidate.replace("default_rate = 0.05", "default_rate = 0.06")
    whatif = Reports(ledger).whatif(load_plan(candidate, "toml"), ["2199-Q4"], rep_id="rb")
    today = "49999999999999499900000000000000500.05"
    then = "59999999999999399880000000000000600.06"
    difference = "9999999999999899980000000000000100.01"
    [row] = whatif.reps
    assert (row.today and row.today.total, row.candidate and row.candidate.total) == (today, then)
    assert row.difference.total == difference
    [total] = whatif.totals
    assert (total.today.total, total.candidate.total) == (today, then)
    assert total.difference.total == difference


def test_the_summary_sums_the_largest_sale_s_team_to_the_cent(ledger: Ledger) -> None:
    """The period summary's team subtotal of rb's total near 10^36 is that
    total to the cent: it was summed in the default context's 28 digits and
    read 49999999999999499900000000000000000.00, 500.05 CNY short of the
    rep's row beside it, with nothing said."""
    _largest_sale(ledger)
    summary = WorkQueues(Reports(ledger)).summary(Viewer("finance", "fin-amy"), "2199-Q4")
    [item] = summary.items
    [team] = summary.teams
    assert item.total == team.total == "49999999999999499900000000000000500.05"
    assert team.payable == item.payable


def test_the_overview_sums_the_largest_sale_s_payable_to_the_cent(ledger: Ledger) -> None:
    """The Overview's payable by team of rb's period is rb's payable to the
    cent: summed in the default context's 28 digits, it read
    4.999999999999949990000000000E+34."""
    _largest_sale(ledger)
    reports = Reports(ledger)
    payable = reports.statement("rb", "2199-Q4")["payable"]
    view = views.overview(reports, "2199-Q4")
    [row] = [p for p in view.payouts if p["period"] == "2199-Q4"]
    assert row["payable"] == Decimal(payable)
    assert str(row["payable"]) == payable


class TestAccepted:
    @pytest.mark.parametrize("name", list(ACCEPTED))
    def test_projects_verifies_rebuilds_and_computes(self, ledger: Ledger, name: str) -> None:
        """An event at the edge of the bounds is stored, and every read still works."""
        seed_edges(ledger)
        events = ACCEPTED[name]
        result = ledger.import_lines(jsonl(*events), actor="tester", parse_workers=0)
        assert result.stored == len(events)
        assert_projects(ledger, touched(events))


class TestRefused:
    @pytest.mark.parametrize("name", list(REFUSED))
    def test_named_and_nothing_stored(self, ledger: Ledger, name: str) -> None:
        """Outside the bounds: line and field named, nothing stored, reads unharmed."""
        seed_edges(ledger)
        events, expected = REFUSED[name]
        assert_refused(ledger, jsonl(*events), expected)
        assert_projects(ledger, {("rq", "2000-Q1")})

    def test_a_json_number_with_a_huge_exponent(self, ledger: Ledger) -> None:
        """JSON ``1e999999`` as a score: once stored as a 1 MB event, now refused."""
        seed_edges(ledger)
        text = json.dumps(_score("2026-Q3", "SCORE")).replace('"SCORE"', "1e999999")
        assert_refused(ledger, [text], {(1, "score")})


class TestQueries:
    @pytest.mark.parametrize("period", ["9999-Q4", "1999-12", "2200-Q1"])
    def test_a_statement_outside_the_bounds_is_refused(self, ledger: Ledger, period: str) -> None:
        """``statement --period 9999-Q4`` is bad input naming the period, not a crash."""
        seed_edges(ledger)
        reports = Reports(ledger)
        with pytest.raises(InvalidInputError) as caught:
            reports.statement("rq", period)
        assert caught.value.field == "period"
        assert "2000-2199" in caught.value.reason
        with pytest.raises(InvalidInputError):
            payouts(reports).payout_run(period, actor="fin-amy")


def pay_the_last_quarter(ledger: Ledger, reports: Reports) -> list[dict[str, Any]]:
    """2199-Q4 calculated, approved and paid (``reports`` caught up after the
    payment, as a server's projector is), then a cancellation and an
    overturned case that book their correction into the period after it — a
    Period beyond the bounds, which only the projection holds: the events
    before the payment."""
    seed_edges(ledger)
    events = [
        _target("2199-Q4", "999999999999.999999"),
        _score("2199-Q4", "100"),
        _sale(LAST, "S-1", amount="999999999999.99"),
        _sale(LAST_DAY, "S-2", amount="999999999999.99"),
        _case("2199-01-01T00:00:00+14:00", "C-1"),
        _case(LAST, "C-2"),
        _adjustment("2199-Q4", "-999999999999.99"),
        _approve("A-rq-2199-Q4"),
    ]
    ledger.import_lines(jsonl(*events), actor="tester", parse_workers=0)
    reports.catch_up()
    run = payouts(reports).payout_run("2199-Q4", actor="fin-amy")
    event_id = run.outcomes[0].event_id
    assert event_id is not None
    run_id = ledger.event(event_id).data["run_id"]
    approval = make_event(ApprovalGranted, occurred_at=datetime.now(UTC), subject_id=run_id)
    ledger.record([approval], actor="fin-bob")
    ledger.pay_run(run_id, actor="fin-bob")
    reports.catch_up()  # the period after it holds rows now (its carried balance)
    later = [
        line("SaleCancelled", at=LAST, sale_id="S-2", reason="returned"),
        line("ViolationOverturned", at=LAST, actor="compliance", case_id="C-2", reason="appeal"),
    ]
    ledger.import_lines(jsonl(*later), actor="tester", parse_workers=0)
    return events


class TestTheLastQuarterPaid:
    def test_paid_then_corrected_past_the_edge(self, ledger: Ledger) -> None:
        """2199-Q4 paid; a later cancellation and an overturned case book
        their correction into the period after it: every read still works,
        the paid statement stands as paid."""
        reports = Reports(ledger)
        events = pay_the_last_quarter(ledger, reports)
        assert_projects(ledger, touched(events) | {("rx", "2199-Q4"), ("rk", "2199-Q4")})
        paid = reports.statement("rq", "2199-Q4")
        assert paid["status"] == "paid"
        assert paid["correction_to"] == "2200-Q1"

    def test_the_projector_that_kept_the_period_after_it_goes_on(self, ledger: Ledger) -> None:
        """A projector that wrote the rows of the period after 2199-Q4 (a
        server's, or the worker's, which keeps each rep's totals between
        batches) read its key back as an input outside the bounds at the
        rep's next event: a ValueError on every retry, the projection stuck."""
        reports = Reports(ledger)
        pay_the_last_quarter(ledger, reports)
        caught = reports.catch_up()
        assert caught.applied == 2
        assert reports.projection_health()["state"] == "ok"
        assert reports.verify_projections() == []


class TestThreeDecimalMoney:
    def test_the_explanation_quotes_every_decimal_the_events_recorded(self, ledger: Ledger) -> None:
        """A KWD sale, adjustment and red-line case hold a third decimal: each
        line is rounded to 0.01 once (SPEC §3), but the steps quote the amounts
        as recorded (``1000.105``, not ``1000.11``), so every number in an
        explanation is the event's own; a two-decimal amount reads as before."""
        seed_edges(ledger)
        events = [
            _sale(LAST_DAY, "S-kwd", rep_id="rk", amount="1000.105"),
            _sale(LAST_DAY, "S-kwd-2", rep_id="rk", amount="10.50"),
            _adjustment("2199-Q4", "1.505", rep_id="rk"),
            _approve("A-rk-2199-Q4"),
            _case(LAST_DAY, "C-kwd", rep_id="rk", severity="red_line", amount="2.345"),
            _approve("C-kwd"),
        ]
        ledger.import_lines(jsonl(*events), actor="tester", parse_workers=0)
        statement = Reports(ledger).statement("rk", "2199-Q4")
        steps = {
            (line_["kind"], step["code"]): step["values"]
            for line_ in statement["lines"]
            for step in line_["explanation"]
        }
        sales = [
            step["values"]["amount"]
            for line_ in statement["lines"]
            for step in line_["explanation"]
            if step["code"] == "sale_commission"
        ]
        assert sorted(sales) == ["10.50", "1000.105"]
        assert steps["adjustment", "adjustment_approved"]["amount"] == "1.505"
        assert steps["fine", "fine_red_line"]["amount"] == "2.345"
        amounts = {line_["kind"]: line_["amount"] for line_ in statement["lines"]}
        assert (amounts["adjustment"], amounts["fine"]) == ("1.51", "-2.35")


class TestStoredActors:
    def test_self_approval_compares_what_is_stored_normalised(self, ledger: Ledger) -> None:
        """A subject stored before actors were normalised (by ``Alice``) cannot be
        approved by ``alice``: the rule compares the normal forms of both."""
        seed_edges(ledger)
        item, errors = parse_event(_adjustment("2199-Q4", "-10.00"))
        assert item is not None
        assert errors == []
        older = Input.of(item, "x")._replace(actor="Alice")  # as an older version stored it
        [result] = ledger.record_inputs([[older]])
        assert not isinstance(result, Exception)
        assert ledger.event(str(result.outcomes[0].event_id)).actor == "Alice"
        approval = make_event(
            ApprovalGranted, occurred_at=datetime.now(UTC), subject_id="A-rq-2199-Q4"
        )
        before = stored_count(ledger)
        with pytest.raises(BatchRejectedError) as caught:
            ledger.record([approval], actor="alice")
        assert caught.value.status == "conflict"
        assert (caught.value.errors[0].field, "maker-checker") == (
            "actor",
            "maker-checker" if "maker-checker" in caught.value.errors[0].reason else "",
        )
        assert stored_count(ledger) == before
