"""``statement --offset/--limit`` (SPEC §4, issue 19): a page of the full view's
explanation steps, as the API's ``?offset=&limit=`` serves it, and a bad value
refused naming its option, exit 1, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

import cli
from ledger.application import Ledger
from projections.service import Reports
from tests.builders import ROOT, enrol, jsonl, sale

PLAN = ROOT / "samples" / "field-sales.toml"
runner = CliRunner()
STATEMENT = ["statement", "--rep", "rep-li", "--period", "2026-Q3"]


@pytest.fixture
def db(tmp_path: Path) -> str:
    """rep-li with seven sales in 2026-Q3."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    events = jsonl(enrol("rep-li"), *(sale(f"S-{n}", "rep-li", f"{100 + n}.00") for n in range(7)))
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(events) + "\n", encoding="utf-8")
    done = runner.invoke(
        cli.app, ["import", str(path), "--plan", str(PLAN), "--db", url, "--actor", "crm"]
    )
    assert done.exit_code == 0, done.output
    return url


def _steps(doc: dict[str, object]) -> list[object]:
    lines = doc["lines"]
    assert isinstance(lines, list)
    return [step for line in lines for step in line["explanation"]]


class TestPages:
    def test_a_page_is_the_apis_page(self, db: str) -> None:
        """The same document as GET ...?offset=2&limit=3 (bytes of the read side)."""
        result = runner.invoke(
            cli.app, [*STATEMENT, "--offset", "2", "--limit", "3", "--db", db, "--json"]
        )
        assert result.exit_code == 0, result.output
        page = json.loads(result.stdout)
        ledger = Ledger(db)
        try:
            served = Reports(ledger).statement_view_json("rep-li", "2026-Q3", offset=2, limit=3)
            full = Reports(ledger).statement("rep-li", "2026-Q3")
        finally:
            ledger.close()
        assert page == orjson.loads(served)
        assert page["page"] == {
            "offset": 2,
            "limit": 3,
            "total": len(_steps(full)),
            "returned": 3,
        }
        assert _steps(page) == _steps(full)[2:5]
        assert page["total"] == full["total"]

    def test_the_pages_hold_every_step_once(self, db: str) -> None:
        seen: list[object] = []
        offset = 0
        while True:
            result = runner.invoke(
                cli.app,
                [*STATEMENT, "--offset", str(offset), "--limit", "4", "--db", db, "--json"],
            )
            assert result.exit_code == 0, result.output
            page = json.loads(result.stdout)
            seen += _steps(page)
            offset += 4
            if offset >= page["page"]["total"]:
                break
        full = runner.invoke(cli.app, [*STATEMENT, "--full", "--db", db, "--json"])
        assert seen == _steps(json.loads(full.stdout))

    def test_the_terminal_says_which_steps_and_how_to_see_the_next(self, db: str) -> None:
        """Only a limit: from the first step; the full view's lines, not the summary."""
        full = runner.invoke(cli.app, [*STATEMENT, "--full", "--db", db, "--json"])
        total = len(_steps(json.loads(full.stdout)))
        result = runner.invoke(cli.app, [*STATEMENT, "--limit", "2", "--db", db])
        assert result.exit_code == 0, result.output
        note = (
            f"2 of {total} explanation steps shown, from offset 0; the next: --offset 2 --limit 2"
        )
        assert note in " ".join(result.stdout.split())
        assert "Subtotals" not in result.stdout

    def test_in_chinese(self, db: str) -> None:
        result = runner.invoke(
            cli.app, [*STATEMENT, "--offset", "1", "--limit", "2", "--locale", "zh-CN", "--db", db]
        )
        assert result.exit_code == 0, result.output
        assert "起的 2 条；下一页：--offset 3 --limit 2" in " ".join(result.stdout.split())


class TestRefused:
    @pytest.mark.parametrize(
        ("options", "named"),
        [
            (["--offset", "-1"], "offset"),
            (["--limit", "0"], "limit"),
            (["--limit", "1001"], "limit"),
            (["--offset", "2", "--limit", "1001"], "limit"),
            (["--summary", "--offset", "0"], "offset"),
            (["--summary", "--limit", "5"], "limit"),
        ],
    )
    def test_a_bad_page_is_named(self, db: str, options: list[str], named: str) -> None:
        result = runner.invoke(cli.app, [*STATEMENT, *options, "--db", db])
        assert result.exit_code == 1, result.output
        assert f"{named}:" in result.stderr
        assert "Traceback" not in result.output

    def test_not_a_number_is_named_by_the_command_line(self, db: str) -> None:
        result = runner.invoke(cli.app, [*STATEMENT, "--limit", "many", "--db", db])
        assert result.exit_code == 2
        assert "--limit" in result.output
