"""`incentive-ledger demo` and the commands it suggests, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.builders import process_env

CLI = str(Path(sys.executable).parent / "incentive-ledger")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = process_env()
    return subprocess.run(
        [CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )


class TestDemo:
    def test_demo_then_explore(self, tmp_path: Path) -> None:
        """One command fills a fresh embedded database and explains a statement."""
        demo = _cli("demo", cwd=tmp_path)
        assert demo.returncode == 0, demo.stderr
        assert "Statement rep rep-li · period 2026-Q3" in demo.stdout
        assert "33100.00" in demo.stdout
        assert "their correction is booked in 2026-Q4" in demo.stdout
        assert "Explore further" in demo.stdout
        assert (tmp_path / "ledger.db").exists()

        again = _cli("demo", cwd=tmp_path)
        assert again.returncode == 1
        assert "fresh database" in again.stderr

        q4 = _cli("statement", "--rep", "rep-li", "--period", "2026-Q4", "--json", cwd=tmp_path)
        assert q4.returncode == 0, q4.stderr
        statement = json.loads(q4.stdout)
        assert statement["total"] == "-7000.00"
        assert set(statement) >= {
            "rep_id",
            "period",
            "currency",
            "as_of",
            "lines",
            "attainment",
            "score",
            "tier_coefficient",
            "total",
            "payable",
            "pending",
            "chain_head",
        }
        head = statement["chain_head"]

        history = _cli("history", "--rep", "rep-wang", cwd=tmp_path)
        assert "points:2" in history.stdout

        verify = _cli("verify", "--anchor", f"{head['position']}:{head['hash']}", cwd=tmp_path)
        assert verify.returncode == 0, verify.stderr
        assert "projections equal a fresh replay" in verify.stdout

        rebuild = _cli("rebuild", cwd=tmp_path)
        assert rebuild.returncode == 0, rebuild.stderr
        assert "events/s" in rebuild.stdout

    def test_payout_flow(self, tmp_path: Path) -> None:
        """run (prints the run id) → approve by another person → pay → export."""
        assert _cli("demo", cwd=tmp_path).returncode == 0
        run = _cli("payout", "run", "--period", "2026-Q4", "--actor", "fin-amy", cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        run_id = run.stdout.strip()
        assert run_id.startswith("run-2026-Q4-")
        self_approval = _cli("payout", "approve", run_id, "--actor", "fin-amy", cwd=tmp_path)
        assert self_approval.returncode == 1
        assert "maker-checker" in self_approval.stderr
        approve = _cli("payout", "approve", run_id, "--actor", "fin-bob", cwd=tmp_path)
        assert approve.returncode == 0, approve.stderr
        pay = _cli("payout", "pay", run_id, "--actor", "fin-amy", cwd=tmp_path)
        assert pay.returncode == 0, pay.stderr
        export = _cli("payout", "export", run_id, "--format", "csv", cwd=tmp_path)
        assert export.returncode == 0, export.stderr
        rows = export.stdout.strip().splitlines()
        assert rows[0].startswith("run_id,period,rep_id")
        assert any(",rep-li,Li Wei,CNY,-7000.00,0.00," in row for row in rows)
