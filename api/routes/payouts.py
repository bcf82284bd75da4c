"""The payout flow over HTTP: run (idempotent with Idempotency-Key), pay, export."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from api.auth import require_role
from api.caching import IfNoneMatch, conditional, responses
from api.deps import Caller, IdempotencyKey, ReportsDep, UseCasesDep
from api.routes.events import _ERRORS, as_json, posted, record_out
from api.schemas import RecordOut, RunCreatedOut
from projections.payroll import XLSX_MEDIA_TYPE

__all__ = ["router"]

router = APIRouter(tags=["payouts"])
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


@router.post(
    "/payouts/{period}/runs",
    **posted(
        "post_run",
        RunCreatedOut,
        responses={200: {"model": RunCreatedOut, "description": "The run this key made"}},
    ),
)
def post_run(
    period: str, principal: Caller, service: UseCasesDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Compute and record a payout run; the same Idempotency-Key returns the same run."""
    run = service.run_payout(period, actor=principal.actor, idempotency_key=idempotency_key)
    return as_json(run.to_dict(), status.HTTP_201_CREATED if run.created else status.HTTP_200_OK)


@router.post("/payouts/runs/{run_id}/pay", response_model=RecordOut, responses=_ERRORS)
def post_pay(run_id: str, principal: Caller, service: UseCasesDep) -> RecordOut:
    """Mark an approved run paid (refused when a rep's period was paid meanwhile)."""
    require_role(principal, "post_pay")
    return record_out(service.pay_run(run_id, actor=principal.actor))


def _export_route(fmt: Literal["csv", "xlsx"], media_type: str, name: str, doc: str) -> None:
    """``GET /payouts/runs/{run_id}/export.<fmt>``: a run's payroll file, the same
    bytes for the same run (ETag, and 304 for If-None-Match naming it)."""

    def get_export(
        run_id: str, principal: Caller, reports: ReportsDep, if_none_match: IfNoneMatch = None
    ) -> Response:
        require_role(principal, name)
        # a workbook is a download; the CSV is read where it opens, as before
        save = {"Content-Disposition": f'attachment; filename="{run_id}.xlsx"'}
        return conditional(
            reports.export_file(run_id, fmt),
            media_type=media_type,
            if_none_match=if_none_match,
            headers=save if fmt == "xlsx" else None,
        )

    get_export.__doc__ = doc
    router.add_api_route(
        f"/payouts/runs/{{run_id}}/export.{fmt}",
        get_export,
        methods=["GET"],
        name=name,
        response_class=Response,
        responses={**_ERRORS, **responses(media_type, schema=False)},
    )


_export_route(
    "csv",
    CSV_MEDIA_TYPE,
    "get_export",
    """The payroll file of a run, with each statement's hash and the chain head
    (UTF-8 CSV; ETag, and 304 for If-None-Match naming it).""",
)
_export_route(
    "xlsx",
    XLSX_MEDIA_TYPE,
    "get_export_xlsx",
    """The payroll file of a run as an xlsx workbook (the CSV's columns),
    reproducible (ETag, and 304 for If-None-Match naming it).""",
)
