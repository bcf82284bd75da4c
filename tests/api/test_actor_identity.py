"""SPEC §2 "Actors are identities" over HTTP (issue 16, acceptance 5): no
spelling of alice approves what alice recorded, a token is made only for a
valid actor, and the manager scope compares actors in normal form."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from api.tokens import TokenStore
from tests.api.conftest import SECRET, Api, demo_adjustment, demo_event
from tests.unit.test_actors import SPELLINGS_OF_ALICE

SUBJECT = "ADJ-ALICE"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _adjustment_by_alice(api: Api) -> TokenStore:
    """Alice (finance) requests an adjustment: a subject that needs a checker."""
    store = TokenStore(api.ledger, SECRET)
    alice, _ = store.create(actor="alice", role="finance")
    response = api.client.post(
        "/events",
        json=demo_adjustment(SUBJECT, "-150.00", "duplicate travel claim"),
        headers=_bearer(alice),
    )
    assert response.status_code == 201, response.json()
    assert api.ledger.event(response.json()["events"][0]["event_id"]).actor == "alice"
    return store


def _approval(**extra: Any) -> dict[str, Any]:
    return demo_event("ApprovalGranted", at="2026-11-03T10:00:00+08:00", subject_id=SUBJECT) | extra


VALID = [s for s, expected in SPELLINGS_OF_ALICE.items() if expected is not None]
INVALID = [s for s, expected in SPELLINGS_OF_ALICE.items() if expected is None]


class TestNoSecondApproverBySpelling:
    @pytest.mark.parametrize("spelling", VALID)
    def test_a_spelling_that_is_alice_is_refused_as_self_approval(
        self, api: Api, spelling: str
    ) -> None:
        """The token is alice's; POST /approvals and POST /events are both 409."""
        store = _adjustment_by_alice(api)
        token, principal = store.create(actor=spelling, role="finance")
        assert principal.actor == "alice"
        before = api.head()
        decision = api.client.post(
            "/approvals", json={"subject_id": SUBJECT, "decision": "grant"}, headers=_bearer(token)
        )
        assert decision.status_code == 409, decision.json()
        assert "maker-checker" in decision.json()["detail"]
        event = api.client.post("/events", json=_approval(), headers=_bearer(token))
        assert event.status_code == 409, event.json()
        assert event.json()["errors"][0]["field"] == "actor"
        assert api.head() == before

    @pytest.mark.parametrize("spelling", INVALID)
    def test_no_token_for_a_spelling_that_is_no_actor(self, api: Api, spelling: str) -> None:
        """A token can only be made for a valid actor: the refusal names the actor."""
        store = TokenStore(api.ledger, SECRET)
        with pytest.raises(ValueError, match=r"actor: .* is not a valid actor"):
            store.create(actor=spelling, role="finance")

    @pytest.mark.parametrize("spelling", INVALID)
    def test_an_event_naming_the_spelling_as_its_actor_is_refused(
        self, api: Api, spelling: str
    ) -> None:
        """Nor can a body name it as its actor: 422 on index and field, nothing stored."""
        _adjustment_by_alice(api)
        before = api.head()
        response = api.client.post(
            "/events", json=[_approval(actor=spelling)], headers=api.as_("finance2")
        )
        assert response.status_code == 422, response.json()
        assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "actor")]
        assert api.head() == before

    @pytest.mark.parametrize("spelling", VALID)
    def test_a_body_cannot_name_alice_under_another_token(self, api: Api, spelling: str) -> None:
        """fin-bob's token, a body saying it is alice (in any spelling): refused."""
        _adjustment_by_alice(api)
        before = api.head()
        response = api.client.post(
            "/events", json=[_approval(actor=spelling)], headers=api.as_("finance2")
        )
        assert response.status_code == 422, response.json()
        assert response.json()["errors"][0]["field"] == "actor"
        assert api.head() == before

    def test_another_person_approves(self, api: Api) -> None:
        """The control: fin-bob is not alice, and approves."""
        _adjustment_by_alice(api)
        response = api.client.post(
            "/approvals",
            json={"subject_id": SUBJECT, "decision": "grant"},
            headers=api.as_("finance2"),
        )
        assert response.status_code == 201, response.json()


def _signed(actor: str, role: str, token_id: str) -> str:
    """A token as an earlier version signed it: its actor as given, unnormalised."""
    body = {"tid": token_id, "sub": actor, "role": role, "rep": None, "exp": 4102444800}
    payload = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    signature = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest()
    return f"il1.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


class TestTokensSignedBefore:
    def _row(self, api: Api, token_id: str, actor: str) -> None:
        with api.ledger.factory.datastore.transaction(commit=True) as c:  # type: ignore[attr-defined]
            c.execute(
                "INSERT INTO api_tokens VALUES (?, ?, 'finance', NULL, '2026-01-01', "
                "'2100-01-01', NULL)",
                (token_id, actor),
            )

    def test_an_older_token_of_Alice_acts_as_alice(self, api: Api) -> None:  # noqa: N802
        """A token signed for ``Alice`` before the rule is read as alice: no second approver."""
        _adjustment_by_alice(api)
        self._row(api, "old-alice", "Alice")
        token = _signed("Alice", "finance", "old-alice")
        response = api.client.post(
            "/approvals", json={"subject_id": SUBJECT, "decision": "grant"}, headers=_bearer(token)
        )
        assert response.status_code == 409, response.json()

    def test_an_older_token_of_no_valid_actor_is_refused(self, api: Api) -> None:
        """A token whose actor has no normal form (``alice`` + zero-width space) is 401."""
        _adjustment_by_alice(api)
        self._row(api, "old-zw", "alice\u200b")
        token = _signed("alice\u200b", "finance", "old-zw")
        response = api.client.post(
            "/approvals", json={"subject_id": SUBJECT, "decision": "grant"}, headers=_bearer(token)
        )
        assert response.status_code == 401
        assert "not a valid actor" in response.json()["detail"]


class TestManagerScope:
    """A rep's manager_id names an actor; it is compared with the token's in normal form."""

    def test_a_manager_token_in_any_spelling_is_the_same_manager(self, api: Api) -> None:
        store = TokenStore(api.ledger, SECRET)
        token, principal = store.create(actor="  MGR-Zhao ", role="manager")
        assert principal.actor == "mgr-zhao"
        response = api.client.get("/reps/rep-li/history", headers=_bearer(token))
        assert response.status_code == 200

    def test_a_manager_id_written_in_capitals_is_its_manager(self, api: Api) -> None:
        """``manager_id = "Mgr-Qian"`` is managed by the token of mgr-qian (and no one else)."""
        enrol = demo_event(
            "RepEnrolled",
            at="2026-10-01T09:00:00+08:00",
            rep_id="rep-zhou",
            name="Zhou",
            plan_id="field-sales",
            manager_id="Mgr-Qian",
        )
        assert api.client.post("/events", json=enrol, headers=api.as_("admin")).status_code == 201
        own = api.client.get("/reps/rep-zhou/history", headers=api.as_("other_manager"))
        assert own.status_code == 200
        other = api.client.get("/reps/rep-zhou/history", headers=api.as_("manager"))
        assert other.status_code == 404
        at = "2026-10-02T09:00:00+08:00"
        coaching = demo_event(
            "CoachingRecorded", at=at, rep_id="rep-zhou", topic="pipeline hygiene"
        )
        recorded = api.client.post("/events", json=coaching, headers=api.as_("other_manager"))
        assert recorded.status_code == 201, recorded.json()
