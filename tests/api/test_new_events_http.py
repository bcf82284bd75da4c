"""POST /events takes SPEC §2's PaymentReceived, FxRateSet and RepTransferred
from the roles SPEC §5 gives them (integration records what the CRM knows —
payments; finance the exchange rates; admin enrolment and transfers), and
refuses them from any other role (403) and with bad fields (422, the field
named, nothing stored)."""

from __future__ import annotations

from typing import Any

import pytest

from demo import PLAN_TOML
from policies.plan import load_plan, plan_document
from tests.api.conftest import Api


def _event(type_: str, at: str = "2026-10-05T10:00:00+08:00", **fields: Any) -> dict[str, Any]:
    return {"type": type_, "occurred_at": at, **fields}


PAYMENT = _event("PaymentReceived", payment_id="P-1", sale_id="S-1001", amount="50000.00")
RATE = _event("FxRateSet", base="EUR", quote="CNY", rate="7.85")
TRANSFER = _event("RepTransferred", rep_id="rep-wang", team="north")


@pytest.mark.parametrize(
    ("event", "writer", "others"),
    [
        (PAYMENT, "integration", ("finance", "admin", "manager")),
        (RATE, "finance", ("integration", "admin", "manager")),
        (TRANSFER, "admin", ("integration", "finance", "manager")),
    ],
)
def test_each_new_type_is_written_by_its_role_only(
    api: Api, event: dict[str, Any], writer: str, others: tuple[str, ...]
) -> None:
    before = api.head()
    for who in others:
        assert api.client.post("/events", json=event, headers=api.as_(who)).status_code == 403
    assert api.head() == before
    response = api.client.post("/events", json=event, headers=api.as_(writer))
    assert response.status_code == 201, response.text
    assert api.head() == before + 1


@pytest.mark.parametrize(
    ("event", "who", "field"),
    [
        ({**PAYMENT, "amount": "120000.01"}, "integration", "amount"),
        ({**PAYMENT, "sale_id": "S-9999"}, "integration", "sale_id"),
        ({**RATE, "quote": "EUR"}, "finance", "quote"),
        ({**RATE, "rate": "0"}, "finance", "rate"),
        ({**TRANSFER, "manager_id": "Rep-Wang"}, "admin", "manager_id"),  # themselves
        (
            {
                "type": "RepTransferred",
                "occurred_at": TRANSFER["occurred_at"],
                "rep_id": "rep-wang",
            },
            "admin",
            "manager_id",
        ),
    ],
)
def test_bad_fields_are_named_and_nothing_is_stored(
    api: Api, event: dict[str, Any], who: str, field: str
) -> None:
    before = api.head()
    response = api.client.post("/events", json=[event], headers=api.as_(who))
    assert response.status_code in {404, 422}, response.text
    assert response.json()["errors"][0]["field"] == field
    assert api.head() == before


def _plan_event(plan_id: str, version: int) -> dict[str, Any]:
    """The demo's field-sales plan as ``plan_id`` v``version``, with an override."""
    text = (
        PLAN_TOML.replace('id = "field-sales"', f'id = "{plan_id}"').replace(
            "version = 1", f"version = {version}"
        )
        + "\n[override]\nrates = [0.02]\n"
    )
    return _event("PlanPublished", plan=plan_document(load_plan(text, "toml")))


def test_an_override_on_a_plan_whose_reps_have_no_reports_is_refused(api: Api) -> None:
    """The demo's field-sales reps report to mgr-zhao, who is no rep of the plan:
    a version with an override is refused naming plan.override, nothing stored."""
    before = api.head()
    response = api.client.post(
        "/events", json=[_plan_event("field-sales", 2)], headers=api.as_("admin")
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "plan.override"
    assert "has reports" in error["reason"]
    assert api.head() == before


def test_an_override_on_a_plan_nobody_follows_is_stored_with_a_warning(api: Api) -> None:
    response = api.client.post(
        "/events", json=[_plan_event("team-leads", 1)], headers=api.as_("admin")
    )
    assert response.status_code == 201, response.text
    (warning,) = response.json()["events"][0]["warnings"]
    assert (warning["code"], warning["field"]) == ("override_unfollowed", "plan.override")
    assert warning["text"].startswith("Plan team-leads v1 has an override")
