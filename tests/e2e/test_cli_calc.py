"""The CLI's side of issue 16's calculation items (typer's CliRunner): an
``--as-of`` outside the ledger exits nonzero naming it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.settings import get_settings
from cli import app as cli_app
from ledger.application import Ledger
from tests.builders import jsonl, sale, seeded


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = seeded(Ledger(url), "r1")
    ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")
    ledger.close()
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args))


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
        ok = _cli(*args, "--as-of", str(position))
        assert ok.exit_code == 0, ok.output
        refused = _cli(*args, "--as-of", str(position + 1))
        assert refused.exit_code == 1
        assert "as_of" in refused.output
        assert "beyond the ledger's head" in refused.output
        as_json = _cli(*args, "--as-of", "0", "--json")
        assert as_json.exit_code == 1
        assert '"error": "invalid"' in as_json.output
