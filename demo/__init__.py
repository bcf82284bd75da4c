"""`incentive-ledger demo`: a realistic quarter for a small team.

Field sales in the east region, paid quarterly in CNY on the SPEC's plan: targets
set before the quarter (recorded after it began, so approved by finance) and one
changed mid-quarter (approved by finance) and one change still pending, software
and hardware deals at their rates, a deal split between two reps, a cancellation
inside the clawback window and one outside it, KPI scores, a first and a second
minor case with coaching in between, a red-line false expense claim approved by
compliance, a manual adjustment, a payout run that is approved and paid, then a
late cancellation booked as a correction next quarter, and a dispute.

Beside it, on a second plan (``inside-sales``, monthly, SPEC §3.1's shapes), a
small inside-sales team of its own reps, so none of the figures above change:
an accelerator above quota (marginal attainment bands) with a per-sale cap, a
Q3 software SPIFF, a prorated bonus, a new hire on a recoverable draw, a deal
in USD converted at the month's rate, and their lead paid a two-level override
on a plan of their own (``inside-leads``).

Why a top-level package of its own: the demo is a *user* of the ledger — it
records events through the application service and reads through the reporting
service, exactly as the CLI and the API do — so it sits beside them, above
both. In `projections/` it made the read side depend on sample data; in
`ledger/` the core would import the read side (`projections.service`), against
the direction imports go (`api`, `cli`, `demo` -> `projections` -> `ledger`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ledger.application import Ledger
from ledger.errors import InvalidInputError
from policies.plan import load_plan
from projections.service import Reports
from service import UseCases

__all__ = ["DemoResult", "run_demo"]

# The plans the demo publishes, shipped beside it (``samples/field-sales.toml`` is
# the first): the SPEC §3 field-sales plan, the SPEC §3.1 inside-sales plan and
# the inside team lead's.
_PLANS = resources.files(__name__) / "plans"
PLAN_TOML = (_PLANS / "field-sales.toml").read_text(encoding="utf-8-sig")
INSIDE_PLAN_TOML = (_PLANS / "inside-sales.toml").read_text(encoding="utf-8-sig")
LEADS_PLAN_TOML = (_PLANS / "inside-leads.toml").read_text(encoding="utf-8-sig")

TZ = "+08:00"


def _e(type_: str, at: str, actor: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "occurred_at": f"{at}{TZ}", "actor": actor, **fields}


def _sale(
    sale_id: str, at: str, rep: str, amount: str, category: str, **extra: Any
) -> dict[str, Any]:
    return _e(
        "SaleRecorded",
        at,
        "crm-sync",
        sale_id=sale_id,
        rep_id=rep,
        amount=amount,
        currency="CNY",
        category=category,
        **extra,
    )


def _enrol(
    rep: str, name: str, at: str, *, plan: str, team: str, manager: str | None = None
) -> dict[str, Any]:
    managed = {} if manager is None else {"manager_id": manager}
    return _e(
        "RepEnrolled", at, "hr-sync", rep_id=rep, name=name, plan_id=plan, team=team, **managed
    )


def _target(
    target_id: str, at: str, actor: str, rep: str, *, period: str, value: str, reason: str
) -> dict[str, Any]:
    return _e(
        "TargetSet",
        at,
        actor,
        target_id=target_id,
        rep_id=rep,
        period=period,
        kpi="sales_amount",
        value=value,
        reason=reason,
    )


def _cancel(sale_id: str, at: str, reason: str) -> dict[str, Any]:
    return _e("SaleCancelled", at, "crm-sync", sale_id=sale_id, reason=reason)


def _case(
    case_id: str, at: str, actor: str, rep: str, *, code: str, severity: str, **details: Any
) -> dict[str, Any]:
    return _e(
        "ViolationRecorded",
        at,
        actor,
        case_id=case_id,
        rep_id=rep,
        code=code,
        severity=severity,
        **details,
    )


QUARTER: list[dict[str, Any]] = [
    *(
        _enrol(
            rep, name, "2026-03-20T09:00:00", plan="field-sales", team="east", manager="mgr-zhao"
        )
        for rep, name in (
            ("rep-li", "Li Wei"),
            ("rep-chen", "Chen Jing"),
            ("rep-wang", "Wang Fang"),
        )
    ),
    # Q2: a deal whose cancellation comes months later, outside the window.
    _sale("S-0901", "2026-04-10T11:00:00", "rep-wang", "40000.00", "hardware"),
    # Q3 targets, set before the quarter. The demo records the quarter today,
    # after it began: a target the ledger learns of after its period started
    # needs approval however early its occurred_at (SPEC §2), so finance
    # confirms each against the signed Q3 plan (below).
    *(
        _target(
            target_id,
            "2026-06-25T10:00:00",
            "mgr-zhao",
            rep,
            period="2026-Q3",
            value=value,
            reason="Q3 plan",
        )
        for target_id, rep, value in (
            ("T-LI-Q3", "rep-li", "200000"),
            ("T-CHEN-Q3", "rep-chen", "180000"),
            ("T-WANG-Q3", "rep-wang", "150000"),
        )
    ),
    *(
        _e(
            "ApprovalGranted",
            "2026-06-26T10:00:00",
            "fin-amy",
            subject_id=target_id,
            note="matches the signed Q3 plan",
        )
        for target_id in ("T-LI-Q3", "T-CHEN-Q3", "T-WANG-Q3")
    ),
    _sale("S-1001", "2026-07-14T10:00:00", "rep-li", "120000.00", "software", customer_id="C-88"),
    _sale(
        "S-1002",
        "2026-08-02T15:30:00",
        "rep-li",
        "60000.00",
        "hardware",
        customer_id="C-17",
        splits=[{"rep_id": "rep-li", "share": "0.5"}, {"rep_id": "rep-chen", "share": "0.5"}],
    ),
    _sale("S-1003", "2026-08-20T11:00:00", "rep-chen", "90000.00", "software"),
    _sale("S-1004", "2026-07-22T16:00:00", "rep-chen", "70000.00", "hardware"),
    _sale("S-1005", "2026-07-08T09:30:00", "rep-wang", "80000.00", "software"),
    _sale("S-1006", "2026-09-03T14:00:00", "rep-wang", "45000.00", "hardware"),
    _sale("S-1007", "2026-09-20T10:00:00", "rep-li", "50000.00", "software", customer_id="C-23"),
    _sale("S-1008", "2026-09-25T10:00:00", "rep-li", "30000.00", "hardware", customer_id="C-88"),
    # Mid-quarter: Chen's territory shrank; the lower target needs finance's approval.
    _target(
        "T-CHEN-Q3-B",
        "2026-08-15T09:00:00",
        "mgr-zhao",
        "rep-chen",
        period="2026-Q3",
        value="150000",
        reason="territory split to new hire",
    ),
    _e(
        "ApprovalGranted",
        "2026-08-16T10:00:00",
        "fin-amy",
        subject_id="T-CHEN-Q3-B",
        note="territory change confirmed with regional director",
    ),
    # A change for Wang that nobody has approved yet: pending, changes nothing.
    _target(
        "T-WANG-Q3-B",
        "2026-09-10T09:00:00",
        "mgr-zhao",
        "rep-wang",
        period="2026-Q3",
        value="120000",
        reason="long sick leave in August",
    ),
    # Cancellations: inside the 90-day window (clawed back) and outside it (not).
    _cancel("S-1003", "2026-09-05T09:00:00", "customer withdrew before delivery"),
    _cancel("S-0901", "2026-09-14T09:00:00", "hardware returned after 5 months"),
    # Discipline: Wang's first and second minor case, coaching in between.
    _case(
        "CASE-101",
        "2026-07-20T17:00:00",
        "mgr-zhao",
        "rep-wang",
        code="crm-late-update",
        severity="minor",
        description="pipeline not updated for 3 weeks",
    ),
    _e(
        "CoachingRecorded",
        "2026-08-01T14:00:00",
        "mgr-zhao",
        rep_id="rep-wang",
        topic="keeping the CRM pipeline current",
    ),
    _case(
        "CASE-102",
        "2026-09-02T17:00:00",
        "mgr-zhao",
        "rep-wang",
        code="crm-late-update",
        severity="minor",
        description="forecast submitted late again",
    ),
    # Red line: a false expense claim, investigated and approved by compliance.
    _case(
        "CASE-201",
        "2026-09-12T10:00:00",
        "cmp-sun",
        "rep-chen",
        code="false-expense-claim",
        severity="red_line",
        description="taxi receipts claimed for client visits that did not happen",
        evidence=["expense-report ER-5531", "calendar export 2026-08"],
        amount="3200.00",
    ),
    _e(
        "ApprovalGranted",
        "2026-09-18T15:00:00",
        "cmp-head",
        subject_id="CASE-201",
        note="confirmed by internal audit",
    ),
    # A manual adjustment: trade-show spiff, approved by a second finance person.
    _e(
        "AdjustmentRequested",
        "2026-09-26T11:00:00",
        "mgr-zhao",
        adjustment_id="ADJ-301",
        rep_id="rep-li",
        period="2026-Q3",
        amount="1500.00",
        reason="trade show lead spiff",
    ),
    _e("ApprovalGranted", "2026-09-27T09:00:00", "fin-amy", subject_id="ADJ-301"),
    # KPI scores at quarter end.
    *(
        _e(
            "KpiScored",
            "2026-09-28T17:00:00",
            "mgr-zhao",
            rep_id=rep,
            period="2026-Q3",
            kpi=kpi,
            score=score,
        )
        for rep, kpi, score in (
            ("rep-li", "customer_satisfaction", "0.95"),
            ("rep-li", "market_feedback", "0.9"),
            ("rep-chen", "customer_satisfaction", "0.85"),
            ("rep-chen", "market_feedback", "0.8"),
            ("rep-wang", "customer_satisfaction", "1.1"),
            ("rep-wang", "market_feedback", "1.0"),
        )
    ),
]


def _monthly_target(rep: str, month: str, value: str) -> list[dict[str, Any]]:
    """A month's sales target, set before the month and confirmed by finance
    (recorded today, after the month began: it needs approval, SPEC §2)."""
    target_id = f"T-{rep.removeprefix('rep-').upper()}-{month}"
    first = f"{month}-01T09:00:00"
    day_before = f"{month[:5]}{int(month[5:]) - 1:02d}-28T10:00:00"
    return [
        _target(
            target_id, day_before, "lead-he", rep, period=month, value=value, reason="monthly quota"
        ),
        _e("ApprovalGranted", first, "fin-amy", subject_id=target_id, note="signed quota"),
    ]


# SPEC §3.1 on the second plan: the inside-sales team (lead He, Sun, and Xu
# who joins mid-July on a draw), a USD deal at the month's rate.
INSIDE_TEAM: list[dict[str, Any]] = [
    _e("FxRateSet", "2026-07-01T00:00:00", "fin-amy", base="USD", quote="CNY", rate="7.1"),
    _enrol("lead-he", "He Min", "2026-06-01T09:00:00", plan="inside-leads", team="inside"),
    _enrol(
        "rep-sun",
        "Sun Lei",
        "2026-07-01T09:00:00",
        plan="inside-sales",
        team="inside",
        manager="lead-he",
    ),
    _enrol(
        "rep-xu",
        "Xu Yan",
        "2026-07-16T09:00:00",
        plan="inside-sales",
        team="inside",
        manager="lead-he",
    ),
    *_monthly_target("rep-sun", "2026-07", "100000"),
    *_monthly_target("rep-sun", "2026-08", "100000"),
    *_monthly_target("rep-sun", "2026-09", "100000"),
    *_monthly_target("rep-xu", "2026-07", "12000"),
    *_monthly_target("rep-xu", "2026-08", "60000"),
    *_monthly_target("rep-xu", "2026-09", "80000"),
    _sale("S-2001", "2026-07-06T10:00:00", "rep-sun", "80000.00", "software"),
    _sale("S-2002", "2026-07-21T15:00:00", "rep-sun", "40000.00", "hardware"),
    {
        **_sale("S-2003", "2026-08-12T11:00:00", "rep-sun", "15000.00", "software"),
        "currency": "USD",
    },
    _sale("S-2004", "2026-09-09T10:00:00", "rep-sun", "30000.00", "hardware"),
    _sale("S-2101", "2026-07-28T14:00:00", "rep-xu", "12000.00", "hardware"),
    _sale("S-2102", "2026-08-18T10:00:00", "rep-xu", "45000.00", "software"),
    _sale("S-2103", "2026-09-22T16:00:00", "rep-xu", "70000.00", "software"),
]

AFTER_PAYMENT: list[dict[str, Any]] = [
    # S-1007 (Q3, software) cancelled 25 days after the sale, after Q3 was paid:
    # Q3 stays as paid; the difference is booked as a correction in Q4.
    _cancel("S-1007", "2026-10-15T09:00:00", "customer cancelled within the trial period"),
]


@dataclass(frozen=True)
class DemoResult:
    run_id: str
    events: int
    rep_id: str
    period: str
    statement: dict[str, Any]
    adjustment_approval: int  # the position of ADJ-301's approval, for a diff
    # SPEC §3.1 on the second plan: Sun's August (an accelerator, a SPIFF and a
    # USD deal), Xu's July (a new hire's draw) and lead He's August (override)
    shapes: tuple[dict[str, Any], ...] = ()


def _lines(events: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(e) for e in events]


def run_demo(ledger: Ledger, *, locale: str = "en") -> DemoResult:
    """Fill a fresh ledger with the demo quarter; returns Li Wei's Q3 statement
    (and the second plan's), worded in ``locale``."""
    if ledger.head() is not None:
        raise InvalidInputError(
            "the demo needs a fresh database; this one has events already "
            "(pass --db sqlite:///./demo.db, or remove the file)",
            field="db",
        )
    ledger.publish_plan(load_plan(PLAN_TOML, "toml"), actor="admin")
    ledger.publish_plan(load_plan(INSIDE_PLAN_TOML, "toml"), actor="admin")
    ledger.publish_plan(load_plan(LEADS_PLAN_TOML, "toml"), actor="admin")
    ledger.import_lines(_lines(QUARTER), actor="demo")
    ledger.import_lines(_lines(INSIDE_TEAM), actor="demo")
    reports = Reports(ledger)
    recorded = UseCases(ledger, reports).payout_run("2026-Q3", actor="fin-amy")
    event_id = recorded.outcomes[0].event_id
    assert event_id is not None
    run_id = str(ledger.event(event_id).data["run_id"])
    ledger.import_lines(
        _lines([_e("ApprovalGranted", "2026-10-02T10:00:00", "fin-bob", subject_id=run_id)]),
        actor="demo",
    )
    ledger.pay_run(run_id, actor="fin-amy")
    dispute = _e(
        "DisputeRaised",
        "2026-10-20T10:00:00",
        "rep-li",
        dispute_id="DSP-401",
        rep_id="rep-li",
        run_id=run_id,
        message="S-1002 was my deal; the split should be 70/30, not 50/50",
    )
    ledger.import_lines(_lines([*AFTER_PAYMENT, dispute]), actor="demo")
    reports.catch_up()
    statement = reports.statement("rep-li", "2026-Q3", locale=locale)
    head = ledger.head()
    approval = next(
        r.position
        for r in ledger.iter_log()
        if r.type == "ApprovalGranted" and r.data["subject_id"] == "ADJ-301"
    )
    shapes = tuple(
        reports.statement(rep_id, month, locale=locale)
        for rep_id, month in (
            ("rep-sun", "2026-08"),
            ("rep-xu", "2026-07"),
            ("lead-he", "2026-08"),
        )
    )
    return DemoResult(
        run_id, head.position if head else 0, "rep-li", "2026-Q3", statement, approval, shapes
    )


def demo_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
