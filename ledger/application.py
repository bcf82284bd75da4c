"""The ledger's application service: every command and query the CLI and the
API call. Neither computes anything itself.

Built on the ``eventsourcing`` library's ``Application``: its event store,
repository and notification log, on the recorders of `ledger.backends` that add
the audit chain. Library errors are translated into the ledger's own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import (
    Future,
    ThreadPoolExecutor,
)
from datetime import UTC, datetime
from typing import Any, Unpack, cast
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    Notification,
    OperationalError,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType

from ledger import events as ev
from ledger.backends.base import AppendSession, LedgerRecorder, LoggedEvent
from ledger.chain import (
    Anchor,
    ChainHasher,
    ChainLink,
    ChainReport,
    LogRow,
    verify_links,
)
from ledger.chain_guard import (
    WATERMARK,
    ChainReader,
    check_event,
    check_from_watermark,
    end_of,
    log_rows,
    resolve_links,
)
from ledger.dispute import Dispute, StoredDispute
from ledger.domain import event_id_text, event_topic
from ledger.errors import (
    BatchRejectedError,
    BrokenChainError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    shown_id,
)
from ledger.ingestion import batch, pipeline
from ledger.ingestion.batch import CommittedGroup, PreparedGroup, Warm
from ledger.payout_run import PayoutRun
from ledger.plan import PlanInfo
from ledger.records import EventRecord, decode
from ledger.results import Outcome, RecordResult
from ledger.sale import Sale, sale_reps_of
from ledger.storage import DEFAULT_DATABASE_URL, StoreConfig, library_env
from ledger.transcoder import OrjsonTranscoder
from ledger.writes import (
    HandOff,
    Input,
    NaturalKey,
    Staging,
    StreamReader,
)
from policies.pay_warnings import PayWarning, PlanTerms
from policies.periods import iso_moment
from policies.plan import Plan

__all__ = ["Ledger", "Notice", "Outcome", "RecordResult"]

# What the ledger has to say that is no error (a parse worker that failed, the
# chain watermark left where it was): ``notice(event, **fields)``. The ledger
# core does not log; the edge that runs it (the API, the CLI) sets
# `Ledger.notice` to its logger.
Notice = Callable[..., None]


def _unheard(event: str, **fields: Any) -> None:
    del event, fields


_MAX_ATTEMPTS = 8
_PAGE = 5_000
_CHUNK = 5_000
_PARSE_AHEAD = 2  # chunks parsed ahead of the checks (bounds memory)
# How long an import's write may wait for its next lines (the store's own limit,
# 5 s on PostgreSQL, is for a stuck client; an import's input may be slow).
_IMPORT_IDLE_SECONDS = 600.0
_ANALYZE_AFTER = 10_000  # events appended by one import: refresh planner statistics
_POSITION_DIGITS = 19  # a position is a 64-bit integer: at most 19 digits


class Ledger(Application[UUID]):
    """The incentive ledger."""

    name = "Ledger"

    def __init__(self, url: str = DEFAULT_DATABASE_URL, *, chain_key: str | None = None) -> None:
        self.store: StoreConfig = library_env(url, chain_key=chain_key)
        self._plans: dict[str, dict[int, dict[str, Any]]] = {}
        self._plan_infos: dict[str, PlanInfo] = {}
        self._plans_read = 0  # the position up to which plan versions were read
        self._plans_lock = threading.RLock()  # `_plan_info` reads while holding it
        # FxRateSet moments by (base, quote), read like the plans (`_fx_moments`)
        self._fx: dict[tuple[str, str], list[datetime]] = {}
        self._fx_read: int | None = None  # None: never read (see `_target_dates`)
        self._fx_lock = threading.Lock()
        # TargetSet (occurred_at, target_id) by (rep, period, kpi), in log order,
        # read like the rates (`_target_dates`)
        self._targets: dict[tuple[str, str, str], list[tuple[datetime, str]]] = {}
        self._targets_read: int | None = None  # None: never read (a head of 0 is read)
        self._targets_lock = threading.Lock()
        # Enrolled rep ids, read like the rates (`_rep_ids`): the org an override reads
        self._rep_ids_known: list[str] = []
        self._reps_read = 0
        self._reps_lock = threading.Lock()
        # The reps and plans the last group commit staged, and the chain head it
        # left: valid for the next group exactly when no one else appended since.
        self._warm: Warm | None = None
        self._warm_lock = threading.Lock()
        self.notice: Notice = _unheard
        super().__init__(env=self.store.env)

    # -- library wiring --------------------------------------------------------

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the given environment: the library would also read os.environ,
        where a stray POSTGRES_HOST could point the ledger at another database."""
        return Environment(name, dict(env or {}))

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON format, written and read with orjson (`ledger.transcoder`),
        with the transcodings the library's `register_transcodings` would register."""
        return OrjsonTranscoder()

    def construct_recorder(self) -> ApplicationRecorder:
        recorder = super().construct_recorder()
        key = self.env.get("LEDGER_CHAIN_KEY")
        cast("LedgerRecorder", recorder).hasher = ChainHasher(key.encode() if key else None)
        return recorder

    @property
    def chain(self) -> LedgerRecorder:
        return cast("LedgerRecorder", self.recorder)

    # -- commands --------------------------------------------------------------

    def record(self, items: Sequence[ev.EventIn], *, actor: str) -> RecordResult:
        """Append a batch of validated inputs, all or nothing (a group of one,
        see `record_many`). Each input's actor is its own ``actor`` field, else
        ``actor``."""
        [result] = self.record_many([(items, actor)])
        if isinstance(result, LedgerError):
            raise result
        return result

    def import_lines(
        self, lines: Iterable[str], *, actor: str, **options: Unpack[pipeline.ImportOptions]
    ) -> RecordResult:
        """SPEC §2 import: the whole file or nothing, streamed; see
        `ledger.ingestion.pipeline.import_lines` for the options."""
        return pipeline.import_lines(self, lines, actor=actor, **options)

    def staging(
        self,
        reader: StreamReader,
        *,
        optimistic: bool = False,
        loaded: Mapping[NaturalKey, Any] | None = None,
        after: HandOff | None = None,
        basis: int | None = None,
    ) -> Staging:
        """A unit of work over ``reader`` (the recorder, or an append session),
        with this ledger's plans and its chain guard; ``after``: what the unit
        before it staged, not committed yet (`ledger.writes.HandOff`).

        Its rules check the plan versions as stored at the position it stands
        on: an append session's head, else ``basis`` (the chain head a staging
        outside the lock stands on, which it is appended as staged only while
        the head is still there), else the head as it stands. The versions
        published since the plans were last read — by this process or another
        (an API worker, the CLI) — are read first (`_plans_up_to`)."""
        if reader is not cast("object", self.chain):  # an append session
            head = cast("AppendSession", reader).head
            self._plans_up_to(head.position if head is not None else 0)
        else:
            self._plans_up_to(basis if basis is not None else self._head_position())
        return Staging(
            reader,
            self.mapper,
            self._plan_info,
            optimistic=optimistic,
            fresh_plans=self._fresh_plan_info,
            chain_guard=self._guard_rule,
            loaded=loaded,
            fx_rates=self._fx_moments,
            targets=self._target_dates,
            rep_ids=self._rep_ids,
            after=after,
        )

    def is_committed(self, link: ChainLink) -> bool:
        """Whether ``link`` is in the stored chain (after a commit whose reply was lost)."""
        for _attempt in range(_MAX_ATTEMPTS):
            try:
                found = self.chain.link_at_or_before(link.position)
            except (InterfaceError, OperationalError):
                time.sleep(0.2)
                continue
            return found == link
        return False

    def publish_plan(
        self, plan: Plan, *, actor: str, occurred_at: datetime | None = None
    ) -> RecordResult:
        """Record ``PlanPublished`` for a validated plan."""
        item = ev.make_event(ev.PlanPublished, occurred_at=occurred_at or _now(), plan=plan)
        return self.record([item], actor=actor)

    def dry_run(
        self, items: Sequence[ev.EventIn], *, actor: str, recorded_at: datetime | None = None
    ) -> list[EventRecord]:
        """The events ``items`` would become if recorded now, and nothing recorded
        (a what-if, an estimate): checked by the very rules `record` applies (a
        bad input raises `BatchRejectedError` naming its field; one whose key is
        stored with the same content gives no event, as `record` skips it),
        each placed where it would be appended — the positions after the head,
        the event id its stream would give it — with no chain hash (``""``)."""
        return self.dry_run_warned(items, actor=actor, recorded_at=recorded_at)[0]

    def dry_run_warned(
        self, items: Sequence[ev.EventIn], *, actor: str, recorded_at: datetime | None = None
    ) -> tuple[list[EventRecord], list[PayWarning]]:
        """`dry_run`, and what the inputs would be accepted with but looks wrong
        (`policies.pay_warnings`), as `record` would answer it."""
        inputs = [Input.of(item, actor) for item in items]
        head = self.head()  # where the inputs are checked (its plans) and placed
        position = head.position if head is not None else 0
        staging = self.staging(self.chain, basis=position)
        staged, errors = staging.apply_all(list(enumerate(inputs, 1)))
        if errors:
            raise BatchRejectedError(errors)
        warnings = [w for s in staged for w in s.warnings]
        stamp = (recorded_at or _now()).astimezone(UTC).isoformat(timespec="microseconds")
        records = []
        for stored in staging.take_pending():
            position += 1
            stream = stored.originator_id
            event_id = event_id_text(
                stream if isinstance(stream, UUID) else UUID(stream), stored.originator_version
            )
            logged = LoggedEvent(position, stored.topic, stored.state, event_id, stamp, "")
            records.append(decode(logged))
        return records, warnings

    def record_payout_run(
        self,
        run_id: str,
        period: str,
        statements: list[dict[str, Any]],
        *,
        position: int,
        chain_head: dict[str, Any],
        actor: str,
    ) -> RecordResult:
        """Record ``PayoutCalculated``: each statement as computed, with its hash."""
        item = ev.make_event(
            ev.PayoutCalculated,
            occurred_at=_now(),
            run_id=run_id,
            period=period,
            position=position,
            chain_head=chain_head,
            statements=statements,
        )
        return self.record([item], actor=actor)

    def pay_run(self, run_id: str, *, actor: str) -> RecordResult:
        """Record ``PayoutPaid`` for an approved run; its period is then locked."""
        item = ev.make_event(ev.PayoutPaid, occurred_at=_now(), run_id=run_id)
        return self.record([item], actor=actor)

    def record_many(
        self, requests: Sequence[tuple[Sequence[ev.EventIn], str]]
    ) -> list[RecordResult | LedgerError]:
        """Several independent `record` calls committed together (group commit).

        Each request is all or nothing on its own: one with a bad input gets its
        `LedgerError` and stores nothing, the others are appended in request
        order in one transaction — one lock, one chain extension, one commit for
        all of them. The lock is taken first, so what they are checked against
        cannot change before they commit.
        """
        return self.record_inputs(
            [[Input.of(item, actor) for item in items] for items, actor in requests]
        )

    def record_inputs(self, inputs: Sequence[Sequence[Input]]) -> list[RecordResult | LedgerError]:
        """`record_many` of inputs already in their checked form (`Input.of`)."""
        with self._warm_lock:  # this ledger's last commit's reps and plans, taken
            warm, self._warm = self._warm, None
        committed = self.commit_group(self.prepare_group(inputs, warm))
        if committed.warm is not None:
            with self._warm_lock:
                self._warm = committed.warm
        return committed.results

    def prepare_group(
        self,
        inputs: Sequence[Sequence[Input]],
        warm: Warm | None = None,
        after: HandOff | None = None,
    ) -> PreparedGroup:
        """Stage a group outside the writer lock (`ledger.ingestion.batch.prepare_group`)."""
        return batch.prepare_group(self, inputs, warm, after)

    def commit_group(self, prepared: PreparedGroup) -> CommittedGroup:
        """Append a prepared group under the lock (`ledger.ingestion.batch.commit_group`)."""
        return batch.commit_group(self, prepared)

    def note_stored(self, types: Collection[str], span: tuple[int, int] | None = None) -> None:
        """After a commit that stored events of ``types``: plan versions it
        published are read into the plans' cache at once. ``span``: the head
        its append session began on and the head it left — every event
        between is its own (it held the writer lock), so when none is a plan
        version and the plans were read up to where it began, they are read up
        to where it ended with no read (the next group stages on that head)."""
        if "PlanPublished" in types:
            self._load_plans()
        elif span is not None:
            with self._plans_lock:
                if self._plans_read >= span[0]:
                    self._plans_read = max(self._plans_read, span[1])

    def subject_kind(self, subject_id: str) -> str | None:
        """ "target", "case", "adjustment" or "run" for an approval's subject, else None."""
        try:
            return self._staging().subject(subject_id).KIND
        except LedgerError:
            return None

    def dispute_of(self, dispute_id: str) -> tuple[str, str] | None:
        """(rep id, run id) of a dispute, or None when there is no such dispute."""
        found = self.dispute(dispute_id)
        return (found.rep_id, found.run_id) if found is not None else None

    def dispute(self, dispute_id: str) -> StoredDispute | None:
        """A dispute as the write side holds it, or None when there is none."""
        dispute = self._staging().get(Dispute, dispute_id)
        if dispute is None:
            return None
        resolved = dispute.resolved.occurred_at if dispute.resolved is not None else None
        return StoredDispute(
            dispute.rep_id,
            dispute.run_id,
            str(dispute.data["message"]),
            dispute.recorded.occurred_at,
            resolved,
        )

    def run_reps(self, run_id: str) -> tuple[str, ...] | None:
        """The reps payout run ``run_id`` holds a statement of; None when there
        is no such run."""
        run = self._staging().get(PayoutRun, run_id)
        return tuple(run.rep_ids) if run is not None else None

    def sale_reps(self, sale_id: str) -> tuple[frozenset[str], datetime] | None:
        """The reps a stored sale names (its rep and its splits' reps) and when it
        occurred; None when there is no such sale."""
        sale = self._staging().get(Sale, sale_id)
        if sale is None:
            return None
        return sale_reps_of(sale.data), sale.recorded.occurred_at

    def uncancelled_sales(self, sale_ids: Iterable[str]) -> set[str]:
        """Which of ``sale_ids`` are stored sales not cancelled: what a CRM
        export that now ignores one (a won deal since shown as lost) warns of,
        since the sale keeps paying until its cancellation is recorded."""
        staging = self._staging()
        wanted = list(dict.fromkeys(sale_ids))
        staging.prefetch((Sale.KIND, sale_id) for sale_id in wanted)  # a query per 1,000
        found = set()
        for sale_id in wanted:
            sale = staging.get(Sale, sale_id)
            if sale is not None and sale.cancellation is None:
                found.add(sale_id)
        return found

    def _staging(self) -> Staging:
        return Staging(self.chain, self.mapper, self._plan_info, fx_rates=self._fx_moments)

    # -- plans -----------------------------------------------------------------

    def _load_plans(self) -> None:
        """Read the plan versions published since the last read, up to the head
        as it stands (`_plans_up_to`)."""
        self._plans_up_to(self._head_position())

    def _plans_up_to(self, position: int) -> None:
        """Read the plan versions published after the last read up to
        ``position`` (each event once: the next read starts after it). No read
        when the plans were read that far: a write standing on the head this
        process's last commit left, the common case, costs nothing."""
        if position <= self._plans_read:
            return
        with self._plans_lock:
            for n in self._notifications(["PlanPublished"], self._plans_read, position):
                document = orjson.loads(n.state)["data"]["plan"]
                self._plans.setdefault(document["id"], {})[document["version"]] = document
                self._plan_infos.pop(document["id"], None)
            self._plans_read = max(self._plans_read, position)

    def _fx_moments(self, base: str, quote: str, fresh: bool) -> list[datetime]:
        """The moments from which the stored rates of ``base`` → ``quote`` hold
        (SPEC §3.1; a sale in a foreign currency needs one at or before it).
        ``fresh``: read the rates set since the last read first (by this
        process or another)."""

        def take(data: dict[str, Any], moment: datetime) -> None:
            self._fx.setdefault((data["base"], data["quote"]), []).append(moment)

        if fresh or self._fx_read is None:
            with self._fx_lock:
                self._fx_read = self._read_since("FxRateSet", self._fx_read or 0, take)
        return list(self._fx.get((base, quote), ()))

    def _target_dates(
        self, rep_id: str, period: str, kpi: str, *, fresh: bool
    ) -> list[tuple[datetime, str]]:
        """(occurred_at, target_id) of the stored targets of ``rep_id``'s ``kpi``
        for ``period``, in log order (a second one is said, `target_set`).
        ``fresh``: read the targets set since the last read first."""

        def take(data: dict[str, Any], moment: datetime) -> None:
            key = (data["rep_id"], data["period"], data["kpi"])
            self._targets.setdefault(key, []).append((moment, data["target_id"]))

        # "never read", not "read up to 0": an import into an empty ledger is one
        # transaction, its head 0 to every other reader until it commits, and a
        # read on each of its targets took 14 of its 34 s (the head's query
        # skipping the uncommitted rows)
        if fresh or self._targets_read is None:
            with self._targets_lock:
                self._targets_read = self._read_since("TargetSet", self._targets_read or 0, take)
        return list(self._targets.get((rep_id, period, kpi), ()))

    def _read_since(
        self, type_: str, after: int, take: Callable[[dict[str, Any], datetime], None]
    ) -> int:
        """Hand each stored ``type_`` event after position ``after``, up to the
        head as it stands, to ``take`` (its data and occurred_at), in order;
        the position read up to (the next read starts after it)."""
        stop = self._head_position()
        for n in self._notifications([type_], after, stop):
            state = orjson.loads(n.state)
            take(state["data"], datetime.fromisoformat(state["occurred_at"]["_data_"]))
        return max(after, stop)

    def _rep_ids(self) -> list[str]:
        """Every enrolled rep's id, the enrolments since the last read read first
        (a plan with ``[override]`` is checked against the reps following it)."""
        with self._reps_lock:
            self._read_reps()
            return list(self._rep_ids_known)

    def _read_reps(self) -> None:
        def take(data: dict[str, Any], _moment: datetime) -> None:
            self._rep_ids_known.append(data["rep_id"])

        self._reps_read = self._read_since("RepEnrolled", self._reps_read, take)

    def _plan_info(self, plan_id: str) -> PlanInfo | None:
        """What the write side checks of a plan (a sale checks its rep's: kept)."""
        found = self._plan_infos.get(plan_id)
        if found is not None:
            return found
        if plan_id not in self._plans:
            self._load_plans()
        with self._plans_lock:  # not read while another thread reads more versions
            versions = self._plans.get(plan_id)
            if not versions:
                return None
            latest = versions[max(versions)]
            info = PlanInfo(
                plan_id,
                latest["currency"],
                latest["period"],
                tuple(PlanTerms.of_document(versions[v]) for v in sorted(versions)),
            )
            self._plan_infos[plan_id] = info
            return info

    def plan_versions(self, plan_id: str) -> list[Plan]:
        """Every published version of a plan, lowest first (the pages show a
        statement's tier ladder from the version it was computed with), as
        stored: those published since the last read, by this process or
        another, are read first (a version another API worker published was
        missing from this one's pages until it was started again)."""
        self._load_plans()
        with self._plans_lock:
            versions = dict(self._plans.get(plan_id, {}))
        return [Plan.from_stored(versions[v]) for v in sorted(versions)]

    def _fresh_plan_info(self, plan_id: str) -> PlanInfo | None:
        """`_plan_info` after reading the versions published since the last read
        (by this process or another): what a warning is checked against."""
        self._load_plans()
        return self._plan_info(plan_id)

    # -- queries ---------------------------------------------------------------

    def head(self) -> ChainLink | None:
        """The chain head: the last committed event's position and hash."""
        return self.chain.chain_head()

    def read_log(
        self, after: int = 0, limit: int = _PAGE, stop: int | None = None
    ) -> list[EventRecord]:
        """Events after position ``after`` (up to ``stop``), decoded, in order."""
        return [decode(e) for e in self.chain.select_log(after, limit, stop)]

    def iter_log(
        self, after: int = 0, stop: int | None = None, limit: int | None = None
    ) -> Iterator[EventRecord]:
        """Every event after ``after`` (up to ``stop``; at most ``limit``), read in pages.

        While one page is decoded, the next is already being read (a thread, which
        waits on the store without the GIL): reading a 1M-event log, the reader
        otherwise sat waiting for the server for a seventh of its time.
        """
        left = limit if limit is not None else -1
        size = _PAGE if left < 0 else min(_PAGE, left)
        page = self.chain.select_log(after, size, stop)
        with ThreadPoolExecutor(1, thread_name_prefix="log-reader") as reader:
            while True:
                left -= len(page) if left > 0 else 0
                ahead: Future[Sequence[LoggedEvent]] | None = None
                if len(page) == size and left:
                    size = _PAGE if left < 0 else min(_PAGE, left)
                    ahead = reader.submit(self.chain.select_log, page[-1].position, size, stop)
                for logged in page:
                    yield decode(logged)
                if ahead is None:
                    return
                page = ahead.result()

    def positions_of(self, types: Iterable[str], stop: int) -> list[int]:
        """The positions, up to ``stop``, of the events of ``types`` (read by
        topic: the org a manager's windowed replay reads, `catalogue.NAMES_MANAGER`)."""
        return [n.id for n in self._notifications(types, 0, stop)]

    def _notifications(self, types: Iterable[str], after: int, stop: int) -> Iterator[Notification]:
        """The stored events of ``types`` after position ``after`` up to ``stop``,
        in order, read a page at a time."""
        topics = sorted(event_topic(t) for t in types)
        while stop > after:
            page = self.recorder.select_notifications(
                after, _PAGE, stop=stop, topics=topics, inclusive_of_start=False
            )
            yield from page
            if len(page) < _PAGE:
                return
            after = page[-1].id

    def _head_position(self) -> int:
        head = self.chain.chain_head()
        return head.position if head is not None else 0

    def read_positions(self, positions: Sequence[int]) -> list[EventRecord]:
        """The events at ``positions`` (those that exist), in order."""
        return [decode(e) for e in self.chain.select_log_at(positions)]

    def link_at(self, position: int) -> ChainLink | None:
        """The chain link at ``position``, or the last one before it."""
        return self.chain.link_at_or_before(position)

    def event(self, event_id: str) -> EventRecord:
        """One event by its id; NotFoundError when there is none."""
        position = self.chain.position_of(event_id)
        if position is None:
            raise NotFoundError(f"no event has id {shown_id(event_id)}", field="event_id")
        found = self.chain.select_log(position - 1, 1, position)
        if not found:
            raise NotFoundError(f"no event has id {shown_id(event_id)}", field="event_id")
        return decode(found[0])

    def resolve_as_of(self, as_of: str | int | None, *, field: str = "as_of") -> int:
        """SPEC §4: the position a replay is made as of.

        ``as_of`` is a position (1 to the head), a ``recorded_at`` timestamp with
        an offset (from the first event's to now: the last position recorded at
        or before it), or None / empty for now (the head; 0 on an empty ledger).

        Anything outside the ledger is refused with an error naming ``field``,
        never clamped: a position beyond the head, a timestamp before the first
        event or in the future. Position 0 names no event (it is "before the
        first one", where no rep, plan or figure exists yet), so it is refused
        like any position outside 1 to the head; on an empty ledger every
        explicit ``as_of`` is outside it.
        """
        head = self.head()
        last = head.position if head else 0
        if as_of is None or as_of == "":
            return last
        text = str(as_of).strip()
        if head is None:
            raise InvalidInputError(
                f"the ledger has no events yet: there is no position or time to be as of "
                f"(got {text!r})",
                field=field,
            )
        if text.isascii() and text.isdigit():
            return self._as_of_position(text, last, field)
        return self._as_of_moment(text, field)

    def _as_of_position(self, text: str, last: int, field: str) -> int:
        # more digits than any position can have: beyond the head (and int() of
        # thousands of digits is refused by Python itself)
        position = int(text) if len(text) <= _POSITION_DIGITS else None
        if position is None or position > last:
            raise InvalidInputError(
                f"position {text} is beyond the ledger's head (position {last}): "
                f"ask for a position from 1 to {last}",
                field=field,
            )
        if position < 1:
            raise InvalidInputError(
                f"position {text} is before the first event: positions start at 1 "
                f"(the head is {last})",
                field=field,
            )
        return position

    def _as_of_moment(self, text: str, field: str) -> int:
        moment = iso_moment(text)
        if moment is None:
            raise InvalidInputError(
                f"a position (e.g. 1200) or a timestamp with offset "
                f"(e.g. 2026-10-01T00:00:00+08:00), got {text!r}",
                field=field,
            )
        if moment.tzinfo is None:
            raise InvalidInputError(
                f"a timestamp needs an offset (e.g. {text}+08:00), got {text!r}", field=field
            )
        now = _now()
        if moment > now:
            raise InvalidInputError(
                f"{text} is in the future (now is {now.isoformat(timespec='seconds')}): "
                "the ledger cannot say what it will hold then",
                field=field,
            )
        first = self.chain.select_links(0, 1)
        if not first or moment < datetime.fromisoformat(first[0].recorded_at):
            recorded = first[0].recorded_at if first else "(none)"
            raise InvalidInputError(
                f"{text} is before the first event (recorded at {recorded})", field=field
            )
        stamp = moment.astimezone(UTC).isoformat(timespec="microseconds")
        position = self.chain.position_at(stamp)
        assert position is not None, "the first event was recorded at or before it"
        return position

    def verify(self, anchors: Sequence[Anchor] = ()) -> ChainReport:
        """Recompute the audit chain from the stored rows (SPEC §6), up to the head
        as it stands when the check begins (`ledger.chain_guard.end_of`: what
        is committed meanwhile is not half read)."""
        hasher = resolve_links(self.chain, self.chain.hasher)
        rows = log_rows(self.chain, stop=end_of(self.chain))
        return verify_links(hasher, rows, anchors)

    def chain_hasher(self) -> ChainHasher:
        """The hasher of this store's chain: its mode, and the version of its
        links as the store records it (`ledger.chain_guard.resolve_links`)."""
        return resolve_links(self.chain, self.chain.hasher)

    # -- the chain guard of payouts (SPEC §6, `ledger.chain_guard`) -------------

    def check_chain(self, *, limit: int | None = None) -> ChainReport:
        """The chain from the last verified position (the kept watermark) to the
        head — or ``limit`` positions past it at most; a check that passes moves
        the watermark to the last link it verified."""
        report = check_from_watermark(self.chain, self.chain.hasher, limit=limit)
        self.mark_verified(report)
        return report

    def guard_chain(self, *, action: str = "payouts are refused") -> ChainReport:
        """`check_chain`, raising `BrokenChainError` (naming the first broken
        position) when the chain is broken: the first step of every payout step."""
        report = self.check_chain()
        if not report.ok:
            assert report.broken_position is not None
            raise BrokenChainError(report.broken_position, str(report.reason), action=action)
        return report

    def mark_verified(self, report: ChainReport) -> None:
        """Move the watermark to the head a passing check (or a full `verify`)
        verified; nothing when it failed or verified nothing new."""
        if report.ok and report.head is not None and report.checked:
            try:
                self.chain.put_state(
                    WATERMARK, {"position": report.head.position, "hash": report.head.hash}
                )
            except (InterfaceError, OperationalError):
                # The store busy past its wait (a long import holds the writer):
                # the watermark stays where it was, and the next check reads a
                # little more. Never a reason to fail the payout step it guards.
                self.notice("chain.watermark_not_moved", position=report.head.position)

    def _guard_rule(self, reader: ChainReader) -> None:
        """The chain check of a payout rule (`Staging.guard_chain`), read through
        what the staging reads: inside an append session, the session (it holds
        the writer: the chain cannot move under it, and on SQLite a second
        connection would wait for it); the watermark moves only outside one."""
        report = check_from_watermark(reader, self.chain.hasher)
        if not report.ok:
            assert report.broken_position is not None
            raise BrokenChainError(report.broken_position, str(report.reason))
        if reader is cast("object", self.chain):
            self.mark_verified(report)

    def guard_run(self, run_id: str) -> None:
        """The run's `PayoutCalculated` — what approving, paying and exporting it
        act on — checked against its chain link wherever it lies, below the
        watermark too (an incremental check does not read it again); raises
        `BrokenChainError` naming the broken position. Nothing for an unknown
        run (the command then says so)."""
        position = self.chain.position_of(event_id_text(PayoutRun.create_id(run_id), 1))
        if position is None:
            return
        report, _ = self.checked_event(position)
        if not report.ok:
            assert report.broken_position is not None
            raise BrokenChainError(report.broken_position, str(report.reason))

    def checked_event(self, position: int) -> tuple[ChainReport, LogRow | None]:
        """The stored event at ``position`` checked against its chain link (and
        the next link against it); its row, None when it is gone."""
        return check_event(self.chain, self.chain.hasher, position)


def _now() -> datetime:
    return datetime.now(UTC)
