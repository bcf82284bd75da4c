"""Kill the projection worker mid-batch (SIGKILL, a real process), restart it:
every event is applied exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from projections.facts import LedgerFacts
from projections.runner import Projector, compute_rows, verify_views
from projections.statement import AsOf, StepCache
from projections.storage import open_view_store
from tests.builders import enrol, jsonl, process_env, sale, seeded

WORKER = str(Path(sys.executable).parent / "incentive-ledger")


def _worker(url: str) -> subprocess.Popen[bytes]:
    env = process_env()
    return subprocess.Popen(
        [WORKER, "project", "--db", url, "--batch-events", "20"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_killed_worker_resumes_and_applies_each_event_once(db_url: str) -> None:
    ledger = seeded(Ledger(db_url))
    reps = [f"r{i}" for i in range(6)]
    ledger.import_lines([json.dumps(enrol(r)) for r in reps], actor="hr")
    sales = [
        {
            "type": "SaleRecorded",
            "occurred_at": f"2026-{7 + i % 3:02d}-{1 + i % 28:02d}T10:00:00+08:00",
            "actor": "crm",
            "sale_id": f"S{i}",
            "rep_id": reps[i % len(reps)],
            "amount": f"{1000 + i}.00",
            "currency": "CNY",
            "category": "software" if i % 2 else "hardware",
        }
        for i in range(1200)
    ]
    ledger.import_lines([json.dumps(s) for s in sales], actor="crm")
    head = ledger.head()
    assert head is not None
    store = open_view_store(ledger)
    assert store.position() == 0

    worker = _worker(db_url)
    killed_at = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        position = store.position()
        if 0 < position < head.position:
            worker.send_signal(signal.SIGKILL)
            killed_at = position
            break
        assert worker.poll() is None, "the worker finished before it could be killed"
        time.sleep(0.002)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    assert 0 < killed_at < head.position, "killed part way through the log"
    stopped_at = store.position()
    assert stopped_at < head.position

    restarted = _worker(db_url)
    _, stderr = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, stderr.decode()
    assert store.position() == head.position
    # the accumulating count would show any event applied twice or lost
    assert store.event_counts() == dict(Counter(r.type for r in ledger.iter_log()))
    assert verify_views(ledger, store) == []
    ledger.close()


def test_batches_double_while_behind_and_apply_each_event_once(db_url: str) -> None:
    """A projector far behind (a burst of writes) catches up in growing batches:
    fewer recomputations of the same open periods, the same read models."""
    ledger = seeded(Ledger(db_url), "r1")
    ledger.import_lines(jsonl(*(sale(f"S{i}", "r1", "100.00") for i in range(150))), actor="crm")
    head = ledger.head()
    assert head is not None
    batches: list[int] = []
    result = Projector(ledger).catch_up(
        batch_events=10, max_batch_events=40, on_batch=batches.append
    )
    expected, size, left = [], 10, head.position
    while left > 0:
        expected.append(min(size, left))
        left -= expected[-1]
        size = min(size * 2, 40)
    assert batches == expected
    assert batches[:4] == [10, 20, 40, 40]
    assert result.applied == head.position
    assert verify_views(ledger) == []
    ledger.close()


def test_a_following_projector_reuses_sale_steps_and_equals_a_fresh_replay(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch recomputes the open quarter; the sales of earlier batches are
    not explained again (`StepCache`), and the read models stay what a fresh
    replay gives."""
    from policies import commission

    made: list[str] = []
    real_step = commission.sale_commission_step

    def counting_step(*args: Any) -> Any:
        made.append("sale_commission")
        return real_step(*args)

    monkeypatch.setattr(commission, "sale_commission_step", counting_step)
    ledger = seeded(Ledger(db_url), "r1", "r2")
    projector = Projector(ledger)
    sale_number = 0
    for _ in range(3):
        batch = []
        for _ in range(10):
            sale_number += 1
            split = {"splits": [{"rep_id": "r1", "share": "0.6"}, {"rep_id": "r2", "share": "0.4"}]}
            extra = split if sale_number % 3 == 0 else {}
            batch.append(sale(f"S{sale_number}", "r1" if sale_number % 2 else "r2", **extra))
        ledger.import_lines(jsonl(*batch), actor="crm")
        made.clear()
        projector.catch_up()
        # only this batch's sales are explained: 10 sales, a split one twice
        assert made.count("sale_commission") == 10 + sum(
            1 for i in range(sale_number - 9, sale_number + 1) if i % 3 == 0
        )
        assert verify_views(ledger) == []
    ledger.close()


def test_the_step_cache_stays_bounded_inside_one_batch(db_url: str) -> None:
    """A projector far behind computes every sale in one batch: the cache is
    trimmed after each rep, not only between batches."""
    ledger = seeded(Ledger(db_url), "r1", "r2", "r3")
    ledger.import_lines(
        jsonl(*(sale(f"S{r}-{i}", r) for r in ("r1", "r2", "r3") for i in range(10))),
        actor="crm",
    )
    facts = LedgerFacts.of(ledger.iter_log())
    head = ledger.head()
    assert head is not None
    cache = StepCache(limit=5)
    rows = list(compute_rows(facts, AsOf(head.position, None, None), facts.reps, [], cache=cache))
    assert rows
    assert len(cache.steps) <= 10  # at most one rep's sales past the limit, never all 30
    ledger.close()


def test_a_projector_follows_what_another_one_projected(ledger: Ledger) -> None:
    """Two projectors on one store (the worker, and a CLI command that catches
    up before it reads). B kept r1's 2026-Q4 total (50.00) from its own last
    batch; A projected the approved −5,000 adjustment that made it −4,950; B,
    projecting a 2027-Q1 sale next, carried its stale 50.00 total: Q1 paid 50.00
    with no carried balance, where a replay carries −4,950 and pays nothing."""
    seeded(ledger, "r1")
    b = Projector(ledger)
    b.catch_up()
    ledger.import_lines(jsonl(sale("S0", "r1", at="2026-11-01T10:00:00+08:00")), actor="crm")
    b.catch_up()
    adjustment = {
        "type": "AdjustmentRequested",
        "occurred_at": "2026-11-02T10:00:00+08:00",
        "actor": "fin-amy",
        "adjustment_id": "A1",
        "rep_id": "r1",
        "period": "2026-Q4",
        "amount": "-5000.00",
        "reason": "recovery",
    }
    approval = {
        "type": "ApprovalGranted",
        "occurred_at": "2026-11-02T11:00:00+08:00",
        "actor": "fin-bob",
        "subject_id": "A1",
    }
    ledger.import_lines(jsonl(adjustment, approval), actor="fin")
    assert Projector(ledger).catch_up().applied == 2  # the other projector
    ledger.import_lines(jsonl(sale("S1", "r1", at="2027-01-15T10:00:00+08:00")), actor="crm")
    b.catch_up()
    row = b.store.row("statements", "r1", "2027-Q1")
    assert row is not None
    assert (row["total"], row["payable"]) == ("-4900.00", "0.00")
    assert verify_views(ledger, b.store) == []


def test_read_models_ahead_of_their_tracking_are_reported_not_looped_on(db_url: str) -> None:
    """The tracking row moved back one position (a restored or edited table):
    every catch-up retried the same batch for good at full CPU — `verify` and
    every reading command hung. Now the catch-up says what it found and
    `verify` reports it beside what differs; `rebuild` mends it."""
    import sqlite3
    from urllib.parse import parse_qs, urlsplit

    import psycopg

    from ledger.errors import ReadModelsDamagedError
    from projections.runner import rebuild
    from projections.service import Reports

    ledger = seeded(Ledger(db_url), "r1")
    ledger.import_lines(jsonl(sale("S1", "r1")), actor="crm")
    Reports(ledger).catch_up()
    moved = (
        "UPDATE {table} SET notification_id = notification_id - 1 "
        "WHERE application_name = 'incentive_ledger_views'"
    )
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute(moved.format(table="tracking"))
    else:
        schema = parse_qs(urlsplit(db_url).query)["schema"][0]
        with psycopg.connect(db_url.split("?", maxsplit=1)[0], autocommit=True) as conn:
            conn.execute(moved.format(table=f'"{schema}".ledger_views_tracking'))  # type: ignore[arg-type]
    with pytest.raises(ReadModelsDamagedError, match="`incentive-ledger rebuild`"):
        Reports(ledger).catch_up()
    problems = Reports(ledger).verify_projections()
    assert "the read models hold rows of positions after" in problems[0]
    rebuild(ledger)
    assert Reports(ledger).verify_projections() == []
    ledger.close()


def test_a_worker_killed_mid_replay_leaves_the_old_read_models_and_replays_on_restart(
    db_url: str,
) -> None:
    """The stored versions are behind the code's (read models an older release
    made): `project --follow` replays them on start. SIGKILL while it replays:
    nothing of the replay is kept — the old rows, position and versions stand —
    and the next worker replays them, each event applied once."""
    from projections import disputes
    from projections.read_models import current_versions
    from projections.runner import PROJECTOR_STATE

    ledger = seeded(Ledger(db_url), *(f"r{i}" for i in range(6)))
    ledger.import_lines(
        jsonl(*(sale(f"S{i}", f"r{i % 6}", f"{1000 + i}.00") for i in range(3000))), actor="crm"
    )
    head = ledger.head()
    assert head is not None
    store = open_view_store(ledger)
    Projector(ledger).catch_up()
    older = {**current_versions(), "reps": disputes.REPS.version - 1}
    store.stamp_versions(older)
    before = (store.position(), store.event_counts(), store.rows("reps"))

    env = process_env()
    worker = subprocess.Popen(
        [WORKER, "project", "--follow", "--db", db_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while (ledger.chain.get_state(PROJECTOR_STATE) or {}).get("state") != "rebuilding":
        assert worker.poll() is None, "the worker ended before it replayed"
        assert time.monotonic() < deadline, "the worker never said it replays"
        time.sleep(0.002)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    assert store.versions() == older, "the replay ended before the kill: not mid-replay"
    assert (store.position(), store.event_counts(), store.rows("reps")) == before

    restarted = _worker(db_url)
    _, stderr = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, stderr.decode()
    assert store.versions() == current_versions()
    assert store.position() == head.position
    assert store.event_counts() == dict(Counter(r.type for r in ledger.iter_log()))
    assert verify_views(ledger, store) == []
    ledger.close()
