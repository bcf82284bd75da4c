"""The reporting service: statements, replays, diffs, histories and the payout
flow, on top of the ledger and its read models. The CLI and the API call this;
they compute nothing themselves."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, Literal, NamedTuple

import orjson

from ledger import catalogue
from ledger.application import Ledger
from ledger.chain import GENESIS
from ledger.chain_guard import log_rows
from ledger.decision import Decision
from ledger.domain import event_id_text
from ledger.errors import (
    BrokenChainError,
    InvalidInputError,
    NotFoundError,
    ReadModelsDamagedError,
    ReadModelsNewerError,
    TamperedStatementError,
    shown_id,
    unknown_run,
)
from ledger.payout_claims import CALCULATED, PAID, Claim
from ledger.payout_run import PayoutRun
from ledger.records import EventRecord, bulk, loads_document
from ledger.rep import Rep
from ledger.sale import sale_reps_of
from policies.periods import Period, parse_period, period_of, stored_period
from policies.plan import Plan
from projections.balances import period_rows
from projections.bundle import bundle_document, rep_positions_by_replay
from projections.diff import EventSummary, StatementDiff, WithheldEvent, diff_statements
from projections.discipline_history import HistoryEntry, history_entries
from projections.disputes import DirectoryRow, DisputeRow, RepRow
from projections.facts import LedgerFacts
from projections.kept_views import KeptView, KeptViews, ViewKey
from projections.payout_runs import run_status
from projections.payroll import (
    CsvEncoding,
    ExportedStatement,
    PayrollLayout,
    RunExport,
    payroll_table,
    standard_table,
    to_csv,
    to_xlsx,
)
from projections.runner import (
    DEFAULT_MAX_BUSY,
    PROJECTOR_SILENT_SECONDS,
    PROJECTOR_STATE,
    RETRY_FIRST_SECONDS,
    RETRY_MAX_SECONDS,
    CatchUp,
    Projector,
    rebuild,
    total_and_events,
    verify_views,
)
from projections.statement import (
    AsOf,
    Calculator,
    OutsideWindowError,
    StepCache,
    statement_sha256,
)
from projections.summary import (
    AUTO_SUMMARY_STEPS,
    DEFAULT_STEP_LIMIT,
    StepPage,
    page_statement,
    step_count,
    summarise,
)
from projections.whatif import (
    Estimate,
    EstimateSale,
    WhatIf,
    candidate_input,
    check_estimate_period,
    eligible,
    estimate_report,
    sale_input,
    whatif_report,
)

__all__ = ["PaidReader", "Reports"]

log = logging.getLogger(__name__)

_ESTIMATE_REPS = 16  # reps whose facts `Reports.estimate` keeps


def _carries_in(facts: LedgerFacts, rep_id: str, period: Period) -> bool:
    """Whether ``period`` (open) may carry a balance in from an open period before."""
    previous = period.previous()
    return (
        previous >= facts.first_period(rep_id, period.kind)
        and facts.paid_run(rep_id, period) is None
        and facts.paid_run(rep_id, previous) is None
        and facts.plan_for(rep_id, previous) is not None
    )


# How a stored paid statement reads (`_doc`: compact, sorted keys); a copy
# edited not to say so is still checked (`Reports._prove_paid`).
_PAID_MARK = b'"status":"paid"'
# What a paid statement states anew rather than repeats from the recorded one.
_RESTATED = frozenset({"as_of", "chain_head", "status", "sha256"})
# In every view of a paid statement, and in none of an open one's.
_LATER_EVENTS = b'"later_events"'
# a paid statement's correction named (compact JSON; none: `"correction_to":null`)
_CORRECTION_TO = b'"correction_to":"'


def _paid_up_to(claims: Sequence[Claim], position: int) -> list[Claim]:
    """The payments among ``claims`` recorded up to ``position``, earliest first."""
    return sorted((c for c in claims if c.state == PAID and c.position <= position), key=_at)


def _at(claim: Claim) -> int:
    return claim.position


def _as_recorded(
    doc: dict[str, Any], recorded: dict[str, Any], *, translated: bool
) -> dict[str, Any]:
    """The recorded statement as ``doc`` repeats it: each recorded field as served
    (``as_of``, ``chain_head`` and ``status`` as recorded: a paid statement
    states them anew). Translated lines count as the recorded ones when only
    their words differ (`Calculator._translated` renders the words again)."""
    view: dict[str, Any] = {}
    for key, value in recorded.items():
        if key == "sha256":
            continue
        if key in _RESTATED:
            view[key] = value
        elif key not in doc:
            view[key] = {"missing from the served statement": key}
        elif key == "lines" and translated and _wordless(doc[key]) == _wordless(value):
            view[key] = value
        else:
            view[key] = doc[key]
    return view


def _wordless(lines: Any) -> Any:
    """Statement lines without the rendered words of their steps (a copy of
    another shape is returned as it is: it then fails the hash)."""
    try:
        return [
            {
                **line,
                "explanation": [
                    {k: v for k, v in step.items() if k != "text"} for step in line["explanation"]
                ],
            }
            for line in lines
        ]
    except (TypeError, KeyError, AttributeError):
        return lines


class PaidReader(NamedTuple):
    """What one reader is told of a paid statement's later history: the later
    events they may read (``event``: GET /events' rule), and the rep's
    periods whose statements they read (``period``), where a correction may
    have gone (`Reports.paid_as_read`)."""

    event: Callable[[EventRecord], bool]
    period: Callable[[str], bool]


def _booked_as_read(entry: Mapping[str, Any], reader: PaidReader) -> dict[str, Any]:
    """A later event named to ``reader``: with the period its correction went
    to (``correction_in``) only when they read that period's statement."""
    booked = entry.get("correction_in")
    if isinstance(booked, str) and not reader.period(booked):
        return {k: v for k, v in entry.items() if k != "correction_in"}
    return dict(entry)


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
        today: Callable[[], date] | None = None,
    ) -> None:
        """``projections`` says who keeps the read models current: this caller
        before each read (the CLI), a thread of this process (`start_following`,
        the API), or another process (the worker). In the last two, a read waits
        up to ``read_wait_seconds`` for the projections to reach the head, then
        serves them as of where they are (and says so in ``as_of``). ``today``:
        the day a question is asked (default: the UTC date), which decides a
        rep's team and manager (`rep`, and the lists' scope)."""
        self.ledger = ledger
        self.projections = projections
        self.read_wait_seconds = read_wait_seconds
        self.today: Callable[[], date] = today or _utc_today
        self._projector: Projector | None = None
        self._projector_made = threading.Lock()  # `projector`: one made, whoever asks first
        self._lock = threading.Lock()  # one catch-up at a time per process
        # the position this context's `snapshot` reads as of (None: not in one)
        self._snapshot_at: ContextVar[int | None] = ContextVar(
            f"reports-snapshot-{id(self)}", default=None
        )
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self._last_stamp: tuple[int, bytes] = (-1, b"")
        # the summaries and pages of statements served (`KeptViews`)
        self._summaries = KeptViews(max_entries=_KEPT_SUMMARIES, max_bytes=_KEPT_BYTES)
        self._making: dict[ViewKey, threading.Lock] = {}  # a lock per view being made
        # rep -> (the read models' position, its directory row there)
        self._directory: dict[str, tuple[int, DirectoryRow]] = {}
        # rep -> (head position, facts, calculator, step cache) of recent estimates
        self._estimates: dict[str, _KeptRep] = {}
        self._estimates_lock = threading.Lock()

    @property
    def projector(self) -> Projector:
        """The one projector of these reports, made on first use — once: two
        request threads asking at once (the API reading with an external
        projector) each made one, a snapshot pinned on one's store while
        reads went to the other's."""
        projector = self._projector
        if projector is None:
            with self._projector_made:
                projector = self._projector
                if projector is None:
                    projector = self._projector = Projector(self.ledger)
        return projector

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
        if facts.reads_other_reps(rep_id):  # a manager's overrides: the whole log
            return self.facts_at(position)
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
        translated = locale != "en"
        if as_of is None:
            # "now" is where the projections are (the head, unless a worker trails)
            position = self.fresh()
            cached = self._cached_json(rep_id, str(wanted)) if not translated else None
            if cached is not None:
                doc = loads_document(cached)
                self._prove_paid(doc, rep_id, wanted, translated=False)
                return doc
        else:
            position = self.ledger.resolve_as_of(as_of)
            windowed = self._windowed_statement(rep_id, wanted, position, locale)
            if windowed is not None:
                self._prove_paid(windowed, rep_id, wanted, translated=translated)
                return windowed
        facts, at = self.rep_facts_at(rep_id, position)
        result = Calculator(facts, at, locale).statement(rep_id, wanted)
        self._prove_paid(result, rep_id, wanted, translated=translated)
        return result

    def _windowed_statement(
        self, rep_id: str, period: Period, position: int, locale: str
    ) -> dict[str, Any] | None:
        """The statement as of ``position`` from `_window_calculator`'s facts, or
        None when that cannot be shown to be exact."""
        found = self._window_calculator(rep_id, period, position, locale)
        if found is None:
            return None
        try:
            return found[1].statement(rep_id, period)
        except OutsideWindowError:
            return None

    def _window_calculator(
        self, rep_id: str, period: Period, position: int, locale: str
    ) -> tuple[LedgerFacts, Calculator] | None:
        """The facts and calculator of the statement as of ``position`` from only
        the events that reach into the periods it needs, or None when that
        cannot be shown to be exact (then the caller replays the rep's whole
        history).

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
            team = self._team_now(rep_id) if window[0].reads_other_reps(rep_id) else []
            stored = self._stored_total_before(rep_id, period, position, team)
            if stored is None:
                return None
            last, total = stored
            known[rep_id, last] = total
            if last.next().first_day < window[1]:  # compute the periods between too
                window = self._window_facts(rep_id, period, position, last.next().first_day)
        if window is None:
            return None
        facts, start, read_from = window
        at = self._as_of(position)
        calc = Calculator(
            facts, at, locale, known_totals=known, window_start=start, facts_from=read_from
        )
        return facts, calc

    def period_rows_at(
        self, rep_id: str, period: Period, position: int
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The balances and attainment rows of ``rep_id``'s ``period`` as of
        ``position`` — for a period the read models hold no row of (nothing
        recorded for the rep in it) — or None when the rep has no statement
        there (not enrolled by its end, gone before it started, paid by another
        kind of period, no plan version in force). Worked out from the period's
        window and the stored total before it when that is exact (a few events,
        not the rep's history: a summary asks this for every quiet rep), else
        from the rep's whole replay."""
        found = self._window_calculator(rep_id, period, position, "en")
        if found is not None:
            facts, calc = found
            if not eligible(facts, rep_id, period):
                return None
            with contextlib.suppress(OutsideWindowError):
                return period_rows(facts, rep_id, calc.statement(rep_id, period))
        facts, at = self.rep_facts_at(rep_id, position)
        if rep_id not in facts.reps or not eligible(facts, rep_id, period):
            return None
        return period_rows(facts, rep_id, Calculator(facts, at).statement(rep_id, period))

    def _team_now(self, manager_id: str) -> list[str]:
        """`_team_of` by every reporting event stored (the team only grows)."""
        head = self.ledger.head()
        org = self.ledger.positions_of(catalogue.NAMES_MANAGER, head.position if head else 0)
        return self._team_of(manager_id, org)

    def _stored_total_before(
        self, rep_id: str, period: Period, position: int, team: Sequence[str] = ()
    ) -> tuple[Period, tuple[Decimal, tuple[str, ...]]] | None:
        """The last stored statement before ``period`` (periods after the rep's
        last activity have none) and its total, if it holds as of ``position``:
        no event after that can change it (nor, for a manager, the figures of
        anyone on ``team``, on which the override rests)."""
        store = self.projector.store
        key = store.last_key_before("statements", rep_id, str(period))
        if key is None:
            return None
        last = stored_period(key)
        if last.kind != period.kind:
            return None
        for whose in (rep_id, *team):
            changed = store.earliest_change_after(whose, position)
            if changed is not None and changed <= last.last_day:
                return None
        row = store.row("statements", rep_id, key)
        return (last, total_and_events(row)) if row is not None else None

    def _window_facts(
        self, rep_id: str, period: Period, position: int, start: date
    ) -> tuple[LedgerFacts, date, date] | None:
        """The facts of the events that can change ``period`` or the days from
        ``start`` to it (widened to the paid periods just before it, when it is
        open: their corrections land in it), the first day of the periods they
        are computed for, and the first day they were read from: earlier when
        the rep is paid on collection and a payment in those periods is of a
        sale booked before them (its booking period is read for what the sale
        earned there, SPEC §3.1)."""
        store = self.projector.store
        read_from = start
        read: dict[int, EventRecord] = {}  # each event read once, however wide the window
        for _ in range(3):
            span = (read_from, period.last_day)
            positions = store.rep_positions(rep_id, position, span)
            facts = self._facts_of(positions, read)
            if rep_id not in facts.reps or facts.period_kind(rep_id) != period.kind:
                return None  # the whole replay says why
            if facts.reads_other_reps(rep_id):  # a manager's overrides: with the team's
                facts = self._with_team(rep_id, position, span, positions, read)
            first = facts.first_period(rep_id, period.kind)
            needed = period
            if facts.paid_run(rep_id, period) is None:
                while needed.previous() >= first and facts.paid_run(rep_id, needed.previous()):
                    needed = needed.previous()
            start = min(start, needed.first_day)  # from the first paid period needed
            wanted = min(start, self._booked_from(facts, rep_id, period, position, start))
            if wanted >= read_from:
                return facts, start, read_from
            read_from = wanted  # read again, from there
        return None

    def _facts_of(self, positions: Sequence[int], read: dict[int, EventRecord]) -> LedgerFacts:
        """The fold of the events at ``positions`` (ascending), those not in
        ``read`` read now (and kept there)."""
        missing = [p for p in positions if p not in read]
        if missing:
            read.update((r.position, r) for r in self.ledger.read_positions(missing))
        return LedgerFacts.of(read[p] for p in positions if p in read)

    def _with_team(
        self,
        manager_id: str,
        position: int,
        span: tuple[date, date],
        positions: list[int],
        read: dict[int, EventRecord],
    ) -> LedgerFacts:
        """A manager's window facts (``positions``) with every rep's reporting
        events and the team's own events in ``span``: an override reads the
        sales of whoever reported to the manager (two levels) at each sale's
        moment (SPEC §3.1), which the manager's own index may not all list (a
        report's events recorded before the manager's plan paid overrides)."""
        store = self.projector.store
        org = self.ledger.positions_of(catalogue.NAMES_MANAGER, position)
        wanted = {*positions, *org}
        for rep_id in self._team_of(manager_id, org, read):
            wanted.update(store.rep_positions(rep_id, position, span))
        return self._facts_of(sorted(wanted), read)

    def _team_of(
        self, manager_id: str, org: list[int], read: dict[int, EventRecord] | None = None
    ) -> list[str]:
        """The reps who ever reported to ``manager_id`` or to one of their
        reports, by the reporting events at ``org`` (as `Calculator._team_sales`)."""
        ever = self._facts_of(org, {} if read is None else read).managers_ever
        return sorted(
            rep
            for rep, managers in ever.items()
            if manager_id in managers or any(manager_id in ever.get(m, ()) for m in managers)
        )

    def _booked_from(
        self, facts: LedgerFacts, rep_id: str, period: Period, position: int, start: date
    ) -> date:
        """The first day of the earliest booking period of a payment received
        from ``start`` to the end of ``period``, when a plan ever assigned to the
        rep pays on collection (else ``start``): the plan of the booking period,
        not of the period the payment falls in, decides what it releases — a rep
        moved from a collection plan to one paid on booking is still released
        what their earlier sales earned (`Calculator._with_releases`)."""
        if not facts.paid_on_collection(rep_id):
            return start
        reach = self.projector.store.earliest_reach(rep_id, position, (start, period.last_day))
        if reach is None or reach >= start:
            return start
        moment = datetime.combine(reach, datetime.min.time(), tzinfo=UTC)
        return period_of(moment, period.kind).first_day

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
            wanted = _period(period)
            found = self._cached(rep_id, str(wanted))
            if found is not None:
                cached, position = found
                # decoded only when paid (or said to be): it must prove itself
                if _PAID_MARK in cached or self._paid_claims(rep_id, wanted, position):
                    self._prove_paid(loads_document(cached), rep_id, wanted, translated=False)
                return cached
        return orjson.dumps(self.statement(rep_id, period, as_of=as_of, locale=locale))

    def later_events_read(
        self, later: Sequence[Mapping[str, Any]], reader: PaidReader
    ) -> list[dict[str, Any]] | None:
        """A paid statement's ``later_events`` as named to ``reader``
        (``api.auth.paid_reader``, GET /events' rule): those its ``event``
        passes, each with the period its correction went to when its
        ``period`` reads that period's statement, then one `WithheldEvent`
        for all the others — neither id, type, actor nor time, as a diff
        withholds a cause; how many is theirs too. An event not found is not
        named unjudged. None when every one is named whole: the statement is
        served as it is."""
        # an entry named without its record (`_event_ref`'s fallback) has no
        # position: not found, so withheld like any other not judged
        positions = [int(e["position"]) for e in later if e.get("position") is not None]
        records = {r.event_id: r for r in self.ledger.read_positions(positions)}
        named = [
            _booked_as_read(e, reader)
            for e in later
            if (r := records.get(e["event_id"])) is not None and reader.event(r)
        ]
        if len(named) < len(later):
            return [*named, WithheldEvent().doc()]
        return None if named == [dict(e) for e in later] else named

    def paid_as_read(self, doc: Mapping[str, Any], reader: PaidReader) -> dict[str, Any] | None:
        """What of a paid statement ``doc`` (any view) differs as told to
        ``reader``: its ``later_events`` (`later_events_read`) and its
        ``correction_to`` — named only when the reader reads that period's
        statement: a manager the rep left reads the periods they managed, not
        the one a correction went to on another's watch (whether it was paid
        since decides it). None when they are told it all."""
        changed: dict[str, Any] = {}
        later = self.later_events_read(doc.get("later_events") or [], reader)
        if later is not None:
            changed["later_events"] = later
        target = doc.get("correction_to")
        if isinstance(target, str) and not reader.period(target):
            changed["correction_to"] = None
        return changed or None

    def later_events_withheld(self, body: bytes, reader: Callable[[], PaidReader | None]) -> bytes:
        """A statement view as served (``body``: the full view, a page or the
        summary) as `paid_as_read` tells it to its reader; the bytes as they
        are when it tells them all.

        ``reader`` (the reader's judge, or None for one who reads every later
        event and every period of the rep) is asked only of a body that names
        a later event or the period a correction went to (a paid statement's
        correction may name no event: one the code's own change made): an
        open statement, and any statement read by the rep, finance or
        their manager today, keeps the stored bytes, undecoded, and so its
        ETag. The body that withholds some is another, and so is its tag
        (``api.caching``: the tag is of the bytes answered)."""
        if _LATER_EVENTS not in body:  # open: one look through it (megabytes, some)
            return body
        if (
            # a paid statement with none: `"later_events":[]` (compact JSON)
            body.count(_LATER_EVENTS) == 1
            and _LATER_EVENTS + b":[]" in body
            and _CORRECTION_TO not in body  # only a paid statement's names one
        ):
            return body
        judge = reader()
        if judge is None:
            return body
        doc = loads_document(body)
        changed = self.paid_as_read(doc, judge)
        return body if changed is None else orjson.dumps(doc | changed)

    def _cached_json(self, rep_id: str, period: str) -> bytes | None:
        found = self._cached(rep_id, period)
        return found[0] if found is not None else None

    def _cached(self, rep_id: str, period: str) -> tuple[bytes, int] | None:
        """The stored statement with ``as_of`` and ``chain_head`` spliced in, and
        the position it is valid as of.

        Valid as of the projection's position (it may trail the head when a
        separate worker projects), which is what those two fields say.
        """
        stored, position = self.projector.store.row_json_at("statements", rep_id, period)
        if stored is None:
            return None
        # {...stored, ...stamp}
        return stored.rstrip()[:-1] + b"," + self._stamp(position)[1:], position

    # -- statement views: the summary and pages of the full view (SPEC §4) ------

    def statement_view_json(
        self,
        rep_id: str,
        period: str,
        *,
        view: Literal["full", "summary"] = "full",
        as_of: str | int | None = None,
        locale: str = "en",
        offset: int | None = None,
        limit: int | None = None,
    ) -> bytes:
        """The statement as JSON in ``view``: the full view (`statement_json`),
        a page of its steps when ``offset`` or ``limit`` is given
        (`projections.summary.page_statement`), or the summary (`summary_json`),
        which is one page: paging it is refused. Summaries and pages are kept
        (`_kept_json`)."""
        if view == "summary":
            _one_page(offset, limit)
            return self.summary_json(rep_id, period, as_of=as_of, locale=locale)
        if offset is None and limit is None:
            return self.statement_json(rep_id, period, as_of=as_of, locale=locale)
        page = StepPage(offset or 0, limit if limit is not None else DEFAULT_STEP_LIMIT)
        return self._kept_json(
            (rep_id, period, view, locale, offset, limit),
            as_of,
            lambda doc: orjson.dumps(page_statement(doc, page)),
        )

    def kept_view_json(
        self,
        rep_id: str,
        period: str,
        position: int,
        *,
        view: Literal["full", "summary"] = "full",
        locale: str = "en",
        offset: int | None = None,
        limit: int | None = None,
    ) -> bytes | None:
        """`statement_view_json` now, if it is kept and still holds at
        ``position`` (`now_position`): a lookup and at most one small read of
        the replay index, without waiting (the API serves it on its event
        loop). None: make it with `statement_view_json`."""
        if not self.keeps(view, offset, limit):
            return None
        return self._kept_now((rep_id, period, view, locale, offset, limit, None), position)

    @staticmethod
    def keeps(view: str, offset: int | None, limit: int | None) -> bool:
        """Whether the view is kept (`kept_view_json`): the summary and pages; the
        full view is the stored document itself (`statement_json`)."""
        return view != "full" or offset is not None or limit is not None

    def now_position(self) -> int | None:
        """The position a read now is served at, read without waiting: that of
        the read models when they have reached the head (or nobody is bringing
        them there); None when `fresh` would wait for them or, inline, project."""
        if self.projections == "inline":
            return None
        head, at = self.projector.store.read_point()
        if at < head and not self._projector_unavailable():
            return None
        return at

    def statement_view(
        self,
        rep_id: str,
        period: str,
        *,
        view: Literal["full", "summary", "auto"] = "full",
        as_of: str | int | None = None,
        locale: str = "en",
        offset: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The statement in ``view`` as a document; ``auto``: the summary when
        the statement explains more than `AUTO_SUMMARY_STEPS` steps (the CLI's
        default: a long statement stays readable). ``offset``/``limit``: a page
        of the full view's steps, as `statement_view_json` makes it."""
        if offset is not None or limit is not None:
            if view == "summary":
                _one_page(offset, limit)
            body = self.statement_view_json(
                rep_id, period, as_of=as_of, locale=locale, offset=offset, limit=limit
            )
            return loads_document(body)
        if view == "summary":
            return loads_document(self.summary_json(rep_id, period, as_of=as_of, locale=locale))
        doc = self.statement(rep_id, period, as_of=as_of, locale=locale)
        if view == "auto" and step_count(doc) > AUTO_SUMMARY_STEPS:
            return summarise(doc, locale)
        return doc

    def summary_json(
        self, rep_id: str, period: str, *, as_of: str | int | None = None, locale: str = "en"
    ) -> bytes:
        """The summary view as JSON bytes (`projections.summary.summarise` of the
        statement as served: a paid one is proven first), kept (`_kept_json`)."""
        if as_of is not None:
            return self._kept_json(
                (rep_id, period, "summary", locale, None, None),
                as_of,
                lambda doc: orjson.dumps(summarise(doc, locale)),
            )
        return self._kept_json(
            (rep_id, period, "summary", locale, None, None),
            None,
            lambda doc: _stamped_last(summarise(doc, locale)),
        )

    def _kept_json(
        self,
        view: tuple[str, str, str, str, int | None, int | None],
        as_of: str | int | None,
        render: Callable[[dict[str, Any]], bytes],
    ) -> bytes:
        """A view (``view``: rep, period as asked, view, locale, offset, limit)
        of the statement now or as of ``as_of``, rendered from the statement
        document by ``render``, and kept (`KeptViews`) unless the period is paid:
        a paid period's statement must prove itself on each read.

        As of a position, what is kept is served again as it is: the log only
        grows. Now, it is served again until an event that can change the rep's
        statements is projected (`earliest_change_after`: the replay index lists
        a payment of the period for its reps too), its ``as_of`` and
        ``chain_head`` those of the current position (`KeptView.stamped`).
        """
        rep_id, period, _, locale = view[:4]
        if as_of is None:
            key: ViewKey = (*view, None)
            body = self._kept_now(key, self.fresh())
            if body is not None:
                return body
        else:
            position = self.ledger.resolve_as_of(as_of)
            key = (*view, position)
            kept = self._summaries.get(key)
            if kept is not None:
                return kept.body
        # One thread makes a view; the reads of it meanwhile wait for it rather than
        # each decode the statement too (after a change, every client misses at once).
        with self._making_lock(key):
            if as_of is None:
                body = self._kept_now(key, self.fresh())
                if body is not None:
                    return body
                doc = self.statement(rep_id, period, locale=locale)
            else:
                kept = self._summaries.get(key)
                if kept is not None:
                    return kept.body
                doc = self.statement(rep_id, period, as_of=position, locale=locale)
            return self._keep(key, doc, render(doc), now=as_of is None)

    def _making_lock(self, key: ViewKey) -> threading.Lock:
        """The lock of whoever makes the view ``key`` (few: cleared when many)."""
        if len(self._making) > _KEPT_SUMMARIES:
            self._making.clear()
        return self._making.setdefault(key, threading.Lock())

    def _keep(self, key: ViewKey, doc: dict[str, Any], body: bytes, *, now: bool) -> bytes:
        """``body``, the view of ``doc``, kept unless the period is paid."""
        if doc.get("status") != "paid":
            at = int(doc["as_of"]["position"])
            made = KeptView.of(at, body, self._stamp(at)) if now else KeptView(at, body, (0, 0))
            if made is not None:
                self._summaries.put(key, made)
        return body

    def _kept_now(self, key: ViewKey, position: int) -> bytes | None:
        """The kept view ``key`` (made now) served at ``position``, if no event
        that can change the rep's statements has been projected since it was
        made; None otherwise."""
        kept = self._summaries.get(key)
        if kept is None:
            return None
        if kept.position != position:
            if kept.position > position or (
                self.projector.store.earliest_change_after(key[0], kept.position) is not None
            ):
                return None
            kept = kept.stamped(position, self._stamp(position))
            self._summaries.put(key, kept)
        return kept.body

    # -- paid statements prove themselves (SPEC §4) ------------------------------

    def _paid_claims(self, rep_id: str, period: Period, position: int) -> list[Claim]:
        """The payments of ``rep_id``'s ``period`` recorded up to ``position``
        (the payout claims index), earliest first."""
        return _paid_up_to(self.ledger.chain.select_claims(str(period), [rep_id]), position)

    def _prove_paid(
        self, doc: dict[str, Any], rep_id: str, period: Period, *, translated: bool
    ) -> None:
        """SPEC §4: a paid period's statement is served only if its bytes still
        hash to the SHA-256 recorded in its run's `PayoutCalculated`; otherwise
        the request fails, naming the run (`TamperedStatementError`).

        What is checked where: whether the period is paid comes from the ledger
        (the payout claims index, written with the events), not from the copy
        served, so a copy edited to look open is caught too. The run's
        `PayoutCalculated` is checked against its chain link (and the next link
        against it), then its statement for the rep against the SHA-256
        recorded beside it. Last, the statement served — the read model's copy,
        or one replayed from the log — must hash to that same SHA-256: every
        field it repeats from the recorded statement (all but ``as_of``,
        ``chain_head`` and ``status``, which a paid statement states anew).
        """
        claims = self.ledger.chain.select_claims(str(period), [rep_id])
        paid = _paid_up_to(claims, int(doc["as_of"]["position"]))
        says_paid = doc.get("status") == "paid"
        named = (
            doc["paid"].get("run_id") if says_paid and isinstance(doc.get("paid"), dict) else None
        )
        if not paid:
            if says_paid:
                raise TamperedStatementError(
                    str(named or "(none named)"),
                    f"the stored statement of rep {rep_id} for {period} says this run paid it, "
                    "but the ledger records no such payment: the stored copy was changed",
                )
            return
        run_id = paid[0].run_id
        if not says_paid or named != run_id:
            raise TamperedStatementError(
                run_id,
                f"this run paid rep {rep_id}'s {period}, but the statement about to be served "
                "does not say so: the stored copy was changed",
            )
        calculated = [c for c in claims if c.run_id == run_id and c.state == CALCULATED]
        if not calculated:
            raise TamperedStatementError(
                run_id, "its PayoutCalculated is missing from the payout claims index"
            )
        recorded = self._recorded_statement(run_id, calculated[0].position, rep_id)
        served = _as_recorded(doc, recorded, translated=translated)
        if statement_sha256(served) != recorded["sha256"]:
            raise TamperedStatementError(
                run_id,
                f"the statement of rep {rep_id} for {period} no longer hashes to the SHA-256 "
                f"recorded in the run's PayoutCalculated ({recorded['sha256']}): the stored "
                "copy was changed",
            )

    def _recorded_statement(self, run_id: str, position: int, rep_id: str) -> dict[str, Any]:
        """The rep's statement as recorded in run ``run_id``'s `PayoutCalculated`
        at ``position``, its SHA-256 included, once the event has been checked
        against the audit chain and the statement against that SHA-256."""
        report, row = self.ledger.checked_event(position)
        where = f"its PayoutCalculated (position {position})"
        if row is None or row.state is None:
            raise TamperedStatementError(run_id, f"{where} is gone from the log")
        if not report.ok:
            raise TamperedStatementError(
                run_id,
                f"{where} no longer matches the audit chain (broken at position "
                f"{report.broken_position}: {report.reason})",
            )
        data = orjson.loads(row.state).get("data", {})
        if data.get("run_id") != run_id:
            raise TamperedStatementError(run_id, f"the event at position {position} is not {where}")
        statement = next((s for s in data.get("statements", ()) if s.get("rep_id") == rep_id), None)
        if statement is None:
            raise TamperedStatementError(run_id, f"{where} holds no statement of rep {rep_id}")
        recorded = dict(statement)
        digest = recorded.pop("sha256", None)
        if digest is None or statement_sha256(recorded) != digest:
            raise TamperedStatementError(
                run_id,
                f"the statement of rep {rep_id} in {where} no longer hashes to the SHA-256 "
                "recorded with it",
            )
        return {**recorded, "sha256": digest}

    def _stamp(self, position: int) -> bytes:
        """``{"as_of", "chain_head"}`` of ``position`` as JSON; the last one is kept
        (chain links never change, and reads between two batches share it)."""
        last = self._last_stamp  # one read: other threads may replace it
        if last[0] != position:
            at = self._as_of(position)
            stamp = orjson.dumps({"as_of": at.to_dict(), "chain_head": at.head()})
            last = self._last_stamp = (position, stamp)
        return last[1]

    def diff(
        self,
        rep_id: str,
        period: str,
        a: str | int,
        b: str | int,
        *,
        shown: Callable[[EventRecord], bool] | None = None,
    ) -> StatementDiff:
        """What changed in a rep's period between two points of the event order;
        ``shown``: which of the events between the reader may see (all by default)."""
        pa = self.ledger.resolve_as_of(a, field="from")
        pb = self.ledger.resolve_as_of(b, field="to")
        before = self._diff_side(rep_id, period, pa, "from")
        after = self._diff_side(rep_id, period, pb, "to")
        # a paid period's statement is the one recorded when its run was
        # computed: what changed it is what was recorded up to that point, not
        # to the point asked for (a cancellation after the payment is its
        # correction's cause, not this diff's)
        seen = sorted((_computed_at(before, pa), _computed_at(after, pb)))
        low, high = min(pa, pb), max(pa, pb)
        # The events between of the rep's trail (the replay index's: their own,
        # their reports' for an override, plans and rates), read by position —
        # what can have changed their lines; never other reps' events (SPEC §2),
        # nor every event of a large import between the two points. From the
        # earlier of the points the two statements reflect: a cause is named.
        trail = sorted(p for p in self._trail(rep_id, high) if p > min(low, seen[0]))
        records = self.ledger.read_positions(trail)
        summaries = {r.event_id: EventSummary.of(r) for r in records}
        # of a report's sales, those the rep's override counts (`_theirs`, as
        # an audit bundle and GET /events disclose them): a sale the report made
        # after moving to another team is that team's, not named here
        at = self.fresh()
        sales: dict[str, tuple[frozenset[str], datetime]] = {}
        readable = {
            r.event_id
            for r in records
            if self._theirs(rep_id, r, sales, at) and (shown is None or shown(r))
        }
        between = [
            summaries[r.event_id] for r in records if r.position > low and r.event_id in readable
        ]
        causes = self._diff_causes(rep_id, _period(period), seen[0], seen[1])
        # the events a changed line cites that were recorded before (an
        # exchange rate a new sale converts at, say): named by type, actor and
        # time too, not by a bare id — a few, read by id
        moved = diff_statements(before, after, summaries, causes).changes
        cited = {e.event_id for c in moved for e in (*c.events_added, *c.events_removed)}
        outside = sorted(cited - summaries.keys())[:_MAX_NAMED_OUTSIDE]
        positions = [p for e in outside if (p := self.ledger.chain.position_of(e)) is not None]
        earlier = self.ledger.read_positions(positions)
        summaries |= {r.event_id: EventSummary.of(r) for r in earlier}
        readable |= {r.event_id for r in earlier if shown is None or shown(r)}
        # what a line names is what the events list would: an event its reader
        # may not open (GET /events: 404) is a cause withheld, or a bare id
        # where the statement's line cites it — and, for a reader whose reads
        # are filtered, so is a cause not read here (never named unjudged)
        hidden = summaries.keys() - readable
        if shown is not None:
            hidden |= causes.keys() - summaries.keys()
        found = diff_statements(before, after, summaries, causes, hidden)
        return found.model_copy(update={"events_between": between})

    def _diff_side(self, rep_id: str, period: str, position: int, field: str) -> dict[str, Any]:
        """One side of a diff: the statement as of ``position``; a point before the
        rep's enrolment is named as the point (``from``/``to``), not as the rep."""
        try:
            return self.statement(rep_id, period, as_of=position)
        except NotFoundError as exc:
            head = self.ledger.head()
            if exc.field != "rep_id" or head is None or position >= head.position:
                raise
            self.rep(rep_id)  # a rep that exists now: the point is too early
            raise NotFoundError(
                f"rep {rep_id} was not enrolled yet at position {position}; "
                f"choose a point after their enrolment",
                field=field,
            ) from exc

    def _diff_causes(
        self, rep_id: str, period: Period, low: int, high: int
    ) -> dict[str, frozenset[tuple[str, str | None]]]:
        """The events recorded in (``low``, ``high``] whose removal from the
        replay at ``high`` would change a line of the rep's period (its own
        lines, and an open period's carried balance), each with those lines
        (`Calculator.changed_since`)."""
        if high <= low:
            return {}
        facts, at = self.rep_facts_at(rep_id, high)
        try:
            return Calculator(facts, at).changed_since(rep_id, period, low)
        except NotFoundError:  # no plan in force for the period: no line to change
            return {}

    def _trail(self, rep_id: str, position: int) -> list[int]:
        """The positions up to ``position`` of the events that can change
        ``rep_id``'s figures: from the replay index, or from a replay while the
        read models trail."""
        if self._indexed_to(position):
            return self.projector.store.rep_positions(rep_id, position)
        return rep_positions_by_replay(self.ledger.iter_log(stop=position), rep_id)

    def _disclosed(self, rep_id: str, positions: list[int]) -> list[int]:
        """Of ``rep_id``'s trail, the events theirs to see whole (`_theirs`): a
        report's sale their override never counted is a bare link, as any other
        rep's event is."""
        at = self.fresh()
        sales: dict[str, tuple[frozenset[str], datetime]] = {}
        return [
            record.position
            for record in self.ledger.read_positions(positions)
            if self._theirs(rep_id, record, sales, at)
        ]

    def audit_bundle(self, rep_id: str, period: str) -> bytes:
        """SPEC §5 `audit bundle`: the rep's statement as served now, with every
        event it rests on, the chain segment from the first of them to the
        statement's head (other reps' events as their links only), the plan
        versions and the engine version (`projections.bundle`); checked offline
        by `projections.audit_check.check_bundle`."""
        wanted = str(_period(period))
        statement = self.statement(rep_id, wanted)
        position = int(statement["chain_head"]["position"])
        positions = self._trail(rep_id, position)
        if not positions:
            raise NotFoundError(f"no rep {shown_id(rep_id)}", field="rep_id")
        positions = self._disclosed(rep_id, positions)
        first = min(positions)
        before = self.ledger.link_at(first - 1) if first > 1 else None
        hasher = self.ledger.chain_hasher()
        return bundle_document(
            log_rows(self.ledger.chain, first - 1, stop=position),
            rep_id=rep_id,
            period=wanted,
            statement=statement,
            positions=set(positions),
            plan_ids=frozenset(self.rep(rep_id).plan_ids),
            previous_hash=before.hash if before is not None else GENESIS,
            mode=hasher.mode,
            links=hasher.links,
            seal=hasher.seal,
        )

    def rep(self, rep_id: str) -> RepRow:
        """The rep's directory row (team, manager, plans) today; NotFoundError if
        none."""
        return self.rep_at(rep_id, self.fresh())

    def rep_at(self, rep_id: str, position: int) -> RepRow:
        """`rep` as the read models stand at ``position`` (where `fresh` or
        `now_position` found them): read once per position, its team and manager
        those in force `today` (a transfer dated later moves the rep on its day)."""
        return self._directory_row(rep_id, position).on(self.today())

    def managers_between(
        self, rep_id: str, first: date, last: date, *, at: int | None = None
    ) -> list[str]:
        """Every manager ``rep_id`` had on some day from ``first`` to ``last``, as
        the read models stand now (or at position ``at``); NotFoundError if no rep."""
        position = self.fresh() if at is None else at
        return self._directory_row(rep_id, position).managers_between(first, last)

    def manager_at(self, rep_id: str, at: datetime, *, position: int) -> str | None:
        """``rep_id``'s manager at the instant ``at`` (SPEC §3.1: the reporting
        lines at an event's moment, as the overrides read them), as the read
        models stand at ``position``; None for no rep, or none named."""
        try:
            return self._directory_row(rep_id, position).manager_at(at)
        except NotFoundError:  # a manager who is no rep
            return None

    def rep_ids_folded(self, text: str) -> list[str]:
        """The rep ids of the directory that are ``text`` whatever the case of
        their letters, as the read models stand now: the reps an actor (case
        folded) may be paid as — rep ids are ASCII, so a rep id that names an
        actor (`ledger.actors.same_actor`) is among them — for
        `api.auth.own_rep` to decide between."""
        self.fresh()
        return self.projector.store.scopes_folded("reps", text)

    def rep_names(self, rep_ids: Iterable[str]) -> dict[str, str]:
        """rep id -> name (their enrolment's) of those of ``rep_ids`` the
        directory names, as the read models stand now (in a `snapshot`, as of
        it): a few reps' rows as `rep` reads them (kept per position: a page's
        scope check has read its rep's already), more picked out of every row
        in one query (`ViewStore.fields`), never a query per rep of a long
        list. For the pages, which call a rep "name (id)"; a rep's name is
        personal data and never logged (SPEC §7: logs name reps by id)."""
        wanted = set(rep_ids)
        position = self.fresh()
        if len(wanted) > _NAMES_ONE_BY_ONE:
            rows = self.projector.store.fields("reps", ("name",))
            return {scope: name for scope, _, (name,) in rows if scope in wanted and name}
        found: dict[str, str] = {}
        for rep_id in sorted(wanted):
            try:
                name = self._directory_row(rep_id, position).name
            except NotFoundError:
                continue  # no directory row: the pages show the id alone
            if name:
                found[rep_id] = name
        return found

    def _directory_row(self, rep_id: str, position: int) -> DirectoryRow:
        """The rep's directory row as stored, read once per position."""
        kept = self._directory.get(rep_id)
        if kept is not None and kept[0] == position:
            return kept[1]
        rows = self.projector.store.rows("reps", rep_id)
        if not rows:
            raise NotFoundError(f"no rep {shown_id(rep_id)}", field="rep_id")
        row = DirectoryRow.model_validate(rows[0][2])
        if len(self._directory) >= _KEPT_REPS:
            self._directory.clear()
        self._directory[rep_id] = (position, row)
        return row

    def history(self, rep_id: str) -> list[HistoryEntry]:
        """The rep's disciplinary history, from its read model: each entry typed
        by its kind (a case, an overturned case, a coaching session)."""
        self.rep(rep_id)
        return history_entries(doc for _, _, doc in self.projector.store.rows("discipline", rep_id))

    def disputes(self, rep_id: str) -> list[DisputeRow]:
        """The rep's disputes, open and resolved, by dispute id."""
        self.rep(rep_id)
        rows = self.projector.store.rows("disputes", rep_id)
        return [DisputeRow.model_validate(doc) for _, _, doc in rows]

    def reps_of_event(self, record: EventRecord) -> list[str]:
        """The reps ``record`` concerns (what the API's access checks use; "*":
        every rep): the replay index's, less a manager paid overrides whom a
        report's sale reached but whose override does not count it (`_theirs`)."""
        position = self.fresh()
        reps = self.projector.store.reps_at(record.position)
        return [r for r in reps if r == "*" or self._theirs(r, record, {}, position)]

    def _theirs(
        self,
        rep_id: str,
        record: EventRecord,
        sales: dict[str, tuple[frozenset[str], datetime]],
        position: int,
    ) -> bool:
        """Whether ``record``, an event of ``rep_id``'s replay index, is theirs.

        The index lists a report's sales (their cancellations and payments, plan
        assignments and departure) for everyone the report ever reported to —
        a manager's override may rest on them, and a transfer recorded later can
        move the sale onto the manager's watch — but only those made when the
        rep the event names reported to ``rep_id``, or to one of their reports,
        are the manager's (SPEC §3.1: the override counts a sale by the
        reporting lines at its moment — the instant, not its day: a sale the
        morning of a transfer day, before the transfer, is the old manager's):
        a sale made after the rep moved to another team is that team's.
        ``sales``: the sales read so far (sale id -> the reps it names and its
        moment); ``position``: the read models'."""
        if record.type in catalogue.NAMES_MANAGER:
            return self._line_theirs(rep_id, record, position)
        about = self._named_by(record, sales)
        if about is None:
            return True
        named, moment = about
        if rep_id in named:
            return True
        for report in named:
            manager = self.manager_at(report, moment, position=position)
            if manager is None:
                continue
            if rep_id in (manager, self.manager_at(manager, moment, position=position)):
                return True
        return False

    def _line_theirs(self, rep_id: str, record: EventRecord, position: int) -> bool:
        """Whether a reporting line (an enrolment, a transfer: SPEC §2) of a rep
        in ``rep_id``'s replay index is theirs: their own, a report's
        enrolment (the start of the line a replay of their overrides follows),
        or one that moves a rep into or out of their team or their reports'
        teams at its instant — the manager in force just before it or from it
        on is ``rep_id`` or one of their reports (SPEC §3.1's two levels). What
        a report's line became after they left (a move between two other
        managers, years on) is the team's they are in then, not a former
        manager's to read: the index lists it for everyone the rep ever
        reported to, as it lists their sales."""
        moved = record.data["rep_id"]
        if moved == rep_id or catalogue.CATALOGUE[record.type].creates is not None:
            return True
        moment = record.occurred_at
        managers = {self.manager_at(moved, moment, position=position)}
        managers.add(self._manager_before(moved, record, position))
        named = record.data.get("manager_id")
        if isinstance(named, str):
            managers.add(named)
        return any(
            rep_id in (manager, self.manager_at(manager, moment, position=position))
            for manager in managers
            if manager is not None
        )

    def _manager_before(self, rep_id: str, record: EventRecord, position: int) -> str | None:
        """``rep_id``'s manager just before ``record`` (a reporting line of
        theirs) took effect: the one it replaced, as the directory orders them
        (moments, then the log); None when it named none or is the first."""
        try:
            managers = self._directory_row(rep_id, position).managers
        except NotFoundError:
            return None
        before: str | None = None
        for _, at_position, manager in managers:
            if at_position == record.position:
                return before
            before = manager
        return None

    def _named_by(
        self, record: EventRecord, sales: dict[str, tuple[frozenset[str], datetime]]
    ) -> tuple[frozenset[str], datetime] | None:
        """The reps a fact of a report's that an override rests on names, and its
        moment (a sale's for the sale, its cancellation and payments); None for
        any other event (a reporting line, a plan, a rate: everyone's they reach)."""
        if record.type not in _REPORTS_FACTS:
            return None
        data = record.data
        sale_id = data.get("sale_id")
        if not isinstance(sale_id, str):  # a plan assignment, a departure
            return frozenset([data["rep_id"]]), record.occurred_at
        if record.type == "SaleRecorded":
            sales[sale_id] = (sale_reps_of(data), record.occurred_at)
            return sales[sale_id]
        if sale_id not in sales:
            found = self.ledger.sale_reps(sale_id)
            if found is None:
                return None
            sales[sale_id] = found
        return sales[sale_id]

    def first_unpaid_period(self, rep_id: str, after: str) -> str:
        """The rep's first unpaid period after ``after`` (where a dispute's
        adjustment of a paid period goes)."""
        head = self.ledger.head()
        facts, at = self.rep_facts_at(rep_id, head.position if head else 0)
        if rep_id not in facts.reps:
            raise NotFoundError(f"no rep {shown_id(rep_id)}", field="rep_id")
        return str(Calculator(facts, at).first_unpaid_after(rep_id, _period(after)))

    # -- modelling (SPEC §5): forks that record nothing ------------------------

    def whatif(
        self,
        plan: Plan,
        periods: Sequence[str],
        *,
        rep_id: str | None = None,
        actor: str = "whatif",
    ) -> WhatIf:
        """What ``plan`` would pay, published now, against what the ledger pays
        today: every rep (or ``rep_id``) for each of ``periods``, per rep and in
        total, with the lines that moved (`projections.whatif.whatif_report`).

        The candidate is checked by the rules `plan publish` applies (a new
        version of its plan id, same currency and period kind; a bad one is
        refused naming the field) and folded into a fork of the facts at the
        head: no event is recorded, no read model written."""
        wanted = sorted({_period(text) for text in periods})
        if not wanted:
            raise InvalidInputError("name at least one period (e.g. 2026-Q3)", field="period")
        for period in wanted:
            wrong_kind = plan.other_period_kind(period)
            if wrong_kind is not None:
                raise InvalidInputError(f"{wrong_kind}, not {period}", field="period")
        head = self.ledger.head()
        position = head.position if head else 0
        if rep_id is not None:
            facts, at = self.rep_facts_at(rep_id, position)
            if rep_id not in facts.reps:
                raise NotFoundError(f"no rep {shown_id(rep_id)}", field="rep_id")
            reps = [rep_id]
        else:
            facts, at = self.facts_at(position)
            reps = sorted(facts.reps)
        if not any(plan.id in {a[2] for a in facts.reps[r].assignments} for r in reps):
            raise InvalidInputError(
                f"no rep{' ' + rep_id if rep_id else ''} is ever paid under plan {plan.id}: "
                "a what-if of it changes no pay (name the id of the plan the reps follow)",
                field="plan.id",
            )
        # checked where `plan publish` checks it; placed right after the facts read
        dry, warnings = self.ledger.dry_run_warned(
            [candidate_input(plan, datetime.now(UTC))], actor=actor
        )
        candidate = _after(dry[0], facts) if dry else None
        report = functools.partial(
            whatif_report,
            facts,
            at,
            plan,
            candidate,
            periods=wanted,
            rep_ids=reps,
            warnings=warnings,
        )
        stored = self._statements_at(position, wanted, reps)
        if stored is None:
            return report()
        answer = report(stored=stored)
        if self.projector.store.position() != position:
            # a projector's commit while they were read: today's computed after all
            answer = report()
        return answer

    def _statements_at(
        self, position: int, periods: Sequence[Period], rep_ids: Sequence[str]
    ) -> Callable[[str, Period], dict[str, Any] | None] | None:
        """Today's open statements as the read models hold them, when they stand
        at ``position`` (after bringing them there, or waiting a moment for
        whoever projects); None when they do not. A what-if of everyone reads
        them rather than computing them again (a third of its time); the
        caller checks the position again once it has read them.

        A paid period is never taken from them: its statement is served only
        once it proves itself against its run (`_prove_paid`), and the what-if
        computes it from the log instead — paid as the payout claims index says
        (one query a period), not as the stored copy says."""
        if self.fresh(position) != position:
            return None
        store = self.projector.store
        claims = self.ledger.chain.select_claims
        paid = {
            (c.rep_id, c.period)
            for period in periods
            for c in _paid_up_to(claims(str(period), list(rep_ids)), position)
        }

        def stored(rep_id: str, period: Period) -> dict[str, Any] | None:
            if (rep_id, str(period)) in paid:
                return None
            doc = store.row("statements", rep_id, str(period))
            return doc if doc is not None and doc.get("status") != "paid" else None

        return stored

    def estimate(self, rep_id: str, sale: EstimateSale, *, actor: str = "estimate") -> Estimate:
        """What one more sale would add to ``rep_id``'s open period (the period
        of ``sale.on``, default today): commission, band, SPIFF, bonus tier,
        explained line by line (`projections.whatif.estimate_report`). The sale
        is checked by the rules that would record it, and recorded nowhere.

        Fast for a rep with years of sales: the rep's facts (from the replay
        index) and what their calculator worked out are kept while the head
        stays where it is, so an estimate computes one period of one fork."""
        on = sale.on or datetime.now(UTC).date()
        # The cyclic collector paused meanwhile (`ledger.records.bulk`): a fork
        # makes tens of thousands of containers, enough to set off a full
        # collection that walks everything the process holds (measured in a
        # process holding 3M objects: p99 71 ms, paused 2x less); it makes no
        # cycles, and collection resumes right after.
        with self._estimates_lock, bulk(freeze=False):
            kept = self._estimate_base(rep_id)
            facts, base = kept.facts, kept.calculator
            period = check_estimate_period(facts, rep_id, on)
            currency = base.plan(rep_id, period).currency
            dry = self.ledger.dry_run([sale_input(rep_id, sale, currency, on)], actor=actor)
            record = _after(dry[0], facts)
            if period not in kept.statements:
                kept.statements[period] = base.statement(rep_id, period)
            return estimate_report(
                facts,
                base,
                record,
                rep_id=rep_id,
                period=period,
                cache=kept.cache,
                before=kept.statements[period],
            )

    def _estimate_base(self, rep_id: str) -> _KeptRep:
        """The rep's facts at the head and their calculator, kept while the head
        does not move (a few reps, the most recently asked)."""
        head = self.ledger.head()
        position = head.position if head else 0
        kept = self._estimates.pop(rep_id, None)
        if kept is None or kept.position != position:
            facts, at = self.rep_facts_at(rep_id, position)
            cache = StepCache()
            kept = _KeptRep(position, facts, Calculator(facts, at, cache=cache), cache)
        self._estimates[rep_id] = kept  # the most recent last
        while len(self._estimates) > _ESTIMATE_REPS:
            del self._estimates[next(iter(self._estimates))]
        return kept

    # -- projections -----------------------------------------------------------

    def catch_up(self) -> CatchUp:
        with self._lock:
            return self.projector.catch_up()

    @contextmanager
    def snapshot(self) -> Iterator[int]:
        """The projections brought to the head (`fresh`), then every read of the
        read models inside it from that one moment (`ViewStore.snapshot`): a page
        or list that reads several of them — balances, attainment, runs — shows
        numbers that agree with each other, however the projector moves on
        meanwhile. Yields the position the reads are as of. Only reads inside."""
        at = self._snapshot_at.get()
        if at is not None:
            yield at
            return
        self.fresh()
        store = self.projector.store
        with store.snapshot():
            at = store.position()
            token = self._snapshot_at.set(at)
            try:
                yield at
            finally:
                self._snapshot_at.reset(token)

    def fresh(self, position: int | None = None) -> int:
        """Bring the projections to ``position`` (default: the head), or wait for
        whoever projects; returns the position they are at.

        No wait while the projector keeps failing (SPEC §7): reads are served at
        once as of where the read models are (their ``as_of`` says so) rather
        than each waiting ``read_wait_seconds`` for a catch-up that is not coming.
        Inside a `snapshot` nothing moves: the snapshot's position, at once
        (read when it began: no query).
        """
        pinned = self._snapshot_at.get()
        if pinned is not None:
            return pinned
        store = self.projector.store
        if self.projections == "inline":
            return self.catch_up().position
        if position is None:
            head = self.ledger.head()
            position = head.position if head else 0
        at = store.position()
        if at < position and self._projector_unavailable():
            return at
        deadline = time.monotonic() + self.read_wait_seconds
        while at < position and time.monotonic() < deadline:
            time.sleep(0.005)
            at = store.position()
        return at

    def _projector_unavailable(self) -> bool:
        """Whether the projector keeps failing or is replaying every read model
        (a version changed): no point waiting for it, serve what is stored."""
        if self.projections == "background":
            return self.projector.health.state != "ok"
        kept = self._worker_health()
        return kept is not None and kept.get("state") in {"failing", "rebuilding", "silent"}

    def start_following(
        self,
        poll_seconds: float = 0.05,
        max_busy: float = DEFAULT_MAX_BUSY,
        *,
        first_retry_seconds: float = RETRY_FIRST_SECONDS,
        max_retry_seconds: float = RETRY_MAX_SECONDS,
    ) -> None:
        """Keep the projections current from a background thread of this process
        (busy at most ``max_busy`` of the time, see `projections.runner.pause_after`).

        A catch-up that fails is retried after a growing delay, from
        ``first_retry_seconds`` doubling up to ``max_retry_seconds``, never in a
        hot loop (SPEC §7); `projection_health` says what failed meanwhile.
        """
        assert self.projections == "background", "only a background projector follows"
        projector = self.projector
        projector.health.first_retry_seconds = first_retry_seconds
        projector.health.max_retry_seconds = max_retry_seconds

        def follow() -> None:
            projector.follow(
                poll_seconds=poll_seconds,
                stop=self._stop.is_set,
                max_busy=max_busy,
                lock=self._lock,  # one batch at a time: the rest is outside the lock
                wait=self._stop.wait,
            )

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

    def projection_health(self) -> dict[str, Any]:
        """How the projector fares (`GET /health`): ``ok``, or ``failing`` with the
        error's type and message, how often it failed and when it retries; the
        projector of this process, or the one another process last reported."""
        if self.projections == "background":
            return {"projector": "this process", **self.projector.health.to_dict()}
        if self.projections == "inline":
            return {"projector": "inline", "state": "ok", "error": None}
        kept = self._worker_health()
        if kept is None:
            return {"projector": "worker", "state": "unknown", "error": None}
        return {"projector": "worker", **kept}

    def _worker_health(self) -> dict[str, Any] | None:
        """What the projector of another process last reported, ``silent`` when
        that was over `PROJECTOR_SILENT_SECONDS` ago while it said it was fine
        or replaying (it reports every `HEARTBEAT_SECONDS`: its process is gone
        or stuck); None when none ever did."""
        kept = self.ledger.chain.get_state(PROJECTOR_STATE)
        # a replaying worker says it is alive too (`Projector.rebuild_if_changed`):
        # one killed mid-replay is silent, not "rebuilding" for good
        if kept is None or kept.get("state") not in {"ok", "rebuilding"}:
            return kept
        try:
            since = datetime.fromisoformat(str(kept["updated_at"]))
        except (KeyError, ValueError):
            return kept
        silent = (datetime.now(UTC) - since).total_seconds()
        if silent <= PROJECTOR_SILENT_SECONDS:
            return kept
        return {**kept, "state": "silent", "silent_seconds": int(silent)}

    def rebuild(self, *, workers: int | None = None) -> CatchUp:
        """Drop and replay every read model — refused, naming the first broken
        position, on a broken chain (SPEC §6): the full check, as a rebuild
        replays every event; the read models are left as they were. The reps'
        rows are computed by ``workers`` processes (`projections.fanout`; None:
        one per usable core)."""
        report = self.ledger.verify()
        if not report.ok:
            assert report.broken_position is not None
            raise BrokenChainError(
                report.broken_position,
                str(report.reason),
                action="rebuild is refused (the read models are left as they were)",
            )
        self.ledger.mark_verified(report)
        self._projector = None
        return rebuild(self.ledger, workers=workers)

    def verify_projections(self, *, workers: int | None = 1) -> list[str]:
        """The read models against a fresh replay (`verify_views`: its rows
        computed by ``workers`` processes — 1, unless the caller may fork); read
        models that cannot catch up are reported as such, beside what differs;
        while the projector (this process's or the worker's) replays them, or
        fails and backs off, they are compared as they stand, and that named —
        not waited for, nor tried again in its stead."""
        damaged: list[str] = []
        busy = self._projector_busy()
        if busy is not None:
            # not caught up first: that would wait for the whole replay (the
            # API's projector holds the lock for it) or start one of its own,
            # or retry in the request what the projector backs off from
            damaged.append(f"read_models: {busy}: compared as they stand")
        else:
            try:
                self.catch_up()
            except (ReadModelsDamagedError, ReadModelsNewerError) as exc:
                damaged.append(str(exc))
        return [*damaged, *verify_views(self.ledger, self.projector.store, workers=workers)]

    def _projector_busy(self) -> str | None:
        """What the projector of this process, or the worker, is busy with
        instead of following — replaying, or failing and backing off
        (`ProjectionHealth`) — in words; None when it follows (or is inline).
        A failure is named by its type only: its message can quote a rep."""
        if self.projections == "inline":
            return None
        if self.projections == "background":
            health = self.projector.health.to_dict()
        else:
            health = self._worker_health() or {}
        state = health.get("state")
        if state == "rebuilding":
            replay = health.get("rebuild") or {}
            changed = ", ".join(replay.get("changed") or [])
            return f"being replayed ({changed}, since {replay.get('since')})"
        if state == "failing":
            error = health.get("error") or {}
            since = health.get("failing_since")
            return f"the projector is failing ({error.get('type')}, since {since})"
        return None

    # -- the payout flow -------------------------------------------------------

    def plan_run(self, period_text: str) -> tuple[list[dict[str, Any]], AsOf]:
        """The statements a payout run of ``period_text`` would record at the
        head, each with its hash: every rep whose period is neither paid nor in
        another open run (SPEC §5); refused when that is nobody. Records nothing
        (`service.UseCases.payout_run` records them)."""
        period = _period(period_text)
        head = self.ledger.head()
        facts, at = self.facts_at(head.position if head else 0)
        calc = Calculator(facts, at)
        held = _held_reps(facts, period)
        statements = []
        for rep_id in sorted(facts.reps):
            if rep_id in held or not eligible(facts, rep_id, period, after_leaving=True):
                continue
            statement = calc.statement(rep_id, period)
            if not eligible(facts, rep_id, period) and not _settles(statement):
                continue  # gone before the period, and nothing booked to them in it
            statement["sha256"] = statement_sha256(statement)
            statements.append(statement)
        if not statements:
            raise InvalidInputError(
                f"no rep has an unpaid {period} outside another open run (all paid, in "
                "runs not yet paid or rejected, or none enrolled): a run that would cover "
                "nobody is refused",
                field="period",
            )
        return statements, at

    def run(self, run_id: str) -> dict[str, Any]:
        """A payout run as recorded — its statements, who calculated and decided
        it, whether it is paid — from its own events, not a replay of the log."""
        recorded = self._recorded_run(run_id)
        decision = recorded.decision
        return {
            **recorded.calculated.data,
            "calculated_by": recorded.calculated.actor,
            "approved": recorded.granted,
            "decided_by": decision.actor if decision else None,
            "paid": recorded.paid is not None,
        }

    def _recorded_run(self, run_id: str) -> _RecordedRun:
        """The events of run ``run_id``, read by their ids (each stream's id is
        its natural key's: `ledger.domain.natural_id`): its `PayoutCalculated`,
        the decision on it and its `PayoutPaid`, as stored now. Exact whatever
        the read models' lag, and a few point reads instead of a replay of the
        whole log (which a dispute resolution and an export each made)."""
        calculated = self._event_at(PayoutRun.create_id(run_id), 1)
        if calculated is None or calculated.type != "PayoutCalculated":
            raise NotFoundError(unknown_run(run_id), field="run_id")
        return _RecordedRun(
            calculated,
            self._event_at(Decision.create_id(run_id), 1),
            self._event_at(PayoutRun.create_id(run_id), 2),
        )

    def _event_at(self, stream: uuid.UUID, version: int) -> EventRecord | None:
        try:
            return self.ledger.event(event_id_text(stream, version))
        except NotFoundError:
            return None

    def export_csv(self, run_id: str) -> str:
        """SPEC §5: the payroll file of a run, one row per rep — id, name, total,
        payable (the amount paid) and currency, with the statement's hash, the
        run's chain head and its status — after the chain guard (SPEC §6).

        Reproducible: a function of the run's recorded statements and its status
        only (no time of export), so the same run exports the same bytes.
        """
        return self.export_file(run_id, "csv").decode()

    def export_rows(self, run_id: str) -> RunExport:
        """The rows a payroll file of a run is made of (`projections.payroll`):
        the run's recorded statements, each rep's name and whether another run
        paid the rep's period first — after the chain guard (SPEC §6), like
        `export_csv`, and like it a function of the run and its status only."""
        self.ledger.guard_chain()
        self.ledger.guard_run(run_id)
        recorded = self._recorded_run(run_id)
        data = recorded.calculated.data
        status = run_status(recorded.granted, paid=recorded.paid is not None)
        first_paid = self._first_paid_runs(data)
        statements = []
        for s in data["statements"]:
            enrolled = self._event_at(Rep.create_id(s["rep_id"]), 1)
            first = first_paid.get(s["rep_id"], run_id)
            statements.append(
                ExportedStatement(
                    rep_id=s["rep_id"],
                    rep_name=enrolled.data["name"] if enrolled is not None else "",
                    currency=s["currency"],
                    total=Decimal(s["total"]),
                    payable=Decimal(s["payable"]),
                    sha256=s["sha256"],
                    # a paid run's rep-period another run paid first (a store
                    # written before a period was paid at most once); a run
                    # that paid nobody is never a duplicate, whatever paid since
                    status=(
                        f"duplicate of {first}"
                        if recorded.paid is not None and first != run_id
                        else status
                    ),
                    lines=tuple((x["kind"], Decimal(x["amount"])) for x in s["lines"]),
                )
            )
        # The chain head is the link of the run's own event, which holds every
        # statement it pays: published as an anchor (`verify --anchor`), it
        # catches a rewrite of what the run recorded — the head the statements
        # were computed at (the run's ``chain_head``) comes before that event.
        calculated = recorded.calculated
        return RunExport(
            run_id=run_id,
            period=data["period"],
            status=status,
            recorded_at=calculated.recorded_at,
            chain_position=calculated.position,
            chain_hash=calculated.hash,
            statements=tuple(statements),
        )

    def export_file(
        self,
        run_id: str,
        fmt: Literal["csv", "xlsx"],
        layout: PayrollLayout | None = None,
        *,
        encoding: CsvEncoding = "utf-8",
    ) -> bytes:
        """A run's payroll file (`projections.payroll`): the SPEC §5 columns, or
        a payroll system's ``layout``, as CSV (in ``encoding``: UTF-8 unless
        asked otherwise) or xlsx; the same bytes for the same run."""
        run = self.export_rows(run_id)
        header, rows = standard_table(run) if layout is None else payroll_table(run, layout)
        if fmt == "csv":
            return to_csv(header, rows).encode(encoding)
        sheet = "Payout run" if layout is None else layout.sheet
        return to_xlsx(header, rows, recorded_at=run.recorded_at, sheet=sheet, title=run.run_id)

    def _first_paid_runs(self, data: dict[str, Any]) -> dict[str, str]:
        """rep -> the run that first paid the rep's period of a run's ``data``: a
        store written before a period could be paid only once may hold two
        payments, and an export lists a rep-period as paid once — the later
        run's row says whose duplicate it is."""
        reps = [s["rep_id"] for s in data["statements"]]
        paid = _paid_up_to(self.ledger.chain.select_claims(data["period"], reps), _NO_END)
        first: dict[str, str] = {}
        for claim in paid:
            first.setdefault(claim.rep_id, claim.run_id)
        return first


_NO_END = 2**63 - 1
# Summaries a process keeps (`Reports.summary_json`): a few kilobytes each.
_KEPT_SUMMARIES = 1024  # statement views a process keeps (`KeptViews`), and their bytes
_KEPT_BYTES = 64 * 1024 * 1024
_KEPT_REPS = 10_000  # directory rows a process keeps (`Reports.rep`)
_NAMES_ONE_BY_ONE = 4  # `Reports.rep_names`: more reps, one query of every name
# A report's facts an override rests on that name the report (`Reports._theirs`).
_REPORTS_FACTS: Final = (
    catalogue.OVERRIDE_READS - catalogue.NAMES_MANAGER - catalogue.READ_BY_EVERY_REP
)


def _utc_today() -> date:
    """`Reports.today` unless another clock is given: the date in UTC."""
    return datetime.now(UTC).date()


def _one_page(offset: int | None, limit: int | None) -> None:
    """The summary is one page: an offset or a limit with it is refused, named."""
    if offset is not None or limit is not None:
        raise InvalidInputError(
            "the summary is one page: paging (offset, limit) applies to the full view",
            field="offset" if offset is not None else "limit",
        )


def _stamped_last(summary: dict[str, Any]) -> bytes:
    """A summary now as served: keys sorted, its ``as_of`` and ``chain_head`` last."""
    stamp = {"as_of": summary.pop("as_of"), "chain_head": summary.pop("chain_head")}
    return orjson.dumps(summary, option=orjson.OPT_SORT_KEYS)[:-1] + b"," + orjson.dumps(stamp)[1:]


def _after(record: EventRecord, facts: LedgerFacts) -> EventRecord:
    """``record`` (a dry run's: placed after the head as it stood) after every
    event of ``facts`` too, should the head have moved since they were read."""
    return record._replace(position=max(record.position, facts.position + 1))


@dataclass
class _KeptRep:
    """What `Reports.estimate` keeps of a rep while the head stays at ``position``:
    the rep's facts, their calculator (and its commission steps), and each open
    period's statement as it stands."""

    position: int
    facts: LedgerFacts
    calculator: Calculator
    cache: StepCache
    statements: dict[Period, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class _RecordedRun:
    calculated: EventRecord
    decision: EventRecord | None
    paid: EventRecord | None

    @property
    def granted(self) -> bool | None:
        """Whether the run was approved (None: not decided yet)."""
        return None if self.decision is None else self.decision.type == "ApprovalGranted"


# Events recorded before a diff's first point that its changed lines cite, read
# to name their type, actor and time (more are named by id).
_MAX_NAMED_OUTSIDE = 200


def _held_reps(facts: LedgerFacts, period: Period) -> set[str]:
    """SPEC §5: the reps whose ``period`` is paid, or in an open run (calculated
    or approved, not paid, not rejected): no new run may cover them. A run of a
    period of the other kind that shares a day with it holds them too (a store
    may hold a rep moved between a monthly and a quarterly plan before such a
    move was refused: their days are paid once)."""
    held: set[str] = set()
    for run in facts.runs.values():
        if not parse_period(run.period).overlaps(period):
            continue
        if run.paid is not None or facts.is_open(run):
            held.update(s["rep_id"] for s in run.record.data["statements"])
    return held


def _settles(statement: Mapping[str, Any]) -> bool:
    """Whether a statement of a period after its rep left books anything to
    settle — a correction of a paid period, an adjustment (an upheld dispute)
    — so that a run pays it. Earnings of the period itself (an override on a
    team they no longer lead, a share of a sale made after they left) are not
    settlements: a leaver is not paid them."""
    return any(
        line["kind"] in _SETTLEMENTS and Decimal(line["amount"]) != 0 for line in statement["lines"]
    )


_SETTLEMENTS: Final = frozenset({"correction", "adjustment"})


def _computed_at(statement: Mapping[str, Any], asked: int) -> int:
    """The point of the event order a statement served ``asked`` reflects: a
    paid period's, the position its run computed it at."""
    paid = statement.get("paid") if statement.get("status") == "paid" else None
    return int(paid["computed_at_position"]) if isinstance(paid, dict) else asked
