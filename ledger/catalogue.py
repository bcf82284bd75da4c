"""The event catalogue: every SPEC §2 event type, declared once.

Each `EventType` says, for one type: its pydantic input model (`ledger.events`),
its natural key, which roles may write it, whether it is imported or recorded by
the ledger itself, whether and when it needs approval (maker-checker), how the
write side applies it (its rule in `ledger.rules`, and the stream it starts),
and what the read side needs to place it (`projections.facts`). Every list of
event types the code needs is derived from `CATALOGUE` below: the stored topics,
the discriminated union an import validates with, the importable types, the
write dispatch, the streams a batch loads, the roles' write rights, the
approval subjects and the payout claims index.

Adding an event type is one entry here, plus its model, its rule, and its fold
on the read side (see ARCHITECTURE.md, "Adding an event type");
``tests/unit/test_catalogue.py`` fails when a list of event types appears
anywhere else.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Annotated, Any, Final, Literal

from pydantic import Field, TypeAdapter

from ledger import events as ev
from ledger import rules
from ledger.adjustment import Adjustment
from ledger.case import Case
from ledger.decision import Decision
from ledger.dispute import Dispute
from ledger.domain import LedgerAggregate, event_topic
from ledger.key_tables import KeyTable
from ledger.payment_keys import PaymentKey, payment_keys_of, payment_refusal
from ledger.payout_claims import CALCULATED, PAID, REJECTED
from ledger.payout_run import PayoutRun
from ledger.rep import Rep
from ledger.rep_keys import RepKey, rep_keys_of, spelling_refusal
from ledger.sale import Sale
from ledger.targets import Target
from policies.periods import parse_period

__all__ = [
    "CATALOGUE",
    "CLAIM_STATES",
    "CLAIM_TOPICS",
    "EVENT_TYPES",
    "IMPORTABLE_TYPES",
    "KEY_FIELDS",
    "KEY_TABLES",
    "KEY_TOPICS",
    "PAYMENT_KEYS",
    "PAYMENT_KEY_TOPIC",
    "PAYMENT_KEY_TYPE",
    "REP_KEYS",
    "REP_KEY_TOPIC",
    "REP_KEY_TYPE",
    "SUBJECT_KINDS",
    "AnyEventIn",
    "EventType",
    "MakerChecker",
    "Role",
    "decider_roles",
    "needs_approval",
    "writers_by_role",
]

Role = Literal["integration", "manager", "finance", "compliance", "admin"]
# (data, occurred_at, staged_at) -> whether the stored subject needs an approval
ApprovalRule = Callable[[Mapping[str, Any], datetime, datetime], bool]


def _always(data: Mapping[str, Any], occurred_at: datetime, staged_at: datetime) -> bool:
    """SPEC §2: adjustments and payout runs always need an approval."""
    del data, occurred_at, staged_at
    return True


def _red_line(data: Mapping[str, Any], occurred_at: datetime, staged_at: datetime) -> bool:
    """SPEC §2: a violation needs approval when its severity is ``red_line``."""
    del occurred_at, staged_at
    return bool(data["severity"] == "red_line")


# The earliest offset a period starts in (UTC+14:00, Kiribati): a period has
# started once it has started anywhere.
_EARLIEST = timezone(timedelta(hours=14))
# When rules changed, by the time their events were recorded: what was recorded
# before keeps the rule it was recorded under (its approval status, and the pay
# that rests on it, never changes on a replay). From this moment a target's
# period starts at the earliest start (`_target_after_start`), and a sale after
# the day its rep left credits them nothing (`projections.facts.LEAVER_RULE_FROM`).
RULES_REVISED: Final = datetime(2026, 12, 4, tzinfo=UTC)
EARLIEST_START_FROM: Final = RULES_REVISED


def _target_after_start(
    data: Mapping[str, Any], occurred_at: datetime, staged_at: datetime
) -> bool:
    """SPEC §2: a TargetSet needs approval when it takes effect (``occurred_at``)
    or is recorded (``staged_at``: when the write side staged it, the library's
    event timestamp — the same stored value on every replay) after its period
    started, so backdating ``occurred_at`` escapes nothing.

    The period starts at midnight of its first day at UTC+14:00, the earliest
    it starts anywhere; both instants compare as instants. It started at
    midnight in the event's own offset for targets staged before
    `EARLIEST_START_FROM` — an offset the writer chose: ``-23:00`` put a
    quarter's start a day late, and a target set on its first day for a team in
    ``+08:00`` counted without approval.
    """
    zone = _EARLIEST if staged_at >= EARLIEST_START_FROM else occurred_at.tzinfo
    start = datetime.combine(parse_period(data["period"]).first_day, time(0), zone)
    return occurred_at > start or staged_at > start


@dataclass(frozen=True)
class MakerChecker:
    """When a stored event needs an approval before it counts, and who decides."""

    needed: ApprovalRule
    deciders: frozenset[Role]


@dataclass(frozen=True)
class EventType:
    """One SPEC §2 event type and everything the code needs to know of it."""

    model: type[ev.EventIn]
    # The SPEC §2 natural key: the field(s) that identify the fact, or
    # "content" for an event without an id (its whole content is its key).
    key: str
    # The write rule (`ledger.rules`): checks the input against what is stored
    # and stages its event (or skips it when the same fact is stored).
    apply: rules.Rule
    # Roles that may record it through `POST /events` (the CLI's actor is trusted).
    writers: frozenset[Role] = frozenset()
    # The stream it starts: the aggregate, keyed by the field `key` names.
    creates: type[LedgerAggregate] | None = None
    # Maker-checker: when a stored event of this type needs an approval before
    # it counts, and which roles decide on it (None: it never does).
    approval: MakerChecker | None = None
    # The ledger command that records it ("": imported); such a type is never imported.
    recorded_by: str = ""
    # The payout claims index (`ledger.payout_claims`): the state it writes.
    claim_state: str | None = None
    # Read side (`projections.facts`): it can change any period of its reps
    # (enrolment, plans); its own figures end with the period it names.
    reaches_every_period: bool = False
    bounded_by_period: bool = False
    # The replay index lists it for every rep, not only those it touched when
    # it was folded (a plan, an exchange rate: reps and sales yet to come read it).
    read_by_every_rep: bool = False
    # It says whom a rep reports to (SPEC §3.1 overrides): a manager's windowed
    # replay reads every such event to find the team.
    names_manager: bool = False
    # An override rests on it (SPEC §3.1: the team's credited sales, their
    # plans, rates and reporting lines): the replay index lists it for the
    # managers its reps reported to as well. A type that reaches every period
    # or every rep, or names a manager, does (`reaches_overrides`); this flags
    # the others — the sales, their cancellations and payments. Nothing else of
    # a rep (coaching, cases, scores, targets, adjustments, decisions, runs,
    # disputes) is theirs.
    override_reads: bool = False
    # A fact of the disciplinary history (SPEC §5: compliance reads everyone's,
    # and no one's pay); decisions on cases belong to it too.
    in_history: bool = False

    @property
    def name(self) -> str:
        return self.model.__name__

    @property
    def reaches_overrides(self) -> bool:
        """Whether an override rests on it (`override_reads`)."""
        return (
            self.override_reads
            or self.reaches_every_period
            or self.read_by_every_rep
            or self.names_manager
        )

    @property
    def importable(self) -> bool:
        return not self.recorded_by

    @property
    def why_not_importable(self) -> str:
        return f"recorded by `{self.recorded_by}`, never imported" if self.recorded_by else ""

    @property
    def topic(self) -> str:
        return event_topic(self.name)


_ADMIN: Final = frozenset[Role]({"admin"})
_MANAGER: Final = frozenset[Role]({"manager"})
_INTEGRATION: Final = frozenset[Role]({"integration"})
_COMPLIANCE: Final = frozenset[Role]({"compliance"})
_FINANCE: Final = frozenset[Role]({"finance"})
_DECIDERS: Final = frozenset[Role]({"finance", "compliance"})
_ALWAYS_BY_FINANCE: Final = MakerChecker(_always, _FINANCE)

# One row a type: its model, natural key, write rule and writers, then what sets it apart.
_ENTRIES: Final = (
    EventType(
        ev.PlanPublished,
        "plan.id + plan.version",
        rules.plan_published,
        _ADMIN,
        reaches_every_period=True,
        read_by_every_rep=True,
    ),
    EventType(
        ev.RepEnrolled,
        "rep_id",
        rules.rep_enrolled,
        _ADMIN,
        creates=Rep,
        reaches_every_period=True,
        names_manager=True,
    ),
    EventType(ev.RepPlanAssigned, "content", rules.rep_fact, _ADMIN, reaches_every_period=True),
    EventType(ev.RepTransferred, "content", rules.rep_transferred, _ADMIN, names_manager=True),
    EventType(ev.RepLeft, "rep_id", rules.rep_left, _ADMIN, reaches_every_period=True),
    EventType(
        ev.TargetSet,
        "target_id",
        rules.target_set,
        _MANAGER,
        creates=Target,
        approval=MakerChecker(_target_after_start, _FINANCE),
        bounded_by_period=True,
    ),
    EventType(
        ev.SaleRecorded,
        "sale_id",
        rules.sale_recorded,
        _INTEGRATION,
        creates=Sale,
        override_reads=True,
    ),
    EventType(ev.SaleCancelled, "sale_id", rules.sale_cancelled, _INTEGRATION, override_reads=True),
    EventType(
        ev.PaymentReceived, "payment_id", rules.payment_received, _INTEGRATION, override_reads=True
    ),
    EventType(
        ev.FxRateSet,
        "base + quote + occurred_at",
        rules.fx_rate_set,
        _FINANCE,
        read_by_every_rep=True,
    ),
    EventType(ev.KpiScored, "content", rules.rep_fact, _MANAGER, bounded_by_period=True),
    EventType(ev.CoachingRecorded, "content", rules.rep_fact, _MANAGER, in_history=True),
    EventType(
        ev.ViolationRecorded,
        "case_id",
        rules.violation_recorded,
        _MANAGER | _COMPLIANCE,
        in_history=True,
        creates=Case,
        approval=MakerChecker(_red_line, _COMPLIANCE),
    ),
    EventType(
        ev.ViolationOverturned, "case_id", rules.violation_overturned, _COMPLIANCE, in_history=True
    ),
    EventType(
        ev.AdjustmentRequested,
        "adjustment_id",
        rules.adjustment_requested,
        _FINANCE,
        creates=Adjustment,
        approval=_ALWAYS_BY_FINANCE,
        bounded_by_period=True,
    ),
    EventType(ev.ApprovalGranted, "subject_id", rules.decision, _DECIDERS),
    EventType(ev.ApprovalRejected, "subject_id", rules.decision, _DECIDERS, claim_state=REJECTED),
    EventType(
        ev.PayoutCalculated,
        "run_id",
        rules.payout_calculated,
        recorded_by="payout run",
        creates=PayoutRun,
        approval=_ALWAYS_BY_FINANCE,
        claim_state=CALCULATED,
    ),
    EventType(
        ev.PayoutPaid, "run_id", rules.payout_paid, recorded_by="payout pay", claim_state=PAID
    ),
    EventType(ev.DisputeRaised, "dispute_id", rules.dispute_raised, creates=Dispute),
    EventType(ev.DisputeResolved, "dispute_id", rules.dispute_resolved, _FINANCE),
)

CATALOGUE: Final[Mapping[str, EventType]] = {e.name: e for e in _ENTRIES}

# -- derived: every list of event types the code uses ----------------------------

EVENT_TYPES: Final[tuple[str, ...]] = tuple(CATALOGUE)
IMPORTABLE_TYPES: Final[tuple[str, ...]] = tuple(n for n, e in CATALOGUE.items() if e.importable)
LEDGER_ONLY: Final[Mapping[str, str]] = {
    n: e.why_not_importable for n, e in CATALOGUE.items() if not e.importable
}

# What an import validates a line with: the importable models, by ``type``.
AnyEventIn: Any = Annotated[
    functools.reduce(operator.or_, (CATALOGUE[n].model for n in IMPORTABLE_TYPES)),
    Field(discriminator="type"),
]
EVENT_ADAPTER: Final[TypeAdapter[ev.EventIn]] = TypeAdapter(AnyEventIn)

# The stream each creating type starts: (its key field, the aggregate class).
CREATES: Final[Mapping[str, tuple[str, type[LedgerAggregate]]]] = {
    n: (e.key, e.creates) for n, e in CATALOGUE.items() if e.creates is not None
}

# The aggregates an approval can decide on, and the roles that decide on each kind.
SUBJECT_KINDS: Final[tuple[type[LedgerAggregate], ...]] = tuple(
    e.creates for e in CATALOGUE.values() if e.approval is not None and e.creates is not None
)
_SUBJECT_TYPE: Final[Mapping[str, str]] = {
    e.creates.KIND: n
    for n, e in CATALOGUE.items()
    if e.approval is not None and e.creates is not None
}

# The kinds of stream each key field names (what a batch loads before its rules
# run): every created stream's key field, and ``subject_id`` naming a decision
# or any subject.
# A subject's key field names every kind of subject: one id names one subject
# across kinds (`Staging.create` checks it), so an approval decides on one thing.
KEY_FIELDS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    *(
        (field, (cls.KIND, *(k.KIND for k in SUBJECT_KINDS if k is not cls)))
        if cls in SUBJECT_KINDS
        else (field, (cls.KIND,))
        for field, cls in CREATES.values()
    ),
    ("subject_id", (Decision.KIND, *(cls.KIND for cls in SUBJECT_KINDS))),
)

# The payout claims index: the stored topics that change it, and the state each writes.
CLAIM_STATES: Final[Mapping[str, str]] = {
    n: e.claim_state for n, e in CATALOGUE.items() if e.claim_state is not None
}
CLAIM_TOPICS: Final[Mapping[str, str]] = {event_topic(n): s for n, s in CLAIM_STATES.items()}

# The enrolment, whose rep id claims its actor form (`ledger.rep_keys`): its type and stored topic.
REP_KEY_TYPE: Final[str] = next(e.name for e in _ENTRIES if e.creates is Rep)
REP_KEY_TOPIC: Final[str] = CATALOGUE[REP_KEY_TYPE].topic
# The payment, whose payment id claims it for its sale (`ledger.payment_keys`).
PAYMENT_KEY_TYPE: Final[str] = next(e.name for e in _ENTRIES if e.model is ev.PaymentReceived)
PAYMENT_KEY_TOPIC: Final[str] = CATALOGUE[PAYMENT_KEY_TYPE].topic

# The tables of keys claimed for good, written with the events (`ledger.key_tables`).
REP_KEYS: Final = KeyTable(
    "rep_keys", "key", "rep_id", REP_KEY_TOPIC, rep_keys_of, RepKey._make, spelling_refusal
)
PAYMENT_KEYS: Final = KeyTable(
    "payment_keys",
    "payment_id",
    "sale_id",
    PAYMENT_KEY_TOPIC,
    payment_keys_of,
    PaymentKey._make,
    payment_refusal,
)
KEY_TABLES: Final = (REP_KEYS, PAYMENT_KEYS)
KEY_TOPICS: Final = frozenset(table.topic for table in KEY_TABLES)

# Read side: types that can change any period, and types bounded by their period.
REACHES_EVERY_PERIOD: Final = frozenset(n for n, e in CATALOGUE.items() if e.reaches_every_period)
BOUNDED_BY_PERIOD: Final = frozenset(n for n, e in CATALOGUE.items() if e.bounded_by_period)
READ_BY_EVERY_REP: Final = frozenset(n for n, e in CATALOGUE.items() if e.read_by_every_rep)
NAMES_MANAGER: Final = frozenset(n for n, e in CATALOGUE.items() if e.names_manager)
OVERRIDE_READS: Final = frozenset(n for n, e in CATALOGUE.items() if e.reaches_overrides)
HISTORY_TYPES: Final = frozenset(n for n, e in CATALOGUE.items() if e.in_history)
DECISION_TYPES: Final = frozenset(n for n, e in CATALOGUE.items() if e.apply is rules.decision)


def needs_approval(
    type_: str, data: Mapping[str, Any], occurred_at: datetime, staged_at: datetime
) -> bool:
    """SPEC §2 maker-checker, the one place it is decided: whether a stored
    event of ``type_`` needs an approval before it counts (the write side when
    an approval comes in, the read side for every statement)."""
    approval = CATALOGUE[type_].approval
    return approval is not None and approval.needed(data, occurred_at, staged_at)


def subject_type(kind: str) -> str | None:
    """The event type that starts an approval subject of aggregate ``kind``."""
    return _SUBJECT_TYPE.get(kind)


def writers_by_role() -> dict[str, frozenset[str]]:
    """SPEC §5: the event types each role may record (`POST /events`)."""
    roles: dict[str, set[str]] = {}
    for name, entry in CATALOGUE.items():
        for role in entry.writers:
            roles.setdefault(role, set()).add(name)
    return {role: frozenset(types) for role, types in roles.items()}


def decider_roles() -> dict[str, frozenset[str]]:
    """The roles that decide on each kind of approval subject (by aggregate kind)."""
    return {
        e.creates.KIND: e.approval.deciders
        for e in CATALOGUE.values()
        if e.approval is not None and e.creates is not None
    }
