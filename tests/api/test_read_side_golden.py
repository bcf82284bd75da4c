"""The typed read side is encoded once, at the edge, into the same bytes as
before: golden bodies taken from the API as it served untyped rows."""

from __future__ import annotations

from tests.api.conftest import Api

_RAISED = (
    '"dispute_id":"DSP-401","message":"S-1002 was my deal; the split should be 70/30, not 50/50",'
)
_IDS = (
    '"raised_at":"2026-10-20T10:00:00+08:00","raised_by":"rep-li",'
    '"raised_event_id":"a4258803-c3ca-55a3-8899-2a9b830d73a5","rep_id":"rep-li",'
)
OPEN = (
    '[{"adjustment_id":null,'
    + _RAISED
    + '"note":null,"outcome":null,'
    + _IDS
    + '"resolved_by":null,"resolved_event_id":null,"run_id":"{run_id}","status":"open"}]'
)
RESOLVED = (
    '[{"adjustment_id":null,'
    + _RAISED
    + '"note":"the split was agreed in writing","outcome":"rejected",'
    + _IDS
    + '"resolved_by":"fin-bob","resolved_event_id":"9eb6a081-650c-5c55-81af-eec526915fe0",'
    '"run_id":"{run_id}","status":"resolved"}]'
)


def test_a_reps_disputes_are_the_same_bytes_open_and_resolved(api: Api) -> None:
    """`GET /reps/{id}/disputes`: `DisputeRow`s, byte for byte the untyped rows."""
    url = "/reps/rep-li/disputes"
    before = api.client.get(url, headers=api.as_("finance"))
    assert before.status_code == 200, before.text
    assert before.content.decode() == OPEN.replace("{run_id}", api.demo.run_id)
    resolved = api.client.post(
        "/disputes/DSP-401/resolution",
        json={"outcome": "rejected", "note": "the split was agreed in writing"},
        headers=api.as_("finance2"),
    )
    assert resolved.status_code == 201, resolved.text
    after = api.client.get(url, headers=api.as_("rep"))
    assert after.status_code == 200, after.text
    assert after.content.decode() == RESOLVED.replace("{run_id}", api.demo.run_id)


def test_a_manager_is_scoped_by_the_typed_directory_row(api: Api) -> None:
    """`RepRow.manager_id` decides a manager's scope, as the untyped row did."""
    mine = api.client.get("/reps/rep-li/disputes", headers=api.as_("manager"))
    other = api.client.get("/reps/rep-li/disputes", headers=api.as_("other_manager"))
    assert (mine.status_code, other.status_code) == (200, 404)
