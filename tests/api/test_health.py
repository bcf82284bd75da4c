"""GET /health (SPEC §7): the chain head, the projected position and the lag, and
— when the API's projector keeps failing on an event — the error (type and
message, no secrets; to finance and admin only, anyone else told it fails),
while the API keeps answering; `/health` as the benchmark
reads it (``position``, ``projected``) is unchanged."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from projections import runner
from projections.runner import verify_views
from tests.api.conftest import Api, demo_sale

LEAKY = "cannot take this event (postgresql://ledger:hunter2@db:5432/ledger)"


def _until(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


def _health(api: Api, who: str | None = None) -> dict[str, Any]:
    """The /health answer, without a token or with ``who``'s."""
    answer = api.client.get("/health", headers=api.as_(who) if who else {})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_healthy_api_reports_no_lag(api: Api) -> None:
    _until(lambda: _health(api)["lag"] == 0, "the projector")
    body = _health(api)
    assert body["status"] == "ok"
    assert body["position"] == body["projected"] == api.head()
    assert body["projection"]["state"] == "ok"
    assert body["projection"]["error"] is None


def test_a_failing_projector_is_reported_and_the_api_keeps_answering(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _until(lambda: _health(api)["lag"] == 0, "the projector")
    attempts: list[str] = []
    real = runner.rep_rows

    def rep_rows(facts: Any, calc: Any, rep_id: str, start: Any = None) -> Any:
        if rep_id == "rep-li":
            attempts.append(rep_id)
            raise ValueError(LEAKY)
        return real(facts, calc, rep_id, start)

    monkeypatch.setattr(runner, "rep_rows", rep_rows)
    stored = api.client.post("/events", json=demo_sale("S-H1"), headers=api.as_("integration"))
    assert stored.status_code == 201, stored.text
    _until(lambda: _health(api)["projection"]["state"] == "failing", "the failure")
    time.sleep(2.0)
    assert len(attempts) <= 4, len(attempts)  # backing off, not a hot loop

    body = _health(api, "finance")
    assert body["status"] == "degraded"
    assert body["lag"] >= 1
    assert body["projected"] < body["position"] == api.head()
    error = body["projection"]["error"]
    assert error["type"] == "ValueError"
    assert "cannot take this event" in error["message"]
    assert "hunter2" not in str(body)
    assert _health(api, "admin")["projection"]["error"] == error
    # the status stays public (load balancers), what failed does not
    for who in (None, "rep", "manager", "integration"):
        told = _health(api, who)
        assert (told["status"], told["projection"]["state"]) == ("degraded", "failing")
        assert told["projection"]["error"]["type"] == "withheld", who
        assert "cannot take this event" not in str(told), who

    # other reads answer meanwhile, as of where the read models are
    other = api.client.get("/reps/rep-chen/statements/2026-Q3", headers=api.as_("finance"))
    assert other.status_code == 200, other.text
    assert other.json()["as_of"]["position"] == body["projected"]
    history = api.client.get("/reps/rep-li/history", headers=api.as_("rep"))
    assert history.status_code == 200, history.text

    monkeypatch.undo()  # the cause is gone
    _until(lambda: _health(api)["lag"] == 0, "the catch-up")
    assert _health(api)["projection"]["state"] == "ok"
    assert verify_views(api.ledger) == []  # applied exactly once


def test_a_token_sent_to_health_is_checked(api: Api) -> None:
    """/health needs no token, but one sent is a claim to read the projector's
    error: unknown or malformed, it is refused as everywhere (SPEC §5: 401)."""
    assert api.client.get("/health", headers=api.as_("forged")).status_code == 401
    assert api.client.get("/health", headers=api.as_("malformed")).status_code == 401
