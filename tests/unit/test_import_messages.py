"""Import messages (issue 19): a batch counts bad inputs, not errors, and names
them as where they came from (file lines, HTTP list items, or a command's own
options); a file that is not JSON Lines is recognised and the user told what to
do."""

from __future__ import annotations

import json

import pytest

from ledger.errors import BatchRejectedError, LineError
from ledger.import_format import BOM, UNDECODABLE, format_hint, not_utf8
from ledger.ingestion.parse import parse_line


class TestCounting:
    def test_two_bad_fields_of_one_line_are_one_bad_line(self) -> None:
        rejected = BatchRejectedError(
            [
                LineError(2, "amount", "not decimal text"),
                LineError(2, "currency", "not ISO 4217"),
                LineError(5, "type", "unknown event type"),
            ]
        )
        assert rejected.bad_inputs == 2
        assert rejected.summary("line").startswith("2 bad lines; nothing was stored.")
        assert "First: line 2, field amount: not decimal text" in rejected.summary("line")

    def test_one_bad_line_is_singular(self) -> None:
        rejected = BatchRejectedError([LineError(1, None, "malformed JSON")])
        assert rejected.summary("line") == (
            "1 bad line; nothing was stored. First: line 1: malformed JSON"
        )

    @pytest.mark.parametrize(
        ("unit", "text"),
        [
            ("line", "line 2, field amount: bad"),  # a file's 1-based line
            ("item", "item 1, field amount: bad"),  # an HTTP list's 0-based index
            (None, "amount: bad"),  # a command's options: no place at all, as other errors
        ],
    )
    def test_a_bad_input_is_named_where_it_came_from(self, unit: str | None, text: str) -> None:
        assert LineError(2, "amount", "bad").describe(unit) == text  # type: ignore[arg-type]

    def test_http_items_are_counted_as_items(self) -> None:
        rejected = BatchRejectedError([LineError(2, "amount", "bad"), LineError(3, None, "x")])
        assert rejected.summary("item").startswith("2 bad items; nothing was stored. First: item 1")
        assert "line" not in rejected.summary("item")


class TestFormatHint:
    @pytest.mark.parametrize(
        "first",
        [
            '{"type": "SaleRecorded", "occurred_at": "2026-07-14T10:00:00+08:00"}',
            BOM + '{"type": "SaleRecorded"}',
            '  {"type": "Sale',  # malformed JSON, but meant as a line: judged as one
            "not json at all",
        ],
    )
    def test_json_lines_and_other_text_get_no_hint(self, first: str) -> None:
        assert format_hint(first) is None

    @pytest.mark.parametrize(
        ("first", "words"),
        [
            ('[{"type": "SaleRecorded"}]', "JSON array"),
            (BOM + "[", "JSON array"),
            ("{", "one JSON document spread over several lines"),
            ("type,occurred_at,sale_id,amount", "CSV"),
            ('"type";"occurred_at"', "CSV"),
            ("type\toccurred_at", "CSV"),
            # a plan handed to the import: a "malformed JSON" per line, before
            ("# The SPEC §3 example plan", "TOML (a plan?)"),
            ("[commission]", "TOML (a plan?)"),
            ("[[spiffs]]", "TOML (a plan?)"),
            ('id = "field-sales"', "TOML (a plan?)"),
        ],
    )
    def test_near_misses_are_recognised_with_what_to_do(self, first: str, words: str) -> None:
        hint = format_hint(first)
        assert hint is not None
        assert words in hint
        assert "JSON Lines" in hint


def _read(data: bytes) -> list[str]:
    """``data`` read as the import reads a file: line by line, bytes that are
    no UTF-8 kept for `not_utf8`."""
    return data.decode("utf-8-sig", errors=UNDECODABLE).splitlines(keepends=True)


class TestNotUtf8:
    def test_utf8_text_passes_as_it_is(self) -> None:
        """Chinese, accents, a byte order mark read past: nothing to refuse."""
        text = '{"topic": "培训 café"}\n{"topic": "x"}\n'
        assert [not_utf8(line) for line in _read(b"\xef\xbb\xbf" + text.encode())] == [None, None]

    @pytest.mark.parametrize(
        ("data", "line", "words"),
        [
            ('{"a": 1}\n{"topic": "café"}\n'.encode("latin-1"), 2, "byte 0xE9 at column 15"),
            ('{"topic": "培训"}\n'.encode("gbk"), 1, "byte 0xC5 at column 12"),
            ('{"a": 1}\n'.encode("utf-16"), 1, "the file is UTF-16"),
        ],
        ids=["latin-1", "gbk", "utf-16"],
    )
    def test_the_line_not_utf8_is_named(self, data: bytes, line: int, words: str) -> None:
        reasons = [not_utf8(text) for text in _read(data)]
        named = [(n, r) for n, r in enumerate(reasons, start=1) if r is not None]
        assert [n for n, _ in named][:1] == [line]
        assert words in named[0][1]
        assert "UTF-8" in named[0][1]


class TestMessagesArePrintable:
    def test_an_escape_sequence_in_a_line_is_quoted_escaped(self) -> None:
        """An import line's amount holding an escape sequence (``ESC[2K``
        erases the terminal's line), or a key holding one, was echoed raw in
        its error, which the CLI prints: whoever imported the file had their
        terminal driven by it. Each is written as its escape."""
        line = {
            "type": "SaleRecorded",
            "occurred_at": "2026-07-14T10:00:00+08:00",
            "actor": "crm-sync",
            "sale_id": "S-1",
            "rep_id": "rep-li",
            "amount": "\x1b[2K5",
            "currency": "CNY",
            "note\x1b[31m": "x",
        }
        _, errors = parse_line(json.dumps(line), line=3)
        assert sorted(e.describe("line") for e in errors) == [
            'line 3, field amount: money must be decimal text like "1234.50", got "\\x1b[2K5"',
            "line 3, field note\\x1b[31m: unknown field (not in the SPEC for this event type)",
        ]
