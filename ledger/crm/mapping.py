"""The mapping of a CRM export onto the ledger's import lines: a TOML document
validated by pydantic, every error naming its key.

A mapping says which rows are which kind of fact (a column and a table of its
values), which column holds each field of the SPEC §2 event it becomes, how
the CRM's owners are the ledger's rep ids (a table), and how its dates and
numbers are written. A field is a column name, or a table::

    amount = "Amount"                                   # the column "Amount"
    currency = { value = "CNY" }                        # the same for every row
    category = { column = "Product Family", values = { Software = "software" } }
    reason = { column = "Loss Reason", default = "cancelled in the CRM" }

``values`` translates a cell's text (a value it does not list is a bad row, so
a new product family is never booked at the wrong rate); ``default`` stands in
for an empty cell.

Row kinds: ``sale`` (a `SaleRecorded`), ``cancelled_sale`` (a sale the CRM now
shows as cancelled: the `SaleRecorded` it was, then its `SaleCancelled` — the
sale is skipped as already stored when an earlier export brought it),
``cancellation`` (only the `SaleCancelled`), ``payment`` (a `PaymentReceived`)
and ``ignore`` (open pipeline, lost deals).
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ledger.actors import normalise_actor

__all__ = [
    "CancellationMap",
    "ColumnField",
    "CrmMapping",
    "FieldMap",
    "Kind",
    "MappingError",
    "PaymentMap",
    "SaleMap",
    "load_mapping",
]

Kind = Literal["sale", "cancelled_sale", "cancellation", "payment", "ignore"]
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_MAX_OFFSET_MINUTES = 14 * 60


class MappingError(ValueError):
    """A mapping that cannot be used, naming the key that is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnField(_Strict):
    """A field read from a column (translated by ``values``, ``default`` when
    the cell is empty), or set to one ``value`` for every row."""

    column: str | None = None
    value: str | None = None
    values: dict[str, str] | None = None
    default: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ColumnField:
        if (self.column is None) == (self.value is None):
            raise ValueError("give exactly one of column (read from the file) or value (fixed)")
        if self.value is not None and (self.values is not None or self.default is not None):
            raise ValueError("a fixed value takes no values table and no default")
        return self


# A field: a column name, or the table form.
FieldMap = Annotated[str | ColumnField, Field(union_mode="left_to_right")]


def as_field(spec: FieldMap) -> ColumnField:
    """The table form of a field (a bare string names its column)."""
    return _column(spec) if isinstance(spec, str) else spec


@lru_cache(maxsize=1024)
def _column(name: str) -> ColumnField:
    # once per column name, not per cell: a model built per cell was a third of
    # the conversion's time
    return ColumnField(column=name)


class SaleMap(_Strict):
    """Columns of a `SaleRecorded`. Rows with the same ``id`` are one sale, one
    row per split (``split_owner`` and ``split_percent``, as a CRM's
    opportunity-split report gives them)."""

    id: FieldMap
    date: FieldMap  # closed-won date: occurred_at, which decides the period
    amount: FieldMap
    currency: FieldMap
    owner: FieldMap
    category: FieldMap | None = None  # product family, line, category
    customer: FieldMap | None = None  # an id (account id, customer number), not a name
    split_owner: FieldMap | None = None
    split_percent: FieldMap | None = None  # 50, 50% or 50.00%: percent of the amount

    @model_validator(mode="after")
    def _splits_paired(self) -> SaleMap:
        if (self.split_owner is None) != (self.split_percent is None):
            raise ValueError("split_owner and split_percent go together")
        return self


class CancellationMap(_Strict):
    """Columns of a `SaleCancelled`."""

    id: FieldMap  # the cancelled sale's id
    date: FieldMap
    reason: FieldMap


class PaymentMap(_Strict):
    """Columns of a `PaymentReceived` (SPEC §2)."""

    id: FieldMap
    sale: FieldMap
    date: FieldMap
    amount: FieldMap


class CrmMapping(_Strict):
    """One CRM export's mapping (see the module docstring)."""

    name: str = Field(min_length=1)
    encoding: str | None = None  # CSV: else UTF-8 (a byte-order mark wins: see readers)
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    sheet: str | None = None  # xlsx: else the first sheet
    header_row: int = Field(default=1, ge=1)
    timezone: str | None = None  # "+08:00" or "Asia/Shanghai", for times without an offset
    date_formats: list[str] = Field(default_factory=list)  # strptime, tried after ISO 8601
    thousands_separator: str | None = Field(default=None, min_length=1, max_length=1)
    actor: str | None = None  # recorded as each line's actor (default: the importer)
    owners: dict[str, str] = Field(default_factory=dict)  # CRM owner -> rep id
    kind: FieldMap | None = None  # the column that says what a row is (absent: all sales)
    kinds: dict[str, Kind] = Field(default_factory=dict)
    sale: SaleMap | None = None
    cancellation: CancellationMap | None = None
    payment: PaymentMap | None = None

    @field_validator("actor")
    @classmethod
    def _actor(cls, actor: str | None) -> str | None:
        # SPEC §2: an identity (the ValueError says what is wrong with it)
        return None if actor is None else normalise_actor(actor)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        if name is not None:
            zone_of(name)
        return name

    @model_validator(mode="after")
    def _coherent(self) -> CrmMapping:
        if (self.kind is None) != (not self.kinds):
            raise ValueError("kind (the column) and kinds (its values) go together")
        used = set(self.kinds.values()) if self.kinds else {"sale"}
        needs = {
            "sale": ("sale",),
            "cancelled_sale": ("sale", "cancellation"),
            "cancellation": ("cancellation",),
            "payment": ("payment",),
        }
        for kind in sorted(used):
            for section in needs.get(kind, ()):
                if getattr(self, section) is None:
                    raise ValueError(f"rows of kind {kind} need a [{section}] section")
        return self

    def zone(self) -> tzinfo | None:
        return None if self.timezone is None else zone_of(self.timezone)


def zone_of(text: str) -> tzinfo:
    """``+08:00`` (a fixed offset) or an IANA name like ``Asia/Shanghai``."""
    match = _OFFSET.match(text)
    if match:
        sign, hours, minutes = match.groups()
        total = int(hours) * 60 + int(minutes)
        if total > _MAX_OFFSET_MINUTES or int(minutes) >= 60:  # noqa: PLR2004
            raise ValueError(f"timezone {text!r} is not a UTC offset")
        return timezone(timedelta(minutes=-total if sign == "-" else total))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'timezone {text!r} is neither an offset like "+08:00" nor a known zone '
            'like "Asia/Shanghai"'
        ) from None


def load_mapping(text: str, *, source: str = "mapping") -> CrmMapping:
    """Parse and validate a mapping; a `MappingError` names the key and why."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{source}: not TOML: {exc}") from None
    except RecursionError:  # SPEC §7: never a traceback
        raise MappingError(f"{source}: not a mapping: TOML nested too deeply") from None
    try:
        return CrmMapping.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"] if not _is_union_branch(p))
            reason = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where or '(top level)'}: {reason}")
        raise MappingError(f"{source}: " + "; ".join(problems)) from None


def _is_union_branch(part: object) -> bool:
    """pydantic's location parts that name a union branch, not a key."""
    return part in {"str", "ColumnField"}
