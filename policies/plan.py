"""The plan document (SPEC §3): versioned commission, bonus, clawback and
discipline rules, written as TOML or JSON and validated here.

Numbers are parsed as ``Decimal`` straight from the text (``parse_float=Decimal``):
``0.05`` is exactly five hundredths, never a binary float.

SPEC §2 bounds hold in a plan as in events: ``effective_from`` lies in the years
2000-2199; money (``target_bonus``, ``point_value``) follows the money bounds in
the plan's own currency (``20000.505`` CNY is refused); and every number is
finite, below 10^12 in absolute value and — when it is not money — has at most
6 decimal places, read from its digits before anything computes with it, so
``1e1000000`` is refused at once rather than overflowing a statement later.
``window_days`` is at most 73,050 (200 years: every date lies in 2000-2199, so a
longer window could not change anything) and ``version`` below 10^9.
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
    ValidationInfo,
    field_validator,
    model_validator,
)

from policies.money import MAX_MONEY, check_money, decimal_places
from policies.periods import FIRST_YEAR, LAST_YEAR, Period, in_bounds

__all__ = [
    "Band",
    "Bonus",
    "Clawback",
    "Commission",
    "CommissionTiers",
    "Discipline",
    "Draw",
    "KpiWeight",
    "Override",
    "Plan",
    "PlanError",
    "PlanMoney",
    "RedLine",
    "Spiff",
    "Tier",
    "load_plan",
    "plan_document",
    "plan_in_force",
]

_RUNG = re.compile(r"^(warning|points:[1-9]\d*)$")
_MAX_POINT_DIGITS = 6
_NUMBER_PLACES = 6  # a plan's ratios, like SPEC §2's scores and shares
_MAX_WINDOW_DAYS = 73_050  # 200 years: the span of SPEC §2's dates
_MAX_VERSION = 10**9
_STORED = "stored"  # the validation context of a plan read back from the store


def _no_float(value: object) -> object:
    if isinstance(value, float):
        msg = "numbers in a plan must be exact decimals, not binary floats"
        raise ValueError(msg)  # noqa: TRY004
    return value


class _MoneyMarker:
    """Marks a plan field as money (`PlanMoney`): held to the plan currency's decimals."""


_MONEY = _MoneyMarker()
# Money in a plan: SPEC §3.1, "money in a plan follows the money bounds of §2"
# in the plan's currency (checked by `Plan`, which knows the currency).
PlanMoney = Annotated[Decimal, Field(ge=0), _MONEY]
# Optional money (a §3.1 cap, a SPIFF's amount): the marker on the field itself,
# where `_number_problems` looks for it.
OptionalPlanMoney = Annotated[Decimal | None, Field(ge=0), _MONEY]


def _number_problem(value: object, currency: str | None) -> str | None:
    """SPEC §2 bounds on any number of a plan: finite, |x| < 10^12, and at most
    6 decimals — or, for money (``currency`` given), that currency's decimals.
    Read from its digits, never by formatting it (``1e1000000`` costs nothing)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    number = Decimal(value) if isinstance(value, int) else value
    if currency is not None:
        try:
            check_money(number, currency)
        except ValueError as exc:
            return str(exc)
        return None
    if not number.is_finite() or number.copy_abs() >= MAX_MONEY:
        return "numbers in a plan are finite and below 10^12 in absolute value"
    if decimal_places(number) > _NUMBER_PLACES:
        return f"numbers in a plan have at most {_NUMBER_PLACES} decimal places"
    return None


def _number_problems(value: object, path: str, currency: str, *, money: bool = False) -> list[str]:
    """Every number of a validated plan (at any depth, in any section) that
    breaks `_number_problem`, as ``path: reason``; `PlanMoney` fields against
    ``currency``."""
    if isinstance(value, BaseModel):
        found: list[str] = []
        for name, field in type(value).model_fields.items():
            key = field.alias or name
            found += _number_problems(
                getattr(value, name),
                f"{path}.{key}" if path else key,
                currency,
                money=_MONEY in field.metadata,
            )
        return found
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _number_problems(v, f"{path}.{k}", currency)]
    if isinstance(value, list | tuple):
        return [
            p
            for i, v in enumerate(value)
            for p in _number_problems(v, f"{path}[{i}]", currency, money=money)
        ]
    problem = _number_problem(value, currency if money else None)
    return [f"{path}: {problem}"] if problem else []


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Rate = Annotated[Decimal, Field(ge=0, le=1)]


class Band(_Frozen):
    """A commission band (SPEC §3.1): from its lower bound (inclusive) on, sales
    earn their category rate × ``multiplier``, or the band's own ``rate``."""

    from_: Decimal = Field(alias="from", ge=0)
    multiplier: Decimal | None = Field(default=None, ge=0)
    rate: Rate | None = None

    @model_validator(mode="after")
    def _one_of_multiplier_and_rate(self) -> Band:
        if (self.multiplier is None) == (self.rate is None):
            msg = "a band has exactly one of 'multiplier' and 'rate'"
            if self.multiplier is not None:
                msg += " (this one has both)"
            raise ValueError(msg)
        return self


class CommissionTiers(_Frozen):
    """SPEC §3.1 commission tiers: bands by attainment or credited money,
    marginal or retroactive."""

    measure: Literal["attainment", "credited"]
    method: Literal["marginal", "retroactive"]
    bands: list[Band] = Field(min_length=1)

    @field_validator("bands")
    @classmethod
    def _bands_ascend_from_zero(cls, bands: list[Band]) -> list[Band]:
        if bands[0].from_ != 0:
            raise ValueError("the first band starts from 0")
        for i, (lower, upper) in enumerate(pairwise(bands), start=1):
            if upper.from_ == lower.from_:
                msg = f"bands[{i}].from repeats {lower.from_}: each 'from' is a new bound"
                raise ValueError(msg)
            if upper.from_ < lower.from_:
                msg = (
                    f"bands must be in strictly ascending order of 'from': bands[{i}].from "
                    f"{upper.from_} is below {lower.from_}"
                )
                raise ValueError(msg)
        return bands


class Commission(_Frozen):
    default_rate: Rate
    rates: dict[str, Rate] = Field(default_factory=dict)
    basis: Literal["booking", "collection"] = "booking"
    gate: Decimal | None = Field(default=None, ge=0)  # attainment below it: no commission
    per_sale_cap: OptionalPlanMoney = None
    period_cap: OptionalPlanMoney = None
    tiers: CommissionTiers | None = None


class Spiff(_Frozen):
    """A time-boxed incentive (SPEC §3.1): a fixed ``amount`` or a ``rate`` of
    the credited amount, per qualifying sale."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
    from_: date = Field(alias="from")
    to: date
    category: str | None = Field(default=None, min_length=1)
    min_amount: OptionalPlanMoney = None
    amount: OptionalPlanMoney = None
    rate: Rate | None = None

    @field_validator("to")
    @classmethod
    def _window_in_order(cls, to: date, info: ValidationInfo) -> date:
        start = info.data.get("from_")
        if start is not None and to < start:
            msg = f"{to} is before 'from' {start} (both days are in the window)"
            raise ValueError(msg)
        return to

    @model_validator(mode="after")
    def _one_reward(self) -> Spiff:
        if (self.amount is None) == (self.rate is None):
            msg = "a SPIFF has exactly one of 'amount' and 'rate'"
            raise ValueError(msg)
        return self


class Draw(_Frozen):
    """A guaranteed minimum payable per period (SPEC §3.1)."""

    amount: Annotated[Decimal, Field(gt=0), _MONEY]
    recoverable: bool
    until: date | None = None  # periods starting on or before it have the draw; None: all


class Override(_Frozen):
    """A manager's share of the credited sales of their reports, by level."""

    rates: list[Rate] = Field(min_length=1, max_length=2)


class KpiWeight(_Frozen):
    kpi: str = Field(min_length=1)
    weight: Decimal = Field(gt=0, le=1)


class Tier(_Frozen):
    from_: Decimal = Field(alias="from", ge=0)
    coefficient: Decimal = Field(ge=0)


class Bonus(_Frozen):
    target_bonus: PlanMoney
    cap: Decimal = Field(ge=0)
    kpis: list[KpiWeight] = Field(min_length=1)
    tiers: list[Tier] = Field(min_length=1)
    prorate: bool = False  # SPEC §3.1: target_bonus × enrolled days / the period's days

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
    point_value: PlanMoney
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
    spiffs: list[Spiff] = Field(default_factory=list)
    draw: Draw | None = None
    override: Override | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_floats(cls, data: Any) -> Any:
        found: list[str] = []

        def walk(value: Any, path: str) -> None:
            try:
                _no_float(value)
            except ValueError as exc:
                found.append(f"{path or '(plan)'}: {exc}")
            if isinstance(value, dict):
                for key, item in value.items():
                    walk(item, f"{path}.{key}" if path else str(key))
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    walk(item, f"{path}[{i}]")

        walk(data, "")
        if found:
            raise ValueError("; ".join(found))
        return data

    @model_validator(mode="after")
    def _within_bounds(self, info: ValidationInfo) -> Plan:
        """SPEC §2 bounds, at the edge: a plan read back from the store (see
        `from_stored`) is taken as it was accepted, so that a ledger holding a
        plan published before these bounds still replays."""
        if (info.context or {}).get(_STORED):
            return self
        problems = self._bound_problems()
        named = {p.partition(": ")[0] for p in problems}
        problems += [
            p
            for p in _number_problems(self, "", self.currency)
            if p.partition(": ")[0] not in named
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _bound_problems(self) -> list[str]:
        problems = []
        if not in_bounds(self.effective_from.year):
            problems.append(f"effective_from: must lie in the years {FIRST_YEAR}-{LAST_YEAR}")
        if self.version >= _MAX_VERSION:
            problems.append(f"version: must be below {_MAX_VERSION:,}")
        if self.clawback.window_days > _MAX_WINDOW_DAYS:
            problems.append(
                f"clawback.window_days: at most {_MAX_WINDOW_DAYS:,} (200 years: every "
                "date lies in 2000-2199)"
            )
        problems += self._shape_problems()
        for i, rung in enumerate(self.discipline.minor_ladder):
            if len(rung.removeprefix("points:")) > _MAX_POINT_DIGITS and rung != "warning":
                problems.append(
                    f"discipline.minor_ladder[{i}]: at most {_MAX_POINT_DIGITS} digits of points"
                )
        return problems

    def _shape_problems(self) -> list[str]:
        """SPEC §3.1 bounds: dates of SPIFFs and draws in 2000-2199, SPIFF ids
        unique, bands measured in credited money held to the money bounds."""
        problems = []
        seen: set[str] = set()
        for i, spiff in enumerate(self.spiffs):
            for name, day in (("from", spiff.from_), ("to", spiff.to)):
                if not in_bounds(day.year):
                    problems.append(
                        f"spiffs[{i}].{name}: must lie in the years {FIRST_YEAR}-{LAST_YEAR}"
                    )
            if spiff.id in seen:
                problems.append(f"spiffs[{i}].id: {spiff.id} appears twice")
            seen.add(spiff.id)
        until = self.draw.until if self.draw is not None else None
        if until is not None and not in_bounds(until.year):
            problems.append(f"draw.until: must lie in the years {FIRST_YEAR}-{LAST_YEAR}")
        tiers = self.commission.tiers
        if tiers is not None and tiers.measure == "credited":
            for i, band in enumerate(tiers.bands):
                try:
                    check_money(band.from_, self.currency)
                except ValueError as exc:
                    problems.append(f"commission.tiers.bands[{i}].from: {exc}")
        return problems

    @classmethod
    def from_stored(cls, document: Any) -> Plan:
        """A plan as stored in a `PlanPublished` (validated when it was accepted)."""
        return cls.model_validate(document, context={_STORED: True})

    def other_period_kind(self, period: Period) -> str | None:
        """Why the plan cannot be asked for ``period`` — it pays by the other kind
        of period — or None when it pays by ``period``'s kind."""
        if self.period == period.kind:
            return None
        example = "2026-07" if self.period == "month" else "2026-Q3"
        return f"plan {self.id} pays by {self.period}: ask for a period like {example}"


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
    """Parse and validate a plan document; PlanError names every bad field.

    TOML numbers are read as decimals (SPEC §3.1: ``0.05`` is exact); a JSON
    number with a fraction or an exponent is refused, as in events (write it as
    decimal text, ``"0.05"``), so it reaches the validation as a float and is
    named there."""
    try:
        data = (
            tomllib.loads(text, parse_float=Decimal)
            if fmt == "toml"
            else json.loads(text, parse_float=float)
        )
    except ValueError as exc:  # TOMLDecodeError, JSONDecodeError, a 5,000-digit integer
        raise PlanError([("(document)", f"not valid {fmt.upper()}: {exc}")]) from None
    except RecursionError:  # SPEC §7: nested deeper than any plan, never a traceback
        raise PlanError([("(document)", f"not a plan: {fmt.upper()} nested too deeply")]) from None
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError([pair for e in exc.errors() for pair in _errors_of(e)]) from None


def _errors_of(error: Any) -> list[tuple[str, str]]:
    """One pydantic error as (field, reason) pairs. A plan-wide check (the
    number bounds) reports ``path: reason; path: reason``: each is its own."""
    reason = str(error["msg"]).removeprefix("Value error, ")
    loc = tuple(error["loc"])
    if loc:
        return [(_path(loc), reason)]
    pairs = [part.partition(": ") for part in reason.split("; ")]
    if all(sep for _, sep, _ in pairs):
        return [(field, why) for field, _, why in pairs]
    return [("(plan)", reason)]


# SPEC §3.1 fields at their defaults, left out of a plan's document so that a
# plan without the new sections is stored exactly as before (same bytes, same
# content hash): (section or None for the top level, field, its default).
_SHAPE_DEFAULTS: tuple[tuple[str | None, str, object], ...] = (
    ("commission", "basis", "booking"),
    ("commission", "gate", None),
    ("commission", "per_sale_cap", None),
    ("commission", "period_cap", None),
    ("commission", "tiers", None),
    ("bonus", "prorate", False),
    (None, "spiffs", []),
    (None, "draw", None),
    (None, "override", None),
)


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-safe data (decimals as text) that validates back to itself.

    SPEC §3.1 sections a plan does not use are left out, so it reads as written."""
    document = plan.model_dump(mode="json", by_alias=True)
    for section, name, default in _SHAPE_DEFAULTS:
        holder = document if section is None else document[section]
        if holder.get(name) == default:
            del holder[name]
    return document


def plan_in_force(versions: Iterable[Plan], period: Period) -> Plan | None:
    """SPEC §3: the highest version whose effective_from is on or before the
    period's first day; it applies to the whole period."""
    eligible = [p for p in versions if p.effective_from <= period.first_day]
    return max(eligible, key=lambda p: p.version) if eligible else None
