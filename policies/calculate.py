"""One rep's payout for one period (SPEC §3): the entry point of the policies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext
from fractions import Fraction

from policies.collection import Release, release
from policies.commission import SaleSteps, commission_line, credited_sales, sale_rate
from policies.corrections import carried_balance_line, correction_line
from policies.currency import convert_balance
from policies.discipline import fine_lines
from policies.draws import DrawResult, draw_lines
from policies.explanation import Line, Step, recorded, step
from policies.facts import PendingItem, PeriodFacts, ReleaseFact, SaleFact
from policies.overrides import override_lines
from policies.pay_warnings import PayWarning, period_warnings
from policies.plan import Plan
from policies.proration import Proration, proration
from policies.rounding import CALC, round_money
from policies.shapes import (
    SALES_KPI,
    commission_by_sale,
    shaped_commission_lines,
    uses_commission_shapes,
)
from policies.spiffs import qualifies, spiff_lines, spiff_of_sale
from policies.tiers import bonus_line, effective_target

__all__ = [
    "CollectionPeriod",
    "PeriodResult",
    "ReleaseSums",
    "adjustment_lines",
    "bonus_proration",
    "calculate_period",
    "earned_alone",
    "earned_by_sale",
]


@dataclass(frozen=True)
class PeriodResult:
    lines: tuple[Line, ...]
    attainment: Fraction | None  # exact (SPEC §3); shown to 4 places
    score: Fraction | None
    tier_coefficient: Decimal | None
    total: Decimal
    payable: Decimal
    pending: tuple[PendingItem, ...]
    carry_out: Decimal
    warnings: tuple[PayWarning, ...] = ()  # probable typos that change pay
    # SPEC §3.1 draws: the recoverable balance before and after the period
    # (None: the plan has no draw)
    draw_balance_before: Decimal | None = None
    draw_balance_after: Decimal | None = None
    # SPEC §3.1 pay on collection: earned in the period, not released yet
    # (None: the plan pays on booking)
    unreleased: Decimal | None = None


def adjustment_lines(facts: PeriodFacts) -> list[Line]:
    """Rule 6: approved adjustments for the period, one signed line each."""
    lines = []
    for a in sorted(facts.adjustments, key=lambda a: (a.occurred_at, a.position)):
        if a.decision.status != "approved":
            continue
        lines.append(
            Line.of(
                "adjustment",
                a.amount,
                [
                    step(
                        "adjustment_approved",
                        (a.event_id, a.decision.event_id),
                        adjustment_id=a.adjustment_id,
                        reason=a.reason,
                        amount=recorded(a.amount),
                        approved_by=a.decision.actor,
                        dispute_id=a.dispute_id,
                    )
                ],
            )
        )
    return lines


def _pending(facts: PeriodFacts) -> tuple[PendingItem, ...]:
    items = [
        *(
            (t.position, PendingItem("target", t.target_id, t.event_id))
            for t in facts.targets
            if t.decision.status == "pending"
        ),
        *(
            (c.position, PendingItem("case", c.case_id, c.event_id))
            for c in facts.cases
            if c.decision.status == "pending" and c.overturned_by is None
        ),
        *(
            (a.position, PendingItem("adjustment", a.adjustment_id, a.event_id))
            for a in facts.adjustments
            if a.decision.status == "pending"
        ),
    ]
    return (
        *(item for _, item in sorted(items, key=lambda p: p[0])),
        *facts.unconverted,
        *_balances_waiting(facts),
    )


def _balances_waiting(facts: PeriodFacts) -> list[PendingItem]:
    """A correction, a carried balance or a draw balance from a period paid in
    another currency, with no rate for the pair yet: pending, counted once one
    is (each named by the last event it rests on)."""
    waiting = [
        PendingItem("correction", c.paid_period, _last(c.event_ids), c.fx.pair)
        for c in facts.corrections
        if c.fx is not None and c.fx.rate is None
    ]
    drawn, carried = facts.draw_carried, facts.carried_in
    if drawn is not None and drawn.fx.rate is None:
        waiting.append(PendingItem("draw_balance", str(facts.period.previous()), "", drawn.fx.pair))
    if carried is not None and carried.fx is not None and carried.fx.rate is None:
        last = _last(carried.event_ids)
        waiting.append(PendingItem("carried_balance", carried.from_period, last, carried.fx.pair))
    return waiting


def _last(event_ids: Sequence[str]) -> str:
    return event_ids[-1] if event_ids else ""


def calculate_period(
    plan: Plan, facts: PeriodFacts, known: SaleSteps | None = None
) -> PeriodResult:
    """Rule 8: total = commission + bonus − fines + adjustments + corrections +
    carried balance, each line rounded first; payable = the total when positive;
    a negative total is carried into the next period. ``known``: see
    `policies.commission.commission_line`."""
    assert plan.period == facts.period.kind, "the plan pays by this kind of period"
    with localcontext(CALC):
        credited = credited_sales(plan, facts.sales)
        bonus = bonus_line(
            plan, facts, credited_total=credited.total, proration=bonus_proration(plan, facts)
        )
        if uses_commission_shapes(plan):
            lines = shaped_commission_lines(
                plan, credited, effective_target(facts.targets, SALES_KPI), facts.plan_event_id
            )
        else:
            lines = [commission_line(plan, credited, facts.plan_event_id, known)]
        lines += spiff_lines(plan, credited, facts.plan_event_id)
        unreleased = None
        if plan.commission.basis == "collection":
            # exact less exact, rounded once: the rounded lines less the exact
            # releases left a fully paid sale "-0.01" unreleased
            earned = sum((line.unrounded for line in lines), Decimal(0))
            unreleased = round_money(
                CALC.subtract(earned, sum(_released(facts.booked_releases), Decimal(0)))
            )
            if unreleased.is_zero():
                unreleased = unreleased.copy_abs()  # never "-0.00"
            lines = release_lines(facts.releases, facts.plan_event_id)
        elif facts.releases:  # a collection plan's sales paid after a move to booking
            lines = _with_late_releases(lines, release_lines(facts.releases, facts.plan_event_id))
        lines.append(bonus.line)
        lines += _override_lines(plan, facts)
        lines += fine_lines(plan, facts.cases)
        lines += adjustment_lines(facts)
        lines += [correction_line(c) for c in facts.corrections if not c.waiting]
        if facts.carried_in is not None and not facts.carried_in.waiting:
            lines.append(carried_balance_line(facts.carried_in))
        total = sum((line.amount for line in lines), Decimal(0))
        drawn = _draw(plan, facts, total)
        if drawn is not None:
            lines += drawn.lines
            total = sum((line.amount for line in lines), Decimal(0))
    return PeriodResult(
        lines=tuple(lines),
        attainment=bonus.attainment,
        score=bonus.score,
        tier_coefficient=bonus.tier_coefficient,
        total=total,
        payable=total if total > 0 else Decimal("0.00"),
        pending=_pending(facts),
        carry_out=total if total < 0 else Decimal("0.00"),
        warnings=period_warnings(plan, facts),
        draw_balance_before=drawn.balance_before if drawn is not None else None,
        draw_balance_after=drawn.balance_after if drawn is not None else None,
        unreleased=unreleased,
    )


def earned_by_sale(plan: Plan, facts: PeriodFacts) -> dict[str, tuple[Decimal, Decimal]]:
    """SPEC §3.1 pay on collection: what each credited sale of a booking period
    earned — its commission (rates, tiers and caps decided in that period, the
    period cap and the gate shared out) and its SPIFFs — unrounded. A sale
    cancelled within the clawback window was never credited: it is absent."""
    with localcontext(CALC):
        credited = credited_sales(plan, facts.sales)
        if uses_commission_shapes(plan):
            target = effective_target(facts.targets, SALES_KPI)
            commission = commission_by_sale(plan, credited, target)
        else:
            commission = {}
            for sale, credit in credited.by_sale:
                rate, _ = sale_rate(plan, sale.category)
                before = commission.get(sale.sale_id, Decimal(0))
                commission[sale.sale_id] = CALC.add(before, CALC.multiply(credit, rate))
        spiffs: dict[str, Decimal] = {}
        for spiff in plan.spiffs:
            for sale, credit in credited.by_sale:
                if qualifies(spiff, sale, credit):
                    earned, _ = spiff_of_sale(spiff, sale, credit)
                    spiffs[sale.sale_id] = CALC.add(spiffs.get(sale.sale_id, Decimal(0)), earned)
    zero = Decimal(0)
    return {
        sale_id: (commission.get(sale_id, zero), spiffs.get(sale_id, zero))
        for sale_id in sorted(commission.keys() | spiffs.keys())
    }


def earned_alone(plan: Plan, sale: SaleFact) -> tuple[Decimal, Decimal] | None:
    """What `earned_by_sale` gives ``sale`` once credited (not taken back),
    worked out from the sale alone: its credit at its category's rate and its
    SPIFFs, the same exact Decimals. None under SPEC §3.1's commission shapes
    (tiers, caps, a gate), where a sale's commission rests on the others."""
    if uses_commission_shapes(plan):
        return None
    with localcontext(CALC):
        credit = CALC.multiply(sale.amount, sale.share)
        rate, _ = sale_rate(plan, sale.category)
        commission = CALC.add(Decimal(0), CALC.multiply(credit, rate))
        spiff = Decimal(0)
        for found in plan.spiffs:
            if qualifies(found, sale, credit):
                earned, _ = spiff_of_sale(found, sale, credit)
                spiff = CALC.add(spiff, earned)
    return commission, spiff


@dataclass(frozen=True)
class CollectionPeriod:
    """SPEC §3.1 pay on collection: a period as it stands — its ``lines``, its
    release sums (``released``), its credited total — to work out its lines
    with one of its own sales credited again or never recorded, from that sale
    alone: the release sums plus or less its payments' parts, the bonus on the
    credited total plus or less its credit. The other lines rest on no sale of
    the rep's — but an override on a sale the rep, a manager, split with a
    report: such a sale is not weighed here. For a plan whose sale's
    commission rests on no other sale (no tiers, caps or gate: `earned_alone`)
    and no draw (its lines follow the total)."""

    plan: Plan
    facts: PeriodFacts
    lines: Sequence[Line]
    released: ReleaseSums
    credited_total: Decimal

    def with_sale(self, sale: SaleFact, releases: Sequence[ReleaseFact]) -> list[Line] | None:
        """The lines had ``sale``, taken back within the clawback window, been
        credited: ``releases``, its payments received in the period releasing
        what it earns alone. None when that brings a line the period has not
        got (a SPIFF's)."""
        amounts = self.released.adding(releases)
        if amounts is None:
            return None
        credit = CALC.multiply(sale.amount, sale.share)
        return self._lines(amounts, CALC.add(self.credited_total, credit))

    def with_releases(self, releases: Sequence[ReleaseFact]) -> list[Line] | None:
        """The lines had ``releases`` — of a sale booked in another period,
        credited there again — been received too; no sale of the period's own
        moves (its credited total stands). None when that brings a line the
        period has not got (a SPIFF's)."""
        amounts = self.released.adding(releases)
        return None if amounts is None else self._lines(amounts, self.credited_total)

    def without_sale(self, sale: SaleFact, payments: Sequence[str]) -> list[Line] | None:
        """The lines had ``sale``, credited, never been recorded: ``payments``,
        the event ids of its payments received in the period. None when one is
        not among the release sums' parts."""
        if any(p not in self.released.parts for p in payments):
            return None
        credit = CALC.multiply(sale.amount, sale.share)
        amounts = self.released.without(*payments)
        return self._lines(amounts, CALC.subtract(self.credited_total, credit))

    def _lines(self, amounts: dict[str, Decimal], credited_total: Decimal) -> list[Line]:
        """The lines with the release sums at ``amounts`` (`release_lines`'
        unrounded commission, and SPIFF while a payment of a sale that earned
        one remains) and the bonus on ``credited_total``."""
        plan, facts = self.plan, self.facts
        with localcontext(CALC):
            bonus = bonus_line(
                plan, facts, credited_total=credited_total, proration=bonus_proration(plan, facts)
            )
        return [
            bonus.line
            if x.kind == "bonus"
            else replace(x, amount=round_money(amounts[x.kind]), exact=amounts[x.kind])
            if x.kind in amounts
            else x
            for x in self.lines
            if x.kind != "spiff" or "spiff" in amounts
        ]


def _release_of(r: ReleaseFact, paid_before: Decimal | None = None) -> Release:
    """What the payment of ``r`` releases (`policies.collection.release`), in
    the currency of the period it is released into; ``paid_before``: as if
    the sale's payments before it had paid that."""
    before = r.paid_before if paid_before is None else paid_before
    return release(
        r.payment,
        r.sale_amount,
        r.commission,
        r.spiff,
        before,
        fx=r.fx,
        sale_event_id=r.sale_event_id,
    )


def _released(releases: Sequence[ReleaseFact]) -> list[Decimal]:
    out = []
    for r in releases:
        found = _release_of(r)
        out.append(CALC.add(found.share_commission, found.share_spiff))
    return out


def release_lines(releases: Sequence[ReleaseFact], plan_event_id: str | None) -> list[Line]:
    """SPEC §3.1 pay on collection: the period's ``commission`` line is what the
    payments received in it release of their sales' commission (payment ÷ sale
    amount × what the sale earned in its booking period), a step per payment
    (followed by its sale's conversion into the plan's currency, when it was
    converted); a ``spiff`` line likewise when a released sale earned a SPIFF."""
    commission_steps: list[Step] = []
    spiff_steps: list[Step] = []
    commission = spiff = Decimal(0)
    for r in sorted(releases, key=lambda r: (r.payment.occurred_at, r.payment.position)):
        found = _release_of(r)
        commission = CALC.add(commission, found.commission)
        # the sale's conversion at booking: what it earned rests on that rate
        booked = (found.step,) if r.sale_fx is None else (found.step, r.sale_fx)
        commission_steps += booked
        if found.commission_fx is not None:
            commission_steps.append(found.commission_fx)
        if r.spiff:
            spiff = CALC.add(spiff, found.spiff)
            spiff_steps += booked
            if found.spiff_fx is not None:
                spiff_steps.append(found.spiff_fx)
    commission_steps.append(
        step(
            "collection_total",
            (plan_event_id,),
            payments=len(releases),
            amount=commission,
        )
    )
    lines = [Line.of("commission", commission, commission_steps)]
    if spiff_steps:
        lines.append(Line.of("spiff", spiff, spiff_steps))
    return lines


@dataclass(frozen=True)
class ReleaseSums:
    """`release_lines`' sums, unrounded, and each payment's part of them."""

    commission: Decimal
    spiff: Decimal
    # payment event id -> its parts (commission; SPIFF, None when its sale
    # earned none: no step on that line)
    parts: dict[str, tuple[Decimal, Decimal | None]]
    spiffs: int  # payments with a SPIFF part
    # the releases summed: a payment's part rests on those of its sale before it
    releases: tuple[ReleaseFact, ...] = ()

    @classmethod
    def of(cls, releases: Sequence[ReleaseFact]) -> ReleaseSums:
        commission = spiff = Decimal(0)
        parts: dict[str, tuple[Decimal, Decimal | None]] = {}
        for r in releases:
            found = _release_of(r)
            commission = CALC.add(commission, found.commission)
            if r.spiff:
                spiff = CALC.add(spiff, found.spiff)
            parts[r.payment.event_id] = (found.commission, found.spiff if r.spiff else None)
        spiffs = sum(1 for _, s in parts.values() if s is not None)
        return cls(commission, spiff, parts, spiffs, tuple(releases))

    def without(self, *event_ids: str) -> dict[str, Decimal]:
        """The unrounded amounts of `release_lines`' lines had the payments
        ``event_ids`` (of ``parts``) not been received: ``commission``
        always, ``spiff`` while a payment of a sale that earned one remains.
        The sums less their parts: `CALC` adds exactly (it traps an inexact
        result), so that is what adding up the others gives — with the parts
        of a later payment of the same sale released again without what the
        payments taken out paid before it (a part is the sale's release so
        far, to the cent, less what was released before)."""
        commission, spiff, spiffs = self.commission, self.spiff, self.spiffs
        for event_id in event_ids:
            commission_part, spiff_part = self.parts[event_id]
            commission = CALC.subtract(commission, commission_part)
            if spiff_part is not None:
                spiff, spiffs = CALC.subtract(spiff, spiff_part), spiffs - 1
        for r, earlier in _paid_before_by(self.releases, event_ids):
            commission_part, spiff_part = self.parts[r.payment.event_id]
            paid_before = CALC.subtract(r.paid_before, earlier)
            again = _release_of(r, paid_before)
            commission = CALC.add(commission, CALC.subtract(again.commission, commission_part))
            if spiff_part is not None:
                spiff = CALC.add(spiff, CALC.subtract(again.spiff, spiff_part))
        return {"commission": commission} | ({"spiff": spiff} if spiffs else {})

    def adding(self, releases: Sequence[ReleaseFact]) -> dict[str, Decimal] | None:
        """The unrounded amounts of `release_lines`' lines had ``releases`` been
        received too (the payments of a sale credited again): the sums plus
        their parts, exactly. None when they bring a ``spiff`` line the period
        has not got (its steps are worked out whole)."""
        commission, spiff, spiffs = self.commission, self.spiff, self.spiffs
        for r in releases:
            found = _release_of(r)
            commission = CALC.add(commission, found.commission)
            if r.spiff:
                spiff, spiffs = CALC.add(spiff, found.spiff), spiffs + 1
        if spiffs and not self.spiffs:
            return None
        return {"commission": commission} | ({"spiff": spiff} if spiffs else {})


def _paid_before_by(
    releases: Sequence[ReleaseFact], event_ids: Sequence[str]
) -> list[tuple[ReleaseFact, Decimal]]:
    """Each release left when the payments ``event_ids`` are taken out whose
    sale they paid before it, with what they paid before it."""
    gone = [r.payment for r in releases if r.payment.event_id in event_ids]
    if not gone:
        return []
    found = []
    for r in releases:
        p = r.payment
        if p.event_id in event_ids:
            continue
        moment = (p.occurred_at, p.position)
        earlier = sum(
            (
                g.amount
                for g in gone
                if g.sale_id == p.sale_id and (g.occurred_at, g.position) < moment
            ),
            Decimal(0),
        )
        if earlier:
            found.append((r, earlier))
    return found


def _with_late_releases(lines: list[Line], released: list[Line]) -> list[Line]:
    """A booking period's commission and SPIFF lines, each with what payments
    received in the period release of sales booked earlier under a collection
    plan added: one line of a kind, rounded once (a release's steps after the
    booked sales' steps)."""
    out = list(lines)
    for extra in released:
        at = next((i for i, line in enumerate(out) if line.kind == extra.kind), None)
        if at is None:
            out.append(extra)
            continue
        booked = out[at]
        steps = [s for s in (*booked.steps, *extra.steps) if s.code != "rounded"]
        out[at] = Line.of(booked.kind, booked.unrounded + extra.unrounded, steps)
    return out


def bonus_proration(plan: Plan, facts: PeriodFacts) -> Proration | None:
    """SPEC §3.1 ``prorate``: the rep's enrolled days of the period."""
    if not plan.bonus.prorate or facts.enrolled_on is None:
        return None
    return proration(facts.period, facts.enrolled_on, facts.left_on)


def _override_lines(plan: Plan, facts: PeriodFacts) -> list[Line]:
    """SPEC §3.1 overrides: a manager's share of their reports' credited sales."""
    if plan.override is None or facts.reporting is None:
        return []
    # a manager who left earns on no sale made after: not among their team's
    # sales (`projections.statement`)
    return override_lines(
        facts.rep_id, plan.override, facts.team_sales, facts.reporting, facts.plan_event_id
    )


def _draw(plan: Plan, facts: PeriodFacts, earned: Decimal) -> DrawResult | None:
    """SPEC §3.1 draws, on the total before the draw (E)."""
    if plan.draw is None:
        return None
    first = facts.first_period or facts.period
    drawn = draw_lines(
        plan.draw,
        facts.period,
        (first, facts.left_on),
        earned,
        facts.draw_balance_in,
        plan_event_id=facts.plan_event_id,
    )
    conversions = [
        c
        for c in (*facts.draw_converted_before, facts.draw_carried)
        if c is not None and c.fx.rate is not None
    ]
    if not conversions or not drawn.lines:
        return drawn
    # the balance came in from a period paid in another currency — this one's
    # predecessor, or one before it that showed the balance on no line: the
    # first draw line, which shows the balance, shows each conversion
    shown = [convert_balance(c.balance, c.fx, what="draw_balance")[1] for c in conversions]
    first_line, *rest = drawn.lines
    steps = (*shown, *first_line.steps)
    ids = tuple(dict.fromkeys((*(e for s in shown for e in s.event_ids), *first_line.event_ids)))
    return replace(drawn, lines=(replace(first_line, steps=steps, event_ids=ids), *rest))
