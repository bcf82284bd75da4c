"""The write side: SPEC §2's rules, applied to a batch of inputs all or nothing.

A batch is staged first — every input checked against what is stored *and* what
earlier inputs of the same batch did — and only when every input is good are the
resulting events saved, in input order. Each input yields at most one event: it is
*stored*, or *skipped* because the very same fact is stored already (natural
keys). A natural key stored with other content is a conflict.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.domain import datetime_now_with_tzinfo
from eventsourcing.persistence import StoredEvent

from ledger import catalogue
from ledger import events as ev
from ledger.actors import actor_key, checked_actor
from ledger.decision import Decision
from ledger.domain import LedgerAggregate, Receipt, event_topic, natural_id, stream_id
from ledger.errors import (
    ConflictError,
    InvalidInputError,
    KeyConflictError,
    LedgerError,
    LineError,
    UnknownReferenceError,
    given_twice,
    quoted_id,
)
from ledger.key_tables import KeyTable
from ledger.payout_claims import Claim
from ledger.plan import PlanInfo
from ledger.rep import Rep
from ledger.sale import Sale
from ledger.transcoder import OrjsonTranscoder
from policies.pay_warnings import PayWarning

if TYPE_CHECKING:
    from eventsourcing.persistence import Mapper

__all__ = [
    "HandOff",
    "Input",
    "NaturalKey",
    "PlanInfo",
    "StagedInput",
    "Staging",
    "StreamReader",
    "WireInput",
    "ids_touched",
    "unknown_subject",
]

A = TypeVar("A", bound=LedgerAggregate)

# An input in the light form an import's parse worker sends back
# (`ledger.ingestion.parse.parse_chunk`): (line, type, occurred_at ISO text,
# actor, content_sha256, payload).
WireInput = tuple[int, str, str, str, str, dict[str, Any]]


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

    def signed_zero_sha256(self) -> str | None:
        """The content hash this fact had if it was stored with its zero signed
        (`ledger.events.signed_zero_sha256`), or None."""
        occurred_text = self.occurred_text or self.occurred_at.isoformat()
        return ev.signed_zero_sha256(self.type, occurred_text, self.data)

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of an event-triggering aggregate method."""
        return {
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "content_sha256": self.content_sha256,
            "data": self.data,
        }


class StagedInput(NamedTuple):
    """The outcome of one input: stored (with its event) or skipped, and what
    it was accepted with but is probably a mistake (`policies.pay_warnings`)."""

    line: int
    type: str
    stored: bool
    warnings: tuple[PayWarning, ...] = ()


class FxMoments(Protocol):
    """The moments from which the stored rates of a currency pair hold."""

    def __call__(self, base: str, quote: str, *, fresh: bool) -> Sequence[datetime]: ...


class TargetDates(Protocol):
    """(occurred_at, target_id) of the stored targets of a rep's KPI for a period."""

    def __call__(
        self, rep_id: str, period: str, kpi: str, *, fresh: bool
    ) -> Sequence[tuple[datetime, str]]: ...


class StreamReader(Protocol):
    """Where staging loads aggregates from: the recorder, or an open append session
    (which also sees what the session itself appended)."""

    def select_streams(self, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]: ...

    def select_claims(self, period: str, rep_ids: Sequence[str]) -> list[Claim]: ...

    def select_keys(self, table: KeyTable, keys: Sequence[str]) -> dict[str, str]: ...


# (rep, period, kpi) -> (occurred_at, target_id) of its targets, in the order recorded
TargetsByKpi = Mapping[tuple[str, str, str], Sequence[tuple[datetime, str]]]


class HandOff(NamedTuple):
    """What a unit of work staged that the next one must see when it is staged
    before this one is committed (the API's pipelined group commit) and goes in
    as staged — beyond the reps and plan streams it starts from (`Staging.kept`),
    and which no stream version of the next one would make collide: the targets
    it set (a second target of a KPI is said against them), the decisions it
    made (a rejected target counts no more, so none is said against it) and the
    plan versions it published (a KPI, a category, a period without a version
    in force is said against the version in force; the plans' cache and the
    store hold none of them yet). The FX rates it set are not handed on: a sale
    that needs one is refused without it, and a refusal is staged again under
    the lock, where the rate is stored — no answer depends on seeing it here."""

    targets: TargetsByKpi
    decisions: Mapping[NaturalKey, LedgerAggregate]
    plans: Mapping[str, PlanInfo]


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
    (a new sale id, say; a payment id, claimed in the store's table,
    `ledger.payment_keys`) are not looked up: they are assumed new, and the
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
        fx_rates: FxMoments | None = None,
        targets: TargetDates | None = None,
        rep_ids: Callable[[], Sequence[str]] | None = None,
        after: HandOff | None = None,
    ) -> None:
        """``loaded``: aggregates known to be as stored (see `kept`); ``after``:
        what the unit of work before this one staged, not committed yet (`HandOff`).
        ``fresh_plans``: a plan as the store holds it now (``plans`` may answer
        from a cache), read before a warning is given against it.
        ``chain_guard``: raises `BrokenChainError` when the audit chain, read
        through ``recorder``, is broken (SPEC §6: no payout step on a broken
        chain); asked once, by the first payout input (`guard_chain`).
        ``fx_rates(base, quote, fresh)``: the moments from which stored
        ``FxRateSet`` rates of the pair hold (``fresh``: read the store again
        first), what a sale in a foreign currency is checked against.
        ``targets(rep_id, period, kpi, fresh)``: the stored targets of a rep's
        KPI for a period (``fresh``: read the store again first; once per unit
        of work), what a second target is said against (`targets_of`).
        ``rep_ids()``: every stored rep's id (read afresh), what a plan with
        ``[override]`` is checked against (`reps`)."""
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
        self._fx_rates = fx_rates
        self._rep_ids = rep_ids
        # Reps enrolled by this unit of work, in order: `reps` must see those of
        # a streamed import's earlier chunks (appended, not committed: not among
        # ``rep_ids``) after a `reset` emptied what was loaded.
        self._staged_reps: list[str] = []
        self._staged_reps_checkpoint = 0
        # The stored claims looked up, by key table (`ledger.key_tables`: what the
        # store refuses a second spelling, a payment id of another sale against),
        # then by key: its owner, None when unclaimed
        self._claimed: dict[str, dict[str, str | None]] = {}
        # payments staged here, by payment id: their sale's id and receipt
        self._staged_payments: dict[str, tuple[str, Receipt]] = {}
        # of the reps staged here, those whose id is not in its actor form, by that form
        self._staged_spellings: dict[str, str] = {}
        # FxRateSet staged in this unit of work: (base, quote) -> their moments
        self._staged_fx: dict[tuple[str, str], list[datetime]] = {}
        self._fx_checkpoint: dict[tuple[str, str], list[datetime]] = {}
        self._targets = targets
        self._targets_read = False  # the stored ones read afresh once per unit
        # TargetSet staged in this unit of work: (rep, period, kpi) -> (occurred_at, target_id)
        self._staged_targets: dict[tuple[str, str, str], list[tuple[datetime, str]]] = {}
        self._targets_checkpoint: dict[tuple[str, str, str], list[tuple[datetime, str]]] = {}
        self._loaded: dict[NaturalKey, LedgerAggregate | _Fresh | None] = dict(loaded or {})
        # what the unit before staged (`HandOff`), and what this one hands on
        self._targets_before: TargetsByKpi = after.targets if after is not None else {}
        self._plans_before: Mapping[str, PlanInfo] = after.plans if after is not None else {}
        if after is not None:
            self._loaded.update(after.decisions)
        self._decided: dict[NaturalKey, LedgerAggregate] = {}
        self.pending: list[StoredEvent] = []
        # Creation events are encoded straight into the mapper's stored form
        # (same bytes, see tests/unit/test_stored_form.py) unless the mapper
        # also compresses or encrypts.
        self._direct = mapper.compressor is None and mapper.cipher is None
        self._stamp: dict[str, str] | None = None  # see `apply_all`
        # the content hash of each fact the batch being applied (or last applied,
        # until `forget` or `reset`) staged, and the line of its input
        # (`apply_all`: a key given twice in it is no conflict with a stored fact)
        self._staged_by: dict[str, int] = {}
        # the same of the batches before it in this unit of work, each kept by
        # `forget` (a streamed import's earlier chunks, appended: in the store's
        # view they are stored, though the import has not committed them)
        self._staged_before = _StagedBefore()

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
            raise UnknownReferenceError(f"unknown {what} {quoted_id(key)}", field=field)
        return found

    def load_for(self, items: Iterable[Input]) -> None:
        """Load what ``items`` will read, in a few queries; optimistic: the keys
        they create are assumed new, not looked up."""
        touched = list(items)
        forms: list[str] = []
        payments: list[str] = []
        enrolment, payment = catalogue.REP_KEY_TYPE, catalogue.PAYMENT_KEY_TYPE
        for item in touched:
            if item.type == enrolment:
                forms.append(actor_key(item.data["rep_id"]))
            elif item.type == payment:
                payments.append(item.data["payment_id"])
        self.claimed(catalogue.REP_KEYS, forms)
        if not self.optimistic:
            self.claimed(catalogue.PAYMENT_KEYS, payments)
            self.prefetch(ids_touched(touched))
            return
        # what the items create is assumed new: their payment ids, their streams
        unclaimed = self._claimed.setdefault(catalogue.PAYMENT_KEYS.name, {})
        unclaimed.update(dict.fromkeys(payments))
        created: list[NaturalKey] = []
        for item in touched:
            creates = catalogue.CREATES.get(item.type)
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
        """Plan ``plan_id`` with its versions staged here, else by the unit
        before (`HandOff`), else as stored (from the cache)."""
        return (
            self._staged_plans.get(plan_id)
            or self._plans_before.get(plan_id)
            or self._plans(plan_id)
        )

    def reps(self) -> list[Rep]:
        """Every rep, stored or staged in this unit of work, as it stands here
        (read in a few queries; for the rare input that reads the whole org)."""
        stored = self._rep_ids() if self._rep_ids is not None else ()
        keys: dict[NaturalKey, None] = dict.fromkeys((Rep.KIND, rep_id) for rep_id in stored)
        keys.update(dict.fromkeys((Rep.KIND, rep_id) for rep_id in self._staged_reps))
        keys.update(dict.fromkeys(k for k in self._loaded if k[0] == Rep.KIND))
        self.prefetch(keys)
        found = (self.get_loaded(key) for key in keys)
        return [rep for rep in found if isinstance(rep, Rep)]

    def rep_in_another_spelling(self, rep_id: str) -> str | None:
        """The rep, stored or staged, whose id is ``rep_id`` in another spelling
        (the same actor form, SPEC §2: ``Lead-He`` and ``lead-he`` name one
        identity — scope compares them as actors), or None.

        The stored ones are the store's own claims (`ledger.rep_keys`: each
        enrolment claims its id's form in the transaction that appends it), read
        through this unit's reader — its append session, which holds the claims
        of what it appended, under the lock — not a list kept of the log."""
        key = actor_key(rep_id)
        if key != rep_id and self.get(Rep, key) is not None:
            return key
        found = self._staged_spellings.get(key)
        if found is None:
            found = self.claimed(catalogue.REP_KEYS, [key]).get(key)
        return found if found != rep_id else None

    def claimed(self, table: KeyTable, keys: Iterable[str]) -> dict[str, str]:
        """The stored owner of each of ``keys`` claimed in ``table`` (the
        store's, `ledger.key_tables`: a rep id of an actor form, a sale id of a
        payment id), looked up once per unit of work: in one query for the
        inputs of a batch (`load_for`)."""
        claimed = self._claimed.setdefault(table.name, {})
        asked = list(dict.fromkeys(keys))
        wanted = [k for k in asked if k not in claimed]
        if wanted:
            found = self._recorder.select_keys(table, wanted)
            for key in wanted:
                claimed[key] = found.get(key)
        return {k: owner for k in asked if (owner := claimed.get(k)) is not None}

    def paid_elsewhere(self, payment_id: str, sale_id: str) -> tuple[str, Receipt | None] | None:
        """The sale other than ``sale_id`` holding payment ``payment_id``, staged
        here or stored (the store's claim, `ledger.payment_keys`), with that
        payment's receipt (None: the sale does not hold it as the table says);
        or None.

        SPEC §2: ``payment_id`` is the payment's natural key, whatever its sale."""
        found = self._staged_payments.get(payment_id)
        if found is None:
            # the batch's ids were looked up together, or assumed new (`load_for`)
            other = self.claimed(catalogue.PAYMENT_KEYS, [payment_id]).get(payment_id)
            if other is None:
                return None
            sale = self.get(Sale, other)
            stored = (sale.payments or {}).get(payment_id) if sale is not None else None
            return (other, stored[0] if stored else None) if other != sale_id else None
        return found if found[0] != sale_id else None

    def stage_payment(self, payment_id: str, sale_id: str, item: Input) -> None:
        """Note payment ``payment_id`` of sale ``sale_id`` staged (`paid_elsewhere`)."""
        receipt = Receipt(item.content_sha256, item.actor, item.occurred_at)
        self._staged_payments[payment_id] = (sale_id, receipt)

    def _note_spelling(self, rep_id: str) -> None:
        if (key := actor_key(rep_id)) != rep_id:
            self._staged_spellings.setdefault(key, rep_id)

    def stage_fx_rate(self, base: str, quote: str, occurred_at: datetime) -> None:
        """Note a rate staged in this unit of work (a later sale may need it)."""
        self._staged_fx.setdefault((base, quote), []).append(occurred_at)

    def has_fx_rate(self, base: str, quote: str, at: datetime) -> bool:
        """SPEC §3.1: whether a rate for exactly ``base`` → ``quote`` is in force at
        ``at`` (an ``FxRateSet`` of the pair at or before it), stored or staged.
        The stored rates come from a cache: read again before saying no."""
        if any(moment <= at for moment in self._staged_fx.get((base, quote), ())):
            return True
        if self._fx_rates is None:
            return False
        return any(moment <= at for moment in self._fx_rates(base, quote, fresh=False)) or any(
            moment <= at for moment in self._fx_rates(base, quote, fresh=True)
        )

    def stage_target(
        self, key: tuple[str, str, str], occurred_at: datetime, target_id: str
    ) -> None:
        """Note a target of (rep, period, kpi) ``key`` staged in this unit of work."""
        self._staged_targets.setdefault(key, []).append((occurred_at, target_id))

    def targets_of(self, key: tuple[str, str, str]) -> list[tuple[datetime, str]]:
        """(occurred_at, target_id) of the targets of (rep, period, kpi) ``key``,
        stored, staged by the unit before (those it has not committed by the
        time the store is read), then staged here: in the order they were recorded."""
        stored: Sequence[tuple[datetime, str]] = ()
        if self._targets is not None:
            stored = self._targets(*key, fresh=not self._targets_read)
            self._targets_read = True
        before = self._targets_before.get(key, ())
        if before:
            known = {target_id for _, target_id in stored}
            before = [t for t in before if t[1] not in known]
        return [*stored, *before, *self._staged_targets.get(key, ())]

    def handed_on(self) -> HandOff:
        """What this unit staged that a next one staged before it is committed
        must see (`HandOff`): its own targets and decisions, not those handed
        to it (the unit before it is committed by the time the next is staged)."""
        targets = {key: list(staged) for key, staged in self._staged_targets.items()}
        return HandOff(targets, dict(self._decided), dict(self._staged_plans))

    def warn_against(self, plan_id: str, check: Callable[[PlanInfo], PayWarning | None]) -> None:
        """Give the warning ``check`` finds against plan ``plan_id``, if any.

        Plans are known from a cache read up to the position this unit stands
        on (`Ledger.staging`); a warning found against a plan not published in
        this unit of work (nor by the unit before it, whose versions the store
        does not hold yet) is checked again against the versions stored by now
        first (once per plan and unit of work: the rare path, never the common
        one) — a version published since then by another process.
        """
        plan = self.plan(plan_id)
        if plan is None:
            return
        warning = check(plan)
        if (
            warning is not None
            and self._fresh_plans is not None
            and plan_id not in self._staged_plans
            and plan_id not in self._plans_before
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
        self._fx_checkpoint = {pair: list(m) for pair, m in self._staged_fx.items()}
        self._targets_checkpoint = {k: list(t) for k, t in self._staged_targets.items()}
        self._staged_reps_checkpoint = len(self._staged_reps)
        self._staged_claims = []  # appended: the session reads them from the index now
        self._claimed = {}  # the chunk's enrolments, payments claimed their keys: read again
        self._staged_payments = {}  # appended: the session reads them from the table now
        self._staged_before.add(self._staged_by)
        self._staged_by = {}

    def reset(self) -> None:
        """Undo everything staged since the last `forget` (its chunk was not appended)."""
        self._loaded = {}
        self.pending = []
        self._staged_plans = dict(self._checkpoint)
        self._staged_fx = {pair: list(m) for pair, m in self._fx_checkpoint.items()}
        self._staged_targets = {k: list(t) for k, t in self._targets_checkpoint.items()}
        del self._staged_reps[self._staged_reps_checkpoint :]
        if self._staged_spellings:  # rare: rebuilt from the reps still staged
            self._staged_spellings = {}
            for rep_id in self._staged_reps:
                self._note_spelling(rep_id)
        self._staged_claims = []
        self._claimed = {}
        self._staged_payments = {}
        self._staged_by = {}

    # -- approvals ---------------------------------------------------------------

    def subject(self, subject_id: str) -> LedgerAggregate:
        """The target, case, adjustment or payout run (whatever the catalogue
        says needs approval) that an approval decides on."""
        found = [
            s for cls in catalogue.SUBJECT_KINDS if (s := self.get(cls, subject_id)) is not None
        ]
        if not found:
            raise unknown_subject(subject_id)
        if len(found) > 1:
            kinds = ", ".join(type(s).__name__.lower() for s in found)
            raise InvalidInputError(
                f"subject id {subject_id!r} names more than one subject ({kinds})",
                field="subject_id",
            )
        return found[0]

    @staticmethod
    def needs_approval(subject: LedgerAggregate) -> bool:
        """SPEC §2 maker-checker for a stored subject (`ledger.catalogue.needs_approval`)."""
        type_ = catalogue.subject_type(subject.KIND)
        recorded = subject.recorded
        return type_ is not None and catalogue.needs_approval(
            type_, subject.data, recorded.occurred_at, subject.created_on
        )

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
        if aggregate.KIND == Decision.KIND:
            self._decided[aggregate.KIND, key] = aggregate
        self.collect(aggregate)

    def create(self, cls: type[LedgerAggregate], key: str, item: Input) -> None:
        """Stage a new stream of ``cls`` for ``key``: its creation event, ``item``.

        The same as ``add(cls(key=key, **item.kwargs()))`` — what the library's
        aggregate would record and its mapper store — at a fraction of the cost:
        the state is written straight into the transcoder's form (datetimes as
        ``{"_type_": "datetime_iso", "_data_": ...}``), and the aggregate object
        is only made if a later input of the unit needs it.
        """
        if cls.KIND == Rep.KIND:
            self._staged_reps.append(key)
            self._note_spelling(key)
        elif cls in catalogue.SUBJECT_KINDS:
            self._check_subject_id(cls, key, item)
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

    def _check_subject_id(self, cls: type[LedgerAggregate], key: str, item: Input) -> None:
        """SPEC §2: a decision names its subject by id alone, so an id names one
        subject across kinds — a target, a case, an adjustment or a run. An
        adjustment under an approved target's id was approved by that decision,
        and a case under an open run's id left the run undecidable.

        The refusal does not say which kind the id names: its writer may not
        read it (a manager's target under the id of another team's red-line
        case learnt that a case of that id exists) — the id is taken, which a
        natural key cannot keep from anyone who tries it, and nothing more."""
        for other in catalogue.SUBJECT_KINDS:
            if other is not cls and self.get(other, key) is not None:
                field = catalogue.CREATES[item.type][0]
                raise ConflictError(
                    f"{key!r} already names another subject: {_a(cls.KIND)} needs an id "
                    "of its own, since an approval names what it decides by id alone",
                    field=field,
                )

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
        catalogue.CATALOGUE[item.type].apply(self, item)
        assert len(self.pending) <= before + 1, "one input, at most one event"
        if len(self.pending) > before:
            self._staged_by.setdefault(item.content_sha256, index)
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
        commit's, one per append in any case). A key an input gives with other
        content than an earlier input of the batch — or of a batch before it in
        this unit of work (`forget`) — is said given twice, naming both.
        """
        if load:  # else the caller loaded for these items already
            self.load_for(item for _, item in items)
        staged: list[StagedInput] = []
        errors: list[LineError] = []
        self._stamp = _datetime_field(datetime_now_with_tzinfo().isoformat())
        self._staged_by = {}
        try:
            for line, item in items:
                try:
                    staged.append(self.apply(line, item))
                except LedgerError as exc:
                    self._warnings = []  # of a refused input: nothing to warn about
                    errors.append(self._refusal(line, exc))
        finally:
            self._stamp = None
        return staged, errors

    def _refusal(self, line: int, exc: LedgerError) -> LineError:
        """The input of ``line`` refused with ``exc``: a natural key held by a
        fact an earlier input of this batch staged — or of an earlier batch of
        this unit of work, a streamed import's earlier chunk, appended but not
        committed — no stored one — said so (`given_twice`, naming both inputs),
        not as a conflict with what is stored."""
        if isinstance(exc, KeyConflictError):
            earlier = self._staged_by.get(exc.against)
            if earlier is None:
                earlier = self._staged_before.line_of(exc.against)
            if earlier is not None:
                what = (exc.what, earlier)
                reason = given_twice(exc.what, f"input {earlier}", f"input {line}", "batch")
                return LineError(line, exc.field, reason, exc.status, type(exc), twice=what)
        return LineError(line, exc.field, exc.reason, exc.status, type(exc))


_UNLOADED: Any = object()


class _StagedBefore:
    """The facts the earlier batches of a unit of work staged (a streamed
    import's earlier chunks), each by its content hash, with the line of the
    input that staged it: what tells a key given twice in one file, its lines
    chunks apart, from a key stored before the file (`Staging._refusal`).

    Compact, since an import's memory is bounded by its chunk, not its file:
    per fact, its content hash's `hash` (this process's 64 bits of it; two
    facts' collide once in 2**64) and its line, 16 bytes in two arrays per
    chunk (a 1M-line file: 16 MB). A chunk's are sorted the first time they
    are looked in — a refusal's path; an import that is good never looks.
    """

    def __init__(self) -> None:
        # per batch: (hashes, lines, sorted by hash yet)
        self._batches: list[tuple[array[int], array[int], bool]] = []

    def add(self, staged_by: Mapping[str, int]) -> None:
        """Keep a batch's facts: content hash -> line."""
        if staged_by:
            hashes = array("q", map(hash, staged_by))
            self._batches.append((hashes, array("q", staged_by.values()), False))

    def line_of(self, content_sha256: str) -> int | None:
        """The line of the input that staged the fact of ``content_sha256``, or None."""
        wanted = hash(content_sha256)
        for index in range(len(self._batches)):
            hashes, lines = self._sorted(index)
            at = bisect_left(hashes, wanted)
            if at < len(hashes) and hashes[at] == wanted:
                return lines[at]
        return None

    def _sorted(self, index: int) -> tuple[array[int], array[int]]:
        """Batch ``index``'s hashes and lines, sorted by hash (once)."""
        hashes, lines, ordered = self._batches[index]
        if not ordered:
            order = sorted(range(len(hashes)), key=hashes.__getitem__)
            hashes = array("q", (hashes[i] for i in order))
            lines = array("q", (lines[i] for i in order))
            self._batches[index] = (hashes, lines, True)
        return hashes, lines


def _datetime_field(iso_text: str) -> dict[str, str]:
    """A datetime in the transcoder's form (the library's `DatetimeAsISO`)."""
    return {"_type_": "datetime_iso", "_data_": iso_text}


def unknown_subject(subject_id: str) -> UnknownReferenceError:
    """A decision's subject that is not stored (the write rule's refusal, and
    the API's for a subject still being saved)."""
    return UnknownReferenceError(
        f"no target, case, adjustment or payout run has id {quoted_id(subject_id)}",
        field="subject_id",
    )


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


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
    entry = catalogue.CATALOGUE.get(type_)
    if entry is None:
        return catalogue.KEY_FIELDS
    fields = entry.model.model_fields
    return tuple(key for key in catalogue.KEY_FIELDS if key[0] in fields)
