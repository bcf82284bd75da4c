"""`python -m bench.bundle [--events N] [--reps R] [--rep ID] [--period P]`: how big
an audit bundle is on a long chain, and how long making and checking it take.

Generates the seeded organisation of `bench.generate` into a fresh SQLite ledger,
then bundles one ordinary rep's statement (not the top rep: one of 200) and
prints JSON lines: the bundle's bytes, its events disclosed and links kept bare,
bytes per bare link, the gzip size for comparison, and the seconds to make it
and to check it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

from bench.generate import generate
from ledger.application import Ledger
from projections.audit_check import check_bundle
from projections.service import Reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bundle")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument(
        "--rep", default=None, help="an ordinary rep's id (default: rep-117, or the one as far in)"
    )
    parser.add_argument("--period", default="2025-Q4")
    args = parser.parse_args(argv)
    if args.reps < 2:
        parser.error("--reps: at least 2 (the top rep is not the one bundled)")
    # rep-117 of 200: an ordinary rep, not the top one; as far in among fewer reps
    rep = args.rep or f"rep-{max(1, args.reps * 117 // 200):03d}"
    if rep not in {f"rep-{i:03d}" for i in range(args.reps)}:
        parser.error(f"--rep: {rep} is not one of the {args.reps} generated reps")
    with tempfile.TemporaryDirectory() as workdir:
        ledger = Ledger(f"sqlite:///{Path(workdir) / 'bench.db'}")
        ledger.import_lines(
            list(generate(args.events, reps=args.reps)), actor="bench", keep_outcomes=False
        )
        reports = Reports(ledger)
        reports.catch_up()
        head = ledger.head()
        started = time.perf_counter()
        raw = reports.audit_bundle(rep, args.period)
        made = time.perf_counter() - started
        started = time.perf_counter()
        report = check_bundle(raw)
        checked = time.perf_counter() - started
        ledger.close()
    doc = json.loads(raw)
    bare = len(doc["links"])
    link_bytes = sum(len(json.dumps(link, separators=(",", ":"))) + 1 for link in doc["links"])
    figures = {
        "bench": "audit_bundle",
        "store": "sqlite",
        "chain_events": head.position if head else 0,
        "rep": rep,
        "period": args.period,
        "bytes": len(raw),
        "gzip_bytes": len(gzip.compress(raw, 9)),
        "events_disclosed": len(doc["events"]),
        "links_bare": bare,
        "bytes_per_bare_link": round(link_bytes / bare, 1) if bare else None,
        "make_seconds": round(made, 2),
        "check_seconds": round(checked, 2),
        "check_exit": report.exit_code,
    }
    print(json.dumps(figures), flush=True)
    return 0 if report.exit_code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
