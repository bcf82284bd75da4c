"""`python -m bench.whatif`, small, in a subprocess: it keeps running and prints
each figure the README's modelling table comes from. No figure's value is
asserted (no wall-clock time is)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.builders import ROOT, process_env


def test_bench_whatif_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.whatif", "--events", "3000", "--reps", "20", "--rounds", "3"],
        cwd=ROOT,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    names = [f["bench"] for f in figures]
    assert names == [
        "import_seconds",
        "rebuild_seconds",
        "whatif_seconds",
        "estimate_ms",
        "estimate_ms",
    ]
    whatif = figures[2]
    assert whatif["rows"] == 20 * 8
    assert whatif["rows_that_moved"] > 0
    assert "ratio_to_rebuild" in whatif
    assert all({"p50", "p99", "first_ms"} <= set(f) for f in figures[3:])
