"""`python -m bench {import,rebuild,statement,all} [--store sqlite|postgres|both]
[--events N] [--seed S] [--rounds R]` (HTTP: `python -m bench.http`).

Prints one JSON line per figure: {"bench", "store", "value", "unit", "ceiling",
"ceiling_name", "ratio", ...}. Each phase and each ceiling runs in a process of its
own (`bench.phases`), so ``peak_rss_mib`` is the phase's own peak and ``pid`` names
the process that measured it. Same seed, same data. SQLite runs in a temporary
directory; PostgreSQL in a fresh schema, dropped afterwards, of the database named
by ``LEDGER_BENCH_DATABASE_URL`` (default: the local ``test`` database)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from bench.generate import TOP_REP, generate
from ledger.application import Ledger
from projections.service import Reports

# A plain URL (no query string): each run adds ``?schema=`` of its own.
PG_DEFAULT = os.environ.get(
    "LEDGER_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


Ceiling = tuple[float, str] | None


def emit(
    bench: str, store: str, value: float, unit: str, *, against: Ceiling = None, **extra: Any
) -> None:
    """One figure's JSON line; ``against``, the (value, name) of the ceiling it is
    compared with, adds the ceiling and the ratio to it."""
    line = {"bench": bench, "store": store, "value": round(value, 2), "unit": unit}
    if against is not None:
        ceiling, name = against
        line |= {"ceiling": round(ceiling, 2), "ceiling_name": name}
        line["ratio"] = round(value / ceiling, 3)
    print(json.dumps(line | extra), flush=True)


def fresh_url(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_DEFAULT, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{PG_DEFAULT}?schema={schema}"


def drop(url: str) -> None:
    if url.startswith("postgresql"):
        schema = url.split("schema=")[1]
        with psycopg.connect(PG_DEFAULT, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def in_own_process(phase: str, url: str, store: str, **options: object) -> dict[str, Any]:
    """Run ``phase`` (`bench.phases`) in a fresh interpreter and return its figures.

    Each phase and each ceiling has a process of its own, so the peak RSS a phase
    reports is its own (a process's high-water mark never comes down: measured
    in one process, the PostgreSQL import reported the SQLite rebuild's peak).
    Lines the phase prints before its figures (the statement latencies) pass
    through; its stderr is ours.
    """
    command = [sys.executable, "-m", "bench.phases", phase, "--store", store, "--url", url]
    for name, value in options.items():
        command += [f"--{name}", str(value)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    lines = done.stdout.splitlines()
    if done.returncode != 0 or not lines:
        msg = f"bench phase {phase} ({store}) failed with exit code {done.returncode}"
        raise RuntimeError(msg)
    for line in lines[:-1]:
        print(line, flush=True)
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def bench_import(url: str, store: str, data: Path, events: int) -> None:
    """The import beside raw executemany and the library's batched save, each
    measured in its own process, one after the other."""
    ceiling = in_own_process("executemany", url, store, events=events)
    figures = in_own_process("import", url, store, data=data)
    _rate("import", store, figures, ceiling, "rows_per_second", "raw executemany (1,000 rows/txn)")
    library = in_own_process("library", url, store, events=min(events, 100_000))
    emit(
        "library_batched_save",
        store,
        library["save_events_per_second"],
        "events/s",
        note="eventsourcing, 100 aggregates x 10 events per save",
        pid=library["pid"],
    )
    emit(
        "library_scan",
        store,
        library["scan_events_per_second"],
        "events/s",
        note="eventsourcing notification scan + decode, pages of 1,000",
        pid=library["pid"],
    )


def bench_rebuild(url: str, store: str) -> None:
    """The rebuild beside the library's scan of 50,000 events, measured just before
    it in a process of its own; then the library's scan of the log it rebuilt."""
    scan = in_own_process("library", url, store, events=50_000)
    figures = in_own_process("rebuild", url, store)
    rate = figures["events_per_second"]
    _rate("rebuild", store, figures, scan, "scan_events_per_second", "library scan + decode")
    own = in_own_process("log_scan", url, store)
    emit(
        "library_scan_of_this_log",
        store,
        own["scan_events_per_second"],
        "events/s",
        note="eventsourcing notification scan + decode of the ledger's own log, pages of 1,000",
        rebuild_ratio=round(rate / own["scan_events_per_second"], 3),
        pid=own["pid"],
    )


def _rate(
    bench: str, store: str, figures: dict[str, Any], ceiling: dict[str, Any], key: str, name: str
) -> None:
    """A phase's events/s against the ceiling measured in process ``ceiling``."""
    rate = figures.pop("events_per_second")
    against = (ceiling[key], name)
    emit(bench, store, rate, "events/s", against=against, ceiling_pid=ceiling["pid"], **figures)


def emit_latency(
    bench: str, store: str, call: Callable[[int], object], times: int, **extra: Any
) -> None:
    """Time ``call(i)`` for i in range(times) and print p99 (p50 beside it), in ms."""
    samples = []
    for i in range(times):
        started = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - started) * 1000)
    p50, p99 = _percentiles(samples)
    emit(bench, store, p99, "ms p99", p50_ms=round(p50, 2), samples=len(samples), **extra)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def bench_statement(url: str, store: str, rounds: int, rep_events: int) -> None:
    ledger = Ledger(url)
    reports = Reports(ledger)
    reports.catch_up()
    head = ledger.head()
    assert head is not None
    periods = ["2024-Q1", "2024-Q3", "2025-Q2", "2025-Q4"]
    figures = [
        ("statement_from_projections", reports.statement, "decoded into a dict"),
        (
            "statement_json_from_projections",
            reports.statement_json,
            "the bytes GET /reps/{id}/statements/{period} serves",
        ),
    ]
    for name, call, note in figures:
        emit_latency(
            name,
            store,
            lambda i, call=call: call(TOP_REP, periods[i % len(periods)]),
            rounds * 10,
            note=note,
        )
    _statement_over_http(url, store, rounds, periods)
    emit_latency(
        "statement_as_of_replay",
        store,
        lambda i: reports.statement(TOP_REP, periods[i % len(periods)], as_of=head.position - i),
        rounds,
        rep_events=rep_events,
    )
    ledger.close()


def _statement_over_http(url: str, store: str, rounds: int, periods: list[str]) -> None:
    """The same statements through `incentive-ledger serve` (one worker, uvicorn),
    one client, keep-alive: what a rep opening their statement waits for."""
    import httpx

    from api.tokens import TokenStore
    from bench.http import SECRET, _free_port, _serve, server_env

    ledger = Ledger(url)
    token, _ = TokenStore(ledger, SECRET).create(actor="fin-bench", role="finance")
    ledger.close()
    port = _free_port()
    # the read models are current and nothing is written: no projector
    env = server_env(LEDGER_API_PROJECTOR="false")
    cli = str(Path(sys.executable).parent / "incentive-ledger")
    server = _serve([cli, "serve", "--db", url, "--port", str(port)], env, port)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:

            def get(i: int) -> int:
                response = client.get(f"/reps/{TOP_REP}/statements/{periods[i % len(periods)]}")
                response.raise_for_status()
                return len(response.content)

            size = max(get(i) for i in range(len(periods)))  # warms the server's caches
            emit_latency(
                "statement_over_http",
                store,
                get,
                rounds * 10,
                bytes=size,
                note="GET /reps/{id}/statements/{period}, one client",
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


def events_of(data: Path, rep_id: str) -> int:
    """How many lines of the generated file name ``rep_id`` (its replay's history)."""
    needle = f'"{rep_id}"'
    with data.open(encoding="utf-8") as lines:
        return sum(1 for line in lines if needle in line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("which", choices=["import", "rebuild", "statement", "all"])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--plan",
        choices=["flat", "marginal"],
        default="flat",
        help="the generated plan: flat rates, or commission by marginal attainment bands",
    )
    args = parser.parse_args(argv)
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "events.jsonl"
        with data.open("w", encoding="utf-8") as out:
            for line in generate(args.events, seed=args.seed, plan=args.plan):
                out.write(line + "\n")
        for store in stores:
            url = fresh_url(store, work)
            try:
                bench_import(url, store, data, args.events)
                if args.which in {"rebuild", "all"}:
                    bench_rebuild(url, store)
                if args.which in {"statement", "all"}:
                    # its latencies print from its own process
                    in_own_process("statement", url, store, data=data, rounds=args.rounds)
            finally:
                drop(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
