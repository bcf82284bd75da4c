"""SPEC §2 bounds on the command line: a bad line is named with its field and
nothing is stored; a query outside the bounds is refused, not a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from tests.builders import ROOT, enrol, jsonl, line

PLAN = ROOT / "samples" / "field-sales.toml"
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    reps = tmp_path / "reps.jsonl"
    reps.write_text("\n".join(jsonl(enrol("rep-li"))) + "\n", encoding="utf-8")
    done = runner.invoke(
        cli.app, ["import", str(reps), "--plan", str(PLAN), "--db", url, "--actor", "hr"]
    )
    assert done.exit_code == 0, done.output
    return url


class TestBounds:
    def test_a_poison_line_is_named_and_nothing_stored(self, db: str, tmp_path: Path) -> None:
        """Issue 16: a score for 9999-Q4 and a minor case on 9999-12-31 were accepted."""
        events = [
            line("CoachingRecorded", actor="mgr", rep_id="rep-li", topic="fine"),
            line("KpiScored", actor="mgr", rep_id="rep-li", period="9999-Q4", kpi="k", score="1"),
            line(
                "ViolationRecorded",
                at="9999-12-31T10:00:00+00:00",
                actor="mgr",
                case_id="C-9",
                rep_id="rep-li",
                code="late",
                severity="minor",
                description="late",
            ),
        ]
        path = tmp_path / "poison.jsonl"
        path.write_text("\n".join(json.dumps(e) for e in events) + "\n", encoding="utf-8")
        result = runner.invoke(cli.app, ["import", str(path), "--db", db, "--json"])
        assert result.exit_code == 1
        errors = json.loads(result.stdout)["errors"]
        assert [(e["line"], e["field"]) for e in errors] == [(2, "period"), (3, "occurred_at")]
        history = runner.invoke(cli.app, ["history", "--rep", "rep-li", "--db", db, "--json"])
        assert history.exit_code == 0, history.output
        assert json.loads(history.stdout) == []  # not even the good line was stored

    @pytest.mark.parametrize("period", ["9999-Q4", "1999-Q4"])
    def test_a_statement_outside_the_bounds_is_refused(self, db: str, period: str) -> None:
        """``statement --period 9999-Q4`` says why, exit 1, no traceback."""
        result = runner.invoke(
            cli.app, ["statement", "--rep", "rep-li", "--period", period, "--db", db]
        )
        assert result.exit_code == 1
        assert "2000-2199" in result.stderr
        assert "Traceback" not in result.output
