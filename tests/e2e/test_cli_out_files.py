"""Every command that writes a file (`payout export --out`, `whatif --csv`,
`audit bundle --out`), told a path it cannot write: one line naming the option
and the path, exit 2 — never a traceback (SPEC §7)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from demo import PLAN_TOML, run_demo
from ledger.application import Ledger
from tests.builders import ROOT
from tests.payout_scenes import cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    """The demo's database (its URL), its paid run and a candidate plan."""
    folder = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{folder / 'ledger.db'}"
    ledger = Ledger(url)
    try:
        run_id = run_demo(ledger).run_id
    finally:
        ledger.close()
    plan = folder / "candidate.toml"
    plan.write_text(PLAN_TOML.replace("version = 1", "version = 2"), encoding="utf-8")
    return url, run_id, plan


def _commands(run_id: str, plan: Path, path: str) -> dict[str, tuple[str, list[str]]]:
    """Each command that writes a file, writing ``path``: (its option, its arguments)."""
    export = ["payout", "export", run_id, "--format"]
    whatif = ["whatif", "--plan", str(plan), "--period", "2026-Q4", "--actor", "fin-amy"]
    bundle = ["audit", "bundle", "--rep", "rep-li", "--period", "2026-Q3"]
    return {
        "export csv": ("--out", [*export, "csv", "--out", path]),
        "export xlsx": ("--out", [*export, "xlsx", "--out", path]),
        "whatif": ("--csv", [*whatif, "--csv", path]),
        "bundle": ("--out", [*bundle, "--out", path]),
    }


_UNWRITABLE = {
    "no such directory": ("/nonexistent-dir/out.file", "No such file or directory"),
    "under a file": (str(ROOT / "README.md" / "out.file"), "Not a directory"),
}


@pytest.mark.parametrize("where", sorted(_UNWRITABLE))
@pytest.mark.parametrize("command", ["export csv", "export xlsx", "whatif", "bundle"])
def test_a_path_that_cannot_be_written_is_one_line_and_exit_2(
    demo: tuple[str, str, Path], command: str, where: str
) -> None:
    url, run_id, plan = demo
    path, reason = _UNWRITABLE[where]
    option, args = _commands(run_id, plan, path)[command]
    result = cli(*args, "--db", url)
    assert result.exit_code == 2, result.output
    assert f"error: {option}: cannot write {path}: {reason}" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, OSError), result.exception


@pytest.mark.parametrize("command", ["export csv", "export xlsx", "whatif", "bundle"])
def test_a_path_that_can_be_written_is(
    demo: tuple[str, str, Path], tmp_path: Path, command: str
) -> None:
    url, run_id, plan = demo
    path = tmp_path / "out.file"
    _, args = _commands(run_id, plan, str(path))[command]
    result = cli(*args, "--db", url)
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0


def test_every_file_the_cli_writes_goes_through_one_helper() -> None:
    """A new command writing a file reuses `_write_file` (and its one-line
    refusal) rather than calling ``write_bytes`` itself."""
    source = (ROOT / "cli.py").read_text(encoding="utf-8")
    writes = re.findall(r"\.write_(?:bytes|text)\(|open\([^)]*[\"'][wax]b?[\"']", source)
    assert writes == [".write_bytes("], writes
