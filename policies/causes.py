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

Taking out a sale or a cancellation changes only what rests on the credited
sales, so `later_causes` works those lines out from the period's totals: the
commission at base rates, each SPIFF and each override level are rounded sums
of exact Decimal parts (the sum without one sale is the total less its part);
under tiers, caps or a gate the commission, cap and gate amounts are worked
out again from the credited sales, without explanations; the bonus follows
the credited total. Other events change no sale, so those lines stand and the
bonus, fines and adjustments are worked out again (a target under shapes: the
whole period). A period whose lines are releases of other periods' earnings
(pay on collection) is worked out again whole (`models`). `changed_without`
does the whole recomputation, the definition itself, for the tests to hold
the two to.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any, TypeVar

from policies.bands import band_bounds, band_of, band_rate, marginal_parts
from policies.calculate import adjustment_lines, bonus_proration, calculate_period
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
from policies.overrides import TeamSale
from policies.plan import Plan
from policies.rounding import CALC, round_money
from policies.shapes import SALES_KPI, uses_commission_shapes
from policies.spiffs import qualifies, spiff_of_sale
from policies.tiers import bonus_line, effective_target

__all__ = [
    "LineKey",
    "amounts_without",
    "changed_without",
    "fact_event_ids",
    "later_causes",
    "models",
    "without_event",
]

LineKey = tuple[str, str | None]  # a line's kind and subject (`line_key`)
_OWN_KINDS = frozenset(
    {"commission", "bonus", "fine", "adjustment", "spiff", "cap", "gate", "override"}
)
_PENDING = Decision(status="pending")
# the lines an event that moves no sale may move (`_Period.changed_without`)
_NOT_OF_SALES = frozenset({"bonus", "fine", "adjustment"})

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


def models(plan: Plan, facts: PeriodFacts) -> bool:
    """Whether `later_causes` works the period out from its totals: paid on
    booking, with no releases of earlier periods (what those release rests
    on other periods' facts). Other periods are worked out again whole, once
    per candidate (`changed_without`)."""
    return plan.commission.basis == "booking" and not facts.releases


def _shaped_amounts(
    plan: Plan,
    by_sale: Sequence[tuple[SaleFact, Decimal]],
    credited_total: Decimal,
    target: TargetFact | None,
) -> dict[LineKey, Decimal]:
    """The amounts of the commission, ``cap`` and ``gate`` lines under SPEC
    §3.1's shapes (`policies.shapes.shaped_commission_lines`) of the credited
    sales ``by_sale`` (in business order), without their explanations: 0 for
    a line the period does not have."""
    c = plan.commission
    tiers = c.tiers
    bounds = band_bounds(tiers, target.value if target else None) if tiers else None
    reached = band_of(bounds, credited_total) if bounds is not None else 0
    retroactive = tiers is not None and tiers.method == "retroactive"
    multiply, add = CALC.multiply, CALC.add
    rates: dict[tuple[str | None, int], Decimal] = {}
    gross = running = Decimal(0)
    for sale, credit in by_sale:
        if bounds is None or tiers is None:  # no bands apply: the category rate
            amount = multiply(credit, sale_rate(plan, sale.category)[0])
        else:
            parts = [(reached, credit)] if retroactive else marginal_parts(running, credit, bounds)
            running = add(running, credit)
            amount = Decimal(0)
            for index, part in parts:
                rate = rates.get((sale.category, index))
                if rate is None:
                    base_rate = sale_rate(plan, sale.category)[0]
                    rate = rates[sale.category, index] = band_rate(tiers.bands[index], base_rate)
                amount = add(amount, multiply(part, rate))
        if c.per_sale_cap is not None and amount > c.per_sale_cap:
            amount = c.per_sale_cap
        gross = add(gross, amount)
    commission = round_money(gross)
    cap = Decimal(0)
    if c.period_cap is not None and commission > c.period_cap:
        cap = round_money(c.period_cap - commission)
    gate = Decimal(0)
    if (
        c.gate is not None
        and target is not None
        and Fraction(credited_total) / Fraction(target.value) < Fraction(c.gate)
    ):
        gate = round_money(-(commission + cap))
    return {("commission", None): commission, ("cap", None): cap, ("gate", None): gate}


class _Period:
    """One period's totals, to work out cheaply what taking out one event moves.

    Linear in its sales, each line rounded once: the commission at base rates
    (each credited sale's credit × its rate), each SPIFF (each qualifying
    sale's), each override level (each team sale's credit at the level); the
    bonus follows the credited total. Sums of exact Decimals, so the sum
    without one sale is the total less that sale's part. Under SPEC §3.1's
    commission shapes (tiers, caps, gate: one sale's commission depends on
    the others) the commission, cap and gate lines are worked out again from
    the credited sales, amounts alone (`_shaped_amounts`), and taking out a
    target or its approval works the whole period out again."""

    def __init__(self, plan: Plan, facts: PeriodFacts) -> None:
        self.plan, self.facts = plan, facts
        self.proration = bonus_proration(plan, facts)
        credited = credited_sales(plan, facts.sales)
        self.credited_total = credited.total
        self.credited = credited.by_sale
        self.shaped = uses_commission_shapes(plan)
        self.target = effective_target(facts.targets, SALES_KPI)
        self.target_ids = {e for t in facts.targets for e in (t.event_id, t.decision.event_id)}
        self.commission_total = sum(
            (credit * sale_rate(plan, sale.category)[0] for sale, credit in credited.by_sale),
            Decimal(0),
        )
        self.spiffs = {spiff.id: Decimal(0) for spiff in plan.spiffs}
        for sale, credit in credited.by_sale:
            for spiff_id, earned in self._spiffs_of(sale, credit):
                self.spiffs[spiff_id] += earned
        self.levels: dict[int, Decimal] = {}
        for team_sale in facts.team_sales:
            level = self._level_of(team_sale)
            if level is not None:
                self.levels[level] = self.levels.get(level, Decimal(0)) + team_sale.credited
        self.lines = _amounts(calculate_period(plan, facts).lines)
        self.sales = {s.event_id: s for s in facts.sales}
        self.cancellations = {s.cancellation.event_id: s for s in facts.sales if s.cancellation}
        self.team_sales: dict[str, list[TeamSale]] = {}
        for team_sale in facts.team_sales:
            self.team_sales.setdefault(team_sale.event_id, []).append(team_sale)
        self.team_restored: dict[str, list[TeamSale]] = {}
        for team_sale, cancellation in facts.team_clawed_back:
            self.team_restored.setdefault(cancellation, []).append(team_sale)

    def _spiffs_of(self, sale: SaleFact, credit: Decimal) -> list[tuple[str, Decimal]]:
        return [
            (spiff.id, spiff_of_sale(spiff, sale, credit)[0])
            for spiff in self.plan.spiffs
            if qualifies(spiff, sale, credit)
        ]

    def _level_of(self, sale: TeamSale) -> int | None:
        """The override level ``sale`` counts at for the manager (None: none)."""
        override, reporting = self.plan.override, self.facts.reporting
        if override is None or reporting is None:
            return None
        found = reporting.level_of(self.facts.rep_id, sale.rep_id, sale.occurred_at)
        if found is None or found[0] > len(override.rates):
            return None
        return found[0]

    def _credit_change(self, sale: SaleFact, sign: int, after: dict[LineKey, Decimal]) -> None:
        """What crediting (+1) or no longer crediting (-1) ``sale`` makes of the lines."""
        credit = sale.amount * sale.share
        total = self.credited_total + sign * credit
        if self.shaped:
            if sign < 0:
                by_sale = [x for x in self.credited if x[0].event_id != sale.event_id]
            else:
                by_sale = list(self.credited)
                insort(by_sale, (sale, credit), key=_business_order)
            after.update(_shaped_amounts(self.plan, by_sale, total, self.target))
        else:
            after["commission", None] = round_money(
                self.commission_total + sign * credit * sale_rate(self.plan, sale.category)[0]
            )
        spiffs = dict(self.spiffs)
        for spiff_id, earned in self._spiffs_of(sale, credit):
            spiffs[spiff_id] += sign * earned
            after["spiff", f"spiff_id={spiff_id}"] = round_money(spiffs[spiff_id])
        after["bonus", None] = bonus_line(
            self.plan, self.facts, credited_total=total, proration=self.proration
        ).line.amount

    def _team_change(
        self, sales: Sequence[TeamSale], sign: int, after: dict[LineKey, Decimal]
    ) -> None:
        """What counting (+1) or no longer counting (-1) team ``sales`` makes of
        the override lines."""
        override = self.plan.override
        levels = dict(self.levels)
        for sale in sales:
            level = self._level_of(sale)
            if level is None or override is None:
                continue
            levels[level] = levels.get(level, Decimal(0)) + sign * sale.credited
            rate = override.rates[level - 1]
            after["override", f"level={level}"] = round_money(CALC.multiply(levels[level], rate))

    def changed_without(self, event_id: str) -> set[LineKey]:
        return _moved(self.lines, self.amounts_without(event_id))

    def amounts_without(self, event_id: str) -> dict[LineKey, Decimal]:
        """The amounts of the period's own lines without ``event_id``."""
        if event_id == self.facts.left_event_id:  # rare: the period worked out again
            left_out = without_event(self.facts, event_id)
            return _amounts(calculate_period(self.plan, left_out).lines)
        after = dict(self.lines)
        sale = self.sales.get(event_id)
        cancelled = self.cancellations.get(event_id)
        team = self.team_sales.get(event_id, ())
        restored = self.team_restored.get(event_id, ())
        if sale is not None and self._credited(sale):  # taken out: no longer credited
            self._credit_change(sale, -1, after)
        if cancelled is not None and not self._credited(cancelled):  # credited again
            self._credit_change(cancelled, +1, after)
        self._team_change(team, -1, after)
        self._team_change(restored, +1, after)
        if self.shaped and event_id in self.target_ids:  # bands and gate: worked out again
            left_out = without_event(self.facts, event_id)
            return _amounts(calculate_period(self.plan, left_out).lines)
        if sale is None and cancelled is None and not team and not restored:
            # no sale moves: the bonus, fines and adjustments are worked out again
            facts = without_event(self.facts, event_id)
            after = {k: v for k, v in after.items() if k[0] not in _NOT_OF_SALES}
            after["bonus", None] = bonus_line(
                self.plan, facts, credited_total=self.credited_total, proration=self.proration
            ).line.amount
            after.update(_amounts(fine_lines(self.plan, facts.cases)))
            after.update(_amounts(adjustment_lines(facts)))
        return after

    def _credited(self, sale: SaleFact) -> bool:
        """Whether ``sale`` counts in the credited total (not clawed back)."""
        return bool(credited_sales(self.plan, (sale,)).by_sale)


def amounts_without(
    plan: Plan, facts: PeriodFacts, candidates: Sequence[str]
) -> dict[str, dict[LineKey, Decimal]]:
    """The amounts of the period's own lines (kind, subject) without each of
    ``candidates``, from the period's totals (`models` must hold: what
    `later_causes` works out faster), in the order given."""
    assert models(plan, facts)
    with localcontext(CALC):
        period = _Period(plan, facts)
        return {event_id: period.amounts_without(event_id) for event_id in candidates}


def _business_order(credited: tuple[SaleFact, Decimal]) -> tuple[datetime, int]:
    return credited[0].occurred_at, credited[0].position


def later_causes(
    plan: Plan, facts: PeriodFacts, candidates: Sequence[str]
) -> dict[str, frozenset[LineKey]]:
    """SPEC §4: of ``candidates`` (events recorded after a paid statement was
    computed), those whose removal from the period's replay would change a
    line's amount, each with the lines (kind, subject) it changes, in the order
    given. ``facts`` are the period's own (no carried balance, no corrections).
    From the period's totals when the plan allows (`models`), else the period
    worked out again without each (`changed_without`)."""
    with localcontext(CALC):
        causes: dict[str, frozenset[LineKey]] = {}
        if models(plan, facts):
            period = _Period(plan, facts)
            for event_id in candidates:
                moved = period.changed_without(event_id)
                if moved:
                    causes[event_id] = frozenset(moved)
            return causes
        full = _amounts(calculate_period(plan, facts).lines)
        for event_id in candidates:
            without = calculate_period(plan, without_event(facts, event_id)).lines
            moved = _moved(full, _amounts(without))
            if moved:
                causes[event_id] = frozenset(moved)
        return causes
