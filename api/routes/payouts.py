"""The payout flow over HTTP: run (idempotent with Idempotency-Key), pay, export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from api.auth import require_role
from api.caching import IfNoneMatch, conditional, responses
from api.deps import Caller, IdempotencyKey, ReportsDep, UseCasesDep
from api.routes.events import _ERRORS, as_json, posted, record_out
from api.schemas import RecordOut, RunCreatedOut
from projections.payroll import CSV_ENCODINGS, XLSX_MEDIA_TYPE, CsvEncoding

__all__ = ["CSV_MEDIA_TYPES", "CsvEncodingQuery", "csv_media_type", "router"]

router = APIRouter(tags=["payouts"])
# The CSV's ``encoding``, as the CLI's ``--encoding`` names it (`projections.payroll`).
CsvEncodingQuery = Annotated[
    CsvEncoding,
    Query(
        description="The CSV's encoding: utf-8 (the default, what payroll systems read), "
        'utf-8-sig (Excel\'s "CSV UTF-8": a byte-order mark, so Excel shows Chinese names) '
        "or gb18030 (Excel's CSV on Chinese Windows).",
    ),
]


def csv_media_type(encoding: CsvEncoding) -> str:
    """The Content-Type of a CSV in ``encoding``: utf-8-sig is UTF-8 (its mark
    is the body's first character, not another charset)."""
    return f"text/csv; charset={'utf-8' if encoding == 'utf-8-sig' else encoding}"


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


# Every Content-Type the CSV is served with, as `csv_media_type` says it, in
# the order of the encodings that first serve it.
CSV_MEDIA_TYPES = tuple(dict.fromkeys(csv_media_type(e) for e in CSV_ENCODINGS))
_CSV_ANSWERS = {
    **_ERRORS,
    **responses(
        *CSV_MEDIA_TYPES,
        schema=False,
        description="The payroll CSV, its Content-Type's charset the encoding's: "
        + "; ".join(f"{csv_media_type(e)} for encoding={e}" for e in CSV_ENCODINGS)
        + " (its byte-order mark the body's first character)",
    ),
}
_XLSX_ANSWERS = {**_ERRORS, **responses(XLSX_MEDIA_TYPE, schema=False)}


@router.get("/payouts/runs/{run_id}/export.csv", response_class=Response, responses=_CSV_ANSWERS)
def get_export(
    run_id: str,
    principal: Caller,
    reports: ReportsDep,
    encoding: CsvEncodingQuery = "utf-8",
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The payroll file of a run, with each statement's hash and the chain head
    (CSV in ``encoding``: UTF-8 without a byte-order mark unless asked
    otherwise; ETag, and 304 for If-None-Match naming it)."""
    require_role(principal, "get_export")
    # read where it opens, as before; its tag is of its encoding's bytes
    return conditional(
        reports.export_file(run_id, "csv", encoding=encoding),
        media_type=csv_media_type(encoding),
        if_none_match=if_none_match,
    )


@router.get("/payouts/runs/{run_id}/export.xlsx", response_class=Response, responses=_XLSX_ANSWERS)
def get_export_xlsx(
    run_id: str, principal: Caller, reports: ReportsDep, if_none_match: IfNoneMatch = None
) -> Response:
    """The payroll file of a run as an xlsx workbook (the CSV's columns),
    reproducible (ETag, and 304 for If-None-Match naming it)."""
    require_role(principal, "get_export_xlsx")
    return conditional(  # a download, in no encoding but its own
        reports.export_file(run_id, "xlsx"),
        media_type=XLSX_MEDIA_TYPE,
        if_none_match=if_none_match,
        headers={"Content-Disposition": f'attachment; filename="{run_id}.xlsx"'},
    )
