"""GET /metrics: Prometheus text with requests by route template and status,
latency histograms, events appended, projection lag and chain status."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.settings import Settings
from api.tokens import TokenStore
from demo import DemoResult
from ledger.application import Ledger
from tests.api.conftest import SECRET, Api


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """name + sorted labels -> value, of every sample (parsed as Prometheus does)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


class TestMetrics:
    def test_requests_are_counted_by_route_template_and_status(self, api: Api) -> None:
        """Rep ids never become labels: the template does."""
        for _ in range(2):
            ok = api.client.get("/reps/rep-li/history", headers=api.as_("rep"))
            assert ok.status_code == 200
        assert api.client.get("/reps/rep-chen/history", headers=api.as_("rep")).status_code == 404
        api.client.get("/no/such/path")
        response = api.client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        samples = _samples(response.text)
        route = "/reps/{rep_id}/history"
        key = (("method", "GET"), ("route", route), ("status", "200"))
        assert samples["ledger_http_requests_total", key] == 2
        key404 = (("method", "GET"), ("route", route), ("status", "404"))
        assert samples["ledger_http_requests_total", key404] == 1
        unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
        assert samples["ledger_http_requests_total", unmatched] == 1
        count = (
            "ledger_http_request_duration_seconds_count",
            (("method", "GET"), ("route", route)),
        )
        assert samples[count] == 3
        assert "rep-li" not in response.text
        assert "rep-chen" not in response.text

    def test_events_lag_and_chain(self, api: Api) -> None:
        samples = _samples(api.client.get("/metrics").text)
        head = api.head()
        assert samples["ledger_events_total", ()] == head
        assert samples["ledger_chain_ok", ()] == 1
        assert samples["ledger_chain_verified_position", ()] == head
        lag = samples["ledger_projection_lag_events", ()]
        assert lag == head - samples["ledger_projection_position", ()]
        assert samples["ledger_projector_failing", ()] == 0
        sales = samples["ledger_projected_events_total", (("type", "SaleRecorded"),)]
        assert sales == sum(1 for r in api.ledger.iter_log() if r.type == "SaleRecorded")

    def test_a_broken_chain_shows(self, api: Api, tmp_path: Path) -> None:
        """Editing a stored link past the last verified position (as someone
        with write access to the database would) turns ledger_chain_ok to 0."""
        head = api.head()
        with sqlite3.connect(tmp_path / "ledger.db") as db:  # the api fixture's copy
            db.execute("UPDATE event_chain SET hash = ? WHERE position = ?", ("0" * 64, head))
        samples = _samples(api.client.get("/metrics").text)
        assert samples["ledger_chain_ok", ()] == 0
        assert samples["ledger_chain_verified_position", ()] == 0

    def test_public_by_default(self, api: Api) -> None:
        assert api.client.get("/metrics").status_code == 200


@pytest.fixture
def private_api(demo_db: tuple[Path, DemoResult], tmp_path: Path) -> TestClient:
    source, _ = demo_db
    target = tmp_path / "ledger.db"
    shutil.copy(source, target)
    url = f"sqlite:///{target}"
    ledger = Ledger(url)
    settings = Settings(
        database_url=url,
        token_secret=SECRET,  # type: ignore[arg-type]
        metrics_public=False,
    )
    return TestClient(create_app(settings, ledger=ledger))


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("finance", 200),
        ("admin", 200),
        ("rep", 403),
        ("manager", 403),
        ("compliance", 403),
        ("integration", 403),
        (None, 401),
    ],
)
def test_private_metrics_need_finance_or_admin(
    private_api: TestClient, role: str | None, expected: int
) -> None:
    """LEDGER_METRICS_PUBLIC=false: like any other route, by role."""
    headers = {}
    if role is not None:
        ledger = private_api.app.state.ledger  # type: ignore[attr-defined]
        token = TokenStore(ledger, SECRET).create(
            actor="someone", role=role, rep_id="rep-li" if role == "rep" else None
        )[0]
        headers = {"Authorization": f"Bearer {token}"}
    with private_api as client:
        assert client.get("/metrics", headers=headers).status_code == expected


def test_starting_the_api_reads_no_figure(
    demo_db: tuple[Path, DemoResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger's figures are read at a scrape, never at the start: registering
    the collector once checked the whole chain of a store no one had verified yet
    (18 s before the API answered, on a million imported events)."""
    source, _ = demo_db
    shutil.copy(source, tmp_path / "ledger.db")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = Ledger(url)
    checks: list[int] = []
    real = Ledger.check_chain

    def counted(self: Ledger) -> object:
        checks.append(1)
        return real(self)

    monkeypatch.setattr(Ledger, "check_chain", counted)
    settings = Settings(database_url=url, token_secret=SECRET)  # type: ignore[arg-type]
    app = create_app(settings, ledger=ledger)
    assert checks == []
    with TestClient(app) as client:
        assert checks == []
        text = client.get("/metrics").text
    assert len(checks) == 1
    samples = _samples(text)
    assert samples["ledger_chain_ok", ()] == 1
    assert samples["ledger_events_total", ()] == ledger.head().position  # type: ignore[union-attr]
    ledger.close()
