"""`import FILE.csv|FILE.xlsx --mapping` and `payout export --format xlsx --layout`
end to end, in a subprocess, on the demo's embedded database."""

from __future__ import annotations

import json
from pathlib import Path

from tests.builders import ROOT, run_cli, with_sheets_edited

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

    def test_merged_cells_exit_1_naming_the_range(self, tmp_path: Path) -> None:
        """The HubSpot sample with its rows 2 and 3's amounts merged (E3's
        value no longer shown): row 3 is named with the range, nothing stored."""

        def merged(xml: bytes) -> bytes:
            merge = b'</sheetData><mergeCells count="1"><mergeCell ref="E2:E3"/></mergeCells>'
            return xml.replace(b"</sheetData>", merge, 1)

        _demo(tmp_path)
        path = with_sheets_edited(CRM / "hubspot-deals.xlsx", tmp_path / "deals.xlsx", merged)
        result = run_cli("import", str(path), "--mapping", str(CRM / "hubspot.toml"), cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert "1 bad row(s); nothing was stored" in result.stderr
        assert (
            'row 3, column "Amount" (E): sale.amount: the cell is one of the merged cells E2:E3,'
            in result.stderr
        )

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

    def test_files_it_cannot_read_whole_are_refused(self, tmp_path: Path) -> None:
        """A Windows-1252 export is refused until its encoding is named (it was
        read as GB18030 and the wrong letters stored for good); a header with
        no rows exits 1 as an empty JSON Lines file does (it was "stored 0",
        exit 0)."""
        _demo(tmp_path)
        mapping = ("--mapping", str(CRM / "salesforce.toml"))
        text = (CRM / "salesforce-opportunities.csv").read_text(encoding="utf-8")
        western = tmp_path / "western.csv"
        western.write_bytes(
            text.replace("customer went into administration", "Kunde Rücktritt").encode("cp1252")
        )
        refused = run_cli("import", str(western), *mapping, cwd=tmp_path)
        assert refused.returncode == 1
        assert "line 6: the file is not UTF-8" in refused.stderr
        for named in ("--encoding", "gb18030", "cp1252"):
            assert named in refused.stderr
        named = run_cli(
            "import", str(western), *mapping, "--encoding", "cp1252", "--json", cwd=tmp_path
        )
        assert named.returncode == 0, named.stderr
        assert json.loads(named.stdout)["encoding"] == "cp1252"
        header = tmp_path / "header.csv"
        header.write_text(text.splitlines()[0] + "\n", encoding="utf-8")
        empty = run_cli("import", str(header), *mapping, cwd=tmp_path)
        assert empty.returncode == 1
        assert "header.csv holds no rows under its header (row 1" in empty.stderr
        as_json = run_cli("import", str(header), *mapping, "--json", cwd=tmp_path)
        assert as_json.returncode == 1
        assert json.loads(as_json.stdout)["error"] == "invalid"

    def test_a_won_deal_later_shown_lost_is_warned_of(self, tmp_path: Path) -> None:
        """The ignored row of a stored sale: a warning in words and in --json."""
        _demo(tmp_path)
        mapping = ("--mapping", str(CRM / "salesforce.toml"))
        sample = CRM / "salesforce-opportunities.csv"
        assert run_cli("import", str(sample), *mapping, cwd=tmp_path).returncode == 0
        later = tmp_path / "later.csv"
        text = sample.read_text(encoding="utf-8")
        later.write_text(
            text.replace("Acme Manufacturing,Closed Won", "Acme Manufacturing,Closed Lost"),
            encoding="utf-8",
        )
        said = run_cli("import", str(later), *mapping, cwd=tmp_path)
        assert said.returncode == 0, said.stderr
        assert 'warning: row 2, column "Stage" (E): sale 0065g00000AbCd1AAA is stored' in (
            " ".join(said.stdout.split())
        )
        as_json = run_cli("import", str(later), *mapping, "--json", cwd=tmp_path)
        [warning] = json.loads(as_json.stdout)["warnings"]
        assert (warning["code"], warning["rows"], warning["values"]["sale_id"]) == (
            "ignored_row_of_stored_sale",
            [2],
            "0065g00000AbCd1AAA",
        )

    def test_toml_files_with_a_byte_order_mark(self, tmp_path: Path) -> None:
        """A mapping, a payroll layout and a plan saved by Windows Notepad (a
        UTF-8 BOM) were refused as "Invalid statement (at line 1, column 1)"."""
        run_id = _demo(tmp_path)

        def bom(path: Path, *edit: str) -> str:
            text = path.read_text(encoding="utf-8")
            if edit:
                text = text.replace(*edit)
            copy = tmp_path / f"bom-{path.name}"
            copy.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
            return str(copy)

        mapping = bom(CRM / "salesforce.toml")
        imported = run_cli(
            "import", str(CRM / "salesforce-opportunities.csv"), "--mapping", mapping, cwd=tmp_path
        )
        assert imported.returncode == 0, imported.stderr
        layout = bom(ROOT / "samples" / "payroll-layout.toml")
        exported = run_cli(
            "payout", "export", run_id, "--format", "csv", "--layout", layout, cwd=tmp_path
        )
        assert exported.returncode == 0, exported.stderr
        assert exported.stdout.startswith("Employee Number,")
        plan = bom(ROOT / "samples" / "field-sales.toml", "version = 1\n", "version = 9\n")
        checked = run_cli("plan", "check", plan, "--period", "2026-Q3", cwd=tmp_path)
        assert checked.returncode == 0, checked.stderr

    def test_a_plan_that_is_not_utf8_is_one_line(self, tmp_path: Path) -> None:
        """A plan saved as GBK (its comments in Chinese) was a UnicodeDecodeError
        traceback; it is refused in one line naming the file."""
        _demo(tmp_path)
        text = (ROOT / "samples" / "field-sales.toml").read_text(encoding="utf-8")
        plan = tmp_path / "gbk.toml"
        plan.write_bytes(("# 销售方案\n" + text).encode("gbk"))
        checked = run_cli("plan", "check", str(plan), "--period", "2026-Q3", cwd=tmp_path)
        assert checked.returncode == 1
        assert "gbk.toml is not UTF-8" in checked.stderr
        assert "Traceback" not in checked.stderr


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
