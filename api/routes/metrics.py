"""GET /metrics: Prometheus text (`api.metrics` says what it exports and why it
is public by default)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import require_role
from api.deps import BEARER, authenticate
from api.metrics import CONTENT_TYPE, Metrics
from api.routes.events import _ERRORS

__all__ = ["router"]

router = APIRouter(tags=["audit"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={**_ERRORS, 200: {"content": {CONTENT_TYPE: {}}}},
    openapi_extra=BEARER,
)
def get_metrics(request: Request) -> Response:
    """Requests by route and status, latency, events, projection lag, chain status.

    A finance or admin token (SPEC §5: bearer tokens), unless
    LEDGER_METRICS_PUBLIC=true; a token sent anyway is checked (401 when
    unknown or malformed)."""
    if not request.app.state.metrics_public or "authorization" in request.headers:
        require_role(authenticate(request), "get_metrics")
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE)
