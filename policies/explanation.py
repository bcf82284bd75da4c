"""Explanations as data: each line of a statement carries the steps of its
arithmetic — a stable step code, its numbers and the event ids it rests on. The
words are rendered separately (`policies.wording`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from policies.rounding import money_text, number_text, round_money

__all__ = ["Line", "LineKind", "Step", "money", "step"]

LineKind = Literal["commission", "bonus", "fine", "adjustment", "correction", "carried_balance"]


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


def step(code: str, event_ids: Iterable[str | None] = (), /, **values: object) -> Step:
    """A step; Decimal values become plain decimal text, None values are left out."""
    text: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        text[name] = number_text(value) if isinstance(value, Decimal) else str(value)
    return Step(code, text, tuple(e for e in event_ids if e))


@dataclass(frozen=True)
class Line:
    """One statement line: its kind, rounded signed amount, steps and event ids."""

    kind: LineKind
    amount: Decimal
    steps: tuple[Step, ...]
    event_ids: tuple[str, ...]

    @classmethod
    def of(cls, kind: LineKind, unrounded: Decimal, steps: Iterable[Step]) -> Line:
        """Round the amount (SPEC §3) and gather the ids of every step."""
        amount = round_money(unrounded)
        all_steps = list(steps)
        if amount != unrounded:
            all_steps.append(step("rounded", unrounded=unrounded.normalize(), amount=money(amount)))
        ids = tuple(dict.fromkeys(e for s in all_steps for e in s.event_ids))
        return cls(kind, amount, tuple(all_steps), ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "amount": money(self.amount),
            "steps": [s.to_dict() for s in self.steps],
            "event_ids": list(self.event_ids),
        }
