"""Read models in the embedded SQLite file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date
from typing import Any

import orjson
from eventsourcing.sqlite import SQLiteTrackingRecorder

from ledger.records import loads_document
from projections.read_models import current_versions
from projections.storage import core, documents, event_counts, replay_index
from projections.storage.core import (
    ANY_DAY,
    TRACKING_NAME,
    VIEWS,
    Batch,
    DateSpan,
    field_names,
)
from projections.storage.migrations import migrate_sqlite
from projections.storage.replay_index import day_of, day_text

__all__ = ["SQLiteViewStore"]


# The tracking row moved from exactly ``after`` (`core.insert_tracking`); the
# library's statement, with ``=`` for its ``<``.
_MOVE_TRACKING = (
    "INSERT INTO tracking VALUES (:application_name, :notification_id) "
    "ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
    "WHERE tracking.notification_id = :after RETURNING notification_id"
)


class SQLiteViewStore(SQLiteTrackingRecorder):
    """Read models in the embedded SQLite file."""

    def __init__(self, datastore: Any, *, head_position_statement: str | None = None) -> None:
        super().__init__(datastore)
        core.require_single_row_tracking(self)
        self.head_position_statement = head_position_statement
        self._pinned = core.Pinned()  # the cursor of this context's `snapshot`
        self.move_tracking_statement = _MOVE_TRACKING

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.extend(documents.sqlite_create(view) for view in VIEWS)
        statements.append(event_counts.SQLITE_CREATE)
        statements.extend(replay_index.SQLITE_CREATE)
        return statements

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as c:
            migrate_sqlite(c)

    # -- reading -----------------------------------------------------------------

    def snapshot(self) -> AbstractContextManager[None]:
        """Every read of this context (thread, task) from one moment of the read
        models: one read transaction (in WAL mode its snapshot is taken at its
        first read). A snapshot inside a snapshot is the outer one. An in-memory
        store's reads are not pinned: its pool lets no write in while a read is
        open, so a held read would stall the projector."""
        if self.datastore.pool.is_sqlite_memory_mode:
            return nullcontext()
        return self._pinned.holding(self._read_transaction)

    def _read_transaction(self) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=False)

    def in_snapshot(self) -> bool:
        return self._pinned.held()

    def _reading(self) -> AbstractContextManager[Any]:
        """A cursor to read with: the snapshot's, or one in a read transaction."""
        return self._pinned.or_open(self._read_transaction)

    # -- documents ---------------------------------------------------------------

    def row(self, view: str, scope: str, key: str) -> dict[str, Any] | None:
        found = self.row_json(view, scope, key)
        return loads_document(found) if found is not None else None

    def row_json(self, view: str, scope: str, key: str) -> bytes | None:
        """A row's document as stored (JSON text), not decoded."""
        assert view in VIEWS, view
        with self._reading() as c:
            c.execute(documents.sqlite_row(view), (scope, key))
            found = c.fetchone()
        return str(found[0]).encode() if found else None

    def row_json_at(self, view: str, scope: str, key: str) -> tuple[bytes | None, int]:
        assert view in VIEWS, view
        statement = documents.sqlite_row_at(view, self.select_max_tracking_id_statement)
        with self._reading() as c:
            c.execute(statement, (scope, key, TRACKING_NAME))
            doc, position = c.fetchone()
        return (str(doc).encode() if doc is not None else None), int(position or 0)

    def last_key_before(self, view: str, scope: str, key: str) -> str | None:
        assert view in VIEWS, view
        with self._reading() as c:
            c.execute(
                f"SELECT max(key) FROM proj_{view} WHERE scope = ? AND key < ?",  # noqa: S608
                (scope, key),
            )
            found = c.fetchone()
        return str(found[0]) if found and found[0] is not None else None

    def rows(
        self, view: str, scope: str | None = None, *, key: str | None = None
    ) -> list[tuple[str, str, dict[str, Any]]]:
        assert view in VIEWS, view
        where = [
            (column, value)
            for column, value in (("scope", scope), ("key", key))
            if value is not None
        ]
        statement = f"SELECT scope, key, doc FROM proj_{view}"  # noqa: S608
        if where:
            statement += " WHERE " + " AND ".join(f"{column} = ?" for column, _ in where)
        statement += " ORDER BY scope, key"
        params = tuple(value for _, value in where)
        with self._reading() as c:
            c.execute(statement, params)
            return [(row[0], row[1], orjson.loads(row[2])) for row in c.fetchall()]

    def scopes_folded(self, view: str, text: str) -> list[str]:
        assert view in VIEWS, view
        statement = f"SELECT DISTINCT scope FROM proj_{view} WHERE lower(scope) = lower(?)"  # noqa: S608
        with self._reading() as c:
            c.execute(statement + " ORDER BY scope", (text,))
            return [row[0] for row in c.fetchall()]

    def fields(
        self, view: str, names: Sequence[str], *, key: str | None = None
    ) -> list[tuple[str, str, tuple[str | None, ...]]]:
        assert view in VIEWS, view
        picked = field_names(names)
        columns = "".join(", CAST(json_extract(doc, ?) AS TEXT)" for _ in picked)
        statement = f"SELECT scope, key{columns} FROM proj_{view}"  # noqa: S608
        params = [f"$.{name}" for name in picked]
        if key is not None:
            statement += " WHERE key = ?"
            params.append(key)
        statement += " ORDER BY scope, key"
        with self._reading() as c:
            c.execute(statement, params)
            return [(row[0], row[1], row[2:]) for row in c.fetchall()]

    # -- the replay index --------------------------------------------------------

    def rep_positions(self, rep_id: str, upto: int, span: DateSpan = ANY_DAY) -> list[int]:
        first, last = span
        with self._reading() as c:
            c.execute(
                replay_index.SQLITE_POSITIONS, (rep_id, upto, day_text(first), day_text(last))
            )
            return [int(r[0]) for r in c.fetchall()]

    def earliest_reach(self, rep_id: str, upto: int, span: DateSpan) -> date | None:
        first, last = span
        with self._reading() as c:
            c.execute(
                replay_index.SQLITE_EARLIEST_REACH,
                (rep_id, upto, day_text(first), day_text(last)),
            )
            (earliest,) = c.fetchone()
        return day_of(earliest)

    def earliest_change_after(self, rep_id: str, after: int) -> date | None:
        with self._reading() as c:
            c.execute(replay_index.SQLITE_EARLIEST_CHANGE, (rep_id, after))
            count, unbounded, earliest = c.fetchone()
        if not count:
            return None
        return date.min if unbounded else date.fromisoformat(earliest)

    def rep_index(self) -> dict[tuple[str, int], tuple[date | None, date | None]]:
        with self._reading() as c:
            c.execute("SELECT rep_id, position, since, until FROM proj_rep_events")
            return {(row[0], int(row[1])): (day_of(row[2]), day_of(row[3])) for row in c.fetchall()}

    def reps_at(self, position: int) -> list[str]:
        with self._reading() as c:
            c.execute(
                "SELECT rep_id FROM proj_rep_events WHERE position = ? ORDER BY rep_id",
                (position,),
            )
            return [row[0] for row in c.fetchall()]

    # -- counts, position, versions ----------------------------------------------

    def position(self) -> int:
        with self._reading() as c:
            c.execute(self.select_max_tracking_id_statement, (TRACKING_NAME,))
            found = c.fetchone()
        return int(found[0] or 0) if found else 0

    def read_point(self) -> tuple[int, int]:
        assert self.head_position_statement is not None, "opened without the ledger's chain"
        statement = (
            f"SELECT ({self.head_position_statement}), ({self.select_max_tracking_id_statement})"
        )
        with self._reading() as c:
            c.execute(statement, (TRACKING_NAME,))
            head, position = c.fetchone()
        return int(head or 0), int(position or 0)

    def event_counts(self) -> dict[str, int]:
        with self._reading() as c:
            c.execute("SELECT type, count FROM proj_event_counts")
            return {row[0]: int(row[1]) for row in c.fetchall()}

    def versions(self) -> dict[str, int]:
        with self._reading() as c:
            return _versions_on(c)

    def stamp_versions(self, versions: Mapping[str, int]) -> None:
        with self.datastore.transaction(commit=True) as c:
            _put_versions(c, versions)

    # -- writing -----------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        with self.datastore.transaction(commit=True) as c:
            self.track(c, batch.position, after=batch.after)
            if batch.versions is not None:
                core.require_versions(_versions_on(c), batch)
            c.executemany(
                replay_index.SQLITE_INSERT,
                [
                    (rep, at, day_text(since), day_text(until))
                    for rep, at, since, until in replay_index.index_rows(batch.index)
                ],
            )
            c.executemany(event_counts.SQLITE_ADD, sorted(batch.counts.items()))
            for r in batch.replacements:
                if r.from_key is None:
                    c.execute(f"DELETE FROM proj_{r.view} WHERE scope = ?", (r.scope,))  # noqa: S608
                else:
                    c.execute(
                        f"DELETE FROM proj_{r.view} WHERE scope = ? AND key >= ?",  # noqa: S608
                        (r.scope, r.from_key),
                    )
                c.executemany(
                    f"INSERT INTO proj_{r.view} VALUES (?, ?, ?)",  # noqa: S608
                    [(r.scope, key, core.encode_doc(doc)) for key, doc in r.rows.items()],
                )

    def delete_all(self, c: Any) -> None:
        """Delete every read model's rows and tracking position, on cursor ``c``."""
        for view in VIEWS:
            c.execute(f"DELETE FROM proj_{view}")  # noqa: S608
        c.execute("DELETE FROM proj_event_counts")
        c.execute("DELETE FROM proj_rep_events")
        c.execute("DELETE FROM tracking WHERE application_name = ?", (TRACKING_NAME,))

    def track(self, c: Any, position: int, *, after: int | None = None) -> None:
        """The tracking row in ``c``'s transaction (`core.insert_tracking`)."""
        core.insert_tracking(self, c, position, after=after)

    @contextmanager
    def rebuilding(self, unless: Mapping[str, int] | None = None) -> Iterator[core.RebuildSession]:
        """Index rows are kept (compactly) until `finish`, which writes everything
        in one transaction: SQLite has one writer at a time, and a rebuild holding
        the write lock while it reads the log would stall every import meanwhile.
        So ``unless`` is looked at when asked, and again in that transaction."""
        yield _SQLiteRebuild(self, unless)


def _versions_on(c: Any) -> dict[str, int]:
    c.execute("SELECT name, version FROM proj_versions")
    return {row[0]: int(row[1]) for row in c.fetchall()}


def _put_versions(c: Any, versions: Mapping[str, int]) -> None:
    c.execute("DELETE FROM proj_versions")
    c.executemany("INSERT INTO proj_versions VALUES (?, ?)", sorted(versions.items()))


class _SQLiteRebuild:
    def __init__(self, store: SQLiteViewStore, unless: Mapping[str, int] | None) -> None:
        self.store = store
        self.unless = unless
        self._index = replay_index.IndexBuffer()

    def superseded(self) -> bool:
        return self.unless is not None and core.made_for(self.store.versions(), self.unless)

    def index(self, rows: Sequence[core.IndexRow]) -> None:
        self._index.extend(rows)

    def finish(
        self, rows: Iterable[core.EncodedRows], position: int, counts: Mapping[str, int]
    ) -> bool:
        with self.store.datastore.transaction(commit=True) as c:
            # The write lock first (a statement that writes, if nothing): a read
            # first would pin a snapshot that another replay's commit makes stale,
            # and the write after it would fail at once ("database is locked").
            c.execute("UPDATE proj_versions SET version = version WHERE 0")
            if core.made_for(_versions_on(c), self.unless):
                return False  # another replay committed them while this one computed
            self.store.delete_all(c)
            c.executemany(
                replay_index.SQLITE_INSERT,
                (
                    (rep, at, day_text(since), day_text(until))
                    for at, reps, since, until in self._index
                    for rep in reps
                ),
            )
            for view, docs in rows:
                c.executemany(f"INSERT INTO proj_{view} VALUES (?, ?, ?)", docs)  # noqa: S608
            c.executemany("INSERT INTO proj_event_counts VALUES (?, ?)", sorted(counts.items()))
            _put_versions(c, current_versions())
            if position:
                self.store.track(c, position)
        return True
