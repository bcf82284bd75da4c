"""The write side: SPEC §2's rules, applied to a batch of inputs all or nothing.

A batch is staged first — every input checked against what is stored *and* what
earlier inputs of the same batch did — and only when every input is good are the
resulting events saved, in input order. Each input yields at most one event: it is
*stored*, or *skipped* because the very same fact is stored already (natural
keys). A natural key stored with other content is a conflict.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, cast
from uuid import UUID

import orjson
from eventsourcing.domain import datetime_now_with_tzinfo
from eventsourcing.persistence import StoredEvent

from ledger import events as ev
from ledger.actors import checked_actor, same_actor
from ledger.adjustment import Adjustment
from ledger.case import Case
from ledger.decision import Decision
from ledger.dispute import Dispute
from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id, stream_id
from ledger.errors import (
    AlreadyDecidedError,
    ConflictError,
    InvalidInputError,
    LedgerError,
    LineError,
    SelfApprovalError,
    UnknownReferenceError,
)
from ledger.payout_claims import CALCULATED, PAID, REJECTED, Claim, describe_holder, holder_of
from ledger.payout_run import PayoutRun
from ledger.plan import PlanVersion
from ledger.records import bulk
from ledger.rep import Rep
from ledger.sale import Sale
from ledger.targets import Target
from ledger.transcoder import OrjsonTranscoder
from policies.money import check_money
from policies.pay_warnings import (
    PayWarning,
    PlanTerms,
    category_warning,
    folded,
    kpi_warning,
    splits_warning,
    terms_in_force,
)
from policies.periods import Period, PeriodKind, parse_period, period_of
from policies.plan import Plan

if TYPE_CHECKING:
    from eventsourcing.persistence import Mapper

__all__ = [
    "Input",
    "NaturalKey",
    "PlanInfo",
    "StagedInput",
    "Staging",
    "StreamReader",
    "WireInput",
    "ids_touched",
    "inputs_from_wire",
    "parse_body",
    "parse_body_wire",
    "parse_chunk",
    "parse_lines",
]

A = TypeVar("A", bound=LedgerAggregate)


class Input(NamedTuple):
    """One validated input as the write side checks it: its type and the envelope
    of the event it becomes — business time, actor, content hash and ``data``,
    its fields in canonical JSON form (`ledger.events.EventIn.payload`).

    Made from a parsed model (`of`), or from the light form an import's parse
    worker sends back (`from_wire`): the rules read only ``data``. The write
    path's small records are named tuples: as immutable as a frozen dataclass,
    and made in a third of the time (an import makes several per line).
    """

    type: str
    occurred_at: datetime
    actor: str
    content_sha256: str
    data: dict[str, Any]
    occurred_text: str | None = None  # ``occurred_at.isoformat()``, when known

    @classmethod
    def of(cls, item: ev.EventIn, actor: str) -> Input:
        """``item`` as recorded by ``actor`` (unless it names its own).

        SPEC §2: the actor is stored normalised (`ledger.actors`); the item's own
        was normalised when it was validated, ``actor`` is here (an
        `InvalidInputError` naming ``actor`` when it cannot be)."""
        data = item.payload()
        occurred_text = item.occurred_at.isoformat()
        content = ev.content_sha256(item.type, occurred_text, data)
        who = item.actor or checked_actor(actor)
        return cls(item.type, item.occurred_at, who, content, data, occurred_text)

    @classmethod
    def from_wire(cls, wire: WireInput) -> Input:
        _line, type_, occurred_at, actor, content, data = wire
        return cls(type_, datetime.fromisoformat(occurred_at), actor, content, data, occurred_at)

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of an event-triggering aggregate method."""
        return {
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "content_sha256": self.content_sha256,
            "data": self.data,
        }


@dataclass(frozen=True)
class PlanInfo:
    """What the write side checks against a plan: its currency and period kind,
    and the KPIs and rates of each version (for the warnings)."""

    plan_id: str
    currency: str
    period: str
    terms: tuple[PlanTerms, ...] = ()

    @cached_property
    def categories(self) -> frozenset[str]:
        """Categories with a rate of their own in some version."""
        return frozenset(c for t in self.terms for c in t.categories)

    @cached_property
    def folded_categories(self) -> frozenset[str]:
        """`categories` without case or spacing: what a look-alike folds to."""
        return frozenset(folded(c) for c in self.categories)

    def terms_for(self, period: Period) -> PlanTerms | None:
        """The version in force for ``period`` (SPEC §3), as the warnings read it."""
        return terms_in_force(self.terms, period)

    def with_version(self, terms: PlanTerms) -> PlanInfo:
        """This plan with one more version (or one replaced)."""
        kept = tuple(t for t in self.terms if t.version != terms.version)
        return PlanInfo(self.plan_id, self.currency, self.period, (*kept, terms))


class StagedInput(NamedTuple):
    """The outcome of one input: stored (with its event) or skipped, and what
    it was accepted with but is probably a mistake (`policies.pay_warnings`)."""

    line: int
    type: str
    stored: bool
    warnings: tuple[PayWarning, ...] = ()


class StreamReader(Protocol):
    """Where staging loads aggregates from: the recorder, or an open append session
    (which also sees what the session itself appended)."""

    def select_streams(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]: ...

    def select_claims(self, period: str, rep_ids: Sequence[str]) -> list[Claim]: ...


# Aggregates an import keeps between chunks: few, and referenced by most inputs.
_KEPT_KINDS = frozenset({"rep", "plan"})

# A stream's natural key: (aggregate kind, key). Staging keys what it loaded by
# these rather than by stream id: a UUID hashes through a Python method (an
# import looked streams up a dozen times per line), a pair of strings in C.
NaturalKey = tuple[str, str]


class _Fresh(NamedTuple):
    """A stream created in this unit of work, kept as its stored event only.

    Most created streams (a sale) are never looked at again in the same import;
    making the aggregate object is deferred until a later input needs it.
    """

    stored: StoredEvent


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
        loaded: Mapping[NaturalKey, LedgerAggregate | None] | None = None,
        fresh_plans: Callable[[str], PlanInfo | None] | None = None,
        chain_guard: Callable[[Any], object] | None = None,
    ) -> None:
        """``loaded``: aggregates known to be as stored (see `kept`).
        ``fresh_plans``: a plan as the store holds it now (``plans`` may answer
        from a cache), read before a warning is given against it.
        ``chain_guard``: raises `BrokenChainError` when the audit chain, read
        through ``recorder``, is broken (SPEC §6: no payout step on a broken
        chain); asked once, by the first payout input (`guard_chain`)."""
        self._recorder = recorder
        self._mapper = mapper
        self._plans = plans
        self._fresh_plans = fresh_plans
        self._refreshed: set[str] = set()
        self._warnings: list[PayWarning] = []
        self._chain_guard = chain_guard
        # Payout claims index rows staged in this unit of work, not appended yet
        # (`ledger.payout_claims`): what a later input of the unit must see.
        self._staged_claims: list[Claim] = []
        self.optimistic = optimistic
        self._staged_plans: dict[str, PlanInfo] = {}
        self._checkpoint: dict[str, PlanInfo] = {}
        self._loaded: dict[NaturalKey, LedgerAggregate | _Fresh | None] = dict(loaded or {})
        self.pending: list[StoredEvent] = []
        # Creation events are encoded straight into the mapper's stored form
        # (same bytes, see tests/unit/test_stored_form.py) unless the mapper
        # also compresses or encrypts.
        self._direct = mapper.compressor is None and mapper.cipher is None
        self._stamp: dict[str, str] | None = None  # see `apply_all`

    # -- loading ---------------------------------------------------------------

    def prefetch(self, keys: Iterable[NaturalKey]) -> None:
        """Load many aggregates in one query each 1,000 (imports stage thousands)."""
        wanted = {natural_id(*k): k for k in dict.fromkeys(keys) if k not in self._loaded}
        if not wanted:
            return
        streams = self._recorder.select_streams(list(wanted))
        for aggregate_id, key in wanted.items():
            aggregate: Any = None
            for stored in streams.get(aggregate_id, ()):
                domain_event: Any = self._mapper.to_domain_event(stored)
                aggregate = domain_event.mutate(aggregate)
            self._loaded[key] = aggregate

    def get(self, cls: type[A], key: str) -> A | None:
        natural = (cls.KIND, key)
        if natural not in self._loaded:
            self.prefetch([natural])
        found = self.get_loaded(natural)
        if found is not None and not isinstance(found, cls):
            return None
        return found

    def require(self, cls: type[A], key: str, *, field: str, what: str) -> A:
        found = self.get(cls, key)
        if found is None:
            raise UnknownReferenceError(f"unknown {what} {key!r}", field=field)
        return found

    def load_for(self, items: Iterable[Input]) -> None:
        """Load what ``items`` will read, in a few queries; optimistic: the keys
        they create are assumed new, not looked up."""
        if not self.optimistic:
            self.prefetch(ids_touched(items))
            return
        touched: list[Input] = []
        created: list[NaturalKey] = []
        for item in items:
            touched.append(item)
            creates = _CREATES.get(item.type)
            if creates is not None:
                created.append((creates[1].KIND, item.data[creates[0]]))
        fresh = set(created)
        self.prefetch(k for k in ids_touched(touched) if k not in fresh)
        self.assume_new(created)

    def assume_new(self, keys: Iterable[NaturalKey]) -> None:
        """Treat ``keys`` as absent from the store without looking (optimistic mode)."""
        for key in keys:
            self._loaded.setdefault(key, None)

    def kept(self) -> dict[NaturalKey, LedgerAggregate | None]:
        """The reps and plans loaded or staged: once what was staged is committed,
        they are as stored, for a next unit of work to start from (`loaded`)."""
        kept: dict[NaturalKey, LedgerAggregate | None] = {}
        for key in list(self._loaded):
            if key[0] in _KEPT_KINDS:
                kept[key] = self.get_loaded(key)
        return kept

    def get_loaded(self, key: NaturalKey) -> LedgerAggregate | None:
        """The aggregate loaded under ``key`` (made from its creation event if new)."""
        found = self._loaded[key]
        if isinstance(found, _Fresh):
            domain_event: Any = self._mapper.to_domain_event(found.stored)
            found = self._loaded[key] = domain_event.mutate(None)
        return found

    def plan(self, plan_id: str) -> PlanInfo | None:
        return self._staged_plans.get(plan_id) or self._plans(plan_id)

    def warn_against(self, plan_id: str, check: Callable[[PlanInfo], PayWarning | None]) -> None:
        """Give the warning ``check`` finds against plan ``plan_id``, if any.

        Plans are known from a cache that another process's publishing leaves
        behind: a warning found against a plan not published in this unit of
        work is checked again against the store's versions first (once per
        plan and unit of work: the rare path, never the common one).
        """
        plan = self.plan(plan_id)
        if plan is None:
            return
        warning = check(plan)
        if (
            warning is not None
            and self._fresh_plans is not None
            and plan_id not in self._staged_plans
            and plan_id not in self._refreshed
        ):
            self._refreshed.add(plan_id)
            fresh = self._fresh_plans(plan_id)
            warning = check(fresh) if fresh is not None else warning
        if warning is not None:
            self.warn(warning)

    def warn(self, warning: PayWarning) -> None:
        """Accept the input being applied, with ``warning`` in its answer."""
        self._warnings.append(warning)

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
        self._loaded = {k: a for k, a in self._loaded.items() if k[0] in _KEPT_KINDS}
        self._checkpoint = dict(self._staged_plans)
        self._staged_claims = []  # appended: the session reads them from the index now

    def reset(self) -> None:
        """Undo everything staged since the last `forget` (its chunk was not appended)."""
        self._loaded = {}
        self.pending = []
        self._staged_plans = dict(self._checkpoint)
        self._staged_claims = []

    # -- payouts -----------------------------------------------------------------

    def guard_chain(self) -> None:
        """SPEC §6: a payout step (run, approval of a run, payment) is refused on a
        broken chain; checked once per unit of work."""
        if self._chain_guard is not None:
            self._chain_guard(self._recorder)
            self._chain_guard = None

    def claims(self, period: str, rep_ids: Sequence[str]) -> list[Claim]:
        """The payout claims of ``rep_ids`` for ``period``: stored, and staged here."""
        wanted = set(rep_ids)
        stored = self._recorder.select_claims(period, list(wanted)) if wanted else []
        staged = [c for c in self._staged_claims if c.period == period and c.rep_id in wanted]
        return stored + staged

    def stage_claims(self, period: str, run_id: str, rep_ids: Iterable[str], state: str) -> None:
        """Note what a staged payout event does to the claims index (the recorder
        writes the same rows when it appends the event)."""
        self._staged_claims.extend(Claim(period, rep, run_id, state, 0) for rep in rep_ids)

    # -- changing --------------------------------------------------------------

    def add(self, aggregate: LedgerAggregate, key: str) -> None:
        """Stage ``aggregate`` (of natural key ``key``) and its new events."""
        self._loaded[aggregate.KIND, key] = aggregate
        self.collect(aggregate)

    def create(self, cls: type[LedgerAggregate], key: str, item: Input) -> None:
        """Stage a new stream of ``cls`` for ``key``: its creation event, ``item``.

        The same as ``add(cls(key=key, **item.kwargs()))`` — what the library's
        aggregate would record and its mapper store — at a fraction of the cost:
        the state is written straight into the transcoder's form (datetimes as
        ``{"_type_": "datetime_iso", "_data_": ...}``), and the aggregate object
        is only made if a later input of the unit needs it.
        """
        if not self._direct:
            self.add(cast("Any", cls)(key=key, **item.kwargs()), key)
            return
        stamp = self._stamp or _datetime_field(datetime_now_with_tzinfo().isoformat())
        state = {
            "timestamp": stamp,
            "originator_topic": cls.TOPIC,
            "key": key,
            "occurred_at": _datetime_field(item.occurred_text or item.occurred_at.isoformat()),
            "actor": item.actor,
            "content_sha256": item.content_sha256,
            "data": item.data,
        }
        # uncached: a created stream's id is worked out once (a cache of a
        # million sales' ids would only evict the reps')
        stored = StoredEvent(
            stream_id(cls.KIND, key), 1, event_topic(item.type), self._encode(state)
        )
        self._loaded[cls.KIND, key] = _Fresh(stored)
        self.pending.append(stored)

    def _encode(self, state: dict[str, Any]) -> bytes:
        transcoder = self._mapper.transcoder
        if isinstance(transcoder, OrjsonTranscoder):
            return transcoder.encode_json_ready(state)
        return transcoder.encode(state)

    def collect(self, aggregate: LedgerAggregate) -> None:
        to_stored = self._mapper.to_stored_event
        self.pending.extend(to_stored(e) for e in aggregate.collect_events())

    # -- applying inputs -------------------------------------------------------

    def apply(self, index: int, item: Input) -> StagedInput:
        """Check one input against the rules and stage its event (if new)."""
        before = len(self.pending)
        _HANDLERS[item.type](self, item)
        assert len(self.pending) <= before + 1, "one input, at most one event"
        if self._warnings:
            warnings, self._warnings = tuple(self._warnings), []
            return StagedInput(index, item.type, len(self.pending) > before, warnings)
        return StagedInput(index, item.type, len(self.pending) > before)

    def apply_all(
        self, items: Sequence[tuple[int, Input]], *, load: bool = True
    ) -> tuple[list[StagedInput], list[LineError]]:
        """Stage a batch; every bad input is named, none stops the others.

        The streams a batch creates are stamped with one moment, the batch's
        (the library's event ``timestamp``; ``recorded_at`` in the chain is the
        commit's, one per append in any case).
        """
        if load:  # else the caller loaded for these items already
            self.load_for(item for _, item in items)
        staged: list[StagedInput] = []
        errors: list[LineError] = []
        self._stamp = _datetime_field(datetime_now_with_tzinfo().isoformat())
        try:
            for line, item in items:
                try:
                    staged.append(self.apply(line, item))
                except LedgerError as exc:
                    self._warnings = []  # of a refused input: nothing to warn about
                    errors.append(LineError(line, exc.field, exc.reason, exc.status))
        finally:
            self._stamp = None
        return staged, errors


_UNLOADED: Any = object()


def _datetime_field(iso_text: str) -> dict[str, str]:
    """A datetime in the transcoder's form (the library's `DatetimeAsISO`)."""
    return {"_type_": "datetime_iso", "_data_": iso_text}


def ids_touched(items: Iterable[Input]) -> list[NaturalKey]:
    """Every aggregate a batch will read, so they load in a few queries."""
    keys: list[NaturalKey] = []
    append = keys.append
    for item in items:
        fields = item.data
        for name, kinds in _key_fields_of(item.type):
            value = fields.get(name)
            if type(value) is str:
                for kind in kinds:
                    append((kind, value))
    return keys


@lru_cache(maxsize=64)
def _key_fields_of(type_: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The key fields an event of ``type_`` can carry (all of them for a type
    without a model: a batch of sales looks at two fields of each, not eight)."""
    model = ev.EVENT_MODELS.get(type_)
    if model is None:
        return _KEY_FIELDS
    return tuple(entry for entry in _KEY_FIELDS if entry[0] in model.model_fields)


# An input in the light form an import's parse worker sends back (`parse_chunk`):
# (line, type, occurred_at ISO text, actor, content_sha256, payload).
WireInput = tuple[int, str, str, str, str, dict[str, Any]]


def parse_lines(
    chunk: Iterable[tuple[int, str]], actor: str
) -> tuple[list[tuple[int, Input]], list[LineError]]:
    """Parse numbered import lines: each good one as its `Input`, each bad one's errors."""
    inputs: list[tuple[int, Input]] = []
    errors: list[LineError] = []
    for number, text in chunk:
        parsed, line_errors = ev.parse_line(text, line=number)
        errors.extend(line_errors)
        if parsed is not None:
            inputs.append((number, Input.of(parsed, actor)))
    return inputs, errors


def parse_body(body: bytes, actor: str) -> tuple[list[Input], list[LineError]]:
    """A ``POST /events`` body — one event or a list, numbered from 1 — as the
    inputs it records for ``actor`` (who may not name another actor), or every
    error it has."""
    try:
        decoded = ev.decode_exact(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return [], [LineError(1, None, f"malformed JSON: {exc}")]
    items = decoded if isinstance(decoded, list) else [decoded]
    if not items:
        return [], [LineError(1, None, "an empty list records nothing")]
    inputs: list[Input] = []
    errors: list[LineError] = []
    for number, obj in enumerate(items, start=1):
        item, item_errors = ev.parse_event(obj, line=number)
        errors.extend(item_errors)
        if item is not None and item.actor not in {None, actor}:
            errors.append(LineError(number, "actor", "the actor is the token's; leave it out"))
        elif item is not None:
            inputs.append(Input.of(item, actor))
    return inputs, errors


def parse_body_wire(body: bytes, actor: str) -> bytes:
    """`parse_body` in a worker process (the API's large bodies), answered in the
    light form `parse_chunk` uses; `inputs_from_wire` reads it back."""
    with bulk(freeze=False):  # a worker process: see `parse_chunk`
        inputs, errors = parse_body(body, actor)
        return _wire([(n, i) for n, i in enumerate(inputs, start=1)], errors)


def inputs_from_wire(answer: bytes) -> tuple[list[Input], list[LineError]]:
    """What `parse_body_wire` (or `parse_chunk`) answered, back as inputs and errors."""
    inputs, errors = orjson.loads(answer)
    return [Input.from_wire(wire) for wire in inputs], [LineError(*e) for e in errors]


def _wire(inputs: Sequence[tuple[int, Input]], errors: Sequence[LineError]) -> bytes:
    return orjson.dumps(
        [
            [
                (
                    n,
                    i.type,
                    i.occurred_text or i.occurred_at.isoformat(),
                    i.actor,
                    i.content_sha256,
                    i.data,
                )
                for n, i in inputs
            ],
            [(e.line, e.field, e.reason, e.status) for e in errors],
        ]
    )


def parse_chunk(chunk: list[tuple[int, str]], actor: str) -> bytes:
    """`parse_lines` in a worker process (`Ledger.import_lines`), answered as JSON.

    ``[inputs, errors]``: each good line as a `WireInput` (its payload and
    content hash computed here, so the importing process only checks the
    rules), each bad line as ``[line, field, reason, status]``. A validated
    model costs more to send between processes than to make (20 µs against 11
    measured); this light form, a tenth of that.

    The cyclic collector is paused for the chunk: the worker holds nothing
    between chunks, and the rounds its validated models set off cost 9 % of
    the parse (measured: 11.8 against 10.8 µs a line).
    """
    with bulk(freeze=False):
        inputs, errors = parse_lines(chunk, actor)
        return _wire(inputs, errors)


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

# The kinds of stream each key field names.
_KEY_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (name, tuple(cls.KIND for cls in classes))
    for name, classes in (
        ("rep_id", (Rep,)),
        ("sale_id", (Sale,)),
        ("target_id", (Target,)),
        ("case_id", (Case,)),
        ("adjustment_id", (Adjustment,)),
        ("run_id", (PayoutRun,)),
        ("dispute_id", (Dispute,)),
        ("subject_id", (Decision, Target, Case, Adjustment, PayoutRun)),
    )
)


# -- the rules, one handler per event type ------------------------------------


def _already_stored(
    st: Staging, cls: type[LedgerAggregate], key: str, item: Input, *, what: str, field: str
) -> bool:
    """SPEC §2 natural keys: True when this fact is stored identically (skip it);
    ConflictError when the key is stored with other content; False when new."""
    existing = st.get(cls, key)
    if existing is None:
        return False
    receipt: Receipt = existing.recorded  # type: ignore[attr-defined]
    return receipt.check_same(item.content_sha256, key=what, field=field)


def _check_period_kind(st: Staging, rep: Rep, period: str, at: datetime) -> None:
    plan = st.plan(rep.plan_at(at))
    if plan is not None and parse_period(period).kind != plan.period:
        example = "2026-07" if plan.period == "month" else "2026-Q3"
        raise InvalidInputError(
            f"rep {rep.rep_id}'s plan {plan.plan_id} pays by {plan.period}; "
            f"write the period like {example}",
            field="period",
        )


def _check_plan_money(st: Staging, rep: Rep, item: Input) -> None:
    """SPEC §2: money other than a sale's (an adjustment, the money a case
    involved) is in the rep's plan currency, so it has that currency's decimals
    (0 for JPY, 3 for KWD): checked here, where the plan is known."""
    amount = item.data.get("amount")
    plan = st.plan(rep.plan_at(item.occurred_at))
    if amount is None or plan is None:
        return
    try:
        check_money(Decimal(amount), plan.currency)
    except ValueError as exc:
        raise InvalidInputError(
            f"{exc} (rep {rep.rep_id}'s plan {plan.plan_id} pays in {plan.currency})",
            field="amount",
        ) from None


def _plan_published(st: Staging, item: Input) -> None:
    plan = Plan.model_validate(item.data["plan"])  # rare: the document validates back
    key = PlanVersion.key_of(plan.id, plan.version)
    if _already_stored(st, PlanVersion, key, item, what=f"plan {key}", field="plan.version"):
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
    known = earlier or PlanInfo(plan.id, plan.currency, plan.period)
    st._staged_plans[plan.id] = known.with_version(PlanTerms.of(plan))  # noqa: SLF001
    st.create(PlanVersion, key, item)


def _rep_enrolled(st: Staging, item: Input) -> None:
    rep_id, plan_id = item.data["rep_id"], item.data["plan_id"]
    existing = st.get(Rep, rep_id)
    if existing is not None:
        existing.enrolled.check_same(item.content_sha256, key=f"rep {rep_id}", field="rep_id")
        return
    if st.plan(plan_id) is None:
        raise UnknownReferenceError(f"unknown plan {plan_id!r}", field="plan_id")
    st.create(Rep, rep_id, item)


def _rep_fact(st: Staging, item: Input) -> None:
    data = item.data
    rep = st.require(Rep, data["rep_id"], field="rep_id", what="rep")
    if item.type == "RepPlanAssigned" and st.plan(data["plan_id"]) is None:
        raise UnknownReferenceError(f"unknown plan {data['plan_id']!r}", field="plan_id")
    if item.type == "KpiScored":
        _check_period_kind(st, rep, data["period"], item.occurred_at)
    if rep.record_fact(item.type, **item.kwargs()):
        st.collect(rep)
        if item.type == "KpiScored":
            _warn_kpi(st, rep, item)


def _rep_left(st: Staging, item: Input) -> None:
    rep = st.require(Rep, item.data["rep_id"], field="rep_id", what="rep")
    if rep.leave(**item.kwargs()):
        st.collect(rep)


def _target_set(st: Staging, item: Input) -> None:
    data = item.data
    target_id = data["target_id"]
    if _already_stored(st, Target, target_id, item, what=f"target {target_id}", field="target_id"):
        return
    rep = st.require(Rep, data["rep_id"], field="rep_id", what="rep")
    _check_period_kind(st, rep, data["period"], item.occurred_at)
    st.create(Target, target_id, item)
    _warn_kpi(st, rep, item)


def _warn_kpi(st: Staging, rep: Rep, item: Input) -> None:
    """Warn, don't guess: a TargetSet or KpiScored whose KPI is not in the rep's
    plan (the version in force for its period) weighs nothing in the score."""
    period = parse_period(item.data["period"])
    kpi = item.data["kpi"]

    def check(plan: PlanInfo) -> PayWarning | None:
        terms = plan.terms_for(period)
        return kpi_warning(terms, kpi) if terms is not None else None

    st.warn_against(rep.plan_at(item.occurred_at), check)


def _warn_sale(st: Staging, rep: Rep, plan: PlanInfo | None, item: Input) -> None:
    """Warn, don't guess: a category that differs from a plan category only by
    case or spacing (the default rate applies), a sale whose own rep is not
    among its splits (credited nothing). Cheap when neither applies — a sale is
    most of the log: two set lookups against the categories of every version;
    only a look-alike is checked against the version in force for its period
    (a category another version rates but the one in force does not is left
    to the statement's own check)."""
    data = item.data
    splits = data.get("splits")
    if splits and all(s["rep_id"] != rep.rep_id for s in splits):
        shares = [(str(s["rep_id"]), Decimal(s["share"])) for s in splits]
        warning = splits_warning(data["sale_id"], rep.rep_id, shares)
        if warning is not None:
            st.warn(warning)
    category = data.get("category")
    if (
        category is None
        or plan is None
        or category in plan.categories  # a rate of its own (the common case)
        or folded(category) not in plan.folded_categories  # like none of the plan's
    ):
        return
    period = period_of(item.occurred_at, cast("PeriodKind", plan.period))
    terms = plan.terms_for(period)
    if terms is None or category in terms.categories:
        return

    def check(fresh: PlanInfo) -> PayWarning | None:
        found = fresh.terms_for(period)
        return category_warning(found, category) if found is not None else None

    st.warn_against(plan.plan_id, check)


def _sale_recorded(st: Staging, item: Input) -> None:
    data = item.data
    sale_id = data["sale_id"]
    if _already_stored(st, Sale, sale_id, item, what=f"sale {sale_id}", field="sale_id"):
        return
    rep = st.require(Rep, data["rep_id"], field="rep_id", what="rep")
    for i, split in enumerate(data.get("splits", ())):
        st.require(Rep, split["rep_id"], field=f"splits[{i}].rep_id", what="rep")
    plan = st.plan(rep.plan_at(item.occurred_at))
    if plan is not None and plan.currency != data["currency"]:
        raise InvalidInputError(
            f"rep {rep.rep_id}'s plan {plan.plan_id} pays in {plan.currency}, "
            f"not {data['currency']}",
            field="currency",
        )
    st.create(Sale, sale_id, item)
    _warn_sale(st, rep, plan, item)


def _sale_cancelled(st: Staging, item: Input) -> None:
    sale = st.require(Sale, item.data["sale_id"], field="sale_id", what="sale")
    if sale.cancel(**item.kwargs()):
        st.collect(sale)


def _violation_recorded(st: Staging, item: Input) -> None:
    case_id = item.data["case_id"]
    if _already_stored(st, Case, case_id, item, what=f"case {case_id}", field="case_id"):
        return
    rep = st.require(Rep, item.data["rep_id"], field="rep_id", what="rep")
    _check_plan_money(st, rep, item)
    st.create(Case, case_id, item)


def _violation_overturned(st: Staging, item: Input) -> None:
    case = st.require(Case, item.data["case_id"], field="case_id", what="case")
    if case.overturn(**item.kwargs()):
        st.collect(case)


def _adjustment_requested(st: Staging, item: Input) -> None:
    data = item.data
    adjustment_id = data["adjustment_id"]
    what = f"adjustment {adjustment_id}"
    if _already_stored(st, Adjustment, adjustment_id, item, what=what, field="adjustment_id"):
        return
    rep = st.require(Rep, data["rep_id"], field="rep_id", what="rep")
    _check_period_kind(st, rep, data["period"], item.occurred_at)
    _check_plan_money(st, rep, item)
    st.create(Adjustment, adjustment_id, item)


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


def _decision(st: Staging, item: Input) -> None:
    subject_id = item.data["subject_id"]
    existing = st.get(Decision, subject_id)
    if existing is not None:
        if existing.recorded.content_sha256 == item.content_sha256:
            return
        verdict = "approved" if existing.granted else "rejected"
        raise AlreadyDecidedError(
            f"{subject_id} was already {verdict} by {existing.recorded.actor} "
            f"at {existing.recorded.occurred_at.isoformat()}; a subject takes one decision",
            field="subject_id",
        )
    subject = find_subject(st, subject_id)
    if not subject.needs_approval:
        raise InvalidInputError(
            f"{subject.subject_label} needs no approval (only targets that take effect "
            "or are recorded after their period started, adjustments, red-line cases "
            "and payout runs do)",
            field="subject_id",
        )
    if same_actor(subject.recorded.actor, item.actor):
        raise SelfApprovalError(
            f"{item.actor} recorded {subject.subject_label} and cannot also decide on "
            "it (maker-checker): another person must",
            field="actor",
        )
    if isinstance(subject, PayoutRun):
        _run_decision(st, subject, granted=item.type == "ApprovalGranted")
    st.add(Decision.decide(granted=item.type == "ApprovalGranted", **item.kwargs()), subject_id)


def _run_decision(st: Staging, run: PayoutRun, *, granted: bool) -> None:
    """Approving a payout run is a payout step: not on a broken chain (SPEC §6).
    Rejecting one pays nobody — and is what finance may well want to do on
    finding a broken chain — so it is not held up; it frees the run's reps for
    another run (SPEC §5), which the chain guard then holds up in turn."""
    if granted:
        st.guard_chain()
    else:
        st.stage_claims(run.period, run.run_id, run.rep_ids, REJECTED)


def _dispute_raised(st: Staging, item: Input) -> None:
    data = item.data
    dispute_id, rep_id, run_id = data["dispute_id"], data["rep_id"], data["run_id"]
    what = f"dispute {dispute_id}"
    if _already_stored(st, Dispute, dispute_id, item, what=what, field="dispute_id"):
        return
    st.require(Rep, rep_id, field="rep_id", what="rep")
    run = st.require(PayoutRun, run_id, field="run_id", what="payout run")
    if rep_id not in run.rep_ids:
        raise InvalidInputError(
            f"payout run {run_id} has no statement for rep {rep_id}", field="run_id"
        )
    st.create(Dispute, dispute_id, item)


def _dispute_resolved(st: Staging, item: Input) -> None:
    dispute = st.require(Dispute, item.data["dispute_id"], field="dispute_id", what="dispute")
    adjustment_id = item.data.get("adjustment_id")
    if adjustment_id is not None:
        adjustment = st.require(Adjustment, adjustment_id, field="adjustment_id", what="adjustment")
        if adjustment.rep_id != dispute.rep_id:
            raise InvalidInputError(
                f"adjustment {adjustment_id} is for rep {adjustment.rep_id}, the "
                f"dispute for rep {dispute.rep_id}",
                field="adjustment_id",
            )
    if dispute.resolve(**item.kwargs()):
        st.collect(dispute)


def _payout_calculated(st: Staging, item: Input) -> None:
    """SPEC §5: a run covers only reps whose period is neither paid nor in another
    open run, and covers someone. Checked here, under the writer lock, against
    the claims index (`ledger.payout_claims`): two runs computed at once by two
    processes cannot both take a rep — the second is checked after the first
    is appended, and refused (the service then plans again)."""
    data = item.data
    run_id, period = data["run_id"], data["period"]
    if _already_stored(st, PayoutRun, run_id, item, what=f"payout run {run_id}", field="run_id"):
        return
    st.guard_chain()
    rep_ids = [s["rep_id"] for s in data["statements"]]
    if not rep_ids:
        raise InvalidInputError(
            f"payout run {run_id} covers no rep; a run that would cover nobody is refused",
            field="statements",
        )
    seen: set[str] = set()
    claims = st.claims(period, rep_ids)
    for i, rep_id in enumerate(rep_ids):
        if rep_id in seen:
            raise InvalidInputError(
                f"rep {rep_id} has two statements in payout run {run_id}",
                field=f"statements[{i}].rep_id",
            )
        seen.add(rep_id)
        holder = holder_of(claims, rep_id, run_id)
        if holder is not None:
            raise ConflictError(describe_holder(holder), field=f"statements[{i}].rep_id")
    st.create(PayoutRun, run_id, item)
    st.stage_claims(period, run_id, rep_ids, CALCULATED)


def _payout_paid(st: Staging, item: Input) -> None:
    """SPEC §5: `payout pay` pays an approved run, and refuses — paying nobody — a
    run any of whose reps' period was paid meanwhile by another run. The rule
    above keeps two open runs from holding one rep, but a store written before
    it held may have them; whichever is paid first locks the period."""
    run_id = item.data["run_id"]
    run = st.require(PayoutRun, run_id, field="run_id", what="payout run")
    decision = st.get(Decision, run_id)
    if decision is None or not decision.granted:
        state = "was rejected" if decision is not None else "is not approved yet"
        raise InvalidInputError(
            f"payout run {run_id} {state}; only an approved run can be paid",
            field="run_id",
        )
    if run.paid is not None:
        return  # paid already: the same fact, skipped
    st.guard_chain()
    paid_elsewhere = sorted(
        (c for c in st.claims(run.period, run.rep_ids) if c.state == PAID and c.run_id != run_id),
        key=lambda c: (c.rep_id, c.position),
    )
    if paid_elsewhere:
        first = paid_elsewhere[0]
        reps = ", ".join(dict.fromkeys(c.rep_id for c in paid_elsewhere))
        raise ConflictError(
            f"payout run {run_id} was not paid, for nobody: the {run.period} of rep(s) "
            f"{reps} was paid meanwhile (first by payout run {first.run_id}); a rep's "
            "period is paid at most once. Reject this run and run the period again "
            "for the others",
            field="run_id",
        )
    if run.pay(**item.kwargs()):
        st.collect(run)
        st.stage_claims(run.period, run_id, run.rep_ids, PAID)


_HANDLERS: dict[str, Callable[[Staging, Input], None]] = {
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
