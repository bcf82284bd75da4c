"""CRM exports: the mapping schema, the readers (encodings, xlsx cells) and the
conversion of rows into import lines — no store needed."""

from __future__ import annotations

import codecs
import io
import random
import re
import tracemalloc
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from ledger.crm import (
    CrmRejectedError,
    MappingError,
    ReadError,
    RowError,
    load_mapping,
    prepare,
    readers,
    spill,
)
from ledger.crm import _named as rows_named
from ledger.crm.convert import Converted, Footer, Line, convert, convert_rows
from ledger.crm.readers import column_letter, decode, open_export, read_table
from ledger.crm.spill import Spill
from ledger.errors import LineError, given_twice
from tests.builders import with_cells, with_sheets_edited

TOP = """
name = "test"
timezone = "+08:00"
"""
TABLES = """
[owners]
"李伟" = "rep-li"
"Chen Jing" = "rep-chen"
[sale]
id = "ID"
date = "Date"
amount = "Amount"
currency = { value = "CNY" }
owner = "Owner"
"""
BASE = TOP + TABLES
SPLITS = BASE + 'split_owner = "Split"\nsplit_percent = "Pct"\n'


def _csv(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "x.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _refused(tmp_path: Path, text: str, mapping: str) -> list[RowError]:
    """The errors a CSV of ``text`` is refused with under ``mapping``."""
    with pytest.raises(CrmRejectedError) as caught:
        prepare(_csv(tmp_path, text), load_mapping(mapping))
    return list(caught.value.errors)


def _lines(path: Path, mapping: str) -> list[dict[str, object]]:
    _, converted = prepare(path, load_mapping(mapping))
    return [line.data for line in converted.lines]


class TestEncodings:
    CHINESE = "ID,Date,Amount,Owner\nS-1,2026-10-12,100.00,李伟\n"
    # a Western Windows export: its bytes decode as GB18030 too, to other letters
    GERMAN = "ID,Date,Amount,Owner\nS-1,2026-10-12,100.00,Jürgen Müller\n"

    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            (CHINESE.encode("utf-8"), "utf-8"),
            (b"\xef\xbb\xbf" + CHINESE.encode("utf-8"), "utf-8-sig"),
            (CHINESE.encode("utf-16"), "utf-16"),
        ],
    )
    def test_detected(self, data: bytes, expected: str) -> None:
        """UTF-8, UTF-8 with BOM (Excel's CSV UTF-8) and UTF-16 with BOM are
        each read to the same text, without the BOM."""
        text, used = decode(data, None)
        assert (text, used) == (self.CHINESE, expected)

    @pytest.mark.parametrize(("text", "encoding"), [(CHINESE, "gb18030"), (GERMAN, "cp1252")])
    def test_not_utf8_needs_its_encoding_named(self, text: str, encoding: str) -> None:
        """A file that is not UTF-8 is refused, never guessed: a Windows-1252
        file was read as GB18030 (``Jürgen`` as ``J黵gen``) and stored for good.
        The refusal names the option and the likely encodings; named, it reads."""
        data = text.encode(encoding)
        with pytest.raises(ReadError) as caught:
            decode(data, None)
        message = str(caught.value)
        assert message.startswith("line 2: the file is not UTF-8")
        assert "--encoding" in message
        assert "gb18030" in message
        assert "cp1252" in message
        assert decode(data, encoding) == (text, encoding)

    def test_a_byte_order_mark_wins_over_the_encoding_given(self) -> None:
        """A GB18030 mapping's export saved again as Excel's CSV UTF-8 (with a
        BOM) is read as UTF-8: the mark is the file saying what it is."""
        data = b"\xef\xbb\xbf" + self.CHINESE.encode("utf-8")
        assert decode(data, "gb18030") == (self.CHINESE, "utf-8-sig")

    def test_given_encoding_wins_and_bad_bytes_name_the_line(self) -> None:
        """--encoding is used as given; a byte it cannot decode names its line."""
        data = self.CHINESE.encode("gb18030")
        assert decode(data, "GB18030")[0] == self.CHINESE
        with pytest.raises(ReadError, match=r"^line 2: byte \d+ is not valid utf-8"):
            decode(data, "utf-8")
        with pytest.raises(ReadError, match="unknown encoding 'klingon'"):
            decode(data, "klingon")
        with pytest.raises(ReadError, match="'base64' is not a text encoding"):
            decode(data, "base64")

    @pytest.mark.parametrize(
        "encoding", ["idna", "unicode_escape", "raw_unicode_escape", "punycode", "undefined"]
    )
    def test_an_encoding_no_file_is_written_in_is_refused(self, encoding: str) -> None:
        """idna took no error handler: a UnicodeError traceback; unicode_escape
        read the bytes "10\\x30" as the amount 100; punycode and its kin
        decode text into other text."""
        data = b'ID,Date,Amount,Owner\nS-1,2026-10-12,"10\\x30",Li\n'
        with pytest.raises(ReadError, match=f"^encoding: '{encoding}' is no"):
            decode(data, encoding)

    def test_the_mappings_encoding_reads_what_is_not_utf8(self) -> None:
        """A mapping's encoding (the Fxiaoke sample's gb18030) was forced on a
        UTF-8 export of that CRM, which was then refused as bad gb18030 bytes
        "of the --encoding" no one gave. It reads what is not UTF-8; a byte it
        cannot decode either names the mapping's setting."""
        utf8 = self.CHINESE.encode("utf-8")
        assert decode(utf8, None, otherwise="gb18030") == (self.CHINESE, "utf-8")
        gbk = self.CHINESE.encode("gb18030")
        assert decode(gbk, None, otherwise="gb18030") == (self.CHINESE, "gb18030")
        with pytest.raises(ReadError, match="is the mapping's encoding right"):
            decode(gbk, None, otherwise="ascii")

    def test_a_bom_file_read_with_utf8_drops_the_bom(self) -> None:
        data = b"\xef\xbb\xbf" + self.CHINESE.encode("utf-8")
        assert decode(data, "utf-8") == (self.CHINESE, "utf-8-sig")

    def test_gb18030_sale_becomes_a_line(self, tmp_path: Path) -> None:
        """The mapping's encoding names it (as the Fxiaoke sample's does)."""
        path = _csv(tmp_path, self.CHINESE, "gb18030")
        assert _lines(path, 'encoding = "gb18030"\n' + BASE) == [
            {
                "type": "SaleRecorded",
                "occurred_at": "2026-10-12T00:00:00+08:00",
                "sale_id": "S-1",
                "rep_id": "rep-li",
                "amount": "100.00",
                "currency": "CNY",
            }
        ]


def _whole_decode(data: bytes, encoding: str | None, otherwise: str | None) -> tuple[str, str]:
    """`decode`'s rules applied to the whole text at once — how the reader
    worked before it read a block at a time — for the streamed one to match."""
    boms = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"))
    boms += ((codecs.BOM_UTF16_BE, "utf-16"),)

    def whole(name: str, by: str) -> str:
        try:
            return data.decode(name)
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise ReadError(
                f"line {line}: byte {exc.start} is not valid {name} ({exc.reason}); is {by} right?"
            ) from None

    for bom, name in boms:
        if data.startswith(bom):
            return whole(name, "--encoding"), name
    if encoding is not None:
        return whole(codecs.lookup(encoding).name, "--encoding"), codecs.lookup(encoding).name
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if otherwise is not None:
            name = codecs.lookup(otherwise).name
            return whole(name, "the mapping's encoding"), name
        line = data[: exc.start].count(b"\n") + 1
        raise ReadError(f"line {line}: the file is not UTF-8 (byte {exc.start})") from None


_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32", "gb18030", "cp1252")


@st.composite
def _export_bytes(draw: st.DrawFn) -> bytes:
    """An export's bytes in some encoding, a few of them perhaps spoiled or cut."""
    text = draw(st.text(alphabet="ab,\n\r 李伟Jürgen€", max_size=40))
    data = bytearray(text.encode(draw(st.sampled_from(_ENCODINGS)), errors="replace"))
    for _ in range(draw(st.integers(0, 3))):
        if data:
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.sampled_from([0x0A, 0xEF, 0xBB, 0xFF, 0xFE, 0x80, 0xC3, 0x00]))
    if data and draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


class TestStreamedReading:
    @settings(max_examples=400, deadline=None)
    @given(
        _export_bytes(),
        st.sampled_from([None, "utf-8", "utf-16", "gb18030", "ascii", "utf-8-sig"]),
        st.sampled_from([None, "gb18030", "ascii"]),
        st.integers(1, 7),
    )
    def test_read_a_block_at_a_time_as_when_read_whole(
        self, data: bytes, encoding: str | None, otherwise: str | None, block: int
    ) -> None:
        """A file is decoded a block at a time (never held whole): the text and
        encoding, or the refusal — its line, byte offset and reason — are the
        ones the whole file decoded at once gives, wherever a block ends (in a
        character, a byte-order mark, a line)."""
        try:
            expected: object = _whole_decode(data, encoding, otherwise)
        except ReadError as exc:
            expected = str(exc)
        with mock.patch.object(readers, "_BLOCK", block):
            try:
                got: object = decode(data, encoding, otherwise=otherwise)
            except ReadError as exc:
                got = str(exc)
        if isinstance(expected, str) and "is not UTF-8" in expected:
            assert isinstance(got, str)
            assert got.startswith(expected)
        else:
            assert got == expected

    def test_rows_are_read_as_they_are_asked_for(self, tmp_path: Path) -> None:
        """Opening an export reads its header, not its rows: a record that is not
        CSV further on is met — and named — when the rows reach it."""
        path = _csv(tmp_path, 'ID,Date,Amount,Owner\nS-1,2026-10-12,1,李伟\n"S-2,2026-10-12\n')
        with closing(open_export(path)) as export:
            assert export.header == ("ID", "Date", "Amount", "Owner")
            assert isinstance(export.rows, Iterator)
            first = next(export.rows)
            assert (first.number, first.cells[0]) == (2, "S-1")
            with pytest.raises(ReadError, match=r"^row 3: not CSV"):
                next(export.rows)

    def test_a_sale_whose_rows_lie_apart_is_one_sale_in_its_place(self, tmp_path: Path) -> None:
        """A split report sorted by anything but the deal: a sale's rows far
        apart are one sale, placed where its first row is; bad rows are named in
        the order of the rows, whichever pass found them."""
        path = _csv(
            tmp_path,
            "ID,Date,Amount,Owner,Split,Pct\n"
            "S-9,2026-10-12,10,李伟,李伟,60%\n"
            "S-1,2026-10-12,20,Chen Jing,,\n"
            "S-9,2026-10-12,10,李伟,Chen Jing,40%\n",
        )
        first, second = _lines(path, SPLITS)
        assert (first["sale_id"], second["sale_id"]) == ("S-9", "S-1")
        assert first["splits"] == [
            {"rep_id": "rep-li", "share": "0.6"},
            {"rep_id": "rep-chen", "share": "0.4"},
        ]
        assert "splits" not in second
        errors = _refused(
            tmp_path,
            "ID,Date,Amount,Owner,Split,Pct\n"
            "S-9,2026-10-12,10,李伟,李伟,60%\n"
            "S-1,2026-10-12,20,Nobody,,\n"
            "S-9,2026-10-12,11,李伟,Chen Jing,40%\n",
            SPLITS,
        )
        assert [(e.rows, e.column.name if e.column else None) for e in errors] == [
            ((3,), "Owner"),
            ((4,), "Amount"),
        ]

    def test_an_xlsx_sheet_that_misstates_its_size_is_read_whole(self, tmp_path: Path) -> None:
        """A sheet is read a row at a time (read-only): the size its writer
        declared (here "A1", a writer's slip) would cut it short; every row is read."""
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["ID", "Date", "Amount", "Owner"])
        sheet.append(["S-1", "2026-10-12", "10", "李伟"])
        sheet.append([])
        sheet.append(["S-2", "2026-10-12", "20", "Chen Jing"])
        written = tmp_path / "written.xlsx"
        book.save(written)

        def misstated(data: bytes) -> bytes:
            data = data.replace(b'<dimension ref="A1:D4" />', b'<dimension ref="A1" />')
            assert b'<dimension ref="A1" />' in data
            return data

        path = with_sheets_edited(written, tmp_path / "x.xlsx", misstated)
        assert [x["sale_id"] for x in _lines(path, BASE)] == ["S-1", "S-2"]


def _convert_peak(path: Path, mapping: str) -> tuple[int, int]:
    """The lines of the export at ``path`` converted and read back as the import
    reads them, and the most memory Python held for it meanwhile (bytes)."""
    rules = load_mapping(mapping)
    tracemalloc.start()
    try:
        with closing(Spill()) as kept, closing(open_export(path)) as export:
            conversion = convert_rows(export, export.rows, rules, kept)
            assert conversion.errors == []
            lines = sum(1 for _ in conversion.texts())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines, peak


def _split_report(path: Path, sales: int) -> Path:
    """``sales`` sales of two split rows each, a sale's second row in the second
    half of the file: the farthest apart a sale's rows can be."""
    with path.open("w", encoding="utf-8") as out:
        out.write("ID,Date,Amount,Owner,Split,Pct,Note\n")
        for half, (who, percent) in enumerate((("李伟", "60%"), ("Chen Jing", "40%"))):
            for i in range(sales):
                out.write(f"S-{i:06d},2026-10-12,1000.00,李伟,{who},{percent},row {half} of {i}\n")
    return path


def test_converting_takes_no_more_memory_for_more_rows(tmp_path: Path) -> None:
    """A large CRM export is converted in bounded memory: rows are read as they
    come, a sale's rows (anywhere in the file) wait on disk, and the lines are
    read back from there. Five times the rows take about the same memory, ~100
    kB (it grew with them: ~28 MiB for 10,000 rows held whole, ~6 for 2,000)."""
    # both files many times the blocks the file is decoded in and the rows
    # written to disk at once, so that what is left is what grows with the rows
    with mock.patch.object(spill, "_BATCH", 100), mock.patch.object(readers, "_BLOCK", 4096):
        small_file = _split_report(tmp_path / "small.csv", 1_000)
        _convert_peak(small_file, SPLITS)  # the first time imports modules and fills caches
        small, small_peak = _convert_peak(small_file, SPLITS)
        large, large_peak = _convert_peak(_split_report(tmp_path / "large.csv", 5_000), SPLITS)
    assert (small, large) == (1_000, 5_000)
    assert large_peak < 2 * small_peak, (small_peak, large_peak)
    assert large_peak < 2**20, large_peak


class TestXlsxCells:
    def test_numbers_percent_and_dates_read_as_typed(self, tmp_path: Path) -> None:
        """A number keeps its shortest form (1234.565 stays 1234.565, which the
        ledger then refuses for CNY: never silently rounded), a percent cell is
        percent, a date cell is ISO without an offset (the mapping's applies)."""
        from datetime import datetime

        # naive on purpose: spreadsheet cells hold no offset
        def at(*parts: int) -> datetime:
            return datetime(*parts)  # noqa: DTZ001

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["ID", "Date", "Amount", "Owner", "Split", "Pct"])
        sheet.append(["S-1", at(2026, 10, 9, 14, 30), 65000.5, "李伟", "李伟", 0.6])
        sheet.append(["S-1", at(2026, 10, 9, 14, 30), 65000.5, "李伟", "Chen Jing", 0.4])
        sheet.append(["S-2", at(2026, 10, 9), 1234.565, "Chen Jing", None, None])
        for row in (2, 3):
            sheet.cell(row, 6).number_format = "0%"
        path = tmp_path / "x.xlsx"
        book.save(path)
        assert _lines(path, SPLITS) == [
            {
                "type": "SaleRecorded",
                "occurred_at": "2026-10-09T14:30:00+08:00",
                "sale_id": "S-1",
                "rep_id": "rep-li",
                "amount": "65000.5",
                "currency": "CNY",
                "splits": [
                    {"rep_id": "rep-li", "share": "0.6"},
                    {"rep_id": "rep-chen", "share": "0.4"},
                ],
            },
            {
                "type": "SaleRecorded",
                "occurred_at": "2026-10-09T00:00:00+08:00",
                "sale_id": "S-2",
                "rep_id": "rep-chen",
                "amount": "1234.565",
                "currency": "CNY",
            },
        ]

    # a product line with a default: an empty cell is "software"
    DEFAULTED = BASE + 'category = { column = "Product", default = "software" }\n'

    def _formulas(self, tmp_path: Path) -> Path:
        """Three sales written by openpyxl, as a script writes them, so holding
        formulas without their values: S-1's amount, S-2's product line (a
        field with a default), and a row of nothing but formulas."""
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["ID", "Date", "Amount", "Owner", "Product"])
        sheet.append(["S-1", "2026-10-12", "=100+20", "李伟", "Hardware"])
        sheet.append(["S-2", "2026-10-12", "30", "李伟", '=IF(C3>100,"Hardware","")'])
        sheet.append(['="S-"&3', "=B3", "=C3*2", "=D3", '="Software"'])
        path = tmp_path / "formulas.xlsx"
        book.save(path)
        return path

    def test_a_formula_never_computed_is_refused_naming_its_cell(self, tmp_path: Path) -> None:
        """Such a cell was read as empty: the amount refused as "the cell is
        empty" (it is not), the product line silently its default, the row of
        formulas skipped as blank. Each is refused, by row and column, saying
        how to have the values computed."""
        with pytest.raises(CrmRejectedError) as caught:
            prepare(self._formulas(tmp_path), load_mapping(self.DEFAULTED))
        errors = caught.value.errors
        assert [(e.rows, e.column.name if e.column else None) for e in errors] == [
            ((2,), "Amount"),
            ((3,), "Product"),
            ((4,), "ID"),
        ]
        assert str(errors[0]).startswith(
            'row 2, column "Amount" (C): sale.amount: the cell holds a formula whose value '
            "was never computed"
        )
        assert all("save it" in e.reason and "export the values" in e.reason for e in errors)

    def test_a_formula_with_its_value_reads_the_value(self, tmp_path: Path) -> None:
        """A workbook a spreadsheet application saved holds each formula's
        value beside it: the value is read, as before — one computed to ""
        (which Excel writes as empty text) as an empty cell, its default."""
        text = '<c r="{}" t="str"><f>{}</f><v>{}</v></c>'
        computed = {
            "C2": '<c r="C2"><f>100+20</f><v>120</v></c>',
            "E3": text.format("E3", "IF(C3&gt;100,&quot;Hardware&quot;,&quot;&quot;)", ""),
            "A4": text.format("A4", "&quot;S-&quot;&amp;3", "S-3"),
            "B4": text.format("B4", "B3", "2026-10-12"),
            "C4": '<c r="C4"><f>C3*2</f><v>60</v></c>',
            "D4": text.format("D4", "D3", "李伟"),
            "E4": text.format("E4", "&quot;Software&quot;", "Software"),
        }
        saved = tmp_path / "saved.xlsx"
        path = with_cells(self._formulas(tmp_path), saved, computed, computed=True)
        lines = _lines(path, self.DEFAULTED)
        assert [(x["sale_id"], x["amount"], x["category"]) for x in lines] == [
            ("S-1", "120", "Hardware"),
            ("S-2", "30", "software"),
            ("S-3", "60", "Software"),
        ]

    @pytest.mark.parametrize("spaces", range(56, 62))
    @pytest.mark.parametrize("tag", [b"<f>1+1</f>", b'<x:f t="shared" si="0"/>'])
    def test_a_formula_cut_by_a_blocks_end_is_found(self, spaces: int, tag: bytes) -> None:
        """A sheet is read twice only when its XML holds a formula, looked for
        as it is inflated a block at a time: a tag a block's end cuts is found
        (here blocks of 64 bytes, the tag from byte 59 to 64)."""
        xml = b"<p>" + b" " * spaces + tag
        with mock.patch.object(readers, "_MAX_XML_RUN", 64):
            assert readers._bounded_runs(Path("x.xlsx"), "sheet", io.BytesIO(xml))
            plain = b"<p>" + b" " * spaces + b"<v>f</v><fill/>"
            assert not readers._bounded_runs(Path("x.xlsx"), "sheet", io.BytesIO(plain))

    def test_missing_sheet_named(self, tmp_path: Path) -> None:
        book = Workbook()
        path = tmp_path / "x.xlsx"
        book.save(path)
        with pytest.raises(ReadError, match="no sheet 'Deals'"):
            read_table(path, sheet="Deals")

    def test_not_a_workbook(self, tmp_path: Path) -> None:
        path = tmp_path / "x.xlsx"
        path.write_text("ID,Date\n", encoding="utf-8")
        with pytest.raises(ReadError, match="not an xlsx workbook"):
            read_table(path)


def _book(tmp_path: Path, *rows: Sequence[object], name: str = "x.xlsx") -> tuple[Path, Workbook]:
    """A workbook of ``rows`` (ID, Date, Amount, Owner, Product), saved by
    `_save` once the test has shaped it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["ID", "Date", "Amount", "Owner", "Product"])
    for row in rows:
        sheet.append(row)
    return tmp_path / name, book


def _save(path: Path, book: Workbook) -> Path:
    book.save(path)
    return path


def _named(path: Path, mapping: str) -> list[tuple[tuple[int, ...], str | None, str]]:
    """The rows, columns and reasons ``path`` is refused with under ``mapping``."""
    with pytest.raises(CrmRejectedError) as caught:
        prepare(path, load_mapping(mapping))
    return [(e.rows, e.column.name if e.column else None, e.reason) for e in caught.value.errors]


class TestXlsxLayout:
    """What a spreadsheet shows otherwise than its cells hold is refused by
    row and column, or read as the user sees it — never read silently."""

    DEFAULTED = BASE + 'category = { column = "Product", default = "software" }\n'
    S1 = ("S-1", "2026-10-12", 100, "李伟", "hardware")
    S2 = ("S-2", "2026-10-12", 200, "Chen Jing", None)

    def test_a_cell_merged_cells_cover_is_refused_naming_the_range(self, tmp_path: Path) -> None:
        """S-2's product line lay under S-1's, merged: read empty, it was
        silently the mapping's default (software, not hardware)."""
        path, book = _book(tmp_path, self.S1, self.S2)
        book.active.merge_cells("E2:E3")  # type: ignore[union-attr]
        [(rows, column, reason)] = _named(_save(path, book), self.DEFAULTED)
        assert (rows, column) == ((3,), "Product")
        assert reason.startswith("sale.category: the cell is one of the merged cells E2:E3")
        assert "unmerge them and fill each cell" in reason

    def test_a_merged_title_above_the_header_is_no_bad_row(self, tmp_path: Path) -> None:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["Q4 closed-won deals"])
        sheet.merge_cells("A1:E1")
        sheet.append(["ID", "Date", "Amount", "Owner", "Product"])
        sheet.append(self.S1)
        path = _save(tmp_path / "x.xlsx", book)
        [line] = _lines(
            path, self.DEFAULTED.replace('name = "test"', 'name = "test"\nheader_row = 2')
        )
        assert (line["sale_id"], line["category"]) == ("S-1", "hardware")

    def test_a_hidden_sheet_is_not_the_export(self, tmp_path: Path) -> None:
        """The first sheet, hidden (a lookup table), was imported as the
        export; without ``sheet`` the first sheet shown is, and a hidden one
        is read only when the mapping names it."""
        path, book = _book(tmp_path, ["X-9", "2026-10-12", 999, "李伟", "x"])
        lookup = book.active
        assert lookup is not None
        lookup.title, lookup.sheet_state = "lookup", "hidden"
        deals = book.create_sheet("Deals")
        deals.append(["ID", "Date", "Amount", "Owner", "Product"])
        deals.append(self.S1)
        _save(path, book)
        assert [x["sale_id"] for x in _lines(path, self.DEFAULTED)] == ["S-1"]
        named = self.DEFAULTED.replace('name = "test"', 'name = "test"\nsheet = "lookup"')
        assert [x["sale_id"] for x in _lines(path, named)] == ["X-9"]

    def test_a_hidden_row_is_refused_unless_the_mapping_ignores_it(self, tmp_path: Path) -> None:
        """A filter hides rows the file still holds: they were imported
        unseen. A hidden row that would be stored is refused; one the mapping
        ignores (the open deals a filter hides) stores nothing, and passes."""
        mapping = TOP + 'kind = "Stage"\n' + TABLES + '[kinds]\nWon = "sale"\nOpen = "ignore"\n'
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["ID", "Date", "Amount", "Owner", "Stage"])
        sheet.append(["S-1", "2026-10-12", 100, "李伟", "Won"])
        sheet.append(["S-2", "2026-10-12", 200, "李伟", "Open"])
        sheet.append(["S-3", "2026-10-12", 300, "李伟", "Won"])
        sheet.auto_filter.ref = "A1:E4"
        sheet.row_dimensions[3].hidden = True
        path = _save(tmp_path / "x.xlsx", book)
        assert [x["sale_id"] for x in _lines(path, mapping)] == ["S-1", "S-3"]
        sheet.row_dimensions[4].hidden = True
        [(rows, column, reason)] = _named(_save(path, book), mapping)
        assert (rows, column) == ((4,), None)
        assert reason.startswith("the row is hidden in the workbook (filtered out")

    @pytest.mark.parametrize(
        ("edit", "row"),
        [
            (((b'<row r="3"', b'<row r="3" ht="0" customHeight="1"'),), 3),
            (((b'<row r="3"', b'<row r="3" customHeight="true" ht="0.0"'),), 3),
            (
                (
                    (b"<sheetFormatPr ", b'<sheetFormatPr zeroHeight="1" '),
                    (b'<row r="1"', b'<row r="1" ht="15" customHeight="1"'),
                    (b'<row r="3"', b'<row r="3" ht="15" customHeight="1"'),
                ),
                2,
            ),
            (
                (
                    (b"<sheetFormatPr ", b'<sheetFormatPr zeroHeight="true" '),
                    (b'<row r="1"', b'<row r="1" hidden="0"'),
                    (b'<row r="2"', b'<row r="2" hidden="false"'),
                ),
                3,
            ),
        ],
        ids=["ht-0", "ht-0.0", "zero-height-sheet", "zero-height-sheet-shown"],
    )
    def test_a_row_of_no_height_is_hidden(
        self, tmp_path: Path, edit: tuple[tuple[bytes, bytes], ...], row: int
    ) -> None:
        """A row dragged shut (height 0), or one given no height in a sheet
        whose rows are hidden unless given one, shows no more than a hidden
        row: it was imported unseen, as a sale."""
        path, book = _book(tmp_path, self.S1, self.S2)

        def shut(data: bytes) -> bytes:
            for old, new in edit:
                assert old in data, old
                data = data.replace(old, new, 1)
            return data

        shown = with_sheets_edited(_save(path, book), tmp_path / "shut.xlsx", shut)
        [(rows, column, reason)] = _named(shown, self.DEFAULTED)
        assert (rows, column) == ((row,), None)
        assert reason.startswith("the row is hidden in the workbook")
        assert "its height set to 0" in reason

    @pytest.mark.parametrize(
        ("cols", "hidden"),
        [
            (b'<col min="3" max="3" hidden="1" width="9" customWidth="1"/>', ["Amount"]),
            (b'<col min="3" max="3" width="0" customWidth="1"/>', ["Amount"]),
            (b'<col min="3" max="3" width="0.0"/>', ["Amount"]),
            (
                b'<col min="2" max="4" hidden="true" outlineLevel="1" collapsed="1"/>',
                ["Date", "Amount", "Owner"],
            ),
        ],
        ids=["hidden", "width-0", "width-0.0", "collapsed-group"],
    )
    def test_a_hidden_column_the_mapping_reads_is_refused_naming_it(
        self, tmp_path: Path, cols: bytes, hidden: list[str]
    ) -> None:
        """Column C (Amount), hidden or dragged shut, was read unseen as the
        amount: it is refused once, at the header, naming the column and the
        key that reads it anyway (``hidden_columns``)."""
        path, book = _book(tmp_path, self.S1, self.S2)

        def hide(data: bytes) -> bytes:
            assert b"<sheetData" in data
            return data.replace(b"<sheetData", b"<cols>" + cols + b"</cols><sheetData", 1)

        shut = with_sheets_edited(_save(path, book), tmp_path / "hidden.xlsx", hide)
        named = _named(shut, BASE)
        assert [(rows, column) for rows, column, _ in named] == [((1,), c) for c in hidden]
        _, _, reason = named[hidden.index("Amount")]
        assert reason.startswith(
            "the mapping's sale.amount reads this column, which is hidden in the workbook"
        )
        assert reason.endswith('hidden_columns = ["Amount"]')
        said = ", ".join(f'"{c}"' for c in hidden)
        read = BASE.replace('name = "test"', f'name = "test"\nhidden_columns = [{said}]')
        assert [x["amount"] for x in _lines(shut, read)] == ["100", "200"]

    @pytest.mark.parametrize(
        ("format_pr", "cols", "hidden"),
        [
            (b'defaultColWidth="0"', b"", ["ID", "Date", "Amount", "Owner"]),
            (b'baseColWidth="0"', b"", ["ID", "Date", "Amount", "Owner"]),
            (b'baseColWidth="8" defaultColWidth="0.0"', b"", ["ID", "Date", "Amount", "Owner"]),
            (
                b'defaultColWidth="0"',
                b'<col min="1" max="2" width="12" customWidth="1"/><col min="4" max="4"/>',
                ["Amount", "Owner"],
            ),
            (
                b'defaultColWidth="0"',
                b'<col min="1" max="4" width="9" customWidth="1"/>',
                [],
            ),
            (b'baseColWidth="0" defaultColWidth="9"', b"", []),
        ],
        ids=[
            "default-0",
            "base-0",
            "default-0.0",
            "sized-some",
            "sized-all",
            "default-overrides-base",
        ],
    )
    def test_a_sheet_default_width_of_0_hides_the_columns_it_does_not_size(
        self, tmp_path: Path, format_pr: bytes, cols: bytes, hidden: list[str]
    ) -> None:
        """A sheet whose default column width is 0 shows only the columns a
        ``<col>`` range gives a width: the others were read unseen (a ``<col>``
        range without a width takes the default, 0, too)."""
        path, book = _book(tmp_path, self.S1, self.S2)

        def narrow(data: bytes) -> bytes:
            old = b'<sheetFormatPr baseColWidth="8" '
            assert old in data
            data = data.replace(old, b"<sheetFormatPr " + format_pr + b" ", 1)
            return re.sub(
                rb"<cols>.*?</cols>|(?=<sheetData)", b"<cols>" + cols + b"</cols>", data, count=1
            )

        shut = with_sheets_edited(_save(path, book), tmp_path / "narrow.xlsx", narrow)
        if not hidden:
            assert [x["amount"] for x in _lines(shut, BASE)] == ["100", "200"]
            return
        named = _named(shut, BASE)
        assert sorted(column or "" for _, column, _ in named) == sorted(hidden)
        assert all(rows == (1,) for rows, _, _ in named)
        said = ", ".join(f'"{c}"' for c in hidden)
        read = BASE.replace('name = "test"', f'name = "test"\nhidden_columns = [{said}]')
        assert [x["amount"] for x in _lines(shut, read)] == ["100", "200"]

    @pytest.mark.parametrize(
        ("header_form", "mapping_form"), [("NFD", "NFC"), ("NFC", "NFD")], ids=["mac", "mapping"]
    )
    def test_hidden_columns_names_a_column_however_its_accents_are_encoded(
        self, tmp_path: Path, header_form: str, mapping_form: str
    ) -> None:
        """``hidden_columns = ["Montant réel"]`` is compared as the header's
        names are: a Mac's header holding "é" as "e" and a combining accent
        (or a mapping written so) was refused as hidden and unnamed, its
        refusal telling the user to add the very name they had added."""
        path, book = _book(tmp_path, self.S1, self.S2)
        sheet = book.active
        assert sheet is not None
        sheet["C1"] = unicodedata.normalize(header_form, "Montant réel")
        sheet.column_dimensions["C"].hidden = True
        said = unicodedata.normalize(mapping_form, "Montant réel")
        assert said != unicodedata.normalize(header_form, "Montant réel")
        mapping = BASE.replace('amount = "Amount"', 'amount = "Montant réel"').replace(
            'name = "test"', f'name = "test"\nhidden_columns = ["{said}"]'
        )
        assert [x["amount"] for x in _lines(_save(path, book), mapping)] == ["100", "200"]

    def test_a_hidden_column_the_mapping_does_not_read_is_read_past(self, tmp_path: Path) -> None:
        path, book = _book(tmp_path, self.S1, self.S2)
        book.active.column_dimensions["E"].hidden = True  # type: ignore[union-attr]
        assert [x["sale_id"] for x in _lines(_save(path, book), BASE)] == ["S-1", "S-2"]
        [(rows, column, _)] = _named(path, self.DEFAULTED)
        assert (rows, column) == ((1,), "Product")

    def test_a_header_of_two_rows_is_read_by_its_last(self, tmp_path: Path) -> None:
        """A header of two rows (a group title over Amount and Currency, the
        other columns merged down through both): read by its last row, a
        column merged down is named as it shows; read by its first, it is
        refused naming the merge — never the sub-titles read as a sale nor
        the columns shifted."""
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["ID", "Date", "Deal", None, "Owner"])
        sheet.append([None, None, "Amount", "Currency", None])
        for merged in ("A1:A2", "B1:B2", "C1:D1", "E1:E2"):
            sheet.merge_cells(merged)
        sheet.append(["S-1", "2026-10-12", 100, "CNY", "李伟"])
        path = _save(tmp_path / "x.xlsx", book)
        two_rows = BASE.replace('name = "test"', 'name = "test"\nheader_row = 2')
        [line] = _lines(path, two_rows.replace('{ value = "CNY" }', '"Currency"'))
        assert (line["sale_id"], line["amount"], line["rep_id"]) == ("S-1", "100", "rep-li")
        with pytest.raises(ReadError) as caught:
            prepare(path, load_mapping(BASE.replace('"Amount"', '"Deal"')))
        assert str(caught.value).startswith(
            "row 2, column A: the header's cell A1 is merged down through row 2 (A1:A2)"
        )
        assert "set header_row = 2 in the mapping" in str(caught.value)

    def test_a_header_formula_never_computed_names_its_cell(self, tmp_path: Path) -> None:
        """It was "the header lacks Amount", though column C shows it."""
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["ID", "Date", '="Amount"', "Owner"])
        sheet.append(self.S1[:4])
        path = _save(tmp_path / "x.xlsx", book)
        with pytest.raises(ReadError, match=r"^row 1, column C \(the header\): the cell holds a"):
            prepare(path, load_mapping(BASE))

    def test_a_sheet_kept_outside_xl_worksheets_is_read_for_its_formulas(
        self, tmp_path: Path
    ) -> None:
        """Where a sheet lies is the workbook's word: one kept elsewhere in
        the zip was never looked at for formulas (nor for bombs), so a
        formula never computed read as empty — the product line its default."""
        path, book = _book(
            tmp_path, ["S-1", "2026-10-12", "=100+20", "李伟", "x"], [*self.S2[:4], '="hard"']
        )
        _save(path, book)
        moved = tmp_path / "moved.xlsx"
        with zipfile.ZipFile(path) as given, zipfile.ZipFile(moved, "w") as written:
            for item in given.infolist():
                data = given.read(item.filename).replace(b"worksheets/sheet1", b"data/deals")
                written.writestr(item.filename.replace("worksheets/sheet1", "data/deals"), data)
        named = [(rows, column) for rows, column, _ in _named(moved, self.DEFAULTED)]
        assert named == [((2,), "Amount"), ((3,), "Product")]

    def test_a_formula_value_a_program_left_is_no_value(self, tmp_path: Path) -> None:
        """XlsxWriter writes a 0 as each formula's value and asks the
        application to compute them on opening: the 0 was read, S-1's amount
        stored as 0 and S-2's product line as "0"."""
        path, book = _book(
            tmp_path, ["S-1", "2026-10-12", "=100+20", "李伟", "x"], [*self.S2[:4], '="hard"']
        )
        zeros = {
            "C2": '<c r="C2"><f>100+20</f><v>0</v></c>',
            "E3": '<c r="E3"><f>"hard"</f><v>0</v></c>',
        }
        written = with_cells(_save(path, book), tmp_path / "xlsxwriter.xlsx", zeros)
        errors = _named(written, self.DEFAULTED)
        assert [(rows, column) for rows, column, _ in errors] == [
            ((2,), "Amount"),
            ((3,), "Product"),
        ]
        assert all("formula whose value was never computed" in reason for *_, reason in errors)

    def test_a_cell_showing_an_error_is_refused(self, tmp_path: Path) -> None:
        """A product line looked up to #N/A was stored as the category "#N/A"."""
        path, book = _book(tmp_path, self.S1)
        _save(path, book)
        shown = with_cells(path, tmp_path / "na.xlsx", {"E2": '<c r="E2" t="e"><v>#N/A</v></c>'})
        [(rows, column, reason)] = _named(shown, self.DEFAULTED)
        assert (rows, column) == ((2,), "Product")
        assert reason == "sale.category: the cell shows the error #N/A; correct it in the workbook"

    def test_a_number_of_16_digits_is_refused(self, tmp_path: Path) -> None:
        """A 20-digit sale id typed as a number, which Excel writes as a float
        (``1.2345678901234567E+19``), was imported as sale 12345678901234567000;
        and one of 16 digits (a card-like customer number) was read as the
        float held, which Excel had already cut to 15 significant digits as
        it was typed (1234567890123456 held as 1234567890123450): another
        sale's id, unsaid. Every number of 16 digits or more — a float or an
        integer written as its digits, an id's or an owner's — is refused by
        row and column, saying to store it as text; one of 15 is read
        exactly."""
        rows = [(f"S-{n}", "2026-10-12", 100, "李伟", "hardware") for n in range(2, 8)]
        path, book = _book(tmp_path, *rows)
        _save(path, book)
        cells = {
            "A2": '<c r="A2"><v>12345678901234567890</v></c>',
            "A3": '<c r="A3"><v>1.2345678901234567E+19</v></c>',
            "A4": '<c r="A4" s="0"><v>9007199254740993.0</v></c>',
            "A5": '<c r="A5"><v>1.23456789012345E+15</v></c>',
            "D6": '<c r="D6"><v>3.6893488147419103E+19</v></c>',  # an owner's number
            "A7": '<c r="A7"><v>999999999999999</v></c>',
        }
        written = with_cells(path, tmp_path / "ids.xlsx", cells)
        why = (
            "cannot be read exactly: a spreadsheet keeps 15 significant digits of a number "
            "(typed, the 16th on are set to 0), so which one was meant cannot be told; "
            "store it as text (an id in a column formatted as Text), not as a number"
        )
        assert _named(written, BASE) == [
            ((2,), "ID", f"sale.id: the number 12345678901234567890 {why}"),
            ((3,), "ID", f"sale.id: the number 1.2345678901234567e+19 {why}"),
            ((4,), "ID", f"sale.id: the number 9007199254740992.0 {why}"),
            ((5,), "ID", f"sale.id: the number 1234567890123450.0 {why}"),
            ((6,), "Owner", f"sale.owner: the number 3.6893488147419103e+19 {why}"),
        ]
        for refused in ("A2", "A3", "A4", "A5", "D6"):
            cells.pop(refused)
        read = with_cells(path, tmp_path / "exact.xlsx", cells)
        assert [line["sale_id"] for line in _lines(read, BASE)] == [
            "S-2",
            "S-3",
            "S-4",
            "S-5",
            "S-6",
            "999999999999999",
        ]

    def test_amounts_in_number_cells_read_as_the_workbook_shows_them(self, tmp_path: Path) -> None:
        """An amount is read from the float its cell holds as a spreadsheet
        shows it, to the 15 significant digits it keeps: every amount the
        ledger takes (under 10^12, 14 digits at most) exactly as written, the
        17 digits Excel writes of 1234.56 (``1234.5599999999999``) as 1234.56,
        and a sum or product Excel shows as 0.3 or 113 (``=0.1+0.2`` written
        ``0.30000000000000004``, ``=100*1.13`` written ``112.99999999999999``)
        as 0.3 and 113 — they were read as the float's 17 digits, an amount
        the ledger refused with a number the user never saw. An integer is
        read as its digits."""
        amounts = {
            "C2": "999999999999.99",
            "C3": "1234.5599999999999",
            "C4": "0.01",
            "C5": "120000",
            "C6": "1.5E+3",
            "C7": "0.30000000000000004",
            "C8": "112.99999999999999",
            "C9": "300.29999999999995",
        }
        rows = [(f"S-{n}", "2026-10-12", 1, "李伟", "hardware") for n in range(2, 10)]
        path, book = _book(tmp_path, *rows)
        cells = {ref: f'<c r="{ref}"><v>{v}</v></c>' for ref, v in amounts.items()}
        written = with_cells(_save(path, book), tmp_path / "amounts.xlsx", cells)
        _, converted = prepare(written, load_mapping(BASE))
        assert [line.data["amount"] for line in converted.lines] == [
            "999999999999.99",
            "1234.56",
            "0.01",
            "120000",
            "1500",
            "0.3",
            "113",
            "300.3",
        ]

    def test_an_id_formatted_with_leading_zeros_reads_as_shown(self, tmp_path: Path) -> None:
        """A sale id typed as a number in a column formatted ``000000`` shows
        (and a CSV export of the sheet writes) ``000123``; it was read as
        ``123``, so the same sale sent once as CSV and once as xlsx was two
        sales, each paid. It reads as shown, as an owner's employee number
        does; a longer number, a fraction or another format is left as it is."""
        rows = [
            (123, "2026-10-12", 1, 100231, "hardware"),
            (1234567, "2026-10-12", 2, "李伟", "hardware"),
            (124, "2026-10-12", 1234.5, "李伟", "hardware"),
            (125, "2026-10-12", 3, "李伟", "hardware"),
        ]
        path, book = _book(tmp_path, *rows)
        sheet = book.active
        assert sheet is not None
        for cell in ("A2", "A3", "A4", "D2", "C4"):
            sheet[cell].number_format = "000000"
        sheet["A5"].number_format = "#,##0"
        mapping = BASE.replace('"李伟" = "rep-li"', '"李伟" = "rep-li"\n"000100231" = "rep-chen"')
        sheet["D2"].number_format = "000000000"
        lines = _lines(_save(path, book), mapping)
        assert [(line["sale_id"], line["rep_id"], line["amount"]) for line in lines] == [
            ("000123", "rep-chen", "1"),
            ("1234567", "rep-li", "2"),
            ("000124", "rep-li", "1234.5"),
            ("125", "rep-li", "3"),
        ]


class TestErrorsQuoteCellsPrintably:
    def test_a_cells_escape_sequence_never_reaches_the_terminal(self, tmp_path: Path) -> None:
        """A cell holding an escape sequence (``ESC]0;...`` sets the window's
        title, ``ESC[2K`` erases the line) was quoted raw in its row's error,
        which the CLI prints: whoever imported the file had their terminal
        driven by it. Each control or invisible character of a quoted cell is
        written as its escape (a header's "Amount\\u200b" no longer looks
        like "Amount"), and a long cell is cut."""
        text = (
            "ID,Date,Amount,Owner,Amount\u200b\n"
            "S-1,2026-10-12,\x1b]0;pwned\x1b\\\x1b[2K12,李伟,\n"
            "S-2,\x1b[31m2026-10-12,1,李伟,\n"
            f"S-3,2026-10-12,{'9' * 500}x,李伟,\n"
        )
        errors = [str(e) for e in _refused(tmp_path, text, BASE)]
        plain = (
            " is no plain number: a currency sign or code (¥, $, CNY) or other text is in the "
            "amount; export amounts as numbers (the currency is a column of its own, or the "
            "mapping's currency)"
        )
        date = 'row 3, column "Date" (B): sale.date: "\\x1b[31m2026-10-12" is not a date or time'
        date += " (ISO 8601)"
        assert errors == [
            'row 2, column "Amount" (C): sale.amount: "\\x1b]0;pwned\\x1b\\\\x1b[2K12"' + plain,
            date,
            'row 4, column "Amount" (C): sale.amount: "99999999999999999999...(501 characters)"'
            + plain,
        ]
        missing = _refused(tmp_path, text, BASE.replace('amount = "Amount"', 'amount = "Sum"'))
        assert '"Amount\\u200b"' in str(missing[0])
        assert not any(re.search("[\x00-\x1f\u200b]", str(e)) for e in missing + errors)


def _inflated(tmp_path: Path, owner: Iterator[bytes]) -> Path:
    """A workbook of one sale whose owner cell's text is the bytes ``owner``
    yields, written into its sheet's XML as they come (never held whole)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["ID", "Date", "Amount", "Owner"])
    sheet.append(["S-1", "2026-10-12", "10", "OWNER"])
    written, path = tmp_path / "written.xlsx", tmp_path / "x.xlsx"
    book.save(written)
    with (
        zipfile.ZipFile(written) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            data = source.read(item.filename)
            if not item.filename.startswith("xl/worksheets/"):
                target.writestr(item, data)
                continue
            head, tail = data.split(b"OWNER")
            with target.open(item.filename, "w", force_zip64=True) as part:
                part.write(head)
                for chunk in owner:
                    part.write(chunk)
                part.write(tail)
    return path


class TestXlsxBombs:
    """An xlsx is a zip: what its parts inflate to is bounded (SPEC §7: no input
    takes the importer down), as a CSV's field is (the csv module refuses one
    over 128 KiB), before a cell is held in memory."""

    def test_a_part_that_inflates_a_thousandfold_is_refused(self, tmp_path: Path) -> None:
        """A 200 KiB file whose sheet inflates to 200 MiB (one cell of "A"s):
        it took 3 GiB and 14 s for a 300 MiB cell, and a few MiB more of file
        took the machine's memory; now refused, naming the part, in little memory."""
        path = _inflated(tmp_path, (b"A" * 2**20 for _ in range(200)))
        assert path.stat().st_size < 2**20
        tracemalloc.start()
        try:
            with pytest.raises(ReadError, match=r"xl/worksheets/sheet1\.xml inflates to"):
                read_table(path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 16 * 2**20, peak

    def test_a_cell_longer_than_any_spreadsheet_writes_is_refused(self, tmp_path: Path) -> None:
        """2 MiB of text in one cell that compresses like text (no bomb by its
        ratio): a spreadsheet's cell holds 32,767 characters at most."""
        letters = bytes(range(ord("a"), ord("z") + 1))
        rng = random.Random(7)
        path = _inflated(tmp_path, (bytes(rng.choices(letters, k=2**16)) for _ in range(32)))
        with pytest.raises(ReadError, match=r"xl/worksheets/sheet1\.xml holds"):
            read_table(path)

    @pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/styles.xml"])
    def test_a_damaged_workbook_is_refused_not_a_traceback(self, tmp_path: Path, part: str) -> None:
        """Bytes of a part's compressed data damaged (a download cut and patched,
        a disk error): zlib's error was a traceback (SPEC §7: never one)."""
        path = _inflated(tmp_path, iter([b"Li Wei " * 5_000]))
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            item = archive.getinfo(part)
        start = item.header_offset + 30 + len(item.filename.encode()) + len(item.extra)
        for at in range(start + item.compress_size // 3, start + item.compress_size // 3 + 40):
            data[at] ^= 0x5A
        path.write_bytes(bytes(data))
        with pytest.raises(ReadError, match="not an xlsx workbook"):
            read_table(path)

    @pytest.mark.parametrize(
        ("cells", "drop"),
        [
            ({"C2": '<c r="C2"><v>abc</v></c>'}, None),
            ({"C2": '<c r="C2"><v>NaN</v></c>'}, None),
            ({"C2": '<c r="C2" t="s"><v>999</v></c>'}, None),
            ({"C2": '<c r="C2" t="s"><v>99999999999999999999</v></c>'}, None),
            ({"B2": '<c r="B2" t="d"><v>not a date</v></c>'}, None),
            ({"C2": '<c r="C2" s="999"><v>100</v></c>'}, None),
            ({"E2": '<c r="!!2" t="inlineStr"><is><t>x</t></is></c>'}, None),
            ({"E2": '<c r="E2" t="inlineStr"><is><t>soft&#0;ware</t></is></c>'}, None),
            ({"C2": '<c r="C2" s="1"><v>100</v></c>'}, "xl/styles.xml"),
            ({}, "xl/worksheets/sheet1.xml"),
        ],
        ids=[
            "text-as-number",
            "nan",
            "shared-string-past-the-end",
            "shared-string-index-huge",
            "date-not-a-date",
            "style-past-the-end",
            "cell-reference",
            "xml-nul",
            "no-styles",
            "no-sheet",
        ],
    )
    def test_a_sheet_damaged_past_opening_is_refused_not_a_traceback(
        self, tmp_path: Path, cells: dict[str, str], drop: str | None
    ) -> None:
        """openpyxl reads a sheet as its rows are read: a cell its type cannot
        hold, a shared string or style the workbook lacks, XML broken after
        the header, a sheet the workbook names but lacks — each raised out of
        the rows (ValueError, IndexError, ParseError, KeyError: a traceback,
        a 500) where the opening was refused cleanly. Now a `ReadError`
        naming the row."""
        path, book = _book(tmp_path, TestXlsxLayout.S1)
        edited = with_cells(_save(path, book), tmp_path / "damaged.xlsx", cells)
        if drop is not None:
            with zipfile.ZipFile(edited) as given, zipfile.ZipFile(tmp_path / "d.xlsx", "w") as to:
                for item in given.infolist():
                    if item.filename != drop:
                        to.writestr(item, given.read(item.filename))
            edited = tmp_path / "d.xlsx"
        with pytest.raises(ReadError) as caught:
            prepare(edited, load_mapping(BASE))
        said = str(caught.value)
        assert said.startswith("damaged.xlsx: the workbook is damaged" if drop is None else "d.")
        assert "its sheet cannot be read at row " in said
        assert "nothing was stored" in said

    @pytest.mark.parametrize(
        ("swap", "named"),
        [
            ((b'<row r="3"', b'<row r="2"'), "a row numbered 2 follows row 2"),
            ((b'<row r="2"', b'<row r="4"'), "a row numbered 3 follows row 4"),
            ((b'<row r="1"', b'<row r="0"'), "a row numbered 0 follows row 0"),
        ],
        ids=["repeated", "out-of-order", "numbered-0"],
    )
    def test_rows_out_of_order_are_refused_not_skipped(
        self, tmp_path: Path, swap: tuple[bytes, bytes], named: str
    ) -> None:
        """openpyxl skips a row numbered at or before the row before it: a
        workbook whose rows a program wrote out of order, or one row twice,
        was imported without that row's sale, saying nothing."""
        path, book = _book(tmp_path, TestXlsxLayout.S1, TestXlsxLayout.S2)

        def renumber(data: bytes) -> bytes:
            assert swap[0] in data
            return data.replace(*swap, 1)

        edited = with_sheets_edited(_save(path, book), tmp_path / "rows.xlsx", renumber)
        with pytest.raises(ReadError) as caught:
            prepare(edited, load_mapping(BASE))
        assert str(caught.value).startswith("rows.xlsx: the rows of its sheet 'Sheet' are not")
        assert named in str(caught.value)

    @pytest.mark.parametrize(
        ("cell", "before"),
        [
            ('<c r="C2" t="n"><v>900</v></c>', b"</row>"),
            ('<c r="C5" t="n"><v>900</v></c>', b"</row>"),
            ('<c t="n"><v>900</v></c>', b'<c r="C2"'),
        ],
        ids=["same-reference", "other-row-same-column", "unreferenced-after"],
    )
    def test_a_cell_written_twice_in_a_row_is_refused_not_overwritten(
        self, tmp_path: Path, cell: str, before: bytes
    ) -> None:
        """Two cells of one row in one column (both ``<c r="C2">``; one
        numbered for another row, which the reader takes by its column only;
        one without a reference, taking the column after the one before it,
        before C2):
        the reader kept the last, so a sheet holding 100 and 900 for a sale
        stored 900, saying nothing. Now refused, naming the cell."""
        path, book = _book(tmp_path, TestXlsxLayout.S1, TestXlsxLayout.S2)

        def twice(data: bytes) -> bytes:
            at = data.index(before, data.index(b'<row r="2"'))
            return data[:at] + cell.encode() + data[at:]

        edited = with_sheets_edited(_save(path, book), tmp_path / "twice.xlsx", twice)
        with pytest.raises(ReadError) as caught:
            prepare(edited, load_mapping(BASE))
        said = str(caught.value)
        assert said.startswith("twice.xlsx: its sheet 'Sheet' holds cell C2 twice (two cells of")
        assert "nothing was stored" in said

    def test_rows_are_read_as_wide_as_the_header_names(self, tmp_path: Path) -> None:
        """A cell written at XFD in every row made each row 16,384 cells wide:
        a 500 KiB workbook of 100,000 such rows took the importer over ten
        minutes. Rows under the header are read to its last name."""
        path, book = _book(tmp_path, TestXlsxLayout.S1, TestXlsxLayout.S2)
        far = '<c r="XFD{0}" t="inlineStr"><is><t>x</t></is></c></row>'

        def widen(data: bytes) -> bytes:
            for row in (2, 3):
                data = re.sub(
                    rf'(<row r="{row}".*?)</row>'.encode(),
                    lambda m, row=row: m[1] + far.format(row).encode(),
                    data,
                    count=1,
                    flags=re.DOTALL,
                )
            return data

        wide = with_sheets_edited(_save(path, book), tmp_path / "wide.xlsx", widen)
        table = read_table(wide)
        assert [len(row.cells) for row in table.rows] == [5, 5]
        assert [x["amount"] for x in _lines(wide, BASE)] == ["100", "200"]

    @pytest.mark.parametrize(
        ("edit", "said"),
        [
            (
                (b'<row r="3"', b'<row r="1048577"'),
                "numbers a row 1,048,577, past the 1,048,576 rows a sheet holds",
            ),
            (
                (b"</sheetData>", b'<row r="7000"><c r="A7000"><v>1</v></c></row></sheetData>'),
                "its header names 16,384 columns over 6,999 rows",
            ),
        ],
        ids=["row-past-the-last", "header-named-out-to-xfd"],
    )
    def test_a_sheet_larger_than_any_export_is_refused_before_reading(
        self, tmp_path: Path, edit: tuple[bytes, bytes], said: str
    ) -> None:
        """openpyxl reads every row up to the highest numbered (a row numbered
        999,999,999 in a 5 KiB file: hours of empty rows); a header named out
        to XFD over thousands of rows is as many cells."""
        path, book = _book(tmp_path, TestXlsxLayout.S1, TestXlsxLayout.S2)
        book.active.cell(row=1, column=16_384, value="Far")  # type: ignore[union-attr]

        def grow(data: bytes) -> bytes:
            assert edit[0] in data
            return data.replace(*edit, 1)

        big = with_sheets_edited(_save(path, book), tmp_path / "big.xlsx", grow)
        with pytest.raises(ReadError, match=said):
            read_table(big)

    def test_the_longest_cell_a_spreadsheet_writes_is_read(self, tmp_path: Path) -> None:
        """32,767 characters of "&" (each written "&amp;"), in a column the
        mapping does not read: the workbook reads."""
        path = _inflated(tmp_path, iter([b"&amp;" * 32_767]))
        table = read_table(path)
        assert table.rows[0].cells[3] == "&" * 32_767


class TestFooter:
    """A report's totals row and footer lines are no sales: refused at their
    row, saying what they are and what to do, or left unread where the
    mapping says the footer starts — the rows left said, never a sale made
    of a total."""

    FOOTED = (
        "ID,Date,Amount,Owner\n"
        "S-1,2026-10-12,100,李伟\n"
        "S-2,2026-10-12,200,Chen Jing\n"
        ",Total,300,\n"
        "\n"
        "Generated by Salesforce on 10/13/2026\n"
        '"Copyright (c) 2000-2026 salesforce.com, inc."\n'
    )

    def test_refused_at_each_row_naming_the_footer(self, tmp_path: Path) -> None:
        """They were named for what their cells lack ("sale.date: the cell
        is empty"), which says nothing of what to do with a totals row."""
        errors = _refused(tmp_path, self.FOOTED, BASE)
        assert [(e.rows, e.column and e.column.name) for e in errors] == [
            ((4,), "Date"),
            ((6,), "ID"),
            ((7,), "ID"),
        ]
        assert str(errors[0]) == (
            'row 4, column "Date" (B): the row reads as the report\'s footer (its totals, '
            'or a line about the report), not as data ("Total"): export the report without '
            "totals and footer lines (details only), or delete the row, or say in the "
            'mapping where the footer starts (footer = ["Total"]), so that no row from it '
            "on is read; as a row: sale.id: the cell is empty"
        )
        assert 'footer = ["Generated"]' in errors[1].reason
        assert 'footer = ["Copyright"]' in errors[2].reason

    def test_a_subtotal_above_other_rows_is_no_footer(self, tmp_path: Path) -> None:
        """A grouped report's subtotal line has rows under it: leaving every
        row from it unread would drop them, so it is not offered."""
        text = "ID,Date,Amount,Owner\nS-1,2026-10-12,100,李伟\n小计,,100,\nS-2,2026-10-12,5,李伟\n"
        [error] = _refused(tmp_path, text, BASE)
        assert error.rows == (3,)
        assert "a total or subtotal line of the report" in error.reason
        assert "footer =" not in error.reason

    def test_a_bad_row_that_reads_as_no_footer_is_named_as_before(self, tmp_path: Path) -> None:
        text = "ID,Date,Amount,Owner\nS-1,2026-10-12,100,李伟\nSummer-1,,5,李伟\n"
        [error] = _refused(tmp_path, text, BASE)
        assert str(error) == 'row 3, column "Date" (B): sale.date: the cell is empty'

    def test_the_mappings_footer_is_left_unread_and_said(self, tmp_path: Path) -> None:
        mapping = BASE.replace('name = "test"', 'name = "test"\nfooter = ["total", "Generated"]')
        _, converted = prepare(_csv(tmp_path, self.FOOTED), load_mapping(mapping))
        assert [line.data["sale_id"] for line in converted.lines] == ["S-1", "S-2"]
        assert converted.rows == 2
        assert converted.footer == Footer(4, "Total", 7)
        assert str(converted.footer) == (
            'rows 4-7 not read: the report\'s footer, from row 4 ("Total"), as the mapping says'
        )

    @pytest.mark.parametrize(
        ("text", "refused"),
        [
            (
                (
                    "ID,Date,Amount,Owner\nS-1,2026-10-12,100,李伟\n"
                    "Total-Care-7,2026-10-13,900,李伟\nS-3,2026-10-14,50,Chen Jing\n,Total,1050,\n"
                ),
                [(3, "ID", "'Total-Care-7'"), (4, "ID", "'S-3'")],
            ),
            (
                (
                    "ID,Date,Amount,Owner\nS-1,2026-10-12,100,李伟\nTotal,,100,\n"
                    "S-2,2026-10-12,5,李伟\nS-3,2026-10-13,7,Chen Jing\nTotal,,12,\n"
                ),
                [(4, "ID", "'S-2'"), (5, "ID", "'S-3'")],
            ),
        ],
        ids=["a-sale-id-starting-with-it", "a-subtotal-amid-the-data"],
    )
    def test_a_row_of_data_in_the_mappings_footer_is_refused_naming_it(
        self, tmp_path: Path, text: str, refused: list[tuple[int, str, str]]
    ) -> None:
        """The footer was trusted by its first cell alone: a sale whose id
        starts with its text, or the footer's text on a subtotal amid the
        data, left every row from there on unread — 900 and 50 CNY of sales
        gone from the import, said only as "the report's footer"."""
        mapping = BASE.replace('name = "test"', 'name = "test"\nfooter = ["Total"]')
        errors = _refused(tmp_path, text, mapping)
        assert [(e.rows, e.column and e.column.name) for e in errors] == [
            ((row,), column) for row, column, _ in refused
        ]
        for error, (_, _, sale_id) in zip(errors, refused, strict=True):
            assert error.reason.startswith(f"the row reads as data (it names sale {sale_id}")
            assert "but the mapping's footer, which starts at row" in error.reason

    def test_a_row_of_a_known_kind_in_the_footer_is_refused(self, tmp_path: Path) -> None:
        """With a kind column, a row whose kind is one of the mapping's — even
        one it ignores — is a row of the report, not of its footer."""
        mapping = (
            BASE.replace('name = "test"', 'name = "test"\nfooter = ["Total"]')
            + '\n[kinds]\n"Closed Won" = "sale"\n"Open" = "ignore"\n'
        ).replace("[owners]", 'kind = "Stage"\n[owners]')
        text = (
            "ID,Date,Amount,Owner,Stage\nS-1,2026-10-12,100,李伟,Closed Won\n"
            "Total,,100,,\nS-2,,,李伟,Open\nGenerated 2026-10-13,,,,\n"
        )
        [error] = _refused(tmp_path, text, mapping)
        assert (error.rows, error.column and error.column.name) == ((4,), "Stage")
        assert error.reason.startswith("the row reads as data (its kind is ignore)")
        kept = text.replace("S-2,,,李伟,Open\n", "")
        _, converted = prepare(_csv(tmp_path, kept), load_mapping(mapping))
        assert [line.data["sale_id"] for line in converted.lines] == ["S-1"]
        assert converted.footer == Footer(3, "Total", 4)

    def test_an_xlsx_totals_row(self, tmp_path: Path) -> None:
        """HubSpot's and Excel's totals row: a label and a SUM under the amounts."""
        path, book = _book(
            tmp_path, TestXlsxLayout.S1, TestXlsxLayout.S2, ["Grand Total", None, "=SUM(C2:C3)"]
        )
        [(rows, column, reason)] = _named(_save(path, book), TestXlsxLayout.DEFAULTED)
        assert (rows, column) == ((4,), "ID")
        assert "the row reads as the report's footer" in reason
        assert 'footer = ["Grand Total"]' in reason


_HEAD = "ID,Date,Amount,Owner\r\n"
_EUROPEAN = 'delimiter = ";"\nthousands_separator = "."\ndecimal_separator = ","'


def _deal(amount: str, sale_id: str = "S-1") -> str:
    return f"{sale_id},2026-10-12,{amount},李伟\r\n"


class TestMessyCsv:
    """CSV exports as CRMs and spreadsheets write them: each read exactly, or
    refused naming its row and column — never a wrong amount stored."""

    @pytest.mark.parametrize(
        ("data", "extra", "amounts"),
        [
            (codecs.BOM_UTF8 + (_HEAD + _deal("100.50")).encode(), "", ["100.50"]),
            ((_HEAD + _deal("7") + "\r\n\r\n,,,\r\n\r\n").encode(), "", ["7"]),
            (
                ("ID,Date,Amount,Owner,Note\r\n" + 'S-1,2026-10-12,1,李伟,"two\nlines"\r\n').encode(
                    "utf-8"
                ),
                "",
                ["1"],
            ),
            ((_HEAD + _deal('"1,234.50"')).encode(), 'thousands_separator = ","', ["1234.50"]),
            (
                "ID;Date;Amount;Owner\r\nS-1;2026-10-12;1.234;李伟\r\n".encode(),
                'delimiter = ";"\nthousands_separator = "."',
                ["1234"],
            ),
            (
                (_HEAD + _deal("1\u00a0234.50")).encode(),
                'thousands_separator = "\\u00a0"',
                ["1234.50"],
            ),
            (
                "ID;Date;Amount;Owner\r\nS-1;2026-10-12;1.234,50;李伟\r\n".encode(),
                _EUROPEAN,
                ["1234.50"],
            ),
        ],
        ids=[
            "bom-crlf",
            "trailing-blank-lines",
            "quoted-newline",
            "grouped",
            "semicolon",
            "nbsp",
            "european",
        ],
    )
    def test_read_exactly(
        self, tmp_path: Path, data: bytes, extra: str, amounts: list[str]
    ) -> None:
        path = tmp_path / "x.csv"
        path.write_bytes(data)
        assert [x["amount"] for x in _lines(path, TOP + extra + "\n" + TABLES)] == amounts

    @pytest.mark.parametrize(("delimiter", "written"), [(";", '";"'), ("\t", '"\\t"')])
    def test_a_file_of_another_delimiter_is_named_once(
        self, tmp_path: Path, delimiter: str, written: str
    ) -> None:
        """A European export delimited by ";" (or Excel's "Unicode text", by
        tabs) read by ",": one error a column the mapping reads, none saying why."""
        text = delimiter.join(["ID", "Date", "Amount", "Owner"]) + "\r\n"
        text += delimiter.join(["S-1", "2026-10-12", "7", "李伟"]) + "\r\n"
        [error] = _refused(tmp_path, text, BASE)
        assert error.rows == (1,)
        assert error.reason.endswith(f"set delimiter = {written} in the mapping")

    @pytest.mark.parametrize(
        ("text", "extra", "column", "reason"),
        [
            (
                "ID,Date,Owner,Amount\r\nS-1,2026-10-12,李伟,1234,50\r\n",
                "",
                None,
                'the row has 5 cells where the header has 4 (column E, under no header, holds "50")',
            ),
            (_HEAD + _deal('"1,234.50"'), "", "Amount", 'groups thousands by ","; set thousands_'),
            (_HEAD + _deal('"1234,50"'), "", "Amount", '"1234,50" has a decimal comma;'),
            (_HEAD + _deal('"¥1,234.50"'), 'thousands_separator = ","', "Amount", "is no plain"),
            (_HEAD + _deal("1234.50 CNY"), "", "Amount", '"1234.50 CNY" is no plain number'),
            (_HEAD + _deal("１２３"), "", "Amount", '"１２３" is no plain number'),
        ],
        ids=["unquoted-decimal-comma", "grouped", "decimal-comma", "yen", "code", "fullwidth"],
    )
    def test_refused_naming_row_and_column(
        self, tmp_path: Path, text: str, extra: str, column: str | None, reason: str
    ) -> None:
        """The amount of an unquoted ``1234,50`` in the last column was
        stored as 1234, its 50 past the header unread; the others were
        refused by the ledger as "money must be decimal text", which does
        not say what to change."""
        [error] = _refused(tmp_path, text, TOP + extra + "\n" + TABLES)
        assert (error.rows, error.column and error.column.name) == ((2,), column)
        assert reason in error.reason


class TestIdsInScientificNotation:
    """An id column a spreadsheet read as numbers and saved too wide for the
    column (``1.23457E+15``): refused naming its row and column, saying what
    happened to the id and what to do — not the ledger's "String should
    match pattern", which says neither."""

    PAYMENTS = (
        TOP + 'kind = "Stage"\n' + TABLES + '[kinds]\nWon = "sale"\nPaid = "payment"\n'
        '[payment]\nid = "Pay"\nsale = "ID"\ndate = "Date"\namount = "Amount"\n'
    )

    @pytest.mark.parametrize(
        ("text", "mapping", "column", "said"),
        [
            (_HEAD + _deal("100", "1.23457E+15"), BASE, "ID", 'sale.id: "1.23457E+15"'),
            (_HEAD + _deal("100", "1.2E+3"), BASE, "ID", 'sale.id: "1.2E+3"'),
            (
                "ID,Date,Amount,Owner,Customer\r\nS-1,2026-10-12,100,李伟,4.5678E+11\r\n",
                BASE + 'customer = "Customer"\n',
                "Customer",
                'sale.customer: "4.5678E+11"',
            ),
            (
                (
                    "ID,Date,Amount,Owner,Stage,Pay\r\n"
                    "S-1,2026-10-12,100.00,李伟,Won,\r\n"
                    "S-1,2026-11-02,40.00,李伟,Paid,9.87654E+14\r\n"
                ),
                PAYMENTS,
                "Pay",
                'payment.id: "9.87654E+14"',
            ),
        ],
        ids=["sale-id-long", "sale-id-short", "customer", "payment-id"],
    )
    def test_refused_saying_the_spreadsheet_lost_its_digits(
        self, tmp_path: Path, text: str, mapping: str, column: str, said: str
    ) -> None:
        errors = _refused(tmp_path, text, mapping)
        [error] = [e for e in errors if e.column and e.column.name == column]
        assert error.reason.startswith(
            f"{said} is an id the spreadsheet wrote as a number in scientific notation, "
            "so its digits are lost"
        )
        assert "export that column as text" in error.reason
        assert "pattern" not in error.reason
        assert len(errors) == 1

    def test_an_xlsx_text_cell_is_refused_alike(self, tmp_path: Path) -> None:
        """An xlsx cell holding the text ``1.23457E+15`` (a CSV opened in a
        spreadsheet, its ids pasted as text) is read as the CSV's; a number
        cell is its own digits (one of 16 or more is refused by the reader)."""
        path, book = _book(
            tmp_path,
            ["1.23457E+15", "2026-10-12", 100, "李伟"],
            [1200, "2026-10-12", 100, "李伟"],
        )
        [(rows, column, reason)] = _named(_save(path, book), BASE)
        assert (rows, column) == ((2,), "ID")
        assert reason.startswith('sale.id: "1.23457E+15" is an id the spreadsheet wrote as a')

    def test_an_id_of_letters_and_digits_is_read(self, tmp_path: Path) -> None:
        """Only a number's notation is refused: ``12E-5``, ``E3`` and ``1E3X`` are ids."""
        text = _HEAD + _deal("1", "12E-5") + _deal("2", "E3") + _deal("3", "1E3X")
        assert [x["sale_id"] for x in _lines(_csv(tmp_path, text), BASE)] == [
            "12E-5",
            "E3",
            "1E3X",
        ]


class TestDecimalComma:
    """European exports write amounts ``1.234,50``: with the mapping's
    ``decimal_separator = ","`` each is read exactly, or refused naming its
    row and column — never an amount a thousand times another."""

    @staticmethod
    def _amounts(tmp_path: Path, amount: str, extra: str = _EUROPEAN) -> Converted:
        path = _csv(tmp_path, f"ID;Date;Amount;Owner\r\nS-1;2026-10-12;{amount};李伟\r\n")
        return convert(read_table(path, delimiter=";"), load_mapping(TOP + extra + "\n" + TABLES))

    @pytest.mark.parametrize(
        ("amount", "read"),
        [
            ("0,5", "0.5"),
            ("1.234.567,89", "1234567.89"),
            ("-1.234,50", "-1234.50"),
            ("1234,50", "1234.50"),
            ("1.234", "1234"),
            ("7", "7"),
        ],
    )
    def test_read_exactly(self, tmp_path: Path, amount: str, read: str) -> None:
        converted = self._amounts(tmp_path, amount)
        assert converted.errors == []
        assert [line.data["amount"] for line in converted.lines] == [read]

    def test_without_a_thousands_separator(self, tmp_path: Path) -> None:
        """``decimal_separator`` alone: a decimal comma, no grouping."""
        alone = 'delimiter = ";"\ndecimal_separator = ","'
        [line] = self._amounts(tmp_path, "1234,5", alone).lines
        assert line.data["amount"] == "1234.5"
        [error] = self._amounts(tmp_path, "1.234,50", alone).errors
        assert error.reason.endswith('set thousands_separator = "." in the mapping')
        [error] = self._amounts(tmp_path, "1234.50", alone).errors
        assert error.reason == (
            'sale.amount: "1234.50" is not an amount written like 1234,50: it has a decimal '
            'point, where the mapping\'s decimal_separator is ","'
        )

    @pytest.mark.parametrize("extra", [_EUROPEAN, 'thousands_separator = "."'])
    def test_an_xlsx_number_is_the_number_it_holds(self, tmp_path: Path, extra: str) -> None:
        """A workbook's number is no text written with the mapping's
        separators: 1.234 (one point two three four) was read as 1234 by the
        thousands separator "."; a text cell is read as the mapping says."""
        path, book = _book(
            tmp_path,
            ("S-1", "2026-10-12", 1.234, "李伟"),
            ("S-2", "2026-10-12", 1234.5, "李伟"),
            ("S-3", "2026-10-12", 7, "李伟"),
            ("S-4", "2026-10-12", "1.234", "李伟"),
        )
        converted = convert(
            read_table(_save(path, book)), load_mapping(TOP + extra + "\n" + TABLES)
        )
        assert converted.errors == []
        amounts = [line.data["amount"] for line in converted.lines]
        assert amounts == ["1.234", "1234.5", "7", "1234"]

    @pytest.mark.parametrize(
        ("amount", "reason"),
        [
            ("1,234,50", '"1,234,50" has 2 decimal commas (the mapping\'s decimal_separator'),
            ("1.234,5,0", '"1.234,5,0" has 2 decimal commas'),
            ("1.23,50", '"1.23,50" is not an amount written like 1.234,50: it does not group'),
            ("1234.50", '"1234.50" is not an amount written like 1.234,50: it does not group'),
            (",5", '",5" is not an amount written like 1.234,50: it is no number'),
            ("5,", '"5," is not an amount written like 1.234,50: it is no number'),
        ],
    )
    def test_refused_naming_row_and_column(self, tmp_path: Path, amount: str, reason: str) -> None:
        text = f"ID;Date;Amount;Owner\r\nS-1;2026-10-12;{amount};李伟\r\n"
        [error] = _refused(tmp_path, text, TOP + _EUROPEAN + "\n" + TABLES)
        assert str(error).startswith(f'row 2, column "Amount" (C): sale.amount: {reason}')


def test_a_key_given_twice_is_named_by_the_rows_of_both() -> None:
    """The pipeline says a key given twice in a file (`LineError.twice`)
    by the lines of both — JSON lines a CRM import makes, which its user
    never sees: they are named as the rows of the export behind them."""
    lines = {n: Line({}, rows=rows) for n, rows in ((2, [4]), (5, [7, 8]))}
    reason = given_twice("sale S1", "input 2", "input 5", "batch")
    error = LineError(5, "sale_id", reason, "conflict", twice=("sale S1", 2))
    [named] = rows_named([error], lines)
    assert named.rows == (7, 8)
    assert named.reason == given_twice("sale S1", "row 4", "rows 7, 8", "file")
    assert "input" not in named.reason


class TestConversion:
    def test_a_date_two_formats_read_apart_is_refused(self, tmp_path: Path) -> None:
        """With ``%m/%d/%Y`` and ``%d/%m/%Y`` both listed, 03/04/2026 was read
        by the first (March, Q1) and 13/04/2026 by the second (April, Q2):
        one file read both ways, the period decided by the list's order."""
        formats = 'date_formats = ["%m/%d/%Y", "%d/%m/%Y"]'
        mapping = BASE.replace('name = "test"', f'name = "test"\n{formats}')
        text = "ID,Date,Amount,Owner\nS-1,03/04/2026,100,李伟\nS-2,13/04/2026,200,李伟\n"
        [error] = _refused(tmp_path, text, mapping)
        assert (error.rows, error.column and error.column.name) == ((2,), "Date")
        assert error.reason.startswith(
            'sale.date: "03/04/2026" reads as different dates by the mapping\'s date_formats '
            "(2026-03-04T00:00:00 by '%m/%d/%Y', 2026-04-03T00:00:00 by '%d/%m/%Y')"
        )
        same = "ID,Date,Amount,Owner\nS-1,04/04/2026,100,李伟\nS-2,13/04/2026,200,李伟\n"
        lines = _lines(_csv(tmp_path, same), mapping)
        assert [line["occurred_at"] for line in lines] == [
            "2026-04-04T00:00:00+08:00",
            "2026-04-13T00:00:00+08:00",
        ]

    def test_lone_own_split_is_no_split(self, tmp_path: Path) -> None:
        """A split report row of 100 % for the owner is the owner's sale: the same
        content (and so the same natural key) as a sale without splits."""
        path = _csv(tmp_path, "ID,Date,Amount,Owner,Split,Pct\nS-1,2026-10-12,10,李伟,李伟,100%\n")
        [data] = _lines(path, SPLITS)
        assert "splits" not in data

    def test_split_rows_that_disagree_are_named(self, tmp_path: Path) -> None:
        errors = _refused(
            tmp_path,
            "ID,Date,Amount,Owner,Split,Pct\n"
            "S-1,2026-10-12,10,李伟,李伟,50%\n"
            "S-1,2026-10-12,12,李伟,Chen Jing,50%\n",
            SPLITS,
        )
        [error] = errors
        assert str(error) == (
            'row 3, column "Amount" (C): this row repeats sale S-1 of row 2 but its '
            "amount differs ('12', not '10')"
        )

    def test_every_bad_row_named(self, tmp_path: Path) -> None:
        """Unknown owner, unreadable date, empty amount, bad percent: all named."""
        errors = _refused(
            tmp_path,
            "ID,Date,Amount,Owner,Split,Pct\n"
            "S-1,2026-10-12,10,Nobody,,\n"
            "S-2,12 Oct,10,李伟,,\n"
            "S-3,2026-10-12,,李伟,,\n"
            "S-4,2026-10-12,10,李伟,李伟,half\n",
            SPLITS,
        )
        assert [str(e) for e in errors] == [
            (
                "row 2, column \"Owner\" (D): sale.owner: owner 'Nobody' is not in the "
                "mapping's [owners] table (add the rep id it is)"
            ),
            'row 3, column "Date" (B): sale.date: "12 Oct" is not a date or time (ISO 8601)',
            'row 4, column "Amount" (C): sale.amount: the cell is empty',
            'row 5, column "Pct" (F): sale.split_percent: a percent like 50 or 50%, got "half"',
        ]

    def test_converter_and_line_errors_named_together(self, tmp_path: Path) -> None:
        """SPEC §2, every bad line at once: an owner the mapping lacks (row 2)
        and 3 decimals of CNY (row 3, the event's own rule) were named one run
        apart. A line whose row is named already is not checked again: the
        split sale missing its bad row 5 is not also said to sum below 1."""
        errors = _refused(
            tmp_path,
            "ID,Date,Amount,Owner,Split,Pct\n"
            "S-1,2026-10-12,10,Nobody,,\n"
            "S-2,2026-10-12,10.005,李伟,,\n"
            "S-3,2026-10-12,10,李伟,李伟,60%\n"
            "S-3,2026-10-12,10,李伟,Nobody,40%\n",
            SPLITS,
        )
        assert [str(e) for e in errors] == [
            (
                "row 2, column \"Owner\" (D): sale.owner: owner 'Nobody' is not in the "
                "mapping's [owners] table (add the rep id it is)"
            ),
            (
                'row 3, column "Amount" (C): CNY money has at most 2 decimal places '
                "(ISO 4217 minor unit), got 3"
            ),
            (
                "row 5, column \"Split\" (E): sale.split_owner: owner 'Nobody' is not in the "
                "mapping's [owners] table (add the rep id it is)"
            ),
        ]
        assert errors[1].field == "amount"

    def test_a_column_the_header_has_twice_is_refused(self, tmp_path: Path) -> None:
        """Two "Amount" columns: the first was taken silently. The header row is
        named with the column and both its letters; a twin the mapping does not
        read is no matter."""
        errors = _refused(
            tmp_path,
            "ID,Date,Amount,Owner,Note,Note,Amount\nS-1,2026-10-12,10,李伟,a,b,1.00\n",
            BASE,
        )
        [error] = errors
        assert str(error) == (
            'row 1: the mapping\'s sale.amount reads column "Amount", which the header has '
            "twice (columns C and G): which one is meant cannot be told; rename or remove "
            "the others"
        )
        fine = _csv(tmp_path, "ID,Date,Amount,Owner,Note,Note\nS-1,2026-10-12,10,李伟,a,b\n")
        assert [line["amount"] for line in _lines(fine, BASE)] == ["10"]

    def test_a_header_whose_accents_are_encoded_otherwise_is_read(self, tmp_path: Path) -> None:
        """A header written on a Mac holds "é" as "e" and a combining accent
        (NFD); the mapping's "Montant réel" (one character) was refused as a
        column the header lacks, "it has ... "Montant réel"" — the same name
        twice to the eye. Names are compared as they read."""
        mapping = BASE.replace('amount = "Amount"', 'amount = "Montant réel"')
        text = unicodedata.normalize("NFD", "ID,Date,Montant réel,Owner\nS-1,2026-10-12,10,李伟\n")
        assert text != unicodedata.normalize("NFC", text)
        assert [line["amount"] for line in _lines(_csv(tmp_path, text), mapping)] == ["10"]

    @pytest.mark.parametrize("blank", ["", "\n,,,\n\n"])
    def test_a_header_without_rows_is_refused(self, tmp_path: Path, blank: str) -> None:
        """A header-only export (a download cut short) was read as 0 rows and
        "stored 0", exit 0, where an empty JSON Lines file is refused."""
        path = _csv(tmp_path, "ID,Date,Amount,Owner\n" + blank)
        with pytest.raises(ReadError, match=r"^x\.csv holds no rows under its header \(row 1"):
            prepare(path, load_mapping(BASE))

    def test_missing_column_named_once(self, tmp_path: Path) -> None:
        [error] = _refused(tmp_path, "ID,Date,Amount\nS-1,2026-10-12,10\n", BASE)
        assert str(error).startswith(
            'row 1: the mapping\'s sale.owner reads column "Owner", which the header lacks'
        )

    def test_a_date_with_an_offset_is_that_day_at_that_offset(self, tmp_path: Path) -> None:
        """``2026-09-30-05:00`` (a date and its offset, as XML writes one) was
        read as 05:00 on that day with the mapping's offset (+08:00): the
        offset lost, the time made up. Anything between a date and a time
        but "T" or a space is no ISO 8601 (it was read as a separator)."""
        text = "ID,Date,Amount,Owner\nS-1,2026-09-30-05:00,10,李伟\nS-2,2026-09-30Z,10,李伟\n"
        lines = _lines(_csv(tmp_path, text), BASE)
        assert [x["occurred_at"] for x in lines] == [
            "2026-09-30T00:00:00-05:00",
            "2026-09-30T00:00:00+00:00",
        ]
        [error] = _refused(tmp_path, "ID,Date,Amount,Owner\nS-1,2026-09-30x10:00,10,李伟\n", BASE)
        assert str(error).startswith(
            'row 2, column "Date" (B): sale.date: "2026-09-30x10:00" is not'
        )
        [error] = _refused(tmp_path, "ID,Date,Amount,Owner\nS-1,2026-02-30+08:00,10,李伟\n", BASE)
        assert str(error).startswith(
            'row 2, column "Date" (B): sale.date: "2026-02-30+08:00" is not'
        )

    def test_naive_time_without_timezone_refused(self, tmp_path: Path) -> None:
        path = _csv(tmp_path, "ID,Date,Amount,Owner\nS-1,2026-10-12 10:00,10,李伟\n")
        with pytest.raises(CrmRejectedError, match="has no UTC offset; set timezone"):
            prepare(path, load_mapping(BASE.replace('timezone = "+08:00"\n', "")))

    def test_kinds_ignore_cancel_and_refuse_unknown(self, tmp_path: Path) -> None:
        mapping = (
            TOP
            + 'kind = "Stage"\n'
            + TABLES
            + '[kinds]\nWon = "sale"\nVoid = "cancelled_sale"\nOpen = "ignore"\n'
            '[cancellation]\nid = "ID"\ndate = "Voided"\n'
            'reason = { column = "Why", default = "voided in the CRM" }\n'
        )
        head = "ID,Date,Amount,Owner,Stage,Voided,Why\n"
        good = _csv(
            tmp_path,
            head + "S-1,2026-10-12,10,李伟,Void,2026-11-01,\nS-2,2026-10-12,10,李伟,Open,,\n"
            "S-1,2026-10-12,10,李伟,Open,,\n",
        )
        _, converted = prepare(good, load_mapping(mapping))
        assert [(x.data["type"], x.data["sale_id"]) for x in converted.lines] == [
            ("SaleRecorded", "S-1"),
            ("SaleCancelled", "S-1"),
        ]
        assert converted.lines[1].data["reason"] == "voided in the CRM"
        assert converted.ignored == 2
        # the ignored row's sale, for the import to warn of when it is stored
        # (not row 4's: this very file cancels S-1)
        [ignored] = converted.ignored_sales
        assert (ignored.row, ignored.sale_id, ignored.said) == (3, "S-2", "Open")
        assert ignored.column is not None
        assert ignored.column.name == "Stage"
        bad = _csv(tmp_path, head + "S-3,2026-10-12,10,李伟,Lost,,\n", name="bad.csv")
        with pytest.raises(CrmRejectedError, match=r"row 2, column \"Stage\" \(E\): kind: 'Lost'"):
            prepare(bad, load_mapping(mapping))

    def test_payment_rows_become_payments(self, tmp_path: Path) -> None:
        """A row of kind payment is a PaymentReceived of its sale (SPEC §2)."""
        mapping = (
            TOP + 'kind = "Stage"\n' + TABLES + '[kinds]\nWon = "sale"\nPaid = "payment"\n'
            '[payment]\nid = "Pay"\nsale = "ID"\ndate = "Date"\namount = "Amount"\n'
        )
        path = _csv(
            tmp_path,
            "ID,Date,Amount,Owner,Stage,Pay\n"
            "S-1,2026-10-12,100.00,李伟,Won,\n"
            "S-1,2026-11-02,40.00,李伟,Paid,PAY-1\n",
        )
        _, converted = prepare(path, load_mapping(mapping))
        assert converted.lines[1].data == {
            "type": "PaymentReceived",
            "occurred_at": "2026-11-02T00:00:00+08:00",
            "payment_id": "PAY-1",
            "sale_id": "S-1",
            "amount": "40.00",
        }


class TestMappingSchema:
    @pytest.mark.parametrize(
        ("top", "tables", "message"),
        [
            (
                'kind = "Stage"\n',
                '[kinds]\nWon = "payment"\n',
                "rows of kind payment need a \\[payment\\]",
            ),
            ('kind = "Stage"\n', "", r"kind \(the column\) and kinds \(its values\) go together"),
            ('actor = "Crm Sync"\n', "", "mapping: actor: .*space"),
            ('delimiter = ";;"\n', "", "mapping: delimiter: "),
            (
                'thousands_separator = ","\ndecimal_separator = ","\n',
                "",
                "mapping: decimal_separator: ',' is the thousands_separator too",
            ),
            (
                'thousands_separator = "."\ndecimal_separator = "."\n',
                "",
                "mapping: decimal_separator: '.' is the thousands_separator too",
            ),
            ('decimal_separator = ";"\n', "", "mapping: decimal_separator: Input should be"),
            *(
                (
                    f'thousands_separator = "{c}"\n',
                    "",
                    f"thousands_separator: '{re.escape(c)}' is a",
                )
                for c in ("0", "1", "-", "+", "٣")  # (the last an Arabic-Indic 3)
            ),
        ],
    )
    def test_refused_naming_the_key(self, top: str, tables: str, message: str) -> None:
        with pytest.raises(MappingError, match=message):
            load_mapping(TOP + top + TABLES + tables)

    def test_field_needs_one_source(self) -> None:
        with pytest.raises(MappingError, match=r"sale\.currency: .*exactly one of column"):
            load_mapping(BASE.replace('{ value = "CNY" }', '{ column = "C", value = "CNY" }'))

    def test_bad_timezone_named(self) -> None:
        with pytest.raises(MappingError, match="timezone 'Mars/Olympus'"):
            load_mapping(BASE.replace('"+08:00"', '"Mars/Olympus"'))

    def test_shipped_mappings_load(self) -> None:
        root = Path(__file__).resolve().parents[2] / "samples" / "crm"
        for path in sorted(root.glob("*.toml")):
            assert load_mapping(path.read_text(encoding="utf-8")).sale is not None


@pytest.mark.parametrize(
    ("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (702, "AAA")]
)
def test_column_letters(index: int, letters: str) -> None:
    assert column_letter(index) == letters
