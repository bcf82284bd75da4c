"""Statements (SPEC §4): one rep's payout for one period, as of a position,
every line explained down to the events it rests on.

An open period is computed from the facts (`policies.calculate_period`); a paid
period shows what was paid — the statement recorded in its `PayoutCalculated` —
and names the later events that touch it and the period their correction went to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import Enum
from functools import cached_property
from typing import Any, ClassVar, Literal

from ledger.errors import NotFoundError, shown_id
from ledger.events import canonical_json
from ledger.records import EventRecord
from policies.calculate import (
    CollectionPeriod,
    PeriodResult,
    ReleaseSums,
    calculate_period,
    earned_alone,
    earned_by_sale,
)
from policies.causes import (
    LineKey,
    amounts_without,
    fact_event_ids,
    later_causes,
    models,
    without_event,
)
from policies.collection import PaymentFact
from policies.commission import (
    SaleStepKey,
    cancelled_within_window,
    credited_sales,
    window_end,
)
from policies.corrections import carried_balance_line, diff_lines, line_key
from policies.currency import (
    BalanceConversion,
    FxRate,
    MissingRate,
    convert,
    convert_balance,
    rate_in_force,
    rate_on,
)
from policies.draws import balance_after_of, draw_lines
from policies.explanation import Line, Step
from policies.facts import (
    AdjustmentFact,
    CancellationFact,
    CarriedBalanceFact,
    CaseFact,
    CorrectionFact,
    Decision,
    DrawCarried,
    KpiScoreFact,
    LineChange,
    PendingItem,
    PeriodFacts,
    ReleaseFact,
    SaleFact,
    TargetFact,
    UnsplitSaleFact,
)
from policies.overrides import ManagerChange, ReportingLines, TeamSale
from policies.pay_warnings import PayWarning
from policies.periods import Period, PeriodKind, parse_period, period_of
from policies.plan import Draw, Plan, plan_in_force
from policies.rounding import Ratio, cents_text, ratio_text, round_money
from policies.shapes import uses_commission_shapes
from policies.wording import render_step, render_warning
from projections.facts import LedgerFacts, RunInfo, SaleInfo, Without

__all__ = [
    "OWN_KINDS",
    "AsOf",
    "Calculator",
    "StepCache",
    "canonical_bytes",
    "statement_sha256",
]

# A period's own lines: what a correction of a paid period compares. SPEC §3.1's
# spiff, cap, gate and override lines are earnings of the period like commission;
# draw lines are not (they follow the period's whole total, carry included).
OWN_KINDS = frozenset(
    {"commission", "bonus", "fine", "adjustment", "spiff", "cap", "gate", "override"}
)
# A statement makes a SaleFact per sale: straight from its fields, without the
# named tuple's keyword-capable constructor (a Python function).
_new_sale_fact = tuple.__new__
assert len(SaleFact._fields) == 9  # noqa: PLR2004 - the fields passed in period_facts


@dataclass(frozen=True)
class AsOf:
    """The point in the event order a statement is made at, and the chain head there."""

    position: int
    recorded_at: str | None
    head_hash: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "recorded_at": self.recorded_at}

    def head(self) -> dict[str, Any]:
        return {"position": self.position, "hash": self.head_hash}


def canonical_bytes(value: Any) -> bytes:
    """The one byte form of a statement: sorted keys, no floats anywhere
    (`ledger.events.canonical_json`, the form events are hashed in)."""
    return canonical_json(value)


def statement_sha256(statement: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(statement)).hexdigest()


def _ratio_text(value: Ratio | None) -> str | None:
    """A statement's attainment, score and coefficient: 4 places (SPEC §3)."""
    if value is None:
        return None
    return ratio_text(value)


@dataclass
class StepCache:
    """What a projector keeps between batches: each credited sale's commission
    step (`policies.commission.SaleSteps`) and its rendered form.

    A batch recomputes the open periods of every rep it touched, and under a
    steady stream of writes that is the same quarter's sales again and again:
    their steps are the same each time (a function of the sale, the share and
    the plan version). Bounded: emptied when it passes ``limit`` steps (about
    1.5 KiB each with its rendered form: ~150 MiB at the limit).
    """

    limit: int = 100_000
    steps: dict[SaleStepKey, tuple[Decimal, Step]] = field(default_factory=dict)
    rendered: dict[int, tuple[Step, dict[str, Any]]] = field(default_factory=dict)

    def trim(self) -> None:
        if len(self.steps) > self.limit:
            self.steps.clear()
            self.rendered.clear()


class OutsideWindowError(Exception):
    """A windowed replay needed a period its facts were not read for."""


@dataclass
class Calculator:
    """Computes statements from the facts as of one position (memoised per call)."""

    facts: LedgerFacts
    as_of: AsOf
    locale: str = "en"
    _memo: dict[tuple[str, Period, bool], tuple[Plan, PeriodResult]] = field(default_factory=dict)
    # the facts of the periods computed own_only (a paid period's replay), and
    # the corrections worked out from them
    _own_facts: dict[tuple[str, Period], PeriodFacts] = field(default_factory=dict)
    _correction_memo: dict[tuple[str, Period], CorrectionFact | None] = field(default_factory=dict)
    # Totals (and their events) of open periods already known to be unchanged:
    # the projection passes the stored row of the period before the first it
    # recomputes, so a carried balance does not re-run every earlier period.
    known_totals: dict[tuple[str, Period], tuple[Decimal, tuple[str, ...]]] = field(
        default_factory=dict
    )
    # Facts read for the periods from this date on only (a windowed replay):
    # computing an earlier period raises OutsideWindowError, never a wrong figure.
    window_start: date | None = None
    # The first day the facts were read from, when earlier than window_start:
    # the booking periods of a collection period's payments, read for their
    # earnings only (`_earned_in`), never computed as statements.
    facts_from: date | None = None
    cache: StepCache | None = None
    # A paid period's causes beyond its own facts always worked out whole,
    # never by `_Quick` (what the tests hold the quick answers to)
    weigh_whole: ClassVar[bool] = False
    # A calculator that works the rep's periods out as if one event had never
    # been recorded (`_settled_without`): the event taken out of every
    # period's facts (None: the facts themselves are without it — a rate, a
    # reporting change or a plan assignment: `LedgerFacts.without`); it
    # weighs totals, never names causes
    taken_out: str | None = None
    weighing: bool = False
    # A calculator that weighs what a paid period's carried balance settles
    # (`_settled_without`) works these periods of the rep out as if they were
    # open: paid after the balance was carried from them, each as worked out
    # when its run was computed — its facts without the events recorded after
    # the position given (`_opened_facts`)
    opened: Mapping[tuple[str, Period], int] = field(default_factory=dict)
    # SPEC §3.1 draws: each (rep, period)'s recoverable draw balance after it,
    # and the conversions it went through that no line has shown yet
    _draw_balances: dict[tuple[str, Period], _DrawAfter] = field(default_factory=dict)
    # SPEC §3.1: rates by pair, the reporting lines, each collection booking
    # period's earnings by sale
    _fx: dict[tuple[str, str], list[FxRate]] = field(default_factory=dict)
    _lines: ReportingLines | None = None
    _earned: dict[tuple[str, Period], dict[str, tuple[Decimal, Decimal]]] = field(
        default_factory=dict
    )

    def forget(self, rep_id: str) -> None:
        """Drop what was worked out for ``rep_id`` (a projection done with the rep:
        the memo holds every explained sale line of its periods)."""
        memos: tuple[dict[Any, Any], ...] = (
            self._memo,
            self._own_facts,
            self._correction_memo,
            self.known_totals,
            self._draw_balances,
            self._earned,
        )
        for memo in memos:  # each keyed by (rep id, ...)
            for key in [k for k in memo if k[0] == rep_id]:
                del memo[key]

    def seeded_for(
        self,
        facts: LedgerFacts,
        as_of: AsOf,
        rep_id: str,
        period: Period,
        cache: StepCache | None = None,
    ) -> Calculator:
        """A calculator over ``facts`` — a fork of these that differs only by
        events reaching ``period`` or later (an estimate's sale) — that starts
        from what this one worked out of ``rep_id``'s earlier periods: their
        totals, draw balances and paid replays hold there too. Only
        ``period`` (and what comes after it) is computed again."""
        if self.window_start is not None:
            msg = "a windowed calculator is not seeded from"
            raise AssertionError(msg)
        previous = period.previous()
        if (
            (rep_id, previous) not in self.known_totals
            and previous >= facts.first_period(rep_id, period.kind)
            and facts.paid_run(rep_id, previous) is None
            and facts.plan_for(rep_id, previous)
        ):  # kept here too: the next fork of these facts starts from it at once
            self.known_totals[rep_id, previous] = (
                self._total_of(rep_id, previous),
                self._events_of(rep_id, previous),
            )
        known = dict(self.known_totals)
        plan = facts.plan_for(rep_id, period)
        if plan is not None and plan.draw is not None and plan.draw.recoverable:
            self._draw_balance_after(rep_id, previous)  # worked out here once, then copied
        seeded = Calculator(facts, as_of, self.locale, known_totals=known, cache=cache)
        seeded._draw_balances = {
            k: v for k, v in self._draw_balances.items() if k[0] != rep_id or k[1] < period
        }
        seeded._own_facts = {
            k: v for k, v in self._own_facts.items() if k[0] != rep_id or k[1] < period
        }
        seeded._correction_memo = {
            k: v for k, v in self._correction_memo.items() if k[0] != rep_id or k[1] < period
        }
        seeded._memo = {k: v for k, v in self._memo.items() if k[0] != rep_id or k[1] < period}
        return seeded

    def sales_in(self, rep_id: str, period: Period, kind: PeriodKind) -> list[SaleInfo]:
        """``rep_id``'s sales that occurred in ``period``, in log order."""
        return self.facts.sales_by_period(rep_id, kind).get(period, [])

    # -- facts for one rep and period -----------------------------------------

    def _decision(self, subject_id: str, subject: EventRecord) -> Decision:
        if not self.facts.needs_approval(subject):
            return Decision(status="not_required", event_id=None, actor=None)
        decided = self.facts.decisions.get(subject_id)
        if decided is None:
            return Decision(status="pending", event_id=None, actor=None)
        return Decision(
            status="approved" if decided.granted else "rejected",
            event_id=decided.record.event_id,
            actor=decided.record.actor,
        )

    def _dispute_of(self, adjustment_id: str) -> str | None:
        for dispute_id, resolution in self.facts.resolutions.items():
            if resolution.data.get("adjustment_id") == adjustment_id:
                return dispute_id
        return None

    def _case_fact(self, case_id: str) -> CaseFact:
        case = self.facts.cases[case_id]
        r = case.record
        amount = r.data.get("amount")
        return CaseFact(
            case_id=case_id,
            event_id=r.event_id,
            position=r.position,
            occurred_at=r.occurred_at,
            code=r.data["code"],
            severity=r.data["severity"],
            amount=Decimal(amount) if amount is not None else None,
            decision=self._decision(case_id, r),
            overturned_by=case.overturned.event_id if case.overturned else None,
        )

    def period_facts(
        self,
        rep_id: str,
        period: Period,
        plan: Plan,
        *,
        carried_in: CarriedBalanceFact | None,
        corrections: Sequence[CorrectionFact],
        with_releases: bool = True,
    ) -> PeriodFacts:
        f = self.facts
        rep = f.reps[rep_id]
        left = rep.left
        left_on = left.occurred_at.date() if left is not None else None
        sales: list[SaleFact] = []
        unconverted: list[PendingItem] = []
        after_leaving: list[SaleFact] = []
        for sale in self.sales_in(rep_id, period, plan.period):
            cancel = sale.cancellation
            position, event_id, amount = sale.unpacked()
            fx = None
            if sale.currency != plan.currency:  # SPEC §3.1: at the sale's moment
                converted = self._converted(sale, plan.currency)
                if converted is None:
                    pair = (sale.currency, plan.currency)
                    unconverted.append(PendingItem("sale", sale.sale_id, event_id, pair))
                    continue
                amount, fx = converted
            # most reps never left: no call per sale for them
            credited = after_leaving if left and f.after_leaving(left, sale) else sales
            credited.append(
                _new_sale_fact(
                    SaleFact,
                    (
                        sale.sale_id,
                        event_id,
                        position,
                        sale.occurred_at,
                        amount,
                        sale.credits[rep_id],
                        sale.category,
                        CancellationFact(
                            event_id=cancel.event_id,
                            position=cancel.position,
                            occurred_at=cancel.occurred_at,
                            reason=cancel.data["reason"],
                        )
                        if cancel
                        else None,
                        fx,
                    ),
                )
            )
        owned = f.by_rep.get(rep_id, {})
        targets = [
            TargetFact(
                target_id=tid,
                event_id=t.event_id,
                position=t.position,
                occurred_at=t.occurred_at,
                kpi=t.data["kpi"],
                value=Decimal(t.data["value"]),
                decision=self._decision(tid, t),
            )
            for tid in owned.get("targets", [])
            if (t := f.targets[tid]).data["period"] == str(period)
        ]
        scores = [
            KpiScoreFact(
                kpi=s.data["kpi"],
                score=Decimal(s.data["score"]),
                event_id=s.event_id,
                position=s.position,
                occurred_at=s.occurred_at,
            )
            for s in f.kpi_scores.get(rep_id, [])
            if s.data["period"] == str(period)
        ]
        all_cases = [self._case_fact(cid) for cid in owned.get("cases", [])]
        cases = [c for c in all_cases if period_of(c.occurred_at, plan.period) == period]
        adjustments = [
            AdjustmentFact(
                adjustment_id=aid,
                event_id=a.event_id,
                position=a.position,
                occurred_at=a.occurred_at,
                amount=Decimal(a.data["amount"]),
                reason=a.data["reason"],
                decision=self._decision(aid, a),
                dispute_id=self._dispute_of(aid),
            )
            for aid in owned.get("adjustments", [])
            if (a := f.adjustments[aid]).data["period"] == str(period)
        ]
        draw_in, draw_carried, converted_before = self._draw_balance_in(rep_id, period, plan)
        facts = PeriodFacts(
            unconverted=tuple(unconverted),
            after_leaving=tuple(after_leaving),
            left_event_id=left.event_id if left is not None else None,
            enrolled_on=rep.enrolled.occurred_at.date(),
            left_on=left_on,
            first_period=f.first_period(rep_id, plan.period),
            draw_balance_in=draw_in,
            draw_carried=draw_carried,
            draw_converted_before=converted_before,
            unsplit_sales=self._unsplit_sales(rep_id, period, plan),
            rep_id=rep_id,
            period=period,
            sales=tuple(sales),
            targets=tuple(targets),
            kpi_scores=tuple(scores),
            cases=tuple(cases),
            minor_history=tuple(c for c in all_cases if c.severity == "minor"),
            adjustments=tuple(adjustments),
            corrections=tuple(corrections),
            carried_in=carried_in,
            plan_event_id=f.plan_events.get((plan.id, plan.version)),
        )
        if plan.override is not None:
            team_sales, clawed_back = self._team_sales(rep_id, period, plan)
            facts = replace(
                facts,
                team_sales=team_sales,
                team_clawed_back=clawed_back,
                reporting=self._reporting(),
            )
        facts = self._opened_facts(facts)
        if not with_releases:
            return facts if self.taken_out is None else without_event(facts, self.taken_out)
        if self.taken_out is None:
            return self._with_releases(rep_id, period, plan, facts)
        taken_out = _Without(self.taken_out, self, rep_id, {})  # booking periods: taken out too
        return self._with_releases(
            rep_id, period, plan, without_event(facts, self.taken_out), taken_out
        )

    def _opened_facts(self, facts: PeriodFacts) -> PeriodFacts:
        """An `opened` period's facts as its run read them: without its own
        facts' events recorded after the run was computed (latest first: a
        cancellation before its sale)."""
        until = self.opened.get((facts.rep_id, facts.period))
        if until is None:
            return facts
        late = [
            (position, e)
            for e in fact_event_ids(facts)
            if (position := self._position_of(e) or 0) > until
        ]
        for _, event_id in sorted(late, reverse=True):
            facts = without_event(facts, event_id)
        return facts

    # -- SPEC §3.1: currencies, overrides, pay on collection --------------------

    def _converted(self, sale: SaleInfo, currency: str) -> tuple[Decimal, Step | None] | None:
        """``sale``'s amount in ``currency`` at its moment, and the step that says
        how (`policies.currency`); None when no rate is in force."""
        rates = self._rates(sale.currency, currency)
        found = convert(
            sale.sale_id, sale.amount, sale.currency, currency, at=sale.occurred_at, rates=rates
        )
        if isinstance(found, MissingRate):
            return None
        return found.amount, found.step

    def _booked_fx(self, rep_id: str, sale: SaleInfo, booking: Period) -> Step | None:
        """How ``sale`` was converted into the currency of the plan that paid
        ``rep_id`` for its booking period (SPEC §3.1: a release rests on that
        rate too); None when it was in that currency already."""
        plan = self.facts.plan_for(rep_id, booking)
        if plan is None or plan.currency == sale.currency:
            return None
        found = self._converted(sale, plan.currency)
        return None if found is None else found[1]

    def _rates(self, base: str, quote: str) -> list[FxRate]:
        """The rates for exactly ``base`` → ``quote``, in log order."""
        key = (base, quote)
        rates = self._fx.get(key)
        if rates is None:
            rates = self._fx[key] = [
                FxRate(base, quote, Decimal(r.data["rate"]), r.occurred_at, r.position, r.event_id)
                for r in self.facts.fx_rates.get(key, ())
            ]
        return rates

    def _reporting(self) -> ReportingLines:
        """Who reported to whom, over time (enrolment, then transfers)."""
        if self._lines is None:
            self._lines = ReportingLines.of(
                ManagerChange(rep_id, manager_id, at, position, event_id)
                for rep_id, changes in self.facts.reporting.items()
                for at, position, event_id, manager_id in changes
            )
        return self._lines

    def _team_sales(
        self, manager_id: str, period: Period, plan: Plan
    ) -> tuple[tuple[TeamSale, ...], tuple[tuple[TeamSale, str], ...]]:
        """The credited sales, in the manager's ``period``, of every rep who ever
        reported to the manager or to one of their reports (the rule keeps those
        who did at each sale's moment): amount (in the manager's currency) ×
        share, less those cancelled within the rep's clawback window — those
        apart, each with its cancellation's event id (what a paid period's
        causes weigh: without the cancellation, the sale is credited)."""
        f = self.facts
        team = self._team_of(manager_id)
        found: list[TeamSale] = []
        clawed_back: list[tuple[TeamSale, str]] = []
        manager = f.reps.get(manager_id)
        manager_left = manager.left if manager is not None else None
        for rep_id in team:
            left = f.reps[rep_id].left if rep_id in f.reps else None
            for sale in f.sales_by_rep.get(rep_id, ()):
                if period_of(sale.occurred_at, plan.period) != period:
                    continue
                if (left and f.after_leaving(left, sale)) or (
                    manager_left and f.after_leaving(manager_left, sale)
                ):
                    continue  # credited to no one (`period_facts`), or the manager had left
                amount = sale.amount
                rate_ids: tuple[str, ...] = ()
                if sale.currency != plan.currency:
                    converted = self._converted(sale, plan.currency)
                    if converted is None:
                        continue
                    amount = converted[0]
                    rate_ids = converted[1].event_ids if converted[1] is not None else ()
                credited = amount * sale.credits[rep_id]
                team_sale = TeamSale(
                    rep_id, sale.sale_id, sale.event_id, sale.occurred_at, credited, rate_ids
                )
                window = self._window_days(rep_id, sale, plan)
                cancel = sale.cancellation
                if cancel is not None and cancel.occurred_at <= window_end(
                    sale.occurred_at, window
                ):  # SPEC §3 rule 1, as the rep's own statement weighs it
                    clawed_back.append((team_sale, cancel.event_id))
                else:
                    found.append(team_sale)
        return tuple(found), tuple(clawed_back)

    def _team_of(self, manager_id: str) -> list[str]:
        """Every rep who ever reported to ``manager_id`` or to one of their
        reports (`LedgerFacts.managers_ever`), sorted: whose sales an override
        of the manager's may count — the reporting lines at each sale's moment
        decide which do. Without any one reporting event the team is among
        these too (taking an event out only narrows who reported to whom)."""
        ever = self.facts.managers_ever
        return sorted(
            rep
            for rep, managers in ever.items()
            if manager_id in managers or any(manager_id in ever.get(m, ()) for m in managers)
        )

    def _window_days(self, rep_id: str, sale: SaleInfo, fallback: Plan) -> int:
        return _window_days(self.facts, rep_id, sale, fallback)

    def _with_releases(
        self,
        rep_id: str,
        period: Period,
        plan: Plan,
        facts: PeriodFacts,
        without: _Without | None = None,
    ) -> PeriodFacts:
        """SPEC §3.1 pay on collection: the payments received in ``period``, each
        with what its sale earned in its booking period. Under a collection plan,
        also every payment so far of the sales booked in it; under a plan paid
        on booking, a payment of a sale booked earlier under a collection plan
        (the plan changed between) still releases its share of what the sale
        earned then — it was earned, and its booking period counts it as
        released. Reads the booking period of each payment: a windowed replay
        that did not read one steps aside (`_check_booked`; a payment whose
        sale it did not read is no payment of the rep's yet: `_check_placed`).
        ``without``: as if an event had never been recorded (``facts`` are the
        period's without it already; nothing is kept of what is worked out)."""
        f = self.facts
        if plan.commission.basis != "collection":
            if (
                rep_id not in f.payments_by_rep and not f.unplaced_payments
            ) or not f.paid_on_collection(rep_id):
                return facts  # no payment, or no plan of the rep's ever held commission back
            self._check_placed(period, plan)
            releases, waiting = self._releases_in(rep_id, period, plan, None, without)
            if not (releases or waiting or facts.releases):
                return facts
            return replace(
                facts, releases=tuple(releases), unconverted=(*facts.unconverted, *waiting)
            )
        self._check_placed(period, plan)
        earned_here = earned_by_sale(plan, facts)
        if without is None:
            self._earned[rep_id, period] = earned_here
        skipped = without.event_id if without is not None else None
        across = self._paid_in_currencies(rep_id) > 1  # may a payment wait for a rate?
        booked = []
        for sale_fact in facts.sales:
            sale = f.sales[sale_fact.sale_id]
            earned = earned_here.get(sale.sale_id)
            if earned is None:
                continue
            booked += [
                _release(p, sale, earned, skipped, sale_fact.fx)
                for p in sale.payments or ()
                if p.event_id != skipped and not (across and self._waits_for_rate(rep_id, plan, p))
            ]
        releases, waiting = self._releases_in(rep_id, period, plan, earned_here, without)
        return replace(
            facts,
            releases=tuple(releases),
            booked_releases=tuple(booked),
            unconverted=(*facts.unconverted, *waiting),
        )

    def _releases_in(
        self,
        rep_id: str,
        period: Period,
        plan: Plan,
        earned_here: dict[str, tuple[Decimal, Decimal]] | None,
        without: _Without | None = None,
    ) -> tuple[list[ReleaseFact], list[PendingItem]]:
        """The payments received in ``period``, each with what its sale earned
        in its booking period (``earned_here``: this period's; None: a period
        paid on booking, whose own sales were paid whole). ``without``: as if
        an event had never been recorded — not the payment itself, and what
        the booking periods earned without it.

        A booking period paid in another currency than ``plan``'s (a move
        stored before the write rule that refuses it): what the sale earned is
        in that currency, converted at the rate in force at the payment's
        moment (`_converted_release`); with none, the payment waits (pending),
        never paid as the same number in the other currency."""
        f = self.facts
        releases = []
        waiting = []
        for payment in f.payments_by_rep.get(rep_id, ()):
            if period_of(payment.occurred_at, plan.period) != period:
                continue
            if without is not None and payment.event_id == without.event_id:
                continue
            paid_sale = f.sales.get(payment.data["sale_id"])
            if paid_sale is None:
                continue
            booking = period_of(paid_sale.occurred_at, plan.period)
            if earned_here is None and booking >= period:
                continue  # booked here (paid on booking) or later: nothing held back
            self._check_booked(booking)
            if earned_here is not None and booking == period:
                earned_in = earned_here
            elif without is not None:
                earned_in = without.earned_in(booking)
            else:
                earned_in = self._earned_in(rep_id, booking)
            earned_then = earned_in.get(paid_sale.sale_id)
            if earned_then is None:
                continue
            skipped = without.event_id if without is not None else None
            booked_fx = self._booked_fx(rep_id, paid_sale, booking)
            found = self._converted_release(
                rep_id,
                booking,
                period,
                plan,
                _release(payment, paid_sale, earned_then, skipped, booked_fx),
            )
            if isinstance(found, PendingItem):
                waiting.append(found)
            else:
                releases.append(found)
        return releases, waiting

    def _converted_release(
        self, rep_id: str, booking: Period, period: Period, plan: Plan, found: ReleaseFact
    ) -> ReleaseFact | PendingItem:
        """``found``, a release into ``period`` of what a sale earned in
        ``booking``, in the currency ``plan`` pays in: converted at the latest
        rate for the pair at or before the payment's moment (SPEC §3.1
        currencies) when ``booking`` paid in another; with no such rate, its
        payment waiting for one."""
        then = self.facts.plan_for(rep_id, booking) if booking != period else plan
        if then is None or then.currency == plan.currency:
            return found
        base, quote, at = then.currency, plan.currency, found.payment.occurred_at
        rate = rate_in_force(self._rates(base, quote), base, quote, at)
        if rate is None:
            payment = found.payment
            return PendingItem("payment", payment.payment_id, payment.event_id, (base, quote))
        return replace(found, fx=rate)

    def _paid_in_currencies(self, rep_id: str) -> int:
        """How many currencies the plans ``rep_id`` ever followed pay in."""
        plans = self.facts.plans
        return len(
            {
                version.currency
                for _, _, plan_id in self.facts.reps[rep_id].assignments
                for version in plans.get(plan_id, {}).values()
            }
        )

    def _waits_for_rate(self, rep_id: str, booked_under: Plan, payment: EventRecord) -> bool:
        """Whether ``payment``, of a sale booked under ``booked_under``, is
        released into a period paid in another currency with no rate for the
        pair in force at its moment (`_converted_release`): it waits under
        that period's ``pending`` and releases nothing — its booking period
        counts it as unreleased until the rate comes."""
        paid_in = period_of(payment.occurred_at, booked_under.period)
        paid_under = self.facts.plan_for(rep_id, paid_in)
        if paid_under is None or paid_under.currency == booked_under.currency:
            return False
        base, quote = booked_under.currency, paid_under.currency
        return rate_in_force(self._rates(base, quote), base, quote, payment.occurred_at) is None

    def _check_placed(self, period: Period, plan: Plan) -> None:
        """A windowed replay's facts must hold the sale of every payment
        received in ``period`` (`LedgerFacts.unplaced_payments`)."""
        if self.window_start is not None and any(
            period_of(p.occurred_at, plan.period) == period for p in self.facts.unplaced_payments
        ):
            raise OutsideWindowError(period)

    def _check_booked(self, booking: Period) -> None:
        """A windowed replay's facts must hold the whole booking period of a
        payment (what its sale earned there: `_earned_in`)."""
        if self.window_start is None:
            return
        if booking.first_day < min(self.window_start, self.facts_from or self.window_start):
            raise OutsideWindowError(booking)

    def _earned_in(self, rep_id: str, period: Period) -> dict[str, tuple[Decimal, Decimal]]:
        """What each credited sale of ``period`` earned, when a collection plan
        paid the rep for it (else nothing: booked sales were paid on booking)."""
        key = (rep_id, period)
        if key not in self._earned:
            plan = self.facts.plan_for(rep_id, period)
            earned: dict[str, tuple[Decimal, Decimal]] = {}
            if (
                plan is not None
                and plan.period == period.kind
                and plan.commission.basis == "collection"
            ):
                base = self.period_facts(
                    rep_id, period, plan, carried_in=None, corrections=(), with_releases=False
                )
                earned = earned_by_sale(plan, base)
            self._earned[key] = earned
        return self._earned[key]

    def _unsplit_sales(
        self, rep_id: str, period: Period, plan: Plan
    ) -> tuple[UnsplitSaleFact, ...]:
        """The period's sales recorded for a rep not among their splits: those
        credited to ``rep_id`` by the split, and those recorded for ``rep_id``."""
        f = self.facts
        if not f.unsplit:
            return ()
        sales = [s for s in self.sales_in(rep_id, period, plan.period) if s.sale_id in f.unsplit]
        sales += [
            s
            for s in f.unsplit_by_rep.get(rep_id, ())
            if period_of(s.occurred_at, plan.period) == period
        ]
        return tuple(
            UnsplitSaleFact(
                s.sale_id, s.event_id, s.position, f.unsplit[s.sale_id], tuple(s.credits.items())
            )
            for s in sorted(sales, key=lambda s: s.position)
        )

    # -- computing -------------------------------------------------------------

    def plan(self, rep_id: str, period: Period) -> Plan:
        plan = self.facts.plan_for(rep_id, period)
        if plan is None:
            raise NotFoundError(
                f"no plan version is in force for rep {rep_id} in {period}", field="period"
            )
        wrong_kind = plan.other_period_kind(period)
        if wrong_kind is not None:
            raise NotFoundError(f"rep {rep_id}'s {wrong_kind}", field="period")
        return plan

    def compute(
        self, rep_id: str, period: Period, *, own_only: bool = False
    ) -> tuple[Plan, PeriodResult]:
        """The period's result; ``own_only`` leaves out carry and corrections
        (what a paid period is re-played as, to find its correction)."""
        key = (rep_id, period, own_only)
        if key not in self._memo and not own_only:
            self._compute_before(rep_id, period)
        if key not in self._memo:
            if self.window_start is not None and period.first_day < self.window_start:
                raise OutsideWindowError(period)
            plan = self.plan(rep_id, period)
            carried = None if own_only else self._carried_in(rep_id, period)
            corrections = () if own_only else self._corrections(rep_id, period)
            facts = self.period_facts(
                rep_id, period, plan, carried_in=carried, corrections=corrections
            )
            known = self.cache.steps if self.cache is not None else None
            if own_only:
                self._own_facts[rep_id, period] = facts
            self._memo[key] = (plan, calculate_period(plan, facts, known))
        return self._memo[key]

    def _compute_before(self, rep_id: str, period: Period) -> None:
        """Compute the periods whose totals ``period`` carries in, oldest first.

        A period's carried balance is the total of the one before, whose own
        is the total of the one before that, down to the rep's first period (or
        a paid or known one). Computed oldest first, each step finds the one
        before it done, so the chain is walked in a loop rather than recursing
        once per period: a rep enrolled in 2000 with a statement in 2199 is 800
        quarters (2,400 months) deep, past Python's recursion limit (SPEC §2:
        every accepted event can be projected). The periods are exactly those
        the recursion would compute; only the order changes.
        """
        chain: list[Period] = []
        first = self.facts.first_period(rep_id, period.kind)
        previous = period.previous()
        while (
            previous >= first
            and (self.window_start is None or previous.first_day >= self.window_start)
            and not self._done_before(rep_id, previous)
        ):
            chain.append(previous)
            previous = previous.previous()
        # A paid period's correction settles the balance it carried in, so it
        # reads the unpaid period before it, whose own corrections read the
        # paid ones before that: periods paid every other quarter for decades
        # recursed a few frames per period. Done oldest first, each finds the
        # one before it done.
        for earlier in reversed(chain[1:]):  # the nearest is the caller's
            if self._paid_run(rep_id, earlier) is not None:
                self.correction_for(rep_id, earlier)
            else:
                self.compute(rep_id, earlier)

    def _done_before(self, rep_id: str, period: Period) -> bool:
        """Whether nothing before ``period`` need be walked: it is computed (or
        its total known), its correction found (paid), or it has no plan (the
        rep's balance starts again after it)."""
        if self._paid_run(rep_id, period) is not None:
            return (rep_id, period) in self._correction_memo
        return (
            (rep_id, period, False) in self._memo
            or (rep_id, period) in self.known_totals
            or self.facts.plan_for(rep_id, period) is None
        )

    def _as_paid(self, rep_id: str, period: Period) -> dict[str, Any] | None:
        """The statement ``period`` was paid with (None: it is not paid)."""
        run = self._paid_run(rep_id, period)
        if run is None:
            return None
        paid = run.statement_of(rep_id)
        assert paid is not None
        return paid

    def _total_of(self, rep_id: str, period: Period) -> Decimal:
        """A period's total (paid: as paid)."""
        paid = self._as_paid(rep_id, period)
        if paid is not None:
            return Decimal(paid["total"])
        if (rep_id, period) in self.known_totals:
            return self.known_totals[rep_id, period][0]
        return self.compute(rep_id, period)[1].total

    def _events_of(self, rep_id: str, period: Period) -> tuple[str, ...]:
        """The events a period's lines rest on (paid: as paid); asked only of a
        period that carries a balance on, not of every period before another."""
        paid = self._as_paid(rep_id, period)
        if paid is not None:
            return tuple(dict.fromkeys(e for line in paid["lines"] for e in line["event_ids"]))
        if (rep_id, period) in self.known_totals:
            return self.known_totals[rep_id, period][1]
        lines = self.compute(rep_id, period)[1].lines
        return tuple(dict.fromkeys(e for line in lines for e in line.event_ids))

    def _carried_in(self, rep_id: str, period: Period) -> CarriedBalanceFact | None:
        """SPEC §3.8: a negative total is carried into the rep's next period."""
        previous = period.previous()
        if previous < self.facts.first_period(rep_id, period.kind):
            return None
        if (
            self._paid_run(rep_id, previous) is None
            and self.facts.plan_for(rep_id, previous) is None
        ):
            return None  # enrolled before any plan version was in force: nothing to carry
        total = self._total_of(rep_id, previous)
        if total >= 0:
            return None
        return CarriedBalanceFact(
            from_period=str(previous),
            amount=total,
            event_ids=self._events_of(rep_id, previous),
            fx=self._conversion(rep_id, previous, period),
        )

    def _currency_of(self, rep_id: str, period: Period) -> str | None:
        """The currency a period is paid in (paid: as paid; None: no plan)."""
        paid = self._as_paid(rep_id, period)
        if paid is not None:
            return str(paid["currency"])
        plan = self.facts.plan_for(rep_id, period)
        return plan.currency if plan is not None else None

    def _conversion(self, rep_id: str, source: Period, booked: Period) -> BalanceConversion | None:
        """How a balance of ``source`` — its correction, its negative total —
        is converted into ``booked``'s currency (None: the same currency)."""
        currency, plan_currency = (
            self._currency_of(rep_id, source),
            self._currency_of(rep_id, booked),
        )
        if currency is None or plan_currency is None or currency == plan_currency:
            return None
        on = booked.first_day
        rate = rate_on(self._rates(currency, plan_currency), currency, plan_currency, on)
        return BalanceConversion(currency, plan_currency, on, rate)

    def _draw_balance_in(
        self, rep_id: str, period: Period, plan: Plan
    ) -> tuple[Decimal, DrawCarried | None, tuple[DrawCarried, ...]]:
        """SPEC §3.1: the recoverable draw balance carried into ``period`` — the
        balance after the period before (0 before the rep's first period, and
        for a plan without a recoverable draw) — in ``period``'s currency, how
        it was converted when the rep's plan changed currency between, and the
        conversions it went through before that no line has shown yet."""
        if plan.draw is None or not plan.draw.recoverable:
            return Decimal("0.00"), None, ()
        before = self._draw_state_after(rep_id, period.previous())
        converted, carried = self._draw_carried(rep_id, period, before.balance)
        return converted, carried, before.unshown

    def _draw_carried(
        self, rep_id: str, period: Period, balance: Decimal
    ) -> tuple[Decimal, DrawCarried | None]:
        """``balance`` (the balance after the period before ``period``, in that
        period's currency) as ``period`` carries it in: converted when it is
        paid in another currency (`_conversion`), 0 while no rate is (pending)."""
        fx = self._conversion(rep_id, period.previous(), period) if balance else None
        if fx is None:
            return balance, None
        if fx.rate is None:
            return Decimal("0.00"), DrawCarried(balance, fx)
        converted, _ = convert_balance(balance, fx, what="draw_balance")
        return converted, DrawCarried(balance, fx)

    def _draw_balance_after(self, rep_id: str, period: Period) -> Decimal:
        """The draw balance after ``period``, in its currency (`_draw_state_after`)."""
        return self._draw_state_after(rep_id, period).balance

    def _draw_state_after(self, rep_id: str, period: Period) -> _DrawAfter:
        """The draw balance after ``period``, in its currency: every period from
        the rep's first counts, paid (as paid: its ``draw_balance`` steps) or not
        (as computed now), the balance converted where the currency changes —
        with the conversions no draw line has shown since (a period that drew
        and recovered nothing shows no balance: the next line that does shows
        how it was converted). Walked oldest first in a loop, like the carried
        balance."""
        first = self.facts.first_period(rep_id, period.kind)
        chain: list[Period] = []
        cursor = period
        while cursor >= first and (rep_id, cursor) not in self._draw_balances:
            chain.append(cursor)
            cursor = cursor.previous()
        state = self._draw_balances.get((rep_id, cursor), _NO_DRAW)
        for earlier in reversed(chain):
            carried, conversion = self._draw_carried(rep_id, earlier, state.balance)
            unshown = state.unshown
            if conversion is not None and conversion.fx.rate is not None:
                unshown = (*unshown, conversion)
            paid = self._as_paid(rep_id, earlier)
            if paid is not None:
                balance, _ = balance_after_of(paid["lines"], carried)
                lines = [str(x["kind"]) for x in paid["lines"]]
            elif self.facts.plan_for(rep_id, earlier) is not None:
                self._draw_balances[rep_id, earlier.previous()] = state
                result = self.compute(rep_id, earlier)[1]
                after = result.draw_balance_after
                balance = after if after is not None else carried
                lines = [x.kind for x in result.lines]
            else:
                balance, lines = carried, []
            shown = not balance or not _DRAW_KINDS.isdisjoint(lines)
            state = _DrawAfter(balance, () if shown else unshown)
            self._draw_balances[rep_id, earlier] = state
        return state

    def is_paid(self, rep_id: str, period: Period) -> bool:
        return self._paid_run(rep_id, period) is not None

    def _paid_run(self, rep_id: str, period: Period) -> RunInfo | None:
        """The paid run that locked the period (None: open, or `opened`)."""
        if (rep_id, period) in self.opened:
            return None
        return self.facts.paid_run(rep_id, period)

    def first_unpaid_after(self, rep_id: str, period: Period) -> Period:
        candidate = period.next()
        while self.is_paid(rep_id, candidate):
            candidate = candidate.next()
        return candidate

    def _paid_periods(self, rep_id: str, kind: str) -> list[Period]:
        periods = {
            parse_period(run.period)
            for run in self.facts.runs.values()
            if run.paid is not None and run.statement_of(rep_id) is not None
        }
        return sorted(p for p in periods if p.kind == kind and (rep_id, p) not in self.opened)

    def _corrections(self, rep_id: str, period: Period) -> list[CorrectionFact]:
        """SPEC §3.7: what later events changed in paid periods, booked in the
        rep's first unpaid period after each."""
        corrections = []
        for paid_period in self._paid_periods(rep_id, period.kind):
            if paid_period >= period or self.first_unpaid_after(rep_id, paid_period) != period:
                continue
            fact = self.correction_for(rep_id, paid_period)
            if fact is not None:
                fx = self._conversion(rep_id, paid_period, period)
                corrections.append(fact if fx is None else replace(fact, fx=fx))
        return corrections

    def correction_for(self, rep_id: str, paid_period: Period) -> CorrectionFact | None:
        """SPEC §3.7: what the paid period would pay now, less what it paid (and
        what later paid periods corrected of it already), explained line by
        line — only the lines whose amount changed — and named by the later
        events that changed it (`policies.causes`)."""
        memo_key = (rep_id, paid_period)
        if memo_key in self._correction_memo:
            return self._correction_memo[memo_key]
        run = self._paid_run(rep_id, paid_period)
        assert run is not None
        paid = run.statement_of(rep_id)
        assert paid is not None
        paid_lines = [line_from_dict(x) for x in paid["lines"] if x["kind"] in _SETTLED_KINDS]
        plan, replay = self.compute(rep_id, paid_period, own_only=True)
        own_lines = [x for x in replay.lines if x.kind in OWN_KINDS]
        was, now = self._balances_settled(rep_id, paid_period, plan, paid, own_lines)
        paid_lines += was
        replay_lines = [*own_lines, *now]
        already, by_line, settled_at = self._already_corrected(rep_id, paid_period)
        paid_total = sum((x.amount for x in paid_lines), Decimal(0))
        replay_total = sum((x.amount for x in replay_lines), Decimal(0))
        fact = None
        if replay_total != paid_total + already:
            # the events since it was paid, or since a correction paid last
            # settled what they had changed
            since = max(int(paid["as_of"]["position"]), settled_at)
            changed = diff_lines(paid_lines, replay_lines)
            causes: dict[str, frozenset[LineKey]] = {}
            if not self.weighing:  # one without an event weighs what it settles, no more
                causes = self._later_causes(rep_id, paid_period, plan, since)
                balances = (plan, paid, own_lines)
                for event_id, keys in self._balance_causes(
                    rep_id, paid_period, balances, changed, since
                ).items():
                    causes[event_id] = causes.get(event_id, frozenset()) | keys
                causes = dict(sorted(causes.items(), key=lambda c: self._position_of(c[0]) or 0))
            changes = tuple(
                replace(
                    c, event_ids=tuple(e for e, keys in causes.items() if line_key_of(c) in keys)
                )
                for c in _less_corrected(
                    changed,
                    by_line,
                    {line_key(x): x.amount for x in replay_lines},
                )
            )
            fact = CorrectionFact(
                paid_period=str(paid_period),
                run_id=run.run_id,
                paid_total=paid_total,
                replay_total=replay_total,
                changed_lines=changes,
                event_ids=tuple(causes),
                corrected_before=already,
            )
        self._correction_memo[memo_key] = fact
        return fact

    def _balances_settled(
        self,
        rep_id: str,
        paid_period: Period,
        plan: Plan,
        paid: dict[str, Any],
        own_lines: Sequence[Line],
    ) -> tuple[list[Line], list[Line]]:
        """What a paid period's correction settles beside its own lines, as
        paid and as it stands now: the balance it carried in and its draw
        (`_draw_settled`).

        The balance it carried in, as it stands now: a period paid before the
        one it carries from was (paid out of order) carried that period's
        total as it stood then, which may have changed since — or been paid
        as another figure — and one paid in another currency was converted at
        the rate dated on or before its first day, which a rate recorded since
        may have replaced. Settled here like its own lines, so neither a
        clawback nor a deduction undone is lost between the two."""
        was: list[Line] = []
        now: list[Line] = []
        carried = self._carried_in(rep_id, paid_period)
        if carried is not None and not carried.waiting:
            now.append(carried_balance_line(carried))
        if plan.draw is not None:
            drawn = self._draw_settled((rep_id, paid_period), plan.draw, paid, [*own_lines, *now])
            was += drawn[0]
            now += drawn[1]
        return was, now

    def _balance_causes(
        self,
        rep_id: str,
        paid_period: Period,
        replayed: tuple[Plan, dict[str, Any], Sequence[Line]],
        changed: Sequence[LineChange],
        since: int,
    ) -> dict[str, frozenset[LineKey]]:
        """The events recorded after ``since`` whose removal would change what
        the paid period's correction settles beside its own lines — the
        balance it carried in, its draw (SPEC §4: a later event whose removal
        changes a line) —, in log order, each with the lines it moves.
        ``replayed``: the period's plan, its statement as paid and its own
        lines now; ``changed``: what the correction settles, line by line
        (paid → now).

        The candidates, beyond the period's own facts (`_later_causes`): the
        rate the balances are converted at (the latest dated on or before the
        period's first day: without any other, it still is); when the carried
        balance moved, the later causes of the total it is carried from, and
        of the open periods that total carried from in turn
        (`_carried_from`); when what a recoverable draw recovered moved, those
        of every open period before (each counts towards the draw balance).
        Each is weighed by the definition: the settlement worked out again by
        a calculator without it (`_without`), the period's own lines as they
        are — an event that moves a total but not what it carries (a sale of
        a period that carries nothing either way) is no cause."""
        plan, paid, own_lines = replayed
        kinds = {c.kind for c in changed}
        fx = self._conversion(rep_id, paid_period.previous(), paid_period)
        candidates = [fx.rate.event_id] if fx is not None and fx.rate is not None else []
        opened: dict[tuple[str, Period], int] = {}
        if "carried_balance" in kinds:
            found, opened = self._carried_candidates(rep_id, paid_period, since)
            candidates += found
        if plan.draw is not None and plan.draw.recoverable and not _DRAW_KINDS.isdisjoint(kinds):
            first = self.facts.first_period(rep_id, paid_period.kind)
            open_before = [
                p
                for p in _periods_between(first, paid_period)
                if not self.is_paid(rep_id, p) and self.facts.plan_for(rep_id, p) is not None
            ]
            candidates += self._total_causes(rep_id, open_before, since)
        later = sorted({(at, e) for e in candidates if (at := self._position_of(e) or 0) > since})
        settled = [line_from_dict(x) for x in paid["lines"] if x["kind"] in _SETTLED_KINDS]

        def settles(event_id: str | None) -> dict[LineKey, Decimal]:
            was, now = self._settled_without(event_id, (rep_id, paid_period), replayed, opened)
            diffed = diff_lines([*settled, *was], [*own_lines, *now])
            return {line_key_of(c): c.after - c.before for c in diffed}

        # a source period paid since is weighed as worked out then, both ways
        with_it = settles(None) if opened else {line_key_of(c): c.after - c.before for c in changed}
        quick = {}
        if not opened and plan.draw is None:  # what it settles: its carried balance alone
            quick = self._quick_carried(rep_id, paid_period, later)
        causes: dict[str, frozenset[LineKey]] = {}
        for _, event_id in later:
            if event_id in quick:
                diffed = diff_lines(settled, [*own_lines, *quick[event_id]])
                moved = _moved_keys(with_it, {line_key_of(c): c.after - c.before for c in diffed})
            else:
                moved = _moved_keys(with_it, settles(event_id))
            if moved:
                causes[event_id] = moved
        return causes

    def _carried_candidates(
        self, rep_id: str, period: Period, since: int
    ) -> tuple[list[str], dict[tuple[str, Period], int]]:
        """The events that may move the balance carried into ``period``: the
        later causes of each period it rests on (`_carried_from`, `_total_causes`)
        up to the point that period counts them to; and those periods paid
        since, with that point (what a calculator weighing them opens)."""
        sources = self._carried_from(rep_id, period, since)
        found: list[str] = []
        for source, until in sources:
            found += [
                e
                for e in self._total_causes(rep_id, [source], since)
                if until is None or (self._position_of(e) or 0) <= until
            ]
        return found, {(rep_id, p): until for p, until in sources if until is not None}

    def _carried_causes(
        self, rep_id: str, period: Period, since: int
    ) -> dict[str, frozenset[LineKey]]:
        """SPEC §4's diff of an open period: the events recorded after
        ``since`` whose removal would change the balance it carries in, each
        with that line — weighed as a paid period's correction weighs it
        (`_balance_causes`: the rate it is converted at, the causes of the
        totals it rests on), by a calculator without each (`_quick_carried`
        where that is the same answer)."""
        candidates, opened = self._carried_candidates(rep_id, period, since)
        fx = self._conversion(rep_id, period.previous(), period)
        if fx is not None and fx.rate is not None:
            candidates.append(fx.rate.event_id)
        later = sorted({(at, e) for e in candidates if (at := self._position_of(e) or 0) > since})
        if not later:
            return {}
        calculator = self._calculator_without(None, opened) if opened else self
        now = {line_key(x): x.amount for x in calculator._carried_lines(rep_id, period)}  # noqa: SLF001 - its own kind
        quick = {} if opened else self._quick_carried(rep_id, period, later)
        causes: dict[str, frozenset[LineKey]] = {}
        for _, event_id in later:
            lines = quick.get(event_id)
            if lines is None:
                without = self._calculator_without(event_id, opened)
                lines = without._carried_lines(rep_id, period)  # noqa: SLF001 - its own kind
            moved = _moved_keys(now, {line_key(x): x.amount for x in lines})
            if moved:
                causes[event_id] = moved
        return causes

    def _carried_lines(self, rep_id: str, period: Period) -> list[Line]:
        """The period's carried balance line (none: nothing carried, or
        waiting for a rate)."""
        carried = self._carried_in(rep_id, period)
        return [] if carried is None or carried.waiting else [carried_balance_line(carried)]

    def _quick_carried(
        self, rep_id: str, period: Period, later: Sequence[tuple[int, str]]
    ) -> dict[str, list[Line]]:
        """The carried balance line of ``period`` (none: nothing carried)
        without each of the ``later`` events that only one of the open
        periods it carries from reads (`_quick_chain`), from that period's
        own lines without it (`policies.causes.amounts_without`, or
        `_lines_without`) and the rest of its total as it is, carried on
        through the nearer ones as their totals are — rather than a
        calculator per event (a backfill of 400 sales was weighed in 400
        replays of the periods). The event one of that period's own facts
        (a sale, its cancellation, a target, score, case of the period, an
        adjustment, a decision on them) that no other period of the chain
        reads — not the rep's departure, nor a case another period's ladder
        counts. `weigh_whole`: none."""
        chain = [] if self.weigh_whole else self._quick_chain(rep_id, period)
        out: dict[str, list[Line]] = {}
        for k, link in enumerate(chain):
            others = {e for j, other in enumerate(chain) if j != k for e in other.read_ids}
            ids = [e for _, e in later if e in link.own_ids and e not in others]
            for event_id, amounts in self._own_amounts_without(rep_id, link, ids).items():
                total = link.rest + sum(amounts.values(), Decimal(0))
                for nearer in reversed(chain[:k]):  # carried on, no conversion between
                    carried = _carried_amount(CarriedBalanceFact(str(nearer.period), total))
                    total = nearer.rest - nearer.carried + carried + nearer.own
                fact = CarriedBalanceFact(str(period.previous()), total, (), chain[0].fx_out)
                out[event_id] = [] if total >= 0 or fact.waiting else [carried_balance_line(fact)]
        return out

    def _quick_chain(self, rep_id: str, period: Period) -> list[_Link]:
        """The open periods ``period`` carries from, nearest first, whose
        totals are their lines alone (`_link`), each carrying the next one's
        total in as it stands in the same currency — as far as that holds."""
        chain: list[_Link] = []
        fx_out = self._conversion(rep_id, period.previous(), period)
        source = period.previous()
        while (
            source >= self.facts.first_period(rep_id, period.kind)
            and not self.is_paid(rep_id, source)
            and self.facts.plan_for(rep_id, source) is not None
        ):
            link = self._link(rep_id, source, fx_out)
            if link is None:
                break
            if chain:
                nearer = chain[-1]
                fx = self._conversion(rep_id, source, nearer.period)
                carried = _carried_amount(CarriedBalanceFact(str(source), link.total))
                if fx is not None or carried != nearer.carried:
                    break
            chain.append(link)
            fx_out = None
            source = source.previous()
        return chain

    def _link(self, rep_id: str, source: Period, fx_out: BalanceConversion | None) -> _Link | None:
        """``source`` as `_quick_chain` reads it (None: its total is not its
        own lines, its carried balance and corrections alone — a draw — or
        its own lines are not those of its statement)."""
        then, result = self.compute(rep_id, source)
        _, own = self.compute(rep_id, source, own_only=True)
        facts = self._own_facts[rep_id, source]
        rest = [x for x in result.lines if x.kind not in OWN_KINDS]
        if (
            then.draw is not None
            or any(x.kind not in OWN_KINDS for x in own.lines)
            or _period_amounts([x for x in result.lines if x.kind in OWN_KINDS])
            != _period_amounts(own.lines)
            or any(x.kind not in _OTHER_PERIODS for x in rest)
        ):
            return None
        return _Link(
            period=source,
            plan=then,
            facts=facts,
            own=sum((x.amount for x in own.lines), Decimal(0)),
            rest=sum((x.amount for x in rest), Decimal(0)),
            carried=sum((x.amount for x in rest if x.kind == "carried_balance"), Decimal(0)),
            own_ids=frozenset(fact_event_ids(replace(facts, minor_history=())))
            - {facts.left_event_id},
            read_ids=frozenset(fact_event_ids(facts)),
            fx_out=fx_out,
        )

    def _own_amounts_without(
        self, rep_id: str, link: _Link, ids: Sequence[str]
    ) -> dict[str, dict[LineKey, Decimal]]:
        """The amounts of ``link``'s period's own lines without each of ``ids``."""
        if not ids:
            return {}
        then, facts = link.plan, link.facts
        if models(then, facts):
            return amounts_without(then, facts, ids)
        booking = self._booking_periods(rep_id, link.period, then)
        quick = _Quick(self, then, facts, booking)
        found = {}
        for event_id in ids:
            lines = self._lines_without(rep_id, then, facts, booking, event_id, quick=quick)
            found[event_id] = _period_amounts(quick.lines if lines is None else lines)
        return found

    def _carried_from(
        self, rep_id: str, paid_period: Period, since: int
    ) -> list[tuple[Period, int | None]]:
        """The periods whose totals the balance carried into ``paid_period``
        rests on, nearest first, each with the last position whose events
        count (None: every one): the one before it, and the one before that
        while a plan pays each and it is open — or was paid after ``since``
        (the paid period carried its total as it stood then, and its run
        fixed it as worked out at the run's computation: the events up to
        that point count, for it and the periods it carried from). A period
        paid before carries its total as paid, which no later event moves."""
        found: list[tuple[Period, int | None]] = []
        first = self.facts.first_period(rep_id, paid_period.kind)
        source = paid_period.previous()
        until: int | None = None
        while source >= first and self.facts.plan_for(rep_id, source) is not None:
            paid = self._as_paid(rep_id, source)
            if paid is not None:
                computed_at = int(paid["as_of"]["position"])
                if computed_at <= since:
                    break
                until = computed_at if until is None else min(until, computed_at)
            found.append((source, until))
            source = source.previous()
        return found

    def _total_causes(self, rep_id: str, periods: Sequence[Period], since: int) -> list[str]:
        """The events recorded after ``since`` that may move the totals of
        ``periods`` (open ones): the later causes of each one's lines (its
        draw's too: `_later_causes`), those named by the corrections booked
        into it, and the rates its carried balance and corrections are
        converted at — candidates, each weighed by `_balance_causes`."""
        found: list[str] = []
        for period in periods:
            plan, _ = self.compute(rep_id, period, own_only=True)
            found += self._later_causes(rep_id, period, plan, since, every_kind=True)
            conversions = [self._conversion(rep_id, period.previous(), period)]
            for correction in self._corrections(rep_id, period):
                found += correction.event_ids
                conversions.append(correction.fx)
            found += [fx.rate.event_id for fx in conversions if fx is not None and fx.rate]
        return found

    def _settled_without(
        self,
        event_id: str | None,
        paid_one: tuple[str, Period],
        replayed: tuple[Plan, dict[str, Any], Sequence[Line]],
        opened: Mapping[tuple[str, Period], int],
    ) -> tuple[list[Line], list[Line]]:
        """`_balances_settled` as if ``event_id`` had never been recorded (None:
        as recorded), by `_calculator_without`, the paid period's own lines
        as they are. ``paid_one``: the rep and the paid period."""
        rep_id, paid_period = paid_one
        plan, paid, own_lines = replayed
        without = self._calculator_without(event_id, opened)
        without._own_facts[paid_one] = self._own_facts[paid_one]  # noqa: SLF001 - as they are
        return without._balances_settled(  # noqa: SLF001 - its own kind
            rep_id, paid_period, plan, paid, own_lines
        )

    def _calculator_without(
        self, event_id: str | None, opened: Mapping[tuple[str, Period], int]
    ) -> Calculator:
        """A calculator of the same point as if ``event_id`` had never been
        recorded (None: as recorded) — its facts without it (taken out of
        every period's facts, or of the ledger's: `LedgerFacts.without`) —,
        which weighs totals, not causes, and works the ``opened`` periods out
        as if open."""
        masked = self.facts.without(event_id) if event_id is not None else None
        return Calculator(
            self.facts if masked is None else masked.facts,
            self.as_of,
            self.locale,
            window_start=self.window_start,
            facts_from=self.facts_from,
            taken_out=event_id if masked is None else None,
            weighing=True,
            opened=opened,
        )

    def _draw_settled(
        self,
        paid_one: tuple[str, Period],
        draw: Draw,
        paid: dict[str, Any],
        replay_lines: Sequence[Line],
    ) -> tuple[list[Line], list[Line]]:
        """SPEC §3.1: a paid period's draw lines — ``paid_one``: the rep and the
        period —, as paid and as they stand now, when they differ — what its
        correction then settles too (none: equal).

        Recoverable, what the period drew or recovered moves the balance as it
        stands now (`_draw_balance_after`); a recovery beyond that balance (of a
        draw an earlier period, paid later, never made) is given back. Not
        recoverable, the draw is what the period's total lacked of the amount,
        forgiven: when later events change that total — a late sale lifts it, a
        cancellation lowers it — the draw it would pay now replaces the one
        paid. The total it tops up is the replay's lines with the carried
        balance as it stands (``replay_lines``) and the corrections booked into
        it as paid."""
        rep_id, paid_period = paid_one
        if draw.recoverable:
            balance_in, _ = self._draw_carried(
                rep_id,
                paid_period,
                self._draw_balance_after(rep_id, paid_period.previous()),
            )
            _, over = balance_after_of(paid["lines"], balance_in)
            recovered = [line_from_dict(x) for x in paid["lines"] if x["kind"] == "draw_recovery"]
            if not over or not recovered:
                return [], []
            return recovered, [replace(recovered[0], amount=recovered[0].amount + over)]
        own = self._own_facts[rep_id, paid_period]
        booked = sum(
            (Decimal(x["amount"]) for x in paid["lines"] if x["kind"] == "correction"),
            Decimal(0),
        )
        earned = sum((x.amount for x in replay_lines), booked)
        span = (own.first_period or paid_period, own.left_on)
        now = list(
            draw_lines(
                draw, paid_period, span, earned, Decimal(0), plan_event_id=own.plan_event_id
            ).lines
        )
        was = [line_from_dict(x) for x in paid["lines"] if x["kind"] == "draw"]
        if sum((x.amount for x in now), Decimal(0)) == sum((x.amount for x in was), Decimal(0)):
            return [], []
        return was, now

    def _later_causes(
        self,
        rep_id: str,
        paid_period: Period,
        plan: Plan,
        computed_at: int,
        *,
        every_kind: bool = False,
    ) -> dict[str, frozenset[LineKey]]:
        """The events recorded after the paid statement was computed (position
        ``computed_at``) whose removal would change a line of the period's
        replay, in log order, each with the lines it changes: its own lines
        (``every_kind``: every line but the carried balance and corrections —
        a draw's too, as a diff names them).

        The candidates are every event that can move the period's lines:
        those its facts rest on (its own, its team's:
        `policies.causes.fact_event_ids`), the rates, payments, plan
        assignments and the team's reporting changes of `_shape_event_ids`,
        and, under pay on collection, those of each earlier booking period
        whose sales the period's payments release (`_booking_periods`). The
        definition itself — the period worked out again without each
        (`_lines_without`) — for up to `_MAX_EXACT_CAUSES` of them; more (a
        period replayed across a large import) the faster way of
        `policies.causes.later_causes` for the period's own facts, when its
        plan allows (`policies.causes.models`: paid on booking — every line of
        its own, the same lines named). The events beyond its own facts are
        always worked out whole: the faster way models the period's own facts
        only."""
        facts = self._own_facts[rep_id, paid_period]
        own_ids = fact_event_ids(facts)
        booking = self._booking_periods(rep_id, paid_period, plan)
        candidates = dict.fromkeys(
            (
                *own_ids,
                *self._shape_event_ids(facts),
                *(e for b in booking.values() for e in b.ids),
            )
        )
        later = sorted(
            (position, event_id)
            for event_id in candidates
            if (position := self._position_of(event_id)) is not None and position > computed_at
        )
        ids = [e for _, e in later]
        causes: dict[str, frozenset[LineKey]] = {}
        exact = ids
        if (
            len(ids) > _MAX_EXACT_CAUSES
            and models(plan, facts)
            and not (every_kind and plan.draw is not None)  # draw lines: worked out whole
        ):
            own = set(own_ids)
            causes = later_causes(plan, facts, [e for e in ids if e in own])
            exact = [e for e in ids if e not in own]
        if exact:
            amounts = _period_amounts if every_kind else _own_amounts
            quick = _Quick(self, plan, facts, booking)
            now = amounts(quick.lines)
            for event_id in exact:
                lines = self._lines_without(rep_id, plan, facts, booking, event_id, quick=quick)
                if lines is None:
                    continue  # proven to move nothing
                moved = _moved_keys(now, amounts(lines))
                if moved:
                    causes[event_id] = moved
        plan_change = self._plan_cause(plan, facts, computed_at)
        if plan_change is not None:
            causes[plan_change[0]] = plan_change[1]
        return dict(sorted(causes.items(), key=lambda item: self._position_of(item[0]) or 0))

    def changed_since(
        self, rep_id: str, period: Period, position: int
    ) -> dict[str, frozenset[LineKey]]:
        """SPEC §4's diff: the events recorded after ``position`` (up to this
        replay's) whose removal from the replay would change a line of the rep's
        period — every line but corrections (which name their own causes) —
        each with the lines (kind, subject) it changes, in log order: those of
        its own lines (`_later_causes`) and, open, of the balance it carries
        in (`_carried_causes`; a paid period's stays as paid)."""
        self.compute(rep_id, period, own_only=True)
        plan = self.plan(rep_id, period)
        causes = self._later_causes(rep_id, period, plan, position, every_kind=True)
        if self.is_paid(rep_id, period):
            return causes
        for event_id, keys in self._carried_causes(rep_id, period, position).items():
            causes[event_id] = causes.get(event_id, frozenset()) | keys
        return dict(sorted(causes.items(), key=lambda item: self._position_of(item[0]) or 0))

    def _booking_periods(self, rep_id: str, period: Period, plan: Plan) -> dict[Period, _Booking]:
        """SPEC §3.1 pay on collection: the booking periods before ``period``
        of the sales whose payments it receives, under a collection plan, each
        with its plan, its facts and the events they rest on — what the
        period's releases were worked out from (`_releases_in`)."""
        f = self.facts
        found: dict[Period, _Booking] = {}
        for payment in f.payments_by_rep.get(rep_id, ()):
            if period_of(payment.occurred_at, plan.period) != period:
                continue
            paid_sale = f.sales.get(payment.data["sale_id"])
            if paid_sale is None:
                continue
            booking = period_of(paid_sale.occurred_at, plan.period)
            if booking >= period or booking in found:
                continue
            then = f.plan_for(rep_id, booking)
            if then is None or then.period != booking.kind or then.commission.basis != "collection":
                continue  # paid on booking: its payments release nothing
            base = self.period_facts(
                rep_id, booking, then, carried_in=None, corrections=(), with_releases=False
            )
            ids = frozenset((*fact_event_ids(base), *self._shape_event_ids(base)))
            found[booking] = _Booking(then, base, ids)
        return found

    def _lines_without(
        self,
        rep_id: str,
        plan: Plan,
        facts: PeriodFacts,
        booking: dict[Period, _Booking],
        event_id: str,
        *,
        quick: _Quick,
    ) -> Sequence[Line] | None:
        """The period's own lines as if ``event_id`` had never been recorded
        (None: as they are).

        An exchange rate, a reporting change or a plan assignment reaches past
        the period's own facts — which team sales count at which level, what a
        team sale converts to, which plan (or none) pays the period, a team
        member's clawback window, what a booking period earned —, so the
        period is worked out again over the facts without it
        (`LedgerFacts.without`), by a calculator of its own; any other event
        is taken out of the period's facts (`policies.causes.without_event`),
        with the releases worked out again without it — from the booking
        periods without it too, so a sale whose cancellation is taken out
        releases its payments again. The draw
        balance carried in stands either way, as it does for the period's own
        events: what the period drew is settled by its draw lines.

        Working the period out whole is what the definition says; `_Quick`
        first tries to prove, from what the period's facts read of the event,
        that its lines do not move, or to move them over the same facts — the
        same answer, without a cold calculator per event (`weigh_whole`: never)."""
        without = self.facts.without(event_id)
        if without is None:  # one of the period's own or its team's facts, or a payment
            if not self.weigh_whole:
                paid = quick.payment_without(event_id)
                if paid is _Whole.WHOLE:
                    paid = quick.sale_fact_without(event_id)
                if paid is not _Whole.WHOLE:
                    return paid
            taken_out = self._with_releases(
                rep_id,
                facts.period,
                plan,
                without_event(facts, event_id),
                _Without(event_id, self, rep_id, booking),
            )
            return calculate_period(plan, taken_out).lines
        if not self.weigh_whole:
            found = quick.lines_without(without, event_id)
            if found is not _Whole.WHOLE:
                return found
        return self._whole_without(rep_id, facts, without.facts)

    def _whole_without(
        self, rep_id: str, facts: PeriodFacts, masked: LedgerFacts
    ) -> Sequence[Line]:
        """The period worked out again over ``masked`` — the facts without an
        event (`LedgerFacts.without`) — by a calculator of its own."""
        then = masked.plan_for(rep_id, facts.period)
        if then is None or then.period != facts.period.kind:
            return ()  # no plan would pay the period: none of its lines
        calculator = Calculator(
            masked,
            self.as_of,
            self.locale,
            window_start=self.window_start,
            facts_from=self.facts_from,
        )
        balances = dict(self._draw_balances)
        carried = facts.draw_carried
        balances[rep_id, facts.period.previous()] = _DrawAfter(
            carried.balance if carried is not None else facts.draw_balance_in,
            tuple(facts.draw_converted_before),
        )
        calculator._draw_balances = balances
        again = calculator.period_facts(rep_id, facts.period, then, carried_in=None, corrections=())
        return calculate_period(then, again).lines

    def _plan_cause(
        self, plan: Plan, facts: PeriodFacts, computed_at: int
    ) -> tuple[str, frozenset[LineKey]] | None:
        """A plan version published after the statement was computed that governs
        the period now: a cause of every line it moves, against the version in
        force without it."""
        event_id = facts.plan_event_id
        position = self._position_of(event_id) if event_id else None
        if event_id is None or position is None or position <= computed_at:
            return None
        versions = [p for v, p in self.facts.plans.get(plan.id, {}).items() if v != plan.version]
        before = plan_in_force(versions, facts.period)
        own = {line_key(x): x.amount for x in calculate_period(plan, facts).lines}
        if before is None:
            return event_id, frozenset(own)
        was = {line_key(x): x.amount for x in calculate_period(before, facts).lines}
        zero = Decimal(0)
        moved = frozenset(
            k
            for k in set(own) | set(was)
            if k[0] in OWN_KINDS and own.get(k, zero) != was.get(k, zero)
        )
        return (event_id, moved) if moved else None

    def _shape_event_ids(self, facts: PeriodFacts) -> list[str]:
        """The SPEC §3.1 events beyond its own facts a period's lines may rest
        on — what a paid period's causes weigh: the rates its sales and its
        team's were converted at, the payments it releases or counts, the
        rep's plan assignments (which plan pays the period), and, for a
        manager paid overrides, every reporting change of the team dated up to
        its last sale there — into the team or out of it, at either level —
        and the assignments of a team member with a cancelled sale (their
        plan's clawback window decides whether it counts)."""
        f = self.facts
        ids = [e for sale in facts.sales if sale.fx is not None for e in sale.fx.event_ids]
        ids += [r.payment.event_id for r in (*facts.releases, *facts.booked_releases)]
        # a release into a period paid in another currency: the rate it was converted at
        ids += [r.fx.event_id for r in facts.releases if r.fx is not None]
        ids += f.by_rep.get(facts.rep_id, {}).get("assignments", [])
        if facts.reporting is not None and (facts.team_sales or facts.team_clawed_back):
            ids += [e for sale in facts.team_sales for e in sale.rate_event_ids]
            if facts.team_sales:
                last = max(sale.occurred_at for sale in facts.team_sales)
                for member in self._team_of(facts.rep_id):
                    ids += [e for at, _, e, _ in f.reporting.get(member, ()) if at <= last]
            cancelled = {sale.rep_id for sale, _ in facts.team_clawed_back} | {
                sale.rep_id
                for sale in facts.team_sales
                if (info := f.sales.get(sale.sale_id)) is not None and info.cancellation
            }
            for member in sorted(cancelled):
                ids += f.by_rep.get(member, {}).get("assignments", [])
        return list(dict.fromkeys(e for e in ids if e))

    def _position_of(self, event_id: str | None) -> int | None:
        record = self.facts.record(event_id) if event_id else None
        return record.position if record is not None else None

    def _already_corrected(
        self, rep_id: str, paid_period: Period
    ) -> tuple[Decimal, dict[tuple[str, str | None], Decimal], int]:
        """Corrections for ``paid_period`` already paid out in later paid
        periods: in all, by the line (kind, subject) each step changed, and the
        position the last of them was computed at (0: none)."""
        booked = Decimal(0)
        by_line: dict[tuple[str, str | None], Decimal] = {}
        settled_at = 0
        for _, statement, line in self._paid_corrections(rep_id, paid_period):
            booked += _in_paid_currency(line)
            settled_at = max(settled_at, int(statement["as_of"]["position"]))
            for s in line["explanation"]:
                if s.get("code") == "correction_change":
                    v = s["values"]
                    key = (v["kind"], v.get("subject"))
                    by_line[key] = by_line.get(key, Decimal(0)) + Decimal(v["change"])
        return booked, by_line, settled_at

    def _paid_corrections(
        self, rep_id: str, paid_period: Period
    ) -> Iterator[tuple[Period, dict[str, Any], dict[str, Any]]]:
        """Each correction of ``paid_period`` paid out in a later paid period:
        that period, its paid statement and the correction line."""
        for period in self._paid_periods(rep_id, paid_period.kind):
            if period <= paid_period:
                continue
            run = self._paid_run(rep_id, period)
            assert run is not None
            statement = run.statement_of(rep_id) or {"lines": []}
            for line in statement["lines"]:
                if line["kind"] == "correction" and line.get("paid_period") == str(paid_period):
                    yield period, statement, line

    # -- rendering -------------------------------------------------------------

    def render_line(self, line: Line) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "kind": line.kind,
            "amount": cents_text(line.amount),
            "explanation": [self.render_step(s) for s in line.steps],
            "event_ids": list(line.event_ids),
        }
        if line.kind == "correction":
            for step in line.steps:
                if "paid_period" in step.values:
                    rendered["paid_period"] = step.values["paid_period"]
                    break
        return rendered

    def render_step(self, step: Step) -> dict[str, Any]:
        """A step as the statement JSON has it, its words in this calculator's locale.

        The rendered form holds the step's own values, not a copy: neither is
        ever changed (a statement renders a step per sale).
        """
        cache = self.cache
        if cache is not None and step.code == "sale_commission" and self.locale == "en":
            hit = cache.rendered.get(id(step))
            if hit is not None and hit[0] is step:  # the cached step, not a reused id
                return hit[1]
            rendered = self._render(step)
            cache.rendered[id(step)] = (step, rendered)
            return rendered
        return self._render(step)

    def render_warning(self, warning: PayWarning) -> dict[str, Any]:
        """A warning as the statement JSON has it: code, values, event ids and
        its words in this calculator's locale."""
        return {
            "code": warning.code,
            "values": dict(warning.values),
            "event_ids": list(warning.event_ids),
            "text": render_warning(warning, self.locale),
        }

    def _render(self, step: Step) -> dict[str, Any]:
        return {
            "code": step.code,
            "values": step.values,
            "event_ids": list(step.event_ids),
            "text": render_step(step, self.locale),
        }

    def statement(self, rep_id: str, period: Period) -> dict[str, Any]:
        """SPEC §5's statement JSON for ``rep_id`` and ``period``."""
        if rep_id not in self.facts.reps:
            raise NotFoundError(f"no rep {shown_id(rep_id)}", field="rep_id")
        run = self.facts.paid_run(rep_id, period)
        if run is not None:
            return self._paid_statement(rep_id, period, run.run_id)
        plan, result = self.compute(rep_id, period)
        return {
            "rep_id": rep_id,
            "period": str(period),
            "currency": plan.currency,
            "status": "open",
            "plan": {"id": plan.id, "version": plan.version},
            "as_of": self.as_of.to_dict(),
            "lines": [self.render_line(line) for line in result.lines],
            "attainment": _ratio_text(result.attainment),
            "score": _ratio_text(result.score),
            "tier_coefficient": _ratio_text(result.tier_coefficient),
            "total": cents_text(result.total),
            "payable": cents_text(result.payable),
            "pending": [p.to_dict() for p in result.pending],
            "warnings": [self.render_warning(w) for w in result.warnings],
            "chain_head": self.as_of.head(),
        } | ({"unreleased": cents_text(result.unreleased)} if result.unreleased is not None else {})

    def _paid_statement(self, rep_id: str, period: Period, run_id: str) -> dict[str, Any]:
        run = self.facts.runs[run_id]
        paid = run.statement_of(rep_id)
        assert paid is not None
        assert run.paid is not None
        # what changed it since it was paid, and where each correction went:
        # those paid out already in later periods, then the one outstanding
        booked = self._settled_corrections(rep_id, period)
        correction = self.correction_for(rep_id, period)
        if correction is not None:
            booked.append((str(self.first_unpaid_after(rep_id, period)), correction.event_ids))
        later: list[dict[str, Any]] = []
        seen: set[str] = set()
        for booked_in, event_ids in booked:
            for e in event_ids:
                if e not in seen:
                    seen.add(e)
                    later.append({**_event_ref(self.facts, e), "correction_in": booked_in})
        if self.locale != "en":
            paid["lines"] = [self._translated(line) for line in paid["lines"]]
            if paid.get("warnings"):
                paid["warnings"] = [self._translated_warning(w) for w in paid["warnings"]]
        return {
            **paid,
            "status": "paid",
            "paid": {
                "run_id": run_id,
                "paid_event_id": run.paid.event_id,
                "paid_at": run.paid.occurred_at.isoformat(),
                "computed_at_position": paid["as_of"]["position"],
            },
            "later_events": later,
            "correction_to": booked[-1][0] if booked else None,
            "as_of": self.as_of.to_dict(),
            "chain_head": self.as_of.head(),
        }

    def _settled_corrections(
        self, rep_id: str, paid_period: Period
    ) -> list[tuple[str, tuple[str, ...]]]:
        """The corrections of ``paid_period`` paid out already: the later paid
        period each was booked in, and the events it names as its causes."""
        return [
            (str(period), tuple(line["explanation"][0]["event_ids"]))
            for period, _, line in self._paid_corrections(rep_id, paid_period)
        ]

    def _translated_warning(self, warning: dict[str, Any]) -> dict[str, Any]:
        """A recorded warning with its words rendered again in this locale."""
        again = PayWarning(warning["code"], warning["values"], tuple(warning["event_ids"]))
        return {**warning, "text": render_warning(again, self.locale)}

    def _translated(self, line: dict[str, Any]) -> dict[str, Any]:
        """A recorded line with its words rendered again, in this calculator's locale.

        The numbers, codes and ids are what was paid; only the words change.
        """
        return {
            **line,
            "explanation": [
                self.render_step(
                    Step(code=s["code"], values=s["values"], event_ids=tuple(s["event_ids"]))
                )
                for s in line["explanation"]
            ],
        }


@dataclass(frozen=True)
class _DrawAfter:
    """SPEC §3.1 draws: a rep's recoverable draw balance after a period, in
    its currency, and the conversions it went through (oldest first) since a
    draw line last showed it."""

    balance: Decimal
    unshown: tuple[DrawCarried, ...] = ()


_NO_DRAW = _DrawAfter(Decimal("0.00"))
# The lines that show a draw balance (their ``draw_balance`` step).
_DRAW_KINDS = frozenset({"draw", "draw_recovery"})


@dataclass(frozen=True)
class _Link:
    """An open period a balance is carried from, as `Calculator._quick_chain`
    reads it: its plan and own facts, the sum of its own lines, of the rest of
    its total (its carried balance and corrections) and of its carried balance
    alone, the events of its own facts that no other period reads, every
    event its facts read, and how its total is converted into the period it is
    carried into (the nearest only)."""

    period: Period
    plan: Plan
    facts: PeriodFacts
    own: Decimal
    rest: Decimal
    carried: Decimal
    own_ids: frozenset[str]
    read_ids: frozenset[str]
    fx_out: BalanceConversion | None

    @property
    def total(self) -> Decimal:
        return self.own + self.rest


@dataclass(frozen=True)
class _Booking:
    """A booking period a paid period's releases come from: its plan, its
    facts (without releases) and the events they rest on."""

    plan: Plan
    facts: PeriodFacts
    ids: frozenset[str]


@dataclass(frozen=True)
class _Without:
    """An event taken out of a period's replay (`Calculator._lines_without`):
    what the booking periods of its releases earned without it."""

    event_id: str
    calculator: Calculator
    rep_id: str
    booking: dict[Period, _Booking]
    # each booking period's earnings without the event, worked out once: a
    # period's payments all ask (once per payment was a cube of its sales)
    earned: dict[Period, dict[str, tuple[Decimal, Decimal]]] = field(default_factory=dict)

    def earned_in(self, period: Period) -> dict[str, tuple[Decimal, Decimal]]:
        found = self.booking.get(period)
        if found is None or self.event_id not in found.ids:
            return self.calculator._earned_in(self.rep_id, period)  # noqa: SLF001
        if period not in self.earned:
            facts = without_event(found.facts, self.event_id)
            self.earned[period] = earned_by_sale(found.plan, facts)
        return self.earned[period]


class _Whole(Enum):
    """`_Quick`'s answer when it cannot tell: the period is worked out whole."""

    WHOLE = "whole"


@dataclass
class _Quick:
    """Exact shortcuts for a paid period's causes beyond its own facts
    (`Calculator._lines_without`), from what the period's ``facts`` read of
    them — indexed once per period, on first need.

    An event moves nothing when the facts never read it: no sale of the period
    or of its team converted at the rate (another was the latest in force, and
    stays so without it); no team sale's override level rested on the
    reporting change, or each keeps its level without it; the assignment
    changes neither the plan paying the period nor whether a team member's
    cancelled sale fell inside their clawback window. A rate or a reporting
    change that does move something moves the same facts with the one thing
    it changes — the sales converted again, the reporting lines without it —
    which the period's lines are worked out from again. Anything else — a
    sale left without a rate, releases that read booking periods, a plan that
    changes — `_Whole.WHOLE`: worked out whole."""

    calculator: Calculator
    plan: Plan
    facts: PeriodFacts
    # the booking periods whose earnings the period releases (`_booking_periods`)
    booking: dict[Period, _Booking]

    @cached_property
    def lines(self) -> tuple[Line, ...]:
        """The period's lines as they are."""
        return calculate_period(self.plan, self.facts).lines

    @cached_property
    def _released(self) -> ReleaseSums:
        return ReleaseSums.of(self.facts.releases)

    @cached_property
    def _booked_elsewhere(self) -> frozenset[str]:
        """The payments of the period's own sales received in other periods
        (what it counts as released: no line of its own)."""
        booked = {r.payment.event_id for r in self.facts.booked_releases}
        return frozenset(booked - self._released.parts.keys())

    def payment_without(self, event_id: str) -> Sequence[Line] | Literal[_Whole.WHOLE] | None:
        """SPEC §3.1 pay on collection: a payment the period releases moves
        its ``commission`` and ``spiff`` lines alone — what the payments add
        up to less its part (`policies.calculate.ReleaseSums`); a
        payment of one of its sales received in another period moves none of
        its lines (what is left unreleased, no line). Anything else, or a plan
        with a draw (its lines follow the period's total): worked out whole.
        A backfill of late payments into a paid period is weighed in constant
        time for each, not a whole replay each (was quadratic in them)."""
        if event_id in self._booked_elsewhere:
            return None
        if (
            event_id not in self._released.parts
            or self.plan.commission.basis != "collection"
            or self.plan.draw is not None
        ):
            return _Whole.WHOLE
        amounts = self._released.without(event_id)
        return [
            replace(x, amount=round_money(amounts[x.kind]), exact=amounts[x.kind])
            if x.kind in amounts
            else x
            for x in self.lines
            if x.kind != "spiff" or "spiff" in amounts
        ]

    @cached_property
    def _cancelled(self) -> dict[str, tuple[Plan, SaleFact, bool]]:
        """Cancellation event id -> the plan of the period its sale was booked
        in, the sale, and whether that is this period (else a booking period
        whose earnings this one releases)."""
        booked = [(b.plan, b.facts, False) for b in self.booking.values()]
        return {
            s.cancellation.event_id: (plan, s, own)
            for plan, facts, own in ((self.plan, self.facts, True), *booked)
            for s in facts.sales
            if s.cancellation
        }

    @cached_property
    def _collection(self) -> CollectionPeriod:
        """The period as it stands, to weigh its own sales one at a time."""
        total = credited_sales(self.plan, self.facts.sales).total
        return CollectionPeriod(self.plan, self.facts, self.lines, self._released, total)

    @cached_property
    def _payments_here(self) -> dict[str, list[EventRecord]]:
        """Sale id -> its payments received in the period (`Calculator._releases_in`)."""
        period, kind = self.facts.period, self.plan.period
        found: dict[str, list[EventRecord]] = {}
        for payment in self.calculator.facts.payments_by_rep.get(self.facts.rep_id, ()):
            if period_of(payment.occurred_at, kind) == period:
                found.setdefault(payment.data["sale_id"], []).append(payment)
        return found

    @cached_property
    def _own_sales(self) -> dict[str, SaleFact]:
        """Sale event id -> the period's own sale."""
        return {s.event_id: s for s in self.facts.sales}

    def sale_fact_without(self, event_id: str) -> Sequence[Line] | Literal[_Whole.WHOLE] | None:
        """A sale of the period's own, or a cancellation of one or of a sale a
        booking period holds, under pay on collection (`sale_without`,
        `cancellation_without`); anything else `_Whole.WHOLE`."""
        if event_id in self._own_sales:
            return self.sale_without(event_id)
        return self.cancellation_without(event_id)

    def _weighable(self, sale: SaleFact) -> bool:
        """Whether ``sale`` can be weighed alone: the period paid on collection
        (its lines are releases), no draw (its lines follow the total), a
        sale's commission resting on no other (no shapes), and ``sale`` none of
        the team's its override counts (a sale the rep, a manager, split with
        a report moves the override line too)."""
        plan = self.plan
        return (
            plan.commission.basis == "collection"
            and plan.draw is None
            and not uses_commission_shapes(plan)
            and sale.event_id not in self._team_sale_events
        )

    @cached_property
    def _team_sale_events(self) -> frozenset[str]:
        """The event ids of the team's sales the period's override weighs,
        credited or clawed back (SPEC §3.1 overrides)."""
        clawed_back = (s for s, _ in self.facts.team_clawed_back)
        return frozenset(s.event_id for s in (*self.facts.team_sales, *clawed_back))

    def sale_without(self, event_id: str) -> Sequence[Line] | Literal[_Whole.WHOLE] | None:
        """SPEC §3.1 pay on collection: one of the period's own sales, had it
        never been recorded. Taken back within the clawback window, it moves
        nothing (never credited); else its payments received in the period
        release nothing, and the bonus follows the credited total without its
        credit (`CollectionPeriod.without_sale`). A backfill of late
        sales and their payments into a paid period is weighed in constant
        time for each (was a whole replay each: quadratic)."""
        sale, plan = self._own_sales[event_id], self.plan
        if not self._weighable(sale):
            return _Whole.WHOLE
        if sale.cancellation is not None and cancelled_within_window(
            sale, plan.clawback.window_days
        ):
            return None
        payments = [p.event_id for p in self._payments_here.get(sale.sale_id, ())]
        gone = self._collection.without_sale(sale, payments)
        return _Whole.WHOLE if gone is None else gone

    def cancellation_without(self, event_id: str) -> Sequence[Line] | Literal[_Whole.WHOLE] | None:
        """SPEC §3.1 pay on collection: a cancellation of one of the period's
        own sales, or of a sale booked in an earlier period whose payments this
        one releases. Outside the clawback window it moves nothing (the sale is
        credited either way); inside it, without it the sale is credited again
        in its booking period, earning what it earns alone, and its payments
        received here release that — for one of the period's own sales, the
        bonus follows the credited total too (`CollectionPeriod.with_sale`,
        `with_releases`). Anything else — commission shapes or a draw here or
        there, a sale the period's override counts, a SPIFF line the period
        has not got — `_Whole.WHOLE`. A backfill of late cancellations into a
        paid period is weighed in constant time for each (was a whole replay
        each: quadratic)."""
        found = self._cancelled.get(event_id)
        if found is None:
            return _Whole.WHOLE
        then, sale, own = found
        if (
            not self._weighable(sale)
            or then.commission.basis != "collection"
            or then.draw
            or then.currency != self.plan.currency  # its releases converted: `_converted_release`
        ):
            return _Whole.WHOLE
        if not cancelled_within_window(sale, then.clawback.window_days):
            return None
        earned = earned_alone(then, sale)
        if earned is None:
            return _Whole.WHOLE
        info = self.calculator.facts.sales[sale.sale_id]
        releases = [_release(p, info, earned) for p in self._payments_here.get(sale.sale_id, ())]
        collection = self._collection
        again = collection.with_sale(sale, releases) if own else collection.with_releases(releases)
        return _Whole.WHOLE if again is None else again

    def lines_without(
        self, without: Without, event_id: str
    ) -> Sequence[Line] | Literal[_Whole.WHOLE] | None:
        """The period's lines without ``event_id`` (None: as they are)."""
        if without.kind == "rate":
            base, quote = without.key
            return self._without_rate(event_id, base, quote)
        if without.kind == "reporting":
            return self._without_reporting(without.key[0], event_id)
        if without.kind == "version":
            return _Whole.WHOLE  # another version pays the period: every line again
        return self._without_assignment(without.facts, without.key[0])

    @cached_property
    def _rate_reads(self) -> dict[str, set[str]]:
        """Rate event id -> the sales of the period and of its team converted at it."""
        reads: dict[str, set[str]] = {}
        facts = self.facts
        for sale in (*facts.sales, *facts.after_leaving):
            for e in sale.fx.event_ids if sale.fx is not None else ():
                reads.setdefault(e, set()).add(sale.sale_id)
        for team_sale in (*facts.team_sales, *(s for s, _ in facts.team_clawed_back)):
            for e in team_sale.rate_event_ids:
                reads.setdefault(e, set()).add(team_sale.sale_id)
        return reads

    def _without_rate(
        self, event_id: str, base: str, quote: str
    ) -> Sequence[Line] | Literal[_Whole.WHOLE] | None:
        plan, facts = self.plan, self.facts
        if self.booking or plan.commission.basis == "collection":
            # what booking periods earned (their own sales' rates) is released here
            return _Whole.WHOLE
        touched = self._rate_reads.get(event_id)
        if not touched:
            return None
        if quote != plan.currency:
            return _Whole.WHOLE
        sales = self.calculator.facts.sales
        rates = [r for r in self.calculator._rates(base, quote) if r.event_id != event_id]  # noqa: SLF001
        again: dict[str, tuple[Decimal, Step | None]] = {}
        for sale_id in touched:
            info = sales[sale_id]
            found = convert(
                sale_id, info.amount, info.currency, quote, at=info.occurred_at, rates=rates
            )
            if isinstance(found, MissingRate):
                return _Whole.WHOLE  # left without a rate: pending, or off the team's sales
            again[sale_id] = (found.amount, found.step)

        def own(found: Sequence[SaleFact]) -> tuple[SaleFact, ...]:
            return tuple(
                s._replace(amount=again[s.sale_id][0], fx=again[s.sale_id][1])
                if s.sale_id in again
                else s
                for s in found
            )

        def team(sale: TeamSale) -> TeamSale:
            if sale.sale_id not in again:
                return sale
            amount, fx = again[sale.sale_id]
            credited = amount * sales[sale.sale_id].credits[sale.rep_id]
            return replace(sale, credited=credited, rate_event_ids=fx.event_ids if fx else ())

        moved = replace(
            facts,
            sales=own(facts.sales),
            after_leaving=own(facts.after_leaving),
            team_sales=tuple(team(s) for s in facts.team_sales),
            team_clawed_back=tuple((team(s), c) for s, c in facts.team_clawed_back),
        )
        return calculate_period(plan, moved).lines

    @cached_property
    def _level_reads(self) -> dict[str, list[TeamSale]]:
        """Reporting event id -> the team sales whose override level rests on it
        (`policies.overrides.ReportingLines.consulted`)."""
        reads: dict[str, list[TeamSale]] = {}
        lines, manager_id = self.facts.reporting, self.facts.rep_id
        if lines is None:
            return reads
        for sale in self.facts.team_sales:
            for e in lines.consulted(manager_id, sale.rep_id, sale.occurred_at):
                reads.setdefault(e, []).append(sale)
        return reads

    def _without_reporting(self, rep_id: str, event_id: str) -> Sequence[Line] | None:
        lines, override = self.facts.reporting, self.plan.override
        touched = self._level_reads.get(event_id)
        if lines is None or override is None or not touched:
            return None  # no line reads who reported to whom, or not through it
        masked = lines.without(rep_id, event_id)
        manager_id, depth = self.facts.rep_id, len(override.rates)
        if all(
            _level(lines, manager_id, s, depth) == _level(masked, manager_id, s, depth)
            for s in touched
        ):
            return None
        return calculate_period(self.plan, replace(self.facts, reporting=masked)).lines

    @cached_property
    def _cancelled_team_sales(self) -> dict[str, list[tuple[TeamSale, bool]]]:
        """Team member -> their team sales with a cancellation, each with
        whether it fell inside the clawback window (clawed back)."""
        sales = self.calculator.facts.sales
        found: dict[str, list[tuple[TeamSale, bool]]] = {}
        for sale in self.facts.team_sales:
            if sales[sale.sale_id].cancellation is not None:
                found.setdefault(sale.rep_id, []).append((sale, False))
        for sale, _ in self.facts.team_clawed_back:
            found.setdefault(sale.rep_id, []).append((sale, True))
        return found

    def _without_assignment(self, masked: LedgerFacts, rep_id: str) -> Literal[_Whole.WHOLE] | None:
        f, facts = self.calculator.facts, self.facts
        if rep_id == facts.rep_id and (
            rep_id in f.payments_by_rep or masked.plan_for(rep_id, facts.period) != self.plan
        ):
            return _Whole.WHOLE  # another plan, or releases under another plan
        for team_sale, clawed_back in self._cancelled_team_sales.get(rep_id, ()):
            sale = f.sales[team_sale.sale_id]
            assert sale.cancellation is not None
            window = _window_days(masked, rep_id, sale, self.plan)
            if (sale.cancellation.occurred_at <= window_end(sale.occurred_at, window)) != (
                clawed_back
            ):
                return _Whole.WHOLE
        return None


def _level(lines: ReportingLines, manager_id: str, sale: TeamSale, depth: int) -> int | None:
    """The override level ``sale`` counts at for the manager (None: none)."""
    found = lines.level_of(manager_id, sale.rep_id, sale.occurred_at)
    return found[0] if found is not None and found[0] <= depth else None


def _window_days(facts: LedgerFacts, rep_id: str, sale: SaleInfo, fallback: Plan) -> int:
    """The clawback window of the plan paying ``rep_id`` for the sale's period."""
    if rep_id not in facts.reps:
        return fallback.clawback.window_days
    kind = facts.period_kind(rep_id)
    own = facts.plan_for(rep_id, period_of(sale.occurred_at, kind))
    return (own or fallback).clawback.window_days


# A diff's candidate causes worked out exactly, one replay of the period each.
_MAX_EXACT_CAUSES = 200
_OTHER_PERIODS = frozenset({"carried_balance", "correction"})
# What a paid period's correction settles: its own lines and the balance it
# carried in (`Calculator.correction_for`).
_SETTLED_KINDS = OWN_KINDS | {"carried_balance"}


def _moved_keys(
    now: Mapping[LineKey, Decimal], without: Mapping[LineKey, Decimal]
) -> frozenset[LineKey]:
    """The lines (kind, subject) whose amounts differ between ``now`` and
    ``without`` an event (a line one side lacks: 0)."""
    zero = Decimal(0)
    return frozenset(
        k for k in now.keys() | without.keys() if now.get(k, zero) != without.get(k, zero)
    )


def _carried_amount(fact: CarriedBalanceFact) -> Decimal:
    """What a total carries into the next period in the same currency: the
    carried balance line's amount (0: the total is not negative)."""
    return carried_balance_line(fact).amount if fact.amount < 0 else Decimal(0)


def _periods_between(first: Period, end: Period) -> Iterator[Period]:
    """The periods from ``first`` up to ``end`` (not included), oldest first."""
    period = first
    while period < end:
        yield period
        period = period.next()


def _period_amounts(lines: Sequence[Line]) -> dict[tuple[str, str | None], Decimal]:
    """Every line's amount but those other periods move (carry, corrections)."""
    return {line_key(x): x.amount for x in lines if x.kind not in _OTHER_PERIODS}


def _own_amounts(lines: Sequence[Line]) -> dict[tuple[str, str | None], Decimal]:
    return {line_key(x): x.amount for x in lines if x.kind in OWN_KINDS}


def _release(
    payment: EventRecord,
    sale: SaleInfo,
    earned: tuple[Decimal, Decimal],
    skipped: str | None = None,
    sale_fx: Step | None = None,
) -> ReleaseFact:
    """A payment of ``sale``, what the sale earned (commission, SPIFF) and what
    the sale's payments before it (by business time, then position) paid —
    but ``skipped``, a payment replayed as if never recorded; ``sale_fx``: how
    the sale was converted into its booking period's currency."""
    moment = (payment.occurred_at, payment.position)
    paid_before = sum(
        (
            Decimal(p.data["amount"])
            for p in sale.payments or ()
            if (p.occurred_at, p.position) < moment and p.event_id != skipped
        ),
        Decimal(0),
    )
    return ReleaseFact(
        PaymentFact(
            payment_id=payment.data["payment_id"],
            sale_id=sale.sale_id,
            amount=Decimal(payment.data["amount"]),
            occurred_at=payment.occurred_at,
            position=payment.position,
            event_id=payment.event_id,
        ),
        sale.amount,
        earned[0],
        earned[1],
        paid_before=paid_before,
        sale_event_id=sale.event_id,
        sale_fx=sale_fx,
    )


def _event_ref(facts: LedgerFacts, event_id: str) -> dict[str, Any]:
    record = facts.record(event_id)
    if record is None:
        return {"event_id": event_id}
    return {
        "event_id": event_id,
        "type": record.type,
        "position": record.position,
        "actor": record.actor,
        "occurred_at": record.occurred_at.isoformat(),
    }


def _in_paid_currency(line: dict[str, Any]) -> Decimal:
    """A paid correction line's amount in the currency of the period it
    corrected: converted into another (`policies.currency.convert_balance`),
    the amount before it was."""
    for s in line["explanation"]:
        if s.get("code") == "balance_converted":
            return Decimal(s["values"]["amount"])
    return Decimal(line["amount"])


def line_key_of(change: LineChange) -> LineKey:
    """The (kind, subject) of a changed line, as `policies.corrections.line_key` has it."""
    return change.kind, change.subject


def line_from_dict(data: dict[str, Any]) -> Line:
    """A recorded (paid) statement line back as a policies `Line`."""
    return Line(
        kind=data["kind"],
        amount=Decimal(data["amount"]),
        steps=tuple(
            Step(code=s["code"], values=dict(s["values"]), event_ids=tuple(s["event_ids"]))
            for s in data["explanation"]
        ),
        event_ids=tuple(data["event_ids"]),
    )


def _less_corrected(
    changes: Sequence[LineChange],
    corrected: dict[tuple[str, str | None], Decimal],
    replayed: dict[tuple[str, str | None], Decimal],
) -> list[LineChange]:
    """A paid period's changed lines (paid → replay) less what corrections
    booked before took of each: a line is listed from what was paid and
    corrected already to what the replay says (``replayed``, by line), and not
    at all when those agree — so the steps of a second correction add up to
    its amount."""
    if not corrected:
        return list(changes)
    left = dict(corrected)
    out = []
    for c in changes:
        before = c.before + left.pop((c.kind, c.subject), Decimal(0))
        if before != c.after:
            out.append(replace(c, before=before))
    for (kind, subject), amount in left.items():  # corrected before, back to what was paid
        now = replayed.get((kind, subject), Decimal(0))
        if amount:
            out.append(LineChange(kind, now + amount, now, (), subject))
    return sorted(out, key=lambda c: (c.kind, c.subject or ""))
