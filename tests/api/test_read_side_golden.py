"""The typed read side is encoded once, at the edge, into the same bytes as
before: golden bodies taken from the API as it served untyped rows."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, demo_adjustment, demo_event

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


# The keys of each work-queue item, in the order the untyped rows were served
# (taken from the API before the queues answered typed pages; a pending item's
# last keys depend on its kind).
_PENDING = [
    "kind", "subject_id", "rep_id", "recorded_by", "recorded_at", "occurred_at",
    "event_id", "position", "rule", "may_decide", "amount",
]  # fmt: skip
QUEUE_KEYS: dict[str, list[str]] = {
    "page": ["items", "total", "offset", "limit"],
    "summary page": ["items", "total", "offset", "limit", "period", "teams"],
    "rep": ["left", "manager_id", "plan_ids", "rep_id", "team"],
    "summary": [
        "rep_id", "team", "manager_id", "currency", "total", "payable", "attainment",
        "score", "tier_coefficient", "pending", "status", "run_id", "now_total", "now_payable",
    ],
    "team": ["team", "currency", "reps", "total", "payable"],
    "run": [
        "calculated_by", "calculated_event_id", "chain_head", "currencies", "decided_by",
        "paid_event_id", "payable", "period", "position", "reps", "run_id", "status", "total",
        "held_by",
    ],
    "run statement": ["rep_id", "currency", "total", "payable", "sha256"],
    "target": [*_PENDING, "period", "about", "target"],
    "adjustment": [*_PENDING, "period", "about"],
    "case": [*_PENDING, "about"],
    "run pending": [*_PENDING, "period", "about"],
    "dispute": [
        "adjustment_id", "dispute_id", "message", "note", "outcome", "raised_at",
        "raised_by", "raised_event_id", "rep_id", "resolved_by", "resolved_event_id",
        "run_id", "status", "period", "rep_payable",
    ],
    "case item": [
        "amount", "approval", "approval_event_id", "approved_at", "approved_by", "case_id",
        "code", "decision_note", "description", "event_id", "evidence", "kind", "occurred_at",
        "overturned", "period", "position", "recorded_at", "recorded_by", "rung", "sanction",
        "severity", "rep_id", "status", "rule",
    ],
}  # fmt: skip


def test_the_typed_queues_send_the_keys_of_the_untyped_rows_in_their_order(api: Api) -> None:
    """Every work queue answers a typed page (`projections.queues`), encoded once
    by its model: the same keys, in the same order, as the untyped dicts had —
    a pending item's by its kind (a target, an adjustment, a red-line case, a run)."""
    finance, compliance = api.as_("finance2"), api.as_("compliance")
    adjustment = api.client.post(
        "/events",
        json=demo_adjustment("ADJ-GOLD", "120.00", "a missed deal"),
        headers=api.as_("finance"),
    )
    case = api.client.post(
        "/events",
        json=demo_event(
            "ViolationRecorded",
            case_id="CASE-GOLD",
            rep_id="rep-li",
            code="expense-fraud",
            severity="red_line",
            description="a false expense claim",
            amount="300.00",
        ),
        headers=compliance,
    )
    assert (adjustment.status_code, case.status_code) == (201, 201), (adjustment.text, case.text)
    run = api.client.post("/payouts/2026-Q4/runs", headers=api.as_("finance"))
    assert run.status_code == 201, run.text

    def body(url: str, headers: dict[str, str]) -> dict[str, Any]:
        answer = api.client.get(url, headers=headers)
        assert answer.status_code == 200, (url, answer.text)
        doc: dict[str, Any] = answer.json()
        return doc

    # the manager follows their team's targets, adjustments and cases; finance decides runs
    pending = body("/approvals/pending", api.as_("manager"))["items"]
    pending += body("/approvals/pending", finance)["items"]
    kinds = {"run": "run pending"}
    seen = {kinds.get(i["kind"], i["kind"]): list(i) for i in pending}
    assert set(seen) == {"target", "adjustment", "case", "run pending"}
    for kind, keys in seen.items():
        assert keys == QUEUE_KEYS[kind], kind
    summary = body("/periods/2026-Q3/summary", finance)
    assert list(summary) == QUEUE_KEYS["summary page"]
    assert [list(i) for i in summary["items"]] == [QUEUE_KEYS["summary"]] * len(summary["items"])
    assert [list(t) for t in summary["teams"]] == [QUEUE_KEYS["team"]] * len(summary["teams"])
    lists = {
        "/reps": "rep",
        "/payouts/runs": "run",
        "/disputes": "dispute",
        "/cases": "case item",
    }
    for url, kind in lists.items():
        page = body(url, compliance if url == "/cases" else finance)
        assert list(page) == QUEUE_KEYS["page"], url
        assert page["items"], url
        assert [list(i) for i in page["items"]] == [QUEUE_KEYS[kind]] * len(page["items"]), url
    detail = body(f"/payouts/runs/{api.demo.run_id}", finance)
    assert list(detail) == [*QUEUE_KEYS["run"], "calculated_at", "statements"]
    assert [list(s) for s in detail["statements"]] == [QUEUE_KEYS["run statement"]] * 3
