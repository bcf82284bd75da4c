"""Who may do what (SPEC §5), in one place: the role table, the event types each
role may record, and the object-level scope of reps and managers.

Anything a role is not listed for is 403; an unknown, malformed, expired or
revoked token is 401; a rep (or a manager outside their team) asking for another
rep's data gets 404 — never the data, and never a hint that it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import Final

from api.tokens import Principal
from ledger.actors import same_actor
from ledger.catalogue import (
    CATALOGUE,
    DECISION_TYPES,
    HISTORY_TYPES,
    READ_BY_EVERY_REP,
    decider_roles,
    subject_type,
    writers_by_role,
)
from ledger.errors import NotFoundError, shown_id
from ledger.records import EventRecord
from policies.periods import parse_period
from projections.service import PaidReader, Reports

__all__ = [
    "EVENT_WRITERS",
    "OPERATIONS_READERS",
    "ROUTE_ROLES",
    "SUBJECT_DECIDERS",
    "ForbiddenError",
    "check_decider",
    "check_rep_scope",
    "is_caller",
    "is_self",
    "later_events_shown",
    "manages",
    "may_read_event",
    "own_rep",
    "paid_reader",
    "reads_subject",
    "trail_events_shown",
]


class ForbiddenError(Exception):
    """The caller's role may not do this (403)."""


# SPEC §5's roles: finance "all payouts, approvals, adjustments, exports";
# compliance "violations and histories of everyone" — no one's pay; a rep their
# own statements, history and disputes; a manager their team's.
_PAY_READERS = frozenset({"rep", "manager", "finance"})
_HISTORY_READERS = frozenset({"rep", "manager", "compliance"})
# A run holds every rep's statement: finance's. Admin (SPEC §5: plans,
# enrolment, tokens) reads no one's pay.
_RUN_READERS = frozenset({"finance"})

ROUTE_ROLES: Final[dict[str, frozenset[str]]] = {
    "post_events": frozenset({"integration", "manager", "finance", "compliance", "admin"}),
    "get_event": frozenset({"rep", "manager", "finance", "compliance", "admin"}),
    "get_statement": _PAY_READERS,
    "get_diff": _PAY_READERS,
    "get_history": _HISTORY_READERS,
    "post_run": frozenset({"finance"}),
    "post_pay": frozenset({"finance"}),
    "get_export": frozenset({"finance"}),
    "get_export_xlsx": frozenset({"finance"}),  # the same file as a workbook
    "post_approval": frozenset({"finance", "compliance"}),
    "post_dispute": frozenset({"rep", "finance"}),
    "post_resolution": frozenset({"finance"}),
    "get_disputes": frozenset({"rep", "manager", "finance"}),
    "get_verify": frozenset({"finance", "compliance", "admin"}),
    # a statement's audit bundle: whoever reads the rep's statements (it holds
    # the statement and the rep's own events, `projections.bundle`)
    "get_bundle": _PAY_READERS,
    # The work queues (SPEC §5): each list as its single read, scoped the same way.
    "get_reps": frozenset({*_PAY_READERS, *_HISTORY_READERS, "admin"}),
    "get_summary": _PAY_READERS,
    "get_runs": _RUN_READERS,
    "get_run": _RUN_READERS,
    "get_pending": frozenset({*_PAY_READERS, *_HISTORY_READERS}),
    "get_dispute_list": frozenset({"rep", "manager", "finance"}),
    "get_cases": _HISTORY_READERS,
    # modelling (SPEC §5): a what-if shows every rep's pay, so finance; an
    # estimate is a rep's own, a manager's team's
    "post_whatif": frozenset({"finance"}),
    "post_estimate": frozenset({"rep", "manager", "finance"}),
    # unless LEDGER_METRICS_PUBLIC=true (then without a token)
    "get_metrics": frozenset({"finance", "admin"}),
}

# Who reads how the service itself fares beyond up or down — GET /metrics, and
# the projector's error on GET /health, which can quote the event it failed on
# (an id, a rep, the SQL): SPEC §5's finance (payouts run on it) and admin.
OPERATIONS_READERS: Final = ROUTE_ROLES["get_metrics"]

# The event types each role may record, and which role decides on which kind of
# subject (maker-checker needs the right checker): both from the event catalogue.
EVENT_WRITERS: Final[dict[str, frozenset[str]]] = writers_by_role()
SUBJECT_DECIDERS: Final[dict[str, frozenset[str]]] = decider_roles()
_READ_BY_ALL: Final = READ_BY_EVERY_REP | {"PlanPublished"}
# Facts of a disciplinary history that no pay rests on (a case may: its fine,
# its points): compliance's, not finance's.
_NEVER_PAY: Final = frozenset({"CoachingRecorded"})
# What a manager a rep left reads of the rep's events dated on their watch: what
# the statements of those periods rest on — not the disciplinary history (cases,
# coaching) nor disputes, which follow today's manager as the history does.
_ON_THEIR_WATCH: Final = frozenset(
    name
    for name, entry in CATALOGUE.items()
    if not entry.in_history and entry.key != "dispute_id" and name not in _NEVER_PAY
)


def check_decider(principal: Principal, kind: str) -> bool:
    """Whether the principal may learn of a subject of ``kind`` at all
    (`reads_subject`): False, and the caller answers as for an id that names
    nothing. When it may, 403 unless its role decides on subjects of ``kind``
    (the catalogue's deciders: finance for targets, adjustments and runs,
    compliance for cases)."""
    if not reads_subject(principal, kind):
        return False
    if principal.role not in SUBJECT_DECIDERS[kind]:
        raise ForbiddenError(f"role {principal.role} may not decide on a {kind}")
    return True


def reads_subject(principal: Principal, kind: str) -> bool:
    """Whether the principal may learn that an id names a subject of ``kind``
    (a decision's subject: a target, case, adjustment or payout run), as GET
    /events reads its event: finance every kind, compliance cases — no
    one's pay, so not that ``ADJ-301`` is an adjustment or a run id is
    taken (SPEC §5: never a hint): a decision on one is refused as on an id
    that names nothing, not 403 naming its kind."""
    created_by = subject_type(kind)
    role = principal.role
    if created_by is None or role not in {"finance", "compliance", "admin"}:
        return False
    return _reads_by_kind(role, created_by, kind)


def require_role(principal: Principal, route: str) -> None:
    """403 unless the principal's role may call ``route``."""
    if principal.role not in ROUTE_ROLES[route]:
        raise ForbiddenError(f"role {principal.role} may not call this endpoint")


def manages(principal: Principal, manager_id: object) -> bool:
    """Whether the principal is the manager a rep's ``manager_id`` names.

    SPEC §2, actors are identities: the token's actor is normalised, and a
    ``manager_id`` (an id, stored as written) names an actor, so the two are
    compared as actors (`ledger.actors.same_actor`): ``manager_id = "Mgr-Zhao"``
    is managed by the token of ``mgr-zhao``, and by no other spelling.
    """
    return (
        principal.role == "manager"
        and isinstance(manager_id, str)
        and same_actor(manager_id, principal.actor)
    )


def is_self(principal: Principal, rep_id: str) -> bool:
    """Whether ``rep_id`` is the manager's own (compared as actors, as a
    ``manager_id`` is: `manages`)."""
    return principal.role == "manager" and same_actor(rep_id, principal.actor)


def own_rep(principal: Principal, reports: Reports) -> str | None:
    """The rep whose pay is the caller's own (the pages' My pay): a rep's
    token's rep; a manager's, when they are paid too — the rep `is_self`
    names, however its id is spelled, the rule the API's reads follow
    (`check_rep_scope`); None for anyone else, or a manager paid nothing."""
    if principal.role == "rep":
        return principal.rep_id
    if principal.role != "manager":
        return None
    candidates = reports.rep_ids_folded(principal.actor)
    return next((rep_id for rep_id in candidates if is_self(principal, rep_id)), None)


def is_caller(principal: Principal, actor: str) -> bool:
    """Whether ``actor`` (who recorded or calculated something) is the caller,
    compared as the ledger's maker-checker compares them (`same_actor`): the
    pages offer no decision on one's own work however it was spelled."""
    return same_actor(actor, principal.actor)


def check_rep_scope(
    principal: Principal,
    rep_id: str,
    reports: Reports,
    *,
    at: int | None = None,
    period: str | None = None,
) -> None:
    """404 unless the principal may see ``rep_id``'s data.

    Reps see only themselves; managers themselves (a manager paid overrides
    reads their own pay and trail as a rep does: the rep whose id names their
    actor), their team (reps whose manager is them today) and, for one
    ``period``, the reps they managed on some day of it — a rep who moved on
    stays readable for the periods their manager's overrides and decisions were
    made in; finance and compliance everyone. ``at``: as the read models stand
    at that position (`Reports.now_position`), without waiting for them. Only
    reads: what a manager may record follows `manages` alone, never for
    themselves.
    """
    hidden = NotFoundError(f"no rep {shown_id(rep_id)}", field="rep_id")
    if principal.role == "rep":
        if principal.rep_id != rep_id:
            raise hidden
        return
    if is_self(principal, rep_id):
        return
    position = reports.fresh() if at is None else at  # one read of the directory
    directory = reports.rep_at(rep_id, position)  # NotFoundError for no such rep
    if principal.role != "manager" or manages(principal, directory.manager_id):
        return
    days = _days_of(period)
    if days is None or not any(
        manages(principal, m) for m in reports.managers_between(rep_id, *days, at=position)
    ):
        raise hidden


def _days_of(period: str | None) -> tuple[date, date] | None:
    """The first and last day of ``period``; None for none, or one that does not
    parse (the read that follows names that error)."""
    if period is None:
        return None
    try:
        parsed = parse_period(period)
    except ValueError:
        return None
    return parsed.first_day, parsed.last_day


def may_read_event(
    principal: Principal,
    event_type: str,
    reps: list[str],
    reports: Reports,
    *,
    subject_kind: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Whether the principal may read one event (GET /events/{id}).

    Plans, and the events every rep's pay may rest on (an exchange rate), are
    readable by everyone; finance reads every event a statement can rest on
    (sales, targets, cases: not coaching); compliance the disciplinary histories' — cases,
    overturnings, coaching, and the decisions on cases (``subject_kind`` of a
    decision) — and no one's pay; a payout run's calculation holds every rep's
    statement, so only finance reads it; admin reads the events of its own
    work (plans, enrolment: SPEC §5), no one's pay; otherwise reps read the
    events that concern them, managers those of their team — today's, or (an
    event pay rests on, `_ON_THEIR_WATCH`) the reps they managed ``at`` its
    moment: the instant, as the override that pays them for it counts it (SPEC
    §3.1), not its day — a sale the morning of a transfer day, before the
    transfer, is the old manager's, whose override it pays.
    """
    role = principal.role
    if event_type in _READ_BY_ALL:
        return True
    if role in {"finance", "compliance", "admin"}:
        return _reads_by_kind(role, event_type, subject_kind)
    if event_type == "PayoutCalculated":
        return False
    if role == "rep":
        return principal.rep_id in reps
    if event_type not in _ON_THEIR_WATCH or subject_kind == "case":
        at = None  # the history (a case, a decision on one): today's manager's to read
    return role == "manager" and any(
        is_self(principal, r) or _manages_rep(principal, r, reports, at) for r in reps
    )


def trail_events_shown(
    principal: Principal, rep_id: str, reports: Reports
) -> Callable[[EventRecord], bool] | None:
    """Which events of ``rep_id``'s trail a diff (its ``events_between``, the
    causes of its lines) or a statement page (the events under a line) names
    to the principal: those GET /events would show them (`may_read_event`).
    None — every one — for the rep themselves and a manager of the rep today,
    whose reads are the whole trail; finance does not see coaching listed, a
    manager the rep left not what was recorded since on another's watch."""
    if principal.role == "rep" or is_self(principal, rep_id):
        return None
    if principal.role == "manager" and manages(
        principal, reports.rep_at(rep_id, reports.fresh()).manager_id
    ):
        return None
    ledger, position = reports.ledger, reports.fresh()
    # the answer rests on the type, the subject and the rep's manager at the
    # event's moment alone (not today's: that one reads every event): asked
    # once each (a window of thousands of sales read the directory for every one)
    answers: dict[tuple[str, str | None, str | None], bool] = {}

    def shown(record: EventRecord) -> bool:
        subject = record.data.get("subject_id") if principal.role == "manager" else None
        if not isinstance(subject, str):
            subject = None
        then = reports.manager_at(rep_id, record.occurred_at, position=position)
        key = (record.type, subject, then)
        found = answers.get(key)
        if found is None:
            kind = ledger.subject_kind(subject) if subject is not None else None
            found = answers[key] = may_read_event(
                principal, record.type, [rep_id], reports, subject_kind=kind, at=record.occurred_at
            )
        return found

    return shown


def later_events_shown(
    principal: Principal, rep_id: str, reports: Reports
) -> Callable[[EventRecord], bool] | None:
    """Which of a paid statement's ``later_events`` (the events recorded since
    that changed what it would pay) are named to the principal: those GET
    /events would show them, as a diff's causes are (`trail_events_shown`).
    None — every one — also for finance, whose reads hold every event pay can
    rest on, and a later event is one (never coaching): a manager the rep left
    is not named what was recorded since on another's watch."""
    if principal.role == "finance":
        return None
    return trail_events_shown(principal, rep_id, reports)


def paid_reader(principal: Principal, rep_id: str, reports: Reports) -> PaidReader | None:
    """What ``principal`` is told of a paid statement's later history
    (`Reports.paid_as_read`): the later events GET /events shows them
    (`later_events_shown`), and the periods of ``rep_id`` whose statements
    they read (`check_rep_scope`), where a correction may have gone. None —
    all of it — for the rep, finance and a manager of the rep today: a
    manager the rep left is told neither what was recorded since on
    another's watch nor where its correction went, a period on that watch."""
    events = later_events_shown(principal, rep_id, reports)
    if events is None:
        return None

    @cache  # once a period: every later event whose correction went there asks
    def period(text: str) -> bool:
        try:
            check_rep_scope(principal, rep_id, reports, period=text)
        except NotFoundError:
            return False
        return True

    return PaidReader(event=events, period=period)


def _reads_by_kind(role: str, event_type: str, subject_kind: str | None) -> bool:
    """Roles that read by the kind of event, whoever's it is: finance every event
    pay can rest on (coaching never does); compliance the histories' and the
    decisions on cases; admin the events of its own work."""
    if role == "finance":
        return event_type not in _NEVER_PAY
    if role == "compliance":
        decided_a_case = event_type in DECISION_TYPES and subject_kind == "case"
        return decided_a_case or event_type in HISTORY_TYPES
    return event_type in EVENT_WRITERS["admin"]


def _manages_rep(principal: Principal, rep_id: str, reports: Reports, at: datetime | None) -> bool:
    """Whether the principal manages ``rep_id`` today, or managed them at the
    instant ``at`` (an event's moment: the override's own rule, SPEC §3.1)."""
    position = reports.fresh()  # one read of the directory
    try:
        if manages(principal, reports.rep_at(rep_id, position).manager_id):
            return True
    except NotFoundError:
        return False
    return at is not None and manages(principal, reports.manager_at(rep_id, at, position=position))
