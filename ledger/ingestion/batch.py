"""A batch of requests, checked and committed together (the write path of
`Ledger.record`, `record_many` and the API's group commit).

A group is staged outside the writer lock (`prepare_group`), assuming the keys it
creates are new, then appended under the lock (`commit_group`): as staged when
the chain head is still the one its staging stood on, otherwise staged again
with every key looked up. Each request is all or nothing on its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent

from ledger.backends.base import AppendSession
from ledger.chain import ChainLink
from ledger.errors import BatchRejectedError, LedgerError, LineError, StoreUnavailableError
from ledger.results import RecordResult, outcomes_of, warnings_of
from ledger.writes import HandOff, Input, NaturalKey, StagedInput, Staging

if TYPE_CHECKING:
    from ledger.application import Ledger

__all__ = [
    "STALE",
    "UNSETTLED",
    "CommittedGroup",
    "PreparedGroup",
    "Warm",
    "commit_group",
    "prepare_group",
]

_MAX_ATTEMPTS = 8

# What a committed (or prepared) group leaves for the next one to stage on: the
# chain head the store stood at, and the reps and plans as they were there.
Warm = tuple[ChainLink | object | None, dict[NaturalKey, Any]]

# A prepared group's basis when it can no longer be appended as staged.
STALE: Any = object()
# A prepared group's basis until the group it was staged on has committed.
UNSETTLED: Any = object()


@dataclass
class PreparedGroup:
    """A group staged outside the writer lock (`Ledger.prepare_group`)."""

    inputs: Sequence[Sequence[Input]]
    staged: _Staged | None  # None: to be staged under the lock
    kept: dict[NaturalKey, Any]  # its reps and plans, as they will be once committed
    basis: ChainLink | object | None  # the chain head its staging stood on
    # what a group staged before it is committed must see too (`Staging.handed_on`)
    handed_on: HandOff | None = None

    def follows(self, before: CommittedGroup) -> None:
        """The group this one was staged on, still being committed then, has
        committed: this one stands on its head if it went in as staged."""
        if self.basis is UNSETTLED:
            self.basis = before.head if before.warm is not None else STALE


@dataclass(frozen=True)
class CommittedGroup:
    """What `Ledger.commit_group` did: a result per request, the chain head after,
    and what the next group may stage on (None: it went in staged again)."""

    results: list[RecordResult | LedgerError]
    head: ChainLink | None
    warm: Warm | None


def prepare_group(
    ledger: Ledger,
    inputs: Sequence[Sequence[Input]],
    warm: Warm | None = None,
    after: HandOff | None = None,
) -> PreparedGroup:
    """Stage a group outside the writer lock, assuming the keys it creates are
    new (as an import does); `commit_group` appends it as staged when the
    store is still as the staging saw it, and stages it again under the lock
    otherwise.

    The staging starts from ``warm`` — the reps and plans a committed group
    left, or those a group still being committed staged (its basis is then
    settled by `PreparedGroup.follows`) — or else from the store as it stands
    (its chain head read first). ``warm`` is the group's to change from then
    on: a caller never hands the same one to two groups. Staging outside the
    lock lets the API's group commit stage the next group while the last
    one is being written; ``after`` is then what that one staged beyond its
    reps and plan streams (`PreparedGroup.handed_on`): its targets,
    decisions and plan versions, which no stream version of this group
    collides with when they change what it says (a warning).
    """
    basis: ChainLink | object | None
    if warm is not None:
        basis, loaded = warm
    else:
        basis, loaded = ledger.chain.chain_head(), None  # before anything is read
    # the plans as stored at the basis (a group still being committed: at its
    # basis, read when it was staged; its versions are handed on)
    at = basis.position if isinstance(basis, ChainLink) else 0
    staging = ledger.staging(ledger.chain, optimistic=True, loaded=loaded, after=after, basis=at)
    # what every request reads, in one query (not one per request)
    staging.load_for(item for items in inputs for item in items)
    staged, failure = _stage_requests(staging, inputs, {})
    if failure is not None:  # staged again under the lock, each key looked up
        return PreparedGroup(inputs, None, {}, STALE)
    return PreparedGroup(inputs, staged, staging.kept(), basis, staging.handed_on())


def commit_group(ledger: Ledger, prepared: PreparedGroup) -> CommittedGroup:
    """Append a prepared group under the writer lock, each request all or
    nothing on its own, and commit: as staged when the chain head is still
    the basis its staging stood on (no one else appended since: the store
    holds what it read); otherwise, or when a key it assumed new exists (a
    re-sent creation), staged again under the lock, every key looked up."""
    inputs = prepared.inputs
    outcomes: dict[int, RecordResult | LedgerError] = {}
    for attempt in range(_MAX_ATTEMPTS):
        links: list[ChainLink] = []
        as_staged = False
        staged: _Staged | None = None
        try:
            with ledger.chain.append_session() as session:
                began = session.head.position if session.head is not None else 0
                if attempt == 0 and prepared.staged is not None and prepared.basis == session.head:
                    tried = session.try_append(_events_of(prepared.staged))
                    if tried is not None:
                        staged, links, as_staged = prepared.staged, tried, True
                if staged is None:
                    staged = _stage_group(ledger, session, inputs, outcomes)
                    links = session.append(_events_of(staged))
                head = links[-1] if links else session.head
        except (InterfaceError, OperationalError):
            if not links or not ledger.is_committed(links[-1]):
                outcomes = {i: o for i, o in outcomes.items() if isinstance(o, LedgerError)}
                time.sleep(0.05)
                continue
            as_staged = False  # committed, but its reply lost: read afresh next time
        assert staged is not None, "links were appended, so the group was staged"
        appended = iter(links)
        for index, done, events in staged:
            mine = [next(appended) for _ in events]
            outcomes[index] = RecordResult(
                outcomes_of(done, mine),
                stored=len(mine),
                skipped=len(done) - len(mine),
                warnings=warnings_of(done),
            )
        ended = head.position if head is not None else 0
        types = {s.type for _, done, _ in staged for s in done if s.stored}
        ledger.note_stored(types, (began, ended))
        results = [outcomes[i] for i in range(len(inputs))]
        return CommittedGroup(results, head, (head, prepared.kept) if as_staged else None)
    error = StoreUnavailableError("the store kept dropping the connection; nothing was stored")
    return CommittedGroup([outcomes.get(i, error) for i in range(len(inputs))], None, None)


def _stage_group(
    ledger: Ledger,
    session: AppendSession,
    requests: Sequence[Sequence[Input]],
    failed: dict[int, RecordResult | LedgerError],
) -> _Staged:
    """Stage every request not failed yet, each on top of the ones before it.

    A request that breaks a rule may have changed the staged aggregates
    before it failed, so staging starts over without it.
    """
    while True:
        staging = ledger.staging(session)
        live = [i for i in range(len(requests)) if i not in failed]
        # every key looked up, and the enrolments' claimed forms in one query
        staging.load_for(item for i in live for item in requests[i])
        staged, failure = _stage_requests(staging, requests, failed)
        if failure is None:
            return staged
        index, errors = failure
        failed[index] = BatchRejectedError(errors)


# (request index, its staged inputs, its events in stored form), in request order
_Staged = list[tuple[int, list[StagedInput], list[StoredEvent]]]


def _stage_requests(
    staging: Staging,
    requests: Sequence[Sequence[Input]],
    failed: Mapping[int, object],
) -> tuple[_Staged, tuple[int, list[LineError]] | None]:
    """Stage the requests not failed yet, each on top of the ones before it, up
    to the first that breaks a rule (returned with its errors). The caller has
    loaded what they read (`Staging.load_for`, `prefetch`)."""
    staged: _Staged = []
    for i, items in enumerate(requests):
        if i in failed:
            continue
        done, errors = staging.apply_all(list(enumerate(items, 1)), load=False)
        if errors:
            return staged, (i, errors)
        staged.append((i, done, staging.take_pending()))
    return staged, None


def _events_of(staged: _Staged) -> list[StoredEvent]:
    return [event for _, _, events in staged for event in events]
