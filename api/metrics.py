"""``GET /metrics``: the Prometheus text format, via ``prometheus-client``.

What is exported:

- ``ledger_http_requests_total{method, route, status}`` and
  ``ledger_http_request_duration_seconds{method, route}`` (a histogram), by
  route *template* (``/reps/{rep_id}/history``, never a rep's id: ids are
  unbounded, and logs and metrics name no one); a path no route matches is
  ``route="unmatched"``;
- ``ledger_events_total``: the position of the last stored event (the events
  appended; PostgreSQL may skip a number after a rolled-back insert), and
  ``ledger_projected_events_total{type}``: the events applied to the read
  models, by type;
- ``ledger_projection_position``, ``ledger_projection_lag_events`` and
  ``ledger_projector_failing`` (1 while the projector backs off, SPEC §7);
- ``ledger_chain_ok`` (1: the audit chain checks up to
  ``ledger_chain_verified_position`` — the check every payout step makes, SPEC
  §6, here at most `SCRAPE_CHAIN_POSITIONS` further each scrape, so that a
  scrape after a large import still answers within its timeout) and
  ``ledger_chain_unverified_events`` (what the next scrapes will check).

The ledger's figures are read at each scrape (a custom collector), not kept
in step with every write. Each app has its own registry, so two apps in one
process (the tests) never share counters.

Who may read it: a finance or admin token, like any other route (SPEC §5:
bearer tokens) — the figures name no rep, amount or token, but count the
cases and disputes recorded. ``LEDGER_METRICS_PUBLIC=true`` opens it to a
scraper without a token (`Settings.metrics_public`); a token sent anyway is
still checked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.chain_guard import BOUNDED_CHECK_POSITIONS

if TYPE_CHECKING:
    from ledger.application import Ledger
    from projections.service import Reports

__all__ = [
    "CONTENT_TYPE",
    "SCRAPE_CHAIN_POSITIONS",
    "LedgerCollector",
    "Metrics",
    "MetricsMiddleware",
]

# The text exposition format, version 0.0.4 (what every Prometheus scrapes).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# From a cached single-event POST (about 1 ms) to a payout run over many reps.
_BUCKETS_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


# The ledger's figures: (name, help, kind, labels), in the order a scrape gives them.
_LEDGER_FIGURES: tuple[
    tuple[str, str, type[CounterMetricFamily | GaugeMetricFamily], tuple[str, ...]], ...
] = (
    (
        "ledger_events",
        "Events appended to the ledger (the position of the last one).",
        CounterMetricFamily,
        (),
    ),
    (
        "ledger_projected_events",
        "Events applied to the read models, by event type.",
        CounterMetricFamily,
        ("type",),
    ),
    (
        "ledger_projection_position",
        "The position the read models have reached.",
        GaugeMetricFamily,
        (),
    ),
    (
        "ledger_projection_lag_events",
        "Events appended that the read models have not applied yet.",
        GaugeMetricFamily,
        (),
    ),
    (
        "ledger_projector_failing",
        "1 while the projector fails and backs off (GET /health says why).",
        GaugeMetricFamily,
        (),
    ),
    (
        "ledger_chain_ok",
        "1 when the audit chain checks up to the verified position (0: a break was found).",
        GaugeMetricFamily,
        (),
    ),
    (
        "ledger_chain_verified_position",
        "The last position the chain check verified (0: none, or broken).",
        GaugeMetricFamily,
        (),
    ),
    (
        "ledger_chain_unverified_events",
        "Events past the verified position; each scrape checks a bounded stretch more.",
        GaugeMetricFamily,
        (),
    ),
)

# Positions of the chain one scrape checks past the last verified one, at most:
# a scrape answers in a few seconds however much was imported since (the whole
# check of 1M new events took 18 s, past Prometheus's default 10 s timeout);
# the next scrapes go on from where it stopped. A payout step checks all of it.
SCRAPE_CHAIN_POSITIONS = BOUNDED_CHECK_POSITIONS


class LedgerCollector(Collector):
    """The ledger's own figures, read when scraped."""

    def __init__(self, ledger: Ledger, reports: Reports) -> None:
        self.ledger = ledger
        self.reports = reports

    def describe(self) -> Iterator[Metric]:
        """The figures' names, without reading them: what the registry asks for
        when the collector is registered. Without it the registry would collect
        once to learn the names, and the chain check (`Ledger.check_chain`) of
        a store whose chain no one has verified yet reads every link: it held an
        API's start 18 s on a million imported events."""
        for name, documentation, family, labels in _LEDGER_FIGURES:
            yield family(name, documentation, labels=list(labels))

    def collect(self) -> Iterator[Metric]:
        head = self.ledger.head()
        position = head.position if head else 0
        store = self.reports.projector.store
        projected = store.position()
        counts = store.event_counts()
        failing = self.reports.projection_health().get("state") == "failing"
        report = self.ledger.check_chain(limit=SCRAPE_CHAIN_POSITIONS)
        verified = report.verified_position
        values = {
            "ledger_events": position,
            "ledger_projection_position": projected,
            "ledger_projection_lag_events": max(0, position - projected),
            "ledger_projector_failing": int(failing),
            "ledger_chain_ok": int(report.ok),
            "ledger_chain_verified_position": verified,
            "ledger_chain_unverified_events": max(0, position - verified),
        }
        for name, documentation, family, labels in _LEDGER_FIGURES:
            if labels:  # the projected events, by event type
                by_type = family(name, documentation, labels=list(labels))
                for event_type, count in sorted(counts.items()):
                    by_type.add_metric([event_type], count)
                yield by_type
            else:
                yield family(name, documentation, value=values[name])


class Metrics:
    """One app's registry: the HTTP figures it counts and the ledger's."""

    def __init__(self, ledger: Ledger, reports: Reports) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "ledger_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "ledger_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=_BUCKETS_SECONDS,
            registry=self.registry,
        )
        self.registry.register(LedgerCollector(ledger, reports))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (plain ASGI,
    like `api.app.RequestLog`: no extra task per request)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes is answered 500 (`RequestLog`)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)
