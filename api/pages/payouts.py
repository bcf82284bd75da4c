"""The Payouts page (finance, SPEC §5.1): payout runs (calculate, approve or
reject, pay, export), the approval queue and the dispute queue.

Every decision is two posts: the first shows what it will do and records
nothing; the second (``confirm=yes``) records it through the API's own handler
(`api.routes.approvals.post_approval`, `api.routes.payouts`,
`api.routes.disputes.post_resolution`), so maker-checker, the chain guard and
every other rule apply exactly as over the API.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.auth import SUBJECT_DECIDERS, require_role
from api.pages import views
from api.pages.i18n import money, words
from api.pages.routes import Page, noted_redirect, page_of, serve, serve_form, typed_amount
from api.routes.approvals import post_approval
from api.routes.disputes import post_resolution
from api.routes.payouts import csv_media_type, post_pay
from api.routes.queues import viewer_of
from api.schemas import ApprovalIn, ResolutionIn
from ledger.errors import InvalidInputError, NotFoundError, shown_id
from policies.money import check_money
from policies.periods import parse_period
from projections.approvals import PendingRow
from projections.payout_runs import currency_totals
from projections.payroll import CSV_ENCODINGS
from projections.queues import WorkQueues
from service import check_resolution

__all__ = ["list_offset", "rejection_problem", "router", "waiting_item", "waiting_items"]

router = APIRouter(prefix="/app/payouts", include_in_schema=False)

_ACTIONS: Final = frozenset({"calculate", "approve", "reject", "pay", "resolve"})
_FINANCE_KINDS: Final = frozenset(k for k, roles in SUBJECT_DECIDERS.items() if "finance" in roles)


def _runs(page: Page) -> list[dict[str, Any]]:
    page.reports.fresh()
    runs = [doc for _, _, doc in page.reports.projector.store.rows("payout_runs")]
    return sorted(runs, key=lambda r: (r["period"], r["position"]), reverse=True)


def _queue(page: Page) -> list[dict[str, Any]]:
    rows = page.reports.projector.store.rows("pending_approvals")
    return [doc for _, _, doc in rows if doc.get("kind") in _FINANCE_KINDS - {"run"}]


def _open_disputes(page: Page) -> list[dict[str, Any]]:
    rows = page.reports.projector.store.rows("disputes")
    return [doc for _, _, doc in rows if doc.get("status") == "open"]


@router.get("")
def payouts(request: Request) -> Response:
    """Runs, the approval queue and the dispute queue."""

    def build(page: Page) -> Response:
        require_role(page.who, "post_run")
        require_role(page.who, "get_summary")
        return _payouts_page(
            page, period=request.query_params.get("period"), offset=list_offset(request)
        )

    return serve(page_of(request), build)


def list_offset(request: Request) -> int:
    """``?offset=`` of a page's list of reps (the period summary, Team): its
    first rep shown (0 when not a count)."""
    text = request.query_params.get("offset", "")
    return int(text) if text.isdigit() and len(text) < 10 else 0  # noqa: PLR2004


def _payouts_page(
    page: Page,
    *,
    kept: dict[str, str] | None = None,
    period: str | None = None,
    offset: int = 0,
) -> Response:
    """The payouts page: the period summary of ``period`` (from the ``offset``-th
    rep), the runs and both queues; ``kept``: a dispute's resolution form as it
    was sent, shown again in its card with what is wrong (``problem``)."""
    summary = views.period_summary(page.reports, viewer_of(page.who), period, offset)
    # the runs and both queues of one moment (a dispute resolved is not still
    # open beside the adjustment it booked)
    with page.reports.snapshot():
        runs, queue = _runs(page), _queue(page)
        disputes = _paid_by(page, _open_disputes(page), runs)
    listed = summary.summary.items if summary.summary else []
    return page.render(
        "payouts.html",
        reps=[r.rep_id for r in listed] + [row["rep_id"] for row in [*queue, *disputes]],
        runs=runs,
        queue=waiting_items(page, queue),
        disputes=disputes,
        kept=kept or {},
        choice=summary.choice,
        missed=summary.missed,
        summary=summary.summary,
        corrected=summary.corrected,
    )


def _paid_by(
    page: Page, disputes: list[dict[str, Any]], runs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each dispute with the period its run paid and what it paid the rep, so
    its card says what is disputed and links the statement (it showed ids only:
    the period and the figure were a search away)."""
    by_id = {run["run_id"]: run for run in runs}
    store = page.reports.projector.store
    shown = []
    for dispute in disputes:
        run = by_id.get(dispute["run_id"])
        period = run["period"] if run else None
        paid = None
        if run is not None and run["status"] == "paid":
            paid = store.row("balances", dispute["rep_id"], run["period"])
        shown.append({**dispute, "period": period, "paid": paid})
    return shown


def _resolution_form(form: dict[str, str]) -> dict[str, str]:
    """A resolution as its confirmation carries it: the amount as typed without
    its thousands commas (the pages print money grouped: ``1,000.00`` is read as
    the estimator reads it), and none for a dispute not upheld (its
    confirmation says nothing is booked; the use case refuses an amount)."""
    amount = typed_amount(form.get("amount", "")) if form.get("outcome") == "upheld" else ""
    return {**form, "amount": amount}


def _resolution_problem(page: Page, form: dict[str, str]) -> tuple[str, str] | None:
    """What keeps a resolution from its confirmation: (the field, what is wrong
    in words). Its confirmation promised what the ledger then refused — an
    adjustment of 0.00, of "1,000.00", of 10^13 — and the note was lost."""
    w = words(page.locale)
    outcome, amount = form.get("outcome", ""), form.get("amount", "")
    try:
        check_resolution(outcome, amount or None)
    except InvalidInputError as exc:
        if exc.field == "outcome":
            return "outcome", w["outcome_missing"]
        return "amount", w["upheld_needs_amount"]
    if outcome == "upheld" and not _bookable(amount):
        return "amount", w["amount_invalid"]
    if not form.get("note", "").strip():
        return "note", w["resolve_note_missing"]
    return None


def _bookable(amount: str) -> bool:
    """Whether ``amount`` is what a resolution takes (`ResolutionIn`: decimal
    text, at most 2 decimals) and money may be (|x| < 10^12, SPEC §2)."""
    try:
        ResolutionIn(outcome="upheld", note="-", amount=amount)
        check_money(Decimal(amount))
    except (ValidationError, ValueError, InvalidOperation):
        return False
    return True


def rejection_problem(page: Page, form: dict[str, str]) -> str | None:
    """A confirmed rejection without its reason: said on its confirmation page
    (the rule asks for a note), instead of failing after it."""
    if form.get("confirm") != "yes" or form.get("action") != "reject":
        return None
    if form.get("note", "").strip():
        return None
    return words(page.locale)["reject_note_missing"]


@router.get("/runs/{run_id}/export.csv")
def export(run_id: str, request: Request) -> Response:
    """The run's payroll file, as `GET /payouts/runs/{run_id}/export.csv` gives
    it (``?encoding=utf-8-sig``: the file for Excel, as the API's)."""

    def build(page: Page) -> Response:
        require_role(page.who, "get_export")
        encoding = request.query_params.get("encoding", "utf-8")
        if encoding not in CSV_ENCODINGS:
            raise InvalidInputError(
                f"encoding: {encoding[:40]!r} is none of {', '.join(CSV_ENCODINGS)}",
                field="encoding",
            )
        return Response(
            page.reports.export_file(run_id, "csv", encoding=encoding),
            media_type=csv_media_type(encoding),
            headers={"content-disposition": f'attachment; filename="{run_id}.csv"'},
        )

    return serve(page_of(request), build)


@router.post("/act")
async def act(request: Request) -> Response:
    """A decision: confirmation first, then the API's handler."""

    def build(page: Page, form: dict[str, str]) -> Response:
        action = form.get("action", "")
        if action not in _ACTIONS:
            raise InvalidInputError(f"unknown action {action!r}", field="action")
        require_role(page.who, "post_run")
        if action == "calculate":
            return _calculate(page, form)
        if action == "resolve":
            form = _resolution_form(form)
            problem = _resolution_problem(page, form)
            if problem is not None:  # the card again, as filled in, saying what is wrong
                _describe(page, form)  # an open dispute's card (404 else)
                field, text = problem
                return _payouts_page(page, kept={**form, "problem": text, "field": field})
        missing = rejection_problem(page, form)
        if form.get("confirm") != "yes" or missing:
            what = _describe(page, form)
            return page.render(
                "payouts_confirm.html", reps=_reps_of(what), f=form, what=what, problem=missing
            )
        subject = _do(page, action, form)
        return noted_redirect(page, "/app/payouts", f"done_{action}", subject)

    return await serve_form(request, build)


def _calculate(page: Page, form: dict[str, str]) -> Response:
    """A run's calculation: its period read first — one the ledger would refuse
    (``2026-13``), and a run that would cover nobody, keep the payouts page
    with the period typed and what is wrong beside it (they were an error
    page after the confirmation, the period lost) —, then its confirmation,
    which says when the period has not ended or not even begun (a year typed
    wrong made a run, and a period, for every rep), then the run."""
    w = words(page.locale)
    typed = form.get("period", "").strip()
    try:
        period = parse_period(typed)
    except ValueError:
        period = None
    if period is None:
        return _payouts_page(page, kept={**form, "problem": w["period_invalid"], "field": "period"})
    form = {**form, "period": str(period)}
    if form.get("confirm") != "yes":
        today = page.reports.today()
        warning = None
        if period.first_day > today:
            warning = w["run_not_begun"].format(period=period, start=period.first_day)
        elif period.last_day >= today:
            warning = w["run_not_ended"].format(period=period, end=period.last_day)
        what = {"period": str(period), "warning": warning}
        return page.render("payouts_confirm.html", f=form, what=what, problem=None)
    try:
        subject = _do(page, "calculate", form)
    except InvalidInputError as exc:
        if exc.field != "period":
            raise
        problem = w["run_covers_nobody"].format(period=period)
        return _payouts_page(page, kept={**form, "problem": problem, "field": "period"})
    return noted_redirect(page, "/app/payouts", "done_calculate", subject)


def _describe(page: Page, form: dict[str, str]) -> dict[str, Any]:
    """What a decision will move, for its confirmation page."""
    action = form["action"]
    subject = form.get("subject", "")
    if action == "resolve":
        dispute = next((d for d in _open_disputes(page) if d["dispute_id"] == subject), None)
        if dispute is None:
            raise NotFoundError(f"no open dispute {shown_id(subject)}", field="subject")
        return {"dispute": dispute}
    run = next((r for r in _runs(page) if r["run_id"] == subject), None)
    if run is not None:
        return {"run": run, "changed": _changed_since(page, run)}
    item = next((q for q in _queue(page) if q["subject_id"] == subject), None)
    if item is None or action == "pay":
        raise NotFoundError(
            f"nothing waits for a decision under {shown_id(subject)}", field="subject"
        )
    return {"item": waiting_item(page, item)}


def _reps_of(what: dict[str, Any]) -> list[str]:
    """The reps a decision's confirmation (`_describe`) names."""
    one = what.get("item") or what.get("dispute")
    return [one["rep_id"]] if one else [c["rep_id"] for c in what.get("changed", ())]


def _changed_since(page: Page, run: dict[str, Any]) -> list[dict[str, str]]:
    """The reps of an open run whose period would pay otherwise now than the
    run calculated (later events: a late sale, an approval): its rep, what the
    run pays and what the period would pay now. The approval said nothing of
    them; paid, the run pays what it calculated, the difference a correction."""
    if run["status"] not in {"calculated", "approved"}:
        return []
    statements = page.ledger.event(run["calculated_event_id"]).data.get("statements", ())
    reps = {s["rep_id"] for s in statements}
    with page.reports.snapshot():
        rows = page.reports.projector.store.rows("balances", key=run["period"])
    return [
        {
            "rep_id": rep_id,
            "run": doc["run"]["payable"],
            "now": doc["payable"],
            "cur": doc["currency"],
        }
        for rep_id, _, doc in rows
        if rep_id in reps
        and "run" in doc
        and (doc["run"]["total"], doc["run"]["payable"]) != (doc["total"], doc["payable"])
    ]


def waiting_items(page: Page, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A queue's subjects as its table lists them: each with its period, amount
    and what it is (`waiting_item`) — the queue showed an id, a kind and a rep,
    and what approving moved was one confirmation away, one subject at a time.
    Read after the queue's snapshot (its events are the log's)."""
    return [waiting_item(page, row) for row in rows]


def waiting_item(page: Page, row: dict[str, Any]) -> dict[str, Any]:
    """A subject awaiting a decision as its confirmation shows it: with what
    deciding it moves — an adjustment's amount, period and reason, a target's
    value, a case's money and description (`WorkQueues.pending_item`)."""
    item = WorkQueues(page.reports).pending_item(PendingRow.model_validate(row), may_decide=True)
    shown = item.model_dump()
    shown["currency"] = _item_currency(page, shown)
    if shown["kind"] == "target":
        shown.update(_target_words(page, shown))
    elif shown["kind"] == "run":
        shown["about"] = _run_words(page, shown)
    return shown


def _run_words(page: Page, item: dict[str, Any]) -> str:
    """What a waiting payout run is in the page's words: the queue says "payout
    run of 3 rep(s), paying 55350.00 CNY" in English, on a Chinese page too."""
    statements = page.ledger.event(item["event_id"]).data.get("statements", ())
    paying = ", ".join(
        f"{money(c.payable)} {c.currency}" for c in currency_totals(list(statements))
    )
    return words(page.locale)["about_run"].format(count=len(statements), paying=paying)


def _target_words(page: Page, item: dict[str, Any]) -> dict[str, str]:
    """A waiting target's value and what it is in the page's words: the queue
    said "sales_amount target 120000: ..." in English on a Chinese page, the
    sales target a bare figure where every other amount names its currency."""
    data = page.ledger.event(item["event_id"]).data
    value = str(data["value"])
    if data["kpi"] == "sales_amount":  # money of the rep's plan, as the statement's
        value = f"{money(value)} {item['currency'] or ''}".rstrip()
    about = words(page.locale)["about_target"]
    return {
        "target": value,
        "about": about.format(kpi=data["kpi"], value=value, reason=data["reason"]),
    }


def _item_currency(page: Page, item: dict[str, Any]) -> str | None:
    """The currency of a waiting subject's amount, which the queue showed bare:
    a run's (when it pays in one), else that of the rep's statement of the
    subject's period (a case's: the period it occurred in, where its fine
    goes), else of their latest statement."""
    if item["kind"] == "run":
        statements = page.ledger.event(item["event_id"]).data.get("statements", ())
        currencies = currency_totals(list(statements))
        return currencies[0].currency if len(currencies) == 1 else None
    store, rep_id = page.reports.projector.store, item["rep_id"]
    period = item.get("period")
    if period is None and item["kind"] == "case":
        cases = store.rows("discipline", rep_id)
        period = next(
            (d.get("period") for _, _, d in cases if d.get("case_id") == item["subject_id"]), None
        )
    row = store.row("balances", rep_id, period) if period else None
    if row is None:
        rows = store.rows("balances", rep_id)
        row = rows[-1][2] if rows else None
    return str(row["currency"]) if row else None


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise InvalidInputError(f"{name} is required", field=name)
    return value


def _do(page: Page, action: str, form: dict[str, str]) -> str:
    """Record the decision; returns its subject (a calculated run's id)."""
    subject = form.get("subject", "")
    try:
        if action == "calculate":
            period = _required(form, "period")
            require_role(page.who, "post_run")
            result = page.use_cases.payout_run(period, actor=page.who.actor)
            event_id = result.outcomes[0].event_id
            assert event_id is not None
            return str(page.ledger.event(event_id).data["run_id"])
        if action in {"approve", "reject"}:
            body = ApprovalIn(
                subject_id=subject,
                decision="grant" if action == "approve" else "reject",
                note=form.get("note") or None,
            )
            post_approval(body, page.who, page.use_cases)
        elif action == "pay":
            post_pay(subject, page.who, page.use_cases)
        else:
            resolution = ResolutionIn(
                outcome=form.get("outcome", ""),
                note=_required(form, "note"),
                amount=form.get("amount") or None,
            )
            post_resolution(subject, resolution, page.who, page.use_cases)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "form"
        raise InvalidInputError(f"{field}: {first['msg']}", field=field) from None
    return subject
