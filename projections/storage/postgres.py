"""Read models in the ledger's PostgreSQL schema."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from typing import Any

import orjson
from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal

from ledger.records import loads_document
from projections.read_models import current_versions
from projections.storage import documents, event_counts, replay_index
from projections.storage.core import (
    ANY_DAY,
    TRACKING_NAME,
    VIEWS,
    Batch,
    DateSpan,
    EncodedRows,
    IndexRow,
    Pinned,
    RebuildSession,
    Replacement,
    encode_doc,
    field_names,
    groups,
    insert_tracking,
    made_for,
    require_single_row_tracking,
    require_versions,
)
from projections.storage.migrations import migrate_postgres

__all__ = ["PostgresViewStore"]

# Held by a rebuild's transaction (pg_advisory_xact_lock, with the schema's
# name hashed: the ledgers of other schemas of the database rebuild at will):
# two rebuilds — two processes that both found a read model's version changed —
# take turns, the second replacing what the first wrote instead of colliding.
_REBUILD_LOCK = 0x1ED6E5


class PostgresViewStore(PostgresTrackingRecorder):
    """Read models in the ledger's PostgreSQL schema."""

    def __init__(
        self, datastore: Any, *, head_position_statement: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(datastore, tracking_table_name="ledger_views_tracking", **kwargs)
        require_single_row_tracking(self)
        self.head_position_statement = head_position_statement
        self._read_point: bytes | None = None  # its statement, composed once
        self._pinned = Pinned()  # the connection of this context's `snapshot`
        name = self.datastore.schema
        schema = Identifier(name)
        for view in VIEWS:
            table = SQL("{}.{}").format(schema, Identifier(f"proj_{view}"))
            self.sql_create_statements.append(SQL(documents.PG_CREATE).format(table=table))
            self.sql_create_statements.append(
                SQL(documents.PG_COMPRESSION).format(
                    name=Literal(f'"{name}"."proj_{view}"'), table=table
                )
            )
        self.sql_create_statements.append(SQL(event_counts.PG_CREATE).format(schema=schema))
        self.sql_create_statements.append(SQL(replay_index.PG_CREATE).format(schema=schema))
        self.sql_create_statements.append(
            SQL(replay_index.PG_POSITION_INDEX).format(
                index=Literal(f'"{name}".proj_rep_events_position'), schema=schema
            )
        )
        self._counts = SQL("{}.proj_event_counts").format(schema)
        self._rep_events = SQL("{}.proj_rep_events").format(schema)
        self._versions = SQL("{}.proj_versions").format(schema)
        # the tracking row moved from exactly ``after`` (`insert_tracking`): the
        # library's statement, with ``=`` for its ``<``
        self.move_tracking_statement = SQL(
            "INSERT INTO {0}.{1} VALUES (%(application_name)s, %(notification_id)s) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = %(notification_id)s "
            "WHERE {0}.{1}.notification_id = %(after)s RETURNING notification_id"
        ).format(schema, Identifier(self.tracking_table_name))

    def create_table(self) -> None:
        """The tables (and the library's tracking table), then the migrations in a
        transaction of their own (run it under the schema lock:
        `projections.storage.open_view_store`)."""
        super().create_table()
        with self.datastore.transaction(commit=True) as curs:
            migrate_postgres(curs, self.datastore.schema)

    def table(self, view: str) -> Composed:
        assert view in VIEWS, view
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(f"proj_{view}"))

    # -- reading -----------------------------------------------------------------

    def snapshot(self) -> AbstractContextManager[None]:
        """Every read of this context (thread, task) from one moment of the read
        models: one REPEATABLE READ, READ ONLY transaction on one connection. A
        snapshot inside a snapshot is the outer one."""
        return self._pinned.holding(self._read_only_transaction)

    @contextmanager
    def _read_only_transaction(self) -> Iterator[Any]:
        with self.datastore.get_connection() as conn, conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # a page of a large organisation decodes its rows between statements:
            # more than the pool's 5 s a stuck writer gets (it holds no lock)
            conn.execute("SET LOCAL idle_in_transaction_session_timeout = '60s'")
            yield conn

    def in_snapshot(self) -> bool:
        return self._pinned.held()

    def _connection(self) -> AbstractContextManager[Any]:
        """A connection to read with: the snapshot's, or one from the pool."""
        return self._pinned.or_open(self.datastore.get_connection)

    # -- documents ---------------------------------------------------------------

    def row(self, view: str, scope: str, key: str) -> dict[str, Any] | None:
        found = self.row_json(view, scope, key)
        return loads_document(found) if found is not None else None

    def row_json(self, view: str, scope: str, key: str) -> bytes | None:
        """A row's document as JSON text, not decoded."""
        with self._connection() as conn, conn.cursor(binary=True) as curs:
            curs.execute(
                SQL(documents.PG_ROW).format(table=self.table(view)), (scope, key), prepare=True
            )
            found = curs.fetchone()
        return bytes(found["doc"]) if found else None

    def row_json_at(self, view: str, scope: str, key: str) -> tuple[bytes | None, int]:
        with self._connection() as conn, conn.cursor(binary=True) as curs:
            curs.execute(
                SQL(documents.PG_ROW_AT).format(
                    table=self.table(view), max_tracking_id=self.max_tracking_id_statement
                ),
                (scope, key, TRACKING_NAME),
                prepare=True,
            )
            found = curs.fetchone()
        assert found is not None
        doc = found["doc"]
        return (bytes(doc) if doc is not None else None), int(found["position"] or 0)

    def last_key_before(self, view: str, scope: str, key: str) -> str | None:
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL("SELECT max(key) AS key FROM {} WHERE scope = %s AND key < %s").format(
                    self.table(view)
                ),
                (scope, key),
                prepare=True,
            )
            found = curs.fetchone()
        return str(found["key"]) if found and found["key"] is not None else None

    def rows(
        self, view: str, scope: str | None = None, *, key: str | None = None
    ) -> list[tuple[str, str, dict[str, Any]]]:
        where = [
            (column, value)
            for column, value in (("scope", scope), ("key", key))
            if value is not None
        ]
        statement = SQL("SELECT scope, key, doc::text AS doc FROM {}").format(self.table(view))
        if where:
            statement += SQL(" WHERE ") + SQL(" AND ").join(
                SQL("{} = %s").format(Identifier(column)) for column, _ in where
            )
        statement += SQL(" ORDER BY scope, key")
        params = tuple(value for _, value in where)
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return [(r["scope"], r["key"], orjson.loads(r["doc"])) for r in curs.fetchall()]

    def scopes_folded(self, view: str, text: str) -> list[str]:
        statement = SQL(
            "SELECT DISTINCT scope FROM {} WHERE lower(scope) = lower(%s) ORDER BY scope"
        ).format(self.table(view))
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (text,))
            return [r["scope"] for r in curs.fetchall()]

    def fields(
        self, view: str, names: Sequence[str], *, key: str | None = None
    ) -> list[tuple[str, str, tuple[str | None, ...]]]:
        picked = field_names(names)
        statement = SQL("SELECT scope, key{} FROM {}").format(
            SQL("").join(SQL(", doc->>(%s::text)") for _ in picked), self.table(view)
        )
        params: list[str] = [*picked]
        if key is not None:
            statement += SQL(" WHERE key = %s")
            params.append(key)
        statement += SQL(" ORDER BY scope, key")
        with self._connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, params)
            return [(r[0], r[1], r[2:]) for r in curs.fetchall()]

    # -- the replay index --------------------------------------------------------

    def rep_positions(self, rep_id: str, upto: int, span: DateSpan = ANY_DAY) -> list[int]:
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(replay_index.PG_POSITIONS).format(table=self._rep_events),
                (rep_id, upto, *span),
                prepare=True,
            )
            return [int(r["position"]) for r in curs.fetchall()]

    def earliest_reach(self, rep_id: str, upto: int, span: DateSpan) -> date | None:
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(replay_index.PG_EARLIEST_REACH).format(table=self._rep_events),
                (rep_id, upto, *span),
                prepare=True,
            )
            found = curs.fetchone()
        return found["earliest"] if found else None

    def earliest_change_after(self, rep_id: str, after: int) -> date | None:
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(replay_index.PG_EARLIEST_CHANGE).format(table=self._rep_events),
                (rep_id, after),
                prepare=True,
            )
            found = curs.fetchone()
        if not found or not found["n"]:
            return None
        return date.min if found["unbounded"] else found["earliest"]

    def rep_index(self) -> dict[tuple[str, int], tuple[date | None, date | None]]:
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL("SELECT rep_id, position, since, until FROM {}").format(self._rep_events)
            )
            return {
                (r["rep_id"], int(r["position"])): (r["since"], r["until"]) for r in curs.fetchall()
            }

    def reps_at(self, position: int) -> list[str]:
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL("SELECT rep_id FROM {} WHERE position = %s ORDER BY rep_id").format(
                    self._rep_events
                ),
                (position,),
                prepare=True,
            )
            return [r["rep_id"] for r in curs.fetchall()]

    # -- counts, position, versions ----------------------------------------------

    def position(self) -> int:
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(self.max_tracking_id_statement, (TRACKING_NAME,), prepare=True)
            found = curs.fetchone()
        return int(found["max"] or 0) if found else 0

    def read_point(self) -> tuple[int, int]:
        assert self.head_position_statement is not None, "opened without the ledger's chain"
        with self._connection() as conn, conn.cursor() as curs:
            if self._read_point is None:  # composing quotes each name: once, not per read
                self._read_point = (
                    SQL("SELECT ({head}) AS head, ({tracked}) AS position")
                    .format(
                        head=self.head_position_statement, tracked=self.max_tracking_id_statement
                    )
                    .as_bytes(conn)
                )
            curs.execute(self._read_point, (TRACKING_NAME,), prepare=True)
            found = curs.fetchone()
        assert found is not None
        return int(found["head"] or 0), int(found["position"] or 0)

    def event_counts(self) -> dict[str, int]:
        with self._connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("SELECT type, count FROM {}").format(self._counts))
            return {r["type"]: int(r["count"]) for r in curs.fetchall()}

    def versions(self) -> dict[str, int]:
        with self._connection() as conn, conn.cursor() as curs:
            return self.versions_on(curs)

    def versions_on(self, curs: Any) -> dict[str, int]:
        """`versions`, read on ``curs`` (in its transaction)."""
        curs.execute(SQL("SELECT name, version FROM {}").format(self._versions))
        return {r["name"]: int(r["version"]) for r in curs.fetchall()}

    def stamp_versions(self, versions: Mapping[str, int]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self.put_versions(curs, versions)

    def put_versions(self, curs: Any, versions: Mapping[str, int]) -> None:
        curs.execute(SQL("DELETE FROM {}").format(self._versions))
        curs.executemany(
            SQL("INSERT INTO {} VALUES (%s, %s)").format(self._versions), sorted(versions.items())
        )

    # -- writing -----------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self.track(curs, batch.position, after=batch.after)
            if batch.versions is not None:
                require_versions(self.versions_on(curs), batch)
            if batch.index:
                # COPY: a rebuild writes a row per event (and per rep it touched),
                # its text made here in one piece (a fifth of the cost of a
                # write_row per row).
                with curs.copy(SQL("COPY {} FROM STDIN").format(self._rep_events)) as copy:
                    copy.write(replay_index.copy_text(batch.index))
            if batch.counts:
                curs.executemany(
                    SQL(event_counts.PG_ADD).format(table=self._counts),
                    sorted(batch.counts.items()),
                )
            # A few statements per group of replacements, not a few per replacement:
            # a rebuild replaces thousands, and each statement is a round trip.
            for group in groups(batch.replacements, 100):
                by_view: dict[str, list[Replacement]] = {}
                for r in group:
                    by_view.setdefault(r.view, []).append(r)
                for view, items in by_view.items():
                    table = self.table(view)
                    curs.executemany(
                        SQL("DELETE FROM {} WHERE scope = %s AND key >= %s").format(table),
                        [(r.scope, r.from_key or "") for r in items],
                    )
                    rows = [
                        (r.scope, k, encode_doc(doc)) for r in items for k, doc in r.rows.items()
                    ]
                    if rows:
                        curs.executemany(
                            SQL("INSERT INTO {} VALUES (%s, %s, %s::json)").format(table), rows
                        )

    def track(self, curs: Any, position: int, *, after: int | None = None) -> None:
        """The tracking row, in the caller's transaction (exactly once: a replayed
        position fails on it; `projections.storage.core.insert_tracking`)."""
        insert_tracking(self, curs, position, after=after)

    def delete_all(self, curs: Any) -> None:
        """Delete every read model's rows and tracking position, on cursor ``curs``."""
        for view in VIEWS:
            curs.execute(SQL("DELETE FROM {}").format(self.table(view)))
        curs.execute(SQL("DELETE FROM {}").format(self._counts))
        curs.execute(SQL("DELETE FROM {}").format(self._rep_events))
        curs.execute(
            SQL("DELETE FROM {}.{} WHERE application_name = %s").format(
                Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
            ),
            (TRACKING_NAME,),
        )

    @contextmanager
    def rebuilding(self, unless: Mapping[str, int] | None = None) -> Iterator[RebuildSession]:
        """One transaction from the start, written by a thread of its own: the old
        rows are deleted and the index rows copied in while the log is folded,
        the statements as they are computed (a COPY waits for the server to take
        its rows in: on the folding thread that wait was a fifth of a rebuild).
        ``DELETE``, not ``TRUNCATE``: readers keep the old read models until the
        commit instead of waiting on a lock. The rebuild lock is taken first, and
        ``unless`` looked at under it: a replay that waited for another one's
        finds it done (`RebuildSession.superseded`) before it folds a thing."""
        with self.datastore.transaction(commit=True) as curs:
            session = _PostgresRebuild(self, curs, unless)
            try:
                yield session
            finally:
                session.close()

    @property
    def rep_events_table(self) -> Composed:
        return self._rep_events

    @property
    def counts_table(self) -> Composed:
        return self._counts


class _PostgresRebuild:
    """A rebuild's transaction, and the thread that writes to it in order."""

    def __init__(
        self, store: PostgresViewStore, curs: Any, unless: Mapping[str, int] | None
    ) -> None:
        self.store = store
        self.curs = curs
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=4)
        self._failed: BaseException | None = None
        self._writer = threading.Thread(target=self._write, name="rebuild-writer", daemon=True)
        # The rebuild lock (waiting for another rebuild's commit), then the
        # versions looked at under it — here, before a thing is folded.
        self.curs.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            (_REBUILD_LOCK, self.store.datastore.schema),
        )
        self._superseded = made_for(self.store.versions_on(self.curs), unless)
        if not self._superseded:
            self._writer.start()
            self._submit(self._begin)

    def _begin(self) -> None:
        # the fold of a long log may leave the transaction idle between statements
        # for longer than the library's 5 s limit on idle transactions
        self.curs.execute("SET LOCAL idle_in_transaction_session_timeout = '30min'")
        self.store.delete_all(self.curs)  # on the writer: the fold starts meanwhile

    def superseded(self) -> bool:
        return self._superseded

    def _write(self) -> None:
        while (job := self._jobs.get()) is not None:
            if self._failed is None:
                try:
                    job()
                except BaseException as exc:  # noqa: BLE001 - raised on the caller's thread
                    self._failed = exc

    def _submit(self, job: Callable[[], None]) -> None:
        assert not self._superseded, "a superseded rebuild writes nothing"
        if self._failed is not None:
            raise self._failed
        self._jobs.put(job)

    def close(self) -> None:
        """Wait for every write; raise the first that failed."""
        if self._writer.is_alive():
            self._jobs.put(None)
            self._writer.join()
        if self._failed is not None:
            raise self._failed

    def index(self, rows: Sequence[IndexRow]) -> None:
        if rows:
            text = replay_index.copy_text(rows)
            statement = SQL("COPY {} FROM STDIN").format(self.store.rep_events_table)

            def copy_index() -> None:
                with self.curs.copy(statement) as copy:
                    copy.write(text)

            self._submit(copy_index)

    def finish(self, rows: Iterable[EncodedRows], position: int, counts: Mapping[str, int]) -> bool:
        """Statements (nearly all the bytes) are copied in as they are computed;
        the other views, small, are held and copied after."""
        statements: queue.Queue[list[tuple[str, str, str]] | None] = queue.Queue(maxsize=16)

        def copy_statements() -> None:
            batch: list[tuple[str, str, str]] | None = []
            try:
                with self._copy("statements") as copy:
                    while (batch := statements.get()) is not None:
                        for row in batch:
                            copy.write_row(row)
            finally:  # whatever happened, the computing thread must not block on put
                while batch is not None:
                    batch = statements.get()

        self._submit(copy_statements)
        others: dict[str, list[tuple[str, str, str]]] = {}
        try:
            for view, docs in rows:
                if view == "statements":
                    statements.put(docs)
                else:
                    others.setdefault(view, []).extend(docs)
        finally:
            statements.put(None)
        self._submit(lambda: self._finish(others, position, counts))
        return True

    def _finish(
        self,
        others: Mapping[str, list[tuple[str, str, str]]],
        position: int,
        counts: Mapping[str, int],
    ) -> None:
        for view, rows in others.items():
            with self._copy(view) as copy:
                for row in rows:
                    copy.write_row(row)
        self.curs.executemany(
            SQL("INSERT INTO {} VALUES (%s, %s)").format(self.store.counts_table),
            sorted(counts.items()),
        )
        self.store.put_versions(self.curs, current_versions())
        if position:
            self.store.track(self.curs, position)

    @contextmanager
    def _copy(self, view: str) -> Iterator[Any]:
        table = self.store.table(view)
        with self.curs.copy(SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(table)) as copy:
            # the documents go as text; the server checks them as json on the way in
            copy.set_types(["text", "text", "text"])
            yield copy
