"""Idempotency-Key on every request that records events (SPEC §5): a repeat or a
concurrent duplicate with the same key and request gets the first answer; the
same key with another request is refused; keys belong to the token's grant;
answers hold across app instances on one database — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from api.app import create_app
from api.idempotency import IdempotencyStore
from api.settings import Settings
from api.tokens import TokenStore
from demo import DemoResult, run_demo
from ledger.application import Ledger
from tests.api.conftest import SECRET, demo_sale, issue_tokens

KEY = "Idempotency-Key"


@dataclass
class Instance:
    client: TestClient
    ledger: Ledger


@dataclass
class Stack:
    """Two API instances (as two processes would be) over one demo database."""

    a: Instance
    b: Instance
    tokens: dict[str, str]
    demo: DemoResult

    def head(self) -> int:
        head = self.a.ledger.head()
        return head.position if head else 0

    def as_(self, who: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        if key is not None:
            headers[KEY] = key
        return headers


@pytest.fixture
def stack(db_url: str) -> Iterator[Stack]:
    first = Ledger(db_url)
    demo = run_demo(first)
    second = Ledger(db_url)
    store = TokenStore(first, SECRET)
    tokens = issue_tokens(
        store, "rep", "other_rep", "finance", "finance2", "integration", "integration2"
    )
    settings = Settings(database_url=db_url, token_secret=SECRET, log_json=True)  # type: ignore[arg-type]
    with (
        TestClient(create_app(settings, ledger=first)) as a,
        TestClient(create_app(settings, ledger=second)) as b,
    ):
        yield Stack(Instance(a, first), Instance(b, second), tokens, demo)
    first.close()
    second.close()


def _same(first: httpx.Response, second: httpx.Response) -> None:
    assert (second.status_code, second.content) == (first.status_code, first.content)


class TestRepeat:
    def test_a_repeat_gets_the_first_answer_and_records_nothing(self, stack: Stack) -> None:
        headers = stack.as_("rep", "dispute-1")
        body = {"run_id": stack.demo.run_id, "message": "my Q3 bonus is short"}
        first = stack.a.client.post("/disputes", json=body, headers=headers)
        assert first.status_code == 201, first.text
        head = stack.head()
        second = stack.a.client.post("/disputes", json=body, headers=headers)
        _same(first, second)
        assert second.headers["idempotent-replayed"] == "true"
        assert stack.head() == head  # one dispute, not two (its id is drawn per request)

    def test_a_dispute_whose_answer_a_crash_lost_is_named_again(self, stack: Stack) -> None:
        """Killed after the dispute was stored and before its answer was kept, the
        request is run again once its claim expires: it names the dispute stored
        then (its id derives from the key) and stores nothing, where it raised a
        second dispute under a fresh id."""
        headers = stack.as_("rep", "dispute-crash")
        body = {"run_id": stack.demo.run_id, "message": "my Q3 bonus is short"}
        first = stack.a.client.post("/disputes", json=body, headers=headers)
        assert first.status_code == 201, first.text
        head = stack.head()
        IdempotencyStore(stack.a.ledger)._table.execute(  # the answer lost, the claim expired
            "UPDATE {table} SET status = NULL, content_type = NULL, body = NULL, "
            "claimed_at = 0 WHERE idem_key = ?",
            ("dispute-crash",),
        )
        again = stack.b.client.post("/disputes", json=body, headers=headers)
        assert again.status_code == 201, again.text
        assert "idempotent-replayed" not in again.headers  # run afresh
        assert again.json()["dispute_id"] == first.json()["dispute_id"]
        assert (again.json()["stored"], stack.head()) == (0, head)

    def test_a_store_too_busy_to_claim_the_key_is_503(
        self, stack: Stack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """SQLite's one writer held by an import past the wait: the claim failed
        outside the routes' error handlers and answered 500; it is the 503 (and
        Retry-After) any write gets then, with nothing run."""

        def busy(*_: object) -> None:
            raise OperationalError("the writer is busy")

        monkeypatch.setattr(IdempotencyStore, "claim", busy)
        head = stack.head()
        answer = stack.a.client.post(
            "/events", json=demo_sale("S-IDEM-BUSY"), headers=stack.as_("integration", "busy-1")
        )
        assert (answer.status_code, answer.json()["error"]) == (503, "unavailable")
        assert answer.headers["retry-after"] == "1"
        assert stack.head() == head

    def test_an_answer_the_store_could_not_keep_is_still_given(
        self, stack: Stack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The events committed, then keeping the answer failed: the client gets
        the answer (not a 500 for a write that happened), and a retry is run
        afresh and skips what was stored."""

        def busy(*_: object) -> None:
            raise OperationalError("the writer is busy")

        monkeypatch.setattr(IdempotencyStore, "answer", busy)
        headers = stack.as_("integration", "busy-2")
        first = stack.a.client.post("/events", json=demo_sale("S-IDEM-2"), headers=headers)
        assert first.status_code == 201, first.text
        head = stack.head()
        again = stack.a.client.post("/events", json=demo_sale("S-IDEM-2"), headers=headers)
        assert (again.status_code, again.json()["skipped"], stack.head()) == (201, 1, head)

    @pytest.mark.parametrize(
        ("who", "path", "body"),
        [
            ("integration", "/events", demo_sale("S-IDEM-1")),
            ("finance", "/approvals", {"subject_id": "no-such-subject", "decision": "grant"}),
            ("finance", "/disputes/no-such/resolution", {"outcome": "rejected", "note": "n"}),
            ("finance", "/payouts/2026-Q4/runs", None),
            ("finance", "/payouts/runs/no-such-run/pay", None),
        ],
    )
    def test_every_recording_route_answers_a_repeat_the_same(
        self, stack: Stack, who: str, path: str, body: dict[str, Any] | None
    ) -> None:
        """Refusals are answers too: the repeat gets the same status and body."""
        headers = stack.as_(who, f"key-{path}")
        first = stack.a.client.post(path, json=body, headers=headers)
        head = stack.head()
        second = stack.a.client.post(path, json=body, headers=headers)
        _same(first, second)
        assert second.headers["idempotent-replayed"] == "true"
        assert stack.head() == head

    def test_a_repeat_on_another_instance_gets_the_first_answer(self, stack: Stack) -> None:
        headers = stack.as_("finance", "q4-payroll")
        first = stack.a.client.post("/payouts/2026-Q4/runs", headers=headers)
        assert first.status_code == 201, first.text
        head = stack.head()
        second = stack.b.client.post("/payouts/2026-Q4/runs", headers=headers)
        _same(first, second)
        assert stack.head() == head

    def test_a_server_error_is_not_kept(
        self, stack: Stack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A 5xx is not the answer to a request: a retry with the key runs again."""
        reports = stack.a.client.app.state.reports  # type: ignore[attr-defined]
        real = reports.plan_run

        def failing(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a bug")

        monkeypatch.setattr(reports, "plan_run", failing)
        headers = stack.as_("finance", "retry-me")
        assert stack.a.client.post("/payouts/2026-Q4/runs", headers=headers).status_code == 500
        monkeypatch.setattr(reports, "plan_run", real)
        again = stack.a.client.post("/payouts/2026-Q4/runs", headers=headers)
        assert again.status_code == 201, again.text
        assert "idempotent-replayed" not in again.headers


class TestMisuse:
    def test_the_same_key_with_another_body_is_refused(self, stack: Stack) -> None:
        headers = stack.as_("integration", "sales-batch-7")
        first = stack.a.client.post("/events", json=demo_sale("S-K-1"), headers=headers)
        assert first.status_code == 201
        head = stack.head()
        other = stack.b.client.post("/events", json=demo_sale("S-K-2"), headers=headers)
        assert other.status_code == 422
        assert other.json()["field"] == KEY
        assert "another request" in other.json()["detail"]
        assert stack.head() == head

    def test_the_same_key_on_another_route_is_refused(self, stack: Stack) -> None:
        headers = stack.as_("finance", "k-route")
        stack.a.client.post("/payouts/2026-Q4/runs", headers=headers)
        other = stack.a.client.post("/payouts/runs/x/pay", headers=headers)
        assert other.status_code == 422
        assert other.json()["field"] == KEY

    def test_keys_belong_to_the_actor(self, stack: Stack) -> None:
        """Another actor's request with the same key and body is its own request."""
        body = demo_sale("S-ACTOR")
        first = stack.a.client.post("/events", json=body, headers=stack.as_("integration", "k"))
        other = stack.a.client.post("/events", json=body, headers=stack.as_("integration2", "k"))
        assert first.json()["stored"] == 1
        assert other.status_code == 201
        assert "idempotent-replayed" not in other.headers
        assert (other.json()["stored"], other.json()["skipped"]) == (0, 1)  # ran: the sale is there

    def test_a_kept_answer_is_never_replayed_to_another_grant_of_the_actor(
        self, stack: Stack
    ) -> None:
        """The same actor with a token of a lower role (moved from finance to rep,
        say) and the same key runs its request afresh: the route's role check
        refuses it, it never gets the finance answer kept under the key."""
        run = stack.a.client.post("/payouts/2026-09/runs", headers=stack.as_("finance", "k1"))
        assert run.status_code == 201
        finance = TokenStore(stack.a.ledger, SECRET)
        actor = finance.check(stack.tokens["finance"]).actor
        as_rep = finance.create(actor=actor, role="rep", rep_id="rep-li")[0]
        head = stack.head()
        for client in (stack.a.client, stack.b.client):  # (the second: its own 403, kept)
            again = client.post(
                "/payouts/2026-09/runs",
                headers={"Authorization": f"Bearer {as_rep}", KEY: "k1"},
            )
            assert again.status_code == 403, again.text
            assert run.json()["run_id"] not in again.text
        assert stack.head() == head
        same_grant = finance.create(actor=actor, role="finance")[0]  # a new token, same grant
        replay = stack.b.client.post(
            "/payouts/2026-09/runs",
            headers={"Authorization": f"Bearer {same_grant}", KEY: "k1"},
        )
        assert replay.headers.get("idempotent-replayed") == "true"
        _same(run, replay)

    @pytest.mark.parametrize("key", ["", "x" * 201, "naïve"])
    def test_a_bad_key_is_refused_naming_the_header(self, stack: Stack, key: str) -> None:
        head = stack.head()
        response = stack.a.client.post(
            "/events",
            json=demo_sale("S-BADKEY"),
            headers={**stack.as_("integration"), KEY: key.encode()},  # type: ignore[dict-item]
        )
        assert response.status_code == 422
        assert response.json()["field"] == KEY
        assert stack.head() == head


def _slowed(ledger: Ledger, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Writes through ``ledger`` take ``seconds`` longer: duplicates surely overlap."""
    real = ledger.record_inputs

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(ledger, "record_inputs", slow)


class TestConcurrentDuplicates:
    def _race(self, calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
        start = threading.Barrier(len(calls))

        def run(call: Callable[[], httpx.Response]) -> httpx.Response:
            start.wait()
            return call()

        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(run, calls))

    def test_duplicates_in_one_instance_wait_for_the_first(
        self, stack: Stack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """They got a 409 (payout runs) or recorded twice (disputes)."""
        _slowed(stack.a.ledger, monkeypatch, 0.3)
        head = stack.head()
        body = {"run_id": stack.demo.run_id, "message": "short"}
        headers = stack.as_("rep", "together")
        answers = self._race(
            [lambda: stack.a.client.post("/disputes", json=body, headers=headers)] * 4
        )
        assert {r.status_code for r in answers} == {201}
        assert len({r.content for r in answers}) == 1
        assert sum("idempotent-replayed" in r.headers for r in answers) == 3
        assert stack.head() == head + 1

    def test_duplicates_across_instances_wait_for_the_first(
        self, stack: Stack, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _slowed(stack.a.ledger, monkeypatch, 0.3)
        _slowed(stack.b.ledger, monkeypatch, 0.3)
        head = stack.head()
        headers = stack.as_("finance", "q4-run-together")
        answers = self._race(
            [
                lambda: stack.a.client.post("/payouts/2026-Q4/runs", headers=headers),
                lambda: stack.b.client.post("/payouts/2026-Q4/runs", headers=headers),
                lambda: stack.a.client.post("/payouts/2026-Q4/runs", headers=headers),
                lambda: stack.b.client.post("/payouts/2026-Q4/runs", headers=headers),
            ]
        )
        assert {r.status_code for r in answers} == {201}, [r.text for r in answers]
        assert len({r.content for r in answers}) == 1
        assert stack.head() == head + 1
