"""One benchmark phase in a process of its own: `python -m bench.phases PHASE
--store S --url URL [--data FILE] [--events N] [--rounds R]`.

`python -m bench` runs each phase (and each ceiling) through this module in a
fresh interpreter, so a phase's peak RSS (``ru_maxrss``, a process's high-water
mark, which nothing resets) is its own: in one process the PostgreSQL import
printed the peak of the SQLite rebuild before it, and the import the peak of
the executemany ceiling's 200,000 prepared rows.

Every phase prints one JSON object on its last line of stdout: its figures, with
``pid`` (the measuring process) and ``peak_rss_mib`` of that process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench.ceilings import library_batched_save, raw_executemany

__all__ = ["PHASES", "main"]


def peak_rss_mib() -> float:
    """This process's peak resident set (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_cpu_seconds() -> float:
    """The CPU time of the finished child processes (an import's parse worker)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def children_peak_rss_mib() -> float:
    """The largest finished child process's peak (an import's parse worker, a
    rebuild's rows worker)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _import(args: argparse.Namespace) -> dict[str, Any]:
    from ledger.application import Ledger

    ledger = Ledger(args.url)
    started, cpu = time.perf_counter(), time.process_time()
    with Path(args.data).open(encoding="utf-8") as lines:
        result = ledger.import_lines(lines, actor="bench", keep_outcomes=False)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    ledger.close()
    return {
        "events": result.stored,
        "seconds": round(elapsed, 2),
        "events_per_second": result.stored / elapsed,
        "parse_worker_peak_rss_mib": round(children_peak_rss_mib()),
        # where an event's CPU goes, the database's aside (issue 17's budget)
        "cpu_seconds": round(cpu, 2),
        "parse_worker_cpu_seconds": round(children_cpu_seconds(), 2),
    }


def _rebuild(args: argparse.Namespace) -> dict[str, Any]:
    from ledger.application import Ledger
    from projections.runner import rebuild

    ledger = Ledger(args.url)
    result = rebuild(ledger)
    ledger.close()
    fold = result.fold_seconds or 0.0
    return {
        "events": result.applied,
        "seconds": round(result.seconds, 2),
        "events_per_second": result.events_per_second,
        # reading and folding the log, then computing and writing the rows
        "fold_seconds": round(fold, 2),
        "rows_seconds": round(result.seconds - fold, 2),
        # the processes forked to compute reps' rows (`projections.fanout`)
        "rows_worker_peak_rss_mib": round(children_peak_rss_mib()),
    }


def _log_scan(args: argparse.Namespace) -> dict[str, Any]:
    """The library's scan and decode of the ledger's own log (its events are
    larger than the scan ceiling's: what the rebuild reads before it folds)."""
    from bench.ceilings import library_scan
    from ledger.application import Ledger

    ledger = Ledger(args.url)
    rate = library_scan(ledger)
    ledger.close()
    return {"scan_events_per_second": rate}


def _executemany(args: argparse.Namespace) -> dict[str, Any]:
    return {"rows_per_second": raw_executemany(args.url, min(args.events, 200_000))}


def _library(args: argparse.Namespace) -> dict[str, Any]:
    save, scan = library_batched_save(args.url, args.events)
    return {"save_events_per_second": save, "scan_events_per_second": scan}


def _statement(args: argparse.Namespace) -> dict[str, Any]:
    # the latency figures print their own lines (see `bench.__main__.bench_statement`)
    from bench.__main__ import bench_statement, events_of
    from bench.generate import TOP_REP

    bench_statement(args.url, args.store, args.rounds, events_of(Path(args.data), TOP_REP))
    return {}


PHASES = {
    "import": _import,
    "rebuild": _rebuild,
    "executemany": _executemany,
    "library": _library,
    "log_scan": _log_scan,
    "statement": _statement,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.phases")
    parser.add_argument("phase", choices=sorted(PHASES))
    parser.add_argument("--store", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--data", default="")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    figures = PHASES[args.phase](args)
    figures |= {"pid": os.getpid(), "peak_rss_mib": round(peak_rss_mib())}
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
