"""The work queues over HTTP (SPEC §5): reps, a period's summary, payout runs,
pending approvals, disputes and cases — each scoped by role exactly as the
single reads are, paged (``?offset=&limit=``) and sorted stably."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.auth import SUBJECT_DECIDERS, require_role
from api.deps import Caller, ReportsDep
from api.routes.events import _ERRORS, as_json
from api.tokens import Principal
from projections.queues import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    CasePage,
    DisputePage,
    Page,
    PendingPage,
    RepPage,
    RunDetail,
    RunPage,
    SummaryPage,
    Viewer,
    WorkQueues,
)
from projections.summary import MAX_OFFSET

__all__ = ["QueuesDep", "queues_of", "router", "viewer_of"]

router = APIRouter(tags=["work queues"])


async def queues_of(reports: ReportsDep) -> WorkQueues:
    """The work-queue use cases over the app's reports."""
    return WorkQueues(reports)


QueuesDep = Annotated[WorkQueues, Depends(queues_of)]


def viewer_of(principal: Principal) -> Viewer:
    """The lists' view of a caller: role, actor, rep, and the kinds of subject
    the role decides on (`api.auth.SUBJECT_DECIDERS`)."""
    decides = frozenset(k for k, roles in SUBJECT_DECIDERS.items() if principal.role in roles)
    return Viewer(principal.role, principal.actor, principal.rep_id, decides)


async def _page(
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items to return, at most {MAX_LIMIT}.")
    ] = DEFAULT_LIMIT,
) -> Page:
    return Page(offset, limit)


PageDep = Annotated[Page, Depends(_page)]


@router.get("/reps", response_model=RepPage, responses=_ERRORS)
def get_reps(
    principal: Caller, queues: QueuesDep, page: PageDep, team: str | None = None
) -> JSONResponse:
    """The reps the caller may see (a rep: themselves; a manager: their team)."""
    require_role(principal, "get_reps")
    return as_json(queues.reps(viewer_of(principal), team=team, page=page))


@router.get("/periods/{period}/summary", response_model=SummaryPage, responses=_ERRORS)
def get_summary(period: str, principal: Caller, queues: QueuesDep, page: PageDep) -> JSONResponse:
    """Each visible rep's total, payable, attainment, tier and status, with team subtotals."""
    require_role(principal, "get_summary")
    return as_json(queues.summary(viewer_of(principal), period, page=page))


@router.get("/payouts/runs", response_model=RunPage, responses=_ERRORS)
def get_runs(
    principal: Caller,
    queues: QueuesDep,
    page: PageDep,
    period: str | None = None,
    status: Annotated[
        str | None, Query(description="calculated, approved, rejected or paid")
    ] = None,
) -> JSONResponse:
    """Payout runs with their totals, status and what holds them, oldest first."""
    require_role(principal, "get_runs")
    return as_json(queues.runs(period=period, status=status, page=page))


@router.get("/payouts/runs/{run_id}", response_model=RunDetail, responses=_ERRORS)
def get_run(run_id: str, principal: Caller, queues: QueuesDep) -> JSONResponse:
    """One payout run: status, totals and each rep's amount as recorded."""
    require_role(principal, "get_run")
    return as_json(queues.run(run_id))


@router.get("/approvals/pending", response_model=PendingPage, responses=_ERRORS)
def get_pending(principal: Caller, queues: QueuesDep, page: PageDep) -> JSONResponse:
    """Subjects awaiting a decision: those the caller may take (finance,
    compliance), or their team's (manager) or their own (rep) to follow."""
    require_role(principal, "get_pending")
    return as_json(queues.pending(viewer_of(principal), page=page))


@router.get("/disputes", response_model=DisputePage, responses=_ERRORS)
def get_dispute_list(
    principal: Caller,
    queues: QueuesDep,
    page: PageDep,
    status: Annotated[str | None, Query(description="open or resolved")] = None,
) -> JSONResponse:
    """Disputes of the reps the caller may see, oldest first."""
    require_role(principal, "get_dispute_list")
    return as_json(queues.disputes(viewer_of(principal), status=status, page=page))


@router.get("/cases", response_model=CasePage, responses=_ERRORS)
def get_cases(
    principal: Caller,
    queues: QueuesDep,
    page: PageDep,
    severity: Annotated[str | None, Query(description="minor or red_line")] = None,
    status: Annotated[
        str | None, Query(description="pending, in_force, rejected or overturned")
    ] = None,
) -> JSONResponse:
    """Violations of the reps the caller may see, by severity and status."""
    require_role(principal, "get_cases")
    return as_json(queues.cases(viewer_of(principal), severity=severity, status=status, page=page))
