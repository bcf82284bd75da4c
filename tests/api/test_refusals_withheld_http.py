"""SPEC §5 over HTTP, on both stores: an error answer tells its reader no
stored fact they may not read. An integration reads no event: another CRM's
token refused a cancellation or payment of crm-sync's sale is told the rule
it broke and the field, not when the sale occurred or was cancelled, its
currency, its amount or what was paid of it — crm-sync, who recorded them,
is still told all of it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.tokens import TokenStore
from policies.pay_warnings import after_leaving_warning
from policies.wording import render_warning
from tests.api.conftest import SECRET, Served, demo_event

# crm-sync recorded S-1004 (70,000.00 CNY, 22 July) and S-1003's cancellation (5 September).
RECORDER, OTHER = "integration", "integration2"
BEFORE_THE_SALE = "2026-07-01T10:00:00+08:00"


def _payment(sale_id: str, amount: str, at: str = "2026-11-02T10:00:00+08:00") -> dict[str, Any]:
    return demo_event("PaymentReceived", at=at, payment_id="P-9", sale_id=sale_id, amount=amount)


# (event, the field refused, words both senders get, what only crm-sync is told)
REFUSALS = {
    "cancelled-before-the-sale": (
        demo_event("SaleCancelled", at=BEFORE_THE_SALE, sale_id="S-1004", reason="typo"),
        "occurred_at",
        "a sale cannot be cancelled before it occurred",
        ["2026-07-22"],
    ),
    "paid-before-the-sale": (
        _payment("S-1004", "1.00", at=BEFORE_THE_SALE),
        "occurred_at",
        "a payment cannot be received before its sale S-1004 occurred",
        ["2026-07-22"],
    ),
    "paid-after-its-cancellation": (
        _payment("S-1003", "1.00"),
        "sale_id",
        "sale S-1003 was cancelled",
        ["2026-09-05"],
    ),
    "paid-above-the-sale": (
        _payment("S-1004", "70000.01"),
        "amount",
        "payment of 70000.01 would take sale S-1004's payments",
        ["70000.00", "CNY"],
    ),
    "paid-in-other-decimals": (
        _payment("S-1004", "1.001"),
        "amount",
        "decimal places",
        ["CNY"],
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_a_refusal_quotes_a_sale_only_to_who_recorded_it(demo_served: Served, case: str) -> None:
    """Both CRM tokens are refused alike (422, the field, the rule); the
    sale's moment, cancellation, currency and amount are crm-sync's to be
    told. crm-other was told them all."""
    event, field, rule, recorders = REFUSALS[case]
    answers = _refused_to_both(demo_served, event, (422, field, rule))
    for value in recorders:
        assert value in answers[RECORDER].text, value
        assert value not in answers[OTHER].text, (value, answers[OTHER].text)


def _refused_to_both(
    served: Served, event: dict[str, Any], refusal: tuple[int, str, str]
) -> dict[str, Any]:
    """The answers to ``event`` posted by each CRM token, both refused with
    ``refusal`` (status, field, words in the reason) and nothing stored."""
    status, field, rule = refusal
    before = served.stored()
    answers = {who: served.call("POST", "/events", who, json=event) for who in (RECORDER, OTHER)}
    assert served.stored() == before
    for who, answer in answers.items():
        assert answer.status_code == status, (who, answer.text)
        [error] = answer.json()["errors"]
        assert error["field"] == field, who
        assert rule in error["reason"], (who, error["reason"])
    return answers


def _decided(served: Served, who: str, subject_id: str) -> dict[str, Any]:
    """What ``who`` is answered granting ``subject_id`` by POST /approvals and
    by POST /events, with the id written ``<id>``."""
    grant = demo_event("ApprovalGranted", subject_id=subject_id)
    answers = (
        served.call(
            "POST", "/approvals", who, json={"subject_id": subject_id, "decision": "grant"}
        ),
        served.call("POST", "/events", who, json=grant),
    )
    return {
        route: (answer.status_code, answer.text.replace(subject_id, "<id>"))
        for route, answer in zip(("approvals", "events"), answers, strict=True)
    }


def test_compliance_deciding_on_pay_is_told_what_no_subject_is_told(demo_served: Served) -> None:
    """Compliance reads no one's pay: granting an adjustment, a pending
    target or a payout run is answered as granting an id that names nothing
    (404 "no subject", 422 on POST /events), nothing stored. It was 403
    "may not decide on a adjustment" — that the id is taken, and by what."""
    run_id = demo_served.call("GET", "/payouts/runs", "finance").json()["items"][0]["run_id"]
    before = demo_served.stored()
    nothing = _decided(demo_served, "compliance", "NOPE-1")
    assert nothing["approvals"][0] == 404
    assert nothing["events"][0] == 422
    for subject_id in ("ADJ-301", "T-WANG-Q3-B", run_id):
        assert _decided(demo_served, "compliance", subject_id) == nothing, subject_id
    assert demo_served.stored() == before


def test_finance_is_still_told_a_case_is_compliances_to_decide(demo_served: Served) -> None:
    """Finance reads every case (their fines are pay): granting one is 403
    naming its kind, as it was."""
    for status, text in _decided(demo_served, "finance", "CASE-201").values():
        assert status == 403, text
        assert "may not decide on a case" in text


def test_a_rep_disputing_a_run_that_paid_others_is_told_no_such_run(
    demo_served: Served,
) -> None:
    """rep-sun is in no run: disputing the Q3 run (which paid rep-li and
    others) is answered as disputing a run id naming nothing — the same 422
    on run_id, nothing stored. It said "payout run ... has no statement for
    rep rep-sun": that the id is a run's. Finance raising it for rep-sun is
    still told why."""
    demo_served.tokens["sun"] = TokenStore(demo_served.ledger, SECRET).create(
        actor="rep-sun", role="rep", rep_id="rep-sun"
    )[0]
    run_id = demo_served.call("GET", "/payouts/runs", "finance").json()["items"][0]["run_id"]
    before = demo_served.stored()

    def disputed(who: str, run: str) -> Any:
        body = {"rep_id": "rep-sun", "run_id": run, "message": "m"}
        return demo_served.call("POST", "/disputes", who, json=body)

    answers = [disputed("sun", run) for run in (run_id, "run-nope")]
    assert [a.status_code for a in answers] == [422, 422]
    assert answers[0].text.replace(run_id, "run-nope") == answers[1].text
    finance = disputed("finance", run_id)
    assert finance.status_code == 422
    assert f"payout run {run_id} has no statement for rep rep-sun" in finance.text
    assert demo_served.stored() == before


def test_a_sale_after_its_rep_left_warns_without_the_day_to_another_sender(
    demo_served: Served,
) -> None:
    """rep-wang's departure on 15 October is it-admin's: a CRM's sale for
    rep-wang dated after it is stored with the warning that rep-wang is
    credited nothing, in both languages, without the day they left. It
    named the day (``left_on``) to an integration, which reads no event;
    the CLI importing as the departure's own recorder is still told it."""
    left = demo_event("RepLeft", at="2026-10-15T10:00:00+08:00", rep_id="rep-wang")
    admin = demo_served.call("POST", "/events", "admin", json={**left, "reason": "resigned"})
    assert admin.status_code == 201, admin.text
    sale = demo_event(
        "SaleRecorded", sale_id="S-W9", rep_id="rep-wang", amount="100.00", currency="CNY"
    )
    answer = demo_served.call("POST", "/events", OTHER, json=sale)
    assert answer.status_code == 201, answer.text
    [warning] = answer.json()["events"][0]["warnings"]
    assert warning["code"] == "sale_after_leaving"
    assert warning["values"] == {"sale_id": "S-W9", "rep_id": "rep-wang"}
    assert "after rep-wang left: rep-wang is credited nothing" in warning["text"]
    assert "2026-10-15" not in answer.text
    own = {**sale, "sale_id": "S-W10", "actor": "it-admin"}
    result = demo_served.ledger.import_lines([json.dumps(own)], actor="it-admin")
    [(_, told)] = result.warnings
    assert "left on 2026-10-15: rep-wang is credited nothing" in render_warning(told, "en")
    assert "离职日：" in render_warning(after_leaving_warning("S-W9", "rep-wang", None), "zh-CN")


def test_a_payment_id_of_another_sale_is_409_naming_it_only_to_its_recorder(
    demo_served: Served,
) -> None:
    """SPEC §2: ``payment_id`` is a payment's natural key, whatever its sale.
    crm-sync's P-dup of S-1004 re-sent with a corrected sale id, S-1005, was
    stored as a second payment (the money released twice). Now it is 409 on
    payment_id, nothing stored: crm-sync is told which sale holds P-dup,
    crm-other (who did not record it) only that the id is taken; the same
    payment re-sent is skipped; and the id on two sales in one list is given
    twice, naming both items."""
    paid = _payment("S-1004", "1.00") | {"payment_id": "P-dup"}
    first = demo_served.call("POST", "/events", RECORDER, json=paid)
    assert first.status_code == 201, first.text
    before = demo_served.stored()
    moved = paid | {"sale_id": "S-1005"}
    taken = "payment P-dup is already stored with other content"
    answers = _refused_to_both(demo_served, moved, (409, "payment_id", taken))
    assert "(a payment of sale S-1004)" in answers[RECORDER].text
    assert "S-1004" not in answers[OTHER].text, answers[OTHER].text
    again = demo_served.call("POST", "/events", RECORDER, json=paid)
    assert again.status_code in {200, 201}, again.text
    assert demo_served.stored() == before, "the same payment re-sent is skipped"
    both = [paid | {"payment_id": "P-two"}, moved | {"payment_id": "P-two"}]
    twice = demo_served.call("POST", "/events", RECORDER, json=both)
    assert twice.status_code == 409, twice.text
    [error] = twice.json()["errors"]
    assert (error["index"], error["field"]) == (1, "payment_id")
    assert error["reason"].startswith(
        "payment P-two is given twice in this request, at item 0 and item 1, with other content"
    )
    assert demo_served.stored() == before
