"""`incentive-ledger --help` and every command's: each command says what it
does in one line, and each of its options and arguments says what it takes —
an option listed bare (`--host <str>`) or an argument with nothing beside it
(`run_id <str>`) leaves a newcomer guessing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

import cli


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group below ``command``, with the words that call it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(cli.app)))


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(path) or "root" for path, _ in COMMANDS]
)
def test_the_command_and_everything_it_takes_is_explained(
    path: tuple[str, ...], command: Any
) -> None:
    assert (command.help or "").strip(), f"{' '.join(path)}: no description"
    bare = [
        param.name
        for param in command.params
        if param.name != "help" and not (getattr(param, "help", None) or "").strip()
    ]
    assert bare == [], f"{' '.join(path) or 'incentive-ledger'}: no help for {bare}"
    shown = CliRunner().invoke(cli.app, [*path, "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "Usage: incentive-ledger" in shown.output


def test_commands_that_record_nothing_do_not_say_their_actor_records() -> None:
    """`whatif`, `plan check` and `estimate` take --actor for their dry run; its
    help said "Who records this" of commands that record nothing."""
    for path in (("whatif",), ("plan", "check"), ("estimate",)):
        shown = CliRunner().invoke(cli.app, [*path, "--help"], env={"COLUMNS": "200"})
        said = " ".join(shown.output.split())
        assert "Who records this" not in said, path
        assert "Nothing is recorded" in said, path


@pytest.mark.parametrize("path", [("statement",), ("diff",)], ids=["statement", "diff"])
def test_a_point_in_the_log_says_a_timestamp_needs_its_offset(path: tuple[str, ...]) -> None:
    """A timestamp without an offset is refused; the help said "timestamp" only."""
    shown = CliRunner().invoke(cli.app, [*path, "--help"], env={"COLUMNS": "200"})
    assert "timestamp with its offset" in " ".join(shown.output.split())


def test_project_check_says_what_it_prints() -> None:
    """The worker's health check prints the position and the lag; its help said
    only "Exit 0 when the projections are reachable"."""
    shown = CliRunner().invoke(cli.app, ["project", "--help"], env={"COLUMNS": "200"})
    said = " ".join(shown.output.replace("│", " ").split())
    assert "Print the projections' position and how many events they are behind" in said
