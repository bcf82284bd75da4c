"""Nothing paid twice (SPEC §5), on SQLite and PostgreSQL: a run covers only the
reps whose period is neither paid nor in another open run, a run that would
cover nobody is refused, `payout pay` refuses a run whose rep was paid
meanwhile — all decided by the write rules under the writer lock, so two
processes racing cannot both take a rep — and exports are reproducible."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from ledger import rules
from ledger.application import Ledger
from ledger.errors import BatchRejectedError, InvalidInputError, LedgerError
from ledger.events import ApprovalGranted, ApprovalRejected, RepEnrolled, make_event
from policies.periods import parse_period
from projections.runner import verify_views
from projections.service import Reports
from projections.statement import AsOf, Calculator, statement_sha256
from tests.builders import enrol, jsonl, payouts, sale, seeded, stored_count
from tests.integration.test_audit_chain import Raw
from tests.payout_scenes import api_over

Q3 = "2026-Q3"


def _store(ledger: Ledger, *reps: str) -> Reports:
    seeded(ledger, *reps)
    ledger.import_lines(jsonl(*(sale(f"S-{r}", r) for r in reps)), actor="crm")
    return Reports(ledger)


def _run(reports: Reports, period: str = Q3, actor: str = "fin-amy") -> str:
    result = payouts(reports).payout_run(period, actor=actor)
    event_id = result.outcomes[0].event_id
    assert event_id is not None
    return str(reports.ledger.event(event_id).data["run_id"])


def _store_and_run(ledger: Ledger, *reps: str) -> tuple[Reports, str]:
    """``_store`` of ``reps``, then a Q3 run of them: the reports and the run's id."""
    reports = _store(ledger, *reps)
    return reports, _run(reports)


def _decide(ledger: Ledger, run_id: str, *, granted: bool = True, actor: str = "fin-bob") -> None:
    cls = ApprovalGranted if granted else ApprovalRejected
    ledger.record([make_event(cls, occurred_at=datetime.now(UTC), subject_id=run_id)], actor=actor)


def _reps_of(reports: Reports, run_id: str) -> list[str]:
    return [s["rep_id"] for s in reports.run(run_id)["statements"]]


def _paid_rows(reports: Reports, *run_ids: str) -> list[tuple[str, str]]:
    """(rep, period) of every row some export lists as paid."""
    return [
        (row["rep_id"], row["period"])
        for run_id in run_ids
        for row in csv.DictReader(io.StringIO(reports.export_csv(run_id)))
        if row["status"] == "paid"
    ]


@pytest.fixture
def legacy_rules(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Record and pay runs as the code before these rules did (no check of other
    runs), to build the state a store written then may hold: two open runs for
    one rep, or two payments of one rep-period."""

    def off() -> None:
        monkeypatch.setattr(rules, "holder_of", lambda *_: None, raising=False)
        monkeypatch.setattr(rules, "PAID", "(no payment is looked for)", raising=False)

    def on() -> None:
        monkeypatch.undo()

    off()
    return on


class TestOneRunPerRepPeriod:
    def test_a_second_run_for_the_same_period_covers_nobody_and_is_refused(
        self, ledger: Ledger
    ) -> None:
        """The reps of run 1 are in an open run: run 2 would cover nobody."""
        reports, first = _store_and_run(ledger, "r1", "r2")
        assert _reps_of(reports, first) == ["r1", "r2"]
        before = stored_count(ledger)
        with pytest.raises(InvalidInputError, match=f"no rep has an unpaid {Q3}") as refused:
            payouts(reports).payout_run(Q3, actor="fin-amy")
        assert refused.value.field == "period"
        assert stored_count(ledger) == before

    def test_the_write_rule_refuses_a_rep_held_by_an_open_run(self, ledger: Ledger) -> None:
        """Not only the service's plan: a PayoutCalculated holding a rep of an open
        run is refused where it is recorded, naming the rep and the run."""
        reports, first = _store_and_run(ledger, "r1", "r2")
        statement = next(s for s in reports.run(first)["statements"] if s["rep_id"] == "r2")
        before = stored_count(ledger)
        with pytest.raises(BatchRejectedError) as refused:
            ledger.record_payout_run(
                "run-by-hand",
                Q3,
                [statement],
                position=1,
                chain_head={"position": 1, "hash": "0" * 64},
                actor="fin-amy",
            )
        [error] = refused.value.errors
        assert (error.status, error.field) == ("conflict", "statements[0].rep_id")
        assert "rep r2" in error.reason
        assert first in error.reason
        assert stored_count(ledger) == before

    def test_an_empty_run_is_refused_by_the_write_rule(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        with pytest.raises(BatchRejectedError, match="covers no rep"):
            ledger.record_payout_run(
                "run-empty",
                Q3,
                [],
                position=1,
                chain_head={"position": 1, "hash": "0" * 64},
                actor="fin-amy",
            )

    def test_a_rep_enrolled_after_run_1_is_covered_by_run_2_alone(self, ledger: Ledger) -> None:
        reports, first = _store_and_run(ledger, "r1", "r2")
        ledger.import_lines(jsonl(enrol("r3")), actor="hr")
        second = _run(reports)
        assert _reps_of(reports, first) == ["r1", "r2"]
        assert _reps_of(reports, second) == ["r3"]

    def test_a_rejected_run_frees_its_reps(self, ledger: Ledger) -> None:
        reports, first = _store_and_run(ledger, "r1", "r2")
        _decide(ledger, first, granted=False)
        second = _run(reports)
        assert _reps_of(reports, second) == ["r1", "r2"]
        _decide(ledger, second)
        payouts(reports).pay_run(second, actor="fin-amy")
        with pytest.raises(InvalidInputError, match=f"no rep has an unpaid {Q3}"):
            payouts(reports).payout_run(Q3, actor="fin-amy")

    def test_a_rejected_run_of_a_future_period_leaves_no_periods_behind(
        self, ledger: Ledger
    ) -> None:
        """A run of 2030-Q1 (a mistyped year) computed each rep's statements up
        to 2029-Q4 and a 2030-Q2 to hold its corrections; rejected, the reps'
        periods still ran to 2030 — 14 empty quarters on every rep's pages.
        Open, the run's period is the rep's; rejected, nothing is left."""
        reports = _store(ledger, "r1")
        run_id = _run(reports, "2030-Q1")

        def last_period() -> str:
            reports.catch_up()
            return max(key for _, key, _ in reports.projector.store.rows("statements", "r1"))

        assert last_period() == "2030-Q1"
        _decide(ledger, run_id, granted=False)
        assert last_period() == Q3
        assert verify_views(ledger) == []  # the catch-up's rows are a fresh replay's

    def test_a_run_after_a_rejected_one_writes_the_periods_between(self, ledger: Ledger) -> None:
        """The projector kept the totals of the rows the rejected 2030-Q1 run
        had (to carry a balance in without reading them): rejected, those rows
        went, the totals stayed, and a run of 2027-Q2 then took the stale
        2027-Q1 total for a stored row — 2027-Q1 was never written (verify
        found it missing from the projection)."""
        reports = _store(ledger, "r1")
        mistyped = _run(reports, "2030-Q1")
        reports.catch_up()  # r1's rows to 2030-Q1
        _decide(ledger, mistyped, granted=False)
        reports.catch_up()  # to Q3 again
        _run(reports, "2027-Q2")
        reports.catch_up()
        assert verify_views(ledger) == []

    def test_an_approved_unpaid_run_still_holds_its_reps(self, ledger: Ledger) -> None:
        reports, first = _store_and_run(ledger, "r1")
        _decide(ledger, first)
        with pytest.raises(InvalidInputError, match="no rep has an unpaid"):
            payouts(reports).payout_run(Q3, actor="fin-amy")


class TestRaces:
    def test_two_runs_recorded_at_once_take_each_rep_once(
        self, make_ledger: Callable[..., Ledger]
    ) -> None:
        """Two processes' runs, planned on the same state (both see every rep
        free), recorded at the same moment: the rule, under the writer lock,
        lets one take the reps and refuses the other."""
        reports = _store(make_ledger(), "r1", "r2")
        statements, at = _statements(reports, "r1", "r2")
        ledgers = [make_ledger(), make_ledger()]
        outcomes = _at_once(
            [
                lambda i=i: ledgers[i].record_payout_run(
                    f"run-race-{i}",
                    Q3,
                    statements,
                    position=at.position,
                    chain_head=at.head(),
                    actor="fin-amy",
                )
                for i in range(2)
            ]
        )
        refused = [o for o in outcomes if isinstance(o, BatchRejectedError)]
        assert len(refused) == 1, outcomes
        assert refused[0].errors[0].status == "conflict"
        runs = Reports(ledgers[0]).facts_at(_head(ledgers[0]))[0].runs
        assert len(runs) == 1

    def test_two_services_planning_at_once_pay_nobody_twice(
        self, make_ledger: Callable[..., Ledger]
    ) -> None:
        """Two `payout run`s of one period at once (two ledgers, as two processes):
        every rep ends up in exactly one run; the other run covers the rest or,
        with nobody left, is refused."""
        _store(make_ledger(), "r1", "r2", "r3")
        ledgers = [make_ledger(), make_ledger()]
        outcomes = _at_once(
            [
                lambda i=i: payouts(Reports(ledgers[i])).payout_run(Q3, actor="fin-amy")
                for i in range(2)
            ]
        )
        assert not [o for o in outcomes if isinstance(o, Exception) and not _refused(o)], outcomes
        facts = Reports(ledgers[0]).facts_at(_head(ledgers[0]))[0]
        covered = [
            s["rep_id"] for run in facts.runs.values() for s in run.record.data["statements"]
        ]
        assert sorted(covered) == ["r1", "r2", "r3"]

    def test_paying_a_run_whose_rep_was_paid_meanwhile_pays_nobody(
        self, ledger: Ledger, legacy_rules: Callable[[], None]
    ) -> None:
        """Two open runs of one rep (recorded before the rule held): once one is
        paid, paying the other is refused, and stores nothing."""
        reports, first = _store_and_run(ledger, "r1", "r2")
        second = _legacy_run(reports, first)
        legacy_rules()  # from here on, today's rules
        _decide(ledger, first)
        _decide(ledger, second)
        ledger.pay_run(first, actor="fin-amy")
        before = stored_count(ledger)
        with pytest.raises(BatchRejectedError, match="paid meanwhile") as refused:
            ledger.pay_run(second, actor="fin-amy")
        assert first in str(refused.value)
        assert stored_count(ledger) == before
        assert reports.run(second)["paid"] is False
        assert sorted(_paid_rows(reports, first, second)) == [("r1", Q3), ("r2", Q3)]

    def test_two_overlapping_runs_paid_at_once_pay_each_rep_once(
        self, make_ledger: Callable[..., Ledger], legacy_rules: Callable[[], None]
    ) -> None:
        ledger = make_ledger()
        reports, first = _store_and_run(ledger, "r1", "r2")
        runs = [first, _legacy_run(reports, first)]
        legacy_rules()
        for run_id in runs:
            _decide(ledger, run_id)
        ledgers = [make_ledger(), make_ledger()]
        outcomes = _at_once(
            [lambda i=i: ledgers[i].pay_run(runs[i], actor="fin-amy") for i in range(2)]
        )
        assert len([o for o in outcomes if isinstance(o, BatchRejectedError)]) == 1, outcomes
        paid = [r for r in runs if reports.run(r)["paid"]]
        assert len(paid) == 1
        exported = _paid_rows(reports, *runs)
        assert sorted(exported) == [("r1", Q3), ("r2", Q3)]  # each rep-period once

    def test_a_store_that_paid_twice_exports_each_rep_period_as_paid_once(
        self, ledger: Ledger, legacy_rules: Callable[[], None]
    ) -> None:
        reports, first = _store_and_run(ledger, "r1", "r2")
        second = _legacy_run(reports, first)
        for run_id in (first, second):
            _decide(ledger, run_id)
            ledger.pay_run(run_id, actor="fin-amy")  # paid twice, as the code before let it
        legacy_rules()
        assert sorted(_paid_rows(reports, first, second)) == [("r1", Q3), ("r2", Q3)]
        rows = list(csv.DictReader(io.StringIO(reports.export_csv(second))))
        assert {r["status"] for r in rows} == {f"duplicate of {first}"}


class TestClaimsIndex:
    def test_a_store_written_before_the_index_gets_it_from_its_log(
        self, db_url: str, make_ledger: Callable[..., Ledger]
    ) -> None:
        """The index table and its marker dropped (a store of the code before):
        opened again, the ledger builds the index from the log, so a run recorded
        then still holds its reps."""
        reports = _store(make_ledger(), "r1")
        first = _run(reports)
        reports.ledger.close()
        raw = Raw(db_url)
        claims = f'"{raw.schema}".ledger_events_payout_claims' if raw.pg else "payout_claims"
        state = f'"{raw.schema}".ledger_events_state' if raw.pg else "ledger_state"
        with raw.cursor() as c:
            c.execute(f"DROP TABLE {claims}")
            c.execute(f"DELETE FROM {state}")
        reopened = make_ledger()
        assert [c.run_id for c in reopened.chain.select_all_claims()] == [first]
        with pytest.raises(InvalidInputError, match="no rep has an unpaid"):
            payouts(Reports(reopened)).payout_run(Q3, actor="fin-amy")
        assert verify_views(reopened) == []

    def test_verify_finds_an_edited_index(self, db_url: str, ledger: Ledger) -> None:
        reports, _ = _store_and_run(ledger, "r1", "r2")
        reports.catch_up()
        assert verify_views(ledger) == []
        [removed] = [c for c in ledger.chain.select_all_claims() if c.rep_id == "r2"]
        raw = Raw(db_url)
        claims = f'"{raw.schema}".ledger_events_payout_claims' if raw.pg else "payout_claims"
        with raw.cursor() as c:
            c.execute(raw.q(f"DELETE FROM {claims} WHERE rep_id = ?"), ("r2",))
        assert verify_views(ledger) == [f"payout_claims {tuple(removed)}: missing from the index"]


class TestExports:
    def test_the_same_run_exports_the_same_bytes_with_names_and_the_chain_head(
        self, ledger: Ledger
    ) -> None:
        reports, run_id = _store_and_run(ledger, "r1", "r2")
        _decide(ledger, run_id)
        ledger.pay_run(run_id, actor="fin-amy")
        first = reports.export_csv(run_id)
        ledger.import_lines(jsonl(sale("S-later", "r1")), actor="crm")  # the log moves on
        assert reports.export_csv(run_id) == first
        rows = list(csv.DictReader(io.StringIO(first)))
        # the link of the run's own event: an anchor of what the run recorded
        (head,) = [
            {"position": r.position, "hash": r.hash}
            for r in ledger.iter_log()
            if r.type == "PayoutCalculated" and r.data["run_id"] == run_id
        ]
        assert head["position"] == reports.run(run_id)["chain_head"]["position"] + 1
        assert [(r["rep_id"], r["rep_name"], r["currency"], r["payable"]) for r in rows] == [
            ("r1", "Name of r1", "CNY", rows[0]["payable"]),
            ("r2", "Name of r2", "CNY", rows[1]["payable"]),
        ]
        assert {(r["chain_position"], r["chain_hash"]) for r in rows} == {
            (str(head["position"]), head["hash"])
        }
        assert {r["status"] for r in rows} == {"paid"}
        assert "exported_at" not in first

    def test_a_name_is_never_a_spreadsheet_formula(self, ledger: Ledger) -> None:
        seeded(ledger)
        ledger.import_lines(jsonl(enrol("r1") | {"name": '=HYPERLINK("x")'}), actor="hr")
        run_id = _run(Reports(ledger))
        rows = list(csv.DictReader(io.StringIO(Reports(ledger).export_csv(run_id))))
        assert rows[0]["rep_name"] == '\'=HYPERLINK("x")'

    @pytest.mark.parametrize("name", ["\r=1+1", "Wang\r=1+1", "Wang\r\n@SUM(A1)"])
    def test_a_line_break_in_a_name_never_splits_the_row(self, ledger: Ledger, name: str) -> None:
        """A CR was written bare (the writer quotes its own ``\\n`` only): the row
        broke in two and the second began with a formula."""
        seeded(ledger)
        ledger.import_lines(jsonl(enrol("r1") | {"name": name}, enrol("r2")), actor="hr")
        run_id = _run(Reports(ledger))
        text = Reports(ledger).export_csv(run_id)
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) == 3  # the header and one row a rep
        assert {len(r) for r in rows} == {len(rows[0])}
        named = rows[1][rows[0].index("rep_name")]
        assert "\r" not in named
        assert named.lstrip("'") == name.replace("\r\n", "\n").replace("\r", "\n")

    def test_a_control_character_in_a_name_exports_to_xlsx(self, ledger: Ledger) -> None:
        """openpyxl refuses the control characters XML forbids: the export of a
        run with such a name failed (a 500 over HTTP)."""
        seeded(ledger)
        enrolled = RepEnrolled.model_construct(  # as an earlier version stored it
            type="RepEnrolled",
            occurred_at=datetime.fromisoformat("2026-06-20T09:00:00+08:00"),
            rep_id="r1",
            name="Bad\u0001Name\u001b[31m",
            plan_id="field-sales",
        )
        ledger.record([enrolled], actor="hr")
        run_id = _run(Reports(ledger))
        data = Reports(ledger).export_file(run_id, "xlsx")
        sheet = load_workbook(io.BytesIO(data)).active
        assert sheet is not None
        header, *rows = sheet.iter_rows(values_only=True)
        column = header.index("rep_name")
        assert [row[column] for row in rows] == ["Bad\ufffdName\ufffd[31m"]

    def test_a_rejected_run_is_never_a_duplicate_of_the_run_that_paid(self, ledger: Ledger) -> None:
        """A rejected run paid nobody: once another run of the period was paid,
        its export labelled every rep "duplicate of" that run (as if paid twice)."""
        reports, first = _store_and_run(ledger, "r1", "r2")
        _decide(ledger, first, granted=False)
        before = reports.export_csv(first)
        second = _run(reports)
        _decide(ledger, second)
        ledger.pay_run(second, actor="fin-amy")
        assert reports.export_csv(first) == before
        rows = list(csv.DictReader(io.StringIO(before)))
        assert {r["status"] for r in rows} == {"rejected"}


def _statements(reports: Reports, *reps: str) -> tuple[list[dict[str, Any]], AsOf]:
    """The statements a run of ``reps`` for Q3 records, as of the head."""
    facts, at = reports.facts_at(_head(reports.ledger))
    statements = []
    for rep_id in reps:
        statement = Calculator(facts, at).statement(rep_id, parse_period(Q3))
        statements.append({**statement, "sha256": statement_sha256(statement)})
    return statements, at


def _head(ledger: Ledger) -> int:
    head = ledger.head()
    return head.position if head else 0


def _legacy_run(reports: Reports, like: str) -> str:
    """A second run with the statements of run ``like``, as the code before the
    rule recorded it (the caller has turned the rule off: `legacy_rules`)."""
    run = reports.run(like)
    run_id = f"{like}-again"
    reports.ledger.record_payout_run(
        run_id,
        run["period"],
        run["statements"],
        position=run["position"],
        chain_head=run["chain_head"],
        actor="fin-amy",
    )
    return run_id


def _refused(exc: Exception) -> bool:
    return isinstance(exc, LedgerError) and "no rep has an unpaid" in str(exc)


def _at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` on threads released together; each one's result or error."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


class TestOverHttp:
    def test_a_second_run_is_422_and_a_pay_of_a_rep_paid_meanwhile_409(
        self, db_url: str, ledger: Ledger, legacy_rules: Callable[[], None]
    ) -> None:
        reports, first = _store_and_run(ledger, "r1", "r2")
        second = _legacy_run(reports, first)  # two open runs of one rep (code before)
        legacy_rules()
        _decide(ledger, first)
        _decide(ledger, second)
        with api_over(ledger, db_url) as api:
            again = api.client.post(f"/payouts/{Q3}/runs", headers=api.as_("finance"))
            assert again.status_code == 422, again.text
            assert again.json()["field"] == "period"
            assert "no rep has an unpaid" in again.json()["detail"]
            paid = api.client.post(f"/payouts/runs/{first}/pay", headers=api.as_("finance"))
            assert paid.status_code == 200, paid.text
            before = stored_count(ledger)
            refused = api.client.post(f"/payouts/runs/{second}/pay", headers=api.as_("finance"))
            assert refused.status_code == 409, refused.text
            assert "paid meanwhile" in refused.json()["detail"]
            assert first in refused.json()["detail"]
            assert stored_count(ledger) == before
            exports = [
                api.client.get(f"/payouts/runs/{r}/export.csv", headers=api.as_("finance")).text
                for r in (first, second)
            ]
        listed = [
            (row["rep_id"], row["period"])
            for text in exports
            for row in csv.DictReader(io.StringIO(text))
            if row["status"] == "paid"
        ]
        assert sorted(listed) == [("r1", Q3), ("r2", Q3)]
