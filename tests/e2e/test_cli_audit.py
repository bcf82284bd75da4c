"""`audit bundle` then `audit check`, through the installed command."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from ledger.events import canonical_json
from tests.builders import process_env, run_cli


class TestAuditCommands:
    def test_bundle_then_check_then_an_edit_is_named(self, tmp_path: Path) -> None:
        """The bundle checks offline (the database removed first); an edited
        statement makes the check exit 1 naming it."""
        assert run_cli("demo", "--db", "sqlite:///demo.db", cwd=tmp_path).returncode == 0
        made = run_cli(
            "audit", "bundle", "--rep", "rep-li", "--period", "2026-Q3", "--out", "li.json",
            "--db", "sqlite:///demo.db", cwd=tmp_path,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert "wrote li.json" in made.stdout
        (tmp_path / "demo.db").unlink()  # offline: no database at all

        checked = run_cli("audit", "check", "li.json", cwd=tmp_path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "all matched" in checked.stdout
        assert "MISMATCH" not in checked.stdout

        as_json = run_cli("audit", "check", "li.json", "--json", cwd=tmp_path)
        assert as_json.returncode == 0
        report = json.loads(as_json.stdout)
        assert report["ok"] is True
        assert {f["part"] for f in report["findings"]} >= {"chain", "head", "statement", "engine"}

        doc = orjson.loads((tmp_path / "li.json").read_bytes())
        doc["statement"]["total"] = "99999.00"
        (tmp_path / "edited.json").write_bytes(canonical_json(doc))
        edited = run_cli("audit", "check", "edited.json", cwd=tmp_path)
        assert edited.returncode == 1
        assert "mismatch: statement" in edited.stderr
        assert "total" in edited.stderr
        assert "Traceback" not in edited.stderr

    def test_json_output_and_missing_file(self, tmp_path: Path) -> None:
        assert run_cli("demo", "--db", "sqlite:///demo.db", cwd=tmp_path).returncode == 0
        made = run_cli(
            "audit", "bundle", "--rep", "rep-wang", "--period", "2026-Q4", "--out", "w.json",
            "--db", "sqlite:///demo.db", "--json", cwd=tmp_path,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        summary = json.loads(made.stdout)
        assert summary["bytes"] == (tmp_path / "w.json").stat().st_size
        raw = bytearray((tmp_path / "w.json").read_bytes())
        raw[len(raw) // 2] ^= 0x01
        (tmp_path / "w.json").write_bytes(bytes(raw))
        flipped = run_cli("audit", "check", "w.json", "--json", cwd=tmp_path)
        assert flipped.returncode == 1
        assert json.loads(flipped.stdout)["ok"] is False
        packed = run_cli(
            "audit", "bundle", "--rep", "rep-wang", "--period", "2026-Q4", "--out", "w.json.gz",
            "--db", "sqlite:///demo.db", cwd=tmp_path,
        )  # fmt: skip
        assert packed.returncode == 0, packed.stderr
        assert (tmp_path / "w.json.gz").read_bytes()[:2] == b"\x1f\x8b"
        assert run_cli("audit", "check", "w.json.gz", cwd=tmp_path).returncode == 0
        missing = run_cli("audit", "check", "nothing.json", cwd=tmp_path)
        assert missing.returncode == 2
        assert "cannot read nothing.json" in missing.stderr

    def test_an_hmac_bundle_says_the_key_is_needed(self, tmp_path: Path) -> None:
        env = {**process_env(), "LEDGER_CHAIN_KEY": "e2e-chain-key-0123456789"}
        assert run_cli("demo", "--db", "sqlite:///demo.db", cwd=tmp_path, env=env).returncode == 0
        made = run_cli(
            "audit", "bundle", "--rep", "rep-chen", "--period", "2026-Q3", "--out", "c.json",
            "--db", "sqlite:///demo.db", cwd=tmp_path, env=env,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        bare = {k: v for k, v in process_env().items() if not k.startswith("LEDGER_CHAIN_KEY")}
        without = run_cli("audit", "check", "c.json", cwd=tmp_path, env=bare)
        assert without.returncode == 2
        assert "needs the chain key" in without.stderr
        with_env = run_cli("audit", "check", "c.json", cwd=tmp_path, env=env)
        assert with_env.returncode == 0, with_env.stderr
        with_option = run_cli(
            "audit", "check", "c.json", "--key", "e2e-chain-key-0123456789", cwd=tmp_path, env=bare
        )
        assert with_option.returncode == 0, with_option.stderr
