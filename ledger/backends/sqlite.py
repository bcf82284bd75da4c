"""The embedded store: the library's SQLite recorder plus the audit chain.

The chain link of each event is inserted in the same transaction as the event;
SQLite's single writer (the first INSERT takes the write lock) makes "read the
last link, append the next" safe.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    ConnectionPoolClosedError,
    ConnectionUnavailableError,
    IntegrityError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteFactory,
)

from ledger.backends.base import CLAIMS_BUILT, LoggedEvent, build_indexes
from ledger.catalogue import CLAIM_TOPICS, KEY_TABLES, KEY_TOPICS
from ledger.chain import ChainHasher, ChainLink
from ledger.chain_guard import ensure_chain_mode
from ledger.errors import ConflictError
from ledger.key_tables import Claim3, KeyTable, earliest_claims
from ledger.payout_claims import CALCULATED, Claim, claim_changes

__all__ = [
    "LedgerSQLiteFactory",
    "LedgerSQLiteRecorder",
    "SQLiteAppendSession",
    "WritersQueuedPool",
]

_LINK_COLUMNS = "position, event_id, recorded_at, hash"
_KEY_ROW = "(?, ?, ?)"  # a key table's: key, owner, position
_CLAIM_COLUMNS = "period, rep_id, run_id, state, position"


class WritersQueuedPool(SQLiteConnectionPool):
    """The library's pool, with writers queued before its fairness semaphore.

    The library's pool lets one thread at a time ask for a connection, and a
    writer asks while holding that turn until the writer before it returns its
    connection (or ``pool_timeout``, 5 s, passes). While an import or a group
    commit holds the writer, the background projector asking to write therefore
    kept every reader of the process waiting — and a writer that reads on a
    second connection (an import loading plans) waited on itself, 5 s each time.
    Here a writer first waits its turn among writers, holding nothing, and only
    then takes the pool's turn, when the writer connection is free or about to be.

    The queue is the writer interlock: the library's own (asked for with
    ``is_writer=True``) would keep its lock when no connection came — all in
    use, or one could not be made — and every later writer would time out, for
    good. Writers here ask the pool for a plain connection, one at a time.

    A file database only: in memory, the library makes reading and writing
    mutually exclusive and its own order is the one that holds.
    """

    # How long `close` waits for connections in use to come back.
    close_wait_seconds: float = 30.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._writers = threading.Lock()
        self._writing: SQLiteConnection | None = None  # the writer's, while out
        # The connections handed out and not back yet, counted here: once
        # `close` began, none is handed out (see `close`).
        self._handing = threading.Condition()
        self._out = 0
        self._shut = False

    def close(self) -> None:
        """Close every connection once none is in use (waiting up to
        `close_wait_seconds`). The library's pool closes connections other
        threads are still reading or writing on, and CPython's sqlite3 then
        crashes the process — a segfault, not an error — on that thread's next
        call (a projector or a request still at work when a server or a test
        closes its ledger). A connection still out after the wait is left open,
        with the pool: a leak at the end of a process rather than a crash.

        From the start of the close no connection is handed out (a thread
        asking gets `ConnectionPoolClosedError`, as it would after the close):
        one taken between the end of the wait and the library's close was
        closed under its thread. Only the first close waits: a later one (the
        library's datastore closes its pool when collected) closes only if
        nothing is out by then."""
        deadline = time.monotonic() + (0.0 if self._shut else self.close_wait_seconds)
        with self._handing:
            self._shut = True
            while self._out and (left := deadline - time.monotonic()) > 0:
                self._handing.wait(left)
            if self._out:
                return
        super().close()

    def __del__(self) -> None:
        # the library's closes whatever is in use; a pool collected while a
        # connection is out (leaked by its thread) keeps it
        if not self.num_in_use:
            super().close()

    def get_connection(
        self, timeout: float | None = None, is_writer: bool | None = None
    ) -> SQLiteConnection:
        with self._handing:
            if self._shut:
                raise ConnectionPoolClosedError
            self._out += 1
        try:
            return self._handed(timeout, is_writer)
        except BaseException:
            self._back()
            raise

    def _handed(self, timeout: float | None, is_writer: bool | None) -> SQLiteConnection:
        if is_writer is not True or self.is_sqlite_memory_mode:
            return super().get_connection(timeout=timeout, is_writer=is_writer)
        wait = self.pool_timeout if timeout is None else timeout
        started = time.monotonic()
        if not self._writers.acquire(timeout=wait):
            msg = "Timed out waiting for return of writer"
            raise ConnectionUnavailableError(msg)
        try:  # the rest of the one wait: queueing here is not a second timeout
            left = max(0.0, wait - (time.monotonic() - started))
            self._writing = super().get_connection(timeout=left)
        except BaseException:
            self._writers.release()
            raise
        return self._writing

    def _back(self) -> None:
        with self._handing:
            self._out -= 1
            self._handing.notify_all()

    def put_connection(self, conn: SQLiteConnection) -> None:
        writer = conn is self._writing
        if writer:
            self._writing = None
        try:
            super().put_connection(conn)
        finally:
            if writer:
                self._writers.release()
            self._back()


class LedgerSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory, its datastore on a `WritersQueuedPool`."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        library = self.datastore.pool
        self.datastore.pool = WritersQueuedPool(
            db_name=library.db_name,
            lock_timeout=library.lock_timeout,
            pool_size=library.pool_size,
            max_overflow=library.max_overflow,
            pool_timeout=library.pool_timeout,
            max_age=library.max_age,
            pre_ping=library.pre_ping,
        )
        library.close()  # never connected: connections are made when first asked for


_PUT_STATE = (
    "INSERT INTO ledger_state (key, doc) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET doc = excluded.doc"
)


class LedgerSQLiteRecorder(SQLiteApplicationRecorder):
    """SQLite application recorder that writes the audit chain."""

    hasher: ChainHasher = ChainHasher()
    # the hasher whose mode was found to be the chain's (`ensure_chain_mode`)
    mode_checked: ChainHasher | None = None

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(
            "CREATE TABLE IF NOT EXISTS event_chain ("
            "position INTEGER PRIMARY KEY, "
            "event_id TEXT NOT NULL UNIQUE, "
            "recorded_at TEXT NOT NULL, "
            "hash TEXT NOT NULL)"
        )
        statements.append(
            "CREATE INDEX IF NOT EXISTS event_chain_recorded_at ON event_chain (recorded_at)"
        )
        # The payout claims index (`ledger.payout_claims`), written with the events.
        statements.append(
            "CREATE TABLE IF NOT EXISTS payout_claims ("
            "period TEXT NOT NULL, rep_id TEXT NOT NULL, run_id TEXT NOT NULL, "
            "state TEXT NOT NULL, position INTEGER NOT NULL, "
            "PRIMARY KEY (period, rep_id, run_id, state)) WITHOUT ROWID"
        )
        statements.append(
            "CREATE INDEX IF NOT EXISTS payout_claims_run ON payout_claims (run_id, state)"
        )
        # The keys claimed for good (`ledger.key_tables`), written with the events.
        statements.extend(
            f"CREATE TABLE IF NOT EXISTS {t.name} ({t.key_column} TEXT PRIMARY KEY, "
            f"{t.owner_column} TEXT NOT NULL, position INTEGER NOT NULL) WITHOUT ROWID"
            for t in KEY_TABLES
        )
        # Small documents kept beside the log: the chain watermark, the projector's status.
        statements.append(
            "CREATE TABLE IF NOT EXISTS ledger_state (key TEXT PRIMARY KEY, doc TEXT NOT NULL)"
        )
        return statements

    def create_table(self) -> None:
        """The library's tables and the ledger's; then, once, the payout claims
        index and the key tables of a store written before them, from its log."""
        super().create_table()
        build_indexes(self)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's insert (`Application.save`), through an append session,
        so whatever writes events also writes their chain links."""
        del kwargs
        with self.append_session() as session:
            return [link.position for link in session.append(stored_events)]

    @contextmanager
    def append_session(self, *, idle_seconds: float | None = None) -> Iterator[SQLiteAppendSession]:
        """A write transaction holding SQLite's write lock from its start.

        SQLite never ends an idle transaction: ``idle_seconds`` changes nothing.

        ``BEGIN IMMEDIATE`` takes the lock before the first read, so what the
        session reads cannot be changed by another writer before it commits
        (a deferred BEGIN would fail with "database is locked" on its first write).
        """
        del idle_seconds
        with self.datastore.get_connection(commit=True) as conn:
            raw = conn.cursor().sqlite_cursor
            try:
                try:
                    raw.execute("BEGIN IMMEDIATE")
                    raw.execute(
                        f"SELECT {_LINK_COLUMNS} FROM event_chain ORDER BY position DESC LIMIT 1"
                    )
                    row = raw.fetchone()
                    raw.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
                    last = raw.fetchone()[0] or 0
                    yield SQLiteAppendSession(
                        self, raw, ChainLink(*row) if row else None, max(last, row[0] if row else 0)
                    )
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            except sqlite3.IntegrityError as exc:
                raise IntegrityError(exc) from exc
            except sqlite3.OperationalError as exc:
                raise OperationalError(exc) from exc
            finally:
                raw.close()

    # the head's position, for a read that wants it with others in one statement
    head_position_statement = "SELECT MAX(position) FROM event_chain"

    def chain_head(self) -> ChainLink | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {_LINK_COLUMNS} FROM event_chain ORDER BY position DESC LIMIT 1")
            row = c.fetchone()
        return ChainLink(*row) if row else None

    def last_position(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT MAX(p) FROM (SELECT MAX(rowid) AS p FROM {self.events_table_name} "
                "UNION ALL SELECT MAX(position) FROM event_chain)"
            )
            row = c.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def select_links(self, after: int, limit: int) -> list[ChainLink]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {_LINK_COLUMNS} FROM event_chain WHERE position > ? "
                "ORDER BY position LIMIT ?",
                (after, limit),
            )
            return [ChainLink(*row) for row in c.fetchall()]

    def select_event_rows(self, after: int, limit: int) -> list[tuple[int, UUID, int, str, bytes]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, limit),
            )
            return [(row[0], UUID(row[1]), row[2], row[3], _blob(row[4])) for row in c.fetchall()]

    def select_log(self, after: int, limit: int, stop: int | None = None) -> list[LoggedEvent]:
        statement = (
            "SELECT e.rowid, e.topic, e.state, c.event_id, c.recorded_at, c.hash "
            f"FROM {self.events_table_name} e JOIN event_chain c ON c.position = e.rowid "
            "WHERE e.rowid > ? "
        )
        params: list[Any] = [after]
        if stop is not None:
            statement += "AND e.rowid <= ? "
            params.append(stop)
        statement += "ORDER BY e.rowid LIMIT ?"
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [_logged(r) for r in c.fetchall()]

    def select_log_at(self, positions: Sequence[int]) -> list[LoggedEvent]:
        found: list[LoggedEvent] = []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(positions), 900):
                chunk = list(positions[start : start + 900])
                c.execute(
                    "SELECT e.rowid, e.topic, e.state, c.event_id, c.recorded_at, c.hash "
                    f"FROM {self.events_table_name} e JOIN event_chain c ON c.position = e.rowid "
                    f"WHERE e.rowid IN ({','.join('?' * len(chunk))}) ORDER BY e.rowid",
                    chunk,
                )
                found.extend(_logged(r) for r in c.fetchall())
        return found

    def link_at_or_before(self, position: int) -> ChainLink | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {_LINK_COLUMNS} FROM event_chain WHERE position <= ? "
                "ORDER BY position DESC LIMIT 1",
                (position,),
            )
            row = c.fetchone()
        return ChainLink(*row) if row else None

    def position_of(self, event_id: str) -> int | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT position FROM event_chain WHERE event_id = ?", (event_id,))
            row = c.fetchone()
        return int(row[0]) if row else None

    def position_at(self, recorded_at: str) -> int | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT MAX(position) FROM event_chain WHERE recorded_at <= ?",
                (recorded_at,),
            )
            row = c.fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def select_streams(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        with self.datastore.transaction(commit=False) as c:
            return _streams(c.sqlite_cursor, self.events_table_name, ids)

    def select_claims(self, period: str, rep_ids: Sequence[str]) -> list[Claim]:
        with self.datastore.transaction(commit=False) as c:
            return _claims(c.sqlite_cursor, period, rep_ids)

    def select_all_claims(self) -> list[Claim]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {_CLAIM_COLUMNS} FROM payout_claims ORDER BY position")
            return [Claim(*row) for row in c.fetchall()]

    def select_all_keys(self, table: KeyTable) -> list[Claim3]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {table.name} ORDER BY position, {table.key_column}")
            return [table.make(row) for row in c.fetchall()]

    def select_keys(self, table: KeyTable, keys: Sequence[str]) -> dict[str, str]:
        with self.datastore.transaction(commit=False) as c:
            return _keys(c.sqlite_cursor, table, keys)

    def get_state(self, key: str) -> dict[str, Any] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT doc FROM ledger_state WHERE key = ?", (key,))
            row = c.fetchone()
        return dict(orjson.loads(row[0])) if row else None

    def put_state(self, key: str, doc: dict[str, Any]) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(_PUT_STATE, (key, orjson.dumps(doc).decode()))


class SQLiteAppendSession:
    """`AppendSession` on SQLite: rows written with explicit positions (rowids)."""

    def __init__(
        self,
        recorder: LedgerSQLiteRecorder,
        cursor: sqlite3.Cursor,
        head: ChainLink | None,
        last_position: int,
    ) -> None:
        self._recorder = recorder
        self._cursor = cursor
        self.head = head
        self._last = last_position
        self._insert = (
            f"INSERT INTO {recorder.events_table_name} "
            "(rowid, originator_id, originator_version, topic, state) VALUES (?,?,?,?,?)"
        )

    def select_streams(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        return _streams(self._cursor, self._recorder.events_table_name, ids)

    def select_claims(self, period: str, rep_ids: Sequence[str]) -> list[Claim]:
        return _claims(self._cursor, period, rep_ids)

    def select_keys(self, table: KeyTable, keys: Sequence[str]) -> dict[str, str]:
        """The owners of ``keys`` claimed in ``table`` (`ledger.key_tables`),
        those this session appended included."""
        return _keys(self._cursor, table, keys)

    # -- the chain as the session holds it (a payout rule's chain check) --------

    def get_state(self, key: str) -> dict[str, Any] | None:
        self._cursor.execute("SELECT doc FROM ledger_state WHERE key = ?", (key,))
        row = self._cursor.fetchone()
        return dict(orjson.loads(row[0])) if row else None

    def put_state(self, key: str, doc: dict[str, Any]) -> None:
        """Keep ``doc`` under ``key``, in the session's transaction."""
        self._cursor.execute(_PUT_STATE, (key, orjson.dumps(doc).decode()))

    def last_position(self) -> int:
        """The last position written: committed before, or appended (and linked:
        SQLite writes both in one breath) by this session."""
        return self._last

    def link_at_or_before(self, position: int) -> ChainLink | None:
        self._cursor.execute(
            f"SELECT {_LINK_COLUMNS} FROM event_chain WHERE position <= ? "
            "ORDER BY position DESC LIMIT 1",
            (position,),
        )
        row = self._cursor.fetchone()
        return ChainLink(*row) if row else None

    def select_links(self, after: int, limit: int) -> list[ChainLink]:
        self._cursor.execute(
            f"SELECT {_LINK_COLUMNS} FROM event_chain WHERE position > ? ORDER BY position LIMIT ?",
            (after, limit),
        )
        return [ChainLink(*row) for row in self._cursor.fetchall()]

    def select_event_rows(self, after: int, limit: int) -> list[tuple[int, UUID, int, str, bytes]]:
        self._cursor.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self._recorder.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (after, limit),
        )
        return [(r[0], UUID(r[1]), r[2], r[3], bytes(r[4])) for r in self._cursor.fetchall()]

    def build_claims_index(self) -> None:
        """Index every payout event of the log (a store written before the index
        existed; an empty one has none), and mark the index built."""
        self._cursor.execute("SELECT doc FROM ledger_state WHERE key = ?", (CLAIMS_BUILT,))
        if self._cursor.fetchone() is not None:
            return  # built by another process meanwhile
        topics = list(CLAIM_TOPICS)
        self._cursor.execute(
            f"SELECT rowid, topic, state FROM {self._recorder.events_table_name} "
            f"WHERE topic IN ({','.join('?' * len(topics))}) ORDER BY rowid",
            topics,
        )
        self._write_claims([(r[0], r[1], bytes(r[2])) for r in self._cursor.fetchall()])
        self._cursor.execute(
            "INSERT INTO ledger_state (key, doc) VALUES (?, ?)",
            (CLAIMS_BUILT, orjson.dumps({"position": self._last}).decode()),
        )

    def build_keys(self, table: KeyTable) -> None:
        """Claim in ``table`` every key the log's events claim (a store written
        before the table existed), the earliest event first: a later claim of
        a key already claimed, stored before the rule, claims nothing
        (`ledger.key_tables`); and mark the table built."""
        self._cursor.execute("SELECT doc FROM ledger_state WHERE key = ?", (table.built,))
        if self._cursor.fetchone() is not None:
            return  # built by another process meanwhile
        self._cursor.execute(
            f"SELECT rowid, topic, state FROM {self._recorder.events_table_name} "
            "WHERE topic = ? ORDER BY rowid",
            (table.topic,),
        )
        rows = [(r[0], r[1], bytes(r[2])) for r in self._cursor.fetchall()]
        self._insert_keys(table, earliest_claims(table.claims_of(rows)))
        self._cursor.execute(
            "INSERT INTO ledger_state (key, doc) VALUES (?, ?)",
            (table.built, orjson.dumps({"position": self._last}).decode()),
        )

    def try_append(self, stored_events: Sequence[StoredEvent]) -> list[ChainLink] | None:
        self._cursor.execute("SAVEPOINT optimistic")
        try:
            links = self.append(stored_events)
        except (sqlite3.IntegrityError, ConflictError):
            self._cursor.execute("ROLLBACK TO optimistic")
            self._cursor.execute("RELEASE optimistic")
            return None
        self._cursor.execute("RELEASE optimistic")
        return links

    def try_append_early(
        self, stored_events: Sequence[StoredEvent], on_visible: Callable[[bool], None]
    ) -> list[ChainLink] | None:
        """`try_append`, settled in one piece: SQLite writes the links in the same
        breath, and a reader on the session's connection waits for them anyway."""
        links = self.try_append(stored_events)
        on_visible(links is not None)
        return links

    def append(self, stored_events: Sequence[StoredEvent]) -> list[ChainLink]:
        if not stored_events:
            return []
        ensure_chain_mode(self, self._recorder)
        first = self._last + 1
        rows = [
            (p, _as_uuid(s.originator_id), s.originator_version, s.topic, s.state)
            for p, s in enumerate(stored_events, start=first)
        ]
        self._cursor.executemany(
            self._insert,
            [(p, oid.hex, version, topic, state) for p, oid, version, topic, state in rows],
        )
        links = self._recorder.hasher.extend(self.head, rows)
        self._cursor.executemany(
            "INSERT INTO event_chain VALUES (?,?,?,?)",
            [(k.position, k.event_id, k.recorded_at, k.hash) for k in links],
        )
        self._write_claims([(r[0], r[3], r[4]) for r in rows if r[3] in CLAIM_TOPICS])
        keyed = [(r[0], r[3], r[4]) for r in rows if r[3] in KEY_TOPICS]
        for table in KEY_TABLES:
            self._claim_keys(table, table.claims_of(keyed))
        self._last = rows[-1][0]
        self.head = links[-1]
        return links

    def _claim_keys(self, table: KeyTable, claims: Sequence[Claim3]) -> None:
        """The keys the events appended claim in ``table`` (`ledger.key_tables`):
        a key another owner claims already (the table's primary key keeps the
        row there) is the table's `ConflictError`, and the caller's transaction
        then stores nothing. The rows not inserted are looked up only when
        there are any."""
        if self._insert_keys(table, claims) == len(claims):
            return
        refusal = table.refusal(claims, _keys(self._cursor, table, [c[0] for c in claims]))
        if refusal is not None:
            raise refusal
        # else each key not inserted is its own owner's already: a stream
        # version of the same event, which the events table refuses

    def _insert_keys(self, table: KeyTable, claims: Sequence[Claim3]) -> int:
        """Insert ``claims`` but those of a key claimed already: how many were."""
        if not claims:
            return 0
        self._cursor.executemany(f"INSERT OR IGNORE INTO {table.name} VALUES {_KEY_ROW}", claims)
        return self._cursor.rowcount

    def _write_claims(self, rows: Sequence[tuple[int, str, bytes]]) -> None:
        """The payout claims index rows of events appended (`ledger.payout_claims`)."""
        for change in claim_changes(rows):
            if change.state == CALCULATED:
                self._cursor.executemany(
                    f"INSERT INTO payout_claims ({_CLAIM_COLUMNS}) VALUES (?,?,?,?,?)",
                    [
                        (change.period, rep, change.run_id, change.state, change.position)
                        for rep in change.rep_ids
                    ],
                )
            else:
                self._cursor.execute(
                    f"INSERT INTO payout_claims ({_CLAIM_COLUMNS}) "
                    "SELECT period, rep_id, run_id, ?, ? FROM payout_claims "
                    "WHERE run_id = ? AND state = ?",
                    (change.state, change.position, change.run_id, CALCULATED),
                )


def _streams(
    c: sqlite3.Cursor, events_table: str, ids: Sequence[UUID]
) -> dict[UUID, list[StoredEvent]]:
    """The stored events of streams ``ids``, by stream, in version order."""
    streams: dict[UUID, list[StoredEvent]] = {}
    for start in range(0, len(ids), 500):
        chunk = [i.hex for i in ids[start : start + 500]]
        c.execute(
            "SELECT originator_id, originator_version, topic, state "
            f"FROM {events_table} WHERE originator_id IN ({','.join('?' * len(chunk))}) "
            "ORDER BY originator_id, originator_version",
            chunk,
        )
        for row in c.fetchall():
            oid = UUID(row[0])
            streams.setdefault(oid, []).append(StoredEvent(oid, row[1], row[2], _blob(row[3])))
    return streams


def _blob(value: bytes | str) -> bytes:
    """A stored event's state as bytes: SQLite keeps what an UPDATE wrote, and
    ``replace()`` on the BLOB (the obvious way to edit one by hand) writes TEXT —
    read as its bytes, so the chain names the edit instead of a traceback."""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _keys(cursor: sqlite3.Cursor, table: KeyTable, keys: Sequence[str]) -> dict[str, str]:
    """The owner of each of ``keys`` claimed in ``table`` (`ledger.key_tables`)."""
    stored: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        cursor.execute(
            f"SELECT {table.key_column}, {table.owner_column} FROM {table.name} "
            f"WHERE {table.key_column} IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        stored.update(cursor.fetchall())
    return stored


def _claims(c: sqlite3.Cursor, period: str, rep_ids: Sequence[str]) -> list[Claim]:
    """The payout claims index rows of ``rep_ids`` for ``period``."""
    found: list[Claim] = []
    for start in range(0, len(rep_ids), 500):
        chunk = list(rep_ids[start : start + 500])
        c.execute(
            f"SELECT {_CLAIM_COLUMNS} FROM payout_claims "
            f"WHERE period = ? AND rep_id IN ({','.join('?' * len(chunk))})",
            [period, *chunk],
        )
        found.extend(Claim(*row) for row in c.fetchall())
    return found


def _logged(r: Any) -> LoggedEvent:
    return LoggedEvent(r[0], r[1], bytes(r[2]), r[3], r[4], r[5])


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)
