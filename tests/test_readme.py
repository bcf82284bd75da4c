"""README.md and ARCHITECTURE.md say what the code does: every command line they
show names a real command and real options, the configuration table is the
settings, the PostgreSQL URL's defaults are the parser's, and the commands said
to start a ledger in an empty database are the ones that do.

(The README's worked examples run elsewhere: the demo in `tests/e2e/test_cli_demo.py`,
the quarter close in `tests/e2e/test_quarter_close.py`, the grants in
`tests/integration/test_pg_least_privilege.py`, the compose file in
`tests/test_compose.py`, the performance commands in `tests/e2e/test_bench.py`.)
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

import cli
from api.settings import LOG_LEVELS, Settings
from ledger.storage import PostgresURL
from tests.builders import ROOT, SAMPLE_EVENTS, process_env, run_cli
from tests.payout_scenes import cli as run

DOCS = ("README.md", "ARCHITECTURE.md")
COMMANDS = typer.main.get_command(cli.app)
# Where a shell line's command ends: a comment, a pipe, a redirect, `&&`, `)`.
_END = re.compile(r"\s(?:#|&&|\|\||\||>|<|;)|\)")


def _words(doc: str) -> str:
    return " ".join((ROOT / doc).read_text(encoding="utf-8").split())


def _command_lines() -> Iterator[tuple[str, str]]:
    """Each `incentive-ledger ...` in a fenced block, as (where, what follows)."""
    for doc in DOCS:
        text = (ROOT / doc).read_text(encoding="utf-8").replace("\\\n", " ")
        fenced = False
        for number, line in enumerate(text.splitlines(), 1):
            if line.startswith("```"):
                fenced = not fenced
            elif fenced:
                for found in re.finditer(r"(?<![\w/-])incentive-ledger\s+(.*)", line):
                    yield f"{doc}:{number}", _END.split(found.group(1), maxsplit=1)[0]


LINES = list(_command_lines())


def _leaf(words: list[str]) -> tuple[list[str], Any]:
    """The command ``words`` start with (its path), the rest left in ``words``."""
    command, path = COMMANDS, []
    while hasattr(command, "commands") and words and words[0] in command.commands:
        path.append(words[0])
        command = command.commands[words.pop(0)]
    return path, command


def _options(command: Any) -> set[str]:
    return {
        opt
        for param in command.params
        for opt in (*param.opts, *getattr(param, "secondary_opts", []))
    } | {"--help"}


class TestCommandLines:
    def test_the_docs_show_commands(self) -> None:
        assert len(LINES) > 50

    @pytest.mark.parametrize(("where", "line"), LINES, ids=[where for where, _ in LINES])
    def test_each_names_a_real_command_and_its_options(self, where: str, line: str) -> None:
        """A usage line's ``[--opt X]`` and ``--a|--b`` read as the options they list."""
        words = [
            word
            for token in shlex.split(line.replace("[", " ").replace("]", " "))
            for word in (token.split("|") if token.startswith("--") else [token])
        ]
        path, command = _leaf(words)
        assert not hasattr(command, "commands"), f"{where}: no such command: {line}"
        unknown = [
            word.split("=")[0]
            for word in words
            if word.startswith("--") and word.split("=")[0] not in _options(command)
        ]
        assert unknown == [], f"{where}: `{' '.join(path)}` takes no {unknown}"
        # a file the docs hand a newcomer is shipped (the quarter close named an
        # adjustments.jsonl nobody had)
        shipped = [word for word in words if word.startswith("samples/")]
        assert all((ROOT / word).is_file() for word in shipped), f"{where}: {shipped}"


def _table_rows(heading: str) -> dict[str, str]:
    """The rows of the first table after ``heading``, by their first cell's code."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    rows: dict[str, str] = {}
    for line in section.splitlines()[1:]:
        if line.startswith("## "):
            break
        if found := re.match(r"\| `([A-Z_]+)` \|(.*)", line):
            rows[found.group(1)] = found.group(2)
    return rows


class TestConfiguration:
    def test_the_table_names_every_setting_and_no_other(self) -> None:
        rows = _table_rows("## Configuration")
        settings = {
            f"LEDGER_{name.upper()}"
            for name in Settings.model_fields
            if not name.endswith("_file")  # the _FILE forms: the paragraph below the table
        }
        assert set(rows) == settings

    def test_the_tls_proxy_is_told_to_send_strict_transport_security(self) -> None:
        """The server sends no Strict-Transport-Security (it may be reached over
        plain http on 127.0.0.1): where the README says to run it behind a TLS
        proxy, it says the proxy should send it — and the server sends none."""
        assert (
            "Strict-Transport-Security" in _table_rows("## Configuration")["LEDGER_SECURE_COOKIES"]
        )
        sources = (ROOT / "api").rglob("*.py")
        assert not [p for p in sources if "strict-transport" in p.read_text("utf-8").lower()]

    def test_the_defaults_and_values_are_the_settings(self) -> None:
        rows = _table_rows("## Configuration")
        fields = Settings.model_fields
        assert f"`{fields['max_body_bytes'].default}`" in rows["LEDGER_MAX_BODY_BYTES"]
        assert f"`{fields['max_events'].default}`" in rows["LEDGER_MAX_EVENTS"]
        assert f"`{fields['log_level'].default}`" in rows["LEDGER_LOG_LEVEL"]
        for level in LOG_LEVELS:
            assert f"`{level}`" in rows["LEDGER_LOG_LEVEL"], level

    def test_the_secrets_commands_named_need_the_token_secret(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`token revoke` needs LEDGER_TOKEN_SECRET too; the table named only two."""
        monkeypatch.delenv("LEDGER_TOKEN_SECRET", raising=False)
        row = _table_rows("## Configuration")["LEDGER_TOKEN_SECRET"]
        named = re.findall(r"`([a-z]+(?: [a-z]+)?)`", row.split("refuse")[0])
        assert named == ["serve", "token create", "token revoke"]
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        assert (
            run("import", str(SAMPLE_EVENTS), "--plan", _VALUES["plan"], "--db", url).exit_code == 0
        )
        for command in (
            ["token", "create", "--actor", "a", "--role", "admin"],
            ["token", "revoke", "x"],
        ):
            refused = run(*command, "--db", url)
            assert refused.exit_code == 2
            assert "LEDGER_TOKEN_SECRET" in refused.output


class TestPostgreSQL:
    def test_the_url_parameters_defaults_are_the_parsers(self) -> None:
        """`connect_timeout` was said to default to 10 s; it is 5."""
        text = _words("README.md")
        found = re.search(
            r"`schema` \(default `(\w+)`\), `pool_size` \((\d+)\), `max_overflow` \((\d+)\),"
            r" `create_tables` \(`(\w+)`;.*?`connect_timeout` \(default (\d+) s\)",
            text,
        )
        assert found is not None
        defaults = {f.name: f.default for f in dataclasses.fields(PostgresURL)}
        assert found.groups() == (
            defaults["schema"],
            str(defaults["pool_size"]),
            str(defaults["max_overflow"]),
            defaults["create_tables"],
            str(defaults["connect_timeout_s"]),
        )


# A value for each required option or argument, by its name: what a user types.
_VALUES = {
    "period": "2026-Q3",
    "rep": "rep-li",
    "amount": "100",
    "from_": "1",
    "to": "2",
    "role": "admin",
    "outcome": "rejected",
    "plan": str(ROOT / "samples" / "field-sales.toml"),
    "file": str(ROOT / "samples" / "field-sales.toml"),
}


def _leaves(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, sub in getattr(command, "commands", {}).items():
        if hasattr(sub, "commands"):
            yield from _leaves(sub, (*path, name))
        else:
            yield (*path, name)


def _arguments(path: tuple[str, ...], out: Path) -> list[str]:
    """The command's required options and arguments, filled in."""
    _, command = _leaf(list(path))
    args = list(path)
    for param in command.params:
        if not param.required:
            continue
        value = str(out) if param.name == "out" else _VALUES.get(param.name, "x")
        if path == ("import",):
            value = str(SAMPLE_EVENTS)
        args += [param.opts[0], value] if param.param_type_name == "option" else [value]
    return args


# `serve` starts a server, `audit check` opens no database.
_NOT_RUN = {("serve",), ("audit", "check")}
LEAVES = [path for path in _leaves(COMMANDS) if path not in _NOT_RUN]


def test_only_the_commands_named_start_a_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every other command on an empty database says so and exits 2 (the README
    listed some of them, `summary`, `approve` or `whatif` not among them)."""
    monkeypatch.setenv("LEDGER_TOKEN_SECRET", "readme-token-secret-0123456789")
    text = _words("README.md")
    end = text.index(" start a ledger in a database that holds none")
    sentence = text[text.rindex("Only ", 0, end) : end]
    named = {tuple(name.split()) for name in re.findall(r"`([a-z ]+)`", sentence)}
    started = set()
    for path in LEAVES:
        database = tmp_path / "-".join(path) / "ledger.db"
        database.parent.mkdir()
        result = run(*_arguments(path, database.parent / "out"), "--db", f"sqlite:///{database}")
        if database.exists():
            started.add(path)
        else:
            assert result.exit_code == 2, (path, result.output)
            assert "no ledger at" in result.output, (path, result.output)
    assert started == named - _NOT_RUN


def _masked(text: str) -> str:
    """``text`` with what changes from one demo to the next masked: the run id
    (a random suffix), event ids and chain hashes (the moment it records)."""
    text = re.sub(r"run-\d{4}-Q\d-[0-9a-f]{8}", "RUN", text)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID", text)
    return re.sub(r"\b[0-9a-f]{64}\b", "HASH", text).strip()


def test_the_demo_prints_what_the_readme_shows(tmp_path: Path) -> None:
    """The README's demo output, line for line, at its 100 columns."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("```text\nRecorded 67 events") + len("```text\n")
    shown = text[start : text.index("```", start)]
    demo = run_cli("demo", cwd=tmp_path, env=process_env(COLUMNS="100"))
    assert demo.returncode == 0, demo.stderr
    assert _masked(demo.stdout).splitlines() == _masked(shown).splitlines()
