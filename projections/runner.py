"""The projection worker: feeds the read models from the global event order.

`Projector.catch_up()` reads the log after the tracking position in batches,
folds each batch into the in-memory facts, recomputes the rows of what the batch
touched, and writes those rows *with* the new tracking position in one
transaction. A crash loses at most the uncommitted batch, which the next run
re-reads: every event is applied to the read models exactly once. Two workers
racing on one position: the loser's transaction fails on the tracking row and
changes nothing. So does a batch whose read models moved while it was computed
— a replay committed meanwhile, at a position of its own (`Batch.after`).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock_time
from decimal import Decimal
from functools import lru_cache
from typing import Any

import structlog
from eventsourcing.persistence import IntegrityError

from ledger.application import Ledger
from ledger.catalogue import (
    CLAIM_STATES,
    PAYMENT_KEY_TYPE,
    PAYMENT_KEYS,
    READ_BY_EVERY_REP,
    REP_KEY_TYPE,
    REP_KEYS,
)
from ledger.errors import ReadModelsDamagedError, ReadModelsNewerError
from ledger.key_tables import Claim3, KeyTable, earliest_claims
from ledger.payment_keys import PaymentKey
from ledger.payout_claims import expected_claims
from ledger.records import EventRecord, bulk
from ledger.rep_keys import RepKey
from policies.periods import Period, period_of, stored_period
from projections.approvals import pending_for_rep, pending_for_run
from projections.balances import rep_rows
from projections.discipline_history import history
from projections.disputes import disputes_of, rep_row
from projections.facts import LedgerFacts
from projections.fanout import encoded_rows
from projections.payout_runs import run_row
from projections.read_models import current_versions
from projections.statement import AsOf, Calculator, StepCache
from projections.storage import VIEWS, IndexRow, Replacement, ViewStore, open_view_store
from projections.storage.core import Batch, VersionsMovedError, encode_doc
from projections.versioning import newer_versions, unknown_models, version_changes

__all__ = [
    "BATCH_EVENTS",
    "DEFAULT_MAX_BUSY",
    "HEARTBEAT_SECONDS",
    "PROJECTOR_SILENT_SECONDS",
    "PROJECTOR_STATE",
    "RETRY_FIRST_SECONDS",
    "RETRY_MAX_SECONDS",
    "CatchUp",
    "Pacing",
    "ProjectionHealth",
    "Projector",
    "compute_rows",
    "health_status",
    "pause_after",
    "public_message",
    "total_and_events",
    "verify_views",
]

log = structlog.get_logger("projections")

_RUN_TYPES = {"PayoutCalculated", "PayoutPaid"}
# Events in a catch-up's first batch (doubling while it is behind, up to the max).
BATCH_EVENTS = 20_000
# The largest batch (events read, folded and written in one transaction): bounds
# the memory a batch's index rows take beside the facts.
MAX_BATCH_EVENTS = 200_000

# A following projector is busy at most this share of the time (`pause_after`).
DEFAULT_MAX_BUSY = 0.3

# A failing catch-up is retried after this long, doubling each time it fails
# again, up to the max (`ProjectionHealth.failed`): never a hot loop (SPEC §7).
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
# `ledger_state` key under which a following projector reports how it fares, for
# `GET /health` of an API whose projections another process keeps.
PROJECTOR_STATE = "projector"
# A following projector says it is alive this often (its health, kept beside the
# log); one not heard from in `PROJECTOR_SILENT_SECONDS` is reported silent — its
# process gone, say (`GET /health` of another process).
HEARTBEAT_SECONDS = 10.0
PROJECTOR_SILENT_SECONDS = 60.0
_MESSAGE_CHARS = 300


def public_message(exc: BaseException) -> str:
    """An error's message fit for `GET /health` and one log line: its first line,
    shortened, with any password in a URL or ``password=...`` blanked (a store
    error can quote its connection string)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"(://[^:/@\s]*):[^@\s]*@", r"\1:***@", text)
    text = re.sub(r"(?i)(password\s*=\s*)\S+", r"\1***", text)
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


@dataclass
class ProjectionHealth:
    """How a following projector fares (`GET /health`): ``ok``, or the failure it
    keeps meeting — an event the fold or a computation cannot take, the store
    gone — with the delay before its next attempt.

    SPEC §7: a projection that fails never loops hot. Each failed attempt waits
    ``first_retry_seconds``, doubled for every failure in a row, at most
    ``max_retry_seconds``; the first success clears it all.
    """

    first_retry_seconds: float = RETRY_FIRST_SECONDS
    max_retry_seconds: float = RETRY_MAX_SECONDS
    failures: int = 0
    error_type: str | None = None
    error_message: str | None = None
    failing_since: str | None = None
    retry_in_seconds: float | None = None
    # while read models whose version changed are replayed: what changed, since when
    rebuilding: list[str] | None = None
    rebuilding_since: str | None = None

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def failed(self, exc: BaseException, *, at_least: float = 0.0) -> float:
        """Note a failed attempt; the seconds to wait before the next (``at_least``:
        the rest an attempt that took long earns, `pause_after` — a retry folds
        the log again, and must not keep the machine busy either)."""
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = datetime.now(UTC).isoformat(timespec="seconds")
        self.error_type = type(exc).__name__
        self.error_message = public_message(exc)
        doubled = self.first_retry_seconds * 2 ** min(self.failures - 1, 30)
        self.retry_in_seconds = max(at_least, min(self.max_retry_seconds, doubled))
        return self.retry_in_seconds

    def recovered(self) -> None:
        self.failures = 0
        self.error_type = self.error_message = self.failing_since = None
        self.retry_in_seconds = None

    def rebuild_started(self, changes: list[str]) -> None:
        self.rebuilding = changes
        self.rebuilding_since = datetime.now(UTC).isoformat(timespec="seconds")

    def rebuild_done(self) -> None:
        self.rebuilding = self.rebuilding_since = None

    @property
    def state(self) -> str:
        if self.failing:
            return "failing"
        return "rebuilding" if self.rebuilding is not None else "ok"

    def to_dict(self) -> dict[str, Any]:
        """The health as `GET /health` shows it; while rebuilding, also what
        changed (``"statements 1 -> 2"``) and since when."""
        error = {"type": self.error_type, "message": self.error_message} if self.failing else None
        doc: dict[str, Any] = {
            "state": self.state,
            "error": error,
            "failures": self.failures,
            "failing_since": self.failing_since,
            "retry_in_seconds": self.retry_in_seconds,
        }
        if self.rebuilding is not None:
            doc["rebuild"] = {"changed": self.rebuilding, "since": self.rebuilding_since}
        return doc


def health_status(projection: Mapping[str, Any]) -> str:
    """`GET /health`'s status for a projector's health: ``degraded`` while it
    keeps failing or has not been heard from (``silent``), else ``ok``."""
    return "degraded" if projection.get("state") in {"failing", "silent"} else "ok"


def pause_after(busy_seconds: float, max_busy: float) -> float:
    """How long a following projector rests after a catch-up that took
    ``busy_seconds``, to be busy at most ``max_busy`` of the time.

    Every catch-up recomputes the open periods of the reps it touched, whole: a
    stream of writes into one quarter costs a catch-up more as the quarter
    fills, and catching up after every few events would take ever more of the
    machine (measured under 1,400 single-event writes/s into 50 reps: 0.74 of a
    core after 20 s, the API that takes the writes 0.70). Resting in proportion
    lets each catch-up take in more events instead: the read models trail a
    little more under a heavy stream of writes (reads say how far: ``as_of``),
    and the projector's share of the machine stays bounded. Idle or light load
    is unaffected: a 5 ms catch-up rests 12 ms.
    """
    assert 0 < max_busy <= 1, max_busy
    return busy_seconds * (1 - max_busy) / max_busy


@dataclass(frozen=True)
class CatchUp:
    """What one catch-up did."""

    applied: int
    position: int
    seconds: float
    rebuilt: bool = False  # a replay of every read model (a version changed)
    # a whole replay (`rebuild`): of ``seconds``, reading and folding the log
    # (the rest: computing and writing the rows)
    fold_seconds: float | None = None

    @property
    def events_per_second(self) -> float:
        return self.applied / self.seconds if self.seconds > 0 else 0.0


def _as_of(record: EventRecord | None, position: int) -> AsOf:
    if record is None:
        return AsOf(position, None, None)
    return AsOf(record.position, record.recorded_at, record.hash)


def compute_rows(
    facts: LedgerFacts,
    as_of: AsOf,
    reps: Iterable[str],
    runs: Iterable[str],
    *,
    since: Mapping[str, date | None] | None = None,
    stored: ViewStore | None = None,
    totals: Totals | None = None,
    cache: StepCache | None = None,
) -> Iterator[Replacement]:
    """The read-model rows of ``reps`` and ``runs``, as of the facts' position.

    With ``since`` (rep -> earliest business date a batch can have changed), only
    the periods from that date on are recomputed; the stored row of the period
    before (unchanged) supplies the balance it may carry forward.

    A generator: the store writes each rep's rows as they come, so a full
    rebuild never holds every rep's statements at once. ``totals`` (kept by the
    projector between batches) receives every statement's total and the events
    it rests on, and supplies the carried balance of the period before the first
    recomputed one, instead of reading and decoding that stored statement again.
    ``cache`` (kept by the projector too) holds the sale steps of earlier batches.
    """
    calc = Calculator(facts, as_of, cache=cache)
    # an iterator is taken as it comes (a rebuild's worker takes one rep at a time)
    for rep_id in reps if isinstance(reps, Iterator) else sorted(reps):
        if rep_id not in facts.reps:
            continue
        start = _start_period(
            facts, calc, rep_id, (since or {}).get(rep_id), stored=stored, totals=totals
        )
        balances, attainment, statements = rep_rows(facts, calc, rep_id, start)
        kept = _kept_totals(totals, rep_id, start)
        for key, statement in statements.items():
            statement.pop("as_of", None)
            statement.pop("chain_head", None)
            if kept is not None:
                kept[key] = total_and_events(statement)
        entries = history(facts, calc, rep_id)
        calc.forget(rep_id)
        if cache is not None:
            cache.trim()  # after each rep: a batch far behind may touch every sale
        from_key = str(start) if start is not None else None
        yield from [
            Replacement("balances", rep_id, balances, from_key),
            Replacement("attainment", rep_id, attainment, from_key),
            Replacement("statements", rep_id, statements, from_key),
            Replacement("discipline", rep_id, {f"{i:06d}": e for i, e in enumerate(entries)}),
            Replacement("pending_approvals", rep_id, pending_for_rep(facts, rep_id)),
            Replacement("reps", rep_id, {rep_id: rep_row(facts, rep_id)}),
            Replacement("disputes", rep_id, disputes_of(facts, rep_id)),
        ]
    for run_id in sorted(runs):
        yield Replacement("payout_runs", run_id, {run_id: run_row(facts, run_id)})
        yield Replacement("pending_approvals", f"run:{run_id}", pending_for_run(facts, run_id))


def _start_period(
    facts: LedgerFacts,
    calc: Calculator,
    rep_id: str,
    since: date | None,
    *,
    stored: ViewStore | None,
    totals: Totals | None = None,
) -> Period | None:
    """The first period to recompute (None: all), priming the carried balance."""
    if since is None or stored is None:
        return None
    kind = facts.period_kind(rep_id)
    start = max(
        period_of(datetime.combine(since, clock_time(), UTC), kind),
        facts.first_period(rep_id, kind),
    )
    previous = start.previous()
    if previous >= facts.first_period(rep_id, kind) and not calc.is_paid(rep_id, previous):
        known = totals.get(rep_id, {}).get(str(previous)) if totals is not None else None
        if known is None:
            row = stored.row("statements", rep_id, str(previous))
            if row is None:
                return None  # nothing stored to carry from: recompute everything
            known = total_and_events(row)
        calc.known_totals[rep_id, previous] = known
    return start


# rep -> period -> a stored statement's total and the events its lines rest on
Totals = dict[str, dict[str, tuple[Decimal, tuple[str, ...]]]]


def _kept_totals(
    totals: Totals | None, rep_id: str, start: Period | None
) -> dict[str, tuple[Decimal, tuple[str, ...]]] | None:
    """``rep_id``'s kept totals, less those of ``start`` on (all: None): the
    rows from there are replaced, and a period that has no row any more (a
    rejected run's, closed again) must not be taken for a stored one — the
    period after it would carry in from a row that is not there, and the
    period itself would never be written again when it comes back."""
    if totals is None:
        return None
    kept = totals.setdefault(rep_id, {})
    for key in list(kept):
        period = stored_period(key)  # 2200-Q1: a paid 2199-Q4's correction
        if start is None or period.kind != start.kind or period >= start:
            del kept[key]
    return kept


def total_and_events(statement: Mapping[str, Any]) -> tuple[Decimal, tuple[str, ...]]:
    ids = dict.fromkeys(e for line in statement["lines"] for e in line["event_ids"])
    return Decimal(statement["total"]), tuple(ids)


_EVERY_REP = ("*",)


def _reps_of(reps: AbstractSet[str]) -> tuple[str, ...]:
    """One shared sorted tuple per set of reps (a rebuild indexes a million events)."""
    return _sorted_reps(frozenset(reps))


@lru_cache(maxsize=4096)
def _sorted_reps(reps: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(reps))


def _fold(facts: LedgerFacts, record: EventRecord) -> tuple[AbstractSet[str], IndexRow]:
    """Fold ``record`` in: the reps it touched, and its replay index row."""
    touched = facts.apply(record)
    indexed = _EVERY_REP if record.type in READ_BY_EVERY_REP else _reps_of(touched)
    return touched, (
        record.position,
        indexed,
        facts.affects_since(record),
        facts.affects_until(record),
    )


def _runs_touched(facts: LedgerFacts, record: EventRecord) -> set[str]:
    if record.type in _RUN_TYPES:
        return {record.data["run_id"]}
    if record.type in {"ApprovalGranted", "ApprovalRejected"}:
        subject = record.data["subject_id"]
        return {subject} if subject in facts.runs else set()
    return set()


class Projector:
    """Keeps the read models of one ledger up to date."""

    def __init__(
        self, ledger: Ledger, store: ViewStore | None = None, *, cache_steps: bool = True
    ) -> None:
        """``cache_steps``: keep sale steps between batches (`StepCache`) — for a
        projector that follows the log; a full rebuild computes each period about
        once and would only hold them."""
        self.ledger = ledger
        self.store = store or open_view_store(ledger)
        self.facts = LedgerFacts()
        self._last: EventRecord | None = None
        self._totals: Totals = {}
        self._cache = StepCache() if cache_steps else None
        self.health = ProjectionHealth()
        self._versions_checked = False
        self.reports_health = False  # a follower reports its health beside the log (`follow`)

    def _fold_until(self, position: int) -> None:
        """Bring the in-memory facts up to ``position`` without writing anything.

        Events folded here were projected by another projector (the worker, a
        CLI command catching up before it reads): the totals this one kept from
        its own last batch may be stale — a period another projector recomputed
        since — so they are dropped and the stored rows read instead (a kept
        50.00 was carried where the stored total was −4,950)."""
        if self.facts.position > position:
            self.facts, self._last = LedgerFacts(), None
            self._totals.clear()
        before = self.facts.position
        for record in self.ledger.iter_log(after=before, stop=position):
            self.facts.apply(record)
            self._last = record
        if self.facts.position != before:
            self._totals.clear()

    def catch_up(
        self,
        *,
        batch_events: int = BATCH_EVENTS,
        max_batch_events: int = MAX_BATCH_EVENTS,
        on_batch: Callable[[int], None] | None = None,
        max_batches: int | None = None,
    ) -> CatchUp:
        """Apply every event after the tracking position (``max_batches``: at most
        that many batches); returns what it did.

        Batches start at ``batch_events`` and double, up to ``max_batch_events``,
        while each comes back full (the projector is behind): every batch
        recomputes the open periods of the reps it touched, so a burst of writes
        into one quarter costs in proportion to the number of batches times the
        quarter's size: after the HTTP benchmark's write phases, 172,000 events
        took 55.7 s to catch up in batches of 20,000, and 149,000 took 12.9 s in
        growing batches.
        """
        if not self._versions_checked:
            rebuilt = self.rebuild_if_changed(on_batch)
            self._versions_checked = True
            if rebuilt is not None:
                return rebuilt
        try:
            with bulk():
                return self._catch_up(
                    batch_events, max(batch_events, max_batch_events), on_batch, max_batches
                )
        except VersionsMovedError as moved:
            # Another process replayed the read models for its own code since
            # this one checked them (its batch was refused, nothing written):
            # replay them for this code if theirs is older, refuse if newer.
            log.warning("projection.versions_moved", changed=moved.changes)
            self._versions_checked = False
            rebuilt = self.rebuild_if_changed(on_batch)
            self._versions_checked = True
            if rebuilt is None:
                raise  # they moved back meanwhile: the next catch-up starts over
            return rebuilt

    def rebuild_if_changed(
        self, on_progress: Callable[[int], None] | None = None
    ) -> CatchUp | None:
        """Replay every read model when one's stored version is not the code's
        (`projections.versioning`); None when none changed.

        Run by the first catch-up of every projector — the API's, the worker's,
        a CLI command's — so a changed read model is remade on start with no
        manual step, and again when a batch finds the stored versions moved
        (`VersionsMovedError`: another process replayed them since). Never
        backwards: stored versions newer than the code's raise
        `ReadModelsNewerError` and change nothing (`projections.versioning`).
        Readers see the old read models until the replay commits
        (`ViewStore.rebuilding`); `health` says ``rebuilding`` meanwhile. A store
        that has projected nothing yet only records the versions. Unlike the
        ``rebuild`` command, this does not check the whole chain first: it is a
        catch-up from the start, and catch-ups do not either.
        """
        current = current_versions()
        stored = self.store.versions()
        newer = newer_versions(stored, current)
        if newer:
            raise ReadModelsNewerError(newer)
        changes = version_changes(stored, current)
        if not changes:
            return None
        if self.store.position() == 0:
            self.store.stamp_versions(current)
            return None
        log.info("projection.rebuild_started", changed=changes)
        self.health.rebuild_started(changes)
        self._report_if_following()
        try:
            with self._heartbeat():
                replay = _replay_all(self.ledger, self.store, on_progress, unless=current)
        finally:
            self.health.rebuild_done()
            self._report_if_following()
        if replay is None:
            # another process replayed them since: follow it, as any catch-up would
            log.info("projection.rebuild_done_elsewhere", changed=changes)
            return None
        replayed, facts, last = replay
        # the replay's facts are the projector's from here on: no second fold
        self.facts, self._last = facts, last
        self._totals.clear()
        if self._cache is not None:
            self._cache = StepCache()
        done = dataclasses.replace(replayed, rebuilt=True)
        log.info(
            "projection.rebuild_done",
            changed=changes,
            applied=done.applied,
            position=done.position,
            seconds=round(done.seconds, 3),
        )
        return done

    def _report_if_following(self) -> None:
        if self.reports_health:
            self._report()

    @contextmanager
    def _heartbeat(self) -> Iterator[None]:
        """While a follower replays (minutes, on a long log), it still says it is
        alive every `HEARTBEAT_SECONDS`, from a thread of its own: a report not
        renewed is ``silent`` (`PROJECTOR_SILENT_SECONDS`), replaying or not —
        a worker killed mid-replay is not "rebuilding" for good."""
        if not self.reports_health:
            yield
            return
        done = threading.Event()

        def beat() -> None:
            while not done.wait(HEARTBEAT_SECONDS):
                self._report()

        beating = threading.Thread(target=beat, name="projector-heartbeat", daemon=True)
        beating.start()
        try:
            yield
        finally:
            done.set()
            beating.join()

    def _catch_up(
        self,
        batch_events: int,
        max_batch_events: int,
        on_batch: Callable[[int], None] | None,
        max_batches: int | None,
    ) -> CatchUp:
        started = time.perf_counter()
        applied = 0
        tracked = self.store.position()
        self._fold_until(tracked)
        batches = 0
        while max_batches is None or batches < max_batches:
            batches += 1
            reps: set[str] = set()
            runs: set[str] = set()
            since: dict[str, date | None] = {}
            counts: Counter[str] = Counter()
            event_reps: list[IndexRow] = []
            # Read in pages and folded as read: a batch is never held whole.
            for record in self.ledger.iter_log(after=tracked, limit=batch_events):
                counts[record.type] += 1
                touched, row = _fold(self.facts, record)
                reps |= touched
                changed = row[2]
                for rep in touched:
                    earlier = since.get(rep, changed)
                    since[rep] = (
                        None if changed is None or earlier is None else min(earlier, changed)
                    )
                event_reps.append(row)
                runs |= _runs_touched(self.facts, record)
                self._last = record
            if not event_reps:
                break
            position = event_reps[-1][0]
            rows = compute_rows(
                self.facts,
                _as_of(self._last, position),
                reps,
                runs,
                since=since,
                stored=self.store,
                totals=self._totals,
                cache=self._cache,
            )
            try:
                self.store.write(
                    Batch(
                        rows,
                        position,
                        counts,
                        event_reps,
                        after=tracked,
                        versions=current_versions(),
                    )
                )
            except IntegrityError:
                # The read models are no longer at ``tracked``: another worker
                # applied these positions first, or a replay committed since — at
                # an earlier position, maybe (it folded the log before this batch
                # was read). Follow them — unless the tracking position did not
                # move: then the rows were there before it (damaged read models),
                # and trying again would loop hot for good.
                self._totals.clear()
                moved = self.store.position()
                if moved == tracked:
                    raise ReadModelsDamagedError(tracked) from None
                tracked = moved
                self._fold_until(tracked)
                continue
            except BaseException:
                self._totals.clear()  # they may describe rows that were not written
                raise
            applied += len(event_reps)
            tracked = position
            if on_batch is not None:
                on_batch(len(event_reps))
            if len(event_reps) < batch_events:
                # It read up to the head as it stood: done. Writes that came in
                # since are the next catch-up's (a follower rests in between).
                break
            batch_events = min(batch_events * 2, max_batch_events)  # full: more are waiting
        return CatchUp(applied, tracked, time.perf_counter() - started)

    def follow(
        self,
        *,
        poll_seconds: float = 0.25,
        stop: Callable[[], bool] = lambda: False,
        batch_events: int = BATCH_EVENTS,
        max_batch_events: int = MAX_BATCH_EVENTS,
        max_busy: float = DEFAULT_MAX_BUSY,
        lock: AbstractContextManager[Any] | None = None,
        wait: Callable[[float], object] = time.sleep,
    ) -> None:
        """Catch up, then keep catching up as events arrive, until ``stop()``;
        busy at most ``max_busy`` of the time while writes stream in (`pause_after`).

        A batch that fails is retried after a growing delay (`health`, SPEC §7),
        logged in one line each time (its traceback the first time), and the
        failure reported beside the log for a `GET /health` in another process;
        the first batch that succeeds clears it. ``lock`` is held for each
        batch; ``wait`` sleeps (a stop event's ``wait`` ends early on stop).
        """
        pace = Pacing(batch_events, max_batch_events, max_busy)
        self.reports_health = True
        self._report()  # a new follower: what an earlier one reported is past
        reported = time.monotonic()
        while not stop():
            started = time.perf_counter()
            if time.monotonic() - reported >= HEARTBEAT_SECONDS:
                self._report()  # alive (`PROJECTOR_SILENT_SECONDS`)
                reported = time.monotonic()
            try:
                with lock if lock is not None else nullcontext():
                    done = self.catch_up(
                        batch_events=pace.batch_events,
                        max_batch_events=pace.batch_events,
                        max_batches=1,
                    )
            except Exception as exc:  # noqa: BLE001 - any failure backs off, none loops hot
                spent = time.perf_counter() - started
                wait(self._failed(exc, at_least=pause_after(spent, max_busy)))
                continue
            if self.health.failing:
                self._recovered(done.position)
            if not pace.after(done, self, stop):
                wait(poll_seconds)

    def _failed(self, exc: Exception, *, at_least: float) -> float:
        """One log line per failed attempt, with the traceback the first time."""
        delay = self.health.failed(exc, at_least=at_least)
        self._report()  # first: the health is what others read
        log.warning(
            "projection.catch_up_failed",
            error_type=self.health.error_type,
            error=self.health.error_message,
            attempt=self.health.failures,
            retry_in_seconds=delay,
            exc_info=exc if self.health.failures == 1 else None,
        )
        return delay

    def _recovered(self, position: int) -> None:
        log.warning(
            "projection.caught_up_again", position=position, failed_attempts=self.health.failures
        )
        self.health.recovered()
        self._report()

    def _report(self) -> None:
        """Keep the health beside the log (best effort: the store may be what fails)."""
        doc = {**self.health.to_dict(), "updated_at": datetime.now(UTC).isoformat()}
        try:
            self.ledger.chain.put_state(PROJECTOR_STATE, doc)
        except Exception:
            log.warning("projector health not kept", exc_info=True)

    def rest(
        self,
        seconds: float,
        position: int,
        stop: Callable[[], bool],
        *,
        quiet_seconds: float = 0.25,
    ) -> None:
        """Rest up to ``seconds`` after catching up to ``position``, but only while
        writes keep coming: once the head has stood still for ``quiet_seconds``
        (group commits land a few times a second under load), the writes have
        paused, and what is left is caught up now."""
        deadline = time.monotonic() + seconds
        last, moved = position, time.monotonic()
        while not stop() and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(_REST_STEP_SECONDS, left))
            head = self.ledger.head()
            now = head.position if head is not None else 0
            if now != last:
                last, moved = now, time.monotonic()
            elif time.monotonic() - moved >= quiet_seconds:
                return


@dataclass
class Pacing:
    """How a following projector takes the log: one batch at a time, each as
    large again as the last while they come back full (it is behind), then a
    rest in proportion to the batch (`pause_after`, `Projector.rest`) — behind
    or not, while writes keep coming it is busy at most ``max_busy`` of the time;
    when they stop, it catches up at full speed."""

    first_batch_events: int
    max_batch_events: int
    max_busy: float
    batch_events: int = 0

    def __post_init__(self) -> None:
        self.batch_events = self.first_batch_events

    def after(self, done: CatchUp, projector: Projector, stop: Callable[[], bool]) -> bool:
        """Rest after a batch; False when there was nothing to apply (poll then)."""
        if done.applied == 0:
            self.batch_events = self.first_batch_events
            return False
        if done.rebuilt:  # a one-off on start, not a batch to pace by
            self.batch_events = self.first_batch_events
            return True
        if done.applied >= self.batch_events:
            self.batch_events = min(self.batch_events * 2, self.max_batch_events)
        else:
            self.batch_events = self.first_batch_events
        projector.rest(pause_after(done.seconds, self.max_busy), done.position, stop)
        return True


# How often a resting follower looks whether writes still come in.
_REST_STEP_SECONDS = 0.05


# Index rows handed to the store at a time while a rebuild folds the log.
_REBUILD_INDEX_CHUNK = 50_000


def rebuild(
    ledger: Ledger,
    on_progress: Callable[[int], None] | None = None,
    *,
    workers: int | None = None,
) -> CatchUp:
    """Replace every read model with a replay of the whole log, in one transaction.

    The log is read and folded once, its replay index written as it goes; then
    every rep's periods are computed once and written, with the code's read-model
    versions. Readers see the old read models until the new ones are committed
    (none of them if it fails: run it again). The catch-up's batches would
    recompute a quarter once per batch that reaches it, and write it as often
    (1.3 sale steps computed per sale, 1M events). ``on_progress`` gets the
    events folded, a chunk at a time. The reps' rows are computed by
    ``workers`` processes forked after the fold (`projections.fanout`; None:
    one per usable core).
    """
    replayed = _replay_all(ledger, open_view_store(ledger), on_progress, workers=workers)
    assert replayed is not None  # only a replay `unless` some versions is superseded
    return replayed[0]


def _replay_all(
    ledger: Ledger,
    store: ViewStore,
    on_progress: Callable[[int], None] | None,
    *,
    workers: int | None = 1,
    unless: Mapping[str, int] | None = None,
) -> tuple[CatchUp, LedgerFacts, EventRecord | None] | None:
    """`rebuild` into ``store``; also the facts it folded and the last event.
    With ``unless`` (the versions it makes): None, having written nothing, once
    another process's replay has made them (`RebuildSession.superseded`)."""
    started = time.perf_counter()
    facts = LedgerFacts()
    counts: Counter[str] = Counter()
    last: EventRecord | None = None
    # Nothing of the fold outlives a rebuild command: no collection at the end
    # (1.5 s after 1M events) and nothing to freeze.
    with bulk(freeze=False), store.rebuilding(unless) as session:
        if session.superseded():
            return None
        chunk: list[IndexRow] = []
        for record in ledger.iter_log():
            counts[record.type] += 1
            chunk.append(_fold(facts, record)[1])
            last = record
            if len(chunk) == _REBUILD_INDEX_CHUNK:
                session.index(chunk)
                if on_progress is not None:
                    on_progress(len(chunk))
                chunk = []
                if session.superseded():
                    return None
        session.index(chunk)
        if on_progress is not None and chunk:
            on_progress(len(chunk))
        if session.superseded():
            return None
        position = last.position if last is not None else 0
        as_of = _as_of(last, position)
        folded = time.perf_counter() - started
        rows = encoded_rows(facts, as_of, facts.reps, facts.runs, workers=workers)
        if not session.finish(rows, position, counts):
            return None
    seconds = time.perf_counter() - started
    done = CatchUp(sum(counts.values()), position, seconds, fold_seconds=folded)
    return done, facts, last


def verify_views(
    ledger: Ledger, store: ViewStore | None = None, *, workers: int | None = 1
) -> list[str]:
    """Differences between the stored read models and a fresh replay (empty: equal).

    The replay's rows are computed by ``workers`` processes, as a rebuild's
    (`projections.fanout`; None: one per usable core) — 1 in a server, which must not fork.
    """
    store = store or open_view_store(ledger)
    position = store.position()
    facts = LedgerFacts()
    last = None
    fresh_index: dict[tuple[str, int], tuple[date | None, date | None]] = {}
    payouts: list[tuple[int, str, dict[str, Any]]] = []
    enrolments: list[RepKey] = []
    payments: list[PaymentKey] = []
    for record in ledger.iter_log(stop=position):
        _, (_, indexed, since, until) = _fold(facts, record)
        fresh_index.update(((rep, record.position), (since, until)) for rep in indexed)
        if record.type in CLAIM_STATES:
            payouts.append((record.position, record.type, record.data))
        elif record.type == REP_KEY_TYPE:
            enrolments.append(RepKey.of(record.data["rep_id"], record.position))
        elif record.type == PAYMENT_KEY_TYPE:
            data = record.data
            payments.append(PaymentKey(data["payment_id"], data["sale_id"], record.position))
        last = record
    as_of = _as_of(last, position)
    fresh_counts = facts.event_counts()
    # each row as stored (`encode_doc`: canonical JSON), compared in that form
    expected: dict[str, dict[tuple[str, str], str]] = {view: {} for view in VIEWS}
    for view, rows in encoded_rows(facts, as_of, facts.reps, facts.runs, workers=workers):
        expected[view].update(((scope, key), text) for scope, key, text in rows)
    problems: list[str] = []
    for view in VIEWS:
        stored = {(scope, key): doc for scope, key, doc in store.rows(view)}
        want = expected[view]
        problems.extend(
            f"{view} {key}: missing from the projection" for key in sorted(set(want) - set(stored))
        )
        problems.extend(
            f"{view} {key}: in the projection but not in a fresh replay"
            for key in sorted(set(stored) - set(want))
        )
        problems.extend(
            f"{view} {key}: differs from a fresh replay"
            for key in sorted(set(stored) & set(want))
            if encode_doc(stored[key]) != want[key]
        )
    if store.rep_index() != fresh_index:
        problems.append("rep_events: the replay index differs from a fresh replay")
    stored_counts = store.event_counts()
    if stored_counts != dict(fresh_counts):
        problems.append(
            f"event_counts: projection {dict(sorted(stored_counts.items()))} != "
            f"fresh replay {dict(sorted(fresh_counts.items()))}"
        )
    problems.extend(_claims_problems(ledger, payouts, position))
    problems.extend(_keys_problems(ledger, (REP_KEYS, "enrolment"), enrolments, position))
    problems.extend(_keys_problems(ledger, (PAYMENT_KEYS, "payment"), payments, position))
    if position > 0:  # rows were made by some code (an empty store is any version's)
        kept, code = store.versions(), current_versions()
        changes = version_changes(kept, code)
        # a newer release's read model: this code does not keep it up
        changes += [f"{name} {kept[name]} -> none" for name in unknown_models(kept, code)]
        problems.extend(
            f"versions: {change} (stored -> code): replay it (rebuild)" for change in changes
        )
    return problems


def _claims_problems(
    ledger: Ledger, payouts: list[tuple[int, str, dict[str, Any]]], position: int
) -> list[str]:
    """The payout claims index (`ledger.payout_claims`, what the payout rules read)
    against a replay of the log up to ``position``."""
    want = expected_claims(payouts)
    have = {c for c in ledger.chain.select_all_claims() if c.position <= position}
    return [
        *(f"payout_claims {tuple(c)}: missing from the index" for c in sorted(want - have)),
        *(
            f"payout_claims {tuple(c)}: in the index but not in a replay"
            for c in sorted(have - want)
        ),
    ]


def _keys_problems(
    ledger: Ledger, table: tuple[KeyTable, str], claims: list[Any], position: int
) -> list[str]:
    """A key table (`ledger.key_tables`: the rep ids' forms, the payment ids —
    what the store refuses a second spelling, a payment id of another sale
    against) against the ``claims`` of the log up to ``position``, made by the
    events ``table[1]`` names: each key claimed by its earliest event, at its
    position, and no row that no event claims. A row missing would let a second
    claim of its key in past the store; one too many would refuse a key nobody
    claimed."""
    keys, noun = table
    want: dict[str, Claim3] = {c[0]: c for c in earliest_claims(claims)}
    have = {c[0]: c for c in ledger.chain.select_all_keys(keys) if c[2] <= position}
    problems: list[str] = []
    for key in sorted(want.keys() | have.keys()):
        claim, row = want.get(key), have.get(key)
        if row is None:
            assert claim is not None  # a key of one of the two
            problems.append(f"{keys.name} {tuple(claim)}: missing from the table")
        elif claim is None:
            problems.append(f"{keys.name} {tuple(row)}: in the table but no {noun} claims it")
        elif row != claim:
            problems.append(f"{keys.name} {tuple(row)}: differs from the log's {tuple(claim)}")
    return problems
