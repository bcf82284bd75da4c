"""The API's response and request bodies (pydantic; they become the OpenAPI text)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger.events import MAX_TEXT_LENGTH  # SPEC §2: text fields, as on import

__all__ = [
    "ApprovalIn",
    "DisputeIn",
    "DisputeOut",
    "ErrorOut",
    "OutcomeOut",
    "RecordOut",
    "ResolutionIn",
    "ResolutionOut",
    "StatementOut",
    "VerifyOut",
    "WarningOut",
]


class ErrorOut(BaseModel):
    error: str = Field(description="invalid | conflict | not_found | unauthorized | forbidden")
    detail: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


class WarningOut(BaseModel):
    code: str = Field(description="unknown_kpi | category_lookalike | rep_not_in_splits")
    field: str | None = Field(default=None, description="the input field it is about")
    values: dict[str, str]
    event_ids: list[str] = Field(default_factory=list)
    text: str


class OutcomeOut(BaseModel):
    index: int = Field(description="0-based index of the input in the request")
    type: str
    status: Literal["stored", "skipped"]
    event_id: str | None = None
    position: int | None = None
    warnings: list[WarningOut] = Field(
        default_factory=list,
        description="accepted as written, but probably a typo that changes pay",
    )


class RecordOut(BaseModel):
    stored: int
    skipped: int = Field(description="identical to what was already stored (natural keys)")
    events: list[OutcomeOut]


class DisputeOut(RecordOut):
    """What `POST /disputes` recorded, and the new dispute's id."""

    dispute_id: str


class ResolutionOut(RecordOut):
    """What a resolution recorded; upheld: the adjustment it booked (to approve)."""

    adjustment_id: str | None = None


class StepOut(BaseModel):
    code: str
    values: dict[str, str]
    event_ids: list[str]
    text: str


class LineOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: Literal[
        "commission",
        "bonus",
        "fine",
        "adjustment",
        "correction",
        "carried_balance",
        "spiff",
        "gate",
        "cap",
        "draw",
        "draw_recovery",
        "override",
    ]
    amount: str = Field(description="signed money, decimal text")
    explanation: list[StepOut]
    event_ids: list[str]


class StatementOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    rep_id: str
    period: str
    currency: str
    status: Literal["open", "paid"]
    as_of: dict[str, Any]
    lines: list[LineOut]
    attainment: str | None
    score: str | None
    tier_coefficient: str | None
    total: str
    payable: str
    pending: list[dict[str, Any]]
    warnings: list[dict[str, Any]] = Field(
        default_factory=list, description="probable typos that change pay (code, values, ids)"
    )
    chain_head: dict[str, Any]


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject_id: str = Field(min_length=1, max_length=128)
    decision: Literal["grant", "reject"]
    note: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH)


class DisputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str = Field(min_length=1, max_length=128)
    message: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    dispute_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
    rep_id: str | None = Field(default=None, description="finance only: raise on a rep's behalf")


class ResolutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["upheld", "rejected"]
    note: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    amount: str | None = Field(
        default=None,
        pattern=r"^-?\d{1,15}(\.\d{1,2})?$",
        description="upheld: the adjustment to book, decimal text",
    )


class VerifyOut(BaseModel):
    ok: bool
    mode: str
    checked: int
    head: dict[str, Any] | None
    broken_position: int | None
    reason: str | None
    projections: list[str]
