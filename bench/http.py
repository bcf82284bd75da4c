"""HTTP load check: `python -m bench.http [--store postgres] [--seconds 30] [--concurrency 32]
[--projector worker|thread|none] [--phases single,batch,...] [--client auto|wrk|aiohttp]`.

Starts `incentive-ledger serve` on 127.0.0.1 against a fresh database — with a
separate `incentive-ledger project --follow` worker, as docker-compose.yml runs
it (``--projector worker``, the default), or projecting in a thread of the API
process (``thread``), or with none at all (``none``: the write path alone; the
read phases need a projector) — then for
``--seconds`` runs ``--concurrency`` clients that POST single sales, POST batches
of 1,000, and GET statements (each phase on its own, then mixed), and GET the
summary view of the statement of a rep with 10,000 sales in the quarter
(``summary``: SPEC §4's ``?view=summary``; its target on a quiet 2-core machine
is ≥ 500 requests/s at concurrency 32 with p99 ≤ 50 ms). Prints one JSON
line per figure (requests/s, events/s, p50/p99 ms) and afterwards checks that every
acknowledged event is stored exactly once and that the chain verifies.

The single-event phase and the bare ceiling are driven by `wrk` when it is installed
(``--client auto``; Debian/Ubuntu: ``apt install wrk``): a Python client spends about
as much CPU per request as the server does, and on a 2-core machine it takes that
CPU from the server it measures. Each acknowledged write's event id is collected by
`bench/wrk_post.lua` for the integrity check. The summary phase (small answers, many
a second) uses a lean kept-alive client of its own (`_KeptAliveGet`; aiohttp with
``--client aiohttp``) and reports the CPU a request cost the server and the client.
The other phases (a few large or slow requests a second) use aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import psycopg

from api.tokens import TokenStore
from bench.__main__ import PG_DEFAULT, drop, emit
from ledger.application import Ledger
from policies.plan import load_plan
from tests.builders import PLAN_TOML

SECRET = "bench-token-secret-0123456789abcdef"
REPS = [f"rep-{i:03d}" for i in range(50)]
# The rep of the summary phase: 10,000 sales in 2026-Q3, in runs of 1,000 ids
# per category (a CRM numbers sales as they come).
BIG_REP = "rep-big"
BIG_SALES = 10_000
_CATEGORIES = ("software", "hardware", "services")
_JSON = {"Content-Type": "application/json"}
_CHECKOUT = Path(__file__).resolve().parents[1]


def server_env(**settings: str) -> dict[str, str]:
    """The environment of a benchmarked `incentive-ledger` process: this one's,
    without its LEDGER_ settings, plus the bench token secret and ``settings``;
    the code of this checkout first on its path (the console script imports the
    package the environment has installed, which may be another checkout's)."""
    own = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    path = os.pathsep.join(p for p in (str(_CHECKOUT), own.get("PYTHONPATH")) if p)
    return own | {
        "PYTHONPATH": path,
        "LEDGER_TOKEN_SECRET": SECRET,
        "LEDGER_LOG_LEVEL": "WARNING",
        **settings,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sale(sale_id: str, rep: str) -> dict[str, Any]:
    return {
        "type": "SaleRecorded",
        "occurred_at": "2026-08-14T10:00:00+08:00",
        "sale_id": sale_id,
        "rep_id": rep,
        "amount": "1234.50",
        "currency": "CNY",
        "category": "software",
    }


def _big_rep_lines() -> list[str]:
    """The enrolment and the 10,000 sales of `BIG_REP` (import lines)."""
    enrolled = {
        "type": "RepEnrolled",
        "occurred_at": "2026-06-01T09:00:00+08:00",
        "rep_id": BIG_REP,
        "name": BIG_REP,
        "plan_id": "field-sales",
    }
    sales = (
        _sale(f"BIG{n:06d}", BIG_REP)
        | {"amount": f"{1000 + n % 997}.{n % 100:02d}", "category": _CATEGORIES[n // 1000 % 3]}
        for n in range(BIG_SALES)
    )
    return [json.dumps(enrolled), *(json.dumps(sale) for sale in sales)]


async def _post_events(client: aiohttp.ClientSession, events: object) -> None:
    """POST /events with ``events`` (one or a batch), raising unless accepted."""
    body = orjson.dumps(events)
    async with client.post("/events", data=body, headers=_JSON) as response:
        await response.read()
        response.raise_for_status()


async def _phase(
    name: str,
    store: str,
    seconds: float,
    concurrency: int,
    call: Callable[[int], Awaitable[int]],
    *,
    client: str = "aiohttp",
    server_pid: int | None = None,
) -> list[str]:
    """One phase's figure; with ``server_pid``, also the CPU each request cost
    the server (its processes) and this client: figures that hold on a busy
    machine, where requests/s and latencies depend on who else runs."""
    latencies: list[float] = []
    events = 0
    deadline = time.perf_counter() + seconds
    failures: Counter[str] = Counter()

    async def worker(n: int) -> None:
        nonlocal events
        i = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                done = await call(n * 10_000_000 + i)
                events += done
            except Exception as exc:  # noqa: BLE001 - counted, reported
                failures[type(exc).__name__] += 1
            latencies.append((time.perf_counter() - started) * 1000)
            i += 1

    server_cpu = _tree_cpu_seconds(server_pid)
    client_cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu: dict[str, float] = {}
    if server_pid is not None and latencies:
        per = 1000 / len(latencies)
        cpu = {
            "server_cpu_ms_per_req": round((_tree_cpu_seconds(server_pid) - server_cpu) * per, 3),
            "client_cpu_ms_per_req": round((time.process_time() - client_cpu) * per, 3),
        }
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
    emit(
        f"http_{name}",
        store,
        len(latencies) / elapsed,
        "req/s",
        p50_ms=round(statistics.median(ordered), 2) if ordered else None,
        p99_ms=round(p99, 2),
        events_per_s=round(events / elapsed, 1),
        concurrency=concurrency,
        seconds=seconds,
        failures=dict(failures),
        client=client,
        **cpu,
    )
    return []


def _tree_cpu_seconds(pid: int | None) -> float:
    """The CPU seconds (user and system) of process ``pid`` and its descendants
    so far, from /proc (0.0 where there is none)."""
    proc = Path("/proc")
    if pid is None or not proc.is_dir():
        return 0.0
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds)
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    tree = {pid}
    grown = True
    while grown:
        found = {child for child, (parent, _) in stats.items() if parent in tree} - tree
        tree |= found
        grown = bool(found)
    return sum(stats[member][1] for member in tree if member in stats)


class _KeptAliveGet(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection that GETs one path again and again,
    reading each whole answer (by its Content-Length) and checking its status.

    The summary phase's client: aiohttp spends about as much CPU per small
    answer as the server does to make it, and on a 2-core machine it takes
    that CPU from the server it measures (as `wrk` spares the single-event
    phase). A request is bytes made once; an answer, a header scan.
    """

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiting: asyncio.Future[None] | None = None
        self.wanted = -1  # bytes of the answer under way (headers and body), once known

    @classmethod
    async def open(cls, base: str, path: str, token: str) -> _KeptAliveGet:
        host, _, port = base.removeprefix("http://").partition(":")
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        _, getter = await loop.create_connection(lambda: cls(request), host, int(port))
        return getter

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(exc or ConnectionResetError("closed by the server"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.wanted < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            status = head[9:12]
            at = head.find(b"\r\ncontent-length:")
            if status != b"200" or at < 0:
                self._fail(f"status {status.decode()} (or no content-length)")
                return
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
            self.wanted = end + 4 + length
        if len(self.buffer) >= self.wanted:
            del self.buffer[: self.wanted]
            self.wanted = -1
            if self.waiting is not None:
                self.waiting.set_result(None)

    def _fail(self, reason: str) -> None:
        self.buffer.clear()
        if self.waiting is not None:
            self.waiting.set_exception(RuntimeError(reason))
        if self.transport is not None:
            self.transport.close()

    async def get(self) -> None:
        assert self.transport is not None
        if self.transport.is_closing():
            raise ConnectionResetError("closed")
        self.waiting = asyncio.get_running_loop().create_future()
        self.transport.write(self.request)
        await self.waiting

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


WRK_SCRIPT = Path(__file__).with_name("wrk_post.lua")


def _wrk(
    name: str,
    store: str,
    base: str,
    seconds: float,
    concurrency: int,
    *,
    token: str = "",
    acked_file: Path | None = None,
) -> None:
    """One single-event POST phase driven by wrk (one thread: it needs a fraction
    of a core for ~2,000 requests/s); prints the same figure line as `_phase`."""
    env = os.environ | {
        "WRK_TOKEN": token,
        "WRK_PREFIX": f"{name[:1].upper()}{uuid.uuid4().hex[:6]}",
    }
    if acked_file is not None:
        env["WRK_ACKED"] = str(acked_file)
    command = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "-s",
        str(WRK_SCRIPT),
        base,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    elapsed = result["duration_us"] / 1e6
    failures = {
        k: result[k] for k in ("connect", "read", "write", "status", "timeout") if result[k]
    }
    ok = result["requests"] - result["status"]
    emit(
        f"http_{name}",
        store,
        result["requests"] / elapsed,
        "req/s",
        p50_ms=round(result["p50_us"] / 1000, 2),
        p99_ms=round(result["p99_us"] / 1000, 2),
        events_per_s=round(ok / elapsed, 1),
        concurrency=concurrency,
        seconds=round(elapsed, 2),
        failures=failures,
        client="wrk",
    )


async def _run(
    base: str,
    tokens: tuple[str, str],
    store: str,
    seconds: float,
    concurrency: int,
    acked: list[str],
    phases: set[str],
    wrk_acked: Path | None = None,
    *,
    projecting: bool = True,
    aiohttp_reads: bool = False,
    server_pid: int | None = None,
) -> None:
    """The phases; ``wrk_acked``: drive the single-event phase with wrk, which
    writes the event ids it was answered with there; ``aiohttp_reads``: the
    summary phase through aiohttp rather than `_KeptAliveGet`."""
    writer, reader = ({"Authorization": f"Bearer {t}"} for t in tokens)
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(
            base, headers=writer, connector=_connector(concurrency), timeout=timeout
        ) as client,
        aiohttp.ClientSession(
            base, headers=reader, connector=_connector(concurrency), timeout=timeout
        ) as reads,
    ):

        async def read(path: str) -> int:
            async with reads.get(path) as response:
                await response.read()
                response.raise_for_status()
            return 0

        async def post_single(i: int) -> int:
            sale_id = f"H{i}"
            await _post_events(client, _sale(sale_id, REPS[i % len(REPS)]))
            acked.append(sale_id)
            return 1

        async def post_batch(i: int) -> int:
            ids = [f"B{i}-{j}" for j in range(1000)]
            batch = [_sale(s, REPS[(i + j) % len(REPS)]) for j, s in enumerate(ids)]
            await _post_events(client, batch)
            acked.extend(ids)
            return 1000

        async def get_statement(i: int) -> int:
            return await read(f"/reps/{REPS[i % len(REPS)]}/statements/2026-Q3")

        async def mixed(i: int) -> int:
            return await (post_single(i + 5_000_000) if i % 2 else get_statement(i))

        summary_path = f"/reps/{BIG_REP}/statements/2026-Q3?view=summary"

        async def get_summary(_: int) -> int:
            return await read(summary_path)

        getters: list[_KeptAliveGet] = []

        async def get_summary_lean(i: int) -> int:
            await getters[i // 10_000_000].get()
            return 0

        if "single" in phases and wrk_acked is not None:
            await asyncio.to_thread(
                _wrk,
                "post_single_event",
                store,
                base,
                seconds,
                concurrency,
                token=tokens[0],
                acked_file=wrk_acked,
            )
        elif "single" in phases:
            await _phase("post_single_event", store, seconds, concurrency, post_single)
        if "batch" in phases:
            await _phase("post_batch_1000", store, seconds, concurrency, post_batch)
        if not projecting:
            return
        await _caught_up(reads, store)
        if "read" in phases:
            await _phase("get_statement_one_client", store, seconds, 1, get_statement)
            await _phase("get_statement", store, seconds, concurrency, get_statement)
        if "mixed" in phases:
            await _phase("mixed_post_and_read", store, seconds, concurrency, mixed)
        if "summary" in phases:
            await get_summary(0)  # the first read makes the summary; then it is kept
            if not aiohttp_reads:  # opened now: a server closes idle connections
                getters += [
                    await _KeptAliveGet.open(base, summary_path, tokens[1])
                    for _ in range(concurrency)
                ]
            # every client once, so that each API process has made it too
            await asyncio.gather(
                *(
                    get_summary(0) if aiohttp_reads else get_summary_lean(n * 10_000_000)
                    for n in range(concurrency)
                )
            )
            await _phase(
                f"get_statement_summary_{BIG_SALES}_sales",
                store,
                seconds,
                concurrency,
                get_summary if aiohttp_reads else get_summary_lean,
                client="aiohttp" if aiohttp_reads else "lean",
                server_pid=server_pid,
            )
        for getter in getters:
            getter.close()


async def _caught_up(client: aiohttp.ClientSession, store: str) -> None:
    """Wait until the API's projector has applied the write burst; report how long.

    Statement reads are measured on up-to-date read models (the steady state),
    and the lag a burst leaves behind is a figure of its own.
    """
    started = time.perf_counter()
    behind: int | None = None
    while True:
        async with client.get("/health") as response:
            health = await response.json()
        lag = int(health["position"]) - int(health["projected"])
        behind = lag if behind is None else behind
        if lag <= 0:
            break
        await asyncio.sleep(0.2)
    emit(
        "http_projection_catch_up_after_writes",
        store,
        time.perf_counter() - started,
        "s",
        events_behind_at_start=behind,
    )


async def _bare(base: str, seconds: float, concurrency: int) -> None:
    async with aiohttp.ClientSession(base, connector=_connector(concurrency)) as client:

        async def post(i: int) -> int:
            await _post_events(client, _sale(f"X{i}", REPS[0]))
            return 1

        await _phase("bare_fastapi_insert_ceiling", "postgres", seconds, concurrency, post)


def _connector(concurrency: int) -> aiohttp.TCPConnector:
    """Keep-alive connections, one per client (aiohttp: C HTTP parser, a few times
    less client CPU than httpx on the same 2 cores as the server)."""
    return aiohttp.TCPConnector(limit=concurrency, force_close=False)


def _quiet(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """A process with its output discarded."""
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_START_SECONDS = 60.0  # a busy machine, a large store: never the figure measured


def _serve(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start a server and wait until it answers ``/health``; a server that exits
    or does not answer in `_START_SECONDS` is an error saying so (not a refused
    connection later, in the middle of a measurement)."""
    server = _quiet(env, *args)
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code in {200, 404}:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    exited = server.poll()
    server.kill()
    server.wait()
    state = (
        f"exited with {exited}" if exited is not None else f"no answer in {_START_SECONDS:.0f} s"
    )
    msg = f"the benchmarked server did not start ({state}): {' '.join(args[1:2])} on port {port}"
    raise RuntimeError(msg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--projector",
        choices=["worker", "thread", "none"],
        default="worker",
        help="`project --follow` apart (compose), an API thread, or none (no read/mixed phases)",
    )
    parser.add_argument("--phases", default="single,batch,read,mixed,summary,bare")
    parser.add_argument("--workers", type=int, default=1, help="API processes (`serve --workers`)")
    parser.add_argument(
        "--parse-workers",
        type=int,
        default=None,
        help="LEDGER_PARSE_WORKERS of the API (default: its own default)",
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "aiohttp"],
        default="auto",
        help="load generator of the single-event and bare phases (auto: wrk when installed) "
        "and of the summary phase (aiohttp, or else a lean kept-alive client)",
    )
    args = parser.parse_args(argv)
    phases = set(args.phases.split(","))
    if args.projector == "none":
        phases -= {"read", "mixed", "summary"}
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    with tempfile.TemporaryDirectory() as tmp:
        if args.store == "postgres":
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_DEFAULT, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            url = f"{PG_DEFAULT}?schema={schema}"
        else:
            url = f"sqlite:///{Path(tmp) / 'http.db'}"
        # The schema is dropped however the run ends (an interrupt, a closed
        # stdout, a failed phase): a run leaves ~500,000 events behind.
        try:
            ledger = Ledger(url)
            ledger.publish_plan(load_plan(PLAN_TOML, "toml"), actor="admin")
            ledger.import_lines(
                [
                    json.dumps(
                        {
                            "type": "RepEnrolled",
                            "occurred_at": "2026-06-01T09:00:00+08:00",
                            "rep_id": r,
                            "name": r,
                            "plan_id": "field-sales",
                        }
                    )
                    for r in REPS
                ],
                actor="hr",
            )
            if "summary" in phases:
                ledger.import_lines(_big_rep_lines(), actor="crm-sync", keep_outcomes=False)
            token, _ = TokenStore(ledger, SECRET).create(actor="crm-sync", role="integration")
            reader, _ = TokenStore(ledger, SECRET).create(actor="fin-amy", role="finance")
            port = _free_port()
            env = server_env()
            if args.parse_workers is not None:
                env["LEDGER_PARSE_WORKERS"] = str(args.parse_workers)
            cli = str(Path(sys.executable).parent / "incentive-ledger")
            worker = None
            if args.projector != "thread":
                env["LEDGER_API_PROJECTOR"] = "false"
            if args.projector == "worker":
                worker = _quiet(env, cli, "project", "--follow", "--db", url)
            server = _quiet(
                env, cli, "serve", "--db", url, "--port", str(port), "--workers", str(args.workers)
            )
            try:
                base = f"http://127.0.0.1:{port}"
                for _ in range(100):
                    try:
                        if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                acked: list[str] = []
                wrk_acked = Path(tmp) / "wrk-acked.txt" if use_wrk else None
                # integration posts sales; reads use a finance token through a second client
                asyncio.run(
                    _run(
                        base,
                        (token, reader),
                        args.store,
                        args.seconds,
                        args.concurrency,
                        acked,
                        phases,
                        wrk_acked,
                        projecting=args.projector != "none",
                        aiohttp_reads=args.client == "aiohttp",
                        server_pid=server.pid,
                    )
                )
            finally:
                for process in (server, worker):
                    if process is not None:
                        process.terminate()
                        process.wait(timeout=30)
            if args.store == "postgres" and "bare" in phases:
                port = _free_port()
                bare_env = env | {"BARE_DSN": PG_DEFAULT, "BARE_POOL": str(args.concurrency)}
                bare = _serve(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "bench.bare_app:app",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                    ],
                    bare_env,
                    port,
                )
                try:
                    if use_wrk:
                        _wrk(
                            "bare_fastapi_insert_ceiling",
                            "postgres",
                            f"http://127.0.0.1:{port}",
                            args.seconds,
                            args.concurrency,
                        )
                    else:
                        asyncio.run(
                            _bare(f"http://127.0.0.1:{port}", args.seconds, args.concurrency)
                        )
                finally:
                    bare.terminate()
                    bare.wait(timeout=30)
                    with psycopg.connect(PG_DEFAULT, autocommit=True) as conn:
                        conn.execute("DROP TABLE IF EXISTS bench_bare")
            records = list(ledger.iter_log())
            stored = Counter(r.data["sale_id"] for r in records if r.type == "SaleRecorded")
            doubled = sum(1 for c in stored.values() if c > 1)
            missing = sum(1 for s in set(acked) if s not in stored)
            # wrk's acknowledged writes, by the event id each answer named
            acked_events = set()
            if wrk_acked is not None and wrk_acked.exists():
                acked_events = set(wrk_acked.read_text().split())
                missing += len(acked_events - {r.event_id for r in records})
            report = ledger.verify()
            emit(
                "http_integrity",
                args.store,
                float(len(set(acked)) + len(acked_events)),
                "acknowledged events",
                stored=len(stored),
                missing=missing,
                doubled=doubled,
                chain_ok=report.ok,
            )
            ledger.close()
        finally:
            drop(url)
    return 0 if (report.ok and not missing and not doubled) else 1


if __name__ == "__main__":
    sys.exit(main())
