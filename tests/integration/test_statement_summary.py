"""The summary view from the store (SPEC §4), on SQLite and PostgreSQL: kept
per rep and period and served again until an event that can change the rep's
statement is projected; a paid period's summary is of the recorded statement,
proven on every read; and a rep with 10,000 sales gets a summary of a few
kilobytes (built once, on SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

import cli
from ledger.application import Ledger
from ledger.errors import TamperedStatementError
from projections import service
from projections.service import Reports
from projections.summary import expand_ranges
from tests.builders import jsonl, sale, seeded
from tests.integration.test_paid_statements import _Rows
from tests.payout_scenes import Scene, approve, paid_scene, run_id_of

Q3 = "2026-Q3"
CATEGORIES = ("software", "hardware", "services")


def _summary(reports: Reports, rep_id: str = "r1", **kw: Any) -> dict[str, Any]:
    return dict(orjson.loads(reports.summary_json(rep_id, Q3, **kw)))


class TestKept:
    def test_served_again_until_the_reps_statement_changes(self, ledger: Ledger) -> None:
        seeded(ledger, "r1", "r2")
        ledger.import_lines(
            jsonl(*(sale(f"S-{n}", "r1", category=CATEGORIES[n % 3]) for n in range(6))),
            actor="crm",
        )
        reports = Reports(ledger)
        first = reports.summary_json("r1", Q3)
        assert reports.summary_json("r1", Q3) == first
        # another rep's sale: the same summary, as of the new head
        ledger.import_lines(jsonl(sale("S-other", "r2")), actor="crm")
        other = _summary(reports)
        head = ledger.head()
        assert head is not None
        assert other["as_of"]["position"] == head.position
        assert other["lines"] == orjson.loads(first)["lines"]
        # the rep's own sale: made again
        ledger.import_lines(jsonl(sale("S-new", "r1", "500.00", category="software")), actor="crm")
        again = _summary(reports)
        software = next(x for x in again["lines"] if x["category"] == "software")
        assert "S-new" in expand_ranges(software["sales"]["ranges"])
        assert again["total"] == reports.statement("r1", Q3)["total"]
        assert Decimal(again["total"]) == sum(Decimal(x["amount"]) for x in again["lines"])

    def test_a_payment_of_the_period_is_not_served_from_what_was_kept(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S-1", "r1"), sale("S-2", "r1")), actor="crm")
        reports = Reports(ledger)
        assert _summary(reports)["status"] == "open"
        run_id = run_id_of(reports, Q3)
        approve(ledger, run_id)
        ledger.pay_run(run_id, actor="fin-amy")
        paid = _summary(reports)
        assert paid["status"] == "paid"
        assert paid["paid"]["run_id"] == run_id

    def test_a_process_keeps_a_bounded_number(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(service, "_KEPT_SUMMARIES", 2)
        seeded(ledger, "r1", "r2", "r3")
        reports = Reports(ledger)
        bodies = {r: reports.summary_json(r, Q3) for r in ("r1", "r2", "r3")}
        assert len(reports._summaries) == 2  # what the process holds
        assert {r: reports.summary_json(r, Q3) for r in bodies} == bodies

    def test_a_fresh_reports_serves_the_same_bytes(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        ledger.import_lines(jsonl(sale("S-1", "r1"), sale("S-2", "r1")), actor="crm")
        assert Reports(ledger).summary_json("r1", Q3) == Reports(ledger).summary_json("r1", Q3)


class TestPaid:
    @pytest.fixture
    def scene(self, ledger: Ledger) -> Scene:
        scene = paid_scene(ledger, "r1", "r2")
        scene.reports.catch_up()
        return scene

    def test_the_summary_of_what_was_paid(self, scene: Scene) -> None:
        summary = _summary(scene.reports)
        full = scene.reports.statement("r1", Q3)
        assert summary["status"] == "paid"
        assert summary["paid"]["run_id"] == scene.paid_run
        assert summary["total"] == full["total"]

    def test_an_edited_copy_is_refused_even_after_a_summary_was_served(
        self, scene: Scene, db_url: str
    ) -> None:
        scene.reports.summary_json("r1", Q3)  # served once: nothing of it is kept
        raw = _Rows(db_url)
        doc = raw.read_model("r1", Q3)
        raw.set_read_model("r1", Q3, {**doc, "total": "99999.00", "payable": "99999.00"})
        with pytest.raises(TamperedStatementError, match=scene.paid_run):
            scene.reports.summary_json("r1", Q3)
        with pytest.raises(TamperedStatementError, match=scene.paid_run):
            scene.reports.statement_view_json("r1", Q3, view="summary")


# -- a rep with 10,000 sales -----------------------------------------------------

BIG = 10_000
BIG_URL: list[str] = []


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reports]:
    """One rep with 10,000 sales in one quarter (SQLite, built once)."""
    path: Path = tmp_path_factory.mktemp("big") / "ledger.db"
    BIG_URL[:] = [f"sqlite:///{path}"]
    ledger = Ledger(BIG_URL[0])
    seeded(ledger, "r1")
    lines = (
        json.dumps(sale(f"S{n:08d}", "r1", f"{1000 + n % 997}.{n % 100:02d}", category=c))
        for n in range(1, BIG + 1)
        for c in (CATEGORIES[(n - 1) // 1000 % 3],)  # runs of 1,000 ids
    )
    ledger.import_lines(lines, actor="crm", keep_outcomes=False)
    reports = Reports(ledger)
    reports.catch_up()
    yield reports
    ledger.close()


class TestTenThousandSales:
    def test_the_summary_stays_under_20_kb(self, big: Reports) -> None:
        body = big.summary_json("r1", Q3)
        assert len(body) < 20_000, len(body)
        full = big.statement_json("r1", Q3)
        assert len(full) > 20 * len(body)  # what the summary spares a reader

    def test_it_sums_every_sale_exactly(self, big: Reports) -> None:
        summary = _summary(big)
        full = orjson.loads(big.statement_json("r1", Q3))
        assert summary["total"] == full["total"]
        assert sum(Decimal(x["amount"]) for x in summary["lines"]) == Decimal(full["total"])
        commission = [x for x in summary["lines"] if x["kind"] == "commission"]
        assert {x["category"] for x in commission} == set(CATEGORIES)
        listed = [i for x in commission for i in expand_ranges(x["sales"]["ranges"])]
        assert sorted(listed) == [f"S{n:08d}" for n in range(1, BIG + 1)]
        assert sum(x["sales"]["count"] for x in commission) == BIG

    def test_the_cli_prints_the_summary_of_a_long_statement(self, big: Reports) -> None:
        """By itself, saying how to see every line."""
        result = CliRunner().invoke(
            cli.app,
            ["statement", "--rep", "r1", "--period", Q3, "--db", BIG_URL[0]],
            env={"COLUMNS": "160"},
        )
        assert result.exit_code == 0, result.output
        assert "commission · software" in result.output
        assert "--full" in result.output
        assert len(result.output) < 20_000
