"""GET /audit/verify (the chain, anchors, projections), a statement's audit
bundle and GET /health."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from api.auth import OPERATIONS_READERS, check_rep_scope, require_role
from api.caching import IfNoneMatch, conditional, responses
from api.deps import Caller, LedgerDep, ReportsDep, authenticate
from api.routes.events import _ERRORS, as_json
from api.schemas import AuditBundleOut, HealthOut, VerifyOut
from ledger.chain import parse_anchor
from ledger.errors import InvalidInputError
from projections.runner import health_status

__all__ = ["router"]

router = APIRouter(tags=["audit"])


@router.get("/audit/verify", response_model=VerifyOut, responses=_ERRORS)
def get_verify(
    principal: Caller,
    ledger: LedgerDep,
    reports: ReportsDep,
    anchor: Annotated[list[str] | None, Query(description="POSITION:HASH, repeatable")] = None,
) -> VerifyOut:
    """Recompute the audit chain, check anchors, compare projections with a replay."""
    require_role(principal, "get_verify")
    try:
        anchors = [parse_anchor(a) for a in anchor or []]
    except ValueError as exc:
        raise InvalidInputError(str(exc), field="anchor") from None
    report = ledger.verify(anchors)
    problems = reports.verify_projections() if report.ok else []
    return VerifyOut(
        ok=report.ok and not problems,
        mode=report.mode,
        checked=report.checked,
        head=report.head._asdict() if report.head else None,
        broken_position=report.broken_position,
        reason=report.reason,
        projections=problems,
    )


_JSON = "application/json"
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")


@router.get(
    "/reps/{rep_id}/statements/{period}/bundle",
    response_model=AuditBundleOut,
    responses={**_ERRORS, **responses(_JSON)},
)
def get_bundle(
    rep_id: str,
    period: str,
    principal: Caller,
    reports: ReportsDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The statement's audit bundle: the statement, the events it rests on, the
    chain segment to its head (other reps' events as links only), the plans and
    the engine version, for `incentive-ledger audit check` offline (ETag, 304)."""
    require_role(principal, "get_bundle")
    # today's manager's: a bundle holds the rep's whole trail up to its head
    check_rep_scope(principal, rep_id, reports)
    name = _UNSAFE_IN_NAME.sub("_", f"bundle-{rep_id}-{period}.json")
    return conditional(
        reports.audit_bundle(rep_id, period),
        media_type=_JSON,
        if_none_match=if_none_match,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# What GET /health says of a failing projector to a caller who may not read
# operations detail: that it fails, not on what (the message can quote an event
# id, a rep's name, the SQL that failed).
_WITHHELD_ERROR = {
    "type": "withheld",
    "message": "the projector fails and retries; a finance or admin token sees why",
}


@router.get("/health", response_model=HealthOut, responses={401: _ERRORS[401], 503: _ERRORS[503]})
def get_health(request: Request, ledger: LedgerDep, reports: ReportsDep) -> JSONResponse:
    """Liveness, the chain head, how far the read models are and how the projector fares.

    ``projected`` trails ``position`` (by ``lag`` events) while the projector
    catches up after a burst of writes; statements served meanwhile say which
    position they reflect. A projector that keeps failing (SPEC §7) makes the
    status ``degraded`` and ``projection.error`` says what fails (type and
    message); so does a projector of another process not heard from for a
    minute (``projection.state`` ``silent``: its process gone, say). The API
    keeps answering meanwhile. No token needed; the error's type and message
    only for a finance or admin bearer token (others are told it fails, not
    why), and a token sent is checked (401 when unknown or malformed).
    """
    detail = "authorization" in request.headers and (
        authenticate(request).role in OPERATIONS_READERS
    )
    head = ledger.head()
    position = head.position if head else 0
    projected = reports.projector.store.position()
    projection = reports.projection_health()
    if not detail and projection.get("error") is not None:
        projection = {**projection, "error": _WITHHELD_ERROR}
    return as_json(
        {
            "status": health_status(projection),
            "position": position,
            "projected": projected,
            "lag": max(0, position - projected),
            "projection": projection,
        }
    )
