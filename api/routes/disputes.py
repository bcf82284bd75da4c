"""Disputes: a rep raises one on a payout run; finance resolves it. An upheld
dispute books an adjustment (in the rep's first unpaid period) that a second
finance person must approve."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, status

from api.auth import ForbiddenError, check_rep_scope, require_role
from api.deps import Caller, LedgerDep, ReportsDep
from api.routes.events import _ERRORS, record_out
from api.schemas import DisputeIn, RecordOut, ResolutionIn
from ledger.errors import InvalidInputError, NotFoundError
from ledger.events import (
    AdjustmentRequested,
    DisputeRaised,
    DisputeResolved,
    EventIn,
    make_event,
)

__all__ = ["router"]

router = APIRouter(tags=["disputes"])


@router.post(
    "/disputes", status_code=status.HTTP_201_CREATED, response_model=RecordOut, responses=_ERRORS
)
def post_dispute(body: DisputeIn, principal: Caller, ledger: LedgerDep) -> RecordOut:
    """A rep disputes a payout run that paid them (finance may raise one for a rep)."""
    require_role(principal, "post_dispute")
    if principal.role == "rep":
        if body.rep_id not in {None, principal.rep_id}:
            raise ForbiddenError("a rep raises disputes for themselves only")
        rep_id = principal.rep_id
    else:
        rep_id = body.rep_id
        if rep_id is None:
            raise InvalidInputError("name the rep the dispute is for", field="rep_id")
    item = make_event(
        DisputeRaised,
        occurred_at=datetime.now(UTC),
        dispute_id=body.dispute_id or f"DSP-{uuid.uuid4().hex[:12]}",
        rep_id=str(rep_id),
        run_id=body.run_id,
        message=body.message,
    )
    return record_out(ledger.record([item], actor=principal.actor))


@router.post(
    "/disputes/{dispute_id}/resolution",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordOut,
    responses=_ERRORS,
)
def post_resolution(
    dispute_id: str, body: ResolutionIn, principal: Caller, ledger: LedgerDep, reports: ReportsDep
) -> RecordOut:
    """Resolve a dispute; upheld books the adjustment, pending a second approval."""
    require_role(principal, "post_resolution")
    found = ledger.dispute_of(dispute_id)
    if found is None:
        raise NotFoundError(f"no dispute {dispute_id}", field="dispute_id")
    rep_id, run_id = found
    now = datetime.now(UTC)
    items: list[EventIn] = []
    adjustment_id = None
    if body.outcome == "upheld":
        if body.amount is None or body.amount.lstrip("-").strip("0.") == "":
            raise InvalidInputError("an upheld dispute books a non-zero amount", field="amount")
        adjustment_id = f"ADJ-{dispute_id}"
        items.append(
            make_event(
                AdjustmentRequested,
                occurred_at=now,
                adjustment_id=adjustment_id,
                rep_id=rep_id,
                period=reports.first_unpaid_period(rep_id, after=reports.run(run_id)["period"]),
                amount=body.amount,
                reason=f"dispute {dispute_id} upheld: {body.note}"[:2000],
            )
        )
    items.append(
        make_event(
            DisputeResolved,
            occurred_at=now,
            dispute_id=dispute_id,
            outcome=body.outcome,
            note=body.note,
            adjustment_id=adjustment_id,
        )
    )
    return record_out(ledger.record(items, actor=principal.actor))


@router.get("/reps/{rep_id}/disputes", response_model=list[dict[str, Any]], responses=_ERRORS)
def get_disputes(rep_id: str, principal: Caller, reports: ReportsDep) -> list[dict[str, Any]]:
    """A rep's disputes, open and resolved."""
    require_role(principal, "get_disputes")
    check_rep_scope(principal, rep_id, reports)
    return [row.doc() for row in reports.disputes(rep_id)]
