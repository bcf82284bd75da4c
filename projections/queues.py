"""Work queues (SPEC §5): the lists finance, managers, compliance and reps work
from, and the decisions taken on them — one use case per CLI command and HTTP
route, so neither builds an event or decides a rule itself.

Every list is read from the read models (`projections.storage`), scoped by a
`Viewer` exactly as the single reads are (a rep sees only themselves, a manager
only the reps whose ``manager_id`` names them, finance and compliance everyone;
the CLI, which opens the database itself, is an ``operator`` and sees
everything; a rep's team and manager are those in force on the day asked,
`Reports.today`), filtered, sorted by a stable key and then paged. Each item
carries what its user needs to decide: who recorded it, when, the money it
moves and the rule that holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, TypeVar, get_args

from pydantic import Field

from ledger.actors import same_actor
from ledger.application import Ledger
from ledger.errors import InvalidInputError, NotFoundError, unknown_run
from ledger.payout_claims import CALCULATED, PAID, REJECTED
from policies.periods import Period, parse_period
from policies.rounding import CALC, cents_text
from projections.approvals import PendingRow
from projections.discipline_history import CaseEntry
from projections.disputes import DirectoryRow, DisputeRow, RepRow, manager_on, team_on
from projections.payout_runs import RunRow, RunStatus, currency_totals
from projections.rows import ListPage, Row
from projections.service import Reports
from projections.summary import check_window

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "CaseItem",
    "CasePage",
    "DisputeItem",
    "DisputePage",
    "Page",
    "PendingAdjustment",
    "PendingCase",
    "PendingItem",
    "PendingPage",
    "PendingRun",
    "PendingTarget",
    "RepPage",
    "RunDetail",
    "RunItem",
    "RunPage",
    "RunStatement",
    "SummaryItem",
    "SummaryPage",
    "TeamTotal",
    "Viewer",
    "WorkQueues",
]

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 500

# The rule that holds each kind of subject until it is decided (SPEC §2).
_RULES: Final[dict[str, str]] = {
    "target": "SPEC §2: a target set or recorded after its period started needs an approval",
    "adjustment": "SPEC §2: an adjustment needs an approval before it counts",
    "case": "SPEC §2: a red-line case needs an approval before it counts",
    "run": "SPEC §2: a payout run needs an approval before it is paid",
}
# Who decides on which kind of subject when the caller has no role (the CLI).
_EVERY_KIND: Final = frozenset(_RULES)

DisputeStatus = Literal["open", "resolved"]
CaseStatus = Literal["pending", "in_force", "rejected", "overturned"]
PeriodStatus = Literal["open", "calculated", "approved", "rejected", "paid"]
CASE_STATUSES: Final[tuple[str, ...]] = get_args(CaseStatus)
RUN_STATUSES: Final[tuple[str, ...]] = get_args(RunStatus)

_T = TypeVar("_T")
_P = TypeVar("_P", bound=ListPage)


# -- what the lists answer: typed items, each list a page of them ----------------
# (fields in the order the API has always sent them)


class RepPage(ListPage):
    """``reps``: the directory rows the viewer may see."""

    items: list[RepRow]


class SummaryItem(Row):
    """One rep's period: what it pays, how far the targets are met, and where it
    stands (open, or the run that calculated, approved or paid it)."""

    rep_id: str
    team: str | None
    manager_id: str | None
    currency: str
    total: str
    payable: str
    attainment: str | None
    score: str | None
    tier_coefficient: str | None
    pending: int
    status: PeriodStatus
    run_id: str | None
    # calculated or approved, not paid: ``total`` and ``payable`` are the run's
    # (what it will pay); these, what the period would pay now, when that differs
    now_total: str | None = None
    now_payable: str | None = None


class TeamTotal(Row):
    """A team's subtotal in one currency (of every visible rep, not only a page's)."""

    team: str | None
    currency: str
    reps: int
    total: str
    payable: str


class SummaryPage(ListPage):
    """``summary``: every visible rep's period, and the teams' subtotals."""

    items: list[SummaryItem]
    period: str
    teams: list[TeamTotal]


class RunItem(RunRow):
    """A payout run, and what holds it while it is unpaid."""

    held_by: str | None


class RunPage(ListPage):
    """``runs``: payout runs, oldest first."""

    items: list[RunItem]


class RunStatement(Row):
    """A rep's statement as a run recorded it (its hash proves it unchanged)."""

    rep_id: str
    currency: str
    total: str
    payable: str
    sha256: str


class RunDetail(RunItem):
    """One run: its row, when it was calculated and each rep's statement in it."""

    calculated_at: str
    statements: list[RunStatement]


class _Pending(Row):
    """A subject awaiting a decision, with what deciding it needs."""

    kind: str
    subject_id: str
    rep_id: str | None
    recorded_by: str
    recorded_at: str
    occurred_at: str
    event_id: str
    position: int
    rule: str
    may_decide: bool
    amount: str | None


class PendingTarget(_Pending):
    """A target set or changed after its period started."""

    kind: Literal["target"]
    period: str
    about: str
    target: str


class PendingAdjustment(_Pending):
    """A manual adjustment, not counted until approved."""

    kind: Literal["adjustment"]
    period: str
    about: str


class PendingCase(_Pending):
    """A red-line case, in force once approved."""

    kind: Literal["case"]
    about: str


class PendingRun(_Pending):
    """A payout run, paid once approved."""

    kind: Literal["run"]
    period: str
    about: str


PendingItem = Annotated[
    PendingTarget | PendingAdjustment | PendingCase | PendingRun, Field(discriminator="kind")
]


class PendingPage(ListPage):
    """``pending``: subjects awaiting a decision, oldest first."""

    items: list[PendingItem]


class DisputeItem(DisputeRow):
    """A dispute, the period of the run it disputes and what that paid the rep."""

    period: str | None
    rep_payable: str | None


class DisputePage(ListPage):
    """``disputes``: disputes of the reps the viewer sees, oldest first."""

    items: list[DisputeItem]


class CaseItem(CaseEntry):
    """A violation case, whose it is, where it stands and the rule that holds it."""

    rep_id: str
    status: CaseStatus
    rule: str | None


class CasePage(ListPage):
    """``cases``: violations of the reps the viewer sees, oldest first."""

    items: list[CaseItem]


# Up to this many reps' rows of a period are read one by one, more in one query.
_READ_ONE_BY_ONE = 32


def _reports_to(doc: Mapping[str, Any], manager: str, day: date) -> bool:
    """Whether a stored directory row names ``manager`` as the rep's manager on
    ``day`` (however the actor is spelled: `same_actor`)."""
    manager_id = manager_on(doc, day)
    return isinstance(manager_id, str) and same_actor(manager_id, manager)


@dataclass(frozen=True)
class Viewer:
    """Who asks, as the lists scope it: a role (``operator``: the CLI, which sees
    everything), the actor, the rep (role rep) and the kinds of subject the
    viewer may decide on (maker-checker needs the right checker)."""

    role: str
    actor: str
    rep_id: str | None = None
    decides: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def operator(cls, actor: str) -> Viewer:
        return cls("operator", actor, decides=_EVERY_KIND)

    @property
    def sees_everyone(self) -> bool:
        """Whether this viewer sees every rep (finance, compliance, the CLI's
        operator): `sees` is true of any row."""
        return self.role not in {"rep", "manager"}

    def sees(self, rep: RepRow) -> bool:
        """Whether this viewer may see the rep of directory row ``rep``."""
        if self.sees_everyone:
            return True
        if self.role == "rep":
            return rep.rep_id == self.rep_id
        return rep.manager_id is not None and same_actor(rep.manager_id, self.actor)


# A rep the summary lists: id, directory row of the day, balances row as held.
_Listed = tuple[str, RepRow, dict[str, Any]]


@dataclass(frozen=True)
class Page:
    """``?offset=&limit=``: a window of a stably sorted list (limit at most
    `MAX_LIMIT`)."""

    offset: int = 0
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        check_window(self.offset, self.limit, MAX_LIMIT)

    def of(
        self,
        page: type[_P],
        items: Sequence[_T],
        *,
        then: Callable[[_T], Any] | None = None,
        **extra: Any,
    ) -> _P:
        """The ``page`` of ``items`` (sorted already); ``then`` completes each item
        of the page only (what costs a read per item is never done for the rest)."""
        window = items[self.offset : self.offset + self.limit]
        return page(
            items=[then(item) for item in window] if then is not None else list(window),
            total=len(items),
            offset=self.offset,
            limit=self.limit,
            **extra,
        )


def _as_held(doc: dict[str, Any], state: str) -> dict[str, Any]:
    """A rep's balances row as the summary shows it: held by an open run
    (calculated or approved), its figures are the run's — what it will pay, as
    its status says — and what the period would pay now stands beside them when
    later events changed it (booked, once the run is paid, as a correction)."""
    held = doc.get("run")
    if state not in {"calculated", "approved"} or held is None:
        return doc
    shown = {**doc, "total": held["total"], "payable": held["payable"]}
    if (held["total"], held["payable"]) != (doc["total"], doc["payable"]):
        shown |= {"now_total": doc["total"], "now_payable": doc["payable"]}
    return shown


def _money(text: object) -> Decimal:
    return Decimal(str(text)) if text is not None else Decimal(0)


def _choice(value: str | None, allowed: Iterable[str], name: str) -> str | None:
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        raise InvalidInputError(f"must be one of {', '.join(allowed)}", field=name)
    return value


class _PlanKinds:
    """The kind of period each plan pays by (``month``, ``quarter``; None: no
    version published), read once a plan for one request."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._kinds: dict[str, str | None] = {}

    def of(self, plan_id: str) -> str | None:
        if plan_id not in self._kinds:
            versions = self._ledger.plan_versions(plan_id)
            self._kinds[plan_id] = versions[-1].period if versions else None
        return self._kinds[plan_id]


class WorkQueues:
    """The work-queue use cases of one ledger (lists and decisions)."""

    def __init__(self, reports: Reports) -> None:
        self.reports = reports
        self.ledger = reports.ledger

    # -- helpers -----------------------------------------------------------------

    def _visible(self, viewer: Viewer, day: date) -> dict[str, RepRow]:
        """The directory rows (team, manager, plans) on ``day`` of the reps
        ``viewer`` may see, by rep id; fresh. `Viewer.sees` decides, as for
        every role."""
        found = (
            (scope, DirectoryRow.model_validate(doc).on(day))
            for scope, doc in self._directory(viewer, day)
        )
        return {scope: row for scope, row in found if viewer.sees(row)}

    def _directory(self, viewer: Viewer, day: date) -> list[tuple[str, dict[str, Any]]]:
        """(rep id, stored directory document) of the reps ``viewer`` may see on
        ``day``, by rep id, not validated yet; fresh. A rep's own row is read
        alone and a manager's reports on the day are picked from the stored
        documents (validating the whole directory for every request cost a rep
        100 ms in an organisation of 10,000); for any other role, every row
        (`Viewer.sees_everyone`)."""
        self.reports.fresh()
        store = self.reports.projector.store
        if viewer.role == "rep":
            rows = store.rows("reps", viewer.rep_id) if viewer.rep_id is not None else []
        else:
            rows = store.rows("reps")
            if viewer.role == "manager":
                rows = [row for row in rows if _reports_to(row[2], viewer.actor, day)]
        return sorted({scope: doc for scope, _, doc in rows}.items())

    def _runs(self) -> dict[str, RunRow]:
        rows = self.reports.projector.store.rows("payout_runs")
        return {key: RunRow.model_validate(doc) for _, key, doc in rows}

    # -- lists -------------------------------------------------------------------

    def reps(self, viewer: Viewer, *, team: str | None = None, page: Page | None = None) -> RepPage:
        """The reps the viewer may see (team, manager, plans; no names: the
        pages read those, `Reports.rep_names`), by rep id: their team and
        manager today (`Reports.today`)."""
        window = page or Page()
        day = self.reports.today()
        if viewer.sees_everyone:  # nothing to decide per row: only the page's validated
            docs = self._directory(viewer, day)
            if team is not None:
                docs = [(scope, doc) for scope, doc in docs if team_on(doc, day) == team]
            return window.of(
                RepPage, docs, then=lambda entry: DirectoryRow.model_validate(entry[1]).on(day)
            )
        items = [
            row
            for _, row in sorted(self._visible(viewer, day).items())
            if team is None or row.team == team
        ]
        return window.of(RepPage, items)

    def summary(self, viewer: Viewer, period: str, *, page: Page | None = None) -> SummaryPage:
        """SPEC §5 ``summary``: every visible rep's total, payable, attainment, tier
        and status for ``period``, with team subtotals (of every visible rep,
        not only the page's): each rep in their team of today (`Reports.today`)."""
        wanted, listed, subtotals, item = self._summarised(viewer, period)
        return (page or Page()).of(SummaryPage, listed, then=item, period=wanted, teams=subtotals)

    def summary_items(self, viewer: Viewer, period: str) -> list[SummaryItem]:
        """Every item of `summary`, not a page of them: for a page that counts
        them all beside the window it lists (the Team page's attainment
        distribution is of the whole team, however many pages its table has)."""
        _, listed, _, item = self._summarised(viewer, period)
        return [item(entry) for entry in listed]

    def _summarised(
        self, viewer: Viewer, period: str
    ) -> tuple[str, list[_Listed], list[TeamTotal], Callable[[_Listed], SummaryItem]]:
        """`summary` before it is paged: the period as parsed, each listed rep
        (id, directory row, balances row as held), the team subtotals, and what
        completes a listed rep into its item (done for a page's reps only)."""
        try:
            wanted = str(parse_period(period))
        except ValueError as exc:
            raise InvalidInputError(str(exc), field="period") from None
        # the reps, their balances and attainment and the runs read as of one
        # moment: a total and its attainment never come from two positions. The
        # claims (the log's own index) after it: a snapshot holds a connection,
        # and a second one per request could drain the pool under load.
        today = self.reports.today()
        with self.reports.snapshot() as position:
            visible = self._visible(viewer, today)
            balances, attainment = self._period_rows(wanted, visible)
            runs = self._runs()
        unstored = {r: row for r, row in visible.items() if r not in balances}
        for rep_id, rows in self._quiet_rows(parse_period(wanted), unstored, position).items():
            balances[rep_id], attainment[rep_id] = rows
        status = self._period_status(wanted, list(visible), runs)
        store = self.reports.projector.store
        listed: list[_Listed] = []
        teams: dict[str, dict[str, Any]] = {}
        for rep_id, rep in sorted(visible.items()):
            doc = balances.get(rep_id)
            if doc is None:
                continue  # not enrolled then, or paid by another kind of period
            doc = _as_held(doc, status.get(rep_id, ("open", None))[0])
            listed.append((rep_id, rep, doc))
            key = f"{rep.team or ''}\x00{doc['currency']}"
            team = teams.setdefault(
                key,
                {
                    "team": rep.team,
                    "currency": doc["currency"],
                    "reps": 0,
                    "total": Decimal(0),
                    "payable": Decimal(0),
                },
            )
            team["reps"] += 1
            # in the exact context: a total near 10^36 is within SPEC §2's bounds
            # (a large sale x rate x band multiplier), and the default context's
            # 28 digits rounded the subtotal silently
            team["total"] = CALC.add(team["total"], _money(doc["total"]))
            team["payable"] = CALC.add(team["payable"], _money(doc["payable"]))
        subtotals = [
            TeamTotal(**{**t, "total": cents_text(t["total"]), "payable": cents_text(t["payable"])})
            for _, t in sorted(teams.items())
        ]

        def item(entry: _Listed) -> SummaryItem:
            rep_id, rep, doc = entry
            scored = attainment.get(rep_id, {})
            state, run_id = status.get(rep_id, ("open", None))
            pending = doc.get("pending")
            if pending is None:  # a row of balances version 1, until it is rebuilt
                statement = store.row("statements", rep_id, wanted) or {}
                pending = len(statement.get("pending", ()))
            return SummaryItem(
                rep_id=rep_id,
                team=rep.team,
                manager_id=rep.manager_id,
                currency=doc["currency"],
                total=doc["total"],
                payable=doc["payable"],
                attainment=scored.get("attainment"),
                score=scored.get("score"),
                tier_coefficient=scored.get("tier_coefficient"),
                pending=pending,
                status=state,
                run_id=run_id,
                now_total=doc.get("now_total"),
                now_payable=doc.get("now_payable"),
            )

        return wanted, listed, subtotals, item

    def quiet_scores(
        self, period: str, unstored: Mapping[str, dict[str, Any]], position: int
    ) -> dict[str, tuple[str | None, str | None]]:
        """rep -> (attainment, tier coefficient) in ``period`` of those of
        ``unstored`` (rep id -> stored directory document: reps the read models
        hold no row of in it) that have a statement there all the same, worked
        out as `summary` works them out, as of ``position``. For a page that
        counts a period's reps from the stored rows (the Overview): the summary
        of every rep, validated whole, would be most of its time."""
        today = self.reports.today()
        reps = {r: DirectoryRow.model_validate(doc).on(today) for r, doc in unstored.items()}
        return {
            rep_id: (attainment.get("attainment"), attainment.get("tier_coefficient"))
            for rep_id, (_, attainment) in self._quiet_rows(
                parse_period(period), reps, position
            ).items()
        }

    def _quiet_rows(
        self, asked: Period, unstored: Mapping[str, RepRow], position: int
    ) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """The balances and attainment rows in ``asked`` of the reps of
        ``unstored`` (none stored there) that have a statement in it all the
        same (`_quiet_period`), as of ``position``."""
        # a period not begun yet lists the reps it has rows of only: worked out
        # for every other rep, a mistyped year would replay the whole org
        if asked.first_day > self.reports.today():
            return {}
        # a rep none of whose plans pays by this kind of period has no statement
        # in it (a plan's versions keep its kind): not worked out, rep by rep,
        # from their whole history to find so (a quarter asked of a monthly org)
        kinds = _PlanKinds(self.reports.ledger)
        found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for rep_id in sorted(unstored):
            if not any(kinds.of(p) == asked.kind for p in unstored[rep_id].plan_ids):
                continue
            rows = self._quiet_period(rep_id, asked, position)
            if rows is not None:
                found[rep_id] = rows
        return found

    def _quiet_period(
        self, rep_id: str, period: Period, position: int
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The balances and attainment rows of a period the read models hold no
        row of, as of ``position``: one with nothing recorded for the rep (after
        the last period with a fact of theirs, say), which still has a statement
        — a draw, a carried balance — and which a payout run covers
        (`Reports.period_rows_at`: from the period's window, not the rep's
        history, when that is exact); None when the rep has no statement there."""
        return self.reports.period_rows_at(rep_id, period, position)

    def _period_rows(
        self, period: str, visible: Mapping[str, RepRow]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """rep -> their balances row and attainment row of ``period``: a few reps'
        read one by one, more in one query each of every rep's row of the period
        (the rows are small: a statement explaining thousands of sales is not
        read for its total)."""
        store = self.reports.projector.store
        if len(visible) <= _READ_ONE_BY_ONE:
            found = [
                {rep: doc for rep in visible if (doc := store.row(view, rep, period)) is not None}
                for view in ("balances", "attainment")
            ]
        else:
            found = [
                {rep: doc for rep, _, doc in store.rows(view, key=period) if rep in visible}
                for view in ("balances", "attainment")
            ]
        return found[0], found[1]

    def _period_status(
        self, period: str, reps: list[str], runs: Mapping[str, RunRow]
    ) -> dict[str, tuple[PeriodStatus, str | None]]:
        """rep -> where their ``period`` stands and the run that holds it: open,
        calculated, approved, paid (from the payout claims index and the runs'
        read model)."""
        claims = self.ledger.chain.select_claims(period, reps) if reps else []
        rejected = {(c.rep_id, c.run_id) for c in claims if c.state == REJECTED}
        found: dict[str, tuple[PeriodStatus, str | None]] = {}
        for claim in sorted(claims, key=lambda c: c.position):
            if claim.state == PAID:
                found[claim.rep_id] = ("paid", claim.run_id)
            elif (
                claim.state == CALCULATED
                and (claim.rep_id, claim.run_id) not in rejected
                and found.get(claim.rep_id, ("open", None))[0] != "paid"
            ):
                run = runs.get(claim.run_id)
                found[claim.rep_id] = (run.status if run else "calculated", claim.run_id)
        return found

    def runs(
        self,
        *,
        period: str | None = None,
        status: str | None = None,
        page: Page | None = None,
    ) -> RunPage:
        """Payout runs (finance's view: every rep), oldest first, with their totals,
        status, who calculated and decided, and what holds an open one."""
        _choice(status, RUN_STATUSES, "status")
        if period is not None:
            try:
                period = str(parse_period(period))
            except ValueError as exc:
                raise InvalidInputError(str(exc), field="period") from None
        self.reports.fresh()
        items = [
            _run_item(row)
            for row in self._runs().values()
            if (period is None or row.period == period) and (status is None or row.status == status)
        ]
        items.sort(key=lambda r: (r.period, r.position, r.run_id))
        return (page or Page()).of(RunPage, items)

    def run(self, run_id: str) -> RunDetail:
        """One run: its row in `runs` and each rep's total and payable as recorded."""
        self.reports.fresh()
        row = self._runs().get(run_id)
        if row is None:
            raise NotFoundError(unknown_run(run_id), field="run_id")
        recorded = self.ledger.event(row.calculated_event_id)
        return RunDetail(
            **dict(row),
            held_by=_run_hold(row),
            calculated_at=recorded.recorded_at,
            statements=[
                RunStatement(
                    rep_id=s["rep_id"],
                    currency=s["currency"],
                    total=s["total"],
                    payable=s["payable"],
                    sha256=s["sha256"],
                )
                for s in recorded.data["statements"]
            ],
        )

    def pending(self, viewer: Viewer, *, page: Page | None = None) -> PendingPage:
        """Subjects awaiting a decision, oldest first. A viewer who decides (finance:
        targets, adjustments, runs; compliance: cases; the CLI: all) sees those
        they may take — not the ones they recorded themselves (maker-checker);
        a manager sees their team's, a rep their own, to follow them."""
        with self.reports.snapshot():  # the directory and the queue of one moment
            visible = self._visible(viewer, self.reports.today())
            rows = self.reports.projector.store.rows("pending_approvals")
        # the page's items read their events after it (one connection at a time)
        waiting: list[PendingRow] = []
        for scope, _, doc in rows:
            # out of the viewer's scope: skipped before it is read into a model
            if scope.startswith("run:"):
                if viewer.role in {"rep", "manager"}:
                    continue
            elif doc.get("rep_id") not in visible:
                continue
            row = PendingRow.model_validate(doc)
            own = same_actor(row.recorded_by, viewer.actor)
            if viewer.decides and (_kind(row) not in viewer.decides or own):
                continue
            waiting.append(row)
        waiting.sort(key=lambda r: (r.position, r.subject_id))
        may_decide = bool(viewer.decides)
        return (page or Page()).of(
            PendingPage, waiting, then=lambda row: self.pending_item(row, may_decide=may_decide)
        )

    def pending_item(self, row: PendingRow, *, may_decide: bool) -> PendingItem:
        """A pending subject with what deciding it needs, from its event."""
        kind = _kind(row)
        record = self.ledger.event(row.event_id)
        data = record.data
        common: dict[str, Any] = {
            "subject_id": row.subject_id,
            "rep_id": row.rep_id,
            "recorded_by": record.actor,
            "recorded_at": record.recorded_at,
            "occurred_at": record.occurred_at.isoformat(),
            "event_id": record.event_id,
            "position": record.position,
            "rule": _RULES[kind],
            "may_decide": may_decide,
        }
        if kind == "adjustment":
            return PendingAdjustment(
                kind=kind,
                **common,
                amount=data["amount"],
                period=data["period"],
                about=data["reason"],
            )
        if kind == "case":
            return PendingCase(
                kind=kind,
                **common,
                amount=data.get("amount"),
                about=f"{data['code']}: {data['description']}",
            )
        if kind == "target":
            return PendingTarget(
                kind=kind,
                **common,
                amount=None,
                period=data["period"],
                about=f"{data['kpi']} target {data['value']}: {data['reason']}",
                target=data["value"],
            )
        statements = data["statements"]
        currencies = currency_totals(statements)
        paying = ", ".join(f"{c.payable} {c.currency}" for c in currencies)
        return PendingRun(
            kind="run",
            **common,
            # what it pays: one sum when in one currency (none adds two currencies)
            amount=currencies[0].payable if len(currencies) == 1 else None,
            period=data["period"],
            about=f"payout run of {len(statements)} rep(s), paying {paying}",
        )

    def disputes(
        self, viewer: Viewer, *, status: str | None = None, page: Page | None = None
    ) -> DisputePage:
        """Disputes of the reps the viewer sees, oldest first, each with the run,
        its period and what it paid the rep."""
        _choice(status, ("open", "resolved"), "status")
        # the directory, runs, disputes and statements of one moment
        with self.reports.snapshot():
            return self._disputes(viewer, status, page)

    def _disputes(self, viewer: Viewer, status: str | None, page: Page | None) -> DisputePage:
        visible = self._visible(viewer, self.reports.today())
        runs = self._runs()
        store = self.reports.projector.store
        rows = [
            DisputeRow.model_validate(doc)
            for scope, _, doc in store.rows("disputes")
            if scope in visible and (status is None or doc["status"] == status)
        ]
        rows.sort(key=lambda d: (d.raised_at, d.dispute_id))

        def with_payable(row: DisputeRow) -> DisputeItem:
            """The period of the run disputed, and what it pays the rep (its
            statement, as paid)."""
            run = runs.get(row.run_id)
            period = run.period if run else None
            statement = store.row("statements", row.rep_id, period) if period else None
            return DisputeItem(
                **dict(row),
                period=period,
                rep_payable=statement.get("payable") if statement else None,
            )

        return (page or Page()).of(DisputePage, rows, then=with_payable)

    def cases(
        self,
        viewer: Viewer,
        *,
        severity: str | None = None,
        status: str | None = None,
        page: Page | None = None,
    ) -> CasePage:
        """Violations of the reps the viewer sees, oldest first, by severity and
        status (pending, in_force, rejected, overturned), each with its sanction."""
        _choice(severity, ("minor", "red_line"), "severity")
        _choice(status, CASE_STATUSES, "status")
        with self.reports.snapshot():  # the directory and the cases of one moment
            visible = self._visible(viewer, self.reports.today())
            cases = self.reports.projector.store.rows("discipline")
        items: list[CaseItem] = []
        for scope, _, doc in cases:
            if scope not in visible or doc["kind"] != "case":
                continue
            entry = CaseEntry.model_validate(doc)
            state = _case_status(entry)
            if (severity is None or entry.severity == severity) and (
                status is None or state == status
            ):
                items.append(
                    CaseItem(
                        **dict(entry),
                        rep_id=scope,
                        status=state,
                        rule=_RULES["case"] if entry.severity == "red_line" else None,
                    )
                )
        # oldest first by the instant, not the text: 01:00+08:00 is before 20:00+00:00
        items.sort(key=lambda c: (datetime.fromisoformat(c.occurred_at), c.position))
        return (page or Page()).of(CasePage, items)


def _kind(row: PendingRow) -> Literal["target", "case", "adjustment", "run"]:
    """The kind of subject a pending row is, as deciders name it."""
    return "run" if row.kind == "payout_run" else row.kind


def _run_item(row: RunRow) -> RunItem:
    return RunItem(**dict(row), held_by=_run_hold(row))


def _run_hold(row: RunRow) -> str | None:
    """What an unpaid run waits for (the rule that holds it)."""
    if row.status == "calculated":
        return f"{_RULES['run']}, by someone other than {row.calculated_by}"
    if row.status == "approved":
        return "approved: awaiting `payout pay`"
    return None


def _case_status(entry: CaseEntry) -> CaseStatus:
    if entry.overturned:
        return "overturned"
    approval = entry.approval
    if approval == "pending":
        return "pending"
    if approval == "rejected":
        return "rejected"
    return "in_force"
