"""Modelling (SPEC §5, issue 21) on SQLite and PostgreSQL: a what-if of the demo
under a candidate plan with an accelerator equals publishing that plan in a copy
of the database and replaying; an estimate equals recording the sale in a copy;
neither records anything or touches a read model."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from demo import PLAN_TOML, run_demo
from ledger.application import Ledger
from ledger.errors import BatchRejectedError, InvalidInputError, NotFoundError
from ledger.events import SaleRecorded, make_event
from policies.plan import Plan, load_plan
from projections.diff import diff_statements
from projections.service import Reports
from projections.statement import Calculator
from projections.whatif import Amounts, EstimateSale, PaidWhatIfRow, WhatIf
from tests.builders import jsonl, sale
from tests.conftest import PG_URL
from tests.integration.test_paid_statements import _Rows

# The demo's plan, version 2: commission ×1.5 on the part of the quarter's sales
# beyond half the target (a marginal accelerator), in force from 2026.
ACCELERATOR = """
[commission.tiers]
measure = "attainment"
method = "marginal"
bands = [ { from = 0.0, multiplier = 1.0 }, { from = 0.5, multiplier = 1.5 } ]
"""


def candidate_toml(version: int = 2, *, tiers: str = ACCELERATOR, currency: str = "CNY") -> str:
    text = PLAN_TOML.replace("version = 1", f"version = {version}")
    text = text.replace('currency = "CNY"', f'currency = "{currency}"')
    return text.replace("[bonus]", f"{tiers}\n[bonus]")


CANDIDATE: Plan = load_plan(candidate_toml(), "toml")
PERIODS = ["2026-Q3", "2026-Q4"]
REPS = ["rep-chen", "rep-li", "rep-wang"]
Q4_SALE = "2026-11-03T10:00:00+08:00"


@pytest.fixture
def copy_of(db_url: str, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A copy of the test's database as it stands (a file copy, or a dump of the
    PostgreSQL schema restored into another), dropped afterwards."""
    made: list[str] = []

    def copy() -> str:
        if db_url.startswith("sqlite:///"):
            target = tmp_path / f"copy-{len(made)}.db"
            with (
                closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as source,
                closing(sqlite3.connect(target)) as into,
            ):
                source.backup(into)  # the log as committed, its WAL included
            made.append(str(target))
            return f"sqlite:///{target}"
        schema = db_url.rsplit("schema=", 1)[1]
        other = f"t_{uuid.uuid4().hex[:12]}"
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", "-n", schema, PG_URL],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        restore = dump.replace(schema, other).replace("SET transaction_timeout = 0;", "")
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", PG_URL],
            input=restore,
            capture_output=True,
            text=True,
            check=True,
        )
        made.append(other)
        return db_url.replace(f"schema={schema}", f"schema={other}")

    yield copy
    if not db_url.startswith("sqlite:///"):
        for schema in made:
            subprocess.run(
                ["psql", "-q", PG_URL, "-c", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
                capture_output=True,
                check=False,
            )


@pytest.fixture
def demo(make_ledger: Callable[..., Ledger]) -> tuple[Ledger, Reports]:
    ledger = make_ledger()
    run_demo(ledger)
    reports = Reports(ledger)
    reports.catch_up()
    return ledger, reports


def _state(ledger: Ledger, reports: Reports) -> dict[str, Any]:
    """What must not change: the log's head, every stored read-model row, each
    statement as served, and that `verify` passes."""
    head = ledger.head()
    assert head is not None
    store = reports.projector.store
    return {
        "head": (head.position, head.hash),
        "events": sum(1 for _ in ledger.iter_log()),
        "rows": {view: store.rows(view) for view in ("statements", "reps", "discipline")},
        "statements": {
            (rep, period): reports.statement_json(rep, period) for rep in REPS for period in PERIODS
        },
        "verify": (ledger.verify().ok, reports.verify_projections()),
    }


def _moved(changes: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            c["kind"],
            c["subject"],
            c["before"],
            c["after"],
            c["change"],
            [e["event_id"] for e in c["events_added"]],
            [e["event_id"] for e in c["events_removed"]],
        )
        for c in changes
    ]


class TestWhatIf:
    def test_equals_publishing_the_plan_in_a_copy(
        self, demo: tuple[Ledger, Reports], copy_of: Callable[[], str]
    ) -> None:
        """Acceptance 1: per rep and period, the candidate's figures and moved lines
        are those of the copy where the plan was really published; the ledger
        itself is untouched (events, read models, statements, verify)."""
        ledger, reports = demo
        copy = Ledger(copy_of())
        before = _state(ledger, reports)

        result = reports.whatif(CANDIDATE, PERIODS, actor="fin-amy").doc()

        assert _state(ledger, reports) == before
        assert result["recorded"] is False
        copy.publish_plan(CANDIDATE, actor="fin-amy")
        published = Reports(copy)
        plan_event = [r for r in copy.iter_log() if r.type == "PlanPublished"][-1]  # the last
        assert result["candidate_event"]["event_id"] == plan_event.event_id
        assert result["candidate_event"]["position"] == plan_event.position
        assert {(r["rep_id"], r["period"]) for r in result["reps"]} == {
            (rep, period) for rep in REPS for period in PERIODS
        }
        for row in result["reps"]:
            today = reports.statement(row["rep_id"], row["period"])
            after = published.statement(row["rep_id"], row["period"])
            assert row["today"]["total"] == today["total"]
            assert row["candidate"]["total"] == after["total"]
            assert row["candidate"]["payable"] == after["payable"]
            difference = Decimal(after["total"]) - Decimal(today["total"])
            assert Decimal(row["difference"]["total"]) == difference
            assert _moved(row["moved"]) == _moved(
                [c.doc() for c in diff_statements(today, after, {}).changes]
            )
        open_rows = [r for r in result["reps"] if r["period"] == "2026-Q4"]
        assert all(Decimal(r["difference"]["total"]) > 0 for r in open_rows)
        q4 = next(t for t in result["totals"] if t["period"] == "2026-Q4")
        assert Decimal(q4["difference"]["total"]) == sum(
            Decimal(r["difference"]["total"]) for r in open_rows
        )
        copy.close()

    def test_a_paid_period_stays_locked_and_says_what_the_candidate_would_have_paid(
        self, demo: tuple[Ledger, Reports]
    ) -> None:
        """Q3 is paid: both sides are what was paid; its replay under each plan
        differs by what the next period's correction takes up."""
        _, reports = demo
        result = reports.whatif(CANDIDATE, PERIODS, actor="fin-amy")
        rows = {(r.rep_id, r.period): r for r in result.reps}
        for rep in REPS:
            paid = rows[rep, "2026-Q3"]
            assert isinstance(paid, PaidWhatIfRow)  # typed: only a paid row has a replay
            assert paid.status == "paid"
            assert paid.difference == Amounts(total="0.00", payable="0.00")
            assert paid.paid_replay.booked_in == "2026-Q4"
            assert paid.paid_replay.difference == rows[rep, "2026-Q4"].difference.total
            assert not isinstance(rows[rep, "2026-Q4"], PaidWhatIfRow)

    def test_one_rep_is_that_rep_of_all(self, demo: tuple[Ledger, Reports]) -> None:
        _, reports = demo
        everyone = reports.whatif(CANDIDATE, PERIODS, actor="fin-amy").doc()
        one = reports.whatif(CANDIDATE, PERIODS, rep_id="rep-li", actor="fin-amy").doc()
        mine = [r for r in everyone["reps"] if r["rep_id"] == "rep-li"]
        assert [{**r, "moved": _moved(r["moved"])} for r in one["reps"]] == [
            {**r, "moved": _moved(r["moved"])} for r in mine
        ]

    @pytest.mark.parametrize(
        ("toml", "field"),
        [
            (candidate_toml(1), "plan.version"),  # version 1 with other content: a conflict
            (PLAN_TOML, "plan.version"),  # even as published: `plan publish` refuses it too
            (candidate_toml(currency="USD"), "plan.currency"),
        ],
    )
    def test_a_candidate_plan_publish_would_refuse_is_refused(
        self, demo: tuple[Ledger, Reports], toml: str, field: str
    ) -> None:
        ledger, reports = demo
        head = ledger.head()
        with pytest.raises(BatchRejectedError) as caught:
            reports.whatif(load_plan(toml, "toml"), PERIODS, actor="fin-amy")
        assert caught.value.errors[0].field == field
        assert ledger.head() == head

    @pytest.mark.parametrize(
        ("periods", "rep", "error", "field"),
        [
            (["2026-Q5"], None, InvalidInputError, "period"),
            (["2026-07"], None, InvalidInputError, "period"),  # the plan pays by quarter
            ([], None, InvalidInputError, "period"),
            (["2026-Q4"], "rep-nobody", NotFoundError, "rep_id"),
        ],
    )
    def test_bad_input_names_the_field(
        self,
        demo: tuple[Ledger, Reports],
        periods: list[str],
        rep: str | None,
        error: type[Exception],
        field: str,
    ) -> None:
        _, reports = demo
        with pytest.raises(error) as caught:
            reports.whatif(CANDIDATE, periods, rep_id=rep, actor="fin-amy")
        assert getattr(caught.value, "field", None) == field

    def test_a_plan_no_rep_follows_is_refused(self, demo: tuple[Ledger, Reports]) -> None:
        _, reports = demo
        other = load_plan(candidate_toml().replace('id = "field-sales"', 'id = "inside"'), "toml")
        with pytest.raises(InvalidInputError) as caught:
            reports.whatif(other, PERIODS, actor="fin-amy")
        assert caught.value.field == "plan.id"


class TestTodayFromTheReadModels:
    """A what-if reads today's statements from the read models when they stand at
    the head it folded to (a fifth of its time at 1M events), and computes them
    when they do not: the answer is the same either way."""

    @staticmethod
    def _figures(result: WhatIf) -> dict[str, Any]:
        """The answer, but the moment the candidate was made (now, each time)."""
        doc = result.doc()
        for row in doc["reps"]:
            for change in row["moved"]:
                for event in change["events_added"] + change["events_removed"]:
                    if event["recorded"] is False:
                        event.pop("occurred_at")
        return {"reps": doc["reps"], "totals": doc["totals"], "as_of": doc["as_of"]}

    @staticmethod
    def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
        computed: list[str] = []
        real = Calculator.statement

        def statement(self: Calculator, rep_id: str, period: Any) -> dict[str, Any]:
            computed.append(rep_id)
            return real(self, rep_id, period)

        monkeypatch.setattr(Calculator, "statement", statement)
        return computed

    def test_read_or_computed_the_same(
        self, demo: tuple[Ledger, Reports], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _, reports = demo
        computed = self._counting(monkeypatch)
        read = reports.whatif(CANDIDATE, PERIODS, actor="fin-amy")
        rows = len(read.reps)
        paid = sum(1 for row in read.reps if row.status == "paid")
        assert paid == len(REPS)  # Q3
        assert len(computed) == rows + paid  # the candidate's side, and today's paid ones
        computed.clear()
        monkeypatch.setattr(Reports, "_statements_at", lambda *_: None)
        again = reports.whatif(CANDIDATE, PERIODS, actor="fin-amy")
        assert len(computed) == 2 * rows
        assert self._figures(read) == self._figures(again)

    def test_read_models_that_move_meanwhile_are_not_used(
        self, demo: tuple[Ledger, Reports], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A projector's commit while today's statements are read (a sale
        recorded and projected): they are computed instead, as of the head the
        what-if folded to."""
        ledger, reports = demo
        expected = self._figures(reports.whatif(CANDIDATE, PERIODS, actor="fin-amy"))
        real = Reports._statements_at

        def moving(self: Reports, position: int, *scope: Any) -> Any:
            read = real(self, position, *scope)
            assert read is not None

            def stored(rep_id: str, period: Any) -> dict[str, Any] | None:
                if ledger.head().position == position:  # type: ignore[union-attr]
                    ledger.import_lines(
                        jsonl(sale("S-meanwhile", "rep-li", "90000.00", at=Q4_SALE)),
                        actor="crm",
                    )
                    self.catch_up()
                return read(rep_id, period)

            return stored

        monkeypatch.setattr(Reports, "_statements_at", moving)
        computed = self._counting(monkeypatch)
        result = reports.whatif(CANDIDATE, PERIODS, actor="fin-amy")
        assert len(computed) > len(result.reps)  # today's computed after all
        assert self._figures(result) == expected

    def test_a_paid_period_is_never_taken_from_the_read_models(
        self, demo: tuple[Ledger, Reports], db_url: str
    ) -> None:
        """A paid statement is served only once it proves itself against its run;
        a what-if computes it from the log instead, paid as the ledger records
        it — an edited copy (to another total, or to look open) changes nothing."""
        _, reports = demo
        expected = self._figures(reports.whatif(CANDIDATE, PERIODS, actor="fin-amy"))
        rows = _Rows(db_url)
        for rep, edit in (("rep-li", {"total": "99999.00"}), ("rep-chen", {"status": "open"})):
            rows.set_read_model(rep, "2026-Q3", {**rows.read_model(rep, "2026-Q3"), **edit})
        assert self._figures(reports.whatif(CANDIDATE, PERIODS, actor="fin-amy")) == expected


class TestEstimate:
    def test_equals_recording_the_sale_in_a_copy(
        self, demo: tuple[Ledger, Reports], copy_of: Callable[[], str]
    ) -> None:
        """One more software sale for Li Wei in Q4: the difference is what the
        copy's statement gains when the sale is really recorded."""
        ledger, reports = demo
        copy = Ledger(copy_of())
        before = _state(ledger, reports)
        sale = EstimateSale(amount="50000.00", category="software", on=date(2026, 11, 20))

        result = reports.estimate("rep-li", sale, actor="rep-li").doc()

        assert _state(ledger, reports) == before
        assert result["period"] == "2026-Q4"
        assert result["by_kind"] == {"commission": "4000.00"}  # 50,000 x 8 %
        today = reports.statement("rep-li", "2026-Q4")
        item = make_event(
            SaleRecorded,
            occurred_at="2026-11-20T12:00:00+00:00",
            sale_id="S-NEW",
            rep_id="rep-li",
            currency="CNY",
            amount="50000.00",
            category="software",
        )
        copy.record([item], actor="crm-sync")
        after = Reports(copy).statement("rep-li", "2026-Q4")
        assert result["before"]["total"] == today["total"]
        assert result["after"]["total"] == after["total"]
        assert result["after"]["payable"] == after["payable"]
        assert [(c["kind"], c["change"]) for c in result["moved"]] == [
            (c.kind, c.change) for c in diff_statements(today, after, {}).changes
        ]
        again = reports.estimate("rep-li", sale, actor="rep-li")  # from the kept facts
        assert again.doc()["after"] == result["after"]
        copy.close()

    def test_a_split_credits_the_share(self, demo: tuple[Ledger, Reports]) -> None:
        _, reports = demo
        sale = EstimateSale(
            amount="10000.00",
            on=date(2026, 11, 20),
            splits=(("rep-li", "0.5"), ("rep-wang", "0.5")),
        )
        result = reports.estimate("rep-li", sale, actor="fin-amy")
        assert result.sale.share == "0.5"
        assert result.by_kind == {"commission": "250.00"}  # 5,000 x 5 %

    @pytest.mark.parametrize(
        ("sale", "error", "field"),
        [
            (EstimateSale(amount="100.001", on=date(2026, 11, 2)), BatchRejectedError, "amount"),
            (EstimateSale(amount="-5", on=date(2026, 11, 2)), BatchRejectedError, "amount"),
            (EstimateSale(amount="100", on=date(2026, 8, 2)), InvalidInputError, "date"),
            (
                EstimateSale(amount="100", on=date(2026, 11, 2), splits=(("rep-li", "0.4"),)),
                BatchRejectedError,
                "splits",
            ),
        ],
    )
    def test_bad_input_names_the_field(
        self,
        demo: tuple[Ledger, Reports],
        sale: EstimateSale,
        error: type[Exception],
        field: str,
    ) -> None:
        ledger, reports = demo
        head = ledger.head()
        with pytest.raises(error) as caught:
            reports.estimate("rep-li", sale, actor="fin-amy")
        assert getattr(caught.value, "field", None) == field
        assert ledger.head() == head

    def test_an_unknown_rep_is_not_found(self, demo: tuple[Ledger, Reports]) -> None:
        _, reports = demo
        with pytest.raises(NotFoundError):
            reports.estimate("rep-nobody", EstimateSale(amount="100"), actor="fin-amy")

    def test_a_date_after_the_day_the_rep_left_is_refused(
        self, demo: tuple[Ledger, Reports]
    ) -> None:
        """Li Wei left on 10 November: a sale estimated on 1 December credits
        them nothing (it answered +0.00 and said nothing); the 10th still counts."""
        ledger, reports = demo
        ledger.import_lines(
            [
                json.dumps(
                    {
                        "type": "RepLeft",
                        "occurred_at": "2026-11-10T18:00:00+08:00",
                        "actor": "hr-sync",
                        "rep_id": "rep-li",
                        "reason": "resigned",
                    }
                )
            ],
            actor="hr-sync",
        )
        with pytest.raises(InvalidInputError) as refused:
            reports.estimate("rep-li", EstimateSale("100", on=date(2026, 12, 1)), actor="fin")
        assert refused.value.field == "date"
        assert "left on 2026-11-10" in str(refused.value)
        same_day = reports.estimate("rep-li", EstimateSale("100", on=date(2026, 11, 10)))
        assert same_day.difference.total != "0.00"
