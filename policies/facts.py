"""The plain facts the calculation takes, built by `projections` from events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from policies.collection import PaymentFact
from policies.currency import BalanceConversion, FxRate
from policies.explanation import Step
from policies.overrides import ReportingLines, TeamSale
from policies.periods import Period

__all__ = [
    "AdjustmentFact",
    "CancellationFact",
    "CarriedBalanceFact",
    "CaseFact",
    "CorrectionFact",
    "Decision",
    "DrawCarried",
    "KpiScoreFact",
    "LineChange",
    "PendingItem",
    "PeriodFacts",
    "ReleaseFact",
    "SaleFact",
    "TargetFact",
    "UnsplitSaleFact",
]


@dataclass(frozen=True)
class Decision:
    """Where a subject stands with maker-checker."""

    status: Literal["approved", "pending", "rejected", "not_required"]
    event_id: str | None = None
    actor: str | None = None

    @property
    def counts(self) -> bool:
        """Pending or rejected subjects change no payout (SPEC §2)."""
        return self.status in {"approved", "not_required"}


@dataclass(frozen=True)
class CancellationFact:
    event_id: str
    position: int
    occurred_at: datetime
    reason: str


class SaleFact(NamedTuple):
    """One credited sale as a period sees it (a named tuple, not a frozen
    dataclass: a statement makes one per sale, and it is 4x cheaper to make)."""

    sale_id: str
    event_id: str
    position: int
    occurred_at: datetime
    amount: Decimal
    share: Decimal
    category: str | None
    cancellation: CancellationFact | None = None
    # SPEC §3.1 currencies: how ``amount`` was converted into the plan's
    # currency (None: the sale was in it already)
    fx: Step | None = None


@dataclass(frozen=True)
class ReleaseFact:
    """SPEC §3.1 pay on collection: a payment received in the period, and what
    its sale earned in its booking period (commission and SPIFF, unrounded)."""

    payment: PaymentFact
    sale_amount: Decimal  # in the sale's currency, as the payment is
    commission: Decimal
    spiff: Decimal
    sale_event_id: str | None = None  # the sale's: its release rests on it beside the payment
    # how the sale's amount was converted into the currency of the plan that
    # booked it (SPEC §3.1: the explanation shows the rate and its event)
    sale_fx: Step | None = None
    # the sale's payments before this one (by occurred_at, then position),
    # in its currency: a payment releases what the sale's payments so far do
    # less what those released (`policies.collection.release`)
    paid_before: Decimal = Decimal(0)
    fx: FxRate | None = None  # paid in another currency than earned in: converted at it


@dataclass(frozen=True)
class TargetFact:
    target_id: str
    event_id: str
    position: int
    occurred_at: datetime
    kpi: str
    value: Decimal
    decision: Decision


@dataclass(frozen=True)
class KpiScoreFact:
    kpi: str
    score: Decimal
    event_id: str
    position: int
    occurred_at: datetime


@dataclass(frozen=True)
class CaseFact:
    case_id: str
    event_id: str
    position: int
    occurred_at: datetime
    code: str
    severity: Literal["minor", "red_line"]
    amount: Decimal | None
    decision: Decision
    overturned_by: str | None = None

    @property
    def in_force(self) -> bool:
        """Counts: not overturned, and approved where approval is needed."""
        return self.overturned_by is None and self.decision.counts


@dataclass(frozen=True)
class AdjustmentFact:
    adjustment_id: str
    event_id: str
    position: int
    occurred_at: datetime
    amount: Decimal
    reason: str
    decision: Decision
    dispute_id: str | None = None


@dataclass(frozen=True)
class LineChange:
    """How one line's amount differs between two computations of the same
    period, and the events that moved it."""

    kind: str
    before: Decimal
    after: Decimal
    event_ids: tuple[str, ...]
    subject: str | None = None


@dataclass(frozen=True)
class CorrectionFact:
    """A paid period's replay now differs from what was paid."""

    paid_period: str
    run_id: str
    paid_total: Decimal
    replay_total: Decimal
    changed_lines: tuple[LineChange, ...]
    event_ids: tuple[str, ...]
    # what corrections booked in later paid periods took of it already
    # (`paid_total` is what was paid; the difference is left after both)
    corrected_before: Decimal = Decimal(0)
    # booked in a period paid in another currency: the difference converted
    # (every amount above is in the paid period's currency)
    fx: BalanceConversion | None = None

    @property
    def waiting(self) -> bool:
        """Booked in another currency with no rate yet: not counted (pending)."""
        return self.fx is not None and self.fx.rate is None


@dataclass(frozen=True)
class DrawCarried:
    """A recoverable draw balance carried into a period paid in another currency."""

    balance: Decimal  # in ``fx.currency``
    fx: BalanceConversion  # ``fx.rate`` None: no rate yet, carried in as 0 (pending)


@dataclass(frozen=True)
class CarriedBalanceFact:
    from_period: str
    amount: Decimal  # in the currency of ``from_period``
    event_ids: tuple[str, ...] = ()
    fx: BalanceConversion | None = None  # carried into a period paid in another currency

    @property
    def waiting(self) -> bool:
        """Carried into another currency with no rate yet: not counted (pending)."""
        return self.fx is not None and self.fx.rate is None


@dataclass(frozen=True)
class PendingItem:
    """A subject that changes no pay yet: awaiting its approval, or (a sale in a
    foreign currency, SPEC §3.1; a correction or carried balance from a period
    paid in another currency; a payment releasing, into a period paid in
    another currency, what its sale earned) waiting for an exchange rate ``fx_pair``."""

    kind: Literal[
        "target",
        "case",
        "adjustment",
        "sale",
        "payment",
        "correction",
        "carried_balance",
        "draw_balance",
    ]
    subject_id: str
    event_id: str
    fx_pair: tuple[str, str] | None = None  # (base, quote): the rate it waits for

    def to_dict(self) -> dict[str, Any]:
        found = {"kind": self.kind, "subject_id": self.subject_id, "event_id": self.event_id}
        if self.fx_pair is None:
            return found
        base, quote = self.fx_pair
        return found | {"waiting_for": "fx_rate", "base": base, "quote": quote}


@dataclass(frozen=True)
class UnsplitSaleFact:
    """A sale recorded for a rep who is not among its splits (that rep is
    credited nothing): seen by that rep's period and by the split reps'."""

    sale_id: str
    event_id: str
    position: int
    rep_id: str  # the rep the sale was recorded for
    splits: tuple[tuple[str, Decimal], ...]  # (rep_id, share)


@dataclass(frozen=True)
class PeriodFacts:
    rep_id: str
    period: Period
    sales: Sequence[SaleFact] = ()
    targets: Sequence[TargetFact] = ()
    kpi_scores: Sequence[KpiScoreFact] = ()
    cases: Sequence[CaseFact] = ()
    minor_history: Sequence[CaseFact] = ()
    adjustments: Sequence[AdjustmentFact] = ()
    corrections: Sequence[CorrectionFact] = ()
    carried_in: CarriedBalanceFact | None = None
    plan_event_id: str | None = None  # the PlanPublished of the version in force
    unsplit_sales: Sequence[UnsplitSaleFact] = ()
    # sales (or split shares) dated after the day the rep left: credited nothing
    # (`projections.statement`); ``left_event_id``: the RepLeft they rest on
    after_leaving: Sequence[SaleFact] = ()
    left_event_id: str | None = None
    # SPEC §3.1 (read only by plans with the matching section):
    enrolled_on: date | None = None  # proration, draws: the rep's enrolment day
    left_on: date | None = None  # proration: the day of RepLeft
    first_period: Period | None = None  # draws: the period holding the enrolment
    draw_balance_in: Decimal = Decimal("0.00")  # draws: the balance after the period before
    # draws: that balance as it stood in the currency of the period before, and
    # its conversion (the rep's plan changed currency between; None: it did not)
    draw_carried: DrawCarried | None = None
    # draws: the conversions that balance went through in earlier periods that
    # showed it on no line (they drew and recovered nothing), oldest first —
    # shown where it is shown next, with this period's own (`draw_carried`)
    draw_converted_before: Sequence[DrawCarried] = ()
    team_sales: Sequence[TeamSale] = ()  # overrides: credited sales of possible reports
    # overrides: their sales cancelled within the clawback window (credited
    # nothing), each with the cancellation's event id — what a paid period's
    # causes take back out (`policies.causes.without_event`)
    team_clawed_back: Sequence[tuple[TeamSale, str]] = ()
    reporting: ReportingLines | None = None  # overrides: who reported to whom, over time
    # currencies: sales of the period with no rate in force (credited nothing)
    unconverted: Sequence[PendingItem] = ()
    # pay on collection: payments received in the period (their releases), and
    # every payment so far of the sales booked in it (what is still unreleased)
    releases: Sequence[ReleaseFact] = ()
    booked_releases: Sequence[ReleaseFact] = ()
