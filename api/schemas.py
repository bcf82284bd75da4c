"""The API's response and request bodies (pydantic; they become the OpenAPI text)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from ledger.events import MAX_TEXT_LENGTH  # SPEC §2: text fields, as on import
from policies.explanation import LineKind
from projections.audit_check import AuditBundle
from projections.diff import LineChange, Point, StatementDiff, WithheldEvent
from projections.discipline_history import CaseEntry, CoachingEntry, OverturnedEntry
from projections.disputes import DisputeRow
from projections.whatif import (
    Estimate,
    Head,
    PaidWhatIfRow,
    PlanRef,
    WarningDoc,
    WhatIf,
    WhatIfRow,
)

__all__ = [
    "ApprovalIn",
    "AuditBundleOut",
    "CandidateWarningOut",
    "DisputeIn",
    "DisputeOut",
    "ErrorOut",
    "EstimateIn",
    "EstimateOut",
    "MovedLineOut",
    "OutcomeOut",
    "PaidWhatIfRowOut",
    "RecordOut",
    "ResolutionIn",
    "ResolutionOut",
    "SplitIn",
    "StatementOut",
    "VerifyOut",
    "WarningOut",
    "WhatIfIn",
    "WhatIfOut",
    "WhatIfRowOut",
]


class ErrorOut(BaseModel):
    error: str = Field(description="invalid | conflict | not_found | unauthorized | forbidden")
    detail: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


class WarningOut(BaseModel):
    code: str = Field(
        description="unknown_kpi | category_lookalike | rep_not_in_splits | "
        "override_unfollowed | no_plan_in_force | sale_after_leaving | manager_lookalike | "
        "manager_left | transfer_same_instant | kpi_score_replaces | kpi_score_outdated | "
        "target_replaces | target_outdated"
    )
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
    kind: LineKind
    amount: str = Field(description="signed money, decimal text")
    explanation: list[StepOut]
    event_ids: list[str]


class AsOfOut(Point):
    """The point of the event order a statement was computed at (`projections.diff.Point`)."""


class ChainHeadOut(Head):
    """The chain's head it was computed at (`projections.whatif.Head`)."""


class PlanRefOut(PlanRef):
    """The plan version it was computed under (`projections.whatif.PlanRef`)."""


class PaidOut(BaseModel):
    """How a paid statement was paid: by which run, from which computation."""

    computed_at_position: int
    paid_at: str
    paid_event_id: str
    run_id: str


class LaterEventOut(BaseModel):
    """An event recorded after the period was paid that would change it."""

    model_config = ConfigDict(extra="allow")
    actor: str
    event_id: str
    occurred_at: str
    position: int
    type: str


class StatementOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    rep_id: str
    period: str
    currency: str
    status: Literal["open", "paid"]
    as_of: AsOfOut
    plan: PlanRefOut | None = None
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
    unreleased: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,  # absent, not null, on a booking plan
        description=(
            'pay on collection (a plan with basis = "collection"): the commission and SPIFFs '
            "this period's sales earned that payments have not released yet, decimal text; "
            "absent for a plan paid on booking"
        ),
    )
    chain_head: ChainHeadOut
    sha256: str | None = Field(
        default=None, description="paid: SHA-256 of the statement's canonical bytes"
    )
    paid: PaidOut | None = Field(default=None, description="paid: the run that paid it")
    correction_to: str | None = Field(
        default=None, description="paid: the period later changes are booked into"
    )
    later_events: list[LaterEventOut | WithheldEvent] | None = Field(
        default=None,
        description=(
            "paid: events recorded since that would have changed it — those its reader "
            "may read (GET /events), then one {withheld: true} for any others"
        ),
    )


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


class AuditBundleOut(AuditBundle):
    """A statement's audit bundle (`projections.bundle`): the statement as served,
    the events it rests on, the chain segment to its head (other events as their
    links only), the plan versions and the engine; `incentive-ledger audit check`
    re-checks it offline."""


class VerifyOut(BaseModel):
    ok: bool
    mode: str
    checked: int
    head: dict[str, Any] | None
    broken_position: int | None
    reason: str | None
    projections: list[str]


# -- the other reads -------------------------------------------------------------


class EventOut(BaseModel):
    """One event: its envelope and its own fields (SPEC §2) alongside."""

    model_config = ConfigDict(extra="allow")
    type: str
    event_id: str
    position: int
    occurred_at: str
    recorded_at: str
    actor: str
    hash: str


class DiffChangeOut(LineChange):
    """A line that moved (`projections.diff.LineChange`), worded."""

    text: str


class DiffOut(StatementDiff):
    """Which events changed which lines between two points (``from`` and ``to``):
    the read side's `StatementDiff`, worded."""

    changes: Sequence[DiffChangeOut]
    text: str


class CaseEntryOut(CaseEntry):
    """A violation case in a history (`projections.discipline_history.CaseEntry`), worded."""

    text: str


class OverturnedEntryOut(OverturnedEntry):
    """A case overturned on appeal, worded."""

    text: str


class CoachingEntryOut(CoachingEntry):
    """A coaching session, worded."""

    text: str


class HistoryEntryOut(
    RootModel[
        Annotated[CaseEntryOut | OverturnedEntryOut | CoachingEntryOut, Field(discriminator="kind")]
    ]
):
    """One entry of a disciplinary history: its fields are its kind's (a case, an
    overturned case, a coaching session), each with its ``text``."""


class DisputeRowOut(DisputeRow):
    """A dispute as the API answers it: the read model's row (`projections.disputes`)."""

    model_config = ConfigDict(frozen=False, extra="ignore")


class ProjectionHealthOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    projector: str | None = None
    state: str
    error: dict[str, str] | None
    failures: int
    failing_since: str | float | None
    retry_in_seconds: float | None


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    position: int
    projected: int
    lag: int
    projection: ProjectionHealthOut


class RunCreatedOut(BaseModel):
    """A payout run as `POST /payouts/{period}/runs` recorded (or found) it."""

    run_id: str
    period: str
    position: int
    chain_head: ChainHeadOut
    reps: list[str]
    approved: bool | None
    paid: bool


# -- the work queues: their pages are the read side's own models
# (`projections.queues`), encoded once, here, into the JSON they declare.


# -- modelling (SPEC §5): POST /whatif and POST /reps/{rep_id}/estimate ---------


class WhatIfIn(BaseModel):
    """A candidate plan and the periods to compare it in."""

    model_config = ConfigDict(extra="forbid")
    plan: dict[str, Any] | str = Field(
        description="The candidate plan: a plan document (JSON: money and ratios as decimal "
        'text, e.g. "0.05") or the text of a TOML plan file'
    )
    periods: list[str] = Field(
        min_length=1, max_length=400, description='Periods to compare, e.g. ["2026-Q3"]'
    )
    rep_id: str | None = Field(default=None, max_length=128, description="Only this rep")


class MovedLineOut(LineChange):
    """A line that moved (`projections.diff.LineChange`), worded."""

    text: str


class WhatIfRowOut(WhatIfRow):
    """One rep and period (`projections.whatif.WhatIfRow`), its moved lines worded."""

    moved: Sequence[MovedLineOut]


class PaidWhatIfRowOut(PaidWhatIfRow):
    """A paid period's row, with its replay (`projections.whatif.PaidWhatIfRow`)."""

    moved: Sequence[MovedLineOut]


class CandidateWarningOut(WarningDoc):
    """What the candidate would be published with but looks wrong, worded."""

    text: str


class WhatIfOut(WhatIf):
    """A what-if: every rep's pay today and under the candidate, recording nothing
    (the read side's `WhatIf`, worded)."""

    reps: Sequence[WhatIfRowOut | PaidWhatIfRowOut]
    warnings: Sequence[CandidateWarningOut] = Field(
        default_factory=list,
        description="what the candidate would be published with but looks wrong",
    )
    text: str


class SplitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rep_id: str = Field(max_length=128)
    share: str = Field(max_length=32, description='Decimal text, e.g. "0.5"')


class EstimateIn(BaseModel):
    """One more sale for the rep's open period."""

    model_config = ConfigDict(extra="forbid")
    amount: str = Field(max_length=32, description="Decimal text in the plan's currency")
    category: str | None = Field(default=None, max_length=128)
    date: str | None = Field(
        default=None, max_length=10, description="YYYY-MM-DD in an open period (default: today)"
    )
    splits: list[SplitIn] | None = Field(default=None, max_length=100)


class EstimateOut(Estimate):
    """What the sale would add: figures before and after, the lines that moved
    (the read side's `Estimate`, worded)."""

    moved: Sequence[MovedLineOut]
    text: str
