"""The CLI's lists as a person reads them: a cell holding several values (a
rep's plans) is those values, not a Python list's repr."""

from __future__ import annotations

from pathlib import Path

from tests.builders import PLAN_TOML, SAMPLE_EVENTS
from tests.payout_scenes import cli


def test_a_reps_plans_read_as_words(db_url: str, tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN_TOML, encoding="utf-8")
    imported = cli(
        "import", str(SAMPLE_EVENTS), "--plan", str(plan), "--db", db_url, "--actor", "hr"
    )
    assert imported.exit_code == 0, imported.output
    listed = cli("reps", "--db", db_url)
    assert listed.exit_code == 0, listed.output
    rows = [row for row in listed.output.splitlines() if "rep-li" in row]
    assert rows, listed.output
    assert "field-sales" in rows[0]
    assert "['" not in listed.output  # it showed ['field-sales']
