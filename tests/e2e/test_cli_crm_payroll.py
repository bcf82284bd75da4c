"""`import FILE.csv|FILE.xlsx --mapping` and `payout export --format xlsx --layout`
end to end, in a subprocess, on the demo's embedded database."""

from __future__ import annotations

import json
from pathlib import Path

from tests.builders import ROOT, run_cli

CRM = ROOT / "samples" / "crm"


def _demo(tmp_path: Path) -> str:
    demo = run_cli("demo", "--json", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    return str(json.loads(demo.stdout)["paid"]["run_id"])


class TestCrmImport:
    def test_sample_imports_and_reimport_skips(self, tmp_path: Path) -> None:
        _demo(tmp_path)
        args = ("import", str(CRM / "fxiaoke-orders.csv"), "--mapping", str(CRM / "fxiaoke.toml"))
        first = run_cli(*args, "--actor", "ops-lin", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "read 6 rows (1 ignored by the mapping): stored 5 events" in first.stdout
        again = run_cli(*args, "--json", "--actor", "ops-lin", cwd=tmp_path)
        summary = json.loads(again.stdout)
        assert (summary["stored"], summary["skipped"], summary["encoding"]) == (0, 5, "gb18030")

    def test_bad_row_exits_1_naming_row_and_column(self, tmp_path: Path) -> None:
        _demo(tmp_path)
        text = (CRM / "salesforce-opportunities.csv").read_text(encoding="utf-8")
        bad = tmp_path / "bad.csv"
        bad.write_text(text.replace('"95,000.00"', '"95,000.001"'), encoding="utf-8")
        result = run_cli(
            "import", str(bad), "--mapping", str(CRM / "salesforce.toml"), cwd=tmp_path
        )
        assert result.returncode == 1
        stderr = result.stderr
        assert "1 bad row(s); nothing was stored" in stderr
        assert 'row 7, column "Amount" (G):' in stderr
        as_json = run_cli(
            "import",
            str(bad),
            "--mapping",
            str(CRM / "salesforce.toml"),
            "--json",
            cwd=tmp_path,
        )
        [error] = json.loads(as_json.stdout)["errors"]
        assert (error["rows"], error["column"], error["field"]) == ([7], "Amount", "amount")

    def test_usage_errors(self, tmp_path: Path) -> None:
        """A CSV needs its mapping; a mapping that does not validate names its key."""
        no_mapping = run_cli("import", str(CRM / "salesforce-opportunities.csv"), cwd=tmp_path)
        assert no_mapping.returncode == 2
        assert "needs its mapping" in no_mapping.stderr
        broken = tmp_path / "broken.toml"
        broken.write_text('name = "x"\ndelimiter = ";;"\n', encoding="utf-8")
        bad = run_cli(
            "import",
            str(CRM / "salesforce-opportunities.csv"),
            "--mapping",
            str(broken),
            cwd=tmp_path,
        )
        assert bad.returncode == 2
        assert "delimiter" in bad.stderr
        xlsx = run_cli(
            "import",
            str(CRM / "hubspot-deals.xlsx"),
            "--mapping",
            str(CRM / "hubspot.toml"),
            "--encoding",
            "gb18030",
            cwd=tmp_path,
        )
        assert xlsx.returncode == 2
        assert "names its own encoding" in xlsx.stderr


class TestPayrollExport:
    def test_xlsx_with_layout_is_reproducible(self, tmp_path: Path) -> None:
        run_id = _demo(tmp_path)
        layout = str(ROOT / "samples" / "payroll-layout.toml")
        out = tmp_path / "pay.xlsx"
        export = ("payout", "export", run_id, "--format", "xlsx", "--layout", layout)
        first = run_cli(*export, "--out", str(out), cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        piped = run_cli(*export, cwd=tmp_path, text=False)  # the workbook's bytes
        assert piped.returncode == 0, piped.stderr
        assert piped.stdout == out.read_bytes()
        assert out.read_bytes()[:2] == b"PK"
        csv = run_cli(
            "payout", "export", run_id, "--format", "csv", "--layout", layout, cwd=tmp_path
        )
        assert csv.stdout.splitlines()[0].startswith("Employee Number,Earning Code,Amount")

    def test_unknown_format_refused(self, tmp_path: Path) -> None:
        result = run_cli("payout", "export", "run-x", "--format", "pdf", cwd=tmp_path)
        assert result.returncode == 2
        assert "csv" in result.stderr
        assert "xlsx" in result.stderr
