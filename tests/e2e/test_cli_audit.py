"""`audit bundle` then `audit check`, through the installed command."""

from __future__ import annotations

import json
import subprocess
import zlib
from pathlib import Path

import orjson
import pytest

from ledger.events import canonical_json
from tests.builders import invoke_cli, process_env, run_cli


def _demo_bundle(folder: Path, rep: str, period: str, out: str) -> subprocess.CompletedProcess[str]:
    """`demo` into ``folder``/demo.db, then `audit bundle` of ``rep`` and
    ``period`` to ``out`` there; the bundle command's result."""
    assert run_cli("demo", "--db", "sqlite:///demo.db", cwd=folder).returncode == 0
    made = run_cli(
        "audit", "bundle", "--rep", rep, "--period", period, "--out", out,
        "--db", "sqlite:///demo.db", cwd=folder,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return made


class TestAuditCommands:
    def test_bundle_then_check_then_an_edit_is_named(self, tmp_path: Path) -> None:
        """The bundle checks offline (the database removed first); an edited
        statement makes the check exit 1 naming it."""
        made = _demo_bundle(tmp_path, "rep-li", "2026-Q3", "li.json")
        assert "wrote li.json" in made.stdout
        (tmp_path / "demo.db").unlink()  # offline: no database at all

        checked = run_cli("audit", "check", "li.json", cwd=tmp_path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "all matched" in checked.stdout
        assert "MISMATCH" not in checked.stdout
        said = " ".join(checked.stdout.split())
        # all matched is not all proven: the demo's chain is plain and unanchored
        assert "not proven: that these events are the ledger's" in said
        assert "not proven: that none of the rep's events was left out" in said

        as_json = run_cli("audit", "check", "li.json", "--json", cwd=tmp_path)
        assert as_json.returncode == 0
        report = json.loads(as_json.stdout)
        assert report["ok"] is True
        assert len(report["unproven"]) == 2
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

    def test_an_anchor_is_checked_and_a_bad_one_named(self, tmp_path: Path) -> None:
        """--anchor POSITION:HASH: the bundle's own head matches, another hash at
        that position is a mismatch naming the anchor, a malformed one is one
        line and exit 2."""
        _demo_bundle(tmp_path, "rep-chen", "2026-Q4", "c.json")
        head = orjson.loads((tmp_path / "c.json").read_bytes())["chain"]["head"]
        anchor = f"{head['position']}:{head['hash']}"
        matched = run_cli("audit", "check", "c.json", "--anchor", anchor, cwd=tmp_path)
        assert matched.returncode == 0, matched.stdout + matched.stderr
        assert f"they pass through the anchor {anchor}" in " ".join(matched.stdout.split())
        other = f"{head['position']}:{'0' * 64}"
        mismatched = run_cli("audit", "check", "c.json", "--anchor", other, cwd=tmp_path)
        assert mismatched.returncode == 1
        assert f"mismatch: anchor {head['position']}: the links recompute to" in (mismatched.stderr)
        malformed = run_cli("audit", "check", "c.json", "--anchor", "12", cwd=tmp_path)
        assert malformed.returncode == 2
        assert malformed.stderr.strip().splitlines() == [
            "error: --anchor: an anchor is POSITION:HASH, e.g. 1234:9f86d0…, got '12'"
        ]

    def test_a_gzip_bomb_is_one_line_and_exit_1(self, tmp_path: Path) -> None:
        """A few KB inflating to tens of MB: refused before it is parsed, one
        line naming the file, no traceback."""
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        bomb = packer.compress(b"0" * (40 * 1024 * 1024)) + packer.flush()
        (tmp_path / "bomb.json.gz").write_bytes(bomb)
        checked = run_cli("audit", "check", "bomb.json.gz", cwd=tmp_path)
        assert checked.returncode == 1
        assert "mismatch: file: not a bundle: a gzip file of" in checked.stderr
        assert "Traceback" not in checked.stderr + checked.stdout

    def test_a_file_too_large_for_memory_is_one_line_and_exit_1(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Out of memory while reading or checking: the file and its size, not a
        MemoryError's traceback."""

        def exhausted(raw: bytes, **_: object) -> None:
            raise MemoryError

        monkeypatch.setattr("cli.check_bundle", exhausted)
        (tmp_path / "big.json").write_bytes(b"{}" * 500)
        result = invoke_cli("audit", "check", str(tmp_path / "big.json"))
        assert result.exit_code == 1
        assert "big.json (1,000 bytes) is too large to check in this process's memory" in (
            result.output
        )
        assert isinstance(result.exception, SystemExit)
