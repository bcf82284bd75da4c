"""The tables in which a stored event claims a key for good, beside the log.

Each is written by the recorders (`ledger.backends`) in the transaction that
appends the event, as the chain links and the payout claims are: one row per
claim — the key, what claims it (its owner), the event's position — under a
primary key on the key, so whatever appends the event claims it (an import, a
group commit, the library's ``save``), and a writer whose rule check was made
before another writer committed the same key is refused there, with the
rule's own error, its transaction storing nothing. The write rules read the
table through their unit of work's reader (one query per batch), `verify`
holds it to the log, and a store written before a table existed is indexed
from its log when the table is first made (`ledger.backends.base.build_indexes`):
each key claimed by its earliest event, a later one of the same key (stored
before the rule) claiming nothing.

The tables: `ledger.rep_keys` (each enrolled rep id's actor form, owned by the
rep id) and `ledger.payment_keys` (each payment id, owned by its sale id).

Pure: no I/O; the backends run the SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import orjson

from ledger.errors import ConflictError

__all__ = ["Claim3", "EventRow", "KeyTable", "claims_in", "earliest_claims", "first_taken"]

# One row of a key table: (key, owner, position); `ledger.rep_keys.RepKey`, say.
Claim3 = tuple[str, str, int]
C = TypeVar("C", bound=Claim3)
# (position, topic, state) of an event being appended, or of the log
EventRow = tuple[int, str, bytes]


class KeyTable(NamedTuple):
    """One key table: its name (SQLite's; PostgreSQL's after the events
    table's and an underscore), its key and owner columns, the stored topic of
    the events that claim, how their claims are read from their rows, how a
    row read back is made, and the refusal of a key claimed by another owner
    (`first_taken`), what the store raises."""

    name: str
    key_column: str
    owner_column: str
    topic: str
    claims_of: Callable[[Iterable[EventRow]], list[Any]]
    make: Callable[[Iterable[Any]], Claim3]
    refusal: Callable[[Sequence[Any], Mapping[str, str]], ConflictError | None]

    @property
    def built(self) -> str:
        """The ``ledger_state`` key that marks the table built from the log."""
        return f"{self.name}_built"


def claims_in(
    rows: Iterable[EventRow], topic: str, claim: Callable[[dict[str, Any], int], C]
) -> list[C]:
    """The claims of the events of ``topic`` among ``rows``, in order: ``claim``
    of each one's ``data`` and position. Only those events' states are decoded."""
    return [claim(orjson.loads(state)["data"], p) for p, kind, state in rows if kind == topic]


def earliest_claims(claims: Iterable[C]) -> list[C]:
    """The rows a table holds for ``claims`` in log order: each key claimed by
    its earliest event. A later claim of a claimed key (stored before the rule,
    in a store indexed from its log) claims nothing — what a build writes, and
    what `verify` expects the table to hold."""
    claimed: dict[str, C] = {}
    for claim in claims:
        claimed.setdefault(claim[0], claim)
    return list(claimed.values())


def first_taken(claims: Iterable[C], stored: Mapping[str, str]) -> tuple[C, str] | None:
    """The first of ``claims`` whose key another owner claims already — in
    ``stored`` (key -> owner, the rows of the table) or by an earlier claim of
    the same append — with that owner; or None when every key is free."""
    taken = dict(stored)
    for claim in claims:
        other = taken.setdefault(claim[0], claim[1])
        if other != claim[1]:
            return claim, other
    return None
