"""Every read model the projector keeps, and the version of each.

The document read models (`DOCUMENT_MODELS`) share one table shape,
``proj_<name>(scope, key, doc)``, and are declared by the modules that compute
their rows; the replay index and the event counts, with tables of their own
shape, are declared here beside the storage that keeps them
(`projections.storage.replay_index`, `projections.storage.event_counts`).

The lists are read at call time, not frozen at import: a test (or a plugin)
that replaces a module's declaration is seen by the next projector.
"""

from __future__ import annotations

from projections import approvals, balances, discipline_history, disputes, payout_runs
from projections.versioning import ReadModel

__all__ = [
    "EVENT_COUNTS",
    "REPLAY_INDEX",
    "all_models",
    "current_versions",
    "document_models",
    "document_views",
]

# 2: a rep's events include those of their reports (SPEC §3.1 overrides), and
# exchange rates are listed for every rep, as plans are
# 3: of their reports' events, only those an override rests on (sales, their
# plans, rates, reporting lines): a report's coaching or case is not the manager's
# 4: a rate reaches back to the booking period of a sale whose payment at or
# after it releases into a period paid in another currency (SPEC §3.1)
REPLAY_INDEX = ReadModel(
    "rep_events", 4, "the replay index: each rep's events and the business dates they can change"
)
EVENT_COUNTS = ReadModel("event_counts", 1, "events applied, per type (shows one applied twice)")


def document_models() -> tuple[ReadModel, ...]:
    """The read models stored as documents, in the order their tables are made."""
    return (
        balances.BALANCES,
        balances.ATTAINMENT,
        balances.STATEMENTS,
        discipline_history.DISCIPLINE,
        approvals.PENDING_APPROVALS,
        payout_runs.PAYOUT_RUNS,
        disputes.REPS,
        disputes.DISPUTES,
    )


def document_views() -> tuple[str, ...]:
    """The names of the document read models (``proj_<name>`` tables)."""
    return tuple(model.name for model in document_models())


def all_models() -> tuple[ReadModel, ...]:
    return (*document_models(), REPLAY_INDEX, EVENT_COUNTS)


def current_versions() -> dict[str, int]:
    """name -> the version the code makes, for every read model."""
    models = all_models()
    names = [m.name for m in models]
    assert len(set(names)) == len(names), f"a read model is declared twice: {names}"
    return {m.name: m.version for m in models}
