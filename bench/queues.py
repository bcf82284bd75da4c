"""`python -m bench.queues [--store sqlite|postgres] [--reps N] [--events E]
[--rounds R]`: the work queues' latency in a large organisation.

``E`` generated events (`bench.generate`) over ``N`` reps in teams of 10 under
their managers; then, for a rep, a manager and finance, the directory's first
page (`WorkQueues.reps`) and the first quarter's summary (`WorkQueues.summary`:
every visible rep's figures, with team subtotals), p50 and p99 over R rounds;
and finance's overview page's figures (`api.pages.views.overview`: attainment and
tiers of the default period, payable by team for every period), once the chain
is verified (a view checks a bounded stretch of it). Prints one JSON line per
figure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from api.pages import views
from bench.__main__ import drop, fresh_url
from bench.generate import generate
from bench.shapes import timed
from ledger.application import Ledger
from projections.queues import Viewer, WorkQueues
from projections.service import Reports

__all__ = ["main"]

_PERIOD = "2024-Q1"  # the generated data's first quarter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queues")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        url = fresh_url(args.store, Path(workdir))
        ledger = Ledger(url)
        try:
            lines = list(generate(args.events, reps=args.reps))
            ledger.import_lines(lines, actor="bench", keep_outcomes=False, parse_workers=0)
            queues = WorkQueues(Reports(ledger))
            queues.reports.catch_up()
            viewers = {
                "rep": Viewer("rep", "rep-007", rep_id="rep-007"),
                "manager": Viewer("manager", "mgr-00"),  # rep-000 to rep-009
                "finance": Viewer("finance", "fin-bench"),
            }
            for role, viewer in viewers.items():
                calls: dict[str, Callable[[], object]] = {
                    "queue_reps": lambda viewer=viewer: queues.reps(viewer),
                    "queue_summary": lambda viewer=viewer: queues.summary(viewer, _PERIOD),
                }
                for bench, call in calls.items():
                    call()  # the first read waits for nothing but itself
                    figures = timed(call, args.rounds)
                    line = {
                        "bench": bench,
                        "store": args.store,
                        "role": role,
                        "reps": args.reps,
                        "unit": "ms",
                    }
                    print(json.dumps(line | figures), flush=True)
            for _ in range(100):  # each view verifies the next stretch of the chain
                if not views.overview(queues.reports, None).health["unverified"]:
                    break
            figures = timed(lambda: views.overview(queues.reports, None), args.rounds)
            line = {"bench": "overview", "store": args.store, "role": "finance", "reps": args.reps}
            print(json.dumps(line | {"unit": "ms"} | figures), flush=True)
        finally:
            ledger.close()
            drop(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
