"""POST /events (one event or a list, validated exactly like an import) and
GET /events/{event_id}."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter

from api.auth import (
    EVENT_WRITERS,
    ForbiddenError,
    check_decider,
    manages,
    require_role,
)
from api.body_parser import BodyParser
from api.deps import BEARER, Caller, LedgerDep, ReportsDep, allowed_to, authenticate
from api.limits import UnsupportedMediaTypeError, is_json
from api.schemas import ErrorOut, EventOut, RecordOut
from api.tokens import Principal
from ledger.application import Ledger, RecordResult
from ledger.catalogue import AnyEventIn
from ledger.errors import BatchRejectedError, LineError, NotFoundError, shown_id
from ledger.ingestion.group_commit import GroupCommitter
from ledger.writes import Input, unknown_subject
from policies.pay_warnings import PayWarning
from policies.wording import render_warning
from projections.rows import Row
from projections.service import Reports

__all__ = ["as_json", "record_out", "router", "warning_doc"]

_JSON = "application/json"

router = APIRouter(tags=["events"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    413: {"model": ErrorOut, "description": "Body or event count over the limit (SPEC §7)"},
    415: {"model": ErrorOut, "description": "The body is not application/json"},
    422: {"model": ErrorOut},
    503: {
        "model": ErrorOut,
        "description": "The store is busy or unreachable; nothing was stored (Retry-After)",
    },
}


def posted(
    route: str,
    model: type[Any],
    *,
    created: bool = True,
    responses: dict[int | str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The decorator arguments of a POST ``route`` (`api.auth.ROUTE_ROLES`) that
    answers ``model``: 201 when it records (``created``), the errors every such
    route may answer (and ``responses``), and its role check solved before its
    body (`api.deps.allowed_to`: 403 whatever it sends)."""
    return {
        "status_code": status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        "response_model": model,
        "responses": {**_ERRORS, **(responses or {})},
        "dependencies": [allowed_to(route)],
    }


EVENT_BODY_SCHEMA = TypeAdapter(AnyEventIn | list[AnyEventIn]).json_schema(
    ref_template="#/components/schemas/{model}"
)


def as_json(content: Any, status_code: int = status.HTTP_200_OK) -> JSONResponse:
    """A read, answered as JSON: a typed row (`projections.rows.Row`) encoded
    once, by its model, in its fields' order; plain data in the bytes FastAPI
    gives a dict (its keys in their own order). The route's ``response_model``
    documents it."""
    if isinstance(content, Row):
        return _RowResponse(content, status_code)
    return JSONResponse(jsonable_encoder(content), status_code)


class _RowResponse(JSONResponse):
    """A typed row's JSON, as its model encodes it: the same bytes as
    `JSONResponse` gives its ``doc()`` (compact, UTF-8), in one pass."""

    def render(self, content: Any) -> bytes:
        row: Row = content
        return row.model_dump_json(by_alias=True).encode()


def record_out(result: RecordResult) -> RecordOut:
    return RecordOut.model_validate(_record_doc(result))


def _record_doc(result: RecordResult) -> dict[str, Any]:
    """What a write did, as RecordOut's plain data (the hot path serialises it
    directly; `record_out` validates it into the model)."""
    return {
        "stored": result.stored,
        "skipped": result.skipped,
        "events": [
            {
                "index": o.line - 1,
                "type": o.type,
                "status": "stored" if o.status == "stored" else "skipped",
                "event_id": o.event_id,
                "position": o.position,
                "warnings": [warning_doc(w) for w in o.warnings] if o.warnings else [],
            }
            for o in result.outcomes
        ],
    }


def warning_doc(warning: PayWarning) -> dict[str, Any]:
    """A warning in a write's answer: accepted as written, but probably a typo
    that changes pay (code, the field it is about, values, words)."""
    return {**warning.to_dict(), "text": render_warning(warning)}


def _authorise(items: list[Input], principal: Principal, ledger: Ledger, reports: Reports) -> None:
    """Each event type to its writer role; managers for their own team only."""
    allowed = EVENT_WRITERS.get(principal.role, frozenset())
    unknown: list[LineError] = []
    for index, item in enumerate(items, start=1):
        if item.type not in allowed:
            raise ForbiddenError(f"role {principal.role} may not record {item.type}")
        subject_id = item.data.get("subject_id")
        if subject_id is not None:
            # A decision's subject must be stored before it is decided on: one
            # being saved by another request cannot be checked against the
            # decider's role (compliance approving finance's adjustment sent at
            # the same moment), so it is refused as unknown, as `POST /approvals`
            # refuses it; a subject's kind never changes once stored.
            kind = ledger.subject_kind(subject_id)
            if kind is None or not check_decider(principal, kind):
                refused = unknown_subject(subject_id)
                unknown.append(LineError(index, refused.field, refused.reason))
                continue
        if principal.role == "manager":
            if (item.data.get("severity") or "minor") != "minor":
                raise ForbiddenError("red-line cases are recorded by compliance")
            rep_id = item.data.get("rep_id")
            try:
                team = rep_id is not None and manages(principal, reports.rep(rep_id).manager_id)
            except NotFoundError:
                team = False
            if not team:
                raise ForbiddenError(f"rep {rep_id} is not in your team")
    if unknown:  # as the write rule names an unknown subject (422, by item)
        raise BatchRejectedError(unknown)


@router.post(
    "/events",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordOut,
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": EVENT_BODY_SCHEMA}},
        },
        **BEARER,
    },
)
async def post_events(request: Request) -> Response:
    """Record one event or a list (at most 10,000 by default), all or nothing;
    re-sending the same body is safe. The body is application/json (413 over the
    size limit, 415 another type, 422 nested deeper than 32 levels)."""
    # The caller and the services straight from the request, not as dependencies:
    # this is the hot write path, and each dependency FastAPI solves costs per request.
    principal = authenticate(request)
    ledger: Ledger = request.app.state.ledger
    reports: Reports = request.app.state.reports
    require_role(principal, "post_events")
    content_type = request.headers.get("content-type")
    if not is_json(content_type):
        raise UnsupportedMediaTypeError(content_type)
    parser: BodyParser = request.app.state.body_parser
    items, errors = await parser.parse(await request.body(), principal.actor)
    if errors:
        raise BatchRejectedError(errors)
    _authorise(items, principal, ledger, reports)
    # Committed with whatever other requests are waiting (ledger.ingestion.group_commit);
    # the event loop serves other requests meanwhile.
    committer: GroupCommitter = request.app.state.committer
    result = await asyncio.wrap_future(committer.submit_inputs(items))
    # RecordOut's shape, serialised directly (a batch answers for every event)
    return Response(orjson.dumps(_record_doc(result)), status.HTTP_201_CREATED, media_type=_JSON)


@router.get("/events/{event_id}", response_model=EventOut, responses=_ERRORS)
def get_event(
    event_id: str, principal: Caller, ledger: LedgerDep, reports: ReportsDep
) -> JSONResponse:
    """One event with its envelope (position, recorded_at, actor, hash) and fields."""
    require_role(principal, "get_event")
    record = ledger.event(event_id)
    from api.auth import may_read_event  # noqa: PLC0415 - keeps the policy import local

    # a decision is compliance's to read when it decided a case (and, as the
    # history is, today's manager's, not a manager's the rep left)
    subject = record.data.get("subject_id") if principal.role in {"compliance", "manager"} else None
    kind = ledger.subject_kind(subject) if isinstance(subject, str) else None
    reps = reports.reps_of_event(record)
    at = record.occurred_at
    if not may_read_event(principal, record.type, reps, reports, subject_kind=kind, at=at):
        raise NotFoundError(f"no event has id {shown_id(event_id)}", field="event_id")
    return as_json(record.to_dict())
