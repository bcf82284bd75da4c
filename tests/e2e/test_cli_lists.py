"""The CLI's lists and refusals as a person or a script reads them: a cell
holding several values (a rep's plans) is those values, not a Python list's
repr; a refusal under --json names its field, as the API's error body does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import PLAN_TOML, SAMPLE_EVENTS
from tests.payout_scenes import cli


@pytest.fixture
def db_url(db_url: str, tmp_path: Path) -> str:
    """A store holding the sample quarter, imported through the CLI."""
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN_TOML, encoding="utf-8")
    imported = cli(
        "import", str(SAMPLE_EVENTS), "--plan", str(plan), "--db", db_url, "--actor", "hr"
    )
    assert imported.exit_code == 0, imported.output
    return db_url


def test_a_reps_plans_read_as_words(db_url: str) -> None:
    listed = cli("reps", "--db", db_url)
    assert listed.exit_code == 0, listed.output
    rows = [row for row in listed.output.splitlines() if "rep-li" in row]
    assert rows, listed.output
    assert "field-sales" in rows[0]
    assert "['" not in listed.output  # it showed ['field-sales']


def test_a_refusal_under_json_names_its_field(db_url: str) -> None:
    """As the API's error body does: it gave the reason alone, "errors": []."""
    for args, field in (
        (("statement", "--rep", "nobody", "--period", "2026-Q3"), "rep_id"),
        (("statement", "--rep", "rep-li", "--period", "2026-Q3", "--as-of", "999"), "as_of"),
        (("runs", "--period", "2026-Q9"), "period"),
    ):
        refused = cli(*args, "--db", db_url, "--json")
        assert refused.exit_code == 1, refused.output
        body = json.loads(refused.output)
        assert body["field"] == field
        assert body["errors"] == [{"field": field, "reason": body["detail"]}]
