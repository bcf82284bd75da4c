"""An import applies SPEC §7's limits to each line: a line over the byte limit,
or nested deeper than 32 levels, is a named bad line and the import stores
nothing — in this process and in the parse worker, on both stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.errors import BatchRejectedError
from tests.builders import jsonl, sale, seeded, stored_count


def _lines(count: int) -> list[str]:
    return jsonl(*(sale(f"S-{i}", "r1", "10.00") for i in range(count)))


class TestPerLineLimits:
    @pytest.mark.parametrize("workers", [0, 1])
    def test_a_deep_line_is_named_and_nothing_is_stored(self, ledger: Ledger, workers: int) -> None:
        """A 1,000-deep line was a crash of the import (the decoder recursed)."""
        seeded(ledger, "r1")
        before = stored_count(ledger)
        lines = _lines(12)
        lines[1] = json.dumps({**sale("S-deep", "r1"), "category": "x"}).replace(
            '"x"', "[" * 1000 + "]" * 1000
        )
        lines[9] = "{" * 40 + "}" * 40
        with pytest.raises(BatchRejectedError) as rejected:
            ledger.import_lines(lines, actor="crm", chunk_size=3, parse_workers=workers)
        bad = {(e.line, e.reason) for e in rejected.value.errors}
        assert bad == {
            (2, "JSON nested deeper than 32 levels"),
            (10, "JSON nested deeper than 32 levels"),
        }
        assert stored_count(ledger) == before

    def test_a_line_over_the_byte_limit_is_named_and_never_read_whole(
        self, ledger: Ledger, tmp_path: Path
    ) -> None:
        seeded(ledger, "r1")
        before = stored_count(ledger)
        lines = _lines(4)
        lines[2] = json.dumps({**sale("S-long", "r1"), "padding": "c" * 5_000})
        path = tmp_path / "events.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with path.open(encoding="utf-8") as source, pytest.raises(BatchRejectedError) as rejected:
            ledger.import_lines(source, actor="crm", max_line_bytes=2_000)
        [error] = rejected.value.errors
        assert (error.line, error.reason) == (3, "the line is over 2000 bytes")
        assert stored_count(ledger) == before
        # within a larger limit the line is read and checked as usual
        with path.open(encoding="utf-8") as source, pytest.raises(BatchRejectedError) as rejected:
            ledger.import_lines(source, actor="crm", max_line_bytes=10_000)
        [error] = rejected.value.errors
        assert (error.line, error.field) == (3, "padding")  # read, and refused for its field

    def test_lines_within_the_limits_import(self, ledger: Ledger) -> None:
        seeded(ledger, "r1")
        result = ledger.import_lines(_lines(7), actor="crm", chunk_size=3, parse_workers=1)
        assert result.stored == 7
