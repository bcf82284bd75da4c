"""SPEC §2 and §5 over HTTP, on both stores: a transfer recorded ahead of its
date leaves the rep in their manager's team until that day — the new manager
gets 404 on the rep's statements and disputes, 403 recording for them, and
neither `GET /reps`, the summary nor the team page lists them — and moves them
on it (the day injected into the app: `create_app(today=...)`). The manager
they left still reads the rep's periods they managed (their overrides and
decisions were made on them), and nothing later."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.tokens import TokenStore
from ledger.application import Ledger
from projections.service import Reports
from tests.api.conftest import SECRET
from tests.builders import jsonl, line, stored_record
from tests.integration.test_dated_transfers import MOVE_DAY, TODAY, Clock, moved_ahead

WHO = {"zhao": ("mgr-zhao", "manager"), "he": ("lead-he", "manager"), "fin": ("fin-amy", "finance")}


class Served:
    def __init__(self, client: TestClient, clock: Clock, tokens: dict[str, str]) -> None:
        self.client, self.clock, self.tokens = client, clock, tokens

    def team_page(self, who: str) -> str:
        """The team page (SPEC §5.1) of ``who``, signed in by a one-time link."""
        return str(self.page("/app/team?period=2026-Q4", who).text)

    def page(self, path: str, who: str) -> Any:
        """A page (SPEC §5.1) as ``who`` sees it, signed in by a one-time link."""
        actor, role = WHO[who]
        self.client.cookies.clear()
        app: Any = self.client.app
        code = app.state.signin_codes.issue(actor=actor, role=role)
        signed_in = self.client.post("/app/signin", data={"code": code}, follow_redirects=False)
        assert signed_in.status_code == 303
        return self.client.get(path)

    def get(self, url: str, who: str) -> Any:
        return self.client.get(url, headers={"Authorization": f"Bearer {self.tokens[who]}"})

    def kpi(self, who: str, score: str) -> int:
        body = {
            "type": "KpiScored",
            "occurred_at": "2026-11-20T10:00:00+08:00",
            "rep_id": "r1",
            "period": "2026-Q4",
            "kpi": "visits",
            "score": score,
        }
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return int(self.client.post("/events", json=body, headers=headers).status_code)

    def listed(self, who: str) -> list[str]:
        return [item["rep_id"] for item in self.get("/reps", who).json()["items"]]

    def teams(self, who: str) -> dict[str | None, int]:
        page = self.get("/periods/2026-Q4/summary", who).json()
        return {team["team"]: team["reps"] for team in page["teams"]}


@pytest.fixture
def served(db_url: str, make_ledger: Callable[..., Ledger]) -> Iterator[Served]:
    """r1 and r2 in east under mgr-zhao; r1's move to north under lead-he is
    recorded today (4 December 2026), dated 1 March 2027."""
    with serving(moved_ahead(make_ledger()), db_url) as found:
        yield found


@contextmanager
def serving(ledger: Ledger, db_url: str) -> Iterator[Served]:
    """The API over ``ledger`` (on ``db_url``) on 4 December 2026, with a token
    for each of `WHO`."""
    Reports(ledger).catch_up()
    store = TokenStore(ledger, SECRET)
    tokens = {name: store.create(actor=a, role=r)[0] for name, (a, r) in WHO.items()}
    clock = Clock(TODAY)
    settings = Settings(database_url=db_url, token_secret=SECRET, log_json=True, parse_workers=1)
    app = create_app(settings, ledger=ledger, today=clock)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield Served(client, clock, tokens)


def test_the_rep_stays_with_their_manager_until_its_date_then_moves(served: Served) -> None:
    """4 December 2026: mgr-zhao's rep (statements, disputes, KPIs, lists,
    summary, team page), not lead-he's; 1 March 2027: lead-he's, not mgr-zhao's."""
    for url in ("/reps/r1/statements/2026-Q3", "/reps/r1/statements/2026-Q4", "/reps/r1/disputes"):
        assert served.get(url, "zhao").status_code == 200, url
        assert served.get(url, "he").status_code == 404, url
    assert served.kpi("he", "0.9") == 403
    assert served.kpi("zhao", "0.9") == 201
    assert (served.listed("zhao"), served.listed("he")) == (["r1", "r2"], [])
    # mgr-zhao and lead-he, enrolled with no team and nothing in Q4, are listed
    # too (at 0.00, as a payout run of Q4 would cover them)
    assert served.teams("fin") == {None: 2, "east": 2}
    assert served.teams("he") == {}
    assert "r1" in served.team_page("zhao")
    assert "r1" not in served.team_page("he")

    coaching = {
        "type": "CoachingRecorded",
        "occurred_at": "2026-11-21T10:00:00+08:00",
        "rep_id": "r1",
        "topic": "pipeline hygiene",
    }
    headers = {"Authorization": f"Bearer {served.tokens['zhao']}"}
    recorded = served.client.post("/events", json=coaching, headers=headers)
    assert recorded.status_code == 201, recorded.text
    coached = recorded.json()["events"][0]["event_id"]
    app: Any = served.client.app
    ledger: Ledger = app.state.ledger
    case = {"case_id": "RL-1", "rep_id": "r1", "code": "fraud", "severity": "red_line"}
    at = "2026-11-22T10:00:00+08:00"
    ledger.import_lines(
        jsonl(
            line("ViolationRecorded", at=at, actor="cmp-li", **case, description="x"),
            line("ApprovalGranted", at=at, actor="cmp-wu", subject_id="RL-1"),
        ),
        actor="cmp",
    )
    decided = stored_record(ledger, "ApprovalGranted", subject_id="RL-1").event_id
    assert served.get(f"/events/{decided}", "zhao").status_code == 200  # their rep today

    served.clock.day = MOVE_DAY
    for url in ("/reps/r1/statements/2026-Q3", "/reps/r1/statements/2026-Q4", "/reps/r1/disputes"):
        assert served.get(url, "he").status_code == 200, url
    # the periods mgr-zhao managed r1 in (2027-Q1 up to the move), nothing later
    for url in ("/reps/r1/statements/2026-Q4", "/reps/r1/statements/2027-Q1"):
        assert served.get(url, "zhao").status_code == 200, url
        head = served.get(url, "zhao").json()["chain_head"]["position"]
        answer = served.get(f"{url}/diff?from={head}&to={head}", "zhao")
        assert answer.status_code == 200, answer.text
        # a bundle holds the rep's whole trail (their later history too): today's manager's
        assert served.get(f"{url}/bundle", "zhao").status_code == 404, url
    # the sale r1 made on mgr-zhao's watch (2 November 2026)
    lines = served.get("/reps/r1/statements/2026-Q4", "zhao").json()["lines"]
    cited = {e for line in lines for e in line.get("event_ids", [])}
    kinds = {served.get(f"/events/{e}", "fin").json()["type"]: e for e in cited}
    assert served.get(f"/events/{kinds['SaleRecorded']}", "zhao").status_code == 200
    # the history is today's manager's, whoever recorded it
    assert served.get(f"/events/{coached}", "zhao").status_code == 404
    assert served.get(f"/events/{coached}", "he").status_code == 200
    assert served.get(f"/events/{decided}", "zhao").status_code == 404  # a decision on a case
    assert served.get(f"/events/{decided}", "he").status_code == 200
    later = "/reps/r1/statements/2027-Q2"
    head = served.get(later, "he").json()["chain_head"]["position"]
    for url in (later, f"{later}/diff?from={head}&to={head}", f"{later}/bundle"):
        assert served.get(url, "zhao").status_code == 404, url
        assert served.get(url, "he").status_code == 200, url
    assert served.get("/reps/r1/disputes", "zhao").status_code == 404
    assert served.page("/app/reps/r1/statements/2026-Q4", "zhao").status_code == 200
    assert served.page("/app/reps/r1/statements/2027-Q2", "zhao").status_code == 404
    assert served.get("/reps/r1/statements/2026-Q4", "he").status_code == 200
    assert served.kpi("zhao", "0.9") == 403
    assert served.kpi("he", "0.8") == 201
    assert (served.listed("zhao"), served.listed("he")) == (["r2"], ["r1"])
    assert served.teams("fin") == {None: 2, "east": 1, "north": 1}
    assert served.teams("he") == {"north": 1}
    assert "r1" not in served.team_page("zhao")
    assert "r1" in served.team_page("he")
