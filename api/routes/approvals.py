"""POST /approvals: the checker's decision on a subject (maker-checker)."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import check_decider
from api.deps import Caller, UseCasesDep
from api.routes.events import posted, record_out
from api.schemas import ApprovalIn, RecordOut
from service.usecases import no_subject

__all__ = ["router"]

router = APIRouter(tags=["approvals"])


@router.post("/approvals", **posted("post_approval", RecordOut))
def post_approval(body: ApprovalIn, principal: Caller, service: UseCasesDep) -> RecordOut:
    """Grant or reject a target change, adjustment, red-line case or payout run."""

    def may_decide(kind: str) -> None:
        if not check_decider(principal, kind):  # as no subject: its kind is not theirs
            raise no_subject(body.subject_id)

    decision = service.decide(
        body.subject_id,
        granted=body.decision == "grant",
        actor=principal.actor,
        note=body.note,
        may_decide=may_decide,
    )
    return record_out(decision.result)
