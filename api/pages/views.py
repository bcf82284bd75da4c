"""What the pages show, gathered from the read side (`projections.service.Reports`
and its read models) — computing nothing the ledger does not already state.

Scope is not checked here: every caller (`api.pages.routes`) has applied the
API's role table and rep scope (`api.auth`) first.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from api.pages.i18n import money
from ledger.application import Ledger
from ledger.catalogue import CATALOGUE
from ledger.chain_guard import BOUNDED_CHECK_POSITIONS
from ledger.errors import NotFoundError
from ledger.records import EventRecord
from policies.explanation import Step
from policies.pay_warnings import PayWarning
from policies.periods import in_bounds, parse_period, period_of_day, stored_period
from policies.plan import Plan
from policies.rounding import CALC
from policies.wording import TEMPLATES, render_step, render_warning, words_of
from presentation import sanction_text
from projections.balances import EVENTFUL
from projections.discipline_history import CaseEntry, HistoryEntry, OverturnedEntry
from projections.disputes import team_on
from projections.queues import MAX_LIMIT, Page, SummaryPage, Viewer, WorkQueues
from projections.service import Reports
from projections.storage import ViewStore
from projections.storage.core import picked_flag

__all__ = [
    "BUCKET_LABELS",
    "EVENTS_PER_LINE",
    "STEPS_PER_LINE",
    "HistoryRow",
    "Overview",
    "PeriodChoice",
    "PeriodSummary",
    "RepPeriods",
    "askable",
    "begun_periods",
    "bucket",
    "default_period",
    "history_rows",
    "line_events",
    "overview",
    "paid_vs_now",
    "period_choice",
    "period_key",
    "period_summary",
    "rep_history",
    "rep_periods",
    "shown_status",
    "tier_ladder",
    "worded",
    "worded_warning",
]

# A line of a statement with thousands of sales is shown by its first steps and
# events (and its last step, the total); the rest is one link away.
STEPS_PER_LINE: Final = 25
EVENTS_PER_LINE: Final = 25

# The ids by which an approval names its subject, per subject event type.
_SUBJECT_FIELD: Final = {n: e.key for n, e in CATALOGUE.items() if e.approval is not None}

# Attainment bands of the distribution chart (lower bound inclusive).
_BUCKETS: Final = (
    (Decimal("1.2"), "≥ 1.20"),
    (Decimal("1.0"), "1.00–1.20"),
    (Decimal("0.8"), "0.80–1.00"),
    (Decimal("0.5"), "0.50–0.80"),
    (Decimal(0), "< 0.50"),
)
NO_TARGET: Final = "—"
# The distribution's bands, lowest first, then reps with no target.
BUCKET_LABELS: Final = (*reversed([label for _, label in _BUCKETS]), NO_TARGET)

# Positions of the chain a view of the dashboard checks past the last verified one.
DASHBOARD_CHAIN_POSITIONS = BOUNDED_CHECK_POSITIONS


def period_key(period: str) -> tuple[int, int, str]:
    parsed = stored_period(period)
    return (parsed.first_day.toordinal(), -parsed.last_day.toordinal(), period)


def askable(key: str) -> bool:
    """Whether a stored period can be asked for (SPEC §2 bounds): the read
    models also hold the period after 2199-Q4 (a paid 2199-Q4's correction
    and carried balance), which no statement, summary or run can name, so
    no page offers it."""
    return in_bounds(stored_period(key).year)


def begun_periods(keys: Iterable[str], today: date) -> list[str]:
    """The periods a page offers, newest first: those with rows (``keys``),
    and of each kind among them every period from its first up to the one
    ``today`` is in — a period already begun in which a rep has recorded
    nothing still has their statement (a carried balance, a draw), which the
    period summary lists and a payout run covers."""
    found = {key for key in keys if askable(key)}
    for kind in ("month", "quarter"):
        kept = [parse_period(key) for key in found if parse_period(key).kind == kind]
        if not kept:
            continue
        period, now = min(kept), period_of_day(today, kind)
        while period < now:
            period = period.next()
            found.add(str(period))
    return sorted(found, key=period_key, reverse=True)


# How many of the latest begun periods of each kind a period switch offers
# whatever their rows (a quiet month still has statements): a year's.
RECENT_PERIODS: Final = {"month": 12, "quarter": 4}


@dataclass(frozen=True)
class PeriodChoice:
    """The periods a page's period switch offers, newest first (``offered``):
    those with rows and the latest begun ones of each kind (`RECENT_PERIODS`)
    — every month since an enrolment in 2001 was a list of 1,100 — and every
    begun period it reaches (`begun_periods`), an older quiet one typed in
    (``oldest``: the first of each kind, newest first, which the page names)."""

    offered: list[str]
    reachable: frozenset[str]
    oldest: list[str]

    @property
    def more(self) -> bool:
        """Whether a period it reaches is not offered (the page asks for it typed)."""
        return len(self.reachable) > len(self.offered)

    def reaches(self, wanted: str | None) -> str | None:
        """``wanted`` as the page shows it (``2026-q3`` typed is ``2026-Q3``),
        when it is a period the page reaches; else None."""
        if wanted is None:
            return None
        try:
            period = str(parse_period(wanted.strip().upper()))
        except ValueError:
            return None
        return period if period in self.reachable else None

    def shown(self, chosen: str | None) -> list[str]:
        """The periods the switch lists: those offered, and ``chosen`` (an
        older one typed in) in its place among them."""
        if chosen is None or chosen in self.offered:
            return self.offered
        return sorted([*self.offered, chosen], key=period_key, reverse=True)


def period_choice(keys: Iterable[str], today: date, busy: Iterable[str]) -> PeriodChoice:
    """The `PeriodChoice` on ``today`` of the periods with rows (``keys``),
    of which those with anything in them (``busy``: their balances rows'
    `EVENTFUL`) are offered."""
    keys = set(keys)
    reachable = begun_periods(keys, today)
    found = {key for key in busy if askable(key)}
    recent: dict[str, int] = {}
    offered, oldest = [], {}
    for period in reachable:  # newest first
        parsed = parse_period(period)
        kind = parsed.kind
        if parsed.first_day <= today:  # begun (a later one has rows: a carried balance)
            recent[kind] = recent.get(kind, 0) + 1
        oldest[kind] = period
        if period in found or recent.get(kind, 0) <= RECENT_PERIODS[kind]:
            offered.append(period)
    return PeriodChoice(
        offered,
        frozenset(reachable),
        sorted(oldest.values(), key=period_key, reverse=True),
    )


def _runs_by_rep(reports: Reports, runs: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """The status of the newest open (calculated or approved) run of ``runs`` (the
    runs' read model) per rep and period."""
    statuses: dict[tuple[str, str], str] = {}
    for run in runs:
        if run.get("status") not in {"calculated", "approved"}:
            continue
        recorded = reports.ledger.event(run["calculated_event_id"]).data
        for statement in recorded.get("statements", ()):
            statuses[statement["rep_id"], run["period"]] = run["status"]
    return statuses


def shown_status(status: str, *, corrected: bool) -> str:
    """A period's status as the pages say it: paid, and changed since (its
    correction booked in a later period), is "corrected"."""
    return "corrected" if status == "paid" and corrected else status


@dataclass(frozen=True)
class RepPeriods:
    """My pay's periods (``rows``, newest first: total, payable, currency and
    status) — those its period switch offers (``choice``: with anything in
    them, the last year's begun), and ``chosen``, an older one typed in, in
    its place — and ``missed``, a period asked for that is none of the rep's."""

    rows: list[dict[str, Any]]
    choice: PeriodChoice
    chosen: str | None = None
    missed: str | None = None


def rep_periods(reports: Reports, rep_id: str, wanted: str | None = None) -> RepPeriods:
    """The rep's periods My pay lists, and ``wanted`` (a period typed in) when
    it is one of theirs: status open, calculated, approved, paid or corrected
    (paid, and changed since). Every month since an enrolment of 2001 was
    listed (a quiet one's statement worked out on each view when the read
    models held no row of it); now the offered ones, any other reached typed."""
    store = reports.projector.store
    with reports.snapshot():  # the runs and the statements as of one moment
        runs = [run for _, _, run in store.rows("payout_runs")]
        # the balances rows say which periods have anything in them (one a
        # period since the first: small); the statements are read of those listed
        balances = {key: doc for _, key, doc in store.rows("balances", rep_id)}
        choice = period_choice(
            balances,
            reports.today(),
            [key for key, doc in balances.items() if doc.get(EVENTFUL, True)],
        )
        chosen = choice.reaches(wanted)
        statements = {p: store.row("statements", rep_id, p) for p in choice.shown(chosen)}
    # the runs' recorded events after it: a second connection held inside a
    # snapshot per request could drain the pool under load
    open_runs = _runs_by_rep(reports, runs)
    rows = []
    position = reports.fresh() if None in statements.values() else 0
    for period, doc in statements.items():  # newest first
        if doc is None:
            row = _quiet_period(reports, rep_id, period, position)
            if row is not None:
                rows.append(row)
            continue
        status = shown_status(doc.get("status", "open"), corrected=bool(doc.get("correction_to")))
        if status == "open":
            status = open_runs.get((rep_id, period), "open")
        rows.append(
            {
                "period": period,
                "status": status,
                "total": doc["total"],
                "payable": doc["payable"],
                "currency": doc["currency"],
            }
        )
    missed = wanted if wanted and chosen is None else None
    return RepPeriods(rows, choice, chosen, missed)


def _quiet_period(
    reports: Reports, rep_id: str, period: str, position: int
) -> dict[str, Any] | None:
    """The rep's ``period`` the read models hold no row of (nothing recorded
    for them there), yet which has their statement (a carried balance, a
    draw), as the period summary lists it and a payout run covers it
    (`Reports.period_rows_at`: from its window); None when the rep has no
    statement there (no version of their plan in force yet, say), as of
    ``position``."""
    found = reports.period_rows_at(rep_id, parse_period(period), position)
    if found is None:
        return None
    balance = found[0]
    return {
        "period": period,
        "status": "open",
        "total": balance["total"],
        "payable": balance["payable"],
        "currency": balance["currency"],
    }


@dataclass(frozen=True)
class EventRow:
    """One event behind a statement line, as the page lists it."""

    event_id: str
    type: str
    actor: str
    recorded_at: str
    occurred_at: str
    approved_by: str | None = None
    approved_at: str | None = None


def local_moment(moment: datetime | str) -> str:
    """A business moment as its event gave it (a datetime, or ISO text), to
    the minute, with its offset (``2026-07-14 10:00 +08:00``): the local time
    alone, beside times in UTC, could be read as either."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    offset = moment.replace(microsecond=0).isoformat()[19:] or "+00:00"
    return f"{moment:%Y-%m-%d %H:%M} {offset}"


def recorded_moment(recorded_at: str) -> str:
    """When the ledger recorded an event, in UTC to the second (``2026-09-12 02:00:05``)."""
    return recorded_at[:19].replace("T", " ")


@dataclass(frozen=True)
class HistoryRow:
    """One entry of a disciplinary history as the page lists it: the entry as
    stored (what happened, who recorded it; a case's evidence, amount and
    approver), its moments as the page shows them, a case's overturning, and
    its sanction in words."""

    entry: HistoryEntry
    occurred_at: str  # `local_moment`: as its event gave it
    recorded_at: str  # `recorded_moment`: UTC
    # a case's: when its approval or rejection was recorded; the entry that overturned it
    approved_at: str | None = None
    overturn: OverturnedEntry | None = None
    overturned_at: str | None = None
    sanction: str | None = None
    # a case's money involved as the page shows money, with its currency
    amount: str | None = None


def rep_history(reports: Reports, rep_id: str, locale: str) -> list[HistoryRow]:
    """`history_rows` of the rep's disciplinary history, each case's amount in
    the currency of its period's statement (where its fine is booked): the
    history and the statements read as of one moment."""
    with reports.snapshot():
        entries = reports.history(rep_id)
        rows = reports.projector.store.rows("balances", rep_id)
    return history_rows(entries, locale, {key: doc["currency"] for _, key, doc in rows})


def history_rows(
    entries: Sequence[HistoryEntry], locale: str, currencies: Mapping[str, str] | None = None
) -> list[HistoryRow]:
    """The history's entries as they are stored, oldest first, a case joined
    with its overturning (an entry of its own too: SPEC §3 shows both events)
    and its sanction worded in ``locale`` (a fine as the page shows money).
    ``currencies``: of the rep's statements by period — a case's amount is
    money of its period's statement, shown with its currency (a bare figure
    read as no money in particular)."""
    overturns = {e.case_id: e for e in entries if isinstance(e, OverturnedEntry)}
    rows = []
    for e in entries:
        occurred_at, recorded_at = local_moment(e.occurred_at), recorded_moment(e.recorded_at)
        if not isinstance(e, CaseEntry):
            rows.append(HistoryRow(e, occurred_at, recorded_at))
            continue
        overturn = overturns.get(e.case_id)
        currency = (currencies or {}).get(e.period)
        fine = f"{money(e.amount)} {currency}".rstrip() if e.amount else None
        rows.append(
            HistoryRow(
                e,
                occurred_at,
                recorded_at,
                amount=fine,
                approved_at=recorded_moment(e.approved_at) if e.approved_at else None,
                overturn=overturn,
                overturned_at=recorded_moment(overturn.recorded_at) if overturn else None,
                sanction=sanction_text(e.sanction, locale, fine),
            )
        )
    return rows


_UNREAD: Final = "—"  # what the page shows of an event its reader may not read


def line_events(
    ledger: Ledger, event_ids: list[str], shown: Callable[[EventRecord], bool] | None = None
) -> tuple[list[EventRow], int]:
    """The first `EVENTS_PER_LINE` events of a line (who recorded each, when, and
    who approved it when its approval is among them), and how many there are.
    ``shown``: which of them the reader may read (`api.auth.trail_events_shown`;
    None, all) — another is listed as its id alone, as the statement cites it."""
    records = []
    for event_id in event_ids[:EVENTS_PER_LINE]:
        try:
            records.append(ledger.event(event_id))
        except NotFoundError:
            continue
    decisions = {str(r.data.get("subject_id")): r for r in records if r.type == "ApprovalGranted"}
    rows = []
    for r in records:
        if shown is not None and not shown(r):
            rows.append(EventRow(r.event_id, *[_UNREAD] * 4))
            continue
        subject = r.data.get(_SUBJECT_FIELD.get(r.type, ""), None)
        decision = decisions.get(str(subject)) if subject is not None else None
        rows.append(
            EventRow(
                event_id=r.event_id,
                type=r.type,
                actor=r.actor,
                recorded_at=recorded_moment(r.recorded_at),
                occurred_at=local_moment(r.occurred_at),
                approved_by=decision.actor if decision else None,
                approved_at=recorded_moment(decision.recorded_at) if decision else None,
            )
        )
    return rows, len(event_ids)


def tier_ladder(ledger: Ledger, statement: dict[str, Any]) -> list[dict[str, Any]]:
    """The bonus tiers of the statement's plan, the one reached marked."""
    plan_ref = statement.get("plan") or {}
    plan = _plan(ledger, plan_ref.get("id"), plan_ref.get("version"))
    if plan is None:
        return []
    score = statement.get("score")
    reached = None
    if score is not None:
        for index, tier in enumerate(plan.bonus.tiers):
            if tier.from_ <= Decimal(score):
                reached = index
    return [
        {
            "from": format(tier.from_, "f"),
            "coefficient": format(tier.coefficient, "f"),
            "reached": index == reached,
        }
        for index, tier in enumerate(plan.bonus.tiers)
    ]


def _plan(ledger: Ledger, plan_id: Any, version: Any) -> Plan | None:
    if plan_id is None:
        return None
    return next(
        (p for p in ledger.plan_versions(str(plan_id)) if str(p.version) == str(version)), None
    )


def worded(step: dict[str, Any], locale: str) -> dict[str, Any]:
    """A statement step with its words in ``locale`` (`policies.wording`), its
    money grouped in thousands as the page's tables show money (`i18n.money`);
    a step whose code has no words here keeps the words it was served with."""
    again = Step(step["code"], step["values"], tuple(step.get("event_ids", ())))
    if words_of(again) not in TEMPLATES["en"]:
        return step
    return {**step, "text": render_step(again, locale, money)}


def worded_warning(warning: dict[str, Any], locale: str) -> dict[str, Any]:
    """A statement warning with its words in ``locale``."""
    if locale == "en":
        return warning
    again = PayWarning(warning["code"], warning["values"], tuple(warning.get("event_ids", ())))
    return {**warning, "text": render_warning(again, locale)}


def paid_vs_now(reports: Reports, rep_id: str, statement: dict[str, Any]) -> dict[str, Any] | None:
    """For a paid period that later events changed: each line as paid and as a
    replay now gives it (from the correction booked in a later period; none
    for a correction booked past SPEC §2's bounds, whose statement cannot be
    asked for)."""
    target = statement.get("correction_to")
    if statement.get("status") != "paid" or not target:
        return None
    periods = sorted({e["correction_in"] for e in statement.get("later_events", [])} | {target})
    # (a paid 2199-Q4's correction lies past the bounds, where no statement is asked)
    periods = [p for p in periods if askable(p)]
    corrections = [
        line
        for p in periods
        for line in reports.statement(rep_id, p)["lines"]
        if line["kind"] == "correction" and line.get("paid_period") == statement["period"]
    ]
    if not corrections:
        return None
    paid = {line["kind"]: Decimal(line["amount"]) for line in statement["lines"]}
    # every correction's changes, each from what was paid and corrected before it
    change: dict[str, Decimal] = {}
    for line in corrections:
        for step in line["explanation"]:
            if step.get("code") == "correction_change":
                kind = step["values"]["kind"]
                change[kind] = change.get(kind, Decimal(0)) + Decimal(step["values"]["change"])
    rows = [
        {"kind": kind, "paid": paid.get(kind, Decimal(0)), "change": change.get(kind, Decimal(0))}
        for kind in [*paid, *(k for k in change if k not in paid)]
    ]
    for row in rows:
        row["now"] = row["paid"] + row["change"]
    paid_total = sum((r["paid"] for r in rows), Decimal(0))
    now_total = sum((r["now"] for r in rows), Decimal(0))
    return {
        "rows": rows,
        "paid_total": format(paid_total, "f"),
        "now_total": format(now_total, "f"),
        "difference": format(now_total - paid_total, "f"),
        "to": target,
    }


@dataclass
class Overview:
    """The boss's dashboard of one period."""

    period: str | None
    choice: PeriodChoice
    distribution: list[tuple[str, int]] = field(default_factory=list)
    tiers: list[tuple[str, int]] = field(default_factory=list)
    payouts: list[dict[str, Any]] = field(default_factory=list)
    red_lines: list[tuple[str, int]] = field(default_factory=list)
    health: dict[str, Any] = field(default_factory=dict)
    # reps counted in the period's distribution with no stored row in it (nothing
    # recorded for them there): not in the payouts by team, which sum stored rows
    unstored: int = 0
    missed: str | None = None  # a period asked for that the page does not reach


def bucket(attainment: str | None) -> str:
    if attainment is None:
        return NO_TARGET
    value = Decimal(attainment)
    return next(label for low, label in _BUCKETS if value >= low)


def default_period(periods: list[str], measured: Counter[str]) -> str | None:
    """The period that ends latest among ``periods`` in which anyone has a
    target (a new period with no targets yet would show an empty page); of a
    month and a quarter that end the same day, the one with more reps measured
    (a small monthly team does not hide the quarter of the larger one).
    ``measured``: period -> reps with an attainment in it."""
    candidates = [p for p in periods if measured[p]]
    if not candidates:
        return periods[0] if periods else None
    return max(candidates, key=lambda p: (parse_period(p).last_day, measured[p], p))


def _stored_default_period(store: ViewStore, periods: list[str]) -> str | None:
    """`default_period` by the stored attainment rows, reading the periods that
    end latest first and stopping at the first day on which anyone is measured:
    a page of 10,000 reps over eight quarters reads one quarter's rows, not all
    (a period in which nothing is recorded has no target: never the default)."""
    by_day: dict[date, list[str]] = defaultdict(list)
    for period in periods:
        by_day[parse_period(period).last_day].append(period)
    for day in sorted(by_day, reverse=True):
        measured = Counter({p: _measured(store, p) for p in by_day[day]})
        chosen = default_period(by_day[day], measured)
        if chosen is not None and measured[chosen]:
            return chosen
    return periods[0] if periods else None


def _measured(store: ViewStore, period: str) -> int:
    """How many reps have an attainment stored in ``period``."""
    return sum(
        1 for _, _, (value,) in store.fields("attainment", ("attainment",), key=period) if value
    )


def overview(reports: Reports, period: str | None, viewer: Viewer | None = None) -> Overview:
    """Attainment distribution and tier counts of ``period`` (default: the latest
    with targets; offered: every period begun, as on Team and Payouts), payable
    by team for every period, red-line case counts by status, and the
    projections' lag and the audit chain. ``viewer``: whose summary the counts
    are of (finance and compliance see everyone; default, as the CLI)."""
    # the read models as of one moment (the chain check after: it may record
    # how far it verified, a write, which no snapshot holds)
    who = viewer or Viewer.operator("overview")
    store = reports.projector.store
    scores: list[tuple[str | None, str | None]] = []
    with reports.snapshot() as projected:
        view, stored, directory = _overview_of_views(reports, period)
        if view.period is not None and who.sees_everyone:
            scores = _stored_scores(store, view.period, stored)
    if view.period is not None and who.sees_everyone:
        # the period summary's reps (`WorkQueues.summary`): those with rows
        # stored in the period at them, and a rep with nothing recorded in it
        # (no stored rows) at their statement's figures, worked out as the
        # summary does — the counts are Team's and Payouts' exactly, a quiet
        # month's too, without the summary of every rep validated whole (half
        # the page's time at 10,000 reps). After the snapshot: a quiet rep's
        # figures read the log, which no snapshot does.
        unstored = {rep: doc for rep, doc in directory.items() if rep not in stored}
        quiet = WorkQueues(reports).quiet_scores(view.period, unstored, projected)
        _count(view, [*scores, *quiet.values()])
        view.unstored = len(quiet)
    elif view.period is not None:
        items = WorkQueues(reports).summary_items(who, view.period)
        _count(view, [(item.attainment, item.tier_coefficient) for item in items])
        view.unstored = sum(1 for item in items if item.rep_id not in stored)
    head = reports.ledger.head()
    position = head.position if head else 0
    # from the last verified position, a bounded stretch a view (as a scrape):
    # the whole chain, checked on every view, was most of the page's time (8.5 of
    # 9.7 s at 280,000 events); `verify` and `GET /audit/verify` check it all
    report = reports.ledger.check_chain(limit=DASHBOARD_CHAIN_POSITIONS)
    verified = report.verified_position
    view.health = {
        "position": position,
        "projected": projected,
        "lag": max(0, position - projected),
        "chain_ok": report.ok,
        "checked": report.checked,
        "verified": verified,
        "unverified": max(0, position - verified),
        "broken_position": report.broken_position,
        "reason": report.reason,
    }
    return view


def _count(view: Overview, scores: Iterable[tuple[str | None, str | None]]) -> None:
    """The overview's distribution and tier counts of (attainment, tier) a rep."""
    scored = list(scores)
    buckets = Counter(bucket(attainment) for attainment, _ in scored)
    view.distribution = [(label, buckets[label]) for label in BUCKET_LABELS]
    tiers = Counter(tier or NO_TARGET for _, tier in scored)
    view.tiers = sorted(tiers.items(), key=lambda kv: (kv[0] == NO_TARGET, kv[0]))


def _stored_scores(
    store: ViewStore, period: str, reps: set[str]
) -> list[tuple[str | None, str | None]]:
    """(attainment, tier coefficient) of each of ``reps`` (those with rows
    stored in ``period``) as the summary reads them: its attainment row's."""
    rows = store.fields("attainment", ("attainment", "tier_coefficient"), key=period)
    found = {scope: (attainment, tier) for scope, _, (attainment, tier) in rows}
    return [found.get(rep, (None, None)) for rep in reps]


def _overview_of_views(
    reports: Reports, period: str | None
) -> tuple[Overview, set[str], dict[str, dict[str, Any]]]:
    """The overview's figures from the read models (`overview`, in a snapshot)
    but the chosen period's counts, the reps with stored rows in it, and the
    directory (rep id -> its stored document)."""
    store = reports.projector.store
    # each rep in their team of today (a transfer counts from its date): one
    # small directory row a rep, read whole for its dated teams
    day = reports.today()
    directory = {scope: doc for scope, _, doc in store.rows("reps")}
    teams = {scope: team_on(doc, day) or "" for scope, doc in directory.items()}
    # the fields summed and counted, picked out by the database: every rep's row
    # of every period (10,000 reps x 8 quarters: 180,000 documents) is not
    # decoded whole for its payable or attainment
    rows = store.fields("balances", ("payable", "currency", "run", "status", EVENTFUL))
    # a few periods among 80,000 rows: each period's key parsed once, not a row's
    asked = {key: askable(key) for key in {key for _, key, _ in rows}}
    balances = [row for row in rows if asked[row[1]]]
    # whether each row holds anything, as the projection wrote it: for the
    # periods offered and for the teams' rows listed
    active = [picked_flag(values[4], absent=True) for _, _, values in balances]
    busy = {key for (_, key, _), holds in zip(balances, active, strict=True) if holds}
    choice = period_choice({key for _, key, _ in balances}, day, busy)
    rank = {key: -i for i, key in enumerate(sorted(choice.reachable, key=period_key, reverse=True))}
    chosen = choice.reaches(period) or _stored_default_period(store, choice.offered)
    missed = period if period and choice.reaches(period) is None else None
    view = Overview(chosen, choice, missed=missed)
    view.payouts = _payouts_by_team(balances, active, teams, rank)
    statuses: Counter[str] = Counter()
    for _, _, doc in store.rows("discipline"):
        if doc.get("kind") == "case" and doc.get("severity") == "red_line":
            statuses["overturned" if doc.get("overturned") else str(doc.get("approval"))] += 1
    view.red_lines = sorted(statuses.items())
    return view, {scope for scope, key, _ in balances if key == chosen}, directory


def _payouts_by_team(
    balances: list[tuple[str, str, tuple[str | None, ...]]],
    active: Sequence[bool],
    teams: Mapping[str, str],
    rank: Mapping[str, int],
) -> list[dict[str, Any]]:
    """Payable by team, period and currency, newest period first, of the
    balances rows' fields (payable, currency, run, status, `EVENTFUL`) and
    whether each holds anything (``active``: its `EVENTFUL` as read): each
    split by where it stands — ``paid``; ``in_run``, what an open (calculated
    or approved, unpaid) run will pay, as the run recorded it (the figure now
    may differ: the run pays what it holds); ``open``, not in a run yet — and
    ``payable``, their sum. A team's period in which none of its reps has
    anything (the read model keeps every period since a rep's first) is no
    row: an enrolment of 2001 listed 300 rows of zeros."""
    # a team's reps may be paid in more than one currency: a row a currency,
    # never one sum of CNY and USD
    sums: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    counts: Counter[tuple[str, str, str]] = Counter()
    busy: set[tuple[str, str, str]] = set()
    for (scope, key, (payable, currency, run, status, *_)), holds in zip(
        balances, active, strict=True
    ):
        if payable is None:  # every balances row has one: never counted as nothing
            msg = f"the balances row of {scope} in {key} has no payable"
            raise ValueError(msg)
        group = (teams.get(scope, ""), key, currency or "")
        held = json.loads(run)["payable"] if run else None
        where, amount = (0, payable) if status == "paid" else (1, held) if held else (2, payable)
        cell = sums[group]
        # in the exact context: a payable near 10^36 is within SPEC §2's bounds,
        # and the default context's 28 digits rounded the sum silently
        cell[where] = CALC.add(cell[where], Decimal(amount))
        counts[group] += 1
        if held is not None or holds:
            busy.add(group)
    return [
        {
            "team": team,
            "period": key,
            "currency": currency,
            "reps": counts[team, key, currency],
            "paid": paid,
            "in_run": in_run,
            "open": still_open,
            "payable": CALC.add(CALC.add(paid, in_run), still_open),
        }
        for (team, key, currency), (paid, in_run, still_open) in sorted(
            sums.items(), key=lambda kv: (rank[kv[0][1]], kv[0][0], kv[0][2]), reverse=True
        )
        if (team, key, currency) in busy
    ]


@dataclass(frozen=True)
class PeriodSummary:
    """The Payouts page's period summary: the periods to choose from, the
    summary of the one shown, and which of its paid reps' periods later
    events changed (read "corrected", as My pay and Team read them)."""

    choice: PeriodChoice
    summary: SummaryPage | None
    corrected: frozenset[str] = frozenset()
    missed: str | None = None  # a period asked for that the page does not reach


def period_summary(
    reports: Reports, viewer: Viewer, wanted: str | None, offset: int = 0
) -> PeriodSummary:
    """The Payouts page's period summary (SPEC §5.1): the periods with
    statements, newest first, and the summary of ``wanted`` — or, when it is
    none of them, of the period the other pages open on (`default_period`) —
    as ``GET /periods/{period}/summary`` reads it (`WorkQueues.summary`: every
    rep's total, payable, attainment, tier and status, team subtotals), a page
    of `MAX_LIMIT` reps from ``offset``; and the paid periods shown that were
    corrected since (the summary says "paid": finance read "paid" where the
    rep's own page and the manager's said "corrected")."""
    store = reports.projector.store
    with reports.snapshot():
        rows = store.fields("balances", (EVENTFUL,))
        busy = {key for _, key, (flag,) in rows if picked_flag(flag, absent=True)}
        choice = period_choice({key for _, key, _ in rows}, reports.today(), busy)
        chosen = choice.reaches(wanted) or _stored_default_period(store, choice.offered)
    missed = wanted if wanted and choice.reaches(wanted) is None else None
    if chosen is None:
        return PeriodSummary(choice, None, missed=missed)
    queues = WorkQueues(reports)
    summary = queues.summary(viewer, chosen, page=Page(offset, MAX_LIMIT))
    if not summary.items and summary.total:  # past the end (reps left): its last page
        last = (summary.total - 1) // MAX_LIMIT * MAX_LIMIT
        summary = queues.summary(viewer, chosen, page=Page(last, MAX_LIMIT))
    paid = [item.rep_id for item in summary.items if item.status == "paid"]
    with reports.snapshot():
        corrected = frozenset(
            rep_id
            for rep_id in paid
            if (store.row("balances", rep_id, chosen) or {}).get("corrected")
        )
    return PeriodSummary(choice, summary, corrected, missed)
