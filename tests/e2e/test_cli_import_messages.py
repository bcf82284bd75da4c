"""Import messages on the command line (issue 19): bad lines counted as lines,
an empty file refused, a byte order mark read past, a CSV or a JSON array
recognised with what to do; a command with no file names no line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.application import Ledger
from tests.builders import PLAN_TOML, invoke_cli, jsonl, line, sale, seeded, stored_count


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    seeded(Ledger(url), "r1").close()
    return url


class TestImportMessages:
    def test_bad_lines_are_counted_once_each(self, url: str, tmp_path: Path) -> None:
        """A line with two bad fields is one bad line; both fields are named."""
        bad = {**sale("S1", "r1"), "amount": 1.5, "currency": "XX"}
        events = tmp_path / "events.jsonl"
        events.write_text("\n".join([json.dumps(bad), "", json.dumps({"type": "Nope"})]) + "\n")
        before = stored_count(url)
        result = invoke_cli("import", str(events), "--db", url, "--actor", "crm")
        assert result.exit_code == 1
        assert "rejected: 2 bad lines; nothing was stored." in result.output
        assert "line 1, field amount" in result.output
        assert "line 1, field currency" in result.output
        assert "line 3, field type" in result.output
        as_json = json.loads(
            invoke_cli("import", str(events), "--db", url, "--actor", "crm", "--json").output
        )
        assert as_json["detail"].startswith("2 bad lines")
        assert {e["line"] for e in as_json["errors"]} == {1, 3}
        assert stored_count(url) == before

    @pytest.mark.parametrize("content", ["", "\n\n  \n"])
    def test_an_empty_file_is_refused(self, url: str, tmp_path: Path, content: str) -> None:
        empty = tmp_path / "empty.jsonl"
        empty.write_text(content)
        result = invoke_cli("import", str(empty), "--db", url, "--actor", "crm")
        assert result.exit_code == 1
        assert "holds no events" in result.output

    def test_a_byte_order_mark_is_read_past(self, url: str, tmp_path: Path) -> None:
        events = tmp_path / "bom.jsonl"
        events.write_bytes(b"\xef\xbb\xbf" + "\n".join(jsonl(sale("S1", "r1"))).encode())
        result = invoke_cli("import", str(events), "--db", url, "--actor", "crm")
        assert result.exit_code == 0, result.output
        assert "stored 1 events" in result.output

    @pytest.mark.parametrize("with_plan", [False, True], ids=["file", "file-and-plan"])
    def test_a_file_not_utf8_is_refused_naming_its_line(
        self, url: str, tmp_path: Path, *, with_plan: bool
    ) -> None:
        """A Latin-1 line deep in the file (past the decoder's first block): one
        error naming that line as the file numbers it — ``--plan`` put first
        or not — saying the file must be UTF-8; nothing stored, not even the
        plan (it was a UnicodeDecodeError traceback)."""
        good = [
            json.dumps(line("CoachingRecorded", rep_id="r1", topic=f"t{i}")) for i in range(3000)
        ]
        bad = json.dumps(line("CoachingRecorded", rep_id="r1", topic="café"), ensure_ascii=False)
        events = tmp_path / "latin1.jsonl"
        events.write_bytes("\n".join([*good, bad, *good[:5]]).encode("latin-1") + b"\n")
        plan = tmp_path / "plan.toml"
        plan.write_text(PLAN_TOML.replace("version = 1", "version = 2", 1), encoding="utf-8")
        before = stored_count(url)
        options = ["--plan", str(plan)] if with_plan else []
        result = invoke_cli("import", str(events), *options, "--db", url, "--actor", "crm")
        assert result.exit_code == 1, result.output
        assert "rejected: 1 bad line; nothing was stored." in result.output
        assert "line 3001: not UTF-8: byte 0xE9" in result.output
        assert "must be UTF-8" in result.output
        assert "Traceback" not in result.output
        assert stored_count(url) == before

    def test_a_line_not_utf8_is_named_with_every_other_bad_line(
        self, url: str, tmp_path: Path
    ) -> None:
        """SPEC §2, every bad line at once: the byte that is no UTF-8 (line 2) hid
        the missing field before it and the unknown type after it."""
        lines = [
            json.dumps(line("CoachingRecorded", rep_id="r1")).encode(),
            json.dumps(
                line("CoachingRecorded", rep_id="r1", topic="café"), ensure_ascii=False
            ).encode("latin-1"),
            json.dumps(line("NoSuchEvent", rep_id="r1")).encode(),
        ]
        events = tmp_path / "mixed.jsonl"
        events.write_bytes(b"\n".join(lines) + b"\n")
        result = invoke_cli("import", str(events), "--db", url, "--actor", "crm")
        assert result.exit_code == 1, result.output
        assert "rejected: 3 bad lines; nothing was stored." in result.output
        for words in ("line 1, field topic", "line 2: not UTF-8", "line 3, field type"):
            assert words in result.output, words

    def test_a_utf16_file_is_refused_saying_so(self, url: str, tmp_path: Path) -> None:
        """A UTF-16 file (a Windows tool's "Unicode"), byte order mark first:
        line 1, named as UTF-16; from standard input too."""
        text = "\n".join(jsonl(sale("S1", "r1"))) + "\n"
        events = tmp_path / "utf16.jsonl"
        events.write_bytes(text.encode("utf-16"))
        before = stored_count(url)
        for source, piped in ((str(events), None), ("-", text.encode("utf-16"))):
            result = invoke_cli("import", source, "--db", url, "--actor", "crm", stdin=piped)
            assert result.exit_code == 1, result.output
            assert "line 1: the file is UTF-16" in result.output
            assert "Traceback" not in result.output
        assert stored_count(url) == before

    @pytest.mark.parametrize(
        ("content", "words"),
        [
            ("type,occurred_at,sale_id\nSaleRecorded,2026-07-14,S1\n", "looks like CSV"),
            (json.dumps([sale("S1", "r1")]) + "\n", "looks like a JSON array"),
            (json.dumps(sale("S1", "r1"), indent=2) + "\n", "spread over several lines"),
            # the plan handed to the import: 25 lines of "malformed JSON", before
            (PLAN_TOML, "plan publish FILE"),
        ],
    )
    def test_not_json_lines_says_what_to_do(
        self, url: str, tmp_path: Path, content: str, words: str
    ) -> None:
        path = tmp_path / "events.txt"
        path.write_text(content)
        before = stored_count(url)
        result = invoke_cli("import", str(path), "--db", url, "--actor", "crm")
        assert result.exit_code == 1
        assert words in result.output
        assert "JSON Lines" in result.output
        assert "line 2" not in result.output  # one message, not one per line
        assert stored_count(url) == before

    def test_a_command_without_a_file_names_no_line(self, url: str, tmp_path: Path) -> None:
        """A refused approval is about the command's options, not "line 1"."""
        events = tmp_path / "adjustment.jsonl"
        adjustment = line(
            "AdjustmentRequested",
            actor="fin-carl",
            adjustment_id="ADJ-1",
            rep_id="r1",
            period="2026-Q3",
            amount="10.00",
            reason="x",
        )
        events.write_text("\n".join(jsonl(adjustment)) + "\n")
        assert invoke_cli("import", str(events), "--db", url, "--actor", "fin-carl").exit_code == 0
        result = invoke_cli("approve", "ADJ-1", "--db", url, "--actor", "fin-carl")
        assert result.exit_code == 1
        assert "maker-checker" in result.output
        assert "line" not in result.output


def test_a_key_given_twice_chunks_apart_is_said_given_twice(db_url: str, tmp_path: Path) -> None:
    """A sale id on line 1 and again, with another amount, on line 5,002 —
    in the import's next chunk (5,000 lines each): it was refused as "already
    stored with other content", though nothing was stored; said given twice
    in the file at both lines, as within one chunk, and nothing stored. The
    file without it: the line repeated as it is, across the chunks, is skipped."""
    seeded(Ledger(db_url), "r1").close()
    repeated = jsonl(sale("S2", "r1"))[0]
    head = [*jsonl(sale("S1", "r1", "1000.00")), *[repeated] * 5_000]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([*head, *jsonl(sale("S1", "r1", "2000.00"))]) + "\n")
    before = stored_count(db_url)
    result = invoke_cli("import", str(events), "--db", db_url, "--actor", "crm", "--json")
    assert result.exit_code == 1, result.output
    [error] = json.loads(result.output)["errors"]
    assert (error["line"], error["field"]) == (5_002, "sale_id")
    assert error["reason"].startswith(
        "sale S1 is given twice in this file, at line 1 and line 5002, with other content"
    )
    assert stored_count(db_url) == before
    events.write_text("\n".join([*head, *jsonl(sale("S1", "r1", "1000.00"))]) + "\n")
    result = invoke_cli("import", str(events), "--db", db_url, "--actor", "crm")
    assert result.exit_code == 0, result.output
    assert "stored 2 events, skipped 5000" in result.output
