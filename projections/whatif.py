"""Modelling (SPEC §5): what a candidate plan would pay (`whatif`) and what one
more sale would add to a rep's open period (`estimate`), recording nothing.

Both are forks of the read side: the facts as they stand (`LedgerFacts`) are
copied (`LedgerFacts.fork`), one event that is never recorded is folded into the
copy — the candidate's `PlanPublished`, or the sale's `SaleRecorded`, each
checked first by the rules that would record it (`Ledger.dry_run`) — and the
same `Calculator` computes the statements of both. The difference is therefore
exactly what recording that event would change: a paid period stays locked, and
what the candidate would have paid for it differently is the `correction` of the
rep's first unpaid period, as after a real publication (SPEC §3.7).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import reduce
from typing import Any, Literal

from pydantic import Field

from ledger import events as ev
from ledger.errors import InvalidInputError, NotFoundError, shown_id
from ledger.records import EventRecord
from policies.pay_warnings import PayWarning
from policies.periods import Period, after_the_day_of, period_of
from policies.plan import Plan
from policies.rounding import CALC, cents_text
from projections.diff import EventSummary, LineChange, Point, UnrecordedEvent, diff_statements
from projections.facts import LedgerFacts
from projections.rows import Row
from projections.statement import OWN_KINDS, AsOf, Calculator, StepCache

__all__ = [
    "Amounts",
    "CandidatePlan",
    "Estimate",
    "EstimateSale",
    "EstimatedSale",
    "Figures",
    "Head",
    "PaidReplay",
    "PaidWhatIfRow",
    "PeriodTotal",
    "PlanRef",
    "WarningDoc",
    "WhatIf",
    "WhatIfRow",
    "candidate_input",
    "check_estimate_period",
    "eligible",
    "estimate_report",
    "sale_input",
    "whatif_report",
]

_ZERO = Decimal("0.00")
# Sums and differences of amounts in the exact context (`policies.rounding.CALC`):
# totals near 10^36 are within SPEC §2's bounds (a large sale × rate × band
# multiplier), and the default context's 28 digits rounded them silently.
_add, _subtract = CALC.add, CALC.subtract


# -- what a what-if and an estimate answer (fields in the order they always had)


class PlanRef(Row):
    """The plan version a statement was computed under."""

    id: str
    version: int


class Figures(Row):
    """A statement's figures: what it pays, how far the targets are met, and
    under which plan version."""

    total: str
    payable: str
    attainment: str | None
    score: str | None
    tier_coefficient: str | None
    plan: PlanRef | None


class Amounts(Row):
    """A total and what of it is payable (or their difference)."""

    total: str
    payable: str


class PaidReplay(Row):
    """A paid period's own lines replayed today and under the candidate, and the
    period the difference would be booked in (as a correction)."""

    today: str
    candidate: str
    difference: str
    booked_in: str


class WhatIfRow(Row):
    """One rep and period: today's figures, the candidate's, the difference and
    the lines that moved."""

    rep_id: str
    period: str
    currency: str
    status: str
    today: Figures | None
    candidate: Figures | None
    difference: Amounts
    moved: Sequence[LineChange]


class PaidWhatIfRow(WhatIfRow):
    """A paid period's row: also what its own lines would pay, replayed."""

    paid_replay: PaidReplay


class PeriodTotal(Row):
    """A period's totals in one currency, today and under the candidate."""

    period: str
    currency: str
    reps: int
    today: Amounts
    candidate: Amounts
    difference: Amounts


class CandidatePlan(Row):
    """The candidate plan version and the day it would take effect."""

    id: str
    version: int
    effective_from: str


class Head(Row):
    """The chain's head the figures were computed at."""

    position: int
    hash: str | None


class WarningDoc(Row):
    """What the candidate would be published with but looks wrong (`PayWarning`)."""

    code: str
    field: str | None
    values: dict[str, str]
    event_ids: list[str]


class WhatIf(Row):
    """A what-if: every rep's pay today and under the candidate, recording nothing."""

    recorded: Literal[False]
    plan: CandidatePlan
    candidate_event: UnrecordedEvent | None
    as_of: Point
    chain_head: Head
    periods: list[str]
    reps: Sequence[WhatIfRow | PaidWhatIfRow]
    totals: list[PeriodTotal]
    warnings: Sequence[WarningDoc] = Field(default_factory=list)


class EstimatedSale(Row):
    """The sale an estimate adds, as folded in: its share is the rep's credit."""

    amount: str
    category: str | None
    date: str
    share: str
    splits: list[dict[str, str]] | None


class Estimate(Row):
    """What one more sale would add to a rep's open period, recording nothing."""

    recorded: Literal[False]
    rep_id: str
    period: str
    currency: str
    sale: EstimatedSale
    before: Figures | None
    after: Figures | None
    difference: Amounts
    by_kind: dict[str, str]
    tier_changed: bool
    moved: Sequence[LineChange]
    as_of: Point
    chain_head: Head


def eligible(
    facts: LedgerFacts, rep_id: str, period: Period, *, after_leaving: bool = False
) -> bool:
    """Whether ``rep_id`` has a statement for ``period``: enrolled by its end,
    not gone before its start (``after_leaving``: or gone — what is still owed
    to or by a rep who left is settled in a period after), a plan version of
    that period kind in force."""
    rep = facts.reps[rep_id]
    if rep.enrolled.occurred_at.date() > period.last_day:
        return False
    if (
        not after_leaving
        and rep.left is not None
        and rep.left.occurred_at.date() < period.first_day
    ):
        return False
    plan = facts.plan_for(rep_id, period)
    return plan is not None and plan.period == period.kind


def candidate_input(plan: Plan, occurred_at: datetime) -> ev.EventIn:
    """The publication of ``plan`` as `plan publish` would record it at ``occurred_at``."""
    return ev.make_event(ev.PlanPublished, occurred_at=occurred_at, plan=plan)


@dataclass(frozen=True)
class EstimateSale:
    """The sale an estimate adds: its amount in the plan's currency, category,
    business date and splits (``[(rep_id, share)]``; none: all the rep's)."""

    amount: str
    category: str | None = None
    on: date | None = None
    splits: tuple[tuple[str, str], ...] = ()


def parse_day(text: str | None) -> date | None:
    """An estimate's business date as its callers take it, ``YYYY-MM-DD`` (none:
    today); a bad one raises naming the field ``date``."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"a date like 2026-11-20, not {text!r}", field="date") from None


def sale_input(rep_id: str, sale: EstimateSale, currency: str, on: date) -> ev.EventIn:
    """The `SaleRecorded` an estimate folds in (validated like any sale: a bad
    amount, category or split raises naming the field)."""
    fields: dict[str, Any] = {
        "sale_id": f"estimate-{uuid.uuid4().hex}",  # a key no sale has: never "already stored"
        "rep_id": rep_id,
        "currency": currency,
        "amount": sale.amount,
        "category": sale.category,
    }
    if sale.splits:
        fields["splits"] = [{"rep_id": r, "share": s} for r, s in sale.splits]
    return ev.make_event(ev.SaleRecorded, occurred_at=_noon(on), **fields)


def _summary(record: EventRecord) -> UnrecordedEvent:
    """The event's summary as a diff names it, marked as never recorded."""
    return UnrecordedEvent.of(record, recorded=False)


def _figures(statement: dict[str, Any] | None) -> Figures | None:
    if statement is None:
        return None
    plan = statement.get("plan")
    return Figures(
        total=statement["total"],
        payable=statement["payable"],
        attainment=statement.get("attainment"),
        score=statement.get("score"),
        tier_coefficient=statement.get("tier_coefficient"),
        plan=PlanRef(id=plan["id"], version=plan["version"]) if plan else None,
    )


def _amount(figures: Figures | None, key: Literal["total", "payable"]) -> Decimal:
    return Decimal(getattr(figures, key)) if figures is not None else _ZERO


def _difference(before: Figures | None, after: Figures | None) -> Amounts:
    return Amounts(
        total=cents_text(_subtract(_amount(after, "total"), _amount(before, "total"))),
        payable=cents_text(_subtract(_amount(after, "payable"), _amount(before, "payable"))),
    )


def _own_total(calc: Calculator, rep_id: str, period: Period) -> Decimal:
    """A paid period's own lines replayed now (what its correction compares)."""
    _, result = calc.compute(rep_id, period, own_only=True)
    return reduce(_add, (line.amount for line in result.lines if line.kind in OWN_KINDS), _ZERO)


@dataclass
class _Totals:
    today_total: Decimal = _ZERO
    today_payable: Decimal = _ZERO
    candidate_total: Decimal = _ZERO
    candidate_payable: Decimal = _ZERO
    reps: int = 0

    def add(self, today: Figures | None, candidate: Figures | None) -> None:
        self.today_total = _add(self.today_total, _amount(today, "total"))
        self.today_payable = _add(self.today_payable, _amount(today, "payable"))
        self.candidate_total = _add(self.candidate_total, _amount(candidate, "total"))
        self.candidate_payable = _add(self.candidate_payable, _amount(candidate, "payable"))
        self.reps += 1


def whatif_report(
    facts: LedgerFacts,
    at: AsOf,
    plan: Plan,
    candidate: EventRecord | None,
    *,
    periods: Sequence[Period],
    rep_ids: Iterable[str],
    warnings: Sequence[PayWarning] = (),
    stored: Callable[[str, Period], dict[str, Any] | None] | None = None,
) -> WhatIf:
    """Every rep's (of ``rep_ids``) pay for each of ``periods`` today and with
    ``candidate`` folded into a fork of ``facts`` (None: the candidate is a
    version already published as it stands, so nothing changes).

    ``stored(rep_id, period)``: today's statement as the read models hold it,
    when they stand exactly at ``at`` (the same document a fresh computation
    gives, which `verify` holds them to): read rather than computed again.

    Per rep and period: today's figures and the candidate's (a statement's
    total and payable: a paid period's as paid, both sides), the difference,
    the lines that moved and the events behind them (`diff_statements`); for a
    paid period also its own lines replayed under each (what the candidate
    would have paid: the difference is booked as a correction in the period
    named). Totals per period and currency, and ``warnings`` (what the candidate
    would be published with but looks wrong). ``facts`` is left as it was.
    """
    fork = facts.fork()
    events: dict[str, EventSummary] = {}
    candidate_at = at
    summary: UnrecordedEvent | None = None
    if candidate is not None:
        fork.apply(candidate)
        summary = events[candidate.event_id] = _summary(candidate)
        candidate_at = AsOf(candidate.position, candidate.recorded_at, None)
    today_calc = Calculator(facts, at)
    candidate_calc = Calculator(fork, candidate_at)
    rows: list[WhatIfRow] = []
    totals: dict[tuple[str, str], _Totals] = {}
    for period in periods:
        for rep_id in rep_ids:
            now_in = eligible(facts, rep_id, period)
            then_in = eligible(fork, rep_id, period)
            if not now_in and not then_in:
                continue
            today = _today(today_calc, stored, at, rep_id, period) if now_in else None
            then = candidate_calc.statement(rep_id, period) if then_in else None
            paid = today is not None and today.get("status") == "paid"
            replay = _paid_replay(today_calc, candidate_calc, rep_id, period) if paid else None
            row = _row(rep_id, period, today, then, events, replay=replay)
            rows.append(row)
            totals.setdefault((str(period), row.currency), _Totals()).add(row.today, row.candidate)
    return WhatIf(
        recorded=False,
        plan=CandidatePlan(
            id=plan.id, version=plan.version, effective_from=plan.effective_from.isoformat()
        ),
        candidate_event=summary,
        as_of=Point.model_validate(at.to_dict()),
        chain_head=Head.model_validate(at.head()),
        periods=[str(p) for p in periods],
        reps=rows,
        totals=[
            PeriodTotal(
                period=period,
                currency=currency,
                reps=t.reps,
                today=Amounts(total=cents_text(t.today_total), payable=cents_text(t.today_payable)),
                candidate=Amounts(
                    total=cents_text(t.candidate_total), payable=cents_text(t.candidate_payable)
                ),
                difference=Amounts(
                    total=cents_text(_subtract(t.candidate_total, t.today_total)),
                    payable=cents_text(_subtract(t.candidate_payable, t.today_payable)),
                ),
            )
            for (period, currency), t in totals.items()
        ],
        warnings=[WarningDoc.model_validate(w.to_dict()) for w in warnings],
    )


def _today(
    calc: Calculator,
    stored: Callable[[str, Period], dict[str, Any] | None] | None,
    at: AsOf,
    rep_id: str,
    period: Period,
) -> dict[str, Any]:
    """Today's statement of ``rep_id`` for ``period``: the stored one with the
    point it stands at, or else computed."""
    doc = stored(rep_id, period) if stored is not None else None
    if doc is None:
        return calc.statement(rep_id, period)
    return {**doc, "as_of": at.to_dict(), "chain_head": at.head()}


def _row(
    rep_id: str,
    period: Period,
    today: dict[str, Any] | None,
    then: dict[str, Any] | None,
    events: dict[str, EventSummary],
    *,
    replay: PaidReplay | None,
) -> WhatIfRow:
    """The row of a rep and period (a `PaidWhatIfRow` with ``replay``, a paid one's)."""
    shown = today if today is not None else then
    assert shown is not None
    before, after = _figures(today), _figures(then)
    moved: Sequence[LineChange] = ()
    if today is not None and then is not None:
        moved = diff_statements(today, then, events).changes
    fields: dict[str, Any] = {
        "rep_id": rep_id,
        "period": str(period),
        "currency": shown["currency"],
        "status": shown.get("status", "open"),
        "today": before,
        "candidate": after,
        "difference": _difference(before, after),
        "moved": moved,
    }
    if replay is not None:
        return PaidWhatIfRow(**fields, paid_replay=replay)
    return WhatIfRow(**fields)


def _paid_replay(
    today_calc: Calculator, candidate_calc: Calculator, rep_id: str, period: Period
) -> PaidReplay:
    """A paid period replayed under today's plans and under the candidate:
    its own lines' total each way, and where the difference is booked."""
    now = _own_total(today_calc, rep_id, period)
    then = _own_total(candidate_calc, rep_id, period)
    return PaidReplay(
        today=cents_text(now),
        candidate=cents_text(then),
        difference=cents_text(_subtract(then, now)),
        booked_in=str(candidate_calc.first_unpaid_after(rep_id, period)),
    )


def estimate_report(
    facts: LedgerFacts,
    base: Calculator,
    sale: EventRecord,
    *,
    rep_id: str,
    period: Period,
    cache: StepCache | None = None,
    before: dict[str, Any] | None = None,
) -> Estimate:
    """What ``sale`` (never recorded) adds to ``rep_id``'s open ``period``:
    the statement's figures before and after, the difference, and the lines
    that moved (commission, band, SPIFF, bonus tier), each with its events.

    ``base`` is the calculator of ``facts`` as they stand (kept between
    estimates: what it worked out for the periods before ``period`` holds for
    the fork too, as a sale in ``period`` changes no earlier period), and
    ``before`` the period's statement from it, when already made.
    """
    fork = facts.fork()
    fork.apply(sale)
    at = AsOf(sale.position, sale.recorded_at, None)
    after_calc = base.seeded_for(fork, at, rep_id, period, cache)
    before = before if before is not None else base.statement(rep_id, period)
    after = after_calc.statement(rep_id, period)
    changes = diff_statements(before, after, {sale.event_id: _summary(sale)}).changes
    by_kind: dict[str, Decimal] = {}
    for change in changes:
        by_kind[change.kind] = _add(by_kind.get(change.kind, _ZERO), Decimal(change.change))
    share = fork.sales[sale.data["sale_id"]].credits.get(rep_id, _ZERO)
    before_figures, after_figures = _figures(before), _figures(after)
    return Estimate(
        recorded=False,
        rep_id=rep_id,
        period=str(period),
        currency=after["currency"],
        sale=EstimatedSale(
            amount=sale.data["amount"],
            category=sale.data.get("category"),
            date=sale.occurred_at.date().isoformat(),
            share=format(share, "f"),
            splits=sale.data.get("splits"),
        ),
        before=before_figures,
        after=after_figures,
        difference=_difference(before_figures, after_figures),
        by_kind={kind: cents_text(amount) for kind, amount in sorted(by_kind.items())},
        tier_changed=_tier(before_figures) != _tier(after_figures),
        moved=changes,
        as_of=Point.model_validate(base.as_of.to_dict()),
        chain_head=Head.model_validate(base.as_of.head()),
    )


def _tier(figures: Figures | None) -> str | None:
    return figures.tier_coefficient if figures is not None else None


def check_estimate_period(facts: LedgerFacts, rep_id: str, on: date) -> Period:
    """The open period of ``rep_id`` that ``on`` falls in (an estimate adds a
    sale there): refused, naming ``date``, when it is paid or not theirs."""
    if rep_id not in facts.reps:
        raise NotFoundError(f"no rep {shown_id(rep_id)}", field="rep_id")
    period = period_of(_noon(on), facts.period_kind(rep_id))
    run = facts.paid_run(rep_id, period)
    if run is not None:
        raise InvalidInputError(
            f"rep {rep_id}'s {period} is paid (run {run.run_id}): an estimate adds a sale "
            f"to an open period; give a date in one (not {on.isoformat()})",
            field="date",
        )
    if not eligible(facts, rep_id, period):
        raise InvalidInputError(
            f"rep {rep_id} has no statement for {period} (not enrolled then, gone, or no "
            f"plan version in force): give a date in one of their open periods",
            field="date",
        )
    left = facts.reps[rep_id].left
    if left is not None and after_the_day_of(_noon(on), left.occurred_at):
        raise InvalidInputError(
            f"rep {rep_id} left on {left.occurred_at.date().isoformat()}: a sale after that "
            f"day credits them nothing (not {on.isoformat()})",
            field="date",
        )
    return period


def _noon(on: date) -> datetime:
    """A sale's business time on day ``on``: its period is the day's (UTC)."""
    return datetime.combine(on, time(12), tzinfo=UTC)
