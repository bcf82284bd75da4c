"""Disputes: a rep raises one on a payout run; finance resolves it. An upheld
dispute books an adjustment (in the rep's first unpaid period) that a second
finance person must approve."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import ForbiddenError, check_rep_scope, require_role
from api.deps import Caller, IdempotencyKey, ReportsDep, UseCasesDep
from api.paging import ArrayPageDep, answer
from api.routes.events import _ERRORS, posted, record_out
from api.schemas import DisputeIn, DisputeOut, DisputeRowOut, ResolutionIn, ResolutionOut
from ledger.errors import InvalidInputError

__all__ = ["router"]

router = APIRouter(tags=["disputes"])


@router.post("/disputes", **posted("post_dispute", DisputeOut))
def post_dispute(
    body: DisputeIn, principal: Caller, service: UseCasesDep, idempotency_key: IdempotencyKey = None
) -> DisputeOut:
    """A rep disputes a payout run that paid them (finance may raise one for a rep);
    answers with the new dispute's id (with an Idempotency-Key, one the key
    decides: a request re-run after a crash names the dispute it stored)."""
    if principal.role == "rep":
        if body.rep_id not in {None, principal.rep_id}:
            raise ForbiddenError("a rep raises disputes for themselves only")
        rep_id = principal.rep_id
    else:
        rep_id = body.rep_id
        if rep_id is None:
            raise InvalidInputError("name the rep the dispute is for", field="rep_id")
    dispute_id, result = service.raise_dispute(
        rep_id=str(rep_id),
        run_id=body.run_id,
        message=body.message,
        actor=principal.actor,
        dispute_id=body.dispute_id,
        by_the_rep=principal.role == "rep",
        idempotency_key=idempotency_key,
    )
    return DisputeOut(dispute_id=dispute_id, **record_out(result).model_dump())


@router.post("/disputes/{dispute_id}/resolution", **posted("post_resolution", ResolutionOut))
def post_resolution(
    dispute_id: str, body: ResolutionIn, principal: Caller, service: UseCasesDep
) -> ResolutionOut:
    """Resolve a dispute; upheld books the adjustment, pending a second approval."""
    adjustment_id, result = service.resolve_dispute(
        dispute_id,
        outcome=body.outcome,
        note=body.note,
        amount=body.amount,
        actor=principal.actor,
    )
    return ResolutionOut(adjustment_id=adjustment_id, **record_out(result).model_dump())


@router.get("/reps/{rep_id}/disputes", response_model=list[DisputeRowOut], responses=_ERRORS)
def get_disputes(
    rep_id: str, principal: Caller, reports: ReportsDep, page: ArrayPageDep
) -> JSONResponse:
    """A rep's disputes, open and resolved, by dispute id (paged: ``offset``,
    ``limit``; the count in ``X-Total-Count``)."""
    require_role(principal, "get_disputes")
    check_rep_scope(principal, rep_id, reports)
    return answer(page, [row.doc() for row in reports.disputes(rep_id)])
