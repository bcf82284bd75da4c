"""Golden terminal output in Simplified Chinese (SPEC §4, issue 19): the demo
quarter's `statement` (every line, and the summary), `history` and `diff` at a
narrow (60 columns) and a wide (160) terminal, compared with the files under
tests/golden/zh-CN/ — and, whatever the goldens say, no character lost: every
amount, id and word of the JSON output is in the text, in order (a narrow
column folds a word too long for it, never cuts it with an ellipsis; Chinese
characters count two columns).

The values a demo run draws anew (the payout run's id, its payment's event id,
the chain head) are replaced by placeholders before comparing. To write the
goldens again after a deliberate change of the output, run
``UPDATE_GOLDENS=1 pytest tests/e2e/test_cli_zh_goldens.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import cli
from demo import DemoResult
from tests.builders import demo_database

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "zh-CN"
WIDTHS = (60, 160)
runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, DemoResult]:
    return demo_database(tmp_path_factory.mktemp("zh"))


def _commands(result: DemoResult) -> dict[str, list[str]]:
    to = result.adjustment_approval
    statement = ["statement", "--rep", "rep-li", "--period", "2026-Q3"]
    window = ["--from", str(to - 1), "--to", str(to)]
    return {
        "statement": [*statement, "--full"],
        "statement-summary": [*statement, "--summary"],
        "history": ["history", "--rep", "rep-wang"],
        "diff": ["diff", "--rep", "rep-li", "--period", "2026-Q3", *window],
    }


def _run(url: str, args: list[str], width: int, *extra: str) -> str:
    result = runner.invoke(
        cli.app, [*args, "--locale", "zh-CN", "--db", url, *extra], env={"COLUMNS": str(width)}
    )
    assert result.exit_code == 0, result.output
    return result.output


def _drawn_anew(url: str) -> dict[str, str]:
    """Values of this demo run that another run draws differently."""
    doc = json.loads(
        _run(url, ["statement", "--rep", "rep-li", "--period", "2026-Q3"], 160, "--json")
    )
    return {
        doc["paid"]["run_id"]: "<run-id>",
        doc["paid"]["paid_event_id"]: "<paid-event-id>",
        doc["chain_head"]["hash"]: "<chain-hash>",
    }


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["statement", "statement-summary", "history", "diff"])
def test_the_output_is_the_golden_one(demo: tuple[str, DemoResult], name: str, width: int) -> None:
    url, result = demo
    output = _run(url, _commands(result)[name], width)
    for value, placeholder in _drawn_anew(url).items():
        output = output.replace(value, placeholder)
    golden = GOLDEN / f"{name}-{width}.txt"
    if os.environ.get("UPDATE_GOLDENS"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(output, encoding="utf-8")
    assert output == golden.read_text(encoding="utf-8")


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _column(output: str, index: int) -> str:
    """The text of one column of the table's rows, read down, without spaces."""
    cells = [line.split("│")[index + 1] for line in output.splitlines() if line.startswith("│")]
    return _squeezed("".join(cells))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["statement", "statement-summary"])
def test_no_character_of_a_statement_is_lost(
    demo: tuple[str, DemoResult], name: str, width: int
) -> None:
    url, result = demo
    args = _commands(result)[name]
    output = _run(url, args, width)
    doc: dict[str, Any] = json.loads(_run(url, args, width, "--json"))
    assert "…" not in output
    lines = doc["lines"]
    explained = "".join("•" + step["text"] for line in lines for step in line["explanation"])
    assert _column(output, 2) == _squeezed(explained)
    amounts = _column(output, 1)
    assert amounts == "".join(line["amount"] for line in lines) + doc["total"] + doc["payable"]
    for line in lines:
        assert line.get("category") is None or line["category"] in _column(output, 0)
    for fragment in (
        doc["paid"]["run_id"],
        doc["paid"]["paid_event_id"],
        doc["chain_head"]["hash"],
        *(e["event_id"] for e in doc["later_events"]),
        "对账单 销售代表 rep-li",
        "其更正记入 2026-Q4",
    ):
        assert fragment in output


@pytest.mark.parametrize("width", WIDTHS)
def test_no_character_of_a_history_or_diff_is_lost(
    demo: tuple[str, DemoResult], width: int
) -> None:
    url, result = demo
    commands = _commands(result)
    history = _run(url, commands["history"], width)
    entries = json.loads(_run(url, commands["history"], width, "--json"))
    assert entries
    for entry in entries:
        assert entry["text"] in history
    diff = _run(url, commands["diff"], width)
    doc = json.loads(_run(url, commands["diff"], width, "--json"))
    assert doc["text"] in diff
    assert doc["changes"]
    for change in doc["changes"]:
        assert change["text"] in diff
        for event in change["events_added"]:
            assert event["event_id"] in diff
    assert "…" not in history + diff


@pytest.mark.parametrize("command", ["statement", "history", "diff"])
def test_an_unknown_locale_is_refused(demo: tuple[str, DemoResult], command: str) -> None:
    url, result = demo
    args = _commands(result)[command]
    refused = runner.invoke(cli.app, [*args, "--locale", "xx", "--db", url])
    assert refused.exit_code == 2
    assert "Invalid value" in refused.output
    assert "en" in refused.output
    assert "zh-CN" in refused.output
