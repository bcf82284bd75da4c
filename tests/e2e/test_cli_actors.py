"""SPEC §2 "Actors are identities" on the command line (issue 16, acceptance 5):
``--actor`` on every command that records, the login-name default, and
``token create``. Each spelling of alice either is alice — and is refused as
the checker of what alice recorded — or is refused as no actor at all.

In process through typer's CliRunner (one subprocess run checks the installed
command the same way)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import cli
from api.settings import get_settings
from ledger.application import Ledger
from tests.builders import ROOT, enrol, jsonl, line, process_env, stored_count
from tests.unit.test_actors import SPELLINGS_OF_ALICE

PLAN = ROOT / "samples" / "field-sales.toml"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This test's settings only (a developer's own LEDGER_ ones would leak in)."""
    for key in list(os.environ):
        if key.startswith("LEDGER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LEDGER_TOKEN_SECRET", "cli-test-secret-0123456789abcdef")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _cli(*args: str) -> Result:
    return runner.invoke(cli.app, list(args), catch_exceptions=False)


@pytest.fixture
def alice_recorded(tmp_path: Path) -> tuple[str, str]:
    """A ledger where alice recorded a target set after its period began (it needs
    a checker) and a payout run; the database URL and the run id."""
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    reps = tmp_path / "reps.jsonl"
    reps.write_text("\n".join(jsonl(enrol("rep-li"))) + "\n", encoding="utf-8")
    assert (
        _cli("import", str(reps), "--plan", str(PLAN), "--db", db, "--actor", "hr").exit_code == 0
    )
    target = tmp_path / "target.jsonl"
    late = {
        k: v
        for k, v in line(
            "TargetSet",
            at="2026-08-01T09:00:00+08:00",
            target_id="T-LATE",
            rep_id="rep-li",
            period="2026-Q3",
            kpi="sales_amount",
            value="150000",
            reason="raised mid-quarter",
        ).items()
        if k != "actor"  # recorded by --actor
    }
    target.write_text(json.dumps(late) + "\n", encoding="utf-8")
    recorded = _cli("import", str(target), "--db", db, "--actor", "alice")
    assert recorded.exit_code == 0, recorded.output
    run = _cli("payout", "run", "--period", "2026-Q3", "--db", db, "--actor", "Alice", "--json")
    assert run.exit_code == 0, run.output
    return db, json.loads(run.stdout)["run_id"]


def _approval_file(tmp_path: Path, subject_id: str, **fields: str) -> Path:
    """A file of one line, the approval of ``subject_id`` (``fields``: e.g. its own actor)."""
    path = tmp_path / f"approve-{subject_id}.jsonl"
    approval = {
        "type": "ApprovalGranted",
        "occurred_at": "2026-08-02T09:00:00+08:00",
        **fields,
        "subject_id": subject_id,
    }
    path.write_text(json.dumps(approval) + "\n", encoding="utf-8")
    return path


class TestNoSecondApproverBySpelling:
    @pytest.mark.parametrize("spelling", list(SPELLINGS_OF_ALICE))
    def test_import_an_approval_as_a_spelling_of_alice(
        self, alice_recorded: tuple[str, str], tmp_path: Path, spelling: str
    ) -> None:
        """``import approvals.jsonl --actor <spelling>`` of alice's target: refused, nothing stored."""
        db, _ = alice_recorded
        before = stored_count(db)
        result = _cli(
            "import", str(_approval_file(tmp_path, "T-LATE")), "--db", db, "--actor", spelling
        )
        assert result.exit_code != 0, result.output
        if SPELLINGS_OF_ALICE[spelling] is None:
            assert result.exit_code == 2
            assert "--actor" in result.stderr
            assert "not a valid actor" in result.stderr
        else:
            assert "maker-checker" in result.stderr
        assert stored_count(db) == before

    @pytest.mark.parametrize("spelling", list(SPELLINGS_OF_ALICE))
    def test_payout_approve_as_a_spelling_of_alice(
        self, alice_recorded: tuple[str, str], spelling: str
    ) -> None:
        """``payout approve RUN --actor <spelling>`` of alice's run: refused, nothing stored."""
        db, run_id = alice_recorded
        before = stored_count(db)
        result = _cli("payout", "approve", run_id, "--db", db, "--actor", spelling)
        assert result.exit_code != 0, result.output
        if SPELLINGS_OF_ALICE[spelling] is None:
            assert result.exit_code == 2
            assert "not a valid actor" in result.stderr
        else:
            assert "maker-checker" in result.stderr
        assert stored_count(db) == before

    def test_an_import_lines_own_actor_is_normalised(
        self, alice_recorded: tuple[str, str], tmp_path: Path
    ) -> None:
        """A line naming ``ＡＬＩＣＥ`` as its actor is alice: refused as her own checker."""
        db, _ = alice_recorded
        own = _approval_file(tmp_path, "T-LATE", actor="ＡＬＩＣＥ")
        result = _cli("import", str(own), "--db", db, "--actor", "fin-bob")
        assert result.exit_code == 1
        assert "maker-checker" in result.stderr

    def test_another_person_approves(self, alice_recorded: tuple[str, str], tmp_path: Path) -> None:
        """The control: fin-bob approves both the target and the run."""
        db, run_id = alice_recorded
        target = _cli(
            "import", str(_approval_file(tmp_path, "T-LATE")), "--db", db, "--actor", "Fin-Bob"
        )
        assert target.exit_code == 0, target.output
        run = _cli("payout", "approve", run_id, "--db", db, "--actor", "fin-bob")
        assert run.exit_code == 0, run.output

    def test_the_installed_command_refuses_the_same(self, alice_recorded: tuple[str, str]) -> None:
        """The same rule through the installed ``incentive-ledger`` in a subprocess."""
        db, run_id = alice_recorded
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "incentive-ledger"),
                "payout",
                "approve",
                run_id,
                "--db",
                db,
                "--actor",
                "ａｌｉｃｅ",
            ],
            env=process_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        assert "maker-checker" in done.stderr


class TestStoredActors:
    def test_recorded_actors_are_stored_normalised(self, alice_recorded: tuple[str, str]) -> None:
        """``--actor Alice`` (the run) and ``--actor alice`` (the target) are one actor."""
        db, _ = alice_recorded
        ledger = Ledger(db)
        try:
            actors = {r.type: r.actor for r in ledger.iter_log()}
        finally:
            ledger.close()
        assert actors["TargetSet"] == "alice"
        assert actors["PayoutCalculated"] == "alice"


class TestLoginNameDefault:
    def test_a_login_name_is_normalised(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without --actor, the login name is the actor, in normal form."""
        monkeypatch.setattr(cli.getpass, "getuser", lambda: "Alice")
        db = f"sqlite:///{tmp_path / 'ledger.db'}"
        assert _cli("plan", "publish", str(PLAN), "--db", db).exit_code == 0
        ledger = Ledger(db)
        try:
            assert [r.actor for r in ledger.iter_log()] == ["alice"]
        finally:
            ledger.close()

    @pytest.mark.parametrize("login", ["Alice Smith", "alice\u200b", "Ａｌｉｃｅ Ｗ"])
    def test_a_login_name_that_is_no_actor_says_to_pass_actor(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, login: str
    ) -> None:
        monkeypatch.setattr(cli.getpass, "getuser", lambda: login)
        db = f"sqlite:///{tmp_path / 'ledger.db'}"
        result = _cli("plan", "publish", str(PLAN), "--db", db)
        assert result.exit_code == 2
        assert "pass --actor" in result.stderr
        assert not (tmp_path / "ledger.db").exists() or stored_count(db) == 0

    def test_no_login_name_says_to_pass_actor(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def no_user() -> str:
            raise KeyError("uid 1234 has no name")

        monkeypatch.setattr(cli.getpass, "getuser", no_user)
        result = _cli("plan", "publish", str(PLAN), "--db", f"sqlite:///{tmp_path / 'l.db'}")
        assert result.exit_code == 2
        assert "pass --actor" in result.stderr


class TestTokenCreate:
    @pytest.mark.parametrize("spelling", list(SPELLINGS_OF_ALICE))
    def test_a_token_only_for_a_valid_actor(self, tmp_path: Path, spelling: str) -> None:
        """``token create --actor <spelling>``: alice's token, or refused naming --actor."""
        db = f"sqlite:///{tmp_path / 'ledger.db'}"
        result = _cli("token", "create", "--actor", spelling, "--role", "finance", "--db", db)
        if SPELLINGS_OF_ALICE[spelling] is None:
            assert result.exit_code == 2
            assert "--actor" in result.stderr
            assert "not a valid actor" in result.stderr
            return
        assert result.exit_code == 0, result.output
        ledger = Ledger(db)
        try:
            rows = ledger.factory.datastore.transaction(commit=False)  # type: ignore[attr-defined]
            with rows as c:
                c.execute("SELECT actor FROM api_tokens")
                assert [r[0] for r in c.fetchall()] == ["alice"]
        finally:
            ledger.close()
