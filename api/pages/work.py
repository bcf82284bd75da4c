"""Team (a manager's reps), Cases (compliance) and a rep's disciplinary history
(SPEC §5.1), with the same role table and scope as the API: a manager sees the
reps whose manager is them today (`api.auth.manages`, `Reports.today`),
compliance every case.

A decision on a red-line case is confirmed first and then recorded through the
API's own `api.routes.approvals.post_approval` (maker-checker included).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.auth import ForbiddenError, manages, require_role
from api.pages import views
from api.pages.payouts import list_offset, rejection_problem, waiting_item, waiting_items
from api.pages.routes import Page, check_rep_access, noted_redirect, page_of, serve, serve_form
from api.routes.approvals import post_approval
from api.routes.queues import viewer_of
from api.schemas import ApprovalIn
from ledger.errors import InvalidInputError, NotFoundError, shown_id
from projections.balances import EVENTFUL
from projections.disputes import manager_on
from projections.queues import MAX_LIMIT, WorkQueues
from projections.storage import ViewStore

__all__ = ["router"]

router = APIRouter(prefix="/app", include_in_schema=False)

_CASE_DECISIONS: Final = {"approve": "grant", "reject": "reject"}


@contextmanager
def _work_views(page: Page, role: str, route: str, *, refused: str) -> Iterator[ViewStore]:
    """The read models of a work page that is ``role``'s alone (and that the
    API's ``route`` lets it read), caught up with the log and read as of that
    one moment (every count and sum on the page agrees with the others)."""
    if page.who.role != role:
        raise ForbiddenError(refused)
    require_role(page.who, route)
    with page.reports.snapshot():
        yield page.reports.projector.store


@router.get("/team")
def team(request: Request) -> Response:
    """A manager's reps in one period: attainment, tier, payable, status; the
    attainment distribution; their targets and cases waiting for a decision."""

    def build(page: Page) -> Response:
        day = page.reports.today()
        with _work_views(page, "manager", "get_statement", refused="team: managers") as store:
            reps = sorted(
                scope
                for scope, _, doc in store.rows("reps")
                if manages(page.who, manager_on(doc, day))
            )
            # the team's own rows, a rep at a time (not the whole organisation's)
            balances = {rep: {k: d for _, k, d in store.rows("balances", rep)} for rep in reps}
            scores = {rep: {k: d for _, k, d in store.rows("attainment", rep)} for rep in reps}
            waiting = [doc for rep in reps for _, _, doc in store.rows("pending_approvals", rep)]
        choice = views.period_choice(
            {key for rows in balances.values() for key in rows},
            day,
            {
                key
                for rows in balances.values()
                for key, doc in rows.items()
                if doc.get(EVENTFUL, True)
            },
        )
        measured = Counter(
            key for rows in scores.values() for key, doc in rows.items() if doc.get("attainment")
        )
        wanted = request.query_params.get("period")
        period = choice.reaches(wanted) or views.default_period(choice.offered, measured)
        # the period summary's rows (every rep of the team it lists, one with
        # nothing recorded in the period too, at the figures and status a payout
        # run holds): the Team page and Payouts agree rep for rep
        listed = (
            WorkQueues(page.reports).summary_items(viewer_of(page.who), period) if period else []
        )
        corrected = {
            rep for rep, rows in balances.items() if rows.get(period or "", {}).get("corrected")
        }
        rows = [
            {
                "rep_id": item.rep_id,
                "attainment": item.attainment,
                "tier": item.tier_coefficient,
                "payable": item.payable,
                "total": item.total,
                # an open run's figures are what it will pay; now's beside them
                "now_payable": item.now_payable,
                "now_total": item.now_total,
                "currency": item.currency,
                "status": views.shown_status(item.status, corrected=item.rep_id in corrected),
            }
            for item in listed
        ]
        # the table a page of reps at a time, as the period summary (a team of
        # thousands was cut at the first 500, saying nothing); the distribution
        # counts every one of them
        offset = list_offset(request)
        if offset >= len(rows):  # past the end (the team shrank): its last page
            offset = max(len(rows) - 1, 0) // MAX_LIMIT * MAX_LIMIT
        buckets = Counter(views.bucket(r["attainment"]) for r in rows)
        return page.render(
            "team.html",
            reps=reps,  # the team's (their waiting subjects' too)
            period=period,
            choice=choice,
            missed=wanted if wanted and choice.reaches(wanted) is None else None,
            rows=rows[offset : offset + MAX_LIMIT],
            offset=offset,
            limit=MAX_LIMIT,
            total=len(rows),
            distribution=[(label, buckets[label]) for label in views.BUCKET_LABELS],
            waiting=waiting_items(page, waiting),
        )

    return serve(page_of(request), build)


@router.get("/cases")
def cases(request: Request) -> Response:
    """Every case by severity and status, the red-line cases awaiting approval."""

    def build(page: Page) -> Response:
        with _work_views(page, "compliance", "get_history", refused="cases: compliance") as store:
            discipline = store.rows("discipline")
            waiting = [
                doc for _, _, doc in store.rows("pending_approvals") if doc.get("kind") == "case"
            ]
        entries = [
            {**doc, "rep_id": scope} for scope, _, doc in discipline if doc.get("kind") == "case"
        ]
        # newest first by the instant, as the cases queue (an offset is no order)
        entries.sort(
            key=lambda d: (datetime.fromisoformat(d["occurred_at"]), d.get("position", 0)),
            reverse=True,
        )
        counts = Counter(
            (
                str(d.get("severity")),
                "overturned" if d.get("overturned") else str(d.get("approval")),
            )
            for d in entries
        )
        return page.render(
            "cases.html",
            reps=[str(d["rep_id"]) for d in [*entries, *waiting]],
            cases=entries,
            counts=sorted(counts.items()),
            waiting=waiting_items(page, waiting),
        )

    return serve(page_of(request), build)


@router.post("/cases/act")
async def case_act(request: Request) -> Response:
    """Approve or reject a red-line case: confirmation first, then the API's handler."""

    def build(page: Page, form: dict[str, str]) -> Response:
        if page.who.role != "compliance":
            raise ForbiddenError("cases: compliance")
        action = form.get("action", "")
        if action not in _CASE_DECISIONS:
            raise InvalidInputError(f"unknown action {action!r}", field="action")
        subject = form.get("subject", "")
        rows = page.reports.projector.store.rows("pending_approvals")
        item = next(
            (d for _, _, d in rows if d.get("kind") == "case" and d["subject_id"] == subject),
            None,
        )
        if item is None:
            raise NotFoundError(
                f"no case {shown_id(subject)} waits for a decision", field="subject"
            )
        missing = rejection_problem(page, form)
        if form.get("confirm") != "yes" or missing:
            return page.render(
                "payouts_confirm.html",
                reps=[item["rep_id"]],
                f=form,
                what={"item": waiting_item(page, item)},
                post_to="/app/cases/act",
                back_to="/app/cases",
                problem=missing,
            )
        body = ApprovalIn(
            subject_id=subject,
            decision=_CASE_DECISIONS[action],
            note=form.get("note") or None,
        )
        post_approval(body, page.who, page.use_cases)
        return noted_redirect(page, "/app/cases", f"done_{action}", subject)

    return await serve_form(request, build)


@router.get("/reps/{rep_id}/history")
def history(rep_id: str, request: Request) -> Response:
    """A rep's disciplinary history, as `GET /reps/{rep_id}/history` gives it."""

    def build(page: Page) -> Response:
        check_rep_access(page, rep_id, "get_history", reads="history")
        entries = views.rep_history(page.reports, rep_id, page.locale)
        return page.render("history.html", reps=[rep_id], rep_id=rep_id, entries=entries)

    return serve(page_of(request), build)
