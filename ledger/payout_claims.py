"""Which run holds or paid each rep's period: the payout claims index (SPEC §5).

A rep's period is paid at most once, and a payout run covers only the reps
whose period is neither paid nor in another open run (calculated or approved,
not yet paid, not rejected). The write rules (`ledger.writes`) decide this
under the writer lock, inside the append session; what they read is this
index: one row per (period, rep, run, state), where state is

- ``calculated``: the run's `PayoutCalculated` holds the rep's statement,
- ``rejected``: the run's `ApprovalRejected` freed it,
- ``paid``: the run's `PayoutPaid` paid it.

The recorders (`ledger.backends`) write the rows in the transaction that
appends the event that makes them, as they write the chain links, from the
event itself (`claim_changes`; which events, and the state each writes, is
said in `ledger.catalogue`): whatever appends events — an import, a group
commit, the library's ``save`` — keeps the index, and no write can see the
events without their rows or the other way round. `verify` checks the index
against a replay of the log (`expected_claims`).

Why an index table rather than run ids numbered per period, whose runs a rule
would probe by id: a rule then reads only the rows of the reps and the period
it decides on (a primary-key range), never a run's statements (every rep's
full statement: a run of a thousand reps is megabytes); run ids stay as they
are, so the idempotent HTTP route keeps deriving its run id from the
Idempotency-Key and the runs of stores written before keep their ids; and such
stores are indexed from their log when the table is first made (their runs
had no numbers to probe).

Pure: no I/O; the backends run the SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson

__all__ = [
    "CALCULATED",
    "PAID",
    "REJECTED",
    "Claim",
    "ClaimChange",
    "claim_changes",
    "describe_holder",
    "expected_claims",
    "holder_of",
]

CALCULATED = "calculated"
REJECTED = "rejected"
PAID = "paid"


class Claim(NamedTuple):
    """One row of the index: ``run_id`` is in ``state`` for ``rep_id``'s ``period``,
    since the event at ``position`` (0: staged, not appended yet)."""

    period: str
    rep_id: str
    run_id: str
    state: str
    position: int


class ClaimChange(NamedTuple):
    """What one appended event does to the index.

    ``calculated`` adds a row per rep of the run (``period`` and ``rep_ids``
    given); ``rejected`` and ``paid`` add a row of that state beside each
    ``calculated`` row of ``run_id`` (none when the subject of a rejection is
    not a run: a target, case or adjustment).
    """

    position: int
    state: str
    run_id: str
    period: str | None = None
    rep_ids: tuple[str, ...] = ()


def claim_changes(rows: Iterable[tuple[int, str, bytes]]) -> list[ClaimChange]:
    """The index changes of events being appended, ``(position, topic, state)``,
    in order. Only three topics are decoded; an import's sales cost a lookup."""
    from ledger.catalogue import CLAIM_TOPICS  # noqa: PLC0415 - the catalogue imports this module

    changes: list[ClaimChange] = []
    for position, topic, state in rows:
        kind = CLAIM_TOPICS.get(topic)
        if kind is not None:
            changes.append(_change(position, kind, orjson.loads(state)["data"]))
    return changes


def _change(position: int, kind: str, data: dict[str, Any]) -> ClaimChange:
    if kind == CALCULATED:
        reps = tuple(s["rep_id"] for s in data["statements"])
        return ClaimChange(position, kind, data["run_id"], data["period"], reps)
    if kind == PAID:
        return ClaimChange(position, kind, data["run_id"])
    return ClaimChange(position, kind, data["subject_id"])


def expected_claims(events: Iterable[tuple[int, str, dict[str, Any]]]) -> set[Claim]:
    """The index as a replay of ``events`` — ``(position, type, data)`` in log
    order — makes it: what `verify` compares the stored index with."""
    from ledger.catalogue import CLAIM_STATES  # noqa: PLC0415 - the catalogue imports this module

    runs: dict[str, tuple[str, tuple[str, ...]]] = {}
    claims: set[Claim] = set()
    for position, type_, data in events:
        kind = CLAIM_STATES.get(type_)
        if kind is None:
            continue
        change = _change(position, kind, data)
        if kind == CALCULATED:
            assert change.period is not None
            runs[change.run_id] = (change.period, change.rep_ids)
            claims.update(
                Claim(change.period, rep, change.run_id, kind, position) for rep in change.rep_ids
            )
        elif change.run_id in runs:
            period, reps = runs[change.run_id]
            claims.update(Claim(period, rep, change.run_id, kind, position) for rep in reps)
    return claims


def holder_of(claims: Sequence[Claim], rep_id: str, run_id: str) -> Claim | None:
    """The claim that keeps ``rep_id``'s period from run ``run_id`` (SPEC §5): the
    run that paid it (the earliest, should a store written before this rule
    hold two), else another run that holds it open — calculated, and neither
    rejected nor paid. None: the period is free for ``run_id``.

    ``claims``: the period's rows for the rep (others are ignored)."""
    mine = [c for c in claims if c.rep_id == rep_id]
    paid = [c for c in mine if c.state == PAID]
    if paid:
        return min(paid, key=_position)
    closed = {c.run_id for c in mine if c.state in {REJECTED, PAID}}
    held = [
        c for c in mine if c.state == CALCULATED and c.run_id != run_id and c.run_id not in closed
    ]
    return min(held, key=_position) if held else None


def describe_holder(claim: Claim) -> str:
    """Why ``claim`` keeps its rep's period from another run, in words."""
    if claim.state == PAID:
        return (
            f"rep {claim.rep_id}'s {claim.period} was paid by payout run {claim.run_id}; "
            "a rep's period is paid at most once"
        )
    return (
        f"rep {claim.rep_id}'s {claim.period} is in payout run {claim.run_id}, which is "
        "open (calculated, not rejected, not paid): pay or reject that run first"
    )


def _position(claim: Claim) -> int:
    # staged claims (position 0) come after every stored one
    return claim.position or 2**63
