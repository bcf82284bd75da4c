"""The CLI's side of issue 16's calculation items (typer's CliRunner): an
``--as-of`` outside the ledger exits nonzero naming it; an import says what it
accepted but looks like a typo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.application import Ledger
from tests.builders import invoke_cli, jsonl, sale, seeded


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = seeded(Ledger(url), "r1")
    ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")
    ledger.close()
    return url


class TestAsOf:
    def test_a_position_beyond_the_head_exits_nonzero_naming_as_of(self, url: str) -> None:
        head = Ledger(url)
        try:
            last = head.head()
            assert last is not None
            position = last.position
        finally:
            head.close()
        args = ("statement", "--rep", "r1", "--period", "2026-Q3", "--db", url)
        ok = invoke_cli(*args, "--as-of", str(position))
        assert ok.exit_code == 0, ok.output
        refused = invoke_cli(*args, "--as-of", str(position + 1))
        assert refused.exit_code == 1
        assert "as_of" in refused.output
        assert "beyond the ledger's head" in refused.output
        as_json = invoke_cli(*args, "--as-of", "0", "--json")
        assert as_json.exit_code == 1
        assert '"error": "invalid"' in as_json.output


class TestImportWarnings:
    def test_the_import_says_what_it_accepted_but_looks_wrong(
        self, url: str, tmp_path: Path
    ) -> None:
        """Plain output: a line per warning (line, field, words); --json: each
        input's warnings. Both stored the line."""
        events = tmp_path / "events.jsonl"
        events.write_text(
            "\n".join(
                jsonl(
                    sale("S2", "r1", category="software"),
                    sale("S3", "r1", category="Software"),
                )
            ),
            encoding="utf-8",
        )
        plain = invoke_cli("import", str(events), "--db", url, "--actor", "crm")
        assert plain.exit_code == 0, plain.output
        assert "stored 2 events" in plain.output
        assert "warning: line 2, field category: Category Software differs from the plan's" in (
            plain.output
        )
        again = tmp_path / "more.jsonl"
        again.write_text("\n".join(jsonl(sale("S4", "r1", category="SOFTWARE"))), encoding="utf-8")
        as_json = invoke_cli("import", str(again), "--db", url, "--actor", "crm", "--json")
        assert as_json.exit_code == 0, as_json.output
        (event,) = json.loads(as_json.output)["events"]
        assert [w["code"] for w in event["warnings"]] == ["category_lookalike"]
        assert event["warnings"][0]["field"] == "category"
        statement = invoke_cli("statement", "--rep", "r1", "--period", "2026-Q3", "--db", url)
        assert statement.exit_code == 0, statement.output
        assert "warning Category Software differs from the plan's software" in statement.output
