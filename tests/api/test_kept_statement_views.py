"""Kept statement views over HTTP, on SQLite and PostgreSQL (SPEC §4, issue 19):
a summary or a page read again is served from what the API process kept, with
the same bytes, its ETag, and every request's role and scope checks and audit
line; an event that changes the rep's statement, once projected, is in the
next read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from api.app import create_app
from api.settings import Settings
from api.tokens import TokenStore
from ledger.application import Ledger
from projections import service
from projections.service import Reports
from projections.summary import expand_ranges
from tests.builders import enrol, jsonl, sale, seeded

SECRET = "test-token-secret-0123456789abcdef"
SUMMARY = "/reps/r1/statements/2026-Q3?view=summary"
PAGE = "/reps/r1/statements/2026-Q3?offset=1&limit=2"


@dataclass
class Served:
    client: TestClient
    ledger: Ledger
    reports: Reports  # the API's
    tokens: dict[str, str]

    def get(self, path: str, who: str = "finance", **headers: str) -> bytes:
        response = self.client.get(
            path, headers={"Authorization": f"Bearer {self.tokens[who]}", **headers}
        )
        assert response.status_code == 200, response.text
        return response.content

    def project(self) -> None:
        """What the projection worker does beside the API (`project --follow`)."""
        Reports(self.ledger).catch_up()


@pytest.fixture
def served(ledger: Ledger, db_url: str) -> Iterator[Served]:
    """The API with a separate projector (as `serve --workers` runs), over r1
    (mgr-a's team, three sales) and r2 (mgr-b's)."""
    seeded(ledger)
    ledger.import_lines(
        jsonl(enrol("r1", manager_id="mgr-a"), enrol("r2", manager_id="mgr-b")), actor="hr-sync"
    )
    ledger.import_lines(
        jsonl(*(sale(f"S-{n}", "r1", category=c) for n, c in enumerate(("software",) * 3))),
        actor="crm",
    )
    Reports(ledger).catch_up()
    settings = Settings(
        database_url=db_url,
        token_secret=SECRET,  # type: ignore[arg-type]
        log_json=True,
        api_projector=False,
    )
    app = create_app(settings, ledger=ledger)
    store = TokenStore(ledger, SECRET)
    tokens = {
        "finance": store.create(actor="fin-amy", role="finance")[0],
        "rep": store.create(actor="r1", role="rep", rep_id="r1")[0],
        "other_rep": store.create(actor="r2", role="rep", rep_id="r2")[0],
        "manager": store.create(actor="mgr-a", role="manager")[0],
        "other_manager": store.create(actor="mgr-b", role="manager")[0],
    }
    with TestClient(app) as client:
        yield Served(client, ledger, app.state.reports, tokens)


def _software_sales(body: bytes) -> list[str]:
    line = next(x for x in orjson.loads(body)["lines"] if x.get("category") == "software")
    return expand_ranges(line["sales"]["ranges"])


class TestKept:
    def test_a_new_sale_is_in_the_next_summary_once_projected(self, served: Served) -> None:
        first = served.get(SUMMARY)
        assert len(served.reports._summaries) == 1
        assert served.get(SUMMARY) == first  # served from what was kept
        served.ledger.import_lines(jsonl(sale("S-new", "r1", category="software")), actor="crm")
        served.project()
        after = served.get(SUMMARY)
        assert "S-new" in _software_sales(after)
        assert "S-new" not in _software_sales(first)
        head = served.ledger.head()
        assert head is not None
        assert orjson.loads(after)["as_of"]["position"] == head.position
        assert after == Reports(served.ledger).summary_json("r1", "2026-Q3")  # as made anew

    def test_another_reps_sale_changes_only_the_as_of(self, served: Served) -> None:
        first = orjson.loads(served.get(SUMMARY))
        served.ledger.import_lines(jsonl(sale("S-r2", "r2")), actor="crm")
        served.project()
        again = orjson.loads(served.get(SUMMARY))
        head = served.ledger.head()
        assert head is not None
        assert again["as_of"]["position"] == head.position > first["as_of"]["position"]
        assert again["chain_head"]["hash"] == head.hash
        assert again["lines"] == first["lines"]
        assert served.get(SUMMARY) == Reports(served.ledger).summary_json("r1", "2026-Q3")

    def test_a_page_is_kept_and_made_again_after_a_change(self, served: Served) -> None:
        first = served.get(PAGE)
        assert served.get(PAGE) == first
        assert len(served.reports._summaries) == 1
        served.ledger.import_lines(jsonl(sale("S-new", "r1", "77.00")), actor="crm")
        served.project()
        after = orjson.loads(served.get(PAGE))
        assert after["page"]["total"] == orjson.loads(first)["page"]["total"] + 1
        assert after["total"] != orjson.loads(first)["total"]

    def test_the_etag_of_a_kept_view(self, served: Served) -> None:
        response = served.client.get(
            SUMMARY, headers={"Authorization": f"Bearer {served.tokens['finance']}"}
        )
        again = served.client.get(
            SUMMARY,
            headers={
                "Authorization": f"Bearer {served.tokens['finance']}",
                "If-None-Match": response.headers["ETag"],
            },
        )
        assert again.status_code == 304
        assert again.content == b""


class TestEveryRequestIsChecked:
    @pytest.mark.parametrize("path", [SUMMARY, PAGE])
    def test_scope_and_role_hold_for_a_kept_view(self, served: Served, path: str) -> None:
        """Kept by finance's read; the same view is still refused to whoever may not see it."""
        served.get(path)
        assert served.get(path, "rep") == served.get(path, "manager") == served.get(path)
        for who in ("other_rep", "other_manager"):
            response = served.client.get(
                path, headers={"Authorization": f"Bearer {served.tokens[who]}"}
            )
            assert response.status_code == 404, who
        assert served.client.get(path).status_code == 401

    def test_each_read_of_a_kept_view_by_finance_is_audited(self, served: Served) -> None:
        served.get(SUMMARY)
        with capture_logs() as logs:
            served.get(SUMMARY)
            served.get(SUMMARY)
            served.get(SUMMARY, "rep")
        audited = [e for e in logs if e["event"] == "audit.read"]
        assert [(e["actor"], e["rep_id"], e["what"]) for e in audited] == [
            ("fin-amy", "r1", "statement")
        ] * 2


class TestMadeOnce:
    def test_concurrent_reads_of_a_view_to_make_make_it_once(
        self, served: Served, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """After a change every client misses at once: one makes it, the others wait."""
        made: list[str] = []
        summarise = service.summarise

        def counted(doc: dict[str, Any], locale: str) -> dict[str, Any]:
            made.append(locale)
            time.sleep(0.05)  # a slow making: the others arrive meanwhile
            return summarise(doc, locale)

        monkeypatch.setattr(service, "summarise", counted)
        with ThreadPoolExecutor(8) as pool:
            bodies = list(pool.map(lambda _: served.get(SUMMARY), range(8)))
        assert made == ["en"]
        assert len(set(bodies)) == 1
