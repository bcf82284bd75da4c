"""The payout flow over HTTP: run (idempotent with Idempotency-Key), pay, export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response, status
from fastapi.responses import PlainTextResponse

from api.auth import require_role
from api.deps import Caller, ReportsDep, UseCasesDep
from api.routes.events import _ERRORS, record_out
from api.schemas import RecordOut
from projections.payroll import XLSX_MEDIA_TYPE

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
    service: UseCasesDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Compute and record a payout run; the same Idempotency-Key returns the same run."""
    require_role(principal, "post_run")
    run = service.run_payout(period, actor=principal.actor, idempotency_key=idempotency_key)
    if not run.created:
        response.status_code = status.HTTP_200_OK
    return run.to_dict()


@router.post("/payouts/runs/{run_id}/pay", response_model=RecordOut, responses=_ERRORS)
def post_pay(run_id: str, principal: Caller, service: UseCasesDep) -> RecordOut:
    """Mark an approved run paid (refused when a rep's period was paid meanwhile)."""
    require_role(principal, "post_pay")
    return record_out(service.pay_run(run_id, actor=principal.actor))


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
