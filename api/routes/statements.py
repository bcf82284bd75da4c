"""Statements, diffs and disciplinary histories of one rep."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import check_rep_scope, paid_reader, require_role, trail_events_shown
from api.caching import IfNoneMatch, conditional, responses
from api.deps import (
    BEARER,
    AcceptLanguage,
    Caller,
    LocaleDep,
    ReportsDep,
    authenticate,
    negotiate_locale,
)
from api.paging import ArrayPageDep, answer
from api.routes.events import _ERRORS, as_json
from api.schemas import DiffOut, ErrorOut, HistoryEntryOut, StatementOut
from api.tokens import Principal
from presentation import diff_texts, history_texts
from projections.service import Reports
from projections.summary import MAX_OFFSET, MAX_STEP_LIMIT

__all__ = ["router"]

router = APIRouter(tags=["statements"])
_JSON = "application/json"
# Statements, diffs and histories are words too: in the language Accept-Language asks for.
_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    406: {"model": ErrorOut, "description": "Accept-Language names only unsupported languages"},
}
audit = structlog.get_logger("audit")


def _audit_read(principal: Principal, rep_id: str, what: str) -> None:
    """Reads of another person's pay by finance or compliance are audit entries."""
    if principal.role in {"finance", "compliance"}:
        audit.info(
            "audit.read", actor=principal.actor, role=principal.role, rep_id=rep_id, what=what
        )


@router.get(
    "/reps/{rep_id}/statements/{period}",
    response_model=StatementOut,
    responses={**_READ_ERRORS, **responses(_JSON)},
    openapi_extra=BEARER,
)
async def get_statement(
    request: Request,
    rep_id: str,
    period: str,
    as_of: Annotated[
        str | None, Query(description="A position or a recorded_at timestamp.")
    ] = None,
    view: Annotated[
        Literal["full", "summary"],
        Query(
            description="full: every line and step; summary: a subtotal line per kind and "
            "category, each listing the sales it sums (one page: no offset/limit)."
        ),
    ] = "full",
    offset: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_OFFSET,
            description="Full view: the explanation steps to skip (all lines, in order).",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_STEP_LIMIT,
            description=f"Full view: the explanation steps to show, at most {MAX_STEP_LIMIT}.",
        ),
    ] = None,
    if_none_match: IfNoneMatch = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """A rep's statement for a period (now, or as of a position/timestamp), explained
    in the language of Accept-Language (en, zh-CN; 406 for only others): in full, a
    page of its steps (``offset``/``limit``; ``page`` gives the total), or summed up
    (``view=summary``). ETag: 304 for If-None-Match naming it (each view's bytes are
    reproducible and tagged apart)."""
    # The caller, the service and the locale straight from the request, not as
    # dependencies: each FastAPI solves costs per request, and a kept summary is
    # served in less time than solving them took.
    principal = authenticate(request)
    locale = negotiate_locale(accept_language)
    reports: Reports = request.app.state.reports
    require_role(principal, "get_statement")
    # Serialised directly: a statement can carry thousands of explained sales, and
    # it was validated when computed (StatementOut documents its shape).
    # A view kept from an earlier read is served here, on the event loop: the
    # scope check and the check that it still holds are a few small reads. A
    # view to make (or a read that must wait for the projections) runs in a thread.
    at = reports.now_position() if as_of is None and reports.keeps(view, offset, limit) else None
    if at is not None:
        check_rep_scope(principal, rep_id, reports, at=at, period=period)
        body = reports.kept_view_json(
            rep_id, period, at, view=view, locale=locale, offset=offset, limit=limit
        )
        if body is not None:
            _audit_read(principal, rep_id, "statement")
            body = _as_read_by(principal, reports, rep_id, body)
            return conditional(body, media_type=_JSON, if_none_match=if_none_match)
    body = await run_in_threadpool(
        _statement_json, principal, reports, rep_id, period, view, as_of, locale, offset, limit
    )
    return conditional(body, media_type=_JSON, if_none_match=if_none_match)


def _statement_json(
    principal: Principal,
    reports: Reports,
    rep_id: str,
    period: str,
    view: Literal["full", "summary"],
    as_of: str | None,
    locale: str,
    offset: int | None,
    limit: int | None,
) -> bytes:
    check_rep_scope(principal, rep_id, reports, period=period)
    _audit_read(principal, rep_id, "statement")
    body = reports.statement_view_json(
        rep_id, period, view=view, as_of=as_of, locale=locale, offset=offset, limit=limit
    )
    return _as_read_by(principal, reports, rep_id, body)


def _as_read_by(principal: Principal, reports: Reports, rep_id: str, body: bytes) -> bytes:
    """A statement view as ``principal`` may read it: a paid statement's later
    events they may not read withheld, and the period its correction went to
    when they do not read it (`paid_reader`). Served bytes are shared by every
    reader (kept, or the read model's), so this is done as they are served;
    the ETag, the tag of the bytes answered, follows."""
    return reports.later_events_withheld(body, lambda: paid_reader(principal, rep_id, reports))


@router.get(
    "/reps/{rep_id}/statements/{period}/diff",
    response_model=DiffOut,
    responses={**_READ_ERRORS, **responses(_JSON)},
)
def get_diff(
    rep_id: str,
    period: str,
    principal: Caller,
    reports: ReportsDep,
    locale: LocaleDep,
    from_: Annotated[str, Query(alias="from", description="Position or timestamp.")],
    to: Annotated[str, Query(description="Position or timestamp.")],
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Which events changed which lines between two points, and by how much; each
    change's ``text`` in the language of Accept-Language (en, zh-CN; 406 for only
    others). ETag: 304 for If-None-Match naming it."""
    require_role(principal, "get_diff")
    check_rep_scope(principal, rep_id, reports, period=period)
    _audit_read(principal, rep_id, "diff")
    shown = trail_events_shown(principal, rep_id, reports)
    found = reports.diff(rep_id, period, from_, to, shown=shown)
    body = as_json(diff_texts(found, locale)).body
    return conditional(bytes(body), media_type=_JSON, if_none_match=if_none_match)


@router.get("/reps/{rep_id}/history", response_model=list[HistoryEntryOut], responses=_READ_ERRORS)
def get_history(
    rep_id: str, principal: Caller, reports: ReportsDep, locale: LocaleDep, page: ArrayPageDep
) -> JSONResponse:
    """A rep's disciplinary history: cases, rungs, sanctions, coaching, appeals; each
    entry's ``text`` in the language of Accept-Language (en, zh-CN; 406 for only others).
    Paged (``offset``, ``limit``; the count in ``X-Total-Count``), in its own order."""
    require_role(principal, "get_history")
    check_rep_scope(principal, rep_id, reports)
    _audit_read(principal, rep_id, "history")
    return answer(page, history_texts(reports.history(rep_id), locale))
