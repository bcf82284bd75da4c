"""The payout flow over HTTP: run (idempotent with Idempotency-Key), pay, export."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response, status
from fastapi.responses import PlainTextResponse

from api.auth import require_role
from api.deps import Caller, LedgerDep, ReportsDep
from api.routes.events import _ERRORS, record_out
from api.schemas import RecordOut
from ledger.errors import LedgerError, NotFoundError
from projections.payroll import XLSX_MEDIA_TYPE
from projections.service import Reports

__all__ = ["router"]

router = APIRouter(tags=["payouts"])


@router.post(
    "/payouts/{period}/runs",
    status_code=status.HTTP_201_CREATED,
    response_model=dict[str, Any],
    responses=_ERRORS,
)
def post_run(
    period: str,
    principal: Caller,
    ledger: LedgerDep,
    reports: ReportsDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Compute and record a payout run; the same Idempotency-Key returns the same run."""
    require_role(principal, "post_run")
    run_id = None
    if idempotency_key:
        digest = hashlib.sha256(f"{principal.actor}\n{idempotency_key}".encode()).hexdigest()
        run_id = f"run-{period}-{digest[:12]}"
        existing = _existing(reports, run_id)
        if existing is not None:
            response.status_code = status.HTTP_200_OK
            return _summary(existing, run_id)
    try:
        result = reports.payout_run(period, actor=principal.actor, run_id=run_id)
    except LedgerError:
        # A concurrent retry with the same key may have won: its run then holds
        # the reps (this one covers nobody) or its id (a conflict).
        won = _existing(reports, run_id) if run_id is not None else None
        if won is None:
            raise
        response.status_code = status.HTTP_200_OK
        return _summary(won, won["run_id"])
    event_id = result.outcomes[0].event_id
    assert event_id is not None
    recorded = ledger.event(event_id).data
    return _summary({**recorded, "paid": False, "approved": None}, recorded["run_id"])


def _existing(reports: Reports, run_id: str) -> dict[str, Any] | None:
    try:
        return reports.run(run_id)
    except NotFoundError:
        return None


def _summary(run: dict[str, Any], run_id: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "period": run["period"],
        "position": run["position"],
        "chain_head": run["chain_head"],
        "reps": [s["rep_id"] for s in run["statements"]],
        "approved": run.get("approved"),
        "paid": run.get("paid", False),
    }


@router.post("/payouts/runs/{run_id}/pay", response_model=RecordOut, responses=_ERRORS)
def post_pay(run_id: str, principal: Caller, reports: ReportsDep) -> RecordOut:
    """Mark an approved run paid (refused when a rep's period was paid meanwhile)."""
    require_role(principal, "post_pay")
    return record_out(reports.pay_run(run_id, actor=principal.actor))


@router.get(
    "/payouts/runs/{run_id}/export.csv",
    response_class=PlainTextResponse,
    responses={**_ERRORS, 200: {"content": {"text/csv": {}}}},
)
def get_export(run_id: str, principal: Caller, reports: ReportsDep) -> PlainTextResponse:
    """The payroll file of a run, with each statement's hash and the chain head."""
    require_role(principal, "get_export")
    return PlainTextResponse(reports.export_csv(run_id), media_type="text/csv")


@router.get(
    "/payouts/runs/{run_id}/export.xlsx",
    response_class=Response,
    responses={**_ERRORS, 200: {"content": {XLSX_MEDIA_TYPE: {}}}},
)
def get_export_xlsx(run_id: str, principal: Caller, reports: ReportsDep) -> Response:
    """The payroll file of a run as an xlsx workbook (the CSV's columns), reproducible."""
    require_role(principal, "get_export")
    return Response(
        reports.export_file(run_id, "xlsx"),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{run_id}.xlsx"'},
    )
