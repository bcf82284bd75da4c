"""Work queues (SPEC §5): the lists finance, managers, compliance and reps work
from, and the decisions taken on them — one use case per CLI command and HTTP
route, so neither builds an event or decides a rule itself.

Every list is read from the read models (`projections.storage`), scoped by a
`Viewer` exactly as the single reads are (a rep sees only themselves, a manager
only the reps whose ``manager_id`` names them, finance and compliance everyone;
the CLI, which opens the database itself, is an ``operator`` and sees
everything), filtered, sorted by a stable key and then paged. Each item carries
what its user needs to decide: who recorded it, when, the money it moves and
the rule that holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from ledger.actors import same_actor
from ledger.errors import InvalidInputError, NotFoundError
from ledger.payout_claims import CALCULATED, PAID, REJECTED
from policies.periods import parse_period
from projections.service import Reports
from projections.summary import check_window

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Page",
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
RunStatus = Literal["calculated", "approved", "rejected", "paid"]
CASE_STATUSES: Final[tuple[str, ...]] = ("pending", "in_force", "rejected", "overturned")
RUN_STATUSES: Final[tuple[str, ...]] = ("calculated", "approved", "rejected", "paid")


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

    def sees(self, rep: dict[str, Any]) -> bool:
        """Whether this viewer may see the rep of directory row ``rep``."""
        if self.role == "rep":
            return bool(rep["rep_id"] == self.rep_id)
        if self.role == "manager":
            manager_id = rep.get("manager_id")
            return isinstance(manager_id, str) and same_actor(manager_id, self.actor)
        return True


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
        items: list[dict[str, Any]],
        *,
        then: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """The page of ``items`` (sorted already); ``then`` completes each item of
        the page only (what costs a read per item is never done for the rest)."""
        window = items[self.offset : self.offset + self.limit]
        return {
            "items": [then(item) for item in window] if then is not None else window,
            "total": len(items),
            "offset": self.offset,
            "limit": self.limit,
            **extra,
        }


def _money(text: object) -> Decimal:
    return Decimal(str(text)) if text is not None else Decimal(0)


def _fmt(amount: Decimal) -> str:
    return format(amount.quantize(Decimal("0.01")), "f")


def _choice(value: str | None, allowed: Iterable[str], name: str) -> str | None:
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        raise InvalidInputError(f"must be one of {', '.join(allowed)}", field=name)
    return value


class WorkQueues:
    """The work-queue use cases of one ledger (lists and decisions)."""

    def __init__(self, reports: Reports) -> None:
        self.reports = reports
        self.ledger = reports.ledger

    # -- helpers -----------------------------------------------------------------

    def _directory(self) -> dict[str, dict[str, Any]]:
        """Every rep's directory row (team, manager, plans), by rep id; fresh."""
        self.reports.fresh()
        return {scope: doc for scope, _, doc in self.reports.projector.store.rows("reps")}

    def _visible(self, viewer: Viewer) -> dict[str, dict[str, Any]]:
        return {r: row for r, row in self._directory().items() if viewer.sees(row)}

    def _runs(self) -> dict[str, dict[str, Any]]:
        return {key: doc for _, key, doc in self.reports.projector.store.rows("payout_runs")}

    # -- lists -------------------------------------------------------------------

    def reps(
        self, viewer: Viewer, *, team: str | None = None, page: Page | None = None
    ) -> dict[str, Any]:
        """The reps the viewer may see (team, manager, plans; names stay in the
        events), by rep id."""
        items = [
            row
            for _, row in sorted(self._visible(viewer).items())
            if team is None or row.get("team") == team
        ]
        return (page or Page()).of(items)

    def summary(self, viewer: Viewer, period: str, *, page: Page | None = None) -> dict[str, Any]:
        """SPEC §5 ``summary``: every visible rep's total, payable, attainment, tier
        and status for ``period``, with team subtotals (of every visible rep,
        not only the page's)."""
        try:
            wanted = str(parse_period(period))
        except ValueError as exc:
            raise InvalidInputError(str(exc), field="period") from None
        visible = self._visible(viewer)
        store = self.reports.projector.store
        status = self._period_status(wanted, list(visible))
        items: list[dict[str, Any]] = []
        teams: dict[str, dict[str, Any]] = {}
        for rep_id, rep in sorted(visible.items()):
            doc = store.row("statements", rep_id, wanted)
            if doc is None:
                continue  # not enrolled then, or paid by another kind of period
            item = {
                "rep_id": rep_id,
                "team": rep.get("team"),
                "manager_id": rep.get("manager_id"),
                "currency": doc["currency"],
                "total": doc["total"],
                "payable": doc["payable"],
                "attainment": doc.get("attainment"),
                "score": doc.get("score"),
                "tier_coefficient": doc.get("tier_coefficient"),
                "pending": len(doc.get("pending", [])),
                **status.get(rep_id, {"status": "open", "run_id": None}),
            }
            items.append(item)
            key = f"{rep.get('team') or ''}\x00{doc['currency']}"
            team = teams.setdefault(
                key,
                {
                    "team": rep.get("team"),
                    "currency": doc["currency"],
                    "reps": 0,
                    "total": Decimal(0),
                    "payable": Decimal(0),
                },
            )
            team["reps"] += 1
            team["total"] += _money(doc["total"])
            team["payable"] += _money(doc["payable"])
        subtotals = [
            {**t, "total": _fmt(t["total"]), "payable": _fmt(t["payable"])}
            for _, t in sorted(teams.items())
        ]
        return (page or Page()).of(items, period=wanted, teams=subtotals)

    def _period_status(self, period: str, reps: list[str]) -> dict[str, dict[str, Any]]:
        """rep -> where their ``period`` stands: open, calculated, approved, paid
        (from the payout claims index and the runs' read model)."""
        claims = self.ledger.chain.select_claims(period, reps) if reps else []
        runs = self._runs()
        rejected = {(c.rep_id, c.run_id) for c in claims if c.state == REJECTED}
        found: dict[str, dict[str, Any]] = {}
        for claim in sorted(claims, key=lambda c: c.position):
            if claim.state == PAID:
                found[claim.rep_id] = {"status": "paid", "run_id": claim.run_id}
            elif (
                claim.state == CALCULATED
                and (claim.rep_id, claim.run_id) not in rejected
                and found.get(claim.rep_id, {}).get("status") != "paid"
            ):
                run = runs.get(claim.run_id, {})
                state = run.get("status", "calculated")
                found[claim.rep_id] = {"status": state, "run_id": claim.run_id}
        return found

    def runs(
        self,
        *,
        period: str | None = None,
        status: str | None = None,
        page: Page | None = None,
    ) -> dict[str, Any]:
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
            {**row, "held_by": _run_hold(row)}
            for row in self._runs().values()
            if (period is None or row["period"] == period)
            and (status is None or row["status"] == status)
        ]
        items.sort(key=lambda r: (r["period"], r["position"], r["run_id"]))
        return (page or Page()).of(items)

    def run(self, run_id: str) -> dict[str, Any]:
        """One run: its row in `runs` and each rep's total and payable as recorded."""
        self.reports.fresh()
        row = self._runs().get(run_id)
        if row is None:
            raise NotFoundError(f"no payout run {run_id}", field="run_id")
        recorded = self.ledger.event(row["calculated_event_id"])
        return {
            **row,
            "held_by": _run_hold(row),
            "calculated_at": recorded.recorded_at,
            "statements": [
                {
                    "rep_id": s["rep_id"],
                    "currency": s["currency"],
                    "total": s["total"],
                    "payable": s["payable"],
                    "sha256": s["sha256"],
                }
                for s in recorded.data["statements"]
            ],
        }

    def pending(self, viewer: Viewer, *, page: Page | None = None) -> dict[str, Any]:
        """Subjects awaiting a decision, oldest first. A viewer who decides (finance:
        targets, adjustments, runs; compliance: cases; the CLI: all) sees those
        they may take — not the ones they recorded themselves (maker-checker);
        a manager sees their team's, a rep their own, to follow them."""
        self.reports.fresh()
        visible = self._visible(viewer)
        rows = self.reports.projector.store.rows("pending_approvals")
        items: list[dict[str, Any]] = []
        for scope, _, doc in rows:
            kind = "run" if doc["kind"] == "payout_run" else doc["kind"]
            if scope.startswith("run:"):
                if viewer.role in {"rep", "manager"}:
                    continue
            elif doc["rep_id"] not in visible:
                continue
            own = same_actor(doc["recorded_by"], viewer.actor)
            if viewer.decides and (kind not in viewer.decides or own):
                continue
            items.append({**doc, "kind": kind, "may_decide": bool(viewer.decides)})
        items.sort(key=lambda i: (i["position"], i["subject_id"]))
        return (page or Page()).of(items, then=self._pending_item)

    def _pending_item(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A pending subject with what deciding it needs, from its event."""
        kind, may_decide = doc["kind"], doc["may_decide"]
        record = self.ledger.event(doc["event_id"])
        data = record.data
        item: dict[str, Any] = {
            "kind": kind,
            "subject_id": doc["subject_id"],
            "rep_id": doc.get("rep_id"),
            "recorded_by": record.actor,
            "recorded_at": record.recorded_at,
            "occurred_at": record.occurred_at.isoformat(),
            "event_id": record.event_id,
            "position": record.position,
            "rule": _RULES[kind],
            "may_decide": may_decide,
            "amount": None,
        }
        if kind == "adjustment":
            item |= {"period": data["period"], "amount": data["amount"], "about": data["reason"]}
        elif kind == "case":
            item |= {
                "amount": data.get("amount"),
                "about": f"{data['code']}: {data['description']}",
            }
        elif kind == "target":
            item |= {
                "period": data["period"],
                "about": f"{data['kpi']} target {data['value']}: {data['reason']}",
                "target": data["value"],
            }
        else:
            statements = data["statements"]
            item |= {
                "period": data["period"],
                "amount": _fmt(sum((_money(s["payable"]) for s in statements), Decimal(0))),
                "about": f"payout run of {len(statements)} rep(s)",
            }
        return item

    def disputes(
        self, viewer: Viewer, *, status: str | None = None, page: Page | None = None
    ) -> dict[str, Any]:
        """Disputes of the reps the viewer sees, oldest first, each with the run,
        its period and what it paid the rep."""
        _choice(status, ("open", "resolved"), "status")
        visible = self._visible(viewer)
        runs = self._runs()
        store = self.reports.projector.store
        items = [
            {**doc, "period": runs.get(doc["run_id"], {}).get("period")}
            for scope, _, doc in store.rows("disputes")
            if scope in visible and (status is None or doc["status"] == status)
        ]
        items.sort(key=lambda d: (d["raised_at"], d["dispute_id"]))

        def with_payable(item: dict[str, Any]) -> dict[str, Any]:
            """What the disputed period pays the rep (its statement, as paid)."""
            period = item["period"]
            statement = store.row("statements", item["rep_id"], period) if period else None
            return {**item, "rep_payable": statement.get("payable") if statement else None}

        return (page or Page()).of(items, then=with_payable)

    def cases(
        self,
        viewer: Viewer,
        *,
        severity: str | None = None,
        status: str | None = None,
        page: Page | None = None,
    ) -> dict[str, Any]:
        """Violations of the reps the viewer sees, oldest first, by severity and
        status (pending, in_force, rejected, overturned), each with its sanction."""
        _choice(severity, ("minor", "red_line"), "severity")
        _choice(status, CASE_STATUSES, "status")
        visible = self._visible(viewer)
        items: list[dict[str, Any]] = []
        for scope, _, doc in self.reports.projector.store.rows("discipline"):
            if scope not in visible or doc["kind"] != "case":
                continue
            state = _case_status(doc)
            if (severity is None or doc["severity"] == severity) and (
                status is None or state == status
            ):
                items.append(
                    {
                        **doc,
                        "rep_id": scope,
                        "status": state,
                        "rule": _RULES["case"] if doc["severity"] == "red_line" else None,
                    }
                )
        items.sort(key=lambda c: (c["occurred_at"], c["position"]))
        return (page or Page()).of(items)


def _run_hold(row: dict[str, Any]) -> str | None:
    """What an unpaid run waits for (the rule that holds it)."""
    if row["status"] == "calculated":
        return f"{_RULES['run']}, by someone other than {row['calculated_by']}"
    if row["status"] == "approved":
        return "approved: awaiting `payout pay`"
    return None


def _case_status(doc: dict[str, Any]) -> str:
    if doc.get("overturned"):
        return "overturned"
    approval = doc.get("approval")
    if approval == "pending":
        return "pending"
    if approval == "rejected":
        return "rejected"
    return "in_force"
