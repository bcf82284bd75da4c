"""Locales and options with a fixed set of values on the CLI (SPEC §4, §5):
`--locale en|zh-CN` on statement, diff and history; each such option lists its
values in --help and refuses others."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from api.tokens import ROLES
from demo import DemoResult
from ledger.events import DisputeResolved
from policies.wording import LOCALES
from tests.builders import demo_database

runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, DemoResult]:
    return demo_database(tmp_path_factory.mktemp("locale"))


def _run(*args: str) -> typing.Any:
    return runner.invoke(cli.app, list(args))


def test_the_fixed_values_are_the_ones_the_code_knows() -> None:
    assert typing.get_args(cli.Locale) == LOCALES
    assert typing.get_args(cli.Role) == ROLES
    assert typing.get_args(cli.Outcome) == typing.get_args(
        DisputeResolved.model_fields["outcome"].annotation
    )


@pytest.mark.parametrize(
    ("command", "values"),
    [
        (["statement"], "en|zh-CN"),
        (["demo"], "en|zh-CN"),
        (["diff"], "en|zh-CN"),
        (["history"], "en|zh-CN"),
        (["token", "create"], "rep|manager|finance|compliance|integration|admin"),
        (["payout", "export"], "csv|xlsx"),
        (["dispute", "resolve"], "<upheld|rejected>"),
        (["runs"], "calculated|approved|rejected|paid"),
        (["disputes"], "open|resolved"),
        # (it said "default: the mapping's, else UTF-8": a UTF-8 file is read as UTF-8 first)
        (
            ["import"],
            "default: UTF-8 if the file is UTF-8, else the mapping's encoding, else refused",
        ),
    ],
)
def test_help_lists_the_values(command: list[str], values: str) -> None:
    result = runner.invoke(cli.app, [*command, "--help"], env={"COLUMNS": "200"})  # no wrapping
    assert result.exit_code == 0
    assert values in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["statement", "--rep", "rep-li", "--period", "2026-Q3", "--locale", "fr"],
        [
            "diff",
            "--rep",
            "rep-li",
            "--period",
            "2026-Q3",
            "--from",
            "1",
            "--to",
            "2",
            "--locale",
            "fr",
        ],
        ["history", "--rep", "rep-wang", "--locale", "fr"],
        ["token", "create", "--actor", "a", "--role", "wizard"],
        ["payout", "export", "run-1", "--format", "xml"],
        ["dispute", "resolve", "DSP-1", "--outcome", "maybe", "--note", "n"],
        ["runs", "--status", "lost"],
        ["disputes", "--status", "closed"],
    ],
)
def test_another_value_is_refused(command: list[str], tmp_path: Path) -> None:
    """`--locale fr` was silently English."""
    result = _run(*command, "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert result.exit_code == 2
    assert "Invalid value" in result.output
    assert not (tmp_path / "none.db").exists()


class TestChinese:
    def test_demo_in_chinese(self, tmp_path: Path) -> None:
        """SPEC §4: --locale on every command that prints a statement; demo had none."""
        zh = _run("demo", "--locale", "zh-CN", "--db", f"sqlite:///{tmp_path / 'zh.db'}")
        assert zh.exit_code == 0, zh.output
        assert zh.output.startswith("已记录 67 个事件")
        assert "对账单 销售代表 rep-li · 期间 2026-Q3" in zh.output
        assert "继续查看" in zh.output
        assert "Statement rep" not in zh.output

    def test_history_in_chinese(self, demo: tuple[str, DemoResult]) -> None:
        """history had no --locale."""
        url, _ = demo
        zh = _run("history", "--rep", "rep-wang", "--locale", "zh-CN", "--db", url)
        assert zh.exit_code == 0, zh.output
        assert "销售代表 rep-wang 的纪律记录" in zh.output
        assert "案件" in zh.output
        en = _run("history", "--rep", "rep-wang", "--db", url)
        assert "Disciplinary history of rep rep-wang" in en.output

    def test_diff_in_chinese(self, demo: tuple[str, DemoResult]) -> None:
        url, result = demo
        to = result.adjustment_approval
        args = ["diff", "--rep", "rep-li", "--period", "2026-Q3", "--from", str(to - 1)]
        zh = _run(*args, "--to", str(to), "--locale", "zh-CN", "--db", url)
        assert zh.exit_code == 0, zh.output
        assert zh.output.startswith("差异 销售代表 rep-li")
        assert "调整" in zh.output

    def test_statement_in_chinese(self, demo: tuple[str, DemoResult]) -> None:
        url, _ = demo
        zh = _run(
            "statement", "--rep", "rep-li", "--period", "2026-Q3", "--locale", "zh-CN", "--db", url
        )
        assert zh.exit_code == 0, zh.output
        assert "对账单 销售代表 rep-li" in zh.output
        assert "合计" in zh.output

    def test_json_carries_the_words_of_the_locale(self, demo: tuple[str, DemoResult]) -> None:
        url, _ = demo
        zh = _run("history", "--rep", "rep-wang", "--locale", "zh-CN", "--json", "--db", url)
        assert zh.exit_code == 0, zh.output
        assert "案件" in zh.output
