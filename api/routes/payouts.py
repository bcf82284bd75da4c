"""The payout flow over HTTP: run (idempotent with Idempotency-Key), pay, export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from fastapi.responses import JSONResponse

from api.auth import require_role
from api.caching import IfNoneMatch, conditional, responses
from api.deps import Caller, ReportsDep, UseCasesDep
from api.routes.events import _ERRORS, as_json, record_out
from api.schemas import RecordOut, RunCreatedOut
from projections.payroll import XLSX_MEDIA_TYPE

__all__ = ["router"]

router = APIRouter(tags=["payouts"])
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


@router.post(
    "/payouts/{period}/runs",
    status_code=status.HTTP_201_CREATED,
    response_model=RunCreatedOut,
    responses={**_ERRORS, 200: {"model": RunCreatedOut, "description": "The run this key made"}},
)
def post_run(
    period: str,
    principal: Caller,
    service: UseCasesDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Compute and record a payout run; the same Idempotency-Key returns the same run."""
    require_role(principal, "post_run")
    run = service.run_payout(period, actor=principal.actor, idempotency_key=idempotency_key)
    return as_json(run.to_dict(), status.HTTP_201_CREATED if run.created else status.HTTP_200_OK)


@router.post("/payouts/runs/{run_id}/pay", response_model=RecordOut, responses=_ERRORS)
def post_pay(run_id: str, principal: Caller, service: UseCasesDep) -> RecordOut:
    """Mark an approved run paid (refused when a rep's period was paid meanwhile)."""
    require_role(principal, "post_pay")
    return record_out(service.pay_run(run_id, actor=principal.actor))


@router.get(
    "/payouts/runs/{run_id}/export.csv",
    response_class=Response,
    responses={**_ERRORS, **responses(CSV_MEDIA_TYPE, schema=False)},
)
def get_export(
    run_id: str, principal: Caller, reports: ReportsDep, if_none_match: IfNoneMatch = None
) -> Response:
    """The payroll file of a run, with each statement's hash and the chain head
    (UTF-8 CSV; ETag, and 304 for If-None-Match naming it)."""
    require_role(principal, "get_export")
    return conditional(
        reports.export_csv(run_id).encode(), media_type=CSV_MEDIA_TYPE, if_none_match=if_none_match
    )


@router.get(
    "/payouts/runs/{run_id}/export.xlsx",
    response_class=Response,
    responses={**_ERRORS, **responses(XLSX_MEDIA_TYPE, schema=False)},
)
def get_export_xlsx(
    run_id: str, principal: Caller, reports: ReportsDep, if_none_match: IfNoneMatch = None
) -> Response:
    """The payroll file of a run as an xlsx workbook (the CSV's columns),
    reproducible (ETag, and 304 for If-None-Match naming it)."""
    require_role(principal, "get_export")
    return conditional(
        reports.export_file(run_id, "xlsx"),
        media_type=XLSX_MEDIA_TYPE,
        if_none_match=if_none_match,
        headers={"Content-Disposition": f'attachment; filename="{run_id}.xlsx"'},
    )
