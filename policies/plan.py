"""The plan document (SPEC §3): versioned commission, bonus, clawback and
discipline rules, written as TOML or JSON and validated here.

Numbers are parsed as ``Decimal`` straight from the text (``parse_float=Decimal``):
``0.05`` is exactly five hundredths, never a binary float.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from policies.periods import Period

__all__ = [
    "Bonus",
    "Clawback",
    "Commission",
    "Discipline",
    "KpiWeight",
    "Plan",
    "PlanError",
    "RedLine",
    "Tier",
    "load_plan",
    "plan_document",
    "plan_in_force",
]

_RUNG = re.compile(r"^(warning|points:[1-9]\d*)$")


def _no_float(value: object) -> object:
    if isinstance(value, float):
        msg = "numbers in a plan must be exact decimals, not binary floats"
        raise ValueError(msg)  # noqa: TRY004
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Rate = Annotated[Decimal, Field(ge=0, le=1)]


class Commission(_Frozen):
    default_rate: Rate
    rates: dict[str, Rate] = Field(default_factory=dict)


class KpiWeight(_Frozen):
    kpi: str = Field(min_length=1)
    weight: Decimal = Field(gt=0, le=1)


class Tier(_Frozen):
    from_: Decimal = Field(alias="from", ge=0)
    coefficient: Decimal = Field(ge=0)


class Bonus(_Frozen):
    target_bonus: Decimal = Field(ge=0)
    cap: Decimal = Field(ge=0)
    kpis: list[KpiWeight] = Field(min_length=1)
    tiers: list[Tier] = Field(min_length=1)

    @field_validator("kpis")
    @classmethod
    def _weights_sum_to_one(cls, kpis: list[KpiWeight]) -> list[KpiWeight]:
        total = sum((k.weight for k in kpis), Decimal(0))
        if total != 1:
            msg = f"KPI weights must sum to 1, they sum to {total}"
            raise ValueError(msg)
        names = [k.kpi for k in kpis]
        if len(set(names)) != len(names):
            raise ValueError("a KPI appears twice")
        return kpis

    @field_validator("tiers")
    @classmethod
    def _tiers_ascend_from_zero(cls, tiers: list[Tier]) -> list[Tier]:
        if tiers[0].from_ != 0:
            raise ValueError("the first tier starts from 0")
        for lower, upper in pairwise(tiers):
            if upper.from_ <= lower.from_:
                raise ValueError("tiers must be in strictly ascending order of 'from'")
        return tiers


class Clawback(_Frozen):
    window_days: int = Field(ge=0)


class RedLine(_Frozen):
    forfeit_bonus: bool
    fine: Literal["amount", "none"]


class Discipline(_Frozen):
    point_value: Decimal = Field(ge=0)
    minor_ladder: list[str] = Field(min_length=1)
    red_line: RedLine

    @field_validator("minor_ladder")
    @classmethod
    def _rungs(cls, ladder: list[str]) -> list[str]:
        for rung in ladder:
            if not _RUNG.match(rung):
                msg = f'a rung is "warning" or "points:N", got {rung!r}'
                raise ValueError(msg)
        return ladder


class Plan(_Frozen):
    """One version of a plan."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
    version: int = Field(ge=1)
    effective_from: date
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    period: Literal["month", "quarter"]
    commission: Commission
    bonus: Bonus
    clawback: Clawback
    discipline: Discipline

    @model_validator(mode="before")
    @classmethod
    def _refuse_floats(cls, data: Any) -> Any:
        def walk(value: Any) -> None:
            _no_float(value)
            if isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(data)
        return data


class PlanError(ValueError):
    """A plan that does not validate; ``errors`` names each bad field."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors))


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(plan)"


def load_plan(text: str, fmt: Literal["toml", "json"]) -> Plan:
    """Parse and validate a plan document; PlanError names every bad field."""
    try:
        data = (
            tomllib.loads(text, parse_float=Decimal)
            if fmt == "toml"
            else json.loads(text, parse_float=Decimal)
        )
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise PlanError([("(document)", f"not valid {fmt.upper()}: {exc}")]) from None
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(
            [(_path(tuple(e["loc"])), e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
        ) from None


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-safe data (decimals as text) that validates back to itself."""
    return plan.model_dump(mode="json", by_alias=True)


def plan_in_force(versions: Iterable[Plan], period: Period) -> Plan | None:
    """SPEC §3: the highest version whose effective_from is on or before the
    period's first day; it applies to the whole period."""
    eligible = [p for p in versions if p.effective_from <= period.first_day]
    return max(eligible, key=lambda p: p.version) if eligible else None
