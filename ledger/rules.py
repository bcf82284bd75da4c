"""The write rules: how each event type is applied (SPEC §2), one rule per type.

A rule checks one input against what is stored and what earlier inputs of the
same unit of work staged (`ledger.writes.Staging`), then stages its event — or
skips it, when the very same fact is stored already (natural keys), or refuses
it with an error naming the field. Which rule applies to which type is said
once, in `ledger.catalogue`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, TypeVar, cast

from ledger.actors import actor_key, same_actor
from ledger.adjustment import Adjustment
from ledger.case import Case
from ledger.decision import Decision
from ledger.dispute import Dispute
from ledger.domain import LedgerAggregate
from ledger.errors import (
    AlreadyDecidedError,
    ConflictError,
    InvalidInputError,
    SelfApprovalError,
    UnknownReferenceError,
)
from ledger.fx_rate import FxRate
from ledger.payment_keys import payment_taken
from ledger.payout_claims import (
    CALCULATED,
    PAID,
    REJECTED,
    Claim,
    describe_holder,
    holder_of,
)
from ledger.payout_run import PayoutRun
from ledger.plan import PlanInfo, PlanVersion
from ledger.rep import Rep
from ledger.rep_keys import spelling_conflict
from ledger.sale import Sale
from ledger.targets import Target
from policies.money import check_money
from policies.pay_warnings import (
    PayWarning,
    PlanTerms,
    after_leaving_warning,
    category_warning,
    folded,
    kpi_warning,
    manager_left_warning,
    manager_warning,
    no_plan_warning,
    override_warning,
    rescored_warning,
    retarget_warning,
    same_instant_warning,
    splits_warning,
)
from policies.periods import PeriodKind, after_the_day_of, parse_period, period_of
from policies.plan import Plan

if TYPE_CHECKING:
    from ledger.writes import Input, Staging

A = TypeVar("A", bound=LedgerAggregate)

__all__ = [
    "Rule",
    "adjustment_requested",
    "decision",
    "dispute_raised",
    "dispute_resolved",
    "fx_rate_set",
    "payment_received",
    "payout_calculated",
    "payout_paid",
    "plan_published",
    "rep_enrolled",
    "rep_fact",
    "rep_left",
    "rep_transferred",
    "sale_cancelled",
    "sale_recorded",
    "target_set",
    "violation_overturned",
    "violation_recorded",
]

# A rule: check one input against the unit of work and stage its event.
Rule = Callable[["Staging", "Input"], None]

# Later than any moment the ledger accepts (SPEC §2 bounds: years 2000-2199).
_END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)
_NAMED = 5  # followers of a plan named in a refusal
_LONGEST_PERIOD_DAYS = 92  # a quarter's at most: a sale this long after a date is in a later period


def _already_stored(
    st: Staging, cls: type[LedgerAggregate], key: str, item: Input, *, what: str, field: str
) -> bool:
    """SPEC §2 natural keys: True when this fact is stored identically (skip it);
    ConflictError when the key is stored with other content; False when new."""
    existing = st.get(cls, key)
    if existing is None:
        return False
    if existing.recorded.content_sha256 == item.signed_zero_sha256():
        return True  # stored before zero was unsigned ("-0.00"): the same fact
    return existing.recorded.check_same(item.content_sha256, key=what, field=field)


def _new_for_rep(
    st: Staging, item: Input, stream: tuple[type[LedgerAggregate], str, str]
) -> Rep | None:
    """The rep a new stream's first fact is for (unknown: refused), or None when
    ``item`` is stored already (`_already_stored`); ``stream``: the kind, the
    field of its natural key and what it is called."""
    kind, field, what = stream
    key = item.data[field]
    if _already_stored(st, kind, key, item, what=f"{what} {key}", field=field):
        return None
    rep: Rep = st.require(Rep, item.data["rep_id"], field="rep_id", what="rep")
    return rep


def _create_for_rep(
    st: Staging,
    item: Input,
    stream: tuple[type[LedgerAggregate], str, str],
    *checks: Callable[[Staging, Input, Rep], None],
) -> Rep | None:
    """Stage a new stream whose first fact, ``item``, is for a rep (see
    `_new_for_rep`), once ``checks`` pass; its rep, or None when stored already."""
    rep = _new_for_rep(st, item, stream)
    if rep is not None:
        for check in checks:
            check(st, item, rep)
        kind, field, _ = stream
        st.create(kind, item.data[field], item)
    return rep


def _check_period_kind(st: Staging, item: Input, rep: Rep) -> None:
    """The ``period`` of ``item`` is of the kind the rep's plan pays by."""
    period = item.data["period"]
    plan = st.plan(rep.plan_at(item.occurred_at))
    if plan is not None and parse_period(period).kind != plan.period:
        example = "2026-07" if plan.period == "month" else "2026-Q3"
        raise InvalidInputError(
            f"rep {rep.rep_id}'s plan {plan.plan_id} pays by {plan.period}; "
            f"write the period like {example}",
            field="period",
        )


def _check_plan_money(st: Staging, item: Input, rep: Rep) -> None:
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


def plan_published(st: Staging, item: Input) -> None:
    plan = Plan.model_validate(item.data["plan"])  # rare: the document validates back
    key = PlanVersion.key_of(plan.id, plan.version)
    try:
        if _already_stored(st, PlanVersion, key, item, what=f"plan {key}", field="plan.version"):
            return
    except ConflictError:
        # A version is published once: a plan publication's content holds its
        # moment, so the same document published again was said to be "other
        # content" — say what is true of both, and what to do.
        raise ConflictError(
            f"plan {plan.id} version {plan.version} is already published, and a "
            "published version never changes: publish a change as a new version "
            "(a higher `version`)",
            field="plan.version",
        ) from None
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
    if plan.override is not None:
        _check_override(st, plan)
    if plan.commission.basis == "collection" and not (earlier and earlier.pays_on_collection):
        _check_collection_followers(st, plan)
    known = earlier or PlanInfo(plan.id, plan.currency, plan.period)
    st._staged_plans[plan.id] = known.with_version(PlanTerms.of(plan))  # noqa: SLF001
    st.create(PlanVersion, key, item)


def _check_override(st: Staging, plan: Plan) -> None:
    """SPEC §3.1 overrides pay a manager a share of their reports' sales: a
    version with ``[override]`` of a plan that reps follow at the head (their
    latest plan, not left) is refused when none of them has a direct report
    there (their latest manager); when nobody follows it yet it is accepted,
    with a warning (who will follow it is not known)."""
    reps = [rep for rep in st.reps() if rep.left is None]
    followers = [rep.rep_id for rep in reps if rep.plan_at(_END_OF_TIME) == plan.id]
    if not followers:
        st.warn(override_warning(plan.id, plan.version))
        return
    managers = {rep.manager_at_head() for rep in reps}
    if not managers.intersection(followers):
        named = sorted(followers)
        shown = ", ".join(named[:_NAMED]) + (", ..." if len(named) > _NAMED else "")
        raise InvalidInputError(
            f"no rep following plan {plan.id} ({shown}) has reports; an override pays a "
            "manager a share of their reports' sales (give the managers a plan of their "
            "own, or enrol or transfer their reports first)",
            field="plan.override",
        )


def _check_collection_followers(st: Staging, plan: Plan) -> None:
    """The first version of a plan to pay on collection (SPEC §3.1) is refused
    while a rep who followed the plan has followed one paying in another
    currency: the sales it would hold back are released, as their payments
    come in, into that rep's periods under either plan — in the currency they
    were earned in (`_check_collection_currency`, the same rule for a move)."""
    for rep in st.reps():
        plan_ids = {assigned for _, assigned in rep.plans}
        if plan.id not in plan_ids:
            continue
        for other_id in sorted(plan_ids - {plan.id}):
            other = st.plan(other_id)
            if other is None or other.currency == plan.currency:
                continue
            raise InvalidInputError(
                f"rep {rep.rep_id} has followed both plan {plan.id} and a plan paying in "
                f"{other.currency} ({other.plan_id}): what a sale earned under a plan that "
                f"pays on collection is released in {plan.currency} as the customer pays, "
                "whatever plan the rep follows then; publish the collection basis as a "
                "plan id of its own",
                field="plan.commission.basis",
            )


def rep_enrolled(st: Staging, item: Input) -> None:
    rep_id, plan_id = item.data["rep_id"], item.data["plan_id"]
    existing = st.get(Rep, rep_id)
    if existing is not None:
        existing.enrolled.check_same(item.content_sha256, key=f"rep {rep_id}", field="rep_id")
        return
    if (spelled := st.rep_in_another_spelling(rep_id)) is not None:
        raise spelling_conflict(rep_id, spelled)
    if st.plan(plan_id) is None:
        raise UnknownReferenceError(f"unknown plan {plan_id!r}", field="plan_id")
    _check_manager(rep_id, item.data.get("manager_id"))
    _warn_manager(st, rep_id, item)
    st.create(Rep, rep_id, item)


def _check_manager(rep_id: str, manager_id: str | None) -> None:
    """A rep never reports to themselves — in any spelling of the id, which
    names the manager's identity (`api.auth.manages` compares it as an actor):
    their own manager would score their KPIs and set their targets alone.

    A manager need not be a rep (a team lead paid by no plan here), at
    enrolment as at a transfer."""
    if manager_id is not None and same_actor(manager_id, rep_id):
        raise InvalidInputError(f"rep {rep_id} cannot report to themselves", field="manager_id")


def _warn_manager(st: Staging, rep_id: str, item: Input) -> None:
    """Warn, don't guess, about the manager a rep is enrolled or moved under:

    - a ``manager_id`` that is a rep's id in another spelling (``Lead-He`` for
      rep ``lead-he``) makes that rep the manager — scope compares actors — but
      earns them no override (an override is paid to the rep whose id the
      ``manager_id`` is, as written). Only an id not in an actor's one form can
      be such a spelling;
    - a manager who is a rep and left before the day of this event: the rep
      reports to someone gone, who earns no override on sales after that day.
    """
    manager_id = item.data.get("manager_id")
    if manager_id is None:
        return
    manager = st.get(Rep, manager_id)
    if manager is None and (key := actor_key(manager_id)) != manager_id:
        if st.get(Rep, key) is not None:
            st.warn(manager_warning(rep_id, manager_id, key))
        return
    if (
        manager is not None
        and manager.left is not None
        and after_the_day_of(item.occurred_at, manager.left.occurred_at)
    ):
        st.warn(manager_left_warning(rep_id, manager_id, manager.left.occurred_at.date()))


def rep_fact(st: Staging, item: Input) -> None:
    data = item.data
    rep = st.require(Rep, data["rep_id"], field="rep_id", what="rep")
    if item.type == "RepPlanAssigned" and item.content_sha256 not in rep.facts:
        # one stored before these rules is the same fact, skipped (SPEC §2) —
        # by either rule: the period's kind was checked first, unguarded, and
        # refused such a move sent again
        _check_same_period_kind(st, rep, data["plan_id"])
        _check_collection_currency(st, rep, data["plan_id"])
    if item.type == "KpiScored":
        _check_period_kind(st, item, rep)
    if item.signed_zero_sha256() in rep.facts:
        return  # stored before zero was unsigned (a score of "-0"): the same fact
    scored = rep.latest_score(data["period"], data["kpi"]) if item.type == "KpiScored" else None
    if rep.record_fact(item.type, **item.kwargs()):
        st.collect(rep)
        if item.type == "KpiScored":
            _warn_kpi(st, rep, item)
            if scored is not None:
                kpi, period = data["kpi"], data["period"]
                st.warn(rescored_warning(rep.rep_id, kpi, period, item.occurred_at, scored))


def _check_same_period_kind(st: Staging, rep: Rep, plan_id: str) -> None:
    """A rep's plans all pay by one kind of period (SPEC §2 ``RepPlanAssigned``):
    a move from a quarterly plan to a monthly one would leave a quarter and its
    months both payable for the same days (paid twice), and the periods paid
    before the move without a statement of their kind. Refused, naming the
    plan; such a move is a new enrolment (`RepLeft`, then `RepEnrolled` under a
    new rep id)."""
    plan = st.plan(plan_id)
    if plan is None:
        raise UnknownReferenceError(f"unknown plan {plan_id!r}", field="plan_id")
    for _, assigned in rep.plans:
        known = st.plan(assigned)
        if known is None or known.period == plan.period:
            continue
        kind = known.period
        raise InvalidInputError(
            f"plan {plan.plan_id} pays by {plan.period}, rep {rep.rep_id}'s plan "
            f"{known.plan_id} by {kind}: a rep's plans all pay by one kind of period (the "
            f"same days would be in a {plan.period} and a {kind} of theirs); assign a plan "
            f"that pays by {kind}, or enrol the rep anew under another rep id",
            field="plan_id",
        )


def _check_collection_currency(st: Staging, rep: Rep, plan_id: str) -> None:
    """A rep any of whose plans pays on collection (SPEC §3.1) keeps that
    plan's currency: a sale booked under it releases what it earned as its
    payments come in, whatever plan the rep follows by then, and that amount
    is in the currency it was earned in — released into a period paid in
    another, 500 CNY was paid as 500 USD. Refused, naming the plan; such a
    move is a new enrolment (the rep id kept receives the releases)."""
    plan = st.plan(plan_id)
    if plan is None:  # `_check_same_period_kind` names it
        return
    for _, assigned in rep.plans:
        known = st.plan(assigned)
        if known is None or known.currency == plan.currency or not known.pays_on_collection:
            continue
        raise InvalidInputError(
            f"plan {plan.plan_id} pays in {plan.currency}, rep {rep.rep_id}'s plan "
            f"{known.plan_id} pays on collection in {known.currency}: what a sale earned "
            f"under it is released in {known.currency} as the customer pays, whatever plan "
            f"the rep follows then; assign a plan that pays in {known.currency}, or enrol "
            "the rep anew under another rep id",
            field="plan_id",
        )


def _record_on(
    st: Staging,
    item: Input,
    stream: tuple[type[A], str, str],
    record: Callable[..., bool],
    check: Callable[[A], None] | None = None,
) -> None:
    """Record ``item`` on an existing stream: ``stream`` is its kind, the field
    holding its key and what it is called in the error when there is none;
    ``check`` refuses what the stream's state forbids; ``record`` (a method of
    the kind) returns False when this very fact is already stored, and only a
    new fact is collected."""
    kind, field, what = stream
    aggregate = st.require(kind, item.data[field], field=field, what=what)
    if check is not None:
        check(aggregate)
    if record(aggregate, **item.kwargs()):
        st.collect(aggregate)


def _not_before_enrolment(rep: Rep, item: Input, what: str) -> None:
    """``item`` (a departure, a transfer) takes effect once the rep is enrolled;
    one stored identically is skipped unchecked (SPEC §2), so a file stored
    before this check existed is not refused when sent again."""
    left = rep.left
    if item.content_sha256 in rep.facts or (
        left is not None and left.content_sha256 == item.content_sha256
    ):
        return
    if item.occurred_at < rep.enrolled.occurred_at:
        raise InvalidInputError(
            f"rep {rep.rep_id} was enrolled at {rep.enrolled.occurred_at.isoformat()}; "
            f"{what} cannot take effect before that",
            field="occurred_at",
        )


def rep_left(st: Staging, item: Input) -> None:
    """SPEC §2: a rep leaves, not before they were enrolled (a departure dated
    before the enrolment prorated their bonus to 0 of 92 days)."""
    _record_on(
        st,
        item,
        (Rep, "rep_id", "rep"),
        Rep.leave,
        partial(_not_before_enrolment, item=item, what="a departure"),
    )


def target_set(st: Staging, item: Input) -> None:
    rep = _create_for_rep(st, item, (Target, "target_id", "target"), _check_period_kind)
    if rep is not None:
        _warn_kpi(st, rep, item)
        _warn_retarget(st, rep, item)


def _warn_retarget(st: Staging, rep: Rep, item: Input) -> None:
    """Warn, don't guess: a second target of the rep's KPI for one period.
    Of those that count (approved, or needing no approval) the latest by
    ``occurred_at`` counts, ties to the one recorded last (README "Which
    target or score counts"): it is said against the latest stored one not
    rejected (a rejected target never counts), as replacing it or, dated
    before it, as not counting while it does."""
    data = item.data
    key = (rep.rep_id, data["period"], data["kpi"])
    target_id = data["target_id"]
    others = [
        (at, other_id)
        for at, other_id in st.targets_of(key)
        if other_id != target_id and not _rejected(st, other_id)
    ]
    st.stage_target(key, item.occurred_at, target_id)
    if others:
        # the latest by occurred_at; of a tie, the one recorded last
        other_at, other_id = max(reversed(others), key=lambda o: o[0])
        kpi, period = data["kpi"], data["period"]
        st.warn(retarget_warning(rep.rep_id, kpi, period, item.occurred_at, (other_id, other_at)))


def _rejected(st: Staging, subject_id: str) -> bool:
    decision = st.get(Decision, subject_id)
    return decision is not None and not decision.granted


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


def _warn_after_leaving(st: Staging, credited: list[Rep], item: Input) -> None:
    """Warn, don't guess: a sale dated after a rep it credits left credits that
    rep nothing (`projections.statement`); a departure recorded later is said
    on the statement instead. The day they left is said to the sender who
    recorded the departure only (`Receipt.told_to`): an integration reads no
    event, and another's departure is not its to be told."""
    for rep in credited:
        left = rep.left
        if left is not None and after_the_day_of(item.occurred_at, left.occurred_at):
            day = left.occurred_at.date() if left.told_to(item.actor) else None
            st.warn(after_leaving_warning(item.data["sale_id"], rep.rep_id, day))


def sale_recorded(st: Staging, item: Input) -> None:
    data = item.data
    stored = st.get(Sale, data["sale_id"])
    occurred_text = item.occurred_text or item.occurred_at.isoformat()
    if stored is not None and stored.is_stored_as(occurred_text, item.content_sha256, data):
        return  # the same sale re-sent, its splits maybe in another order
    rep = _new_for_rep(st, item, (Sale, "sale_id", "sale"))
    if rep is None:
        return
    credited = [rep] if not data.get("splits") else []
    for i, split in enumerate(data.get("splits", ())):
        credited.append(st.require(Rep, split["rep_id"], field=f"splits[{i}].rep_id", what="rep"))
    plan = st.plan(rep.plan_at(item.occurred_at))
    currency = data["currency"]
    if (
        plan is not None
        and plan.currency != currency
        and not st.has_fx_rate(currency, plan.currency, item.occurred_at)
    ):
        raise InvalidInputError(
            f"rep {rep.rep_id}'s plan {plan.plan_id} pays in {plan.currency} and no "
            f"exchange rate {currency}->{plan.currency} is set at or before "
            f"{item.occurred_at.isoformat()}: record an FxRateSet (base {currency}, "
            f"quote {plan.currency}) first, or record the sale in {plan.currency}",
            field="currency",
        )
    st.create(Sale, data["sale_id"], item)
    _warn_sale(st, rep, plan, item)
    _warn_after_leaving(st, credited, item)
    if plan is not None:
        _warn_no_plan(st, plan, item)


def _warn_no_plan(st: Staging, plan: PlanInfo, item: Input) -> None:
    """Warn, don't guess: a sale in a period before any version of the rep's
    plan is in force pays nothing (no statement of it can be made) until one
    covering it is published. Checked against the store's versions before
    saying so (`Staging.warn_against`); a version in force: nothing to check."""
    first = plan.first_in_force
    if first is not None and (item.occurred_at.date() - first).days >= _LONGEST_PERIOD_DAYS:
        return  # its period began after the first version took effect (most sales)
    period = period_of(item.occurred_at, cast("PeriodKind", plan.period))
    if plan.terms_for(period) is not None:
        return

    def check(fresh: PlanInfo) -> PayWarning | None:
        if fresh.terms_for(period) is not None:
            return None
        return no_plan_warning(item.data["sale_id"], fresh.plan_id, period)

    st.warn_against(plan.plan_id, check)


def payment_received(st: Staging, item: Input) -> None:
    """SPEC §2: a payment of a known sale, in its currency; the payments of a
    sale never sum above its amount (the sale's stream holds them, `Sale`);
    and ``payment_id`` is its natural key across sales: an id another sale's
    payment holds (stored, or staged in the same batch) is refused — a CRM
    re-sending a payment with a corrected sale id would have it paid twice
    (`ledger.payment_keys`). A sale re-sent its own payment decides itself."""
    sale_id, payment_id = item.data["sale_id"], item.data["payment_id"]
    sale = st.require(Sale, sale_id, field="sale_id", what="sale")
    if payment_id not in (sale.payments or {}):
        other = st.paid_elsewhere(payment_id, sale_id)
        if other is not None:
            raise payment_taken(payment_id, sale_id=other[0], receipt=other[1], sender=item.actor)
    if sale.receive_payment(**item.kwargs()):
        st.collect(sale)
        st.stage_payment(payment_id, sale_id, item)


def fx_rate_set(st: Staging, item: Input) -> None:
    """SPEC §2: natural key base + quote + ``occurred_at``."""
    data = item.data
    key = FxRate.key_of(data["base"], data["quote"], item.occurred_at)
    if _already_stored(st, FxRate, key, item, what=f"exchange rate {key}", field="rate"):
        return
    st.create(FxRate, key, item)
    st.stage_fx_rate(data["base"], data["quote"], item.occurred_at)


def rep_transferred(st: Staging, item: Input) -> None:
    """SPEC §2: a rep moves to a manager (never to themselves) and/or a team,
    from ``occurred_at`` on (not before they were enrolled)."""

    def check(rep: Rep) -> None:
        _check_manager(rep.rep_id, item.data.get("manager_id"))
        _warn_manager(st, rep.rep_id, item)
        _not_before_enrolment(rep, item, "a transfer")
        fields = rep.same_instant_transfer(item.occurred_at, item.data)
        if fields:
            st.warn(same_instant_warning(rep.rep_id, item.occurred_at, fields))

    _record_on(st, item, (Rep, "rep_id", "rep"), partial(Rep.record_fact, type_=item.type), check)


def sale_cancelled(st: Staging, item: Input) -> None:
    _record_on(st, item, (Sale, "sale_id", "sale"), Sale.cancel)


def violation_recorded(st: Staging, item: Input) -> None:
    _create_for_rep(st, item, (Case, "case_id", "case"), _check_plan_money)


def violation_overturned(st: Staging, item: Input) -> None:
    _record_on(st, item, (Case, "case_id", "case"), Case.overturn)


def _check_period_payable(st: Staging, item: Input, rep: Rep) -> None:
    """An adjustment's ``period`` is one the rep can be paid for: not ending
    before their enrolment (no run covers it), with a version of their plan in
    force (no statement of it can be made) — each such adjustment was accepted,
    approved and never paid."""
    period = parse_period(item.data["period"])
    enrolled = rep.enrolled.occurred_at
    if period.last_day < enrolled.date():
        raise InvalidInputError(
            f"rep {rep.rep_id} was enrolled at {enrolled.isoformat()}, after {period} "
            "ended: no payout covers it; book the adjustment into a period since",
            field="period",
        )
    plan = st.plan(rep.plan_for_period(period.first_day))
    if plan is not None and period.kind == plan.period and plan.terms_for(period) is None:
        raise InvalidInputError(
            f"no version of rep {rep.rep_id}'s plan {plan.plan_id} is in force for "
            f"{period}: no statement of it can be made, so the adjustment could never "
            "be paid",
            field="period",
        )


def adjustment_requested(st: Staging, item: Input) -> None:
    stream = (Adjustment, "adjustment_id", "adjustment")
    _create_for_rep(st, item, stream, _check_period_kind, _check_period_payable, _check_plan_money)


def decision(st: Staging, item: Input) -> None:
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
    subject = st.subject(subject_id)
    if not st.needs_approval(subject):
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


def dispute_raised(st: Staging, item: Input) -> None:
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


def dispute_resolved(st: Staging, item: Input) -> None:
    def check(dispute: Dispute) -> None:
        adjustment_id = item.data.get("adjustment_id")
        if adjustment_id is None:
            return
        adjustment = st.require(Adjustment, adjustment_id, field="adjustment_id", what="adjustment")
        if adjustment.rep_id != dispute.rep_id:
            raise InvalidInputError(
                f"adjustment {adjustment_id} is for rep {adjustment.rep_id}, the "
                f"dispute for rep {dispute.rep_id}",
                field="adjustment_id",
            )

    _record_on(st, item, (Dispute, "dispute_id", "dispute"), Dispute.resolve, check)


def payout_calculated(st: Staging, item: Input) -> None:
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
    claims = _claims_over(st, period, rep_ids)
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


def _claims_over(st: Staging, period: str, rep_ids: Sequence[str]) -> list[Claim]:
    """The claims of ``rep_ids`` on ``period`` and on every period of the other
    kind that shares a day with it (a quarter's months, a month's quarter): a
    store written before a rep's plans had to keep one kind of period
    (`rep_fact`) may hold both, and a day is paid at most once either way."""
    parsed = parse_period(period)
    return [c for p in (parsed, *parsed.overlapping()) for c in st.claims(str(p), rep_ids)]


def payout_paid(st: Staging, item: Input) -> None:
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
        (
            c
            for c in _claims_over(st, run.period, run.rep_ids)
            if c.state == PAID and c.run_id != run_id
        ),
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
