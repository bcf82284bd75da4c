"""The CLI end to end, in a subprocess, on a fresh embedded database."""

from __future__ import annotations

import json
from pathlib import Path

from tests.builders import ROOT, SAMPLE_EVENTS, run_cli


class TestImportCommand:
    def test_import_verify_and_reimport(self, tmp_path: Path) -> None:
        """The README's first command works, verify passes, re-import stores nothing."""
        plan = ROOT / "samples" / "field-sales.toml"
        first = run_cli("import", str(SAMPLE_EVENTS), "--plan", str(plan), cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "stored 13 events, skipped 0" in first.stdout
        assert (tmp_path / "ledger.db").exists(), "the embedded default is ./ledger.db"

        again = run_cli("import", str(SAMPLE_EVENTS), "--json", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        summary = json.loads(again.stdout)
        assert (summary["stored"], summary["skipped"]) == (0, 13)

        verified = run_cli("verify", cwd=tmp_path)
        assert verified.returncode == 0, verified.stderr
        assert "chain intact" in verified.stdout

    def test_import_from_standard_input(self, tmp_path: Path) -> None:
        """`import -` reads the lines from a pipe (`cat events.jsonl | ... import -`)."""
        plan = ROOT / "samples" / "field-sales.toml"
        piped = SAMPLE_EVENTS.read_text(encoding="utf-8")
        first = run_cli("import", "-", "--plan", str(plan), cwd=tmp_path, stdin=piped)
        assert first.returncode == 0, first.stderr
        assert "stored 13 events, skipped 0" in first.stdout
        again = run_cli("import", "-", "--json", cwd=tmp_path, stdin=piped)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["skipped"] == 13
        missing = run_cli("import", str(tmp_path / "nowhere.jsonl"), cwd=tmp_path)
        assert missing.returncode == 2
        assert "does not exist" in missing.stderr

    def test_a_bad_file_exits_non_zero_naming_every_line(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.jsonl"
        bad.write_text(
            '{"type": "SaleRecorded", "occurred_at": "2026-07-14T10:00:00+08:00", '
            '"sale_id": "S1", "rep_id": "ghost", "amount": 12.5, "currency": "CNY"}\n'
            "not json\n",
            encoding="utf-8",
        )
        result = run_cli("import", str(bad), "--db", f"sqlite:///{tmp_path / 'x.db'}", cwd=tmp_path)
        assert result.returncode == 1
        assert "line 1, field amount" in result.stderr
        assert "line 2" in result.stderr
        assert "nothing was stored" in result.stderr

    def test_a_refused_file_stores_not_even_its_plan(self, tmp_path: Path) -> None:
        """`import FILE --plan PLAN` is one transaction: the plan published and
        the file refused was half a file stored (SPEC §2). The lines keep the
        file's numbers; a second import with the same plan says it is there."""
        plan = ROOT / "samples" / "field-sales.toml"
        bad = tmp_path / "bad.jsonl"
        lines = SAMPLE_EVENTS.read_text(encoding="utf-8").splitlines()
        bad.write_text("\n".join([*lines[:2], lines[2].replace("{", '{"extra": 1, ', 1)]) + "\n")
        refused = run_cli("import", str(bad), "--plan", str(plan), cwd=tmp_path)
        assert refused.returncode == 1
        assert "line 3, field extra" in refused.stderr
        assert "published" not in refused.stdout
        counted = run_cli("verify", cwd=tmp_path)
        assert "0 events" in counted.stdout or "empty" in counted.stdout, counted.stdout
        first = run_cli("import", str(SAMPLE_EVENTS), "--plan", str(plan), cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "plan field-sales version 1 published" in first.stdout
        assert "already published" not in first.stdout
        again = run_cli("import", str(SAMPLE_EVENTS), "--plan", str(plan), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "plan field-sales version 1 already published" in again.stdout
        assert "stored 0 events, skipped 13" in again.stdout
