"""The write side: SPEC §2's rules, applied to a batch of inputs all or nothing.

A batch is staged first — every input checked against what is stored *and* what
earlier inputs of the same batch did — and only when every input is good are the
resulting events saved, in input order. Each input yields at most one event: it is
*stored*, or *skipped* because the very same fact is stored already (natural
keys). A natural key stored with other content is a conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from ledger import events as ev
from ledger.adjustment import Adjustment
from ledger.case import Case
from ledger.decision import Decision
from ledger.dispute import Dispute
from ledger.domain import LedgerAggregate, Receipt
from ledger.errors import (
    AlreadyDecidedError,
    InvalidInputError,
    LedgerError,
    LineError,
    SelfApprovalError,
    UnknownReferenceError,
)
from ledger.payout_run import PayoutRun
from ledger.plan import PlanVersion
from ledger.rep import Rep
from ledger.sale import Sale
from ledger.targets import Target
from policies.periods import parse_period

if TYPE_CHECKING:
    from eventsourcing.domain import DomainEventProtocol
    from eventsourcing.persistence import Mapper

    from ledger.backends.base import LedgerRecorder

__all__ = ["Envelope", "PlanInfo", "StagedInput", "Staging"]

A = TypeVar("A", bound=LedgerAggregate)


@dataclass(frozen=True)
class Envelope:
    """The common part of the event an input becomes."""

    occurred_at: datetime
    actor: str
    content_sha256: str
    data: dict[str, Any]

    def kwargs(self) -> dict[str, Any]:
        return {
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "content_sha256": self.content_sha256,
            "data": self.data,
        }


@dataclass(frozen=True)
class PlanInfo:
    """What the write side checks against a plan: its currency and period kind."""

    plan_id: str
    currency: str
    period: str


@dataclass(frozen=True)
class StagedInput:
    """The outcome of one input: stored (with its event) or skipped."""

    index: int
    type: str
    stored: bool
    originator_id: UUID | None = None
    originator_version: int | None = None


class Staging:
    """A unit of work over the ledger's aggregates."""

    def __init__(
        self,
        recorder: LedgerRecorder,
        mapper: Mapper[UUID],
        plans: Callable[[str], PlanInfo | None],
    ) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._plans = plans
        self._staged_plans: dict[str, PlanInfo] = {}
        self._loaded: dict[UUID, LedgerAggregate | None] = {}
        self.pending: list[DomainEventProtocol[UUID]] = []

    # -- loading ---------------------------------------------------------------

    def prefetch(self, ids: Iterable[UUID]) -> None:
        """Load many aggregates in one query each 1,000 (imports stage thousands)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._loaded]
        if not wanted:
            return
        streams = self._recorder.select_streams(wanted)
        for aggregate_id in wanted:
            aggregate: Any = None
            for stored in streams.get(aggregate_id, ()):
                domain_event: Any = self._mapper.to_domain_event(stored)
                aggregate = domain_event.mutate(aggregate)
            self._loaded[aggregate_id] = aggregate

    def get(self, cls: type[A], key: str) -> A | None:
        aggregate_id = cls.id_for(key)
        if aggregate_id not in self._loaded:
            self.prefetch([aggregate_id])
        found = self._loaded[aggregate_id]
        if found is not None and not isinstance(found, cls):
            return None
        return found

    def require(self, cls: type[A], key: str, *, field: str, what: str) -> A:
        found = self.get(cls, key)
        if found is None:
            raise UnknownReferenceError(f"unknown {what} {key!r}", field=field)
        return found

    def plan(self, plan_id: str) -> PlanInfo | None:
        return self._staged_plans.get(plan_id) or self._plans(plan_id)

    # -- changing --------------------------------------------------------------

    def add(self, aggregate: LedgerAggregate) -> None:
        self._loaded[aggregate.id] = aggregate
        self.collect(aggregate)

    def collect(self, aggregate: LedgerAggregate) -> None:
        self.pending.extend(aggregate.collect_events())

    # -- applying inputs -------------------------------------------------------

    def apply(self, index: int, item: ev.EventIn, actor: str) -> StagedInput:
        """Check one input against the rules and stage its event (if new)."""
        envelope = Envelope(item.occurred_at, actor, item.content_sha256(), item.payload())
        before = len(self.pending)
        handler = _HANDLERS[item.type]
        handler(self, item, envelope)
        if len(self.pending) == before:
            return StagedInput(index, item.type, stored=False)
        assert len(self.pending) == before + 1, "one input, one event"
        event = self.pending[-1]
        return StagedInput(
            index,
            item.type,
            stored=True,
            originator_id=event.originator_id,
            originator_version=event.originator_version,
        )

    def apply_all(
        self, items: Sequence[tuple[int, ev.EventIn, str]]
    ) -> tuple[list[StagedInput], list[LineError]]:
        """Stage a batch; every bad input is named, none stops the others."""
        self.prefetch(_ids_touched(item for _, item, _ in items))
        staged: list[StagedInput] = []
        errors: list[LineError] = []
        for line, item, actor in items:
            try:
                staged.append(self.apply(line, item, actor))
            except LedgerError as exc:
                errors.append(LineError(line, exc.field, exc.reason, exc.status))
        return staged, errors


def _ids_touched(items: Iterable[ev.EventIn]) -> list[UUID]:
    """Every aggregate a batch will read, so they load in a few queries."""
    ids: list[UUID] = []
    for item in items:
        fields = item.__dict__  # not getattr: pydantic's __getattr__ is slow on a miss
        for name, cls in _KEY_FIELDS:
            value = fields.get(name)
            if isinstance(value, str):
                ids.extend(c.id_for(value) for c in cls)
    return ids


_KEY_FIELDS: tuple[tuple[str, tuple[type[LedgerAggregate], ...]], ...] = (
    ("rep_id", (Rep,)),
    ("sale_id", (Sale,)),
    ("target_id", (Target,)),
    ("case_id", (Case,)),
    ("adjustment_id", (Adjustment,)),
    ("run_id", (PayoutRun,)),
    ("dispute_id", (Dispute,)),
    ("subject_id", (Decision, Target, Case, Adjustment, PayoutRun)),
)


# -- the rules, one handler per event type ------------------------------------


def _already_stored(
    st: Staging, cls: type[LedgerAggregate], key: str, env: Envelope, *, what: str, field: str
) -> bool:
    """SPEC §2 natural keys: True when this fact is stored identically (skip it);
    ConflictError when the key is stored with other content; False when new."""
    existing = st.get(cls, key)
    if existing is None:
        return False
    receipt: Receipt = existing.recorded  # type: ignore[attr-defined]
    return receipt.check_same(env.content_sha256, key=what, field=field)


def _check_period_kind(st: Staging, rep: Rep, period: str, at: datetime) -> None:
    plan = st.plan(rep.plan_at(at))
    if plan is not None and parse_period(period).kind != plan.period:
        example = "2026-07" if plan.period == "month" else "2026-Q3"
        raise InvalidInputError(
            f"rep {rep.rep_id}'s plan {plan.plan_id} pays by {plan.period}; "
            f"write the period like {example}",
            field="period",
        )


def _plan_published(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.PlanPublished)
    plan = item.plan
    key = PlanVersion.key_of(plan.id, plan.version)
    if _already_stored(st, PlanVersion, key, env, what=f"plan {key}", field="plan.version"):
        return
    earlier = st.plan(plan.id)
    if earlier is not None and earlier.currency != plan.currency:
        raise InvalidInputError(
            f"plan {plan.id} pays in {earlier.currency}; a version cannot change "
            "the currency (publish a new plan id instead)",
            field="plan.currency",
        )
    if earlier is not None and earlier.period != plan.period:
        raise InvalidInputError(
            f"plan {plan.id} pays by {earlier.period}; a version cannot change the "
            "period (publish a new plan id instead)",
            field="plan.period",
        )
    st._staged_plans[plan.id] = PlanInfo(plan.id, plan.currency, plan.period)  # noqa: SLF001
    st.add(PlanVersion(key=key, **env.kwargs()))


def _rep_enrolled(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.RepEnrolled)
    existing = st.get(Rep, item.rep_id)
    if existing is not None:
        existing.enrolled.check_same(env.content_sha256, key=f"rep {item.rep_id}", field="rep_id")
        return
    if st.plan(item.plan_id) is None:
        raise UnknownReferenceError(f"unknown plan {item.plan_id!r}", field="plan_id")
    st.add(Rep(key=item.rep_id, **env.kwargs()))


def _rep_fact(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    rep_id: str = getattr(item, "rep_id")  # noqa: B009 - each fact type has one
    rep = st.require(Rep, rep_id, field="rep_id", what="rep")
    if isinstance(item, ev.RepPlanAssigned) and st.plan(item.plan_id) is None:
        raise UnknownReferenceError(f"unknown plan {item.plan_id!r}", field="plan_id")
    if isinstance(item, ev.KpiScored):
        _check_period_kind(st, rep, item.period, item.occurred_at)
    if rep.record_fact(item.type, **env.kwargs()):
        st.collect(rep)


def _rep_left(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.RepLeft)
    rep = st.require(Rep, item.rep_id, field="rep_id", what="rep")
    if rep.leave(**env.kwargs()):
        st.collect(rep)


def _target_set(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.TargetSet)
    if _already_stored(
        st, Target, item.target_id, env, what=f"target {item.target_id}", field="target_id"
    ):
        return
    rep = st.require(Rep, item.rep_id, field="rep_id", what="rep")
    _check_period_kind(st, rep, item.period, item.occurred_at)
    st.add(Target(key=item.target_id, **env.kwargs()))


def _sale_recorded(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.SaleRecorded)
    if _already_stored(st, Sale, item.sale_id, env, what=f"sale {item.sale_id}", field="sale_id"):
        return
    rep = st.require(Rep, item.rep_id, field="rep_id", what="rep")
    for i, split in enumerate(item.splits or ()):
        st.require(Rep, split.rep_id, field=f"splits[{i}].rep_id", what="rep")
    plan = st.plan(rep.plan_at(item.occurred_at))
    if plan is not None and plan.currency != item.currency:
        raise InvalidInputError(
            f"rep {rep.rep_id}'s plan {plan.plan_id} pays in {plan.currency}, not {item.currency}",
            field="currency",
        )
    st.add(Sale(key=item.sale_id, **env.kwargs()))


def _sale_cancelled(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.SaleCancelled)
    sale = st.require(Sale, item.sale_id, field="sale_id", what="sale")
    if sale.cancel(**env.kwargs()):
        st.collect(sale)


def _violation_recorded(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.ViolationRecorded)
    if _already_stored(st, Case, item.case_id, env, what=f"case {item.case_id}", field="case_id"):
        return
    st.require(Rep, item.rep_id, field="rep_id", what="rep")
    st.add(Case(key=item.case_id, **env.kwargs()))


def _violation_overturned(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.ViolationOverturned)
    case = st.require(Case, item.case_id, field="case_id", what="case")
    if case.overturn(**env.kwargs()):
        st.collect(case)


def _adjustment_requested(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.AdjustmentRequested)
    adjustment_id = item.adjustment_id
    what = f"adjustment {adjustment_id}"
    if _already_stored(st, Adjustment, adjustment_id, env, what=what, field="adjustment_id"):
        return
    rep = st.require(Rep, item.rep_id, field="rep_id", what="rep")
    _check_period_kind(st, rep, item.period, item.occurred_at)
    st.add(Adjustment(key=item.adjustment_id, **env.kwargs()))


_SUBJECT_KINDS: tuple[type[Target | Case | Adjustment | PayoutRun], ...] = (
    Target,
    Case,
    Adjustment,
    PayoutRun,
)


def find_subject(st: Staging, subject_id: str) -> Target | Case | Adjustment | PayoutRun:
    """The target, case, adjustment or payout run an approval decides on."""
    found = [s for cls in _SUBJECT_KINDS if (s := st.get(cls, subject_id)) is not None]
    if not found:
        raise UnknownReferenceError(
            f"no target, case, adjustment or payout run has id {subject_id!r}",
            field="subject_id",
        )
    if len(found) > 1:
        kinds = ", ".join(type(s).__name__.lower() for s in found)
        raise InvalidInputError(
            f"subject id {subject_id!r} names more than one subject ({kinds})",
            field="subject_id",
        )
    return found[0]


def _decision(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.ApprovalGranted | ev.ApprovalRejected)
    existing = st.get(Decision, item.subject_id)
    if existing is not None:
        if existing.recorded.content_sha256 == env.content_sha256:
            return
        verdict = "approved" if existing.granted else "rejected"
        raise AlreadyDecidedError(
            f"{item.subject_id} was already {verdict} by {existing.recorded.actor} "
            f"at {existing.recorded.occurred_at.isoformat()}; a subject takes one decision",
            field="subject_id",
        )
    subject = find_subject(st, item.subject_id)
    if not subject.needs_approval:
        raise InvalidInputError(
            f"{subject.subject_label} needs no approval (only targets changed after "
            "their period started, adjustments, red-line cases and payout runs do)",
            field="subject_id",
        )
    if subject.recorded.actor == env.actor:
        raise SelfApprovalError(
            f"{env.actor} recorded {subject.subject_label} and cannot also decide on "
            "it (maker-checker): another person must",
            field="actor",
        )
    st.add(
        Decision.decide(
            granted=isinstance(item, ev.ApprovalGranted),
            occurred_at=env.occurred_at,
            actor=env.actor,
            content_sha256=env.content_sha256,
            data=env.data,
        )
    )


def _dispute_raised(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.DisputeRaised)
    if _already_stored(
        st, Dispute, item.dispute_id, env, what=f"dispute {item.dispute_id}", field="dispute_id"
    ):
        return
    st.require(Rep, item.rep_id, field="rep_id", what="rep")
    run = st.require(PayoutRun, item.run_id, field="run_id", what="payout run")
    if item.rep_id not in run.rep_ids:
        raise InvalidInputError(
            f"payout run {item.run_id} has no statement for rep {item.rep_id}",
            field="run_id",
        )
    st.add(Dispute(key=item.dispute_id, **env.kwargs()))


def _dispute_resolved(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.DisputeResolved)
    dispute = st.require(Dispute, item.dispute_id, field="dispute_id", what="dispute")
    if item.adjustment_id is not None:
        adjustment = st.require(
            Adjustment, item.adjustment_id, field="adjustment_id", what="adjustment"
        )
        if adjustment.rep_id != dispute.rep_id:
            raise InvalidInputError(
                f"adjustment {item.adjustment_id} is for rep {adjustment.rep_id}, the "
                f"dispute for rep {dispute.rep_id}",
                field="adjustment_id",
            )
    if dispute.resolve(**env.kwargs()):
        st.collect(dispute)


def _payout_calculated(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.PayoutCalculated)
    if _already_stored(
        st, PayoutRun, item.run_id, env, what=f"payout run {item.run_id}", field="run_id"
    ):
        return
    st.add(PayoutRun(key=item.run_id, **env.kwargs()))


def _payout_paid(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.PayoutPaid)
    run = st.require(PayoutRun, item.run_id, field="run_id", what="payout run")
    decision = st.get(Decision, item.run_id)
    if decision is None or not decision.granted:
        state = "was rejected" if decision is not None else "is not approved yet"
        raise InvalidInputError(
            f"payout run {item.run_id} {state}; only an approved run can be paid",
            field="run_id",
        )
    if run.pay(**env.kwargs()):
        st.collect(run)


_HANDLERS: dict[str, Callable[[Staging, ev.EventIn, Envelope], None]] = {
    "PlanPublished": _plan_published,
    "RepEnrolled": _rep_enrolled,
    "RepPlanAssigned": _rep_fact,
    "KpiScored": _rep_fact,
    "CoachingRecorded": _rep_fact,
    "RepLeft": _rep_left,
    "TargetSet": _target_set,
    "SaleRecorded": _sale_recorded,
    "SaleCancelled": _sale_cancelled,
    "ViolationRecorded": _violation_recorded,
    "ViolationOverturned": _violation_overturned,
    "AdjustmentRequested": _adjustment_requested,
    "ApprovalGranted": _decision,
    "ApprovalRejected": _decision,
    "DisputeRaised": _dispute_raised,
    "DisputeResolved": _dispute_resolved,
    "PayoutCalculated": _payout_calculated,
    "PayoutPaid": _payout_paid,
}
