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
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.domain import datetime_now_with_tzinfo
from eventsourcing.persistence import StoredEvent

from ledger import events as ev
from ledger.adjustment import Adjustment
from ledger.case import Case
from ledger.decision import Decision
from ledger.dispute import Dispute
from ledger.domain import LedgerAggregate, Receipt, event_topic
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
    from eventsourcing.persistence import Mapper

__all__ = ["Envelope", "PlanInfo", "StagedInput", "Staging", "StreamReader", "ids_touched"]

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


class StreamReader(Protocol):
    """Where staging loads aggregates from: the recorder, or an open append session
    (which also sees what the session itself appended)."""

    def select_streams(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]: ...


# Aggregates an import keeps between chunks: few, and referenced by most inputs.
_KEPT_KINDS = frozenset({"rep", "plan"})


@dataclass(frozen=True, slots=True)
class _Fresh:
    """A stream created in this unit of work, kept as its stored event only.

    Most created streams (a sale) are never looked at again in the same import;
    making the aggregate object is deferred until a later input needs it.
    """

    stored: StoredEvent
    kind: str


class Staging:
    """A unit of work over the ledger's aggregates.

    ``pending`` holds the staged events already in stored form, in input order.
    With ``optimistic=True`` (a streamed import) the keys that inputs *create*
    (a new sale id, say) are not looked up: they are assumed new, and the
    store's primary key proves it when the chunk is appended; a chunk that
    collides is staged again with ``optimistic=False`` (see `Ledger.import_lines`).
    """

    def __init__(
        self,
        recorder: StreamReader,
        mapper: Mapper[UUID],
        plans: Callable[[str], PlanInfo | None],
        *,
        optimistic: bool = False,
    ) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._plans = plans
        self.optimistic = optimistic
        self._staged_plans: dict[str, PlanInfo] = {}
        self._checkpoint: dict[str, PlanInfo] = {}
        self._loaded: dict[UUID, LedgerAggregate | _Fresh | None] = {}
        self.pending: list[StoredEvent] = []
        # Creation events are encoded straight into the mapper's stored form
        # (same bytes, see tests/unit/test_stored_form.py) unless the mapper
        # also compresses or encrypts.
        self._direct = mapper.compressor is None and mapper.cipher is None

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
        if isinstance(found, _Fresh):
            domain_event: Any = self._mapper.to_domain_event(found.stored)
            found = self._loaded[aggregate_id] = domain_event.mutate(None)
        if found is not None and not isinstance(found, cls):
            return None
        return found

    def require(self, cls: type[A], key: str, *, field: str, what: str) -> A:
        found = self.get(cls, key)
        if found is None:
            raise UnknownReferenceError(f"unknown {what} {key!r}", field=field)
        return found

    def assume_new(self, ids: Iterable[UUID]) -> None:
        """Treat ``ids`` as absent from the store without looking (optimistic mode)."""
        for i in ids:
            self._loaded.setdefault(i, None)

    def plan(self, plan_id: str) -> PlanInfo | None:
        return self._staged_plans.get(plan_id) or self._plans(plan_id)

    def take_pending(self) -> list[StoredEvent]:
        """The events staged so far (in input order, stored form), handed over."""
        pending, self.pending = self.pending, []
        return pending

    def forget(self) -> None:
        """Drop loaded aggregates but the few that most inputs touch (reps, plans).

        Between the chunks of a streamed import: what was dropped is loaded again
        on demand from the append session, which sees the chunks already appended,
        so memory stays bounded by the chunk, not the file.
        """
        self._loaded = {i: a for i, a in self._loaded.items() if _kind(a) in _KEPT_KINDS}
        self._checkpoint = dict(self._staged_plans)

    def reset(self) -> None:
        """Undo everything staged since the last `forget` (its chunk was not appended)."""
        self._loaded = {}
        self.pending = []
        self._staged_plans = dict(self._checkpoint)

    # -- changing --------------------------------------------------------------

    def add(self, aggregate: LedgerAggregate) -> None:
        self._loaded[aggregate.id] = aggregate
        self.collect(aggregate)

    def create(self, cls: type[LedgerAggregate], key: str, env: Envelope, created: str) -> None:
        """Stage a new stream of ``cls`` for ``key``: its creation event ``created``.

        The same as ``add(cls(key=key, **env.kwargs()))`` — what the library's
        aggregate would record and its mapper store — at a third of the cost: the
        aggregate object is only made if a later input of the unit needs it.
        """
        if not self._direct:
            self.add(cast("Any", cls)(key=key, **env.kwargs()))
            return
        aggregate_id = cls.id_for(key)
        state = {
            "timestamp": datetime_now_with_tzinfo(),
            "originator_topic": cls.TOPIC,
            "key": key,
            "occurred_at": env.occurred_at,
            "actor": env.actor,
            "content_sha256": env.content_sha256,
            "data": env.data,
        }
        stored = StoredEvent(
            aggregate_id, 1, event_topic(created), self._mapper.transcoder.encode(state)
        )
        self._loaded[aggregate_id] = _Fresh(stored, cls.KIND)
        self.pending.append(stored)

    def collect(self, aggregate: LedgerAggregate) -> None:
        to_stored = self._mapper.to_stored_event
        self.pending.extend(to_stored(e) for e in aggregate.collect_events())

    # -- applying inputs -------------------------------------------------------

    def apply(self, index: int, item: ev.EventIn, actor: str) -> StagedInput:
        """Check one input against the rules and stage its event (if new)."""
        payload = item.payload()
        content = ev.content_sha256(item.type, item.occurred_at.isoformat(), payload)
        envelope = Envelope(item.occurred_at, actor, content, payload)
        before = len(self.pending)
        _HANDLERS[item.type](self, item, envelope)
        assert len(self.pending) <= before + 1, "one input, at most one event"
        return StagedInput(index, item.type, stored=len(self.pending) > before)

    def apply_all(
        self, items: Sequence[tuple[int, ev.EventIn, str]]
    ) -> tuple[list[StagedInput], list[LineError]]:
        """Stage a batch; every bad input is named, none stops the others."""
        if self.optimistic:
            created = [
                _CREATES[item.type][1].id_for(item.__dict__[_CREATES[item.type][0]])
                for _, item, _ in items
                if item.type in _CREATES
            ]
            fresh = set(created)
            self.prefetch(i for i in ids_touched(item for _, item, _ in items) if i not in fresh)
            self.assume_new(created)
        else:
            self.prefetch(ids_touched(item for _, item, _ in items))
        staged: list[StagedInput] = []
        errors: list[LineError] = []
        for line, item, actor in items:
            try:
                staged.append(self.apply(line, item, actor))
            except LedgerError as exc:
                errors.append(LineError(line, exc.field, exc.reason, exc.status))
        return staged, errors


def _kind(found: LedgerAggregate | _Fresh | None) -> str | None:
    if isinstance(found, _Fresh):
        return found.kind
    return getattr(found, "KIND", None)


def ids_touched(items: Iterable[ev.EventIn]) -> list[UUID]:
    """Every aggregate a batch will read, so they load in a few queries."""
    ids: list[UUID] = []
    for item in items:
        fields = item.__dict__  # not getattr: pydantic's __getattr__ is slow on a miss
        for name, cls in _KEY_FIELDS:
            value = fields.get(name)
            if isinstance(value, str):
                ids.extend(c.id_for(value) for c in cls)
    return ids


# The stream each creating input starts: (its key field, the aggregate class).
_CREATES: dict[str, tuple[str, type[LedgerAggregate]]] = {
    "RepEnrolled": ("rep_id", Rep),
    "SaleRecorded": ("sale_id", Sale),
    "TargetSet": ("target_id", Target),
    "ViolationRecorded": ("case_id", Case),
    "AdjustmentRequested": ("adjustment_id", Adjustment),
    "DisputeRaised": ("dispute_id", Dispute),
    "PayoutCalculated": ("run_id", PayoutRun),
}

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
    st.create(PlanVersion, key, env, item.type)


def _rep_enrolled(st: Staging, item: ev.EventIn, env: Envelope) -> None:
    assert isinstance(item, ev.RepEnrolled)
    existing = st.get(Rep, item.rep_id)
    if existing is not None:
        existing.enrolled.check_same(env.content_sha256, key=f"rep {item.rep_id}", field="rep_id")
        return
    if st.plan(item.plan_id) is None:
        raise UnknownReferenceError(f"unknown plan {item.plan_id!r}", field="plan_id")
    st.create(Rep, item.rep_id, env, item.type)


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
    st.create(Target, item.target_id, env, item.type)


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
    st.create(Sale, item.sale_id, env, item.type)


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
    st.create(Case, item.case_id, env, item.type)


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
    st.create(Adjustment, item.adjustment_id, env, item.type)


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
    st.create(Dispute, item.dispute_id, env, item.type)


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
    st.create(PayoutRun, item.run_id, env, item.type)


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
