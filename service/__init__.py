"""The use cases: what the HTTP routes and the CLI do, one call each.

Above the write side (`ledger.application.Ledger`) and the read side
(`projections.service.Reports`): a use case decides — which event an approval
is, what an upheld dispute adjusts and in which period, which run an
Idempotency-Key names — and records it. The edges authenticate, parse, call
one use case and render its answer; they never build an event.
"""

from service.usecases import Decision, RunSummary, UseCases, check_resolution

__all__ = ["Decision", "RunSummary", "UseCases", "check_resolution"]
