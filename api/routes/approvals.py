"""POST /approvals: the checker's decision on a subject (maker-checker)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status

from api.auth import SUBJECT_DECIDERS, ForbiddenError, require_role
from api.deps import Caller, LedgerDep
from api.routes.events import _ERRORS, record_out
from api.schemas import ApprovalIn, RecordOut
from ledger.errors import NotFoundError
from ledger.events import ApprovalGranted, ApprovalRejected, make_event

__all__ = ["router"]

router = APIRouter(tags=["approvals"])


@router.post(
    "/approvals", status_code=status.HTTP_201_CREATED, response_model=RecordOut, responses=_ERRORS
)
def post_approval(body: ApprovalIn, principal: Caller, ledger: LedgerDep) -> RecordOut:
    """Grant or reject a target change, adjustment, red-line case or payout run."""
    require_role(principal, "post_approval")
    kind = ledger.subject_kind(body.subject_id)
    if kind is None:
        raise NotFoundError(f"no subject {body.subject_id}", field="subject_id")
    if principal.role not in SUBJECT_DECIDERS[kind]:
        raise ForbiddenError(f"role {principal.role} may not decide on a {kind}")
    if kind == "run" and body.decision == "grant":  # the rule checks the chain
        ledger.guard_run(body.subject_id)  # and this the run's own event, wherever it lies
    event_class = ApprovalGranted if body.decision == "grant" else ApprovalRejected
    item = make_event(
        event_class,
        occurred_at=datetime.now(UTC),
        subject_id=body.subject_id,
        note=body.note,
    )
    return record_out(ledger.record([item], actor=principal.actor))
