"""The storage core: what a read-model store does, whatever its database.

A change to the read models is a list of `Replacement`s (every row of one
scope of one read model, or those from a key on) written with the tracking
position in one transaction: exactly once. A rebuild is one transaction too
(`RebuildSession`). `ViewStore` is what the projector and the reporting service
call; `projections.storage.sqlite` and `projections.storage.postgres` implement
it, each from the modules of its read models (`documents`, `replay_index`,
`event_counts`) and the schema's migrations (`migrations`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, Protocol

from eventsourcing.persistence import IntegrityError, TrackingRecorder

from ledger.events import canonical_json
from projections.read_models import document_views
from projections.versioning import unknown_models, version_changes

__all__ = [
    "ANY_DAY",
    "TRACKING_NAME",
    "VIEWS",
    "Batch",
    "DateSpan",
    "EncodedRows",
    "IndexRow",
    "RebuildSession",
    "Replacement",
    "VersionsMovedError",
    "ViewStore",
    "encode_doc",
    "encode_replacements",
    "groups",
    "insert_tracking",
    "made_for",
    "picked_flag",
    "require_single_row_tracking",
    "require_versions",
]

# The document read models, each a table proj_<name>(scope, key, doc).
VIEWS: tuple[str, ...] = document_views()
# The read models' name in the library's tracking table.
TRACKING_NAME = "incentive_ledger_views"

# (first, last) day of a span of business dates
DateSpan = tuple[date, date]
ANY_DAY: DateSpan = (date.min, date.max)

# The replay index entry of one event: (position, the reps it touches or ("*",),
# the first date it can change, the last of its own figures).
IndexRow = tuple[int, tuple[str, ...], date | None, date | None]


@dataclass(frozen=True)
class Replacement:
    """Replace every row of ``view`` in ``scope`` with ``rows`` (key -> doc)."""

    view: str
    scope: str
    rows: Mapping[str, Mapping[str, Any]]
    from_key: str | None = None  # replace only the rows whose key is >= this


class EncodedRows(NamedTuple):
    """Every row of ``view`` in one scope, in stored form: (scope, key, document),
    what a rebuild writes (`encode_replacements`)."""

    view: str
    rows: list[tuple[str, str, str]]


def encode_replacements(replacements: Iterable[Replacement]) -> Iterator[EncodedRows]:
    """Each replacement's rows in stored form (a rebuild replaces every row)."""
    for r in replacements:
        assert r.from_key is None, "a rebuild replaces every row"
        yield EncodedRows(r.view, [(r.scope, key, encode_doc(doc)) for key, doc in r.rows.items()])


@dataclass(frozen=True)
class Batch:
    """What one catch-up writes, in one transaction: the replacements, the
    tracking position, the events applied per type and their replay index rows."""

    replacements: Iterable[Replacement]
    position: int
    counts: Mapping[str, int] = field(default_factory=dict)
    index: Sequence[IndexRow] = ()
    # The position the batch was computed on (its events follow it): the write is
    # refused unless the read models are still there — a replay committed since
    # may have moved them elsewhere, back included (`insert_tracking`). None: any
    # earlier position (rows written by hand, in a test).
    after: int | None = None
    # The read-model versions of the code that made the rows: the write is
    # refused unless they are still those stored (`require_versions`). None: any.
    versions: Mapping[str, int] | None = None


class VersionsMovedError(Exception):
    """The stored read-model versions are no longer those of the code that made
    a batch's rows: another process replayed the read models for its own code
    since this one checked them (`Projector.catch_up` checks them again)."""

    def __init__(self, changes: list[str]) -> None:
        self.changes = changes
        super().__init__(f"the read models' versions moved: {', '.join(changes)} (stored -> code)")


def made_for(stored: Mapping[str, int], versions: Mapping[str, int] | None) -> bool:
    """Whether ``stored`` are ``versions`` (a rebuild's ``unless``; None: never)."""
    return versions is not None and not version_changes(stored, versions)


def require_versions(stored: Mapping[str, int], batch: Batch) -> None:
    """Refuse ``batch`` (`VersionsMovedError`) unless ``stored`` — read in its
    transaction, after its tracking row, so after any replay that committed
    before it — are the versions its rows were made by, and name no read model
    that code does not make (a newer release's, `unknown_models`)."""
    if batch.versions is None:
        return
    unknown = [f"{name} {stored[name]} -> none" for name in unknown_models(stored, batch.versions)]
    if changes := version_changes(stored, batch.versions) + unknown:
        raise VersionsMovedError(changes)


class RebuildSession(Protocol):
    """The one transaction of a rebuild (`ViewStore.rebuilding`)."""

    def index(self, rows: Sequence[IndexRow]) -> None:
        """Add replay index rows, in position order, as the log is folded."""
        ...

    def finish(self, rows: Iterable[EncodedRows], position: int, counts: Mapping[str, int]) -> bool:
        """Write every read model's rows, the tracking position and the code's
        read-model versions; committed when the session ends without an error.
        False, writing nothing, when it finds them `superseded` at the last."""
        ...

    def superseded(self) -> bool:
        """Whether the read models were made for the versions the session was
        opened ``unless`` (`ViewStore.rebuilding`) — by another process's replay,
        committed since this one's projector found them changed: the rest of
        this replay is moot, and nothing of it is written. Always False
        without ``unless``."""
        ...


class ViewStore(Protocol):
    def snapshot(self) -> AbstractContextManager[None]:
        """Every read inside it, in this context, from one moment of the read
        models (a page reading several of them shows numbers that agree). Only
        reads: a write inside it on the same thread could wait for it."""
        ...

    def in_snapshot(self) -> bool:
        """Whether this context's reads are pinned by `snapshot`."""
        ...

    def position(self) -> int: ...

    def read_point(self) -> tuple[int, int]:
        """(the chain head's position, the read models' position), read in one
        statement: whether a read now would wait for the projections, in one
        round trip (`Reports.now_position`)."""
        ...

    def versions(self) -> dict[str, int]:
        """name -> the version of the code that made each read model's rows."""
        ...

    def stamp_versions(self, versions: Mapping[str, int]) -> None:
        """Record ``versions`` as those of the rows (an empty store's: nothing to
        remake)."""
        ...

    def rebuilding(
        self, unless: Mapping[str, int] | None = None
    ) -> AbstractContextManager[RebuildSession]:
        """A transaction that replaces every read model: whoever reads them sees
        the old ones until it commits, and nothing of it if it fails. With
        ``unless`` (the versions a changed version's replay makes), it replaces
        nothing once they are the stored ones (`RebuildSession.superseded`): two
        processes starting on a changed version replay it once, not twice."""
        ...

    def write(self, batch: Batch) -> None:
        """Write ``batch`` and its tracking position in one transaction."""
        ...

    def event_counts(self) -> dict[str, int]: ...

    def reps_at(self, position: int) -> list[str]:
        """The reps the event at ``position`` concerns ("*": every rep)."""
        ...

    def row(self, view: str, scope: str, key: str) -> dict[str, Any] | None: ...

    def row_json(self, view: str, scope: str, key: str) -> bytes | None: ...

    def row_json_at(self, view: str, scope: str, key: str) -> tuple[bytes | None, int]:
        """`row_json` and the position the read models are at, read together
        (one statement: the document is exactly as of that position)."""
        ...

    def rep_positions(self, rep_id: str, upto: int, span: DateSpan = ANY_DAY) -> list[int]:
        """Positions of ``rep_id``'s events up to ``upto`` that can change the own
        figures of some day in ``span`` (first, last), and the unbounded ones
        (plans, enrolment, runs, disputes)."""
        ...

    def earliest_reach(self, rep_id: str, upto: int, span: DateSpan) -> date | None:
        """The earliest business date reached by ``rep_id``'s bounded events up
        to ``upto`` whose own figures end within ``span`` (a payment in it: its
        sale's day); None when there are none."""
        ...

    def earliest_change_after(self, rep_id: str, after: int) -> date | None:
        """The first business date ``rep_id``'s events after ``after`` can change
        (``date.min``: any); None when there are none."""
        ...

    def rep_index(self) -> dict[tuple[str, int], tuple[date | None, date | None]]: ...

    def last_key_before(self, view: str, scope: str, key: str) -> str | None:
        """The greatest key of ``scope``'s rows in ``view`` below ``key``."""
        ...

    def rows(
        self, view: str, scope: str | None = None, *, key: str | None = None
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """(scope, key, document) of ``view``'s rows, of one scope and/or one
        key when given (a period's rows of every rep: the balances and attainment
        are indexed by key, migration 4), ordered by scope and key."""
        ...

    def scopes_folded(self, view: str, text: str) -> list[str]:
        """The scopes of ``view``'s rows that are ``text`` but for the case of
        their ASCII letters, in order: the rep ids an actor (case-folded) may be
        paid as, for `api.auth.own_rep` to choose from."""
        ...

    def fields(
        self, view: str, names: Sequence[str], *, key: str | None = None
    ) -> list[tuple[str, str, tuple[str | None, ...]]]:
        """(scope, key, values) of ``view``'s rows (of one key when given), the
        values of the top-level fields ``names`` picked out by the database as
        text (None: null or absent), ordered by scope and key: what a page that
        sums or counts one field of every row reads, instead of decoding every
        document whole. For fields the documents hold as strings (money, codes,
        ids), and booleans read by `picked_flag`: a JSON number or boolean
        reads differently on each store."""
        ...


class Pinned:
    """What a store's `ViewStore.snapshot` holds for this context (thread, task):
    the connection or cursor every read inside it uses."""

    def __init__(self) -> None:
        self._held: ContextVar[Any] = ContextVar(f"view-snapshot-{id(self)}", default=None)

    def held(self) -> bool:
        return self._held.get() is not None

    @contextmanager
    def holding(self, opener: Callable[[], AbstractContextManager[Any]]) -> Iterator[None]:
        """Open what ``opener`` opens and hold it for this context's reads until
        the block ends; inside another such block, the outer one's is kept."""
        if self._held.get() is not None:
            yield
            return
        with opener() as opened:
            token = self._held.set(opened)
            try:
                yield
            finally:
                self._held.reset(token)

    @contextmanager
    def or_open(self, opener: Callable[[], AbstractContextManager[Any]]) -> Iterator[Any]:
        """What this context holds, or what ``opener`` opens for one read."""
        held = self._held.get()
        if held is not None:
            yield held
            return
        with opener() as opened:
            yield opened


_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*")


# A JSON true as `ViewStore.fields` picks it out: "true" on PostgreSQL, "1" on SQLite.
_TRUE: frozenset[str | None] = frozenset({"true", "1"})


def picked_flag(text: str | None, *, absent: bool = False) -> bool:
    """A boolean field of a document as `ViewStore.fields` picks it out (its
    text differs by store); ``absent`` when the document has none — no such
    field, or null: a row an older version of its read model wrote, read
    until the replay of the new one commits."""
    return absent if text is None else text in _TRUE


def field_names(names: Sequence[str]) -> list[str]:
    """``names`` checked as plain top-level field names (`ViewStore.fields`)."""
    for name in names:
        if not _FIELD_NAME.fullmatch(name):
            msg = f"not a read model field name: {name!r}"
            raise ValueError(msg)
    return list(names)


def encode_doc(value: Mapping[str, Any]) -> str:
    """A read-model document as stored: compact JSON, keys sorted."""
    return canonical_json(value).decode()


def groups(items: Iterable[Replacement], size: int) -> Iterator[list[Replacement]]:
    group: list[Replacement] = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def require_single_row_tracking(recorder: TrackingRecorder) -> None:
    """The read models keep one tracking row (the library's default since 9.5),
    which `insert_tracking` moves forward; a datastore configured for the legacy
    multi-row table is refused when the store is opened, not on its first write."""
    if not recorder.datastore.single_row_tracking:  # type: ignore[attr-defined]
        msg = "the read models need the library's single-row tracking table"
        raise ValueError(msg)


def insert_tracking(
    recorder: TrackingRecorder, cursor: Any, position: int, *, after: int | None = None
) -> None:
    """The read models' tracking row at ``position``, in ``cursor``'s transaction
    (exactly once: the rows written beside it and the position commit together).

    The library's recorders write tracking rows in a transaction of their own;
    this runs their statement (``insert_tracking_statement``) in the caller's.
    Its single-row form moves the one row forward and returns nothing when the
    row is already at or past ``position``: a replayed position is refused,
    as the library refuses it.

    With ``after``, the row moves only from exactly there (the store's
    ``move_tracking_statement``): a batch computed on the read models at
    ``after`` lands only on them. Forward is not enough — a replay that
    folded the log to an earlier position and committed while the batch was
    computed moved the row back; the batch on top of it would skip the events
    between, for good.
    """
    if after is None:
        statement = recorder.insert_tracking_statement  # type: ignore[attr-defined]
        params = {"application_name": TRACKING_NAME, "notification_id": position}
    else:
        assert after < position, (after, position)
        statement = recorder.move_tracking_statement  # type: ignore[attr-defined]
        params = {"application_name": TRACKING_NAME, "notification_id": position, "after": after}
    cursor.execute(statement, params)
    if cursor.fetchone() is None:
        where = "past it or elsewhere" if after is None else f"not at {after}"
        msg = f"the read models are already at {where} (position {position} refused)"
        raise IntegrityError(msg)
