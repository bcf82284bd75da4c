"""The work-queue use cases (`projections.queues`) on SQLite and PostgreSQL:
scoped, filtered, paged lists read from the read models, and the decisions
that empty them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import BatchRejectedError, InvalidInputError, NotFoundError
from projections import queues as queues_module
from projections.disputes import DirectoryRow
from projections.queues import MAX_LIMIT, Page, PendingAdjustment, Viewer, WorkQueues
from projections.rows import ListPage
from projections.service import Reports
from service import UseCases
from tests.builders import enrol, jsonl, line, payouts, sale, seeded, stored_count


@pytest.fixture
def queues(ledger: Ledger) -> WorkQueues:
    """Two teams: east (r1, r2 under mgr-a) and west (r3 under mgr-b); a pending
    adjustment per rep, recorded by fin-carl, and a pending red-line case on r3."""
    seeded(ledger)
    ledger.import_lines(
        jsonl(
            enrol("r1", team="east", manager_id="mgr-a"),
            enrol("r2", team="east", manager_id="mgr-a"),
            enrol("r3", team="west", manager_id="mgr-b"),
            sale("S1", "r1", "10000.00"),
            sale("S2", "r3", "20000.00"),
            *(
                line(
                    "AdjustmentRequested",
                    actor="fin-carl",
                    adjustment_id=f"ADJ-{rep}",
                    rep_id=rep,
                    period="2026-Q3",
                    amount=amount,
                    reason="spiff",
                )
                for rep, amount in (("r1", "100.00"), ("r2", "200.00"), ("r3", "300.00"))
            ),
            line(
                "ViolationRecorded",
                actor="cmp-sun",
                case_id="CASE-1",
                rep_id="r3",
                code="false-expense-claim",
                severity="red_line",
                description="taxi receipts",
                amount="50.00",
            ),
        ),
        actor="crm-sync",
    )
    return WorkQueues(Reports(ledger))


FINANCE = Viewer("finance", "fin-amy", decides=frozenset({"target", "adjustment", "run"}))


def _ids(listing: ListPage, key: str = "subject_id") -> list[str]:
    return [getattr(item, key) for item in listing.items]


class TestLists:
    def test_each_viewer_sees_their_scope(self, queues: WorkQueues) -> None:
        """A rep themselves, a manager their team, finance everyone."""
        assert _ids(queues.reps(Viewer("rep", "r1", "r1")), "rep_id") == ["r1"]
        assert _ids(queues.reps(Viewer("manager", "MGR-A")), "rep_id") == ["r1", "r2"]
        assert _ids(queues.reps(Viewer("manager", "mgr-b")), "rep_id") == ["r3"]
        assert _ids(queues.reps(FINANCE), "rep_id") == ["r1", "r2", "r3"]
        manager = queues.pending(Viewer("manager", "mgr-b"))
        assert _ids(manager) == ["ADJ-r3", "CASE-1"]
        assert {item.may_decide for item in manager.items} == {False}

    def test_only_the_rows_a_viewer_sees_are_validated(
        self, queues: WorkQueues, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A rep's own directory row is read alone, a manager's reports are picked
        before validation: the whole directory was validated for every request
        (100 ms for a rep among 10,000)."""
        validated: list[str] = []
        validate = DirectoryRow.model_validate

        def counting(doc: Any, **kwargs: Any) -> DirectoryRow:
            row = validate(doc, **kwargs)
            validated.append(row.rep_id)
            return row

        monkeypatch.setattr(DirectoryRow, "model_validate", counting)
        assert _ids(queues.reps(Viewer("rep", "r2", "r2")), "rep_id") == ["r2"]
        assert validated == ["r2"]
        validated.clear()
        assert _ids(queues.summary(Viewer("manager", "Mgr-A"), "2026-Q3"), "rep_id") == [
            "r1",
            "r2",
        ]
        assert sorted(validated) == ["r1", "r2"]
        validated.clear()
        assert _ids(queues.reps(Viewer("rep", "r9", "r9")), "rep_id") == []  # not enrolled
        assert validated == []
        # finance sees everyone: only the page's rows are validated, filtered or not
        first = queues.reps(FINANCE, page=Page(offset=1, limit=1))
        assert (_ids(first, "rep_id"), first.total, validated) == (["r2"], 3, ["r2"])
        validated.clear()
        east = queues.reps(FINANCE, team="east", page=Page(limit=1))
        assert (_ids(east, "rep_id"), east.total, validated) == (["r1"], 2, ["r1"])
        validated.clear()
        assert _ids(queues.reps(FINANCE, team="west"), "rep_id") == ["r3"]
        assert _ids(queues.reps(FINANCE, team="north"), "rep_id") == []

    def test_pending_for_a_decider(self, queues: WorkQueues) -> None:
        listing = queues.pending(FINANCE)
        assert _ids(listing) == ["ADJ-r1", "ADJ-r2", "ADJ-r3"]  # by position
        first = listing.items[0]
        assert isinstance(first, PendingAdjustment)  # typed by its kind
        assert (first.amount, first.recorded_by, first.period) == (
            "100.00",
            "fin-carl",
            "2026-Q3",
        )
        compliance = Viewer("compliance", "cmp-head", decides=frozenset({"case"}))
        assert _ids(queues.pending(compliance)) == ["CASE-1"]
        recorder = Viewer("finance", "Fin-Carl", decides=FINANCE.decides)
        assert _ids(queues.pending(recorder)) == []  # their own: another must decide

    def test_summary_with_team_subtotals(self, queues: WorkQueues) -> None:
        summary = queues.summary(FINANCE, "2026-Q3")
        assert _ids(summary, "rep_id") == ["r1", "r2", "r3"]
        assert {i.status for i in summary.items} == {"open"}
        teams = {t.team: (t.reps, t.payable) for t in summary.teams}
        # commission 5 % of the sales; adjustments pending count nothing yet
        assert teams == {"east": (2, "500.00"), "west": (1, "1000.00")}
        assert summary.items[0].pending == 1

    def test_summary_lists_reps_with_nothing_recorded_in_the_period(
        self, queues: WorkQueues
    ) -> None:
        """A rep enrolled before a period in which nothing is recorded for them
        still has a statement there, and a payout run of it covers them: the
        summary lists them at that statement's figures, not "no rep"; one
        enrolled after the period ends is not listed."""
        summary = queues.summary(FINANCE, "2026-Q4")
        statements, _ = queues.reports.plan_run("2026-Q4")
        assert [(i.rep_id, i.total, i.payable, i.status) for i in summary.items] == [
            (s["rep_id"], s["total"], s["payable"], "open") for s in statements
        ]
        assert _ids(summary, "rep_id") == ["r1", "r2", "r3"]
        assert {t.team: t.reps for t in summary.teams} == {"east": 2, "west": 1}
        assert queues.summary(FINANCE, "2026-Q1").items == []

    def test_a_period_not_begun_works_out_no_reps_statement(
        self, queues: WorkQueues, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """2031-Q1 has not begun: its summary lists the reps it has rows of
        (none here) and works out no other rep's statement — for a mistyped
        year, that was every rep of the organisation, replayed."""
        asked: list[object] = []
        monkeypatch.setattr(WorkQueues, "_quiet_period", lambda _self, *a: asked.append(a))
        assert queues.summary(FINANCE, "2031-Q1").items == []
        assert asked == []

    def test_summary_reads_the_small_rows_not_the_statements(
        self, queues: WorkQueues, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The summary's figures come from the balances and attainment rows (a
        statement explaining thousands of sales is megabytes), read one by one
        for a few reps and in one query per read model for more: the same page
        either way."""
        store = queues.reports.projector.store
        one_by_one = queues.summary(FINANCE, "2026-Q3")
        row, rows = store.row, store.rows

        def no_statements(view: str, *args: Any, **kwargs: Any) -> Any:
            assert view != "statements", "a summary read a statement"
            return (row if len(args) == 2 else rows)(view, *args, **kwargs)

        monkeypatch.setattr(store, "row", no_statements)
        monkeypatch.setattr(store, "rows", no_statements)
        assert queues.summary(FINANCE, "2026-Q3") == one_by_one
        monkeypatch.setattr(queues_module, "_READ_ONE_BY_ONE", 0)
        queried: list[tuple[str, str | None]] = []

        def keyed(view: str, scope: str | None = None, *, key: str | None = None) -> Any:
            queried.append((view, key))
            return rows(view, scope, key=key)

        monkeypatch.setattr(store, "rows", keyed)
        assert queues.summary(FINANCE, "2026-Q3") == one_by_one
        assert ("balances", "2026-Q3") in queried
        assert ("attainment", "2026-Q3") in queried
        # r3's adjustment and its red-line case wait for a decision
        assert [i.pending for i in one_by_one.items] == [1, 1, 2]

    def test_summary_of_rows_made_before_balances_counted_pending(
        self, queues: WorkQueues, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Balances version 1 rows (no pending count) are served until the
        rebuild on start replaces them (in the background on PostgreSQL): the
        count comes from the statement meanwhile, never a silent 0."""
        store = queues.reports.projector.store
        rows = store.rows

        def version_one(view: str, scope: str | None = None, *, key: str | None = None) -> Any:
            found = rows(view, scope, key=key)
            if view == "balances":
                found = [
                    (s, k, {f: v for f, v in d.items() if f != "pending"}) for s, k, d in found
                ]
            return found

        monkeypatch.setattr(queues_module, "_READ_ONE_BY_ONE", 0)
        monkeypatch.setattr(store, "rows", version_one)
        summary = queues.summary(FINANCE, "2026-Q3")
        assert [i.pending for i in summary.items] == [1, 1, 2]

    def test_paging_is_stable_and_bounded(self, queues: WorkQueues) -> None:
        pages = [queues.pending(FINANCE, page=Page(offset, 1)) for offset in range(3)]
        assert [_ids(p) for p in pages] == [["ADJ-r1"], ["ADJ-r2"], ["ADJ-r3"]]
        assert {p.total for p in pages} == {3}
        with pytest.raises(InvalidInputError) as limit:
            Page(0, MAX_LIMIT + 1)
        assert limit.value.field == "limit"
        with pytest.raises(InvalidInputError) as offset:
            Page(-1, 10)
        assert offset.value.field == "offset"

    def test_cases_by_severity_and_status(self, queues: WorkQueues) -> None:
        compliance = Viewer("compliance", "cmp-head")
        assert _ids(queues.cases(compliance, status="pending"), "case_id") == ["CASE-1"]
        assert _ids(queues.cases(compliance, severity="minor"), "case_id") == []
        assert _ids(queues.cases(Viewer("manager", "mgr-a")), "case_id") == []


class TestDecisions:
    """The decisions are `service.UseCases`'; the queues list what they leave."""

    def test_approve_and_reject_empty_the_queue(self, queues: WorkQueues) -> None:
        _cases(queues).decide("ADJ-r1", actor="fin-amy", granted=True)
        _cases(queues).decide("ADJ-r2", actor="fin-amy", granted=False, note="not agreed")
        assert _ids(queues.pending(Viewer.operator("fin-bob"))) == ["ADJ-r3", "CASE-1"]
        summary = {i.rep_id: i for i in queues.summary(FINANCE, "2026-Q3").items}
        assert summary["r1"].payable == "600.00"  # 500 commission + the approved 100
        assert summary["r2"].payable == "0.00"  # the rejected 200 counts nothing

    def test_a_bad_decision_stores_nothing(self, queues: WorkQueues) -> None:
        before = stored_count(queues.ledger)
        with pytest.raises(InvalidInputError) as no_note:
            _cases(queues).decide("ADJ-r1", actor="fin-amy", granted=False, note="  ")
        assert no_note.value.field == "note"
        with pytest.raises(NotFoundError):
            _cases(queues).decide("ADJ-none", actor="fin-amy", granted=True)
        with pytest.raises(BatchRejectedError):  # maker-checker
            _cases(queues).decide("ADJ-r1", actor="fin-carl", granted=True)
        assert stored_count(queues.ledger) == before

    def test_a_dispute_upheld_books_an_adjustment_to_approve(self, queues: WorkQueues) -> None:
        reports = queues.reports
        run = payouts(reports).payout_run("2026-Q3", actor="fin-amy")
        run_id = queues.runs(period="2026-Q3").items[0].run_id
        assert run.stored == 1
        _cases(queues).decide(run_id, actor="fin-bob", granted=True)
        payouts(reports).pay_run(run_id, actor="fin-bob")
        assert [r.status for r in queues.runs().items] == ["paid"]
        dispute_id, _ = _cases(queues).raise_dispute(
            rep_id="r1", run_id=run_id, message="missing a deal", actor="r1"
        )
        assert _ids(queues.disputes(FINANCE, status="open"), "dispute_id") == [dispute_id]
        assert _ids(queues.disputes(Viewer("rep", "r3", "r3")), "dispute_id") == []
        with pytest.raises(InvalidInputError) as zero:
            _cases(queues).resolve_dispute(
                dispute_id, outcome="upheld", note="ok", actor="fin-amy", amount="0.00"
            )
        assert zero.value.field == "amount"
        adjustment_id, _ = _cases(queues).resolve_dispute(
            dispute_id, outcome="upheld", note="ok", actor="fin-amy", amount="250.00"
        )
        assert adjustment_id is not None
        assert adjustment_id not in _ids(queues.pending(FINANCE))  # fin-amy booked it
        checker = Viewer("finance", "fin-bob", decides=FINANCE.decides)
        waiting = {i.subject_id: i for i in queues.pending(checker).items}
        booked = waiting[adjustment_id]
        assert isinstance(booked, PendingAdjustment)
        assert (booked.amount, booked.period) == (
            "250.00",
            "2026-Q4",
        )
        assert _ids(queues.disputes(FINANCE, status="resolved"), "dispute_id") == [dispute_id]


def _cases(queues: WorkQueues) -> UseCases:
    return UseCases(queues.ledger, queues.reports)


def test_a_run_in_two_currencies_is_summed_in_each(queues: WorkQueues) -> None:
    """r4 is paid in USD beside three reps in CNY: the run's ``total`` and
    ``payable`` (and its pending item's amount) added USD to CNY — 2,000.00 of
    no currency. Now each currency has its sum; the one figure only where one."""
    from policies.plan import load_plan
    from tests.builders import PLAN_TOML

    ledger = queues.reports.ledger
    usd = PLAN_TOML.replace('id = "field-sales"', 'id = "us-sales"')
    ledger.publish_plan(
        load_plan(usd.replace('currency = "CNY"', 'currency = "USD"'), "toml"), actor="admin"
    )
    ledger.import_lines(
        jsonl(enrol("r4", plan_id="us-sales"), sale("S4", "r4", "10000.00") | {"currency": "USD"}),
        actor="crm-sync",
    )
    result = payouts(queues.reports).payout_run("2026-Q3", actor="fin-amy")
    run_id = str(ledger.event(str(result.outcomes[0].event_id)).data["run_id"])
    (row,) = [r for r in queues.runs().items if r.run_id == run_id]
    assert [(c.currency, c.reps, c.payable) for c in row.currencies] == [
        ("CNY", 3, "1500.00"),
        ("USD", 1, "500.00"),
    ]
    assert (row.total, row.payable) == (None, None)
    (item,) = [
        i
        for i in queues.pending(Viewer("finance", "fin-bob", decides=frozenset({"run"}))).items
        if i.subject_id == run_id
    ]
    assert item.amount is None
    assert "paying 1500.00 CNY, 500.00 USD" in item.about


def test_the_overview_sums_a_teams_payable_in_each_currency(queues: WorkQueues) -> None:
    """r4, paid in USD, joins east beside r1 and r2 in CNY: the Overview's
    payable by team and period kept one row for east's 2026-Q3 — the sum of
    CNY and USD under the currency seen last. Now a row a currency."""
    from api.pages import views
    from policies.plan import load_plan
    from tests.builders import PLAN_TOML

    ledger = queues.reports.ledger
    usd = PLAN_TOML.replace('id = "field-sales"', 'id = "us-sales"')
    ledger.publish_plan(
        load_plan(usd.replace('currency = "CNY"', 'currency = "USD"'), "toml"), actor="admin"
    )
    ledger.import_lines(
        jsonl(
            enrol("r4", plan_id="us-sales", team="east", manager_id="mgr-a"),
            sale("S4", "r4", "10000.00") | {"currency": "USD"},
        ),
        actor="crm-sync",
    )
    queues.reports.catch_up()
    east = [
        (row["currency"], row["reps"], row["payable"])
        for row in views.overview(queues.reports, "2026-Q3").payouts
        if (row["team"], row["period"]) == ("east", "2026-Q3")
    ]
    statements = [queues.reports.statement(r, "2026-Q3") for r in ("r1", "r2", "r4")]
    cny = sum((Decimal(s["payable"]) for s in statements[:2]), Decimal(0))
    assert sorted(east) == [("CNY", 2, cny), ("USD", 1, Decimal(statements[2]["payable"]))]


def test_a_quiet_period_is_worked_out_from_its_window_not_the_reps_history(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rep with many sales in 2026-Q3 and a negative total there carries it
    into a 2026-Q4 with nothing recorded: the summary lists Q4 at its statement's
    figures, worked out from the stored Q3 total and Q4's few events (the
    enrolment, the plan) — not by replaying every sale of the rep per request."""
    seeded(ledger, "r1")
    ledger.import_lines(
        jsonl(
            *(sale(f"S{n:03d}", "r1", "1000.00") for n in range(40)),
            line(
                "AdjustmentRequested",
                actor="fin-carl",
                adjustment_id="ADJ-1",
                rep_id="r1",
                period="2026-Q3",
                amount="-5000.00",
                reason="advance repaid",
            ),
            line("ApprovalGranted", actor="fin-amy", subject_id="ADJ-1"),
        ),
        actor="crm-sync",
    )
    queues = WorkQueues(Reports(ledger))
    queues.summary(FINANCE, "2026-Q3")  # caught up
    read = _counting_reads(ledger, monkeypatch)
    summary = queues.summary(FINANCE, "2026-Q4")
    assert [(i.rep_id, i.total, i.payable) for i in summary.items] == [
        ("r1", "-3000.00", "0.00")  # 40 × 1000 × 5 % − 5000, carried
    ]
    assert len(read) < 10, f"{len(read)} events read for one quiet period"
    monkeypatch.undo()
    statements, _ = queues.reports.plan_run("2026-Q4")
    assert [(s["rep_id"], s["total"], s["payable"]) for s in statements] == [
        ("r1", "-3000.00", "0.00")
    ]


def test_a_period_of_the_other_kind_works_out_no_reps_history(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A month asked of reps paid by the quarter lists nobody, and reads no
    event to find so: it replayed each rep's whole history, one by one, to learn
    that their plan pays by another kind of period."""
    seeded(ledger, "r1")
    ledger.import_lines(
        jsonl(*(sale(f"S{n:03d}", "r1", "1000.00") for n in range(40))), actor="crm-sync"
    )
    queues = WorkQueues(Reports(ledger))
    assert [i.rep_id for i in queues.summary(FINANCE, "2026-Q3").items] == ["r1"]
    read = _counting_reads(ledger, monkeypatch)
    assert queues.summary(FINANCE, "2026-08").items == []
    assert read == []


def _counting_reads(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The positions ``ledger`` reads events at from now on (`read_positions`)."""
    read: list[int] = []
    positions_read = ledger.read_positions

    def counting(positions: Any) -> Any:
        listed = list(positions)
        read.extend(listed)
        return positions_read(listed)

    monkeypatch.setattr(ledger, "read_positions", counting)
    return read
