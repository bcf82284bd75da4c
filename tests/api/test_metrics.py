"""GET /metrics: Prometheus text with requests by route template and status,
latency histograms, events appended, projection lag and chain status."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api import metrics
from api.app import create_app
from api.settings import Settings
from api.tokens import TokenStore
from demo import DemoResult
from ledger.application import Ledger
from ledger.chain_guard import watermark
from tests.api.conftest import SECRET, Api
from tests.builders import jsonl, sale


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
        response = api.client.get("/metrics", headers=api.as_("finance"))
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
        samples = _samples(api.client.get("/metrics", headers=api.as_("finance")).text)
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
        samples = _samples(api.client.get("/metrics", headers=api.as_("finance")).text)
        assert samples["ledger_chain_ok", ()] == 0
        assert samples["ledger_chain_verified_position", ()] == 0

    def test_a_token_by_default(self, api: Api) -> None:
        """SPEC §5: the API takes bearer tokens; an unknown or malformed one is 401."""
        assert api.client.get("/metrics").status_code == 401
        malformed = {"Authorization": "Bearer not-a-token"}
        assert api.client.get("/metrics", headers=malformed).status_code == 401
        assert api.client.get("/metrics", headers=api.as_("admin")).status_code == 200


def test_public_metrics_answer_without_a_token_and_check_one_sent(
    demo_db: tuple[Path, DemoResult], tmp_path: Path
) -> None:
    """LEDGER_METRICS_PUBLIC=true: a scraper without a token is answered; a
    malformed token sent anyway is still 401."""
    source, _ = demo_db
    target = tmp_path / "ledger.db"
    shutil.copy(source, target)
    url = f"sqlite:///{target}"
    settings = Settings(database_url=url, token_secret=SECRET, metrics_public=True)  # type: ignore[arg-type]
    with TestClient(create_app(settings, ledger=Ledger(url))) as client:
        assert client.get("/metrics").status_code == 200
        malformed = {"Authorization": "Bearer not-a-token"}
        assert client.get("/metrics", headers=malformed).status_code == 401


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
    )  # private: the default
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
    """By default, like any other route, by role."""
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

    def counted(self: Ledger, **options: Any) -> object:
        checks.append(1)
        return real(self, **options)

    monkeypatch.setattr(Ledger, "check_chain", counted)
    settings = Settings(database_url=url, token_secret=SECRET, metrics_public=True)  # type: ignore[arg-type]
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


class TestBoundedChainCheck:
    """A scrape checks at most `SCRAPE_CHAIN_POSITIONS` positions of the chain
    past the last verified one, so that it answers within a scraper's timeout
    after a large import; the scrapes after it go on from there."""

    @pytest.fixture
    def grown(
        self, demo_db: tuple[Path, DemoResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> tuple[TestClient, Ledger, int]:
        """The demo and 20 more sales, nothing of them verified; 6 positions a scrape."""
        source, _ = demo_db
        shutil.copy(source, tmp_path / "ledger.db")
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        ledger = Ledger(url)
        ledger.import_lines(
            jsonl(*(sale(f"S-more-{i}", "rep-li", "100.00") for i in range(20))), actor="crm"
        )
        kept = watermark(ledger.chain)
        start = kept[0] if kept else 0
        assert ledger.head().position - start >= 20  # type: ignore[union-attr]
        monkeypatch.setattr(metrics, "SCRAPE_CHAIN_POSITIONS", 6)
        settings = Settings(database_url=url, token_secret=SECRET, metrics_public=True)  # type: ignore[arg-type]
        return TestClient(create_app(settings, ledger=ledger)), ledger, start

    def test_each_scrape_goes_on_from_the_last(self, grown: tuple[TestClient, Ledger, int]) -> None:
        client, ledger, start = grown
        head = ledger.head().position  # type: ignore[union-attr]
        seen = []
        with client:
            for _ in range((head - start) // 6 + 2):
                samples = _samples(client.get("/metrics").text)
                assert samples["ledger_chain_ok", ()] == 1
                verified = samples["ledger_chain_verified_position", ()]
                assert samples["ledger_chain_unverified_events", ()] == head - verified
                seen.append(verified)
        assert seen[0] == start + 6
        assert seen == [min(start + 6 * n, head) for n in range(1, len(seen) + 1)]
        assert seen[-1] == head
        assert ledger.check_chain().checked == 0  # the watermark moved with the scrapes

    def test_a_break_shows_once_a_scrape_reaches_it(
        self, grown: tuple[TestClient, Ledger, int], tmp_path: Path
    ) -> None:
        client, ledger, start = grown
        head = ledger.head().position  # type: ignore[union-attr]
        with sqlite3.connect(tmp_path / "ledger.db") as db:
            db.execute("UPDATE event_chain SET hash = ? WHERE position = ?", ("0" * 64, head))
        oks = []
        with client:
            for _ in range((head - start) // 6 + 2):
                samples = _samples(client.get("/metrics").text)
                oks.append(samples["ledger_chain_ok", ()])
        reached = -(-(head - start) // 6)  # the scrape whose stretch holds the head
        assert oks[: reached - 1] == [1] * (reached - 1)
        assert oks[reached - 1 :] == [0] * (len(oks) - reached + 1)
        assert not ledger.check_chain().ok  # and a payout step sees it, whole
