"""Corrections of paid periods and carried balances (SPEC §3, rules 7 and 8)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from policies.currency import convert_balance
from policies.explanation import Line, money, step
from policies.facts import CarriedBalanceFact, CorrectionFact, LineChange

__all__ = [
    "ONE_PER_PERIOD",
    "SUBJECT_KEYS",
    "carried_balance_line",
    "correction_line",
    "diff_lines",
    "line_key",
    "line_subject",
]

# The step values that name what a line is about (`line_subject`).
SUBJECT_KEYS = ("case_id", "adjustment_id", "paid_period", "from_period", "spiff_id", "level")


# Kinds a period has one line of: the same line whatever its steps mention.
ONE_PER_PERIOD = frozenset({"commission", "bonus"})


def line_subject(line: Line) -> str | None:
    """What distinguishes lines of the same kind (the case, adjustment, period).

    A period has one commission and one bonus line: their subject is None, even
    when a step names a case (a bonus less a minor case's points is still the
    bonus; keyed by the case, a case overturned would look like one bonus line
    gone and another come)."""
    if line.kind in ONE_PER_PERIOD:
        return None
    for s in line.steps:
        for key in SUBJECT_KEYS:
            if key in s.values:
                return f"{key}={s.values[key]}"
    return None


def line_key(line: Line) -> tuple[str, str | None]:
    """A line's identity across two computations: its kind and subject."""
    return line.kind, line_subject(line)


def diff_lines(before: Sequence[Line], after: Sequence[Line]) -> tuple[LineChange, ...]:
    """The lines whose amount moved between two computations, matched by kind
    and subject (SPEC §4: a line whose amount did not change is not listed),
    each with the events it gained or lost."""
    old = {line_key(x): x for x in before}
    new = {line_key(x): x for x in after}
    changes = []
    for key in sorted(set(old) | set(new), key=lambda k: (k[0], k[1] or "")):
        a, b = old.get(key), new.get(key)
        amount_a = a.amount if a else Decimal(0)
        amount_b = b.amount if b else Decimal(0)
        if amount_a == amount_b:
            continue
        ids_a = a.event_ids if a else ()
        ids_b = b.event_ids if b else ()
        moved = (*(e for e in ids_b if e not in ids_a), *(e for e in ids_a if e not in ids_b))
        changes.append(LineChange(key[0], amount_a, amount_b, moved, key[1]))
    return tuple(changes)


def correction_line(fact: CorrectionFact) -> Line:
    """Rule 7: a paid period is locked; the difference between its replay now and
    what was paid is booked here, explained by the diff of the two: a step per
    line whose amount changed, with the later events that changed it."""
    difference = fact.replay_total - fact.paid_total - fact.corrected_before
    again = {"corrected_before": money(fact.corrected_before)} if fact.corrected_before else {}
    steps = [
        step(
            "correction_again" if again else "correction",
            fact.event_ids,
            paid_period=fact.paid_period,
            run_id=fact.run_id,
            paid_total=money(fact.paid_total),
            replay_total=money(fact.replay_total),
            difference=money(difference),
            **again,
        )
    ]
    steps.extend(
        step(
            "correction_change",
            c.event_ids,
            kind=c.kind,
            subject=c.subject,
            before=money(c.before),
            after=money(c.after),
            change=money(c.after - c.before),
        )
        for c in fact.changed_lines
    )
    if fact.fx is not None:  # paid in another currency (SPEC §3.1: converted, as a sale is)
        difference, shown = convert_balance(difference, fact.fx, what="correction")
        steps.append(shown)
    return Line.of("correction", difference, steps)


def carried_balance_line(fact: CarriedBalanceFact) -> Line:
    """Rule 8: a negative total is carried into the rep's next period
    (converted when that period is paid in another currency)."""
    steps = [
        step(
            "carried_balance",
            fact.event_ids,
            from_period=fact.from_period,
            amount=money(fact.amount),
        )
    ]
    amount = fact.amount
    if fact.fx is not None:
        amount, shown = convert_balance(amount, fact.fx, what="carried_balance")
        steps.append(shown)
    return Line.of("carried_balance", amount, steps)
