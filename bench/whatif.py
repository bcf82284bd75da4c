"""`python -m bench.whatif [--events N] [--reps R] [--rounds K] [--store sqlite|postgres]`:
modelling against a full rebuild on the same data (issue 21).

Generates the seeded organisation (`bench.generate`: N events, R reps, 8
quarters, one rep with up to 10,000 sales), imports it into a fresh store, then
prints one JSON line per figure:

- ``rebuild_seconds``: `projections.runner.rebuild` (drop and replay every read model);
- ``whatif_seconds``: `Reports.whatif` of a candidate plan (the generated plan's
  version 3 with an accelerator, in force over the whole history) for every rep
  and all 8 quarters, and its ratio to the rebuild (acceptance: at most 2);
- ``estimate_ms``: `Reports.estimate` for the top rep (10,000 sales): the first
  call (which reads the rep's events through the replay index) and p50/p99 of the
  next K, in the rep's open period and in the last generated quarter (1,250 sales
  of the rep in it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.__main__ import drop, fresh_url
from bench.generate import _PLAN, MARGINAL_TIERS, TOP_REP, _steps, generate
from ledger.application import Ledger
from policies.plan import Plan
from projections.runner import rebuild
from projections.service import Reports
from projections.whatif import EstimateSale

PERIODS = [f"{year}-Q{q}" for year in (2024, 2025) for q in (1, 2, 3, 4)]


def candidate() -> Plan:
    """The generated plan, version 3: commission ×1.5 past 80 % of the target."""
    document = {
        **_PLAN,
        "version": 3,
        "effective_from": "2024-01-01",
        "commission": {
            "default_rate": "0.05",
            "rates": {"software": "0.09", "services": "0.06"},
            "tiers": {
                **MARGINAL_TIERS,
                "bands": _steps("multiplier", ("0", "1"), ("0.8", "1.5")),
            },
        },
    }
    return Plan.model_validate(document)


def emit(bench: str, store: str, value: float, unit: str, **extra: Any) -> None:
    line = {"bench": bench, "store": store, "value": round(value, 3), "unit": unit}
    print(json.dumps(line | extra), flush=True)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def run(url: str, store: str, events: int, reps: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as work:
        data = Path(work) / "events.jsonl"
        with data.open("w", encoding="utf-8") as out:
            for line in generate(events, reps=reps):
                out.write(line + "\n")
        ledger = Ledger(url)
        started = time.perf_counter()
        with data.open(encoding="utf-8") as lines:
            imported = ledger.import_lines(lines, actor="bench", keep_outcomes=False)
        emit("import_seconds", store, time.perf_counter() - started, "s", events=imported.stored)
        top_sales = sum(
            1
            for line in data.open(encoding="utf-8")
            if f'"rep_id":"{TOP_REP}"' in line and '"SaleRecorded"' in line
        )

    result = rebuild(ledger)
    emit("rebuild_seconds", store, result.seconds, "s", events=result.applied, reps=reps)

    reports = Reports(ledger)
    reports.catch_up()
    started = time.perf_counter()
    whatif = reports.whatif(candidate(), PERIODS, actor="bench")
    seconds = time.perf_counter() - started
    moved = sum(1 for row in whatif.reps if row.moved)
    emit(
        "whatif_seconds",
        store,
        seconds,
        "s",
        events=result.applied,
        reps=reps,
        periods=len(PERIODS),
        rows=len(whatif.reps),
        rows_that_moved=moved,
        ratio_to_rebuild=round(seconds / result.seconds, 3),
    )

    for where, on in (("open period", None), ("2025-Q4", date(2025, 11, 20))):
        sale = EstimateSale(amount="25000.00", category="software", on=on)
        started = time.perf_counter()
        first = reports.estimate(TOP_REP, sale, actor="bench")
        cold_ms = (time.perf_counter() - started) * 1000
        samples = []
        for i in range(rounds):
            sale = EstimateSale(amount=f"{1000 + i}.00", category="software", on=on)
            started = time.perf_counter()
            reports.estimate(TOP_REP, sale, actor="bench")
            samples.append((time.perf_counter() - started) * 1000)
        p50, p99 = _percentiles(samples)
        emit(
            "estimate_ms",
            store,
            p99,
            "ms",
            p50=round(p50, 2),
            p99=round(p99, 2),
            first_ms=round(cold_ms, 2),
            rounds=rounds,
            rep_sales=top_sales,
            period=first.period,
            where=where,
        )
    ledger.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.whatif")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        url = fresh_url(args.store, Path(work))
        try:
            run(url, args.store, args.events, args.reps, args.rounds)
        finally:
            drop(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
