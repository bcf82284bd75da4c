"""Payroll files out (issue 22, acceptance 2), on SQLite and PostgreSQL: an
xlsx export opens with openpyxl and its sums equal the run's, two exports of
the same run are identical bytes, and a payroll layout pays only what the run
pays, each rep's rows summing to its payable."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import pytest
from openpyxl import load_workbook

from demo import run_demo
from ledger import events as ev
from ledger.application import Ledger
from ledger.errors import InvalidInputError
from policies.plan import load_plan
from projections.payroll import STANDARD_COLUMNS, load_layout
from projections.service import Reports
from tests.builders import (
    PLAN_TOML,
    ROOT,
    calculate_period,
    enrol,
    jsonl,
    line,
    pay_period,
    sale,
    seeded,
)

LAYOUT = load_layout((ROOT / "samples" / "payroll-layout.toml").read_text(encoding="utf-8"))


@pytest.fixture
def paid(ledger: Ledger) -> tuple[Reports, str]:
    """The demo: its Q3 run approved and paid."""
    return Reports(ledger), run_demo(ledger).run_id


def _sheet(data: bytes) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    try:
        return list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()


def _money(value: object) -> Decimal:
    assert isinstance(value, int | float), value
    return Decimal(repr(value)).quantize(Decimal("0.01"))


def _recorded(reports: Reports, run_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = reports.run(run_id)["statements"]
    return statements


class TestXlsxExport:
    def test_opens_and_sums_equal_the_run(self, paid: tuple[Reports, str]) -> None:
        """The SPEC §5 columns as a workbook: one row per rep, the CSV's header,
        totals and payables summing to the run's (33100 + 1800 + 20450)."""
        reports, run_id = paid
        rows = _sheet(reports.export_file(run_id, "xlsx"))
        header, body = rows[0], rows[1:]
        assert header == STANDARD_COLUMNS
        assert header == tuple(reports.export_csv(run_id).splitlines()[0].split(","))
        recorded = _recorded(reports, run_id)
        assert len(body) == len(recorded) == 3
        payable = header.index("payable")
        assert sum(_money(r[payable]) for r in body) == sum(Decimal(s["payable"]) for s in recorded)
        assert sum(_money(r[payable]) for r in body) == Decimal("55350.00")
        assert {r[header.index("rep_id")] for r in body} == {"rep-li", "rep-chen", "rep-wang"}

    def test_two_exports_are_identical_bytes(self, paid: tuple[Reports, str]) -> None:
        """Reproducible: same run, same bytes — with and without a layout; the
        zip entries carry a fixed date and the document the run's recorded time."""
        reports, run_id = paid
        first = reports.export_file(run_id, "xlsx")
        assert reports.export_file(run_id, "xlsx") == first
        assert reports.export_file(run_id, "xlsx", LAYOUT) == reports.export_file(
            run_id, "xlsx", LAYOUT
        )
        with zipfile.ZipFile(io.BytesIO(first)) as archive:
            assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            core = archive.read("docProps/core.xml").decode()
        recorded_at = reports.export_rows(run_id).recorded_at  # the run's PayoutCalculated
        assert f">{recorded_at[:19]}Z<" in core

    def test_the_standard_csv_is_the_spec_export(self, paid: tuple[Reports, str]) -> None:
        """`--format csv` without a layout is today's SPEC §5 export, byte for byte."""
        reports, run_id = paid
        assert reports.export_file(run_id, "csv") == reports.export_csv(run_id).encode()


class TestPayrollLayout:
    def test_rows_per_line_sum_to_each_payable(self, paid: tuple[Reports, str]) -> None:
        """Each rep's rows (one per non-zero line, earning code by kind) sum to its
        payable, and all rows to the run's; Chen's fine is a negative D210 row."""
        reports, run_id = paid
        rows = _sheet(reports.export_file(run_id, "xlsx", LAYOUT))
        header, body = rows[0], rows[1:]
        assert header == (
            "Employee Number",
            "Earning Code",
            "Amount",
            "Currency",
            "Pay Period",
            "Reference",
            "Ledger Chain Head",
            "Company",
        )
        by_employee: dict[str, Decimal] = defaultdict(Decimal)
        for row in body:
            by_employee[str(row[0])] += _money(row[2])
        recorded = {s["rep_id"]: Decimal(s["payable"]) for s in _recorded(reports, run_id)}
        assert dict(by_employee) == {
            LAYOUT.employees[rep]: payable for rep, payable in recorded.items()
        }
        assert ("100232", "D210", -3200) in {(r[0], r[1], r[2]) for r in body}
        assert {r[6] for r in body} == {_head(reports, run_id)}
        assert {(r[3], r[4], r[5], r[7]) for r in body} == {("CNY", "2026-Q3", run_id, "EAST-CN")}

    def test_csv_layout_matches_the_workbook(self, paid: tuple[Reports, str]) -> None:
        reports, run_id = paid
        text = reports.export_file(run_id, "csv", LAYOUT).decode()
        lines = text.splitlines()
        workbook = _sheet(reports.export_file(run_id, "xlsx", LAYOUT))
        assert len(lines) == len(workbook)
        assert "100232,D210,-3200.00,CNY,2026-Q3" in text

    def test_rows_per_rep(self, paid: tuple[Reports, str]) -> None:
        reports, run_id = paid
        layout = LAYOUT.model_copy(update={"rows": "reps"})
        text = reports.export_file(run_id, "csv", layout).decode()
        assert text.splitlines()[1:] == [
            f"{emp},E100,{amount},CNY,2026-Q3,{run_id},{_head(reports, run_id)},EAST-CN"
            for emp, amount in (
                ("100232", "1800.00"),
                ("100231", "33100.00"),
                ("100233", "20450.00"),
            )
        ]

    def test_missing_employee_or_code_refused_naming_it(self, paid: tuple[Reports, str]) -> None:
        reports, run_id = paid
        no_wang = LAYOUT.model_copy(
            update={"employees": {k: v for k, v in LAYOUT.employees.items() if k != "rep-wang"}}
        )
        with pytest.raises(InvalidInputError, match="no employee number for rep rep-wang"):
            reports.export_file(run_id, "xlsx", no_wang)
        no_fine = LAYOUT.model_copy(
            update={"earning_codes": {k: v for k, v in LAYOUT.earning_codes.items() if k != "fine"}}
        )
        with pytest.raises(InvalidInputError, match="no code for line kind fine"):
            reports.export_file(run_id, "csv", no_fine)

    def test_unapproved_run_is_not_a_payroll_file(self, paid: tuple[Reports, str]) -> None:
        """A calculated run (not yet approved) exports for review, never for payroll."""
        reports, _ = paid
        reports.ledger.import_lines(
            jsonl(sale("S-Q4-1", "rep-chen", "10000.00", at="2026-10-20T10:00:00+08:00")),
            actor="crm-sync",
        )
        run_id = calculate_period(reports, "2026-Q4")
        assert reports.export_file(run_id, "xlsx")  # the review copy
        with pytest.raises(InvalidInputError, match="is calculated: a payroll file"):
            reports.export_file(run_id, "xlsx", LAYOUT)


def _run_paying(ledger: Ledger, name: str) -> tuple[Reports, str]:
    """A Q3 run, calculated, paying a rep named ``name`` (rep-x) for a sale."""
    seeded(ledger)
    ledger.import_lines(
        jsonl(
            line(
                "RepEnrolled",
                at="2026-06-20T09:00:00+08:00",
                rep_id="rep-x",
                name=name,
                plan_id="field-sales",
            ),
            sale("S-X", "rep-x", at="2026-07-20T10:00:00+08:00"),
        ),
        actor="hr-sync",
    )
    reports = Reports(ledger)
    return reports, calculate_period(reports, "2026-Q3")


def _head(reports: Reports, run_id: str) -> str:
    """The link of the run's own event: what an export anchors."""
    (event,) = [
        r
        for r in reports.ledger.iter_log()
        if r.type == "PayoutCalculated" and r.data["run_id"] == run_id
    ]
    return f"{event.position}:{event.hash}"


class TestCsvEncodings:
    def test_the_same_text_in_the_encoding_asked_for(self, ledger: Ledger) -> None:
        """Excel shows a CSV without a byte-order mark in the system's code
        page, a rep named 李伟 garbled: ``utf-8-sig`` writes Excel's "CSV
        UTF-8" (the mark, then the same bytes) and ``gb18030`` the code page
        of Chinese Windows; the default bytes are UTF-8 without a mark, as
        payroll systems read them, and as they were."""
        reports, run_id = _run_paying(ledger, "李伟")
        plain = reports.export_file(run_id, "csv")
        assert plain == reports.export_csv(run_id).encode("utf-8")
        assert not plain.startswith(codecs.BOM_UTF8)
        assert ",李伟," in plain.decode("utf-8")
        marked = reports.export_file(run_id, "csv", encoding="utf-8-sig")
        assert marked == codecs.BOM_UTF8 + plain
        chinese = reports.export_file(run_id, "csv", encoding="gb18030")
        assert "李伟".encode("gb18030") in chinese
        assert chinese.decode("gb18030") == plain.decode("utf-8")


class TestCellsAreNeverFormulas:
    def test_text_starting_with_equals_stays_text(self, ledger: Ledger) -> None:
        """A rep named "=HYPERLINK(...)" is text in the workbook and quoted in the CSV."""
        reports, run_id = _run_paying(ledger, '=HYPERLINK("http://evil","pay")')
        data = reports.export_file(run_id, "xlsx")
        book = load_workbook(io.BytesIO(data))
        sheet = book.worksheets[0]
        name = sheet.cell(2, STANDARD_COLUMNS.index("rep_name") + 1)
        assert (name.value, name.data_type) == ('=HYPERLINK("http://evil","pay")', "s")
        assert "'=HYPERLINK" in reports.export_file(run_id, "csv").decode()

    @pytest.mark.parametrize(
        "name",
        [
            ' =HYPERLINK("http://evil","pay")',
            '\u3000=HYPERLINK("http://evil","pay")',
            '\uff1dHYPERLINK("http://evil","pay")',
            "\uff0b1+1",
            "\uff0d1+1",
            "\uff20SUM(1+1)",
            "\ufe661+1",
        ],
        ids=[
            "space",
            "ideographic-space",
            "fullwidth-equals",
            "fullwidth-plus",
            "fullwidth-minus",
            "fullwidth-at",
            "small-equals",
        ],
    )
    def test_a_formula_behind_spaces_or_in_fullwidth_is_quoted(
        self, ledger: Ledger, name: str
    ) -> None:
        """A name starting with a space then ``=`` (LibreOffice, Google Sheets
        and converters strip it before they look), or with a full-width
        ``＝`` (Excel in an East Asian locale reads it as ``=``), was written
        raw into the CSV: a formula in the finance clerk's spreadsheet. It
        is written after an apostrophe, as ``=`` is; the workbook holds text."""
        reports, run_id = _run_paying(ledger, name)
        rows = list(csv.reader(io.StringIO(reports.export_file(run_id, "csv").decode())))
        names = {row[STANDARD_COLUMNS.index("rep_name")] for row in rows[1:]}
        assert "'" + name in names
        workbook = _sheet(reports.export_file(run_id, "xlsx"))
        assert name in {row[STANDARD_COLUMNS.index("rep_name")] for row in workbook[1:]}


class TestCellsHoldNoControlCharacters:
    def test_a_name_stored_with_control_characters_is_exported_without_them(
        self, ledger: Ledger
    ) -> None:
        """A rep name a ledger took before names were checked — a NUL, an escape
        sequence, a line separator — is written into the CSV with U+FFFD for
        each, as the workbook holds it: a payroll system reads one row per rep,
        all of its name."""
        seeded(ledger)
        name = "Li\x00Wei\x1b[31m\u2028\x85x"
        enrolled = ev.RepEnrolled.model_construct(  # as an earlier version stored it
            type="RepEnrolled",
            occurred_at=datetime.fromisoformat("2026-06-20T09:00:00+08:00"),
            rep_id="rep-x",
            name=name,
            plan_id="field-sales",
        )
        ledger.record([enrolled], actor="hr-sync")
        ledger.import_lines(
            jsonl(sale("S-X", "rep-x", at="2026-07-20T10:00:00+08:00")), actor="crm"
        )
        reports = Reports(ledger)
        run_id = calculate_period(reports, "2026-Q3")
        text = reports.export_file(run_id, "csv").decode()
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", text), repr(text)
        header, row = text.splitlines()
        cells = dict(zip(header.split(","), row.split(","), strict=True))
        assert cells["rep_name"] == "Li\ufffdWei\ufffd[31m\ufffd\ufffdx"
        workbook = _sheet(reports.export_file(run_id, "xlsx"))
        in_workbook = workbook[1][STANDARD_COLUMNS.index("rep_name")]
        assert in_workbook.startswith("Li\ufffdWei\ufffd[31m"), repr(in_workbook)


class TestWorkbooksAreXml:
    def test_a_name_with_a_character_xml_forbids_still_opens(self, ledger: Ledger) -> None:
        """U+FFFE and U+FFFF are no control characters, and a rep's name may
        hold them, but no XML document may: the workbook holding such a name
        was no workbook (Excel and openpyxl refuse to open it), the payroll
        file of the whole run unreadable. Each is U+FFFD, as a control
        character is."""
        reports, run_id = _run_paying(ledger, "Li\uffffWei\ufffe")
        workbook = _sheet(reports.export_file(run_id, "xlsx"))
        names = {row[STANDARD_COLUMNS.index("rep_name")] for row in workbook[1:]}
        assert "Li\ufffdWei\ufffd" in names

    def test_a_layout_header_is_text(self, paid: tuple[Reports, str]) -> None:
        """A payroll system's column named "=Net" (or "+/-") is its header's
        text, as every other text cell is, never a formula."""
        reports, run_id = paid
        columns = [{"header": "=Net", "value": "amount"}, {"header": "+/-", "text": "x"}]
        layout = LAYOUT.model_copy(
            update={"columns": LAYOUT.model_validate({"columns": columns}).columns}
        )
        book = load_workbook(io.BytesIO(reports.export_file(run_id, "xlsx", layout)))
        header = [(c.value, c.data_type) for c in book.worksheets[0][1]]
        assert header == [("=Net", "s"), ("+/-", "s")]

    def test_a_layout_header_is_never_a_formula_in_the_csv(self, paid: tuple[Reports, str]) -> None:
        """The CSV's cells were guarded against spreadsheet formula injection
        (OWASP "CSV injection"), its header not: a layout's column named
        "=HYPERLINK(...)" (headers are written by admins, read by whoever
        opens the file) was written raw, a formula in Excel. Each header
        starting with ``=``, ``+``, ``-``, ``@``, a tab or a CR is written
        as a cell is: quoted with a leading apostrophe, a CR as a line feed."""
        reports, run_id = paid
        given = ['=HYPERLINK("http://evil","pay")', "+Net", "-Net", "@Net", "\tNet", "\rNet"]
        columns = [{"header": h, "text": "x"} for h in given[1:]]
        columns.insert(0, {"header": given[0], "value": "amount"})
        layout = LAYOUT.model_copy(
            update={"columns": LAYOUT.model_validate({"columns": columns}).columns}
        )
        text = reports.export_file(run_id, "csv", layout).decode()
        header = next(csv.reader(io.StringIO(text)))
        assert header == ["'" + h.replace("\r", "\n") for h in given]
        assert header[0] == '\'=HYPERLINK("http://evil","pay")'


def _formats(data: bytes, column: str) -> dict[str, str]:
    """Each rep's number format of ``column`` in a workbook (its first row per rep)."""
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    header = [c.value for c in sheet[1]]
    at, rep = header.index(column) + 1, header.index("rep_id") + 1
    found: dict[str, str] = {}
    for row in range(2, sheet.max_row + 1):
        found.setdefault(str(sheet.cell(row, rep).value), sheet.cell(row, at).number_format)
    return found


class TestMoneyShowsItsCurrencysDecimals:
    def test_each_amount_is_shown_with_its_currencys_minor_units(self, ledger: Ledger) -> None:
        """Every amount showed two decimals: a KWD amount of 1.505 as 1.51 (and
        a clerk saving the sheet as CSV saved that), a whole JPY amount with
        ".00". Each shows its currency's decimals (ISO 4217: KWD three, JPY
        none), or more where the amount has more (a JPY line of 50.05, 5 % of
        1001, is never shown as 50); the CSV, decimal text, is unchanged."""
        for currency in ("KWD", "JPY"):
            plan = PLAN_TOML.replace('id = "field-sales"', f'id = "sales-{currency.lower()}"')
            plan = plan.replace('currency = "CNY"', f'currency = "{currency}"')
            ledger.publish_plan(load_plan(plan, "toml"), actor="admin")
        reps = {"rep-k": ("KWD", "1000.105"), "rep-j": ("JPY", "1000"), "rep-y": ("JPY", "1001")}
        ledger.import_lines(
            jsonl(
                *(enrol(r, plan_id=f"sales-{c.lower()}") for r, (c, _) in reps.items()),
                *(
                    line("SaleRecorded", sale_id=f"S-{r}", rep_id=r, amount=a, currency=c)
                    for r, (c, a) in reps.items()
                ),
            ),
            actor="crm-sync",
        )
        reports = Reports(ledger)
        run_id = pay_period(reports, "2026-Q3")
        data = reports.export_file(run_id, "xlsx")
        shown = {"rep-k": "#,##0.000", "rep-j": "#,##0", "rep-y": "#,##0.00"}
        assert _formats(data, "total") == _formats(data, "payable") == shown
        assert reports.export_file(run_id, "xlsx") == data
        only_amounts = load_layout(
            'columns = [{ header = "rep_id", value = "rep_id" },'
            ' { header = "Amount", value = "amount" }, { header = "Cur", value = "currency" }]'
        )
        assert _formats(reports.export_file(run_id, "xlsx", only_amounts), "Amount") == shown
        payable = {
            row.split(",")[2]: row.split(",")[6]
            for row in reports.export_csv(run_id).splitlines()[1:]
        }
        assert payable == {"rep-k": "50.01", "rep-j": "50.00", "rep-y": "50.05"}


class TestAPayrollFileOfSeveralCurrencies:
    def test_a_layout_without_a_currency_column_is_refused(self, ledger: Ledger) -> None:
        """A run paying reps in CNY and in JPY, exported in a layout with no
        currency column, gave a payroll file of bare amounts — 100 JPY and
        100 CNY alike "100" — for the payroll system to pay in its own
        currency. Refused, naming the currencies and the layout's columns;
        with a currency column it exports, as a one-currency run does without."""
        seeded(ledger)
        plan = PLAN_TOML.replace('id = "field-sales"', 'id = "sales-jpy"')
        ledger.publish_plan(load_plan(plan.replace('"CNY"', '"JPY"'), "toml"), actor="admin")
        ledger.import_lines(
            jsonl(
                enrol("rep-c"),
                enrol("rep-j", plan_id="sales-jpy"),
                sale("S-C", "rep-c", "2000.00"),
                line("SaleRecorded", sale_id="S-J", rep_id="rep-j", amount="2000", currency="JPY"),
            ),
            actor="crm-sync",
        )
        reports = Reports(ledger)
        run_id = pay_period(reports, "2026-Q3")
        columns = '{ header = "rep", value = "rep_id" }, { header = "Amount", value = "amount" }'
        bare = load_layout(f"columns = [{columns}]")
        formats: tuple[Literal["csv", "xlsx"], ...] = ("csv", "xlsx")
        for fmt in formats:
            with pytest.raises(
                InvalidInputError, match="pays in CNY, JPY, and the layout"
            ) as caught:
                reports.export_file(run_id, fmt, bare)
            assert caught.value.field == "layout.columns"
        said = load_layout(f'columns = [{columns}, {{ header = "Currency", value = "currency" }}]')
        text = reports.export_file(run_id, "csv", said).decode()
        assert text.splitlines()[1:] == ["rep-c,100.00,CNY", "rep-j,100.00,JPY"]


@pytest.mark.parametrize("sheet", ["Pay:roll", "x" * 32, ""])
def test_a_sheet_name_excel_refuses_is_a_layout_error(sheet: str) -> None:
    """Refused when the layout is read, naming the key (never a failed export)."""
    from projections.payroll import LayoutError

    with pytest.raises(LayoutError, match=r"^layout: sheet: "):
        load_layout(f'sheet = "{sheet}"\ncolumns = [{{ header = "A", value = "amount" }}]')
