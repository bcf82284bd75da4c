"""`python -m bench.shapes [--sales N] [--rounds R]`: statement latency of the
SPEC §3.1 shapes that read beyond one rep's period, on a fresh embedded store.

Three reps on one month-paid CNY plan: a rep whose N sales are in USD (each
converted at the month's rate) on pay on collection (each sale half paid the
month after), and their manager on an override plan. Prints one JSON line per
figure: the as-of statement of the rep's busiest month (its releases read the
month before), and the manager's (their override reads the team's sales, from
the whole log), p50 and p99 over R rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ledger.application import Ledger
from policies.plan import load_plan
from projections.service import Reports

_PLAN = """
id = "{id}"
version = 1
effective_from = 2026-01-01
currency = "CNY"
period = "month"

[commission]
default_rate = 0.05
rates = {{ software = 0.08 }}
basis = "{basis}"

[bonus]
target_bonus = 2000
cap = 2.0
kpis = [ {{ kpi = "sales_amount", weight = 1.0 }} ]
tiers = [ {{ from = 0.0, coefficient = 0.0 }}, {{ from = 1.0, coefficient = 1.0 }} ]
{override}
[clawback]
window_days = 60

[discipline]
point_value = 100
minor_ladder = ["warning"]
red_line = {{ forfeit_bonus = true, fine = "amount" }}
"""


def _line(type_: str, at: str, **fields: Any) -> str:
    return json.dumps({"type": type_, "occurred_at": at, "actor": "bench", **fields})


def _events(sales: int) -> list[str]:
    lines = [
        _line("FxRateSet", "2026-01-01T00:00:00+08:00", base="USD", quote="CNY", rate="7.1"),
        _line("RepEnrolled", "2026-01-01T00:00:00+08:00", rep_id="m1", name="M", plan_id="leads"),
        _line(
            "RepEnrolled",
            "2026-01-01T00:00:00+08:00",
            rep_id="r1",
            name="R",
            plan_id="reps",
            manager_id="m1",
        ),
    ]
    for i in range(sales):
        month = 1 + i % 6
        day = 1 + i % 27
        lines.append(
            _line(
                "SaleRecorded",
                f"2026-{month:02d}-{day:02d}T10:00:00+08:00",
                sale_id=f"S{i}",
                rep_id="r1",
                amount="1000.00",
                currency="USD",
                category="software" if i % 3 else "hardware",
            )
        )
        lines.append(
            _line(
                "PaymentReceived",
                f"2026-{month + 1:02d}-{day:02d}T10:00:00+08:00",
                payment_id=f"P{i}",
                sale_id=f"S{i}",
                amount="500.00",
            )
        )
    return lines


def timed(call: Any, rounds: int) -> dict[str, float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return {"p50": round(statistics.median(times), 2), "p99": round(p99, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.shapes")
    parser.add_argument("--sales", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        ledger = Ledger(f"sqlite:///{Path(workdir) / 'shapes.db'}")
        for plan_id, basis, override in (
            ("reps", "collection", ""),
            ("leads", "booking", "[override]\nrates = [0.02, 0.01]\n"),
        ):
            text = _PLAN.format(id=plan_id, basis=basis, override=override)
            ledger.publish_plan(load_plan(text, "toml"), actor="bench")
        ledger.import_lines(_events(args.sales), actor="bench")
        reports = Reports(ledger)
        reports.catch_up()
        head = ledger.head()
        assert head is not None
        for bench, rep_id in (("statement_collection_fx", "r1"), ("statement_override", "m1")):
            figures = timed(
                lambda rep_id=rep_id: reports.statement(rep_id, "2026-02", as_of=head.position),
                args.rounds,
            )
            line = {"bench": bench, "store": "sqlite", "sales": args.sales, "unit": "ms"}
            print(json.dumps(line | figures), flush=True)
        ledger.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
