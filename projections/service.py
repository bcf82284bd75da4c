"""The reporting service: statements, replays, diffs, histories and the payout
flow, on top of the ledger and its read models. The CLI and the API call this;
they compute nothing themselves."""

from __future__ import annotations

import csv
import io
import logging
import threading
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import orjson

from ledger.application import Ledger, RecordResult
from ledger.errors import InvalidInputError, NotFoundError
from ledger.records import EventRecord, loads_document
from policies.periods import Period, parse_period
from projections.diff import diff_statements
from projections.facts import LedgerFacts
from projections.runner import (
    BATCH_EVENTS,
    DEFAULT_MAX_BUSY,
    MAX_BATCH_EVENTS,
    CatchUp,
    Pacing,
    Projector,
    rebuild,
    total_and_events,
    verify_views,
)
from projections.statement import AsOf, Calculator, OutsideWindowError, statement_sha256

__all__ = ["Reports"]

log = logging.getLogger(__name__)


def _carries_in(facts: LedgerFacts, rep_id: str, period: Period) -> bool:
    """Whether ``period`` (open) may carry a balance in from an open period before."""
    previous = period.previous()
    return (
        previous >= facts.first_period(rep_id, period.kind)
        and facts.paid_run(rep_id, period) is None
        and facts.paid_run(rep_id, previous) is None
        and facts.plan_for(rep_id, previous) is not None
    )


def _period(text: str) -> Period:
    try:
        return parse_period(text)
    except ValueError as exc:
        raise InvalidInputError(str(exc), field="period") from None


class Reports:
    """Read-side operations of one ledger."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        projections: Literal["inline", "background", "external"] = "inline",
        read_wait_seconds: float = 2.0,
    ) -> None:
        """``projections`` says who keeps the read models current: this caller
        before each read (the CLI), a thread of this process (`start_following`,
        the API), or another process (the worker). In the last two, a read waits
        up to ``read_wait_seconds`` for the projections to reach the head, then
        serves them as of where they are (and says so in ``as_of``)."""
        self.ledger = ledger
        self.projections = projections
        self.read_wait_seconds = read_wait_seconds
        self._projector: Projector | None = None
        self._lock = threading.Lock()  # one catch-up at a time per process
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self._last_stamp: tuple[int, bytes] = (-1, b"")

    @property
    def projector(self) -> Projector:
        if self._projector is None:
            self._projector = Projector(self.ledger)
        return self._projector

    # -- replay ----------------------------------------------------------------

    def facts_at(self, position: int) -> tuple[LedgerFacts, AsOf]:
        """The facts as of ``position``: the fold of every event up to it."""
        facts = LedgerFacts()
        last: EventRecord | None = None
        for record in self.ledger.iter_log(stop=position):
            facts.apply(record)
            last = record
        if last is None:
            return facts, AsOf(0, None, None)
        return facts, AsOf(last.position, last.recorded_at, last.hash)

    def rep_facts_at(self, rep_id: str, position: int) -> tuple[LedgerFacts, AsOf]:
        """The facts one rep's figures need as of ``position``: only the events the
        replay index lists for the rep (and every plan), not the whole log."""
        if not self._indexed_to(position):  # the projections lag: replay the whole log
            return self.facts_at(position)
        records = self.ledger.read_positions(self.projector.store.rep_positions(rep_id, position))
        facts = LedgerFacts.of(records)
        return facts, self._as_of(position)

    def _indexed_to(self, position: int) -> bool:
        """Whether the read models and the replay index reach ``position`` (after
        bringing them there, or waiting a moment for whoever projects)."""
        store = self.projector.store
        if store.position() < position:
            self.fresh(position)
        return store.position() >= position

    def _as_of(self, position: int) -> AsOf:
        """Where ``position`` stands in the chain (its link, or the last before it)."""
        link = self.ledger.link_at(position)
        if link is None:
            return AsOf(0, None, None)
        return AsOf(link.position, link.recorded_at, link.hash)

    def statement(
        self, rep_id: str, period: str, *, as_of: str | int | None = None, locale: str = "en"
    ) -> dict[str, Any]:
        """A statement now (from the read models) or as of a position/timestamp (replay)."""
        wanted = _period(period)
        if as_of is None:
            # "now" is where the projections are (the head, unless a worker trails)
            position = self.fresh()
            cached = self._cached_json(rep_id, str(wanted)) if locale == "en" else None
            if cached is not None:
                return loads_document(cached)
        else:
            position = self.ledger.resolve_as_of(as_of)
            windowed = self._windowed_statement(rep_id, wanted, position, locale)
            if windowed is not None:
                return windowed
        facts, at = self.rep_facts_at(rep_id, position)
        return Calculator(facts, at, locale).statement(rep_id, wanted)

    def _windowed_statement(
        self, rep_id: str, period: Period, position: int, locale: str
    ) -> dict[str, Any] | None:
        """The statement as of ``position`` from only the events that reach into
        the periods it needs, or None when that cannot be shown to be exact
        (then the caller replays the rep's whole history).

        A period's own figures need its events (and a year of minor cases, the
        ladder's look-back), plus, when it is open, those of the paid periods
        just before it (their corrections land in it); the balance carried in
        starts from the last stored statement before it (the period before, or
        the last one with activity), whose total holds as of ``position`` when
        no event after it can change that period. A rep with years of sales
        thus replays one period's events, not its whole history.
        """
        if not self._indexed_to(position):
            return None  # the index does not reach that far yet
        window = self._window_facts(rep_id, period, position, period.first_day)
        known: dict[tuple[str, Period], tuple[Decimal, tuple[str, ...]]] = {}
        if window is not None and _carries_in(window[0], rep_id, period):
            stored = self._stored_total_before(rep_id, period, position)
            if stored is None:
                return None
            last, total = stored
            known[rep_id, last] = total
            if last.next().first_day < window[1]:  # compute the periods between too
                window = self._window_facts(rep_id, period, position, last.next().first_day)
        if window is None:
            return None
        facts, start = window
        at = self._as_of(position)
        calc = Calculator(facts, at, locale, known_totals=known, window_start=start)
        try:
            return calc.statement(rep_id, period)
        except OutsideWindowError:
            return None

    def _stored_total_before(
        self, rep_id: str, period: Period, position: int
    ) -> tuple[Period, tuple[Decimal, tuple[str, ...]]] | None:
        """The last stored statement before ``period`` (periods after the rep's
        last activity have none) and its total, if it holds as of ``position``:
        no event after that can change it."""
        store = self.projector.store
        key = store.last_key_before("statements", rep_id, str(period))
        if key is None:
            return None
        last = parse_period(key)
        changed = store.earliest_change_after(rep_id, position)
        if last.kind != period.kind or (changed is not None and changed <= last.last_day):
            return None
        row = store.row("statements", rep_id, key)
        return (last, total_and_events(row)) if row is not None else None

    def _window_facts(
        self, rep_id: str, period: Period, position: int, start: date
    ) -> tuple[LedgerFacts, date] | None:
        """The facts of the events that can change ``period`` or the days from
        ``start`` to it (widened to the paid periods just before it, when it is
        open: their corrections land in it), and the first day they cover."""
        store = self.projector.store
        for _ in range(2):
            positions = store.rep_positions(
                rep_id, position, reaching=start, through=period.last_day
            )
            facts = LedgerFacts.of(self.ledger.read_positions(positions))
            if rep_id not in facts.reps or facts.period_kind(rep_id) != period.kind:
                return None  # the whole replay says why
            first = facts.first_period(rep_id, period.kind)
            needed = period
            if facts.paid_run(rep_id, period) is None:
                while needed.previous() >= first and facts.paid_run(rep_id, needed.previous()):
                    needed = needed.previous()
            if needed.first_day >= start:
                return facts, start
            start = needed.first_day  # read again, from the first paid period needed
        return None

    def statement_json(
        self, rep_id: str, period: str, *, as_of: str | int | None = None, locale: str = "en"
    ) -> bytes:
        """`statement` as JSON bytes; from the read model, without decoding it.

        A statement can explain thousands of sales: served from the projection it
        is the stored document with its ``as_of`` and ``chain_head`` spliced in,
        never parsed and re-serialised.
        """
        if as_of is None and locale == "en":
            self.fresh()
            cached = self._cached_json(rep_id, str(_period(period)))
            if cached is not None:
                return cached
        return orjson.dumps(self.statement(rep_id, period, as_of=as_of, locale=locale))

    def _cached_json(self, rep_id: str, period: str) -> bytes | None:
        """The stored statement with ``as_of`` and ``chain_head`` spliced in.

        Valid as of the projection's position (it may trail the head when a
        separate worker projects), which is what those two fields say.
        """
        stored, position = self.projector.store.row_json_at("statements", rep_id, period)
        if stored is None:
            return None
        return stored.rstrip()[:-1] + b"," + self._stamp(position)[1:]  # {...stored, ...stamp}

    def _stamp(self, position: int) -> bytes:
        """``{"as_of", "chain_head"}`` of ``position`` as JSON; the last one is kept
        (chain links never change, and reads between two batches share it)."""
        last = self._last_stamp  # one read: other threads may replace it
        if last[0] != position:
            at = self._as_of(position)
            stamp = orjson.dumps({"as_of": at.to_dict(), "chain_head": at.head()})
            last = self._last_stamp = (position, stamp)
        return last[1]

    def diff(self, rep_id: str, period: str, a: str | int, b: str | int) -> dict[str, Any]:
        """What changed in a rep's period between two points of the event order."""
        pa = self.ledger.resolve_as_of(a, field="from")
        pb = self.ledger.resolve_as_of(b, field="to")
        before = self.statement(rep_id, period, as_of=pa)
        after = self.statement(rep_id, period, as_of=pb)
        low, high = min(pa, pb), max(pa, pb)
        between = {
            r.event_id: {
                "event_id": r.event_id,
                "type": r.type,
                "position": r.position,
                "actor": r.actor,
                "occurred_at": r.occurred_at.isoformat(),
            }
            for r in self.ledger.iter_log(after=low, stop=high)
        }
        return diff_statements(before, after, between)

    def rep(self, rep_id: str) -> dict[str, Any]:
        """The rep's directory row (team, manager, plans); NotFoundError if none."""
        self.fresh()
        rows = self.projector.store.rows("reps", rep_id)
        if not rows:
            raise NotFoundError(f"no rep {rep_id}", field="rep_id")
        return rows[0][2]

    def history(self, rep_id: str) -> list[dict[str, Any]]:
        """The rep's disciplinary history, from its read model."""
        self.rep(rep_id)
        return [doc for _, _, doc in self.projector.store.rows("discipline", rep_id)]

    def disputes(self, rep_id: str) -> list[dict[str, Any]]:
        self.rep(rep_id)
        return [doc for _, _, doc in self.projector.store.rows("disputes", rep_id)]

    def reps_of_event(self, position: int) -> list[str]:
        """The reps the event at ``position`` concerns (the index the API's access
        checks use; "*": every rep)."""
        self.fresh()
        return self.projector.store.reps_at(position)

    def first_unpaid_period(self, rep_id: str, after: str) -> str:
        """The rep's first unpaid period after ``after`` (where a dispute's
        adjustment of a paid period goes)."""
        head = self.ledger.head()
        facts, at = self.rep_facts_at(rep_id, head.position if head else 0)
        if rep_id not in facts.reps:
            raise NotFoundError(f"no rep {rep_id}", field="rep_id")
        return str(Calculator(facts, at).first_unpaid_after(rep_id, _period(after)))

    # -- projections -----------------------------------------------------------

    def catch_up(self) -> CatchUp:
        with self._lock:
            return self.projector.catch_up()

    def fresh(self, position: int | None = None) -> int:
        """Bring the projections to ``position`` (default: the head), or wait for
        whoever projects; returns the position they are at."""
        store = self.projector.store
        if self.projections == "inline":
            return self.catch_up().position
        if position is None:
            head = self.ledger.head()
            position = head.position if head else 0
        deadline = time.monotonic() + self.read_wait_seconds
        while store.position() < position and time.monotonic() < deadline:
            time.sleep(0.005)
        return store.position()

    def start_following(
        self, poll_seconds: float = 0.05, max_busy: float = DEFAULT_MAX_BUSY
    ) -> None:
        """Keep the projections current from a background thread of this process
        (busy at most ``max_busy`` of the time, see `projections.runner.pause_after`)."""
        assert self.projections == "background", "only a background projector follows"

        def follow() -> None:
            pace = Pacing(BATCH_EVENTS, MAX_BATCH_EVENTS, max_busy)
            while not self._stop.is_set():
                try:
                    with self._lock:  # one batch at a time: the rest is outside the lock
                        done = self.projector.catch_up(
                            batch_events=pace.batch_events,
                            max_batch_events=pace.batch_events,
                            max_batches=1,
                        )
                except Exception:
                    log.exception("projection catch-up failed; retrying")
                    self._stop.wait(poll_seconds)
                    continue
                if not pace.after(done, self.projector, self._stop.is_set):
                    self._stop.wait(poll_seconds)

        self._follower = threading.Thread(target=follow, name="projector", daemon=True)
        self._follower.start()

    def stop_following(self, timeout: float = 60.0) -> bool:
        """Stop the background projector after its batch; False if it was still
        at work after ``timeout`` seconds (then keep the store open under it)."""
        self._stop.set()
        if self._follower is None:
            return True
        self._follower.join(timeout=timeout)
        return not self._follower.is_alive()

    def rebuild(self) -> CatchUp:
        self._projector = None
        return rebuild(self.ledger)

    def verify_projections(self) -> list[str]:
        self.catch_up()
        return verify_views(self.ledger, self.projector.store)

    # -- the payout flow -------------------------------------------------------

    def payout_run(self, period: str, *, actor: str, run_id: str | None = None) -> RecordResult:
        """Compute every eligible rep's statement for ``period`` and record the run."""
        wanted = _period(period)
        head = self.ledger.head()
        facts, at = self.facts_at(head.position if head else 0)
        calc = Calculator(facts, at)
        statements = []
        for rep_id in sorted(facts.reps):
            if not self._eligible(facts, rep_id, wanted):
                continue
            statement = calc.statement(rep_id, wanted)
            statement["sha256"] = statement_sha256(statement)
            statements.append(statement)
        if not statements:
            raise InvalidInputError(
                f"no rep has an unpaid {wanted} to pay (all paid, or none enrolled)",
                field="period",
            )
        run = run_id or f"run-{wanted}-{uuid.uuid4().hex[:8]}"
        return self.ledger.record_payout_run(
            run,
            str(wanted),
            statements,
            position=at.position,
            chain_head=at.head(),
            actor=actor,
        )

    @staticmethod
    def _eligible(facts: LedgerFacts, rep_id: str, period: Period) -> bool:
        rep = facts.reps[rep_id]
        if rep.enrolled.occurred_at.date() > period.last_day:
            return False
        if rep.left is not None and rep.left.occurred_at.date() < period.first_day:
            return False
        plan = facts.plan_for(rep_id, period)
        if plan is None or plan.period != period.kind:
            return False
        return facts.paid_run(rep_id, period) is None

    def run(self, run_id: str) -> dict[str, Any]:
        head = self.ledger.head()
        facts, _ = self.facts_at(head.position if head else 0)
        if run_id not in facts.runs:
            raise NotFoundError(f"no payout run {run_id}", field="run_id")
        info = facts.runs[run_id]
        decision = facts.decisions.get(run_id)
        return {
            **info.record.data,
            "calculated_by": info.record.actor,
            "approved": None if decision is None else decision.granted,
            "decided_by": decision.record.actor if decision else None,
            "paid": info.paid is not None,
        }

    def export_csv(self, run_id: str) -> str:
        """The payroll file of a run: one row per rep, with the statement hash and
        the chain head the run was computed at."""
        run = self.run(run_id)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            [
                "run_id",
                "period",
                "rep_id",
                "currency",
                "total",
                "payable",
                "statement_sha256",
                "chain_position",
                "chain_hash",
                "status",
                "exported_at",
            ]
        )
        status = "paid" if run["paid"] else ("approved" if run["approved"] else "not approved")
        exported = datetime.now(UTC).isoformat(timespec="seconds")
        for s in run["statements"]:
            writer.writerow(
                [
                    run_id,
                    run["period"],
                    s["rep_id"],
                    s["currency"],
                    s["total"],
                    s["payable"],
                    s["sha256"],
                    run["chain_head"]["position"],
                    run["chain_head"]["hash"],
                    status,
                    exported,
                ]
            )
        return buffer.getvalue()
