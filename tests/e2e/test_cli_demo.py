"""`incentive-ledger demo` and the commands it suggests, in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from tests.builders import run_cli


class TestDemo:
    def test_demo_then_explore(self, tmp_path: Path) -> None:
        """One command fills a fresh embedded database and explains a statement."""
        demo = run_cli("demo", cwd=tmp_path)
        assert demo.returncode == 0, demo.stderr
        assert "Statement rep rep-li · period 2026-Q3" in demo.stdout
        assert "33100.00" in demo.stdout
        assert "their correction is booked in 2026-Q4" in demo.stdout
        assert "Explore further" in demo.stdout
        assert (tmp_path / "ledger.db").exists()

        again = run_cli("demo", cwd=tmp_path)
        assert again.returncode == 1
        assert "fresh database" in again.stderr

        q4 = run_cli("statement", "--rep", "rep-li", "--period", "2026-Q4", "--json", cwd=tmp_path)
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

        history = run_cli("history", "--rep", "rep-wang", cwd=tmp_path)
        assert "approval not required, sanction 2 points" in history.stdout

        verify = run_cli("verify", "--anchor", f"{head['position']}:{head['hash']}", cwd=tmp_path)
        assert verify.returncode == 0, verify.stderr
        assert "projections equal a fresh replay" in verify.stdout

        rebuild = run_cli("rebuild", cwd=tmp_path)
        assert rebuild.returncode == 0, rebuild.stderr
        assert "events/s" in rebuild.stdout

        # the reps' rows computed by two forked processes: the same read models
        rebuild = run_cli("rebuild", "--workers", "2", cwd=tmp_path)
        assert rebuild.returncode == 0, rebuild.stderr
        verify = run_cli("verify", cwd=tmp_path)
        assert verify.returncode == 0, verify.stderr
        assert "projections equal a fresh replay" in verify.stdout
        refused = run_cli("rebuild", "--workers", "0", cwd=tmp_path)
        assert refused.returncode == 2
        assert "--workers" in refused.stderr

    def test_payout_flow(self, tmp_path: Path) -> None:
        """run (prints the run id) → approve by another person → pay → export."""
        assert run_cli("demo", cwd=tmp_path).returncode == 0
        run = run_cli("payout", "run", "--period", "2026-Q4", "--actor", "fin-amy", cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        run_id = run.stdout.strip()
        assert run_id.startswith("run-2026-Q4-")
        self_approval = run_cli("payout", "approve", run_id, "--actor", "fin-amy", cwd=tmp_path)
        assert self_approval.returncode == 1
        assert "maker-checker" in self_approval.stderr
        approve = run_cli("payout", "approve", run_id, "--actor", "fin-bob", cwd=tmp_path)
        assert approve.returncode == 0, approve.stderr
        # said of the run (it printed "stored 1 approvals, skipped 0 already stored")
        assert approve.stdout.strip() == f"approved run {run_id}"
        pay = run_cli("payout", "pay", run_id, "--actor", "fin-amy", cwd=tmp_path)
        assert pay.returncode == 0, pay.stderr
        assert pay.stdout.strip() == f"paid run {run_id}"
        again = run_cli("payout", "pay", run_id, "--actor", "fin-amy", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == f"run {run_id} already paid"
        export = run_cli("payout", "export", run_id, "--format", "csv", cwd=tmp_path)
        assert export.returncode == 0, export.stderr
        rows = export.stdout.strip().splitlines()
        assert rows[0].startswith("run_id,period,rep_id")
        assert any(",rep-li,Li Wei,CNY,-7000.00,0.00," in row for row in rows)

    def test_an_unknown_run_is_refused_in_one_wording(self, tmp_path: Path) -> None:
        """`payout pay` and `dispute raise` said "field run_id: unknown payout
        run 'x'", `payout approve` and `export` "run_id: no payout run x": one
        fact in two wordings. Each now says the same line."""
        assert run_cli("demo", cwd=tmp_path).returncode == 0
        commands = [
            ("payout", "approve", "run-nope", "--actor", "fin-bob"),
            ("payout", "pay", "run-nope", "--actor", "fin-bob"),
            ("payout", "export", "run-nope", "--format", "csv"),
            ("dispute", "raise", "--rep", "rep-li", "--run", "run-nope", "--message", "m"),
        ]
        said = set()
        for command in commands:
            refused = run_cli(*command, cwd=tmp_path)
            assert refused.returncode == 1, (command, refused.stdout)
            said.add(" ".join(refused.stderr.split()))
        assert said == {"error: run_id: unknown payout run 'run-nope'"}
