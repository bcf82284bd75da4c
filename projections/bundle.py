"""`audit bundle`: one statement and everything needed to re-check it offline.

What goes in (`projections.audit_check` reads it back, with no database):

- the statement as served (a paid period's: the recorded one, proved against
  its run first, `Reports._prove_paid`);
- the events it rests on — the replay index's events of the rep up to the
  statement's position, and every version of the plans the rep follows — each
  whole: its stored bytes, position, stream, version and chain link;
- a payout run's `PayoutCalculated`, which holds every rep's statement, as its
  link material only (its bytes as a SHA-256) plus what it says of this rep:
  run id, period, where it was computed and the rep's own recorded statement;
- every other event between the first bundled one and the statement's chain
  head as its link material only — enough to recompute the chain, nothing of
  its payload (no ids, names or amounts): with links 2 (`ledger.chain`: every
  store begun since 2026-12-05) its position, recorded_at and digest, which
  hide whose stream and what type it was; with links 1 its position,
  recorded_at, stream, version, type and the SHA-256 of its bytes;
- the versions of the plans the rep follows, and the engine version;
- on a keyed chain (``LEDGER_CHAIN_KEY``), a seal: an HMAC with the chain key
  of the whole bundle, so that whoever holds the key can tell that nothing in
  it — an event withheld as a bare link, a restated statement — was changed
  since the ledger made it, which the links alone cannot show.

The file is canonical JSON (sorted keys, no spaces, UTF-8): the same bundle is
the same bytes, readable and diffable; see the README for why not gzip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from ledger.chain import CURRENT_LINKS, GENESIS, LogRow, event_digest
from ledger.domain import type_of_topic
from ledger.errors import BrokenChainError
from ledger.events import canonical_json
from ledger.records import EventRecord
from projections.audit_check import BUNDLE_FORMAT, PLAN_EVENT, RUN_EVENT, engine_identity
from projections.facts import LedgerFacts

__all__ = ["bundle_document", "rep_positions_by_replay"]


def rep_positions_by_replay(records: Iterable[EventRecord], rep_id: str) -> list[int]:
    """The replay index's positions of ``rep_id`` (`projections.runner._fold`),
    from a replay: when the read models do not reach the statement's position."""
    facts = LedgerFacts()
    found = []
    for record in records:
        touched = facts.apply(record)
        if rep_id in touched or record.type == PLAN_EVENT:
            found.append(record.position)
    return found


def bundle_document(
    rows: Iterable[LogRow],
    *,
    rep_id: str,
    period: str,
    statement: dict[str, Any],
    positions: set[int],
    plan_ids: frozenset[str],
    previous_hash: str,
    mode: str,
    links: int = 1,
    seal: Callable[[bytes], str | None] | None = None,
) -> bytes:
    """The bundle of ``statement`` from the log ``rows`` from the first of
    ``positions`` to the statement's head: ``positions`` disclosed (of the plan
    versions, only those of ``plan_ids``, the plans the rep follows: another
    plan's bands and quotas are none of the rep's business), a run's calculation
    as the rep's share of it, the rest as bare links; on a keyed chain, ``seal``
    (`ChainHasher.seal`) of the bundle's bytes without it as its ``seal``: what
    it discloses and what it leaves out, as the ledger made it."""
    events: list[dict[str, Any]] = []
    bare: list[list[Any]] = []
    plans: list[dict[str, Any]] = []
    head = statement["chain_head"]
    last = 0
    for row in rows:
        link = row.link
        if link is None or row.state is None or row.originator_id is None or row.topic is None:
            raise BrokenChainError(
                row.position,
                "an event or its link is missing",
                action="no audit bundle can be made over it",
            )
        assert row.originator_version is not None
        type_ = type_of_topic(row.topic)
        last = row.position
        material = {
            "position": row.position,
            "event_id": link.event_id,
            "recorded_at": link.recorded_at,
            "stream": row.originator_id.hex,
            "version": row.originator_version,
            "type": type_,
            "hash": link.hash,
        }
        disclosed = row.position in positions and (
            type_ != PLAN_EVENT or _data(row.state)["plan"]["id"] in plan_ids
        )
        if not disclosed:
            content = hashlib.sha256(row.state).hexdigest()
            stream = row.originator_id.hex
            bare.append(
                [
                    row.position,
                    link.recorded_at,
                    event_digest(link.event_id, stream, row.originator_version, row.topic, content),
                ]
                if links >= CURRENT_LINKS
                else [
                    row.position,
                    link.recorded_at,
                    stream,
                    row.originator_version,
                    type_,
                    content,
                ]
            )
        elif type_ == RUN_EVENT:
            events.append({**material, **_run_share(row.state, rep_id)})
        else:
            events.append({**material, "state": row.state.decode()})
            if type_ == PLAN_EVENT:
                plans.append(_plan_version(row.position, row.state))
    if last != head["position"]:
        raise BrokenChainError(last, f"the log ends before the statement's head {head['position']}")
    document: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "rep_id": rep_id,
        "period": period,
        "engine": engine_identity(),
        "chain": {
            "mode": mode,
            "previous_hash": previous_hash or GENESIS,
            "head": head,
            **({"links": links} if links >= CURRENT_LINKS else {}),
        },
        "events": events,
        "links": bare,
        "plans": plans,
        "statement": statement,
    }
    raw = canonical_json(document)
    sealed = seal(raw) if seal is not None else None
    return raw if sealed is None else canonical_json({**document, "seal": sealed})


def _run_share(state: bytes, rep_id: str) -> dict[str, Any]:
    """What a run's `PayoutCalculated` says of ``rep_id``, and its bytes as a SHA-256."""
    data = _data(state)
    own = next(s for s in data["statements"] if s["rep_id"] == rep_id)
    return {
        "content_sha256": hashlib.sha256(state).hexdigest(),
        "run_id": data["run_id"],
        "period": data["period"],
        "computed_at": data["chain_head"],
        "statement": own,
    }


def _plan_version(position: int, state: bytes) -> dict[str, Any]:
    plan = _data(state)["plan"]
    return {"id": plan["id"], "version": plan["version"], "position": position, "plan": plan}


def _data(state: bytes) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(state)["data"]
    return data
