"""What the ledger needs from a store beyond the library's recorder interface:
the audit chain written in the insert transaction, and reads joined with it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.catalogue import KEY_TABLES
from ledger.chain import ChainHasher, ChainLink
from ledger.key_tables import Claim3, KeyTable
from ledger.payout_claims import Claim

__all__ = [
    "CLAIMS_BUILT",
    "AppendSession",
    "LedgerRecorder",
    "LoggedEvent",
    "build_indexes",
]

# `ledger_state` key: the payout claims index (`ledger.payout_claims`) covers
# the whole log (a key table's is `KeyTable.built`).
CLAIMS_BUILT = "payout_claims_built"


class LoggedEvent(NamedTuple):
    """A stored event with its place in the global order and its link (a named
    tuple: one is made per event read, see `ledger.records.EventRecord`)."""

    position: int
    topic: str
    state: bytes
    event_id: str
    recorded_at: str
    hash: str


class AppendSession(Protocol):
    """One write transaction that holds the store's writer lock from its start.

    Reads through it see what it has appended so far (and what others committed
    before it began); nothing it appends is visible to anyone else until the
    session commits, and all of it is discarded if the session fails. While it
    is open no other writer can append, so what was checked through it stays true
    until it commits. Positions and chain links are assigned as it appends.
    """

    # The chain head: where the session found it when it began, then the link of
    # the last event it appended.
    head: ChainLink | None

    def select_streams(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]: ...

    def select_claims(self, period: str, rep_ids: Sequence[str]) -> list[Claim]:
        """The payout claims index rows of ``rep_ids`` for ``period`` (`ledger.payout_claims`),
        those this session appended included."""
        ...

    def select_keys(self, table: KeyTable, keys: Sequence[str]) -> dict[str, str]:
        """The owner of each of ``keys`` claimed in ``table`` (`ledger.key_tables`),
        those this session appended included."""
        ...

    def append(self, stored_events: Sequence[StoredEvent]) -> list[ChainLink]: ...

    def try_append(self, stored_events: Sequence[StoredEvent]) -> list[ChainLink] | None:
        """`append`, or None (and nothing appended) when a stream version exists already."""
        ...

    def try_append_early(
        self, stored_events: Sequence[StoredEvent], on_visible: Callable[[bool], None]
    ) -> list[ChainLink] | None:
        """`try_append`, telling ``on_visible`` as soon as it is settled whether
        the events were appended — readable through the session, their chain
        links still to be written — (True), or a stream version existed (False,
        nothing appended), so that a caller waiting to read them goes on while
        the links are written. Reads through the session may run meanwhile, from
        another thread."""
        ...


class LedgerRecorder(Protocol):
    """An application recorder that keeps the audit chain."""

    hasher: ChainHasher
    # SQL of one value, the head's position (NULL: none), for a store in the same
    # database to read with its own (`projections.storage`'s `read_point`)
    head_position_statement: Any

    def chain_head(self) -> ChainLink | None: ...

    def last_position(self) -> int:
        """The last position stored, of an event or of a link (0: none): how far a
        chain check that starts now reads (`ledger.chain_guard`)."""
        ...

    def select_links(self, after: int, limit: int) -> Sequence[ChainLink]: ...

    def select_event_rows(
        self, after: int, limit: int
    ) -> Sequence[tuple[int, UUID, int, str, bytes]]: ...

    def select_log(
        self, after: int, limit: int, stop: int | None = None
    ) -> Sequence[LoggedEvent]: ...

    def select_log_at(self, positions: Sequence[int]) -> Sequence[LoggedEvent]: ...

    def link_at_or_before(self, position: int) -> ChainLink | None: ...

    def position_of(self, event_id: str) -> int | None: ...

    def position_at(self, recorded_at: str) -> int | None: ...

    def select_streams(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]: ...

    def select_claims(self, period: str, rep_ids: Sequence[str]) -> list[Claim]:
        """The payout claims index rows of ``rep_ids`` for ``period``."""
        ...

    def select_all_claims(self) -> list[Claim]:
        """Every row of the payout claims index, in position order (for `verify`)."""
        ...

    def select_keys(self, table: KeyTable, keys: Sequence[str]) -> dict[str, str]:
        """The owner of each of ``keys`` claimed in ``table`` (`ledger.key_tables`)."""
        ...

    def select_all_keys(self, table: KeyTable) -> list[Claim3]:
        """Every row of ``table`` (`ledger.key_tables`), in position order (for `verify`)."""
        ...

    def get_state(self, key: str) -> dict[str, Any] | None:
        """A small document kept beside the log (the chain watermark, say), or None."""
        ...

    def put_state(self, key: str, doc: dict[str, Any]) -> None:
        """Keep ``doc`` under ``key``, replacing what was there (its own transaction)."""
        ...

    def append_session(
        self, *, idle_seconds: float | None = None
    ) -> AbstractContextManager[AppendSession]:
        """Open an `AppendSession`: committed on a clean exit, rolled back on an error.

        ``idle_seconds``: how long the session may wait between statements (for
        its caller's input, say) before the store ends it, where the store ends
        idle write transactions (PostgreSQL; default: the store's setting).
        """
        ...


def build_indexes(recorder: Any) -> None:
    """Once, the tables kept beside the log of a store written before them —
    the payout claims index, the key tables (`ledger.key_tables`) — from its
    log, under the writer lock (each builder checks its mark again there: one
    builds)."""
    marks = (CLAIMS_BUILT, *(table.built for table in KEY_TABLES))
    if any(recorder.get_state(mark) is None for mark in marks):
        with recorder.append_session() as session:
            session.build_claims_index()
            for table in KEY_TABLES:
                session.build_keys(table)
