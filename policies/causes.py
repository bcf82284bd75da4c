"""Which later events changed what a paid period would pay (SPEC §4, §3 rule 7).

A paid period's statement names "the later events that changed what it would
pay: those whose removal from the replay would change a line — a cancellation
inside the window, an overturned case, a late approval; not every later event
of the rep". That definition is taken literally: each candidate event (one
recorded after the paid statement was computed) is taken out of the period's
facts, the period's own lines are worked out again, and the event is a cause of
every line whose amount moves. A cancellation outside the clawback window, a
coaching note or a score of a KPI the plan does not weigh changes no amount and
is not named; an overturning that removed a fine is, though no line of the
replay mentions it.

Taking out a sale or a cancellation changes only the credited total and the
commission, so those are worked out from the period's totals (the commission
line is the rounded sum of each credited sale's commission: exact Decimal sums,
so the sum without one sale is the total less that sale's commission) and the
bonus again; other events change no sale, so the commission stands and the
bonus, fines and adjustments are worked out again. `changed_without` does the
whole recomputation, the definition itself, for the tests to hold the two to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal, localcontext
from typing import Any, TypeVar

from policies.calculate import adjustment_lines, calculate_period
from policies.commission import credited_sales, sale_rate
from policies.corrections import line_key
from policies.discipline import fine_lines
from policies.explanation import Line
from policies.facts import (
    AdjustmentFact,
    CaseFact,
    Decision,
    PeriodFacts,
    SaleFact,
    TargetFact,
)
from policies.plan import Plan
from policies.rounding import CALC, round_money
from policies.tiers import bonus_line

__all__ = ["LineKey", "changed_without", "fact_event_ids", "later_causes", "without_event"]

LineKey = tuple[str, str | None]  # a line's kind and subject (`line_key`)
_OWN_KINDS = frozenset(
    {"commission", "bonus", "fine", "adjustment", "spiff", "cap", "gate", "override"}
)
_PENDING = Decision(status="pending")

_Decided = TypeVar("_Decided", TargetFact, CaseFact, AdjustmentFact)


def fact_event_ids(facts: PeriodFacts) -> tuple[str, ...]:
    """Every event a period's facts rest on, once each: its sales and their
    cancellations, targets, scores, cases (and the year of minor cases the
    ladder counts), overturnings, adjustments and the decisions on them, the
    rep's departure, and a manager's team sales and the cancellations that
    took some of them back."""
    ids: list[str | None] = []
    for sale in facts.sales:
        ids += [sale.event_id, sale.cancellation.event_id if sale.cancellation else None]
    for target in facts.targets:
        ids += [target.event_id, target.decision.event_id]
    ids += [score.event_id for score in facts.kpi_scores]
    for case in (*facts.cases, *facts.minor_history):
        ids += [case.event_id, case.decision.event_id, case.overturned_by]
    for adjustment in facts.adjustments:
        ids += [adjustment.event_id, adjustment.decision.event_id]
    ids.append(facts.left_event_id)  # the rep's departure: later sales, proration, draws
    # SPEC §3.1 overrides: the team's sales, and the cancellations that took
    # some of them back within the window
    ids += [sale.event_id for sale in facts.team_sales]
    ids += [cancellation for _, cancellation in facts.team_clawed_back]
    return tuple(dict.fromkeys(e for e in ids if e))


def _undecided(subject: _Decided, event_id: str) -> _Decided:
    """``subject`` as if the decision ``event_id`` had not been taken."""
    if subject.decision.event_id == event_id and subject.decision.status != "not_required":
        return replace(subject, decision=_PENDING)
    return subject


def _case_without(case: CaseFact, event_id: str) -> CaseFact:
    case = _undecided(case, event_id)
    return replace(case, overturned_by=None) if case.overturned_by == event_id else case


def _sale_without(sale: SaleFact, event_id: str) -> SaleFact:
    if sale.cancellation is not None and sale.cancellation.event_id == event_id:
        return sale._replace(cancellation=None)
    return sale


def without_event(facts: PeriodFacts, event_id: str) -> PeriodFacts:
    """The period's facts as if ``event_id`` had never been recorded: a sale,
    target, score, case or adjustment gone; a cancellation or an overturning
    undone; a decision not taken yet (its subject pending); the rep's departure
    not recorded (the sales after it credited, a whole period enrolled); a
    team sale gone, or credited again when ``event_id`` cancelled it."""
    if event_id == facts.left_event_id:
        return replace(
            facts,
            sales=(*facts.sales, *facts.after_leaving),
            after_leaving=(),
            left_event_id=None,
            left_on=None,
        )
    return replace(
        facts,
        sales=tuple(_sale_without(s, event_id) for s in facts.sales if s.event_id != event_id),
        targets=tuple(_undecided(t, event_id) for t in facts.targets if t.event_id != event_id),
        kpi_scores=tuple(s for s in facts.kpi_scores if s.event_id != event_id),
        cases=tuple(_case_without(c, event_id) for c in facts.cases if c.event_id != event_id),
        minor_history=tuple(
            _case_without(c, event_id) for c in facts.minor_history if c.event_id != event_id
        ),
        adjustments=tuple(
            _undecided(a, event_id) for a in facts.adjustments if a.event_id != event_id
        ),
        **_team_without(facts, event_id),
    )


def _team_without(facts: PeriodFacts, event_id: str) -> dict[str, Any]:
    """The team sales (SPEC §3.1 overrides) without the sale ``event_id``, or
    with the sale it cancelled credited again; nothing when neither."""
    restored = [sale for sale, cancel in facts.team_clawed_back if cancel == event_id]
    if not restored and all(sale.event_id != event_id for sale in facts.team_sales):
        return {}
    return {
        "team_sales": (*(s for s in facts.team_sales if s.event_id != event_id), *restored),
        "team_clawed_back": tuple(
            (sale, cancel)
            for sale, cancel in facts.team_clawed_back
            if event_id not in (cancel, sale.event_id)
        ),
    }


def _amounts(lines: Iterable[Line]) -> dict[LineKey, Decimal]:
    return {line_key(x): x.amount for x in lines if x.kind in _OWN_KINDS}


def _moved(before: Mapping[LineKey, Decimal], after: Mapping[LineKey, Decimal]) -> set[LineKey]:
    zero = Decimal(0)
    return {k for k in set(before) | set(after) if before.get(k, zero) != after.get(k, zero)}


def changed_without(plan: Plan, facts: PeriodFacts, event_id: str) -> set[LineKey]:
    """The lines (kind, subject) whose amount moves when ``event_id`` is taken
    out of the period's facts: the whole period worked out twice (what
    `later_causes` works out faster)."""
    full = calculate_period(plan, facts).lines
    return _moved(
        _amounts(full), _amounts(calculate_period(plan, without_event(facts, event_id)).lines)
    )


def _bonus_amount(plan: Plan, facts: PeriodFacts, credited_total: Decimal) -> Decimal:
    return bonus_line(plan, facts, credited_total=credited_total).line.amount


class _Period:
    """One period's totals, to work out cheaply what taking out one event moves."""

    def __init__(self, plan: Plan, facts: PeriodFacts) -> None:
        self.plan, self.facts = plan, facts
        credited = credited_sales(plan, facts.sales)
        self.credited_total = credited.total
        self.commission_total = sum(
            (credit * sale_rate(plan, sale.category)[0] for sale, credit in credited.by_sale),
            Decimal(0),
        )
        self.lines = _amounts(calculate_period(plan, facts).lines)
        self.sales = {s.event_id: s for s in facts.sales}
        self.cancellations = {s.cancellation.event_id: s for s in facts.sales if s.cancellation}

    def _credit_change(self, sale: SaleFact, sign: int) -> set[LineKey]:
        """What crediting (+1) or no longer crediting (-1) ``sale`` moves."""
        credit = sale.amount * sale.share
        commission = round_money(
            self.commission_total + sign * credit * sale_rate(self.plan, sale.category)[0]
        )
        bonus = _bonus_amount(self.plan, self.facts, self.credited_total + sign * credit)
        after = {**self.lines, ("commission", None): commission, ("bonus", None): bonus}
        return _moved(self.lines, after)

    def changed_without(self, event_id: str) -> set[LineKey]:
        if event_id == self.facts.left_event_id:  # rare: the period worked out again
            left_out = without_event(self.facts, event_id)
            return _moved(self.lines, _amounts(calculate_period(self.plan, left_out).lines))
        sale = self.sales.get(event_id)
        if sale is not None:  # taking out a sale: it is no longer credited, if it was
            return self._credit_change(sale, -1) if self._credited(sale) else set()
        sale = self.cancellations.get(event_id)
        if sale is not None:  # undoing its cancellation: credited again, if it had been undone
            return set() if self._credited(sale) else self._credit_change(sale, +1)
        facts = without_event(self.facts, event_id)
        after = {
            **{k: v for k, v in self.lines.items() if k[0] == "commission"},
            ("bonus", None): _bonus_amount(self.plan, facts, self.credited_total),
        }
        after.update(_amounts(fine_lines(self.plan, facts.cases)))
        after.update(_amounts(adjustment_lines(facts)))
        return _moved(self.lines, after)

    def _credited(self, sale: SaleFact) -> bool:
        """Whether ``sale`` counts in the credited total (not clawed back)."""
        return bool(credited_sales(self.plan, (sale,)).by_sale)


def later_causes(
    plan: Plan, facts: PeriodFacts, candidates: Sequence[str]
) -> dict[str, frozenset[LineKey]]:
    """SPEC §4: of ``candidates`` (events recorded after a paid statement was
    computed), those whose removal from the period's replay would change a
    line's amount, each with the lines (kind, subject) it changes, in the order
    given. ``facts`` are the period's own (no carried balance, no corrections)."""
    with localcontext(CALC):
        period = _Period(plan, facts)
        causes: dict[str, frozenset[LineKey]] = {}
        for event_id in candidates:
            moved = period.changed_without(event_id)
            if moved:
                causes[event_id] = frozenset(moved)
        return causes
