"""Versioned read models (issue 17, acceptance 3): a read model whose version
changed is replayed on start — by the CLI's inline projector, the worker, the
API's projector in the background with `GET /health` saying so — with no manual
step, and `verify` then finds it equal to a fresh replay; the schema of the
read models' own tables changes by ordered, recorded migrations. Both stores."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.tokens import TokenStore
from demo import run_demo
from ledger.application import Ledger
from ledger.errors import ReadModelsNewerError
from projections import disputes, runner, versioning
from projections.disputes import team_on
from projections.read_models import current_versions
from projections.runner import Projector, verify_views
from projections.service import Reports
from projections.storage import open_view_store
from projections.storage.migrations import MIGRATIONS
from projections.versioning import ReadModel
from tests.builders import held_replay, jsonl, sale

SECRET = "test-token-secret-0123456789abcdef"


def _reps_v2(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new version of the rep directory: team names in capitals — the code
    changed, and its version with it."""
    real = runner.rep_row

    def rep_row(facts: Any, rep_id: str) -> dict[str, Any]:
        row = real(facts, rep_id)
        teams = [[since, position, team.upper()] for since, position, team in row["teams"]]
        return {**row, "teams": teams}

    monkeypatch.setattr(runner, "rep_row", rep_row)
    monkeypatch.setattr(disputes, "REPS", ReadModel("reps", disputes.REPS.version + 1))


def _reps_change() -> str:
    """What changed once the rep directory's version was raised by one (as the
    tests here raise it): "reps N -> N+1", N the version stored."""
    version = disputes.REPS.version
    return f"reps {version - 1} -> {version}"


def _stamped(ledger: Ledger, **versions: int) -> dict[str, int]:
    """The stored versions as newer code left them: this code's, and ``versions``."""
    newer = {**current_versions(), **versions}
    open_view_store(ledger).stamp_versions(newer)
    return newer


@pytest.fixture
def projected(make_ledger: Callable[..., Ledger]) -> Ledger:
    """The demo quarter, projected by the code as it was."""
    ledger = make_ledger()
    run_demo(ledger)
    Reports(ledger).catch_up()
    assert open_view_store(ledger).versions() == current_versions()
    return ledger


class TestOnStart:
    def test_a_changed_version_is_replayed_by_the_next_reader_with_no_manual_step(
        self,
        projected: Ledger,
        make_ledger: Callable[..., Ledger],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """After the upgrade, the first command that reads (here `Reports.rep`, as
        the CLI calls it) serves the new rows; `verify` finds them equal to a
        fresh replay, and the new version is recorded."""
        before = Reports(projected).rep("rep-li")
        assert before.team == "east"
        _reps_v2(monkeypatch)
        restarted = make_ledger()  # a new process, on the same database
        reports = Reports(restarted)
        assert reports.rep("rep-li") == before.model_copy(update={"team": "EAST"})
        assert reports.verify_projections() == []
        assert open_view_store(restarted).versions()["reps"] == disputes.REPS.version
        head = restarted.head()
        assert head is not None
        assert open_view_store(restarted).position() == head.position

    def test_the_worker_replays_once_then_catches_up_as_usual(
        self, projected: Ledger, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`project` (the worker) replays on its first catch-up only."""
        _reps_v2(monkeypatch)
        projector = Projector(make_ledger())
        first = projector.catch_up()
        assert first.rebuilt
        assert (projector.catch_up().applied, projector.catch_up().rebuilt) == (0, False)
        assert verify_views(projector.ledger) == []

    def test_verify_names_a_read_model_whose_version_is_behind(
        self, projected: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Rows made by older code are not a fresh replay, even where they look alike."""
        monkeypatch.setattr(disputes, "REPS", ReadModel("reps", disputes.REPS.version + 1))
        problems = verify_views(projected)
        assert problems == [f"versions: {_reps_change()} (stored -> code): replay it (rebuild)"]

    def test_an_empty_store_records_the_versions_without_a_replay(
        self, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ledger = make_ledger()
        replays: list[object] = []
        real = runner._replay_all
        monkeypatch.setattr(
            runner, "_replay_all", lambda *a, **k: replays.append(a) or real(*a, **k)
        )
        projector = Projector(ledger)
        assert projector.catch_up().applied == 0
        assert replays == []
        assert projector.store.versions() == current_versions()


def _health(client: TestClient) -> dict[str, Any]:
    answer = client.get("/health")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _until(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


def test_the_api_replays_in_the_background_and_health_says_so(
    projected: Ledger,
    db_url: str,
    make_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API starts serving at once (the old rows) while its projector replays;
    `/health` says ``rebuilding`` and what changed, then ``ok`` at the head."""
    _reps_v2(monkeypatch)
    release = held_replay(monkeypatch)
    ledger = make_ledger()
    settings = Settings(database_url=db_url, token_secret=SECRET, log_json=True)  # type: ignore[arg-type]
    with TestClient(create_app(settings, ledger=ledger)) as client:
        _until(lambda: _health(client)["projection"]["state"] == "rebuilding", "the replay")
        body = _health(client)
        assert body["status"] == "ok"
        assert body["projection"]["rebuild"]["changed"] == [_reps_change()]
        release.set()
        _until(lambda: _health(client)["projection"]["state"] == "ok", "the replay's end")
        _until(lambda: _health(client)["lag"] == 0, "the projector")
        assert "rebuild" not in _health(client)["projection"]
    assert verify_views(ledger) == []
    row = open_view_store(ledger).row("reps", "rep-li", "rep-li")
    assert row is not None
    assert team_on(row, Reports(ledger).today()) == "EAST"


class TestMigrations:
    def test_a_new_store_records_every_migration(self, ledger: Ledger) -> None:
        store = open_view_store(ledger)
        assert _applied(ledger) == [m.number for m in MIGRATIONS]
        open_view_store(ledger)  # opened again: nothing applied twice
        assert _applied(ledger) == [m.number for m in MIGRATIONS]
        assert store.versions() == {}

    def test_a_store_made_before_migrations_were_recorded_is_brought_up_to_date(
        self, projected: Ledger, make_ledger: Callable[..., Ledger]
    ) -> None:
        """A database as an earlier version left it — the replay index without its
        dates, no versions, no record of migrations — is migrated on open, then
        replayed (its versions unknown) by the next reader."""
        schema = _schema(projected)
        with projected.factory.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
            c.execute(f"DROP TABLE {schema}proj_schema_migrations")
            c.execute(f"DROP TABLE {schema}proj_versions")
            c.execute(f"DELETE FROM {schema}proj_rep_events")
            c.execute(f"ALTER TABLE {schema}proj_rep_events DROP COLUMN since")
            c.execute(f"ALTER TABLE {schema}proj_rep_events DROP COLUMN until")
        restarted = make_ledger()
        reports = Reports(restarted)
        assert reports.catch_up().rebuilt
        assert _applied(restarted) == [m.number for m in MIGRATIONS]
        assert reports.verify_projections() == []


def _schema(ledger: Ledger) -> str:
    if not ledger.store.is_postgres:
        return ""
    return f'"{ledger.factory.datastore.schema}".'  # type: ignore[attr-defined]


def _applied(ledger: Ledger) -> list[int]:
    with ledger.factory.datastore.transaction(commit=False) as c:  # type: ignore[attr-defined]
        c.execute(f"SELECT number FROM {_schema(ledger)}proj_schema_migrations ORDER BY number")
        return [int(row["number"] if isinstance(row, dict) else row[0]) for row in c.fetchall()]


def test_a_worker_says_it_is_replaying_to_an_api_in_another_process(
    projected: Ledger, make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`project --follow` replays on start and reports it beside the log, so an
    API whose projections a worker keeps says ``rebuilding`` too, and its reads
    do not wait for a projector that is busy replaying."""
    _reps_v2(monkeypatch)
    release = held_replay(monkeypatch)
    worker = Projector(make_ledger())
    worker.reports_health = True  # as `project --follow` sets it
    replaying = threading.Thread(target=worker.catch_up)
    replaying.start()
    api_side = Reports(make_ledger(), projections="external")
    try:
        _until(lambda: api_side.projection_health()["state"] == "rebuilding", "the report")
        health = api_side.projection_health()
        assert (health["projector"], health["rebuild"]["changed"]) == ("worker", [_reps_change()])
        assert api_side._projector_unavailable()
    finally:
        release.set()
        replaying.join(60)
    assert api_side.projection_health()["state"] == "ok"
    assert verify_views(projected) == []


class TestOlderCode:
    """An older binary started on a store a newer one stamped (a rollback, or a
    rolling deploy's last old process): it projects nothing and says why,
    rather than replay the rows into its older shape under the newer process
    that reads them — which would then replay them back on its next start."""

    def test_it_refuses_to_replay_and_leaves_rows_and_versions_as_they_were(
        self, projected: Ledger, make_ledger: Callable[..., Ledger]
    ) -> None:
        newer = _stamped(projected, reps=disputes.REPS.version + 1)
        store = open_view_store(projected)
        rows, position = store.rows("reps"), store.position()
        replays: list[object] = []
        real = runner._replay_all
        projector = Projector(make_ledger())
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(runner, "_replay_all", lambda *a, **k: replays.append(a) or real(*a, **k))
            with pytest.raises(ReadModelsNewerError) as refused:
                projector.catch_up()
        version = disputes.REPS.version
        assert refused.value.newer == [f"reps {version + 1}, this code's {version}"]
        assert "`incentive-ledger rebuild`" in str(refused.value)
        assert replays == []
        assert (store.versions(), store.rows("reps"), store.position()) == (newer, rows, position)

    def test_a_follower_reports_it_and_backs_off(
        self, projected: Ledger, make_ledger: Callable[..., Ledger]
    ) -> None:
        _stamped(projected, reps=disputes.REPS.version + 1)
        projector = Projector(make_ledger())
        waits: list[float] = []
        projector.follow(stop=lambda: projector.health.failing or len(waits) > 3, wait=waits.append)
        health = projector.health.to_dict()
        assert (health["state"], health["error"]["type"]) == ("failing", "ReadModelsNewerError")
        assert "newer code" in health["error"]["message"]
        kept = Reports(make_ledger(), projections="external").projection_health()
        assert kept["state"] == "failing"

    def test_verify_names_it_and_a_rebuild_on_purpose_goes_back(
        self, projected: Ledger, make_ledger: Callable[..., Ledger]
    ) -> None:
        """`verify` reports the versions instead of failing; `rebuild`, run with
        the older code on purpose, replays for it; projecting then goes on."""
        _stamped(projected, reps=disputes.REPS.version + 1)
        version = disputes.REPS.version
        problems = Reports(make_ledger()).verify_projections()
        assert (
            f"versions: reps {version + 1} -> {version} (stored -> code): replay it (rebuild)"
            in (problems)
        )
        Reports(make_ledger()).rebuild(workers=1)
        assert open_view_store(projected).versions() == current_versions()
        assert Reports(make_ledger()).verify_projections() == []


class TestOlderCodeBesideANewReadModel:
    """A newer release added a read model (``targets`` here) and stamped its
    version. This code does not keep it: its batches would move the tracking
    position past events the newer read model never saw, and the newer process,
    finding its version stored, would go on from there — those events missing
    from its rows for good. So this code refuses beside it, as beside a newer
    version of a read model of its own."""

    def test_it_refuses_on_start(
        self, projected: Ledger, make_ledger: Callable[..., Ledger]
    ) -> None:
        newer = _stamped(projected, targets=1)
        store = open_view_store(projected)
        projected.import_lines(jsonl(sale("S-new", "rep-li")), actor="crm")
        position = store.position()
        with pytest.raises(ReadModelsNewerError) as refused:
            Projector(make_ledger()).catch_up()
        assert refused.value.newer == ["targets 1, which this code does not make"]
        assert (store.versions(), store.position()) == (newer, position)

    def test_a_running_projector_stops_at_its_next_batch(
        self, projected: Ledger, make_ledger: Callable[..., Ledger]
    ) -> None:
        """A rolling deploy: this code's projector checked the versions before
        the newer release stamped its own; its next batch is refused in the
        batch's transaction, and it refuses from then on."""
        projector = Projector(make_ledger())
        projector.catch_up()
        newer = _stamped(projected, targets=1)
        store = open_view_store(projected)
        position = store.position()
        projected.import_lines(jsonl(sale("S-new", "rep-li")), actor="crm")
        for _ in range(2):
            with pytest.raises(ReadModelsNewerError):
                projector.catch_up()
        assert (store.versions(), store.position()) == (newer, position)

    def test_verify_names_it_and_a_rebuild_on_purpose_leaves_it_to_be_replayed(
        self, projected: Ledger, make_ledger: Callable[..., Ledger]
    ) -> None:
        """A rebuild with this code (a rollback) records this code's versions
        alone: the newer release, back again, finds its read model missing and
        replays for it."""
        _stamped(projected, targets=1)
        problems = Reports(make_ledger()).verify_projections()
        assert "versions: targets 1 -> none (stored -> code): replay it (rebuild)" in (problems)
        Reports(make_ledger()).rebuild(workers=1)
        assert open_view_store(projected).versions() == current_versions()
        assert Reports(make_ledger()).verify_projections() == []

    def test_a_retired_read_model_is_no_newer_release(
        self,
        projected: Ledger,
        make_ledger: Callable[..., Ledger],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A read model this code no longer makes, named `RETIRED` when it was
        removed: its stored version is an older release's, its table left alone."""
        monkeypatch.setattr(versioning, "RETIRED", frozenset({"targets"}))
        _stamped(projected, targets=1)
        projected.import_lines(jsonl(sale("S-new", "rep-li")), actor="crm")
        Projector(make_ledger()).catch_up()
        head = projected.head()
        assert head is not None
        assert open_view_store(projected).position() == head.position
        assert Reports(make_ledger()).verify_projections() == []


def test_audit_verify_answers_while_the_api_replays(
    projected: Ledger,
    db_url: str,
    make_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`GET /audit/verify` caught up first, under the lock the API's projector
    holds for each of its catch-ups — its replay included: the request waited
    for the whole replay (minutes on a long log). It now answers at once, with
    the read models as they stand and the replay named."""
    _reps_v2(monkeypatch)
    release = held_replay(monkeypatch)
    ledger = make_ledger()
    settings = Settings(database_url=db_url, token_secret=SECRET, log_json=True)  # type: ignore[arg-type]
    token = TokenStore(ledger, SECRET).create(actor="fin-amy", role="finance")[0]
    finance = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, ledger=ledger)) as client:
        try:
            _until(lambda: _health(client)["projection"]["state"] == "rebuilding", "the replay")
            answers: list[Any] = []
            asking = threading.Thread(
                target=lambda: answers.append(client.get("/audit/verify", headers=finance))
            )
            asking.start()
            asking.join(30)
            assert answers, "GET /audit/verify waited for the replay"
            assert answers[0].status_code == 200, answers[0].text
            body = answers[0].json()
            assert body["ok"] is False
            assert body["projections"][0].startswith("read_models: being replayed (")
            change = f"versions: {_reps_change()} (stored -> code): replay it (rebuild)"
            assert change in body["projections"]
        finally:
            release.set()
        _until(lambda: _health(client)["projection"]["state"] == "ok", "the replay's end")
        _until(lambda: _health(client)["lag"] == 0, "the projector")
        after = client.get("/audit/verify", headers=finance).json()
        assert (after["ok"], after["projections"]) == (True, [])


def test_audit_verify_does_not_retry_a_failing_replay_in_the_request(
    projected: Ledger,
    db_url: str,
    make_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API's replay of a changed read model keeps failing (its store, say);
    its projector backs off (SPEC §7). `GET /audit/verify` caught up first, in
    the request: one more replay per request, bypassing the back-off, and its
    error a 500. It now says the projector is failing, and compares what is
    stored."""
    _reps_v2(monkeypatch)
    replays: list[object] = []

    def failing_replay(*args: Any, **kwargs: Any) -> Any:
        replays.append(args)
        raise RuntimeError("the store went away mid-replay")

    monkeypatch.setattr(runner, "_replay_all", failing_replay)
    ledger = make_ledger()
    settings = Settings(database_url=db_url, token_secret=SECRET, log_json=True)  # type: ignore[arg-type]
    token = TokenStore(ledger, SECRET).create(actor="fin-amy", role="finance")[0]
    with TestClient(create_app(settings, ledger=ledger)) as client:
        _until(lambda: _health(client)["projection"]["state"] == "failing", "the failure")
        tried = len(replays)
        answer = client.get("/audit/verify", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        problems = answer.json()["projections"]
        assert problems[0].startswith("read_models: the projector is failing (RuntimeError, since")
        assert f"versions: {_reps_change()} (stored -> code): replay it (rebuild)" in problems
        assert len(replays) <= tried + 1  # the follower's own retry, maybe; none by the request
