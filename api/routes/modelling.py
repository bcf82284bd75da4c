"""Modelling (SPEC §5): a what-if of a candidate plan over the whole history,
and an estimate of one more sale. Both answer from a fork of the read side and
record nothing."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import check_rep_scope
from api.deps import Caller, LocaleDep, ReportsDep
from api.routes.events import as_json, posted
from api.schemas import EstimateIn, EstimateOut, WhatIfIn, WhatIfOut
from ledger.errors import InvalidInputError, NotFoundError
from policies.plan import Plan, PlanError, load_plan
from presentation.modelling import estimate_texts, whatif_texts
from projections.whatif import EstimateSale, parse_day

__all__ = ["router"]

router = APIRouter(tags=["modelling"])


def _candidate(document: dict[str, object] | str) -> Plan:
    """The body's plan, validated as `plan publish` validates a file: a JSON
    document (a number with a fraction refused, as in a JSON plan file) or
    TOML text; a bad one is a 422 naming its first bad field."""
    try:
        if isinstance(document, str):
            return load_plan(document, "toml")
        return load_plan(json.dumps(document), "json")
    except PlanError as exc:
        field, _ = exc.errors[0]
        raise InvalidInputError(str(exc), field=f"plan.{field}") from None


@router.post("/whatif", **posted("post_whatif", WhatIfOut, created=False))
def post_whatif(
    body: WhatIfIn, principal: Caller, reports: ReportsDep, locale: LocaleDep
) -> JSONResponse:
    """What a candidate plan would pay, published now, against today's pay: per
    rep and period and in total, with the lines that moved (``text`` in the
    language of Accept-Language). Records nothing."""
    candidate = _candidate(body.plan)
    result = reports.whatif(candidate, body.periods, rep_id=body.rep_id, actor=principal.actor)
    return as_json(whatif_texts(result, locale))


@router.post("/reps/{rep_id}/estimate", **posted("post_estimate", EstimateOut, created=False))
def post_estimate(
    rep_id: str, body: EstimateIn, principal: Caller, reports: ReportsDep, locale: LocaleDep
) -> JSONResponse:
    """What one more sale would add to the rep's open period — commission, band,
    SPIFF, bonus tier — line by line. A rep estimates their own sales only (another
    rep's: 404), a manager their team's. Records nothing."""
    check_rep_scope(principal, rep_id, reports)
    for index, split in enumerate(body.splits or ()):
        # a split naming a rep the caller may not see is that rep's 404 —
        # never a hint of whether they exist (SPEC §5)
        try:
            check_rep_scope(principal, split.rep_id, reports)
        except NotFoundError as exc:
            raise NotFoundError(exc.reason, field=f"splits[{index}].rep_id") from None
    sale = EstimateSale(
        amount=body.amount,
        category=body.category,
        on=parse_day(body.date),
        splits=tuple((s.rep_id, s.share) for s in body.splits or ()),
    )
    return as_json(estimate_texts(reports.estimate(rep_id, sale, actor=principal.actor), locale))
