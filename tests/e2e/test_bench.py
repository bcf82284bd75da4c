"""`python -m bench` and `python -m bench.http`, small, in a subprocess: the
benchmark scripts the README's performance figures come from keep running, print
every figure with its ceiling, and their integrity checks pass. No figure's value
is asserted (no wall-clock time is)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.builders import ROOT, process_env
from tests.conftest import PG_URL, require_postgres


def _bench(*args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=process_env(LEDGER_BENCH_DATABASE_URL=PG_URL),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _by_name(figures: list[dict[str, Any]], store: str) -> dict[str, dict[str, Any]]:
    return {f["bench"]: f for f in figures if f["store"] == store}


@pytest.mark.postgres
def test_bench_all_prints_every_figure_beside_its_ceiling_on_both_stores() -> None:
    require_postgres()
    figures = _bench("bench", "all", "--store", "both", "--events", "3000", "--rounds", "1")
    for store in ("sqlite", "postgres"):
        named = _by_name(figures, store)
        assert set(named) == {
            "import",
            "library_batched_save",
            "library_scan",
            "rebuild",
            "library_scan_of_this_log",
            "statement_from_projections",
            "statement_json_from_projections",
            "statement_over_http",
            "statement_as_of_replay",
        }, store
        for name in ("import", "rebuild"):
            figure = named[name]
            assert figure["value"] > 0
            assert figure["ratio"] == pytest.approx(figure["value"] / figure["ceiling"], abs=1e-3)
            assert figure["events"] > 2_900  # every generated event (a few are skipped twins)
            assert figure["peak_rss_mib"] > 0
        assert named["import"]["ceiling_name"] == "raw executemany (1,000 rows/txn)"
        assert named["rebuild"]["ceiling_name"] == "library scan + decode"
        assert named["import"]["parse_worker_peak_rss_mib"] > 0
        # where the time and the CPU go (issue 17's budget)
        assert named["import"]["cpu_seconds"] > 0
        assert named["import"]["parse_worker_cpu_seconds"] > 0
        rebuilt = named["rebuild"]
        assert rebuilt["fold_seconds"] > 0
        assert rebuilt["rows_seconds"] > 0
        assert rebuilt["fold_seconds"] + rebuilt["rows_seconds"] == pytest.approx(
            rebuilt["seconds"], abs=0.02
        )
        own = named["library_scan_of_this_log"]
        assert own["value"] > 0
        assert own["rebuild_ratio"] == pytest.approx(rebuilt["value"] / own["value"], abs=1e-2)


@pytest.mark.postgres
def test_bench_measures_each_phase_and_ceiling_in_a_process_of_its_own() -> None:
    """A process's peak RSS never comes down: measured in one process, the
    PostgreSQL import reported the SQLite rebuild's peak. Every phase and every
    ceiling names the process that measured it, and no two share one."""
    require_postgres()
    figures = _bench("bench", "rebuild", "--store", "both", "--events", "1000")
    pids = []
    for store in ("sqlite", "postgres"):
        named = _by_name(figures, store)
        pids += [named["import"]["pid"], named["import"]["ceiling_pid"]]
        pids += [named["library_batched_save"]["pid"]]
        pids += [named["rebuild"]["pid"], named["rebuild"]["ceiling_pid"]]
        pids += [named["library_scan_of_this_log"]["pid"]]
        assert named["library_scan"]["pid"] == named["library_batched_save"]["pid"]
    assert len(set(pids)) == len(pids) == 12


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_bench_http_stores_every_acknowledged_event_once(store: str) -> None:
    """A second of each phase at 4 clients (aiohttp: CI has no wrk), with the
    projector as docker-compose runs it; then the bench's own integrity check."""
    require_postgres()  # the bare ceiling (postgres) and the schema
    figures = _bench(
        "bench.http",
        "--store",
        store,
        "--seconds",
        "1",
        "--concurrency",
        "4",
        "--client",
        "aiohttp",
    )
    named = _by_name(figures, store)
    expected = {
        "http_post_single_event",
        "http_post_batch_1000",
        "http_projection_catch_up_after_writes",
        "http_get_statement_one_client",
        "http_get_statement",
        "http_mixed_post_and_read",
        "http_get_statement_summary_10000_sales",
        "http_integrity",
    }
    if store == "postgres":
        expected.add("http_bare_fastapi_insert_ceiling")
    assert set(named) == expected
    for phase in (
        "http_post_single_event",
        "http_post_batch_1000",
        "http_get_statement",
        "http_get_statement_summary_10000_sales",
    ):
        assert named[phase]["failures"] == {}, phase
        assert named[phase]["value"] > 0, phase
    integrity = named["http_integrity"]
    assert integrity["value"] >= 1_000  # a batch of 1,000 at least was acknowledged
    assert (integrity["missing"], integrity["doubled"], integrity["chain_ok"]) == (0, 0, True)


def test_bench_http_summary_phase_through_its_lean_client() -> None:
    """The summary phase's own client (its default): every answer read whole and
    200, and the CPU a request cost the server and the client reported."""
    figures = _bench(
        "bench.http",
        "--store",
        "sqlite",
        "--phases",
        "summary",
        "--seconds",
        "1",
        "--concurrency",
        "4",
        "--workers",
        "2",
    )
    summary = _by_name(figures, "sqlite")["http_get_statement_summary_10000_sales"]
    assert summary["client"] == "lean"
    assert summary["failures"] == {}
    assert summary["value"] > 0
    assert summary["server_cpu_ms_per_req"] > 0
    assert summary["client_cpu_ms_per_req"] > 0


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_bench_queues_times_every_role_and_the_overview(store: str) -> None:
    if store == "postgres":
        require_postgres()
    figures = _bench(
        "bench.queues", "--store", store, "--reps", "40", "--events", "600", "--rounds", "2"
    )
    assert {(f["bench"], f["role"]) for f in figures} == {
        (bench, role)
        for bench in ("queue_reps", "queue_summary")
        for role in ("rep", "manager", "finance")
    } | {("overview", "finance")}
    assert all(f["store"] == store and f["p99"] >= f["p50"] >= 0 for f in figures)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("store", "via"), [("sqlite", "cli"), ("postgres", "cli"), ("sqlite", "library")]
)
def test_bench_crm_imports_a_whole_export_in_a_process_of_its_own(store: str, via: str) -> None:
    """`python -m bench.crm`, small: the generated export (its split rows
    scattered) imports whole — every row read, none refused — and the peak
    printed is the importing process's."""
    if store == "postgres":
        require_postgres()
    [figure] = _bench("bench.crm", "--rows", "400", "--store", store, "--via", via)
    assert (figure["bench"], figure["store"], figure["via"]) == ("crm_import", store, via)
    assert 400 <= figure["rows"] <= 402  # the last sale's split rows whole
    assert 0 < figure["stored"] < figure["rows"]
    assert figure["peak_rss_mib"] > 0
    assert figure["rows_per_s"] > 0


@pytest.mark.parametrize(
    ("late", "named"), [("payments", 30), ("cancellations", 30), ("sales", 60)]
)
def test_bench_late_payments_names_every_late_event(late: str, named: int) -> None:
    """`python -m bench.late_payments`, small: every late payment (or
    cancellation inside the window, or sale and its payment) of the paid
    quarter is named on it."""
    [figure] = _bench("bench.late_payments", "--payments", "30", "--late", late)
    assert (figure["bench"], figure["late"], figure["payments"]) == ("late_payments", late, 30)
    assert figure["later_events"] == named


def test_bench_bundle_bundles_an_ordinary_rep_of_a_small_organisation() -> None:
    """`python -m bench.bundle`, small: its default rep (rep-117 of 200) is one as
    far in among fewer reps — it bundled a rep that was never generated and
    ended in a traceback — and the bundle it makes checks."""
    [figure] = _bench("bench.bundle", "--reps", "20", "--events", "2000")
    assert (figure["bench"], figure["rep"], figure["check_exit"]) == ("audit_bundle", "rep-011", 0)
    assert figure["events_disclosed"] > 0
