"""The pure fold of ledger events into the facts the calculation needs.

`LedgerFacts.apply(record)` is called once per event in global order; nothing
here does I/O. Statements, the read models and `verify` all start from it, so a
statement as of position *p* is simply the fold of the events up to *p*.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Context, Decimal
from functools import cache
from typing import Any, ClassVar, Literal

from ledger import catalogue
from ledger.records import EventRecord
from policies.discipline import LADDER_LOOKBACK
from policies.periods import Period, PeriodKind, after_the_day_of, parse_period, period_of
from policies.plan import Plan, plan_in_force

__all__ = [
    "CaseInfo",
    "LedgerFacts",
    "RepInfo",
    "RunInfo",
    "SaleInfo",
    "SubjectDecision",
    "Without",
]


@dataclass
class RepInfo:
    rep_id: str
    enrolled: EventRecord
    assignments: list[tuple[datetime, int, str]]  # (occurred_at, position, plan_id)
    # SPEC §2: the rep's teams and managers, each from its event's occurred_at on
    # (the enrolment's, then each transfer's that names one), in log order: the
    # one in force on a day is read where it is asked (`projections.disputes`)
    teams: list[tuple[datetime, int, str | None]]  # (occurred_at, position, team)
    managers: list[tuple[datetime, int, str | None]]  # (occurred_at, position, manager_id)
    left: EventRecord | None = None


class SaleInfo:
    """A sale as the calculation needs it, and what `LedgerFacts.record` gives
    for its event. Sales are most of the log: what is kept of each is what
    statements read (its id, place, business time, actor and category; the
    rest is in the log) in one object — a copy of the event record beside it
    cost another 130 bytes a sale, and the time to make it.

    Held compactly, as a rebuild holds every sale of the log at once (issue 17:
    a million-event rebuild in 512 MiB): the amount's digits, the position and
    the event id's 128 bits share one integer (56 bytes, where the id's text,
    the position and a `Decimal` took 224), made back into the same text and
    the same `Decimal`, digit for digit, when read; actor and category are one
    shared pair, and what few sales have (a cancellation, a currency other than
    CNY, payments) one slot. Read-only but for the cancellation and the
    payments, which later events add.
    """

    __slots__ = ("_ident", "_labels", "_more", "credits", "occurred_at", "sale_id")
    type: ClassVar[str] = "SaleRecorded"
    __hash__ = None  # type: ignore[assignment] # mutable, compared by value

    def __init__(
        self,
        sale_id: str,
        event_id: str,
        position: int,
        occurred_at: datetime,
        *,
        actor: str,
        category: str | None,
        amount: Decimal | str,
        credits: dict[str, Decimal],  # noqa: A002 - rep_id -> share, as statements name it
        cancellation: EventRecord | None = None,
        currency: str = "CNY",  # SPEC §3.1: converted when the plan's differs
        payments: list[EventRecord] | None = None,  # SPEC §3.1 pay on collection
    ) -> None:
        self.sale_id = sale_id
        self._ident = _packed(position, event_id, amount)
        self.occurred_at = occurred_at
        self._labels = _labels(actor, category)
        self.credits = credits
        self._more: tuple[EventRecord | None, str, list[EventRecord] | None] | None = None
        if cancellation is not None or currency != "CNY" or payments is not None:
            self._more = (cancellation, currency, payments)

    @property
    def position(self) -> int:
        ident = self._ident
        return (ident >> _ID_BITS) & _POSITION_MASK if isinstance(ident, int) else ident[0]

    @property
    def event_id(self) -> str:
        ident = self._ident
        return _id_text(ident & _ID_MASK) if isinstance(ident, int) else ident[1]

    @property
    def amount(self) -> Decimal:
        ident = self._ident
        if isinstance(ident, int):
            amount = ident >> _AMOUNT_SHIFT
            return _exact_multiply(amount >> _SCALE_BITS, _SCALES[amount & _SCALE_MASK])
        return Decimal(ident[2])

    def unpacked(self) -> tuple[int, str, Decimal]:
        """The position, event id and amount, unpacked at once: a statement
        reads all three of each of its sales."""
        ident = self._ident
        if isinstance(ident, int):
            amount = ident >> _AMOUNT_SHIFT
            return (
                (ident >> _ID_BITS) & _POSITION_MASK,
                _id_text(ident & _ID_MASK),
                _exact_multiply(amount >> _SCALE_BITS, _SCALES[amount & _SCALE_MASK]),
            )
        return ident[0], ident[1], Decimal(ident[2])

    @property
    def actor(self) -> str:
        return self._labels[0]

    @property
    def category(self) -> str | None:
        return self._labels[1]

    @property
    def cancellation(self) -> EventRecord | None:
        return None if self._more is None else self._more[0]

    @cancellation.setter
    def cancellation(self, cancellation: EventRecord | None) -> None:
        self._more = (cancellation, self.currency, self.payments)

    @property
    def currency(self) -> str:
        return "CNY" if self._more is None else self._more[1]

    @property
    def payments(self) -> list[EventRecord] | None:
        return None if self._more is None else self._more[2]

    @payments.setter
    def payments(self, payments: list[EventRecord] | None) -> None:
        self._more = (self.cancellation, self.currency, payments)

    def _fields(self) -> tuple[object, ...]:
        return (
            self.sale_id,
            self.event_id,
            self.position,
            self.occurred_at,
            self.actor,
            self.category,
            self.amount,
            self.credits,
            self.cancellation,
            self.currency,
            self.payments,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SaleInfo):
            return NotImplemented
        return self._fields() == other._fields()

    def __repr__(self) -> str:
        return f"SaleInfo{self._fields()!r}"


# Rules versioned by when their events were recorded (`LedgerFacts.after_leaving`):
# the recorded time (UTC, ISO, compared as text) from which a sale after the day
# its rep left credits them nothing and a manager who left earns no override on it.
LEAVER_RULE_FROM = catalogue.RULES_REVISED.date().isoformat()

# A sale's amount, position and event id in one integer, from the top: the
# amount's digits, how many of them follow the decimal point, the position, the
# id's 128 bits. What does not fit is kept as it is (`_packed`).
_ID_BITS = 128
_ID_MASK = (1 << _ID_BITS) - 1
_POSITION_BITS = 40
_POSITION_MASK = (1 << _POSITION_BITS) - 1
_AMOUNT_SHIFT = _ID_BITS + _POSITION_BITS
_SCALE_BITS = 4
_SCALE_MASK = (1 << _SCALE_BITS) - 1
_MAX_WHOLE_DIGITS = 19
_MAX_FRACTION_DIGITS = 9
# digits x 10^-scale, exactly: 28 digits at most, far within the precision
_exact_multiply = Context(prec=60).multiply
_SCALES = tuple(Decimal(1).scaleb(-scale) for scale in range(_MAX_FRACTION_DIGITS + 1))


# A UUID's canonical text: lower-case hexadecimal digits in groups of 8-4-4-4-12.
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _id_text(value: int) -> str:
    """A UUID's canonical text from its 128 bits (through its bytes: quicker
    than formatting the 128-bit integer, done once per sale a statement reads)."""
    h = value.to_bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _packed(
    position: int, event_id: str, amount: Decimal | str
) -> int | tuple[int, str, Decimal | str]:
    """A sale's position, event id and amount as one integer when each fits: the
    id a UUID in its canonical text (what the store gives back), the amount plain
    decimal text (as SPEC §2's money is stored); else as they are."""
    if type(amount) is not str or not 0 <= position <= _POSITION_MASK or not amount.isascii():
        return position, event_id, amount
    whole, point, fraction = amount.partition(".")
    if not (
        whole.isdigit()
        and len(whole) <= _MAX_WHOLE_DIGITS
        and (not point or (fraction.isdigit() and len(fraction) <= _MAX_FRACTION_DIGITS))
    ):
        return position, event_id, amount
    # matched rather than made back into text and compared: once per sale folded
    if _CANONICAL_ID.fullmatch(event_id) is None:
        return position, event_id, amount
    digits = int(whole + fraction)
    value = int(event_id.replace("-", ""), 16)
    return (
        (digits << _SCALE_BITS | len(fraction)) << _POSITION_BITS | position
    ) << _ID_BITS | value


@cache
def _labels(actor: str, category: str | None) -> tuple[str, str | None]:
    """One shared (actor, category) pair per combination (a handful in a million sales)."""
    return actor, category


@dataclass
class CaseInfo:
    record: EventRecord
    overturned: EventRecord | None = None


@dataclass(frozen=True)
class SubjectDecision:
    record: EventRecord

    @property
    def granted(self) -> bool:
        return self.record.type == "ApprovalGranted"


@dataclass
class RunInfo:
    record: EventRecord
    paid: EventRecord | None = None

    @property
    def run_id(self) -> str:
        return str(self.record.data["run_id"])

    @property
    def period(self) -> str:
        return str(self.record.data["period"])

    def statement_of(self, rep_id: str) -> dict[str, Any] | None:
        for statement in self.record.data["statements"]:
            if statement["rep_id"] == rep_id:
                return dict(statement)
        return None


@dataclass(frozen=True)
class Without:
    """`LedgerFacts.without`: the facts as if one event had never been
    recorded, what it was — an exchange ``rate``, a ``reporting`` change, a
    plan ``assignment``, a plan ``version`` — and whose: the rate's (base,
    quote), the version's (plan id,), else (rep id,)."""

    facts: LedgerFacts
    kind: Literal["rate", "reporting", "assignment", "version"]
    key: tuple[str, ...]


@dataclass
class LedgerFacts:
    """Everything the ledger knows as of the last applied position."""

    position: int = 0
    plans: dict[str, dict[int, Plan]] = field(default_factory=dict)
    plan_events: dict[tuple[str, int], str] = field(default_factory=dict)
    reps: dict[str, RepInfo] = field(default_factory=dict)
    sales: dict[str, SaleInfo] = field(default_factory=dict)
    sales_by_rep: dict[str, list[SaleInfo]] = field(default_factory=lambda: defaultdict(list))
    targets: dict[str, EventRecord] = field(default_factory=dict)
    kpi_scores: dict[str, list[EventRecord]] = field(default_factory=lambda: defaultdict(list))
    cases: dict[str, CaseInfo] = field(default_factory=dict)
    adjustments: dict[str, EventRecord] = field(default_factory=dict)
    decisions: dict[str, SubjectDecision] = field(default_factory=dict)
    runs: dict[str, RunInfo] = field(default_factory=dict)
    disputes: dict[str, EventRecord] = field(default_factory=dict)
    resolutions: dict[str, EventRecord] = field(default_factory=dict)
    coaching: dict[str, list[EventRecord]] = field(default_factory=lambda: defaultdict(list))
    # SPEC §3.1: exchange rates by (base, quote), in log order
    fx_rates: dict[tuple[str, str], list[EventRecord]] = field(default_factory=dict)
    # SPEC §3.1 overrides: each rep's reporting changes — (occurred_at, position,
    # event id, manager id or None) from enrolment on — and everyone each rep
    # ever reported to (what a sale of theirs touches: their managers' overrides)
    reporting: dict[str, list[tuple[datetime, int, str, str | None]]] = field(default_factory=dict)
    managers_ever: dict[str, set[str]] = field(default_factory=dict)
    _override_plans: set[str] = field(default_factory=set, repr=False)  # plan ids
    # SPEC §3.1 pay on collection: payments by the reps their sales credit
    payments_by_rep: dict[str, list[EventRecord]] = field(default_factory=lambda: defaultdict(list))
    # plan id -> the reps who ever followed it (their assignments'): whom a
    # version of it touches (`_on_PlanPublished`), whom a rate converting
    # between two plans' currencies reaches (`_released_across`)
    _followers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set), repr=False)
    # payments whose sale these facts do not hold (a windowed replay that did not
    # read the sale's booking period): a statement that needs one must not use them
    unplaced_payments: list[EventRecord] = field(default_factory=list)
    # Sales recorded for a rep who is not among their splits (credited nothing):
    # sale id -> that rep, and each such rep's sales (their statements warn).
    unsplit: dict[str, str] = field(default_factory=dict)
    unsplit_by_rep: dict[str, list[SaleInfo]] = field(default_factory=lambda: defaultdict(list))
    # The first position recorded since `LEAVER_RULE_FROM` (None: none yet): a sale
    # after the day its rep left credits them nothing when it or the departure
    # was recorded since (`after_leaving`)
    leaver_rule_from: int | None = None
    # event id -> record, of every event but sales (see `record`)
    records: dict[str, EventRecord] = field(default_factory=dict)
    # rep_id -> ids of its targets, cases, adjustments, disputes, and the event
    # ids of its plan assignments (`RepPlanAssigned`), in order
    by_rep: dict[str, dict[str, list[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    # (rep, period kind) -> (period -> sales, [how many of the rep's sales are in])
    _period_index: dict[tuple[str, str], tuple[dict[Period, list[SaleInfo]], list[int]]] = field(
        default_factory=dict, repr=False
    )
    # event id -> sale, made on first need (`record`): a million entries a
    # rebuild would otherwise make and hardly ever read
    _sale_of_event: dict[str, SaleInfo] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, records: Iterable[EventRecord]) -> LedgerFacts:
        facts = cls()
        for record in records:
            facts.apply(record)
        return facts

    def fork(self) -> LedgerFacts:
        """A copy to fold events that are never recorded into (a what-if's plan
        version, an estimate's sale), leaving these facts as they are.

        Only what those folds change is copied: the containers a plan
        publication or a new sale is added to (plans, records, sales, each
        rep's list of sales and its index by period). The objects in them are
        shared, so a fork must not be given an event that changes one already
        folded (a cancellation, an assignment, a payment of a run)."""
        forked = replace(
            self,
            plans={plan_id: dict(versions) for plan_id, versions in self.plans.items()},
            plan_events=dict(self.plan_events),
            records=dict(self.records),
            sales=dict(self.sales),
            sales_by_rep=defaultdict(list, {r: list(s) for r, s in self.sales_by_rep.items()}),
            unsplit=dict(self.unsplit),
            unsplit_by_rep=defaultdict(list, {r: list(s) for r, s in self.unsplit_by_rep.items()}),
        )
        forked._period_index = {  # noqa: SLF001 - its own kind
            key: ({period: list(sales) for period, sales in by_period.items()}, [done[0]])
            for key, (by_period, done) in self._period_index.items()
        }
        forked._sale_of_event = (  # noqa: SLF001
            dict(self._sale_of_event) if self._sale_of_event is not None else None
        )
        return forked

    def without(self, event_id: str) -> Without | None:
        """These facts as if the exchange rate, reporting change, plan
        assignment or plan version ``event_id`` had never been recorded (SPEC
        §4: a paid period names the later events whose removal would change a
        line), with what the event was; None for any other event, which a
        statement takes out of a period's facts itself
        (`policies.causes.without_event`).

        A copy of the one container the event is in — the pair's rates, the
        rep's reporting changes (an enrolment's place in them: its manager),
        the rep's assignments, the plan's versions — the rest shared, never
        changed: the period is worked out again over it by a calculator of
        its own, or its lines shown unmoved or moved more directly
        (`projections.statement`)."""
        record = self.records.get(event_id)
        if record is None:
            return None
        d = record.data
        if record.type == "FxRateSet":
            pair = (d["base"], d["quote"])
            kept = [r for r in self.fx_rates.get(pair, ()) if r.event_id != event_id]
            return Without(replace(self, fx_rates={**self.fx_rates, pair: kept}), "rate", pair)
        if record.type == "PlanPublished":
            # a version published late for periods already paid or computed
            # (SPEC §3: the highest in force governs): the one before governs again
            plan_id, version = d["plan"]["id"], d["plan"]["version"]
            versions = {v: p for v, p in self.plans.get(plan_id, {}).items() if v != version}
            events = {k: e for k, e in self.plan_events.items() if e != event_id}
            masked = replace(self, plans={**self.plans, plan_id: versions}, plan_events=events)
            return Without(masked, "version", (plan_id,))
        rep_id: str = d.get("rep_id", "")
        if record.type in {"RepEnrolled", "RepTransferred"} and rep_id in self.reporting:
            changes = [c for c in self.reporting[rep_id] if c[2] != event_id]
            masked = replace(self, reporting={**self.reporting, rep_id: changes})
            return Without(masked, "reporting", (rep_id,))
        info = self.reps.get(rep_id)
        if record.type == "RepPlanAssigned" and info is not None:
            assigned = [a for a in info.assignments if a[1] != record.position]
            masked = replace(self, reps={**self.reps, rep_id: replace(info, assignments=assigned)})
            return Without(masked, "assignment", (rep_id,))
        return None

    # -- the fold --------------------------------------------------------------

    def after_leaving(self, left: EventRecord | None, sale: SaleInfo) -> bool:
        """Whether ``sale`` falls after the day of the departure ``left`` (a
        rep's, credited nothing for it; a manager's, no override on it).

        A rule of the events recorded since `LEAVER_RULE_FROM`: where the sale
        and the departure were both recorded before, the sale counts as it did
        when they were (a replay of a period paid then books no correction
        that no event caused). Recorded times follow positions, so "the later
        of the two was recorded since" is "its position is at or after the
        first one recorded since" — among the events folded (a windowed replay
        folds the rep's trail, both events among them)."""
        if left is None:
            return False
        since = self.leaver_rule_from
        if since is None or max(left.position, sale.position) < since:
            return False
        return after_the_day_of(sale.occurred_at, left.occurred_at)

    def apply(self, r: EventRecord) -> AbstractSet[str]:
        """Fold one event in; returns the rep ids whose figures it may change."""
        assert r.position > self.position, "events are applied in global order"
        self.position = r.position
        if self.leaver_rule_from is None and r.recorded_at >= LEAVER_RULE_FROM:
            self.leaver_rule_from = r.position
        if r.type == "SaleRecorded":  # most of the log: no handler lookup
            found = self._on_SaleRecorded(r, r.data)
        else:
            self.records[r.event_id] = r
            handler = getattr(self, f"_on_{r.type}")  # one fold per catalogue entry
            found = handler(r, r.data)
        if self.managers_ever and self._override_plans and r.type in catalogue.OVERRIDE_READS:
            return self._with_managers(found)
        return found

    def _with_managers(self, reps: AbstractSet[str]) -> AbstractSet[str]:
        """``reps`` and those they (or their managers) ever reported to whose plan
        pays overrides: a manager's override reads their reports' sales (SPEC
        §3.1, two levels), so what changes a rep's credited sales changes theirs
        — the catalogue's ``override_reads`` types, to which `apply` keeps it:
        a report's coaching, cases or disputes are none of the manager's pay,
        and the replay index is whose events they are (`GET /events`, bundles)."""
        ever = self.managers_ever
        if not self._override_plans or not any(rep in ever for rep in reps):
            return reps
        more = set(reps)
        for rep in reps:
            for manager in ever.get(rep, ()):
                for found in (manager, *ever.get(manager, ())):
                    # a manager not enrolled yet may be enrolled on an override
                    # plan later: what their reports do now is theirs to replay
                    # (an audit bundle of theirs missed a report's enrolment)
                    if found not in self.reps or self.reads_other_reps(found):
                        more.add(found)
        return more

    def _reports_to(self, r: EventRecord, rep_id: str, manager_id: str | None) -> None:
        self.reporting.setdefault(rep_id, []).append(
            (r.occurred_at, r.position, r.event_id, manager_id)
        )
        if manager_id is not None:
            self.managers_ever.setdefault(rep_id, set()).add(manager_id)

    def _on_PlanPublished(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        plan = Plan.from_stored(d["plan"])
        self.plans.setdefault(plan.id, {})[plan.version] = plan
        if plan.override is not None:
            self._override_plans.add(plan.id)
        self.plan_events[plan.id, plan.version] = r.event_id
        # the reps with the plan among their assignments, from the index of its
        # followers rather than every rep's (a what-if folds its candidate
        # version here too): a rep is enrolled once (their stream's first
        # event), so the index gains what their assignments do and loses nothing
        return set(self._followers.get(plan.id, ()))

    def _on_RepEnrolled(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        rep_id = d["rep_id"]
        self._followers[d["plan_id"]].add(rep_id)
        self.reps[rep_id] = RepInfo(
            rep_id,
            r,
            [(r.occurred_at, r.position, d["plan_id"])],
            [(r.occurred_at, r.position, d.get("team"))],
            [(r.occurred_at, r.position, d.get("manager_id"))],
        )
        if d.get("manager_id") is not None:
            self._reports_to(r, rep_id, d["manager_id"])
        return {rep_id}

    def _on_RepTransferred(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        rep_id = d["rep_id"]
        info = self.reps.get(rep_id)  # None: a manager's replay, before the rep was theirs
        before = self._with_managers({rep_id})
        # dated, not overwritten: a transfer recorded ahead of its date, or after
        # one dated later, does not move the rep before (or after) it should
        if "team" in d and info is not None:
            info.teams.append((r.occurred_at, r.position, d["team"]))
        if "manager_id" in d:
            if info is not None:
                info.managers.append((r.occurred_at, r.position, d["manager_id"]))
            self._reports_to(r, rep_id, d["manager_id"])
        return {*before, *self._with_managers({rep_id})}

    def _on_PaymentReceived(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        sale = self.sales.get(d["sale_id"])
        if sale is None:  # a windowed replay that did not read the booking period
            self.unplaced_payments.append(r)
            return set()
        if sale.payments is None:
            sale.payments = []
        sale.payments.append(r)
        for rep_id in sale.credits:
            self.payments_by_rep[rep_id].append(r)
        return set(sale.credits)

    def _on_FxRateSet(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        self.fx_rates.setdefault((d["base"], d["quote"]), []).append(r)
        return {
            rep_id
            for sale in self.sales.values()
            if sale.currency == d["base"]
            for rep_id in sale.credits
        } | self._released_across(r).keys()

    def _released_across(self, rate: EventRecord) -> dict[str, date]:
        """SPEC §3.1 pay on collection, for a rep whose plans pay in both
        currencies of ``rate`` — a collection plan in its base, another in its
        quote (a move stored before the write rule that refuses it): a payment
        at or after the rate's moment may release what a sale earned under the
        one into a period paid under the other, converted at the rate; until
        the rate came it waited, and its sale's booking period counted it
        unreleased. Each such rep, with the earliest booking day of a sale
        paid so. Written since the rule, a store holds no such move; a rep
        who moved the other way — from a plan paying in the quote to one
        paying on collection in the base, which the rule lets in (what they
        booked before was paid on booking) — is found too, and reached back
        to more than need be: none of their payments waits for a rate."""
        base, quote = rate.data["base"], rate.data["quote"]
        held_back = self._plans_paying(base, collection=True)
        paid_in = self._plans_paying(quote)
        found: dict[str, date] = {}
        if not held_back or not paid_in:
            return found  # the common case: a glance at the plans
        for rep_id in self._following_both(held_back, paid_in):
            days = [
                sale.occurred_at.date()
                for p in self.payments_by_rep.get(rep_id, ())
                if p.occurred_at >= rate.occurred_at
                and (sale := self.sales.get(p.data["sale_id"])) is not None
            ]
            if days:
                found[rep_id] = min(days)
        return found

    def _following_both(self, some: set[str], others: set[str]) -> set[str]:
        """The reps who followed one of the plans ``some`` and one of
        ``others``, read from the side fewer reps followed (a rate a day for
        each pair: never every rep of a plan the whole sales force follows)."""
        sides = sorted(
            ([self._followers.get(plan_id, set()) for plan_id in side] for side in (some, others)),
            key=lambda followers: sum(map(len, followers)),
        )
        fewer, more = sides
        return {rep for reps in fewer for rep in reps if any(rep in other for other in more)}

    def _plans_paying(self, currency: str, *, collection: bool = False) -> set[str]:
        """The plans paying in ``currency`` (``collection``: with a version
        paying on collection)."""
        return {
            plan_id
            for plan_id, versions in self.plans.items()
            if any(
                v.currency == currency and (not collection or v.commission.basis == "collection")
                for v in versions.values()
            )
        }

    def _on_RepPlanAssigned(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        info = self.reps.get(d["rep_id"])  # None: a manager's replay (see `_on_RepLeft`)
        if info is not None:
            info.assignments.append((r.occurred_at, r.position, d["plan_id"]))
            self._followers[d["plan_id"]].add(d["rep_id"])
            # by event id too: what a paid period's causes weigh (`Calculator`)
            self.by_rep[d["rep_id"]]["assignments"].append(r.event_id)
        return {d["rep_id"]}

    def _on_RepLeft(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        # None: a manager's replay (the replay index) that holds a report's
        # later events — they reported to the manager by then — but not their
        # enrolment, which named an earlier manager: nothing of theirs to record
        info = self.reps.get(d["rep_id"])
        if info is not None:
            info.left = r
        return {d["rep_id"]}

    def _on_TargetSet(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        self.targets[d["target_id"]] = r
        self.by_rep[d["rep_id"]]["targets"].append(d["target_id"])
        return {d["rep_id"]}

    def _on_SaleRecorded(self, r: EventRecord, d: dict[str, Any]) -> AbstractSet[str]:  # noqa: N802
        splits = d.get("splits")
        unsplit = False
        if splits:
            shares = {sys.intern(s["rep_id"]): Decimal(s["share"]) for s in splits}
            touched: AbstractSet[str] = set(shares)
            if d["rep_id"] not in shares:  # its own rep is credited nothing: a warning
                unsplit = True
                touched = {*shares, sys.intern(d["rep_id"])}
        else:
            shares = _sole_credit(d["rep_id"])
            touched = _sole_rep(d["rep_id"])
        sale_id = d["sale_id"]
        sale = SaleInfo(
            sale_id,
            r.event_id,
            r.position,
            r.occurred_at,
            actor=r.actor,
            category=d.get("category"),
            amount=d["amount"],
            credits=shares,
            currency=_currency(d["currency"]),
        )
        self.sales[sale_id] = sale
        if self._sale_of_event is not None:
            self._sale_of_event[r.event_id] = sale
        for rep_id in shares:
            self.sales_by_rep[rep_id].append(sale)
        if unsplit:
            self.unsplit[sale_id] = d["rep_id"]
            self.unsplit_by_rep[d["rep_id"]].append(sale)
        return touched

    def _on_SaleCancelled(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        sale = self.sales.get(d["sale_id"])
        if sale is None:  # a manager's own events: a report's sale indexed before they managed
            return set()
        sale.cancellation = r
        return set(sale.credits)

    def _on_KpiScored(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        self.kpi_scores[d["rep_id"]].append(r)
        return {d["rep_id"]}

    def _on_CoachingRecorded(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        self.coaching[d["rep_id"]].append(r)
        return {d["rep_id"]}

    def _on_ViolationRecorded(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        self.cases[d["case_id"]] = CaseInfo(r)
        self.by_rep[d["rep_id"]]["cases"].append(d["case_id"])
        return {d["rep_id"]}

    def _on_ViolationOverturned(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        case = self.cases[d["case_id"]]
        case.overturned = r
        return {case.record.data["rep_id"]}

    def _on_AdjustmentRequested(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        self.adjustments[d["adjustment_id"]] = r
        self.by_rep[d["rep_id"]]["adjustments"].append(d["adjustment_id"])
        return {d["rep_id"]}

    def _on_ApprovalGranted(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        subject_id = d["subject_id"]
        decision = SubjectDecision(r)
        self.decisions[subject_id] = decision
        return self.reps_of_subject(subject_id)

    def _on_ApprovalRejected(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        return self._on_ApprovalGranted(r, d)

    def _on_PayoutCalculated(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        self.runs[d["run_id"]] = RunInfo(r)
        return {s["rep_id"] for s in d["statements"]}

    def _on_PayoutPaid(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        run = self.runs[d["run_id"]]
        run.paid = r
        return {s["rep_id"] for s in run.record.data["statements"]}

    def _on_DisputeRaised(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        self.disputes[d["dispute_id"]] = r
        self.by_rep[d["rep_id"]]["disputes"].append(d["dispute_id"])
        return {d["rep_id"]}

    def _on_DisputeResolved(self, r: EventRecord, d: dict[str, Any]) -> set[str]:  # noqa: N802
        self.resolutions[d["dispute_id"]] = r
        return {self.disputes[d["dispute_id"]].data["rep_id"]}

    # -- what an event can change ----------------------------------------------

    def affects_since(self, r: EventRecord) -> date | None:  # noqa: C901, PLR0911 - a rule per type
        """The earliest business date whose figures ``r`` (just applied) can change;
        None when it can change any period (enrolment, plan changes)."""
        if r.type == "SaleRecorded":  # most of the log
            return r.occurred_at.date()
        d = r.data
        own = r.occurred_at.date()
        if r.type in catalogue.REACHES_EVERY_PERIOD:
            return None
        if r.type in {"SaleCancelled", "PaymentReceived"}:
            return self.sales[d["sale_id"]].occurred_at.date()
        if r.type == "FxRateSet":
            return min((own, *self._released_across(r).values()))
        if r.type == "ViolationOverturned":
            return self.cases[d["case_id"]].record.occurred_at.date()
        if r.type == "ApprovalRejected" and d["subject_id"] in self.runs:
            return self._rejected_run_since(self.runs[d["subject_id"]])
        if r.type in {"ApprovalGranted", "ApprovalRejected"}:
            return self._subject_since(d["subject_id"], own)
        if r.type == "PayoutPaid":
            return self._paid_chain_start(self.runs[d["run_id"]])
        if r.type in {"PayoutCalculated", "DisputeRaised"}:
            run = self.runs.get(d.get("run_id", ""))
            return parse_period(run.period).first_day if run else own
        if r.type == "DisputeResolved" and d.get("adjustment_id"):
            return self._subject_since(d["adjustment_id"], own)
        if "period" in d:
            return min(own, parse_period(d["period"]).first_day)
        return own

    def _rejected_run_since(self, run: RunInfo) -> date:
        """The run's period, or the period after the last one a rep of it keeps
        without it, whichever is earlier: an open run gave each of its reps the
        periods up to its own (`projections.periods.activity_periods`), and
        rejected, those close again."""
        from projections.periods import activity_periods  # noqa: PLC0415 - it reads these facts

        start = parse_period(run.period)
        for statement in run.record.data["statements"]:
            rep_id = statement["rep_id"]
            if rep_id in self.reps and self.period_kind(rep_id) == start.kind:
                start = min(start, activity_periods(self, rep_id, start.kind)[-1].next())
        return start.first_day

    def _paid_chain_start(self, run: RunInfo) -> date:
        """Paying a period locks it, and moves where the corrections of the paid
        periods just before it go (or settles them): the first day of the
        earliest of those, over the run's reps."""
        period = parse_period(run.period)
        earliest = period
        for statement in run.record.data["statements"]:
            chain = period
            while self.paid_run(statement["rep_id"], chain.previous()) is not None:
                chain = chain.previous()
            earliest = min(earliest, chain)
        return earliest.first_day

    def affects_until(self, r: EventRecord) -> date | None:  # noqa: PLR0911 - a rule per type
        """The latest business date whose own figures ``r`` (just applied) can
        change, leaving aside the balance carried on from them; None: no bound.

        With `affects_since` it places an event in the replay index: a replay of
        one period reads only the events that reach into it (a sale reaches its
        own day; a minor case reaches a year on, the ladder's look-back).
        """
        d = r.data
        if r.type == "SaleRecorded":
            return r.occurred_at.date()
        if r.type == "SaleCancelled":
            return self.sales[d["sale_id"]].occurred_at.date()
        if r.type == "PaymentReceived":  # the booking period and the payment's
            return r.occurred_at.date()
        if r.type in catalogue.BOUNDED_BY_PERIOD:
            return parse_period(d["period"]).last_day
        if r.type == "ViolationRecorded":
            return r.occurred_at.date() + LADDER_REACH
        if r.type == "ViolationOverturned":
            return self.cases[d["case_id"]].record.occurred_at.date() + LADDER_REACH
        if r.type in {"ApprovalGranted", "ApprovalRejected"}:
            return self._subject_until(d["subject_id"])
        return None  # enrolment, plans, payout runs, disputes, coaching: every period

    def _subject_until(self, subject_id: str) -> date | None:
        for table in (self.targets, self.adjustments):
            if subject_id in table:
                return parse_period(table[subject_id].data["period"]).last_day
        if subject_id in self.cases:
            return self.cases[subject_id].record.occurred_at.date() + LADDER_REACH
        return None

    def _subject_since(self, subject_id: str, default: date) -> date:
        for table in (self.targets, self.adjustments):
            if subject_id in table:
                subject = table[subject_id]
                return min(
                    subject.occurred_at.date(), parse_period(subject.data["period"]).first_day
                )
        if subject_id in self.cases:
            return self.cases[subject_id].record.occurred_at.date()
        if subject_id in self.runs:
            return parse_period(self.runs[subject_id].period).first_day
        return default

    # -- lookups ---------------------------------------------------------------

    def record(self, event_id: str) -> EventRecord | SaleInfo | None:
        """The event ``event_id`` as folded (a sale as its `SaleInfo`), if applied."""
        found = self.records.get(event_id)
        if found is not None:
            return found
        if self._sale_of_event is None:
            self._sale_of_event = {sale.event_id: sale for sale in self.sales.values()}
        return self._sale_of_event.get(event_id)

    def event_counts(self) -> Counter[str]:
        """How many events of each type were applied."""
        counts = Counter(r.type for r in self.records.values())
        if self.sales:
            counts["SaleRecorded"] += len(self.sales)
        return counts

    def sales_by_period(self, rep_id: str, kind: PeriodKind) -> dict[Period, list[SaleInfo]]:
        """``rep_id``'s sales by the period (of ``kind``) they occurred in, log order.

        Kept up to date incrementally: a rep's sales only ever grow at the end
        (`sales_by_rep`), so each sale's period is worked out once, not once per
        statement (measured: 11M `period_of` calls in a 1M-event rebuild before).
        """
        key = (rep_id, kind)
        index = self._period_index.get(key)
        if index is None:
            index = self._period_index[key] = ({}, [0])
        by_period, done = index
        sales_of_rep = self.sales_by_rep.get(rep_id, [])
        # the period of each (year, month) is looked up once per call, not per sale
        periods: dict[tuple[int, int], list[SaleInfo]] = {}
        for sale in sales_of_rep[done[0] :]:
            moment = sale.occurred_at
            month = (moment.year, moment.month)
            found = periods.get(month)
            if found is None:
                found = periods[month] = by_period.setdefault(period_of(moment, kind), [])
            found.append(sale)
        done[0] = len(sales_of_rep)
        return by_period

    def open_run_statement(self, rep_id: str, period: str) -> dict[str, Any] | None:
        """The statement of ``rep_id`` in the open run (calculated or approved,
        not paid, not rejected) that holds their ``period``, if one does: what
        it will pay, whatever the period would pay now."""
        held = None
        for run in self.runs.values():
            if run.period != period or not self.is_open(run):
                continue
            statement = run.statement_of(rep_id)
            if statement is not None:
                held = statement  # the latest run holds it (one at a time)
        return held

    def is_open(self, run: RunInfo) -> bool:
        """Whether ``run`` is open: calculated or approved, not paid, not rejected."""
        decision = self.decisions.get(run.run_id)
        return run.paid is None and (decision is None or decision.granted)

    def reps_of_subject(self, subject_id: str) -> set[str]:
        for table in (self.targets, self.adjustments):
            if subject_id in table:
                return {table[subject_id].data["rep_id"]}
        if subject_id in self.cases:
            return {self.cases[subject_id].record.data["rep_id"]}
        if subject_id in self.runs:
            return {s["rep_id"] for s in self.runs[subject_id].record.data["statements"]}
        return set()

    def plan_for(self, rep_id: str, period: Period) -> Plan | None:
        """The plan version that pays ``rep_id`` for ``period`` (SPEC §3).

        The rep's plan is the last one assigned on or before the period's first
        day (the enrolment plan when none was); its version in force is the
        highest whose effective_from is on or before that day.
        """
        plan_id = self.plan_id_for(rep_id, period)
        return plan_in_force(self.plans.get(plan_id, {}).values(), period)

    def plan_id_for(self, rep_id: str, period: Period) -> str:
        rep = self.reps[rep_id]
        ordered = sorted(rep.assignments, key=lambda a: (a[0].date(), a[1]))
        current = ordered[0][2]
        for since, _, plan_id in ordered:
            if since.date() <= period.first_day:
                current = plan_id
        return current

    def reads_other_reps(self, rep_id: str) -> bool:
        """Whether a plan of ``rep_id`` pays overrides (SPEC §3.1): their figures
        rest on other reps' events, which a replay of the rep's own events
        (the replay index) may not all hold — a report's enrolment, recorded
        before the rep managed anyone, say."""
        info = self.reps.get(rep_id)
        return info is not None and not self._override_plans.isdisjoint(_plan_ids(info))

    def paid_on_collection(self, rep_id: str) -> bool:
        """Whether a version of a plan ever assigned to ``rep_id`` pays commission
        on collection (SPEC §3.1): a payment received later, whatever plan pays
        the period it falls in, may then release what its sale earned in a
        booking period paid on collection."""
        info = self.reps.get(rep_id)
        return info is not None and any(
            version.commission.basis == "collection"
            for plan_id in _plan_ids(info)
            for version in self.plans.get(plan_id, {}).values()
        )

    def period_kind(self, rep_id: str) -> PeriodKind:
        rep = self.reps[rep_id]
        plan_id = max(rep.assignments, key=lambda a: (a[0], a[1]))[2]
        versions = self.plans.get(plan_id) or {}
        if not versions:
            return "quarter"
        return versions[max(versions)].period

    def first_period(self, rep_id: str, kind: PeriodKind) -> Period:
        return period_of(self.reps[rep_id].enrolled.occurred_at, kind)

    def paid_run(self, rep_id: str, period: Period) -> RunInfo | None:
        """The paid run that locked ``rep_id``'s ``period``, if any."""
        for run in self.runs.values():
            if (
                run.paid is not None
                and parse_period(run.period) == period
                and run.statement_of(rep_id) is not None
            ):
                return run
        return None

    def needs_approval(self, subject: EventRecord) -> bool:
        """SPEC §2's maker-checker subjects, decided from the stored event alone
        (the catalogue's rule, as the write side decides it)."""
        return catalogue.needs_approval(
            subject.type, subject.data, subject.occurred_at, _staged_at(subject)
        )


_ONE = Decimal(1)


def _staged_at(record: EventRecord) -> datetime:
    """When the write side staged ``record`` (see `ledger.records.EventRecord.staged_at`)."""
    assert record.staged_at is not None, "every stored event has its timestamp"
    return datetime.fromisoformat(record.staged_at)


# How far a case reaches forward: the ladder's look-back, plus days for offsets
# (it compares instants; an index compares local dates).
LADDER_REACH = LADDER_LOOKBACK + timedelta(days=3)


@cache
def _sole_credit(rep_id: str) -> dict[str, Decimal]:
    """``{rep_id: 1}``, one shared (never mutated) dict per rep."""
    return {sys.intern(rep_id): _ONE}


@cache
def _sole_rep(rep_id: str) -> frozenset[str]:
    """``{rep_id}``, one shared set per rep: what a sale credited to one rep touches."""
    return frozenset((sys.intern(rep_id),))


@cache
def _currency(currency: str) -> str:
    """One shared string per currency."""
    return currency


def _plan_ids(info: RepInfo) -> set[str]:
    return {plan_id for _, _, plan_id in info.assignments}
