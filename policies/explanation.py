"""Explanations as data: each line of a statement carries the steps of its
arithmetic — a stable step code, its numbers and the event ids it rests on. The
words are rendered separately (`policies.wording`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal, NamedTuple

from policies.rounding import Ratio, money_text, number_text, ratio_text, round_money

__all__ = ["Line", "LineKind", "Step", "money", "ratio", "recorded", "step"]

LineKind = Literal[
    "commission",
    "bonus",
    "fine",
    "adjustment",
    "correction",
    "carried_balance",
    # SPEC §3.1
    "spiff",
    "gate",
    "cap",
    "draw",
    "draw_recovery",
    "override",
]


class Step(NamedTuple):
    """One step of a line's arithmetic (a named tuple, not a frozen dataclass: a
    statement makes one per sale, and it is three times cheaper to make)."""

    code: str
    values: Mapping[str, str]
    event_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "values": dict(self.values),  # key order is settled where bytes are made
            "event_ids": list(self.event_ids),
        }


def money(value: Decimal) -> str:
    """Money in a step: always two decimals."""
    return money_text(value)


def recorded(value: Decimal) -> str:
    """Money as an event recorded it (a sale's, a payment's, an adjustment's, a
    case's), quoted in a step: two decimals like `money`, unless the event holds
    more (a KWD or BHD amount's third) — a fact is quoted, never rounded."""
    cents = round_money(value)
    return str(cents) if cents == value else number_text(value)


def ratio(value: Ratio) -> str:
    """A ratio in a step (attainment, score, weight, share, rate, coefficient):
    rounded half-up to 4 decimal places for reading (SPEC §3); the calculation
    keeps it exact."""
    return ratio_text(value)


def step(code: str, event_ids: Iterable[str | None] = (), /, **values: object) -> Step:
    """A step; None values are left out. A Fraction (a quotient: always a ratio)
    is shown as a ratio; a Decimal as plain decimal text, exactly as computed
    (ratios written in plans and events are passed through `ratio` first)."""
    text: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, Decimal):
            text[name] = number_text(value)
        elif isinstance(value, Fraction):
            text[name] = ratio_text(value)
        else:
            text[name] = str(value)
    return Step(code, text, tuple(e for e in event_ids if e))


@dataclass(frozen=True)
class Line:
    """One statement line: its kind, rounded signed amount, steps and event ids."""

    kind: LineKind
    amount: Decimal
    steps: tuple[Step, ...]
    event_ids: tuple[str, ...]
    # the amount before it was rounded (a line read back from a stored
    # statement: its amount); what exact sums across lines add up
    exact: Decimal | None = field(default=None, compare=False)

    @classmethod
    def of(cls, kind: LineKind, unrounded: Decimal, steps: Iterable[Step]) -> Line:
        """Round the amount (SPEC §3) and gather the ids of every step."""
        amount = round_money(unrounded)
        all_steps = list(steps)
        if amount != unrounded:
            all_steps.append(step("rounded", unrounded=unrounded, amount=money(amount)))
        ids = tuple(dict.fromkeys(e for s in all_steps for e in s.event_ids))
        return cls(kind, amount, tuple(all_steps), ids, unrounded)

    @property
    def unrounded(self) -> Decimal:
        """The amount before rounding (the amount itself when not known)."""
        return self.exact if self.exact is not None else self.amount

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "amount": money(self.amount),
            "steps": [s.to_dict() for s in self.steps],
            "event_ids": list(self.event_ids),
        }
