"""The production store: the library's PostgreSQL recorder plus the audit chain.

Inserts run in one transaction that takes the writer lock first (`_begin`),
so commit order equals position order, readers never skip a committed event,
and the "read the last link, append the next" step of the chain is serialised
across every writer process.

The application role needs only SELECT and INSERT on the events and chain
tables (plus USAGE and UPDATE on the position sequence): see the README.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    InterfaceError,
    InternalError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresFactory,
)
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.errors import IdleInTransactionSessionTimeout, UniqueViolation
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal

from ledger.backends.base import CLAIMS_BUILT, LoggedEvent, build_indexes
from ledger.catalogue import CLAIM_TOPICS, KEY_TABLES, KEY_TOPICS
from ledger.chain import ChainHasher, ChainLink
from ledger.chain_guard import ensure_chain_mode
from ledger.errors import ConflictError, StoreUnavailableError
from ledger.key_tables import Claim3, KeyTable, earliest_claims
from ledger.payout_claims import CALCULATED, Claim, claim_changes

__all__ = [
    "LedgerPostgresFactory",
    "LedgerPostgresRecorder",
    "PostgresAppendSession",
    "schema_lock",
]

_RETRIED = (InterfaceError, OperationalError)
# pg_advisory_lock key for DDL: any 64-bit number no other application uses.
_DDL_LOCK = 0x1E5D6E7
# pg_advisory_xact_lock's first key for the writers of one events table (the
# second: the hash of its qualified name, so the ledgers of other schemas of the
# database write at will).
_APPEND_LOCK = 0x1E5A99D
_lock_guard = threading.Lock()
_CLAIM_COLUMNS = "period, rep_id, run_id, state, position"


class _KeySQL(NamedTuple):
    """The statements of one key table (`ledger.key_tables`)."""

    select: Composed  # the owners of keys: (key, owner) rows
    select_all: Composed  # every row, in position order
    insert: Composed  # claims, as three arrays, but those of a key claimed already


@contextmanager
def schema_lock(datastore: Any) -> Iterator[None]:
    """Serialise schema creation across processes: concurrent CREATE ... IF NOT
    EXISTS / CREATE OR REPLACE FUNCTION fail with "tuple concurrently updated"."""
    with _lock_guard, datastore.get_connection() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_DDL_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_DDL_LOCK,))


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, with every libpq parameter of the URL.

    The library's datastore passes only dbname, host, port, user and password to
    psycopg, so ``sslmode``, ``sslrootcert``, ``application_name``, ... of a URL
    would be dropped. ``POSTGRES_LIBPQ_PARAMS`` (a JSON object, written by
    `ledger.storage.library_env`) joins the keyword arguments its pool opens every
    connection with: the pool is not open yet, so no connection goes without them.
    """

    POSTGRES_LIBPQ_PARAMS = "POSTGRES_LIBPQ_PARAMS"

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        params = json.loads(self.env.get(self.POSTGRES_LIBPQ_PARAMS) or "{}")
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict), "the library gives its pool a dict of kwargs"
        kwargs.update(params)


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    """PostgreSQL application recorder that writes the audit chain."""

    hasher: ChainHasher = ChainHasher()
    # the hasher whose mode was found to be the chain's (`ensure_chain_mode`)
    mode_checked: ChainHasher | None = None

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.chain_table_name = f"{events_table_name}_chain"
        self.check_identifier_length(self.chain_table_name)
        self.claims_table_name = f"{events_table_name}_payout_claims"
        self.check_identifier_length(self.claims_table_name)
        self.state_table_name = f"{events_table_name}_state"
        self.check_identifier_length(self.state_table_name)
        keys_tables = {t.name: f"{events_table_name}_{t.name}" for t in KEY_TABLES}
        for name in keys_tables.values():
            self.check_identifier_length(name)
        identifiers = {
            "schema": self.datastore.schema,
            "events": self.events_table_name,
            "chain": self.chain_table_name,
            "claims": self.claims_table_name,
            "state": self.state_table_name,
            **keys_tables,
            "chain_recorded_at_idx": f"{self.chain_table_name}_recorded_at_idx",
            "claims_run_idx": f"{self.claims_table_name}_run_idx",
        }

        def sql(text: str) -> Composed:
            """`text` with its ``{schema}``, ``{events}``, ... names quoted."""
            return SQL(text).format(**{k: Identifier(v) for k, v in identifiers.items()})

        # The chain; the payout claims index (`ledger.payout_claims`) and the keys
        # claimed for good (`ledger.key_tables`), written with the events; small
        # documents kept beside the log: the chain watermark, the projector's
        # status. Each table with its columns, then its index if any.
        tables = (
            (
                "chain",
                (
                    "position bigint PRIMARY KEY, event_id uuid NOT NULL UNIQUE, "
                    "recorded_at text NOT NULL, hash text NOT NULL"
                ),
                "{chain_recorded_at_idx} ON {schema}.{chain} (recorded_at)",
            ),
            (
                "claims",
                (
                    "period text NOT NULL, rep_id text NOT NULL, run_id text NOT NULL, "
                    "state text NOT NULL, position bigint NOT NULL, "
                    "PRIMARY KEY (period, rep_id, run_id, state)"
                ),
                "{claims_run_idx} ON {schema}.{claims} (run_id, state)",
            ),
            *(
                (
                    t.name,
                    (
                        f"{t.key_column} text PRIMARY KEY, {t.owner_column} text NOT NULL, "
                        "position bigint NOT NULL"
                    ),
                    None,
                )
                for t in KEY_TABLES
            ),
            ("state", "key text PRIMARY KEY, doc text NOT NULL", None),
        )
        for table, columns, index in tables:
            self.sql_create_statements.append(
                sql(f"CREATE TABLE IF NOT EXISTS {{schema}}.{{{table}}} ({columns})")
            )
            if index is not None:
                self.sql_create_statements.append(sql(f"CREATE INDEX IF NOT EXISTS {index}"))
        self._select_claims = sql(
            "SELECT " + _CLAIM_COLUMNS + " FROM {schema}.{claims} "
            "WHERE period = %s AND rep_id = ANY(%s)"
        )
        self._select_all_claims = sql(
            "SELECT " + _CLAIM_COLUMNS + " FROM {schema}.{claims} ORDER BY position"
        )
        self._insert_claims = sql(
            "INSERT INTO {schema}.{claims} (" + _CLAIM_COLUMNS + ") "
            "SELECT %s, unnest(%s::text[]), %s, %s, %s"
        )
        self._close_claims = sql(
            "INSERT INTO {schema}.{claims} (" + _CLAIM_COLUMNS + ") "
            "SELECT period, rep_id, run_id, %s, %s FROM {schema}.{claims} "
            "WHERE run_id = %s AND state = %s"
        )
        self._select_claim_events = sql(
            "SELECT notification_id, topic, state FROM {schema}.{events} "
            "WHERE topic = ANY(%s) ORDER BY notification_id"
        )
        self._keys_sql: dict[str, _KeySQL] = {}
        for t in KEY_TABLES:
            key, owner, table = t.key_column, t.owner_column, "{schema}.{" + t.name + "}"
            self._keys_sql[t.name] = _KeySQL(
                sql(f"SELECT {key}, {owner} FROM {table} WHERE {key} = ANY(%s)"),
                sql(f"SELECT {key}, {owner}, position FROM {table} ORDER BY position, {key}"),
                sql(
                    f"INSERT INTO {table} ({key}, {owner}, position) "
                    "SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[]) "
                    f"ON CONFLICT ({key}) DO NOTHING"
                ),
            )
        self._select_topic = sql(
            "SELECT notification_id, topic, state FROM {schema}.{events} "
            "WHERE topic = %s ORDER BY notification_id"
        )
        self._get_state = sql("SELECT doc FROM {schema}.{state} WHERE key = %s")
        self._put_state = sql(
            "INSERT INTO {schema}.{state} (key, doc) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET doc = excluded.doc"
        )
        self._select_head = sql(
            "SELECT position, event_id::text, recorded_at, hash FROM {schema}.{chain} "
            "ORDER BY position DESC LIMIT 1"
        )
        # the head's position, for a read that wants it with others in one statement
        self.head_position_statement = sql("SELECT MAX(position) FROM {schema}.{chain}")
        self._select_links = sql(
            "SELECT position, event_id::text, recorded_at, hash FROM {schema}.{chain} "
            "WHERE position > %s ORDER BY position LIMIT %s"
        )
        self._select_rows = sql(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{events} WHERE notification_id > %s "
            "ORDER BY notification_id LIMIT %s"
        )
        self._select_log = sql(
            "SELECT e.notification_id, e.topic, e.state, c.event_id::text, c.recorded_at, c.hash "
            "FROM {schema}.{events} e JOIN {schema}.{chain} c "
            "ON c.position = e.notification_id "
            "WHERE e.notification_id > %s AND e.notification_id <= %s "
            "AND c.position > %s AND c.position <= %s"
        )
        self._select_next_position = sql(
            "SELECT MIN(position) AS next FROM {schema}.{chain} "
            "WHERE position > %s AND position <= %s"
        )
        # Both sides of the joins below are filtered by position: given the
        # filter on one side only, the planner hash-joins a rep's 10,000 events
        # against a seq scan of the whole chain (measured: 220 ms -> 39 ms).
        self._select_log_at = sql(
            "SELECT e.notification_id, e.topic, e.state, c.event_id::text, c.recorded_at, c.hash "
            "FROM {schema}.{events} e JOIN {schema}.{chain} c "
            "ON c.position = e.notification_id "
            "WHERE e.notification_id = ANY(%s) AND c.position = ANY(%s) "
            "ORDER BY e.notification_id"
        )
        self._select_link_at = sql(
            "SELECT position, event_id::text, recorded_at, hash FROM {schema}.{chain} "
            "WHERE position <= %s ORDER BY position DESC LIMIT 1"
        )
        self._select_position_of = sql("SELECT position FROM {schema}.{chain} WHERE event_id = %s")
        self._select_position_at = sql(
            "SELECT MAX(position) AS max FROM {schema}.{chain} WHERE recorded_at <= %s"
        )
        self._select_streams = sql(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{events} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        )

        self._copy_events = sql(
            "COPY {schema}.{events} "
            "(originator_id, originator_version, topic, state, notification_id) "
            "FROM STDIN (FORMAT BINARY)"
        )
        self._copy_links = sql(
            "COPY {schema}.{chain} (position, event_id, recorded_at, hash) "
            "FROM STDIN (FORMAT BINARY)"
        )
        # A run of positions in one call: the next value, and the sequence moved
        # past the run (a nextval per event cost 7 us each on the server, 36 ms a
        # chunk of 5,000 on the import's critical path). Only append sessions draw
        # positions, each holding the writer lock, so the run is theirs alone.
        self._next_positions = SQL(
            "SELECT setval(q.seq, nextval(q.seq) + %s - 1) AS last "
            "FROM (SELECT pg_get_serial_sequence(%s, 'notification_id')::regclass AS seq) q"
        )
        self._qualified_events = f'"{self.datastore.schema}"."{self.events_table_name}"'
        # The writer lock (`_begin`). Not the library's ``LOCK TABLE ... IN
        # EXCLUSIVE MODE``: PostgreSQL grants that mode only to a role that may
        # UPDATE, DELETE or TRUNCATE the table, and the application's role may
        # only add to it (README, "Running without UPDATE or DELETE"). An
        # advisory lock needs no privilege; ROW EXCLUSIVE (what an INSERT takes,
        # granted with INSERT) is taken first, so that a writer still taking
        # the library's lock (a process of an earlier version) and this one take
        # turns too. The library's lock wait (``lock_timeout``) bounds both. One
        # round trip, as the library's two statements were two.
        self._append_lock = SQL("; ").join(
            (
                SQL("SET LOCAL lock_timeout = {}").format(
                    Literal(f"{self.datastore.lock_timeout}s")
                ),
                sql("LOCK TABLE {schema}.{events} IN ROW EXCLUSIVE MODE"),
                SQL("SELECT pg_advisory_xact_lock({}, hashtext({}))").format(
                    Literal(_APPEND_LOCK), Literal(self._qualified_events)
                ),
            )
        )
        self._analyze = sql("ANALYZE {schema}.{events}, {schema}.{chain}")
        # The library's channel (its insert notifies it too): composed once, not per write.
        self._notify = SQL("NOTIFY {}").format(Identifier(self.channel_name))

    def create_table(self) -> None:
        """The library's tables and the ledger's; then, once, the payout claims
        index and the rep ids' forms of a store written before them, from its log."""
        with schema_lock(self.datastore):
            super().create_table()
        build_indexes(self)

    def analyze(self) -> None:
        """Refresh the planner's statistics after a bulk append.

        Right after a million-row COPY the statistics still describe an empty
        table, and the planner reads the log with a hash join over all of it
        (measured: 220 ms a page instead of a few); autovacuum catches up only later.
        """
        with self.datastore.get_connection() as conn:
            conn.execute(self._analyze)

    @contextmanager
    def append_session(
        self, *, idle_seconds: float | None = None
    ) -> Iterator[PostgresAppendSession]:
        """A write transaction holding the writer lock from its start (see `AppendSession`).

        The lock (`_begin`) is held until the commit: readers carry on, other
        writers wait, and commit order stays position order.

        PostgreSQL ends a transaction left idle longer than the library's
        ``idle_in_transaction_session_timeout`` (5 s), so that a stuck client
        cannot hold the lock. ``idle_seconds`` sets this transaction's own limit
        (an import waits on its input between statements); a session ended that
        way is reported as `StoreUnavailableError`, with nothing stored.
        """
        try:
            with (
                self.datastore.get_connection() as conn,
                conn.transaction(),
                conn.cursor() as curs,
            ):
                if idle_seconds is not None:
                    curs.execute(
                        SQL("SET LOCAL idle_in_transaction_session_timeout = {}").format(
                            Literal(f"{round(idle_seconds * 1000)}ms")
                        )
                    )
                yield self._begin(curs)
        except InternalError as exc:
            if not isinstance(exc.__cause__, IdleInTransactionSessionTimeout):
                raise
            limit = (
                idle_seconds
                if idle_seconds is not None
                else self.datastore.idle_in_transaction_session_timeout
            )
            raise StoreUnavailableError(
                f"the write sat idle for longer than {limit:g} s (waiting for its input) "
                "and PostgreSQL ended it; nothing was stored: re-run it"
            ) from exc

    def _begin(self, curs: Cursor[DictRow]) -> PostgresAppendSession:
        # The writer lock (see `_append_lock`) and the library's channel (its
        # insert notifies it too): commit order is position order, and listeners
        # hear of the new events.
        curs.execute(self._append_lock)
        curs.execute(self._notify)
        curs.execute(self._select_head, prepare=True)
        head = curs.fetchone()
        return PostgresAppendSession(self, curs, _link(head) if head else None)

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's insert (`Application.save`), through an append session,
        so whatever writes events also writes their chain links. The ledger's own
        writes open sessions directly (`Ledger.import_lines`, `record_many`)."""
        del kwargs
        with self.append_session() as session:
            return [link.position for link in session.append(stored_events)]

    def _fetch(self, statement: Composed, params: Sequence[Any]) -> list[Any]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return curs.fetchall()

    def _fetch_tuples(self, statement: Composed, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """`_fetch` with plain tuple rows, in the binary protocol: a dict per row
        costs as much as the query when a replay or a rebuild reads thousands of
        events, and in the text protocol each event's state (``bytea``) crosses
        as hex, which the server encodes and the client decodes (reading the log
        of 1M events: 4.4 s of fetching against 2.3 s in binary)."""
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            curs.execute(statement, params, prepare=True)
            return curs.fetchall()

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def chain_head(self) -> ChainLink | None:
        rows = self._fetch(self._select_head, ())
        return _link(rows[0]) if rows else None

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def last_position(self) -> int:
        head = self.chain_head()
        return max(self.max_notification_id() or 0, head.position if head else 0)

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def select_links(self, after: int, limit: int) -> list[ChainLink]:
        return [_link(r) for r in self._fetch(self._select_links, (after, limit))]

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def select_event_rows(self, after: int, limit: int) -> list[tuple[int, UUID, int, str, bytes]]:
        """Event rows for `verify`, as plain tuples in the binary protocol (see
        `_fetch_tuples`: `rebuild` runs the full check first, over every event)."""
        return [
            (int(r[0]), r[1], int(r[2]), r[3], bytes(r[4]))
            for r in self._fetch_tuples(self._select_rows, (after, limit))
        ]

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def select_log(self, after: int, limit: int, stop: int | None = None) -> list[LoggedEvent]:
        """Up to ``limit`` events after ``after`` (up to ``stop``), in position order.

        Read in windows of positions, ``after < position <= after + limit``, not
        as "the first ``limit`` after ``after``": given an open range, the planner
        judges its size by the table's statistics, which trail a log growing by
        thousands of events a second, and for a range it takes to be small it
        joins and sorts the whole tail before taking the first ``limit`` rows —
        measured with stale statistics: 412 ms a page of 5,000 with 297,000
        events after it, against 5 ms. A window's cost is bounded by its width
        whatever plan is chosen. Nor is it sorted there: under stale statistics
        the plan sorted after a nested loop, spilling to disk (18 ms a window
        against 9.7 ms unsorted); a list already in order sorts in linear time.

        Positions are gapless but for appends rolled back (their positions are
        drawn and not reused). A short window is followed by a look-up of the
        next stored position: commits land in position order (the writer lock),
        so any position below a visible one that is not visible itself was
        rolled back and will never appear — nothing is skipped.
        """
        upper = stop if stop is not None else 2**63 - 1
        rows: list[tuple[Any, ...]] = []
        low = after
        while len(rows) < limit and low < upper:
            want = limit - len(rows)
            high = min(upper, low + want)
            got = self._fetch_tuples(self._select_log, (low, high, low, high))
            got.sort(key=_first)  # in order already when merge-joined (the usual plan)
            rows.extend(got)
            if len(got) == want:
                break
            # Short: the rest of the window was never stored (a rolled-back
            # append) or not yet committed. Continue after the last row seen,
            # from the next position stored now, if any.
            seen = int(got[-1][0]) if got else low
            following = self._fetch(self._select_next_position, (seen, upper))[0]["next"]
            if following is None:
                break
            low = int(following) - 1
        return [LoggedEvent._make(row) for row in rows]

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def select_log_at(self, positions: Sequence[int]) -> list[LoggedEvent]:
        wanted = list(positions)
        return [
            LoggedEvent._make(row)
            for row in self._fetch_tuples(self._select_log_at, (wanted, wanted))
        ]

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def link_at_or_before(self, position: int) -> ChainLink | None:
        rows = self._fetch(self._select_link_at, (position,))
        return _link(rows[0]) if rows else None

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def position_of(self, event_id: str) -> int | None:
        try:
            UUID(event_id)
        except ValueError:
            return None
        rows = self._fetch(self._select_position_of, (event_id,))
        return int(rows[0]["position"]) if rows else None

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def position_at(self, recorded_at: str) -> int | None:
        rows = self._fetch(self._select_position_at, (recorded_at,))
        value = rows[0]["max"] if rows else None
        return int(value) if value is not None else None

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def select_streams(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            return _streams(curs, self._select_streams, ids)

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def select_claims(self, period: str, rep_ids: Sequence[str]) -> list[Claim]:
        return [_claim(r) for r in self._fetch(self._select_claims, (period, list(rep_ids)))]

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def select_all_claims(self) -> list[Claim]:
        return [_claim(r) for r in self._fetch(self._select_all_claims, ())]

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def select_all_keys(self, table: KeyTable) -> list[Claim3]:
        rows = self._fetch_tuples(self._keys_sql[table.name].select_all, ())
        return [table.make(row) for row in rows]

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def select_keys(self, table: KeyTable, keys: Sequence[str]) -> dict[str, str]:
        return dict(self._fetch_tuples(self._keys_sql[table.name].select, (list(keys),)))

    @retry(_RETRIED, max_attempts=10, wait=0.2)
    def get_state(self, key: str) -> dict[str, Any] | None:
        rows = self._fetch(self._get_state, (key,))
        return dict(orjson.loads(rows[0]["doc"])) if rows else None

    def put_state(self, key: str, doc: dict[str, Any]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._put_state, (key, orjson.dumps(doc).decode()))


class PostgresAppendSession:
    """`AppendSession` on PostgreSQL: binary COPY of events and links.

    Positions come from the events table's own sequence, drawn while the table
    lock is held, so they increase in commit order exactly as the library's
    ``INSERT ... RETURNING`` would give them; COPY then writes each row with its
    position, and its chain link, at several times the speed of the insert.
    """

    def __init__(
        self,
        recorder: LedgerPostgresRecorder,
        curs: Cursor[DictRow],
        head: ChainLink | None,
    ) -> None:
        self._recorder = recorder
        self._curs = curs
        self._read = curs.connection.cursor()
        self.head = head

    def select_streams(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        # a cursor of its own: the writer thread may be copying links on the
        # session's (the connection runs one statement at a time)
        return _streams(self._read, self._recorder._select_streams, ids)  # noqa: SLF001

    def select_claims(self, period: str, rep_ids: Sequence[str]) -> list[Claim]:
        statement = self._recorder._select_claims  # noqa: SLF001
        return [_claim(r) for r in self._fetch(statement, (period, list(rep_ids)))]

    def select_keys(self, table: KeyTable, keys: Sequence[str]) -> dict[str, str]:
        """The owners of ``keys`` claimed in ``table`` (`ledger.key_tables`),
        those this session appended included."""
        return self._owners(self._read, table, keys)

    def _owners(
        self, curs: Cursor[DictRow], table: KeyTable, keys: Sequence[str]
    ) -> dict[str, str]:
        statement = self._recorder._keys_sql[table.name].select  # noqa: SLF001
        curs.execute(statement, (list(keys),))
        return {r[table.key_column]: r[table.owner_column] for r in curs.fetchall()}

    # -- the chain as the session holds it (a payout rule's chain check) --------

    def _fetch(self, statement: Composed, params: Sequence[Any]) -> list[Any]:
        self._read.execute(statement, params)
        return self._read.fetchall()

    def get_state(self, key: str) -> dict[str, Any] | None:
        rows = self._fetch(self._recorder._get_state, (key,))  # noqa: SLF001
        return dict(orjson.loads(rows[0]["doc"])) if rows else None

    def put_state(self, key: str, doc: dict[str, Any]) -> None:
        """Keep ``doc`` under ``key``, in the session's transaction."""
        put = self._recorder._put_state  # noqa: SLF001
        self._curs.execute(put, (key, orjson.dumps(doc).decode()))

    def last_position(self) -> int:
        """The last position this session linked: events it has appended whose
        links the writer thread is still copying (an import) come after it."""
        return self.head.position if self.head is not None else 0

    def link_at_or_before(self, position: int) -> ChainLink | None:
        rows = self._fetch(self._recorder._select_link_at, (position,))  # noqa: SLF001
        return _link(rows[0]) if rows else None

    def select_links(self, after: int, limit: int) -> list[ChainLink]:
        return [_link(r) for r in self._fetch(self._recorder._select_links, (after, limit))]  # noqa: SLF001

    def select_event_rows(self, after: int, limit: int) -> list[tuple[int, UUID, int, str, bytes]]:
        return [
            (
                r["notification_id"],
                r["originator_id"],
                r["originator_version"],
                r["topic"],
                bytes(r["state"]),
            )
            for r in self._fetch(self._recorder._select_rows, (after, limit))  # noqa: SLF001
        ]

    def build_claims_index(self) -> None:
        """Index every payout event of the log (a store written before the index
        existed; an empty one has none), and mark the index built."""
        recorder, curs = self._recorder, self._curs
        curs.execute(recorder._get_state, (CLAIMS_BUILT,))  # noqa: SLF001
        if curs.fetchone() is not None:
            return  # built by another process meanwhile
        curs.execute(recorder._select_claim_events, (list(CLAIM_TOPICS),))  # noqa: SLF001
        rows = [(int(r["notification_id"]), r["topic"], bytes(r["state"])) for r in curs.fetchall()]
        self._write_claims(rows)
        last = rows[-1][0] if rows else 0
        put = recorder._put_state  # noqa: SLF001
        curs.execute(put, (CLAIMS_BUILT, orjson.dumps({"position": last}).decode()))

    def build_keys(self, table: KeyTable) -> None:
        """Claim in ``table`` every key the log's events claim (a store written
        before the table existed), the earliest event first: a later claim of
        a key already claimed, stored before the rule, claims nothing
        (`ledger.key_tables`); and mark the table built."""
        recorder, curs = self._recorder, self._curs
        curs.execute(recorder._get_state, (table.built,))  # noqa: SLF001
        if curs.fetchone() is not None:
            return  # built by another process meanwhile
        curs.execute(recorder._select_topic, (table.topic,))  # noqa: SLF001
        rows = [(int(r["notification_id"]), r["topic"], bytes(r["state"])) for r in curs.fetchall()]
        self._insert_keys(table, earliest_claims(table.claims_of(rows)))
        last = rows[-1][0] if rows else 0
        put = recorder._put_state  # noqa: SLF001
        curs.execute(put, (table.built, orjson.dumps({"position": last}).decode()))

    def try_append(self, stored_events: Sequence[StoredEvent]) -> list[ChainLink] | None:
        try:
            with self._curs.connection.transaction():  # a savepoint
                return self.append(stored_events)
        except (UniqueViolation, ConflictError):
            return None

    def try_append_early(
        self, stored_events: Sequence[StoredEvent], on_visible: Callable[[bool], None]
    ) -> list[ChainLink] | None:
        if not stored_events:
            on_visible(True)  # noqa: FBT003 - a Future.set_result
            return []
        try:
            with self._curs.connection.transaction():  # a savepoint
                rows = self._append_events(stored_events)
        except (UniqueViolation, ConflictError):
            on_visible(False)  # noqa: FBT003 - a Future.set_result
            return None
        on_visible(True)  # noqa: FBT003 - a Future.set_result
        return self._append_links(rows)

    def append(self, stored_events: Sequence[StoredEvent]) -> list[ChainLink]:
        if not stored_events:
            return []
        return self._append_links(self._append_events(stored_events))

    def _append_events(self, stored_events: Sequence[StoredEvent]) -> list[_Row]:
        """Copy the events in, at positions drawn now; their rows, for the links."""
        recorder, curs = self._recorder, self._curs
        ensure_chain_mode(self, recorder)
        count = len(stored_events)
        curs.execute(
            recorder._next_positions,  # noqa: SLF001
            (count, recorder._qualified_events),  # noqa: SLF001
            prepare=True,
        )
        found = curs.fetchone()
        assert found is not None
        last = int(found["last"])
        rows = [
            (p, _as_uuid(s.originator_id), s.originator_version, s.topic, s.state)
            for p, s in zip(range(last - count + 1, last + 1), stored_events, strict=True)
        ]
        with curs.copy(recorder._copy_events) as copy:  # noqa: SLF001
            copy.set_types(["uuid", "int8", "text", "bytea", "int8"])
            write_row = copy.write_row
            for p, oid, version, topic, state in rows:
                write_row((oid, version, topic, state, p))
        self._write_claims([(r[0], r[3], r[4]) for r in rows if r[3] in CLAIM_TOPICS])
        keyed = [(r[0], r[3], r[4]) for r in rows if r[3] in KEY_TOPICS]
        for table in KEY_TABLES:
            self._claim_keys(table, table.claims_of(keyed))
        return rows

    def _claim_keys(self, table: KeyTable, claims: Sequence[Claim3]) -> None:
        """The keys the events appended claim in ``table`` (`ledger.key_tables`),
        in the same transaction: a key another owner claims already (the table's
        primary key keeps the row there) is the table's `ConflictError`, and the
        caller's transaction then stores nothing. One statement when every key
        is free (the rows it did not insert are looked up only when there are)."""
        if self._insert_keys(table, claims) == len(claims):
            return
        stored = self._owners(self._curs, table, [c[0] for c in claims])
        refusal = table.refusal(claims, stored)
        if refusal is not None:
            raise refusal
        # else each key not inserted is its own owner's already: a stream
        # version of the same event, which the events table refuses

    def _insert_keys(self, table: KeyTable, claims: Sequence[Claim3]) -> int:
        """Insert ``claims`` but those of a key claimed already: how many were."""
        if not claims:
            return 0
        self._curs.execute(
            self._recorder._keys_sql[table.name].insert,  # noqa: SLF001
            ([c[0] for c in claims], [c[1] for c in claims], [c[2] for c in claims]),
        )
        return self._curs.rowcount

    def _write_claims(self, rows: Sequence[tuple[int, str, bytes]]) -> None:
        """The payout claims index rows of events appended (`ledger.payout_claims`),
        in the same transaction: visible exactly when the events are."""
        recorder, curs = self._recorder, self._curs
        for change in claim_changes(rows):
            if change.state == CALCULATED:
                curs.execute(
                    recorder._insert_claims,  # noqa: SLF001
                    (
                        change.period,
                        list(change.rep_ids),
                        change.run_id,
                        change.state,
                        change.position,
                    ),
                )
            else:
                curs.execute(
                    recorder._close_claims,  # noqa: SLF001
                    (change.state, change.position, change.run_id, CALCULATED),
                )

    def _append_links(self, rows: list[_Row]) -> list[ChainLink]:
        ids: list[bytes] = []
        links = self._recorder.hasher.extend(self.head, rows, event_ids=ids)
        with self._curs.copy(self._recorder._copy_links) as copy:  # noqa: SLF001
            # the event id goes as its 16 bytes (a uuid's binary form)
            copy.set_types(["int8", "bytea", "text", "text"])
            write_row = copy.write_row
            for link, event_id in zip(links, ids, strict=True):
                write_row((link.position, event_id, link.recorded_at, link.hash))
        self.head = links[-1]
        return links


# (position, stream id, version, topic, state) of an event being appended
_Row = tuple[int, UUID, int, str, bytes]


def _streams(
    curs: Cursor[DictRow], statement: Composed, ids: Sequence[UUID]
) -> dict[UUID, list[StoredEvent]]:
    """The stored events of streams ``ids``, by stream, in version order."""
    streams: dict[UUID, list[StoredEvent]] = {}
    for start in range(0, len(ids), 5_000):
        curs.execute(statement, (list(ids[start : start + 5_000]),), prepare=True)
        for r in curs.fetchall():
            oid = r["originator_id"]
            streams.setdefault(oid, []).append(
                StoredEvent(oid, r["originator_version"], r["topic"], bytes(r["state"]))
            )
    return streams


_first = itemgetter(0)


def _claim(row: Any) -> Claim:
    return Claim(row["period"], row["rep_id"], row["run_id"], row["state"], int(row["position"]))


def _link(row: Any) -> ChainLink:
    return ChainLink(int(row["position"]), row["event_id"], row["recorded_at"], row["hash"])


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)
