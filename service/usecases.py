"""The use cases the routes and the CLI call (see the package docstring)."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

from ledger.application import Ledger, RecordResult
from ledger.errors import (
    BatchRejectedError,
    ConflictError,
    InvalidInputError,
    LedgerError,
    LineError,
    NotFoundError,
    UnknownReferenceError,
    shown_id,
    unknown_run,
)
from ledger.events import (
    AdjustmentRequested,
    ApprovalGranted,
    ApprovalRejected,
    DisputeRaised,
    DisputeResolved,
    EventIn,
    make_event,
)
from projections.service import Reports

__all__ = ["Decision", "RunSummary", "UseCases", "check_resolution", "new_dispute_id", "no_subject"]

_REASON_CHARACTERS = 2000  # an upheld dispute's adjustment reason quotes the note
_MAX_ID_CHARACTERS = 128  # SPEC §2: ids (`ledger.events.Id`)


_OUTCOMES = ("upheld", "rejected")
# The ids `new_dispute_id` makes.
_DISPUTE_ID = re.compile(r"DSP-[0-9a-f]{12}")


@dataclass(frozen=True)
class Decision:
    """What a decision recorded: the subject, its kind and the events stored."""

    subject_id: str
    kind: str
    result: RecordResult


@dataclass(frozen=True)
class RunSummary:
    """A payout run as its caller sees it, and whether this call recorded it."""

    run_id: str
    period: str
    position: int
    chain_head: dict[str, Any]
    reps: list[str]
    approved: bool | None
    paid: bool
    created: bool

    def to_dict(self) -> dict[str, Any]:
        """The run as the API answers it (``created`` is said by the status, 201 or 200)."""
        run = asdict(self)
        del run["created"]
        return run


class UseCases:
    """Each method is one thing a user does; it decides and records."""

    def __init__(self, ledger: Ledger, reports: Reports) -> None:
        self.ledger = ledger
        self.reports = reports

    # -- approvals ---------------------------------------------------------------

    def subject_kind(self, subject_id: str) -> str:
        """The kind of an approval's subject (``target``, ``case``,
        ``adjustment``, ``run``); NotFoundError when there is none."""
        kind = self.ledger.subject_kind(subject_id)
        if kind is None:
            raise no_subject(subject_id)
        return kind

    def decide(
        self,
        subject_id: str,
        *,
        actor: str,
        granted: bool,
        note: str | None = None,
        may_decide: Callable[[str], None] | None = None,
    ) -> Decision:
        """Approve or reject a target, adjustment, red-line case or payout run
        (SPEC §2 maker-checker: the write rule refuses the recorder's own
        decision; a rejection says why). ``may_decide`` (the edge's role check)
        is called with the subject's kind first. Approving a payout run is a
        payout step (SPEC §6): the run's own event is checked against its link."""
        if not granted and not (note or "").strip():
            raise InvalidInputError("a rejection says why", field="note")
        kind = self.subject_kind(subject_id)
        if may_decide is not None:
            may_decide(kind)
        recorded = self._record_decision(subject_id, kind, actor=actor, granted=granted, note=note)
        return Decision(subject_id, kind, recorded)

    def _record_decision(
        self, subject_id: str, kind: str, *, actor: str, granted: bool, note: str | None
    ) -> RecordResult:
        """Record the decision; approving a payout run first passes the chain
        guard (SPEC §6: its own event checked against its link)."""
        if kind == "run" and granted:  # a rejection pays nobody: never held up
            self.ledger.guard_chain()
            self.ledger.guard_run(subject_id)
        item = make_event(
            ApprovalGranted if granted else ApprovalRejected,
            occurred_at=_now(),
            subject_id=subject_id,
            note=note,
        )
        return self.ledger.record([item], actor=actor)

    # -- disputes ----------------------------------------------------------------

    def raise_dispute(
        self,
        *,
        rep_id: str,
        run_id: str,
        message: str,
        actor: str,
        dispute_id: str | None = None,
        by_the_rep: bool = False,
        idempotency_key: str | None = None,
    ) -> tuple[str, RecordResult]:
        """A rep's dispute of a payout run; returns its ``dispute_id`` (made here
        when not given) and what was stored.

        A ``dispute_id`` already naming another rep's or run's dispute is not
        refused as a conflict — that answer would tell a rep that someone
        else's dispute exists (SPEC §5: never a hint) — the dispute gets an id
        of its own instead, the one answered (as the dispute page does). Raised
        ``by_the_rep``, an id of the rep's own choosing is kept only when it is
        the rep's own dispute of this run, or a free id of the form this makes
        (``DSP-`` and 12 random hex digits, which no one can guess): whether a
        chosen id like ``DSP-401`` is taken changes nothing in the answer.

        A retry is recorded once: with an ``idempotency_key`` (and no id
        given) the id is derived from the caller and the key, as a payout
        run's is — so a request re-run after a crash lost its first answer
        names the dispute it stored then — and the rep's own dispute of this
        run sent again with the same message is the same fact, skipped (it
        keeps the moment it was first raised).

        Raised ``by_the_rep``, a run that holds no statement of theirs is
        refused as a run id naming nothing (422, ``run_id``): runs are
        finance's to read, and "has no statement for rep ..." told a rep
        that the id they tried is a run (SPEC §5: never a hint)."""
        if by_the_rep and rep_id not in (self.ledger.run_reps(run_id) or ()):
            refused = unknown_run(run_id)
            raise BatchRejectedError([LineError(1, "run_id", refused, kind=UnknownReferenceError)])
        if dispute_id is None and idempotency_key:
            dispute_id = _keyed_dispute_id(actor, idempotency_key)
        stored = self.ledger.dispute(dispute_id) if dispute_id else None
        owner = (stored.rep_id, stored.run_id) if stored is not None else None
        kept = owner == (rep_id, run_id) or (  # the rep's own (a retry), or one free
            owner is None
            and dispute_id is not None
            and (not by_the_rep or _DISPUTE_ID.fullmatch(dispute_id) is not None)
        )
        new_id = dispute_id if kept and dispute_id is not None else new_dispute_id()
        again = kept and stored is not None and stored.message == message
        item = make_event(
            DisputeRaised,
            occurred_at=stored.raised_at if again and stored is not None else _now(),
            dispute_id=new_id,
            rep_id=rep_id,
            run_id=run_id,
            message=message,
        )
        return new_id, self.ledger.record([item], actor=actor)

    def resolve_dispute(
        self,
        dispute_id: str,
        *,
        outcome: str,
        note: str,
        actor: str,
        amount: str | None = None,
    ) -> tuple[str | None, RecordResult]:
        """Resolve a dispute. Upheld, it books ``amount`` (non-zero) as an
        adjustment (``ADJ-<dispute id>``) in the rep's first unpaid period after
        the run's, pending a second person's approval; both events go in
        together. Returns the adjustment id (None when rejected)."""
        if outcome not in _OUTCOMES:  # before the dispute is looked up
            raise InvalidInputError(f"must be one of {', '.join(_OUTCOMES)}", field="outcome")
        found = self.ledger.dispute(dispute_id)
        if found is None:
            raise NotFoundError(f"no dispute {shown_id(dispute_id)}", field="dispute_id")
        check_resolution(outcome, amount)
        rep_id, run_id = found.rep_id, found.run_id
        # resolved already: this resolution sent again is the same fact, skipped
        # (another is refused: one resolution); it keeps its first moment
        now = found.resolved_at or _now()
        items: list[EventIn] = []
        adjustment_id = None
        if outcome == "upheld":
            adjustment_id = self._adjustment_id_for(
                dispute_id, resolved=found.resolved_at is not None
            )
            period = self.reports.first_unpaid_period(
                rep_id, after=self.reports.run(run_id)["period"]
            )
            items.append(
                make_event(
                    AdjustmentRequested,
                    occurred_at=now,
                    adjustment_id=adjustment_id,
                    rep_id=rep_id,
                    period=period,
                    amount=amount,
                    reason=f"dispute {dispute_id} upheld: {note}"[:_REASON_CHARACTERS],
                )
            )
        items.append(
            make_event(
                DisputeResolved,
                occurred_at=now,
                dispute_id=dispute_id,
                outcome=outcome,
                note=note,
                adjustment_id=adjustment_id,
            )
        )
        try:
            return adjustment_id, self.ledger.record(items, actor=actor)
        except BatchRejectedError as exc:
            if found.resolved_at is not None:  # not this very resolution: another
                raise _resolved_otherwise(dispute_id, found.resolved_at, len(items)) from None
            first = [e for e in exc.errors if e.line == 1]
            if adjustment_id is None or not first or len(first) == len(exc.errors):
                raise
            # the adjustment refused (its amount, say), the resolution naming it
            # is refused for that alone: say why once
            raise BatchRejectedError(first) from None

    def _adjustment_id_for(self, dispute_id: str, *, resolved: bool) -> str:
        """The id of an upheld dispute's adjustment: ``ADJ-<dispute id>``, unless
        that is over the 128 characters an id may have (a dispute id of 125 could
        never be upheld) or names a subject already (a dispute ``301`` beside
        the adjustment ``ADJ-301``); then ``ADJ-D-`` and a digest of the id.
        Once the dispute is ``resolved``, the one its resolution booked (the
        plain id names a subject by then: its own adjustment)."""
        plain = f"ADJ-{dispute_id}"
        digest = "ADJ-D-" + hashlib.sha256(dispute_id.encode("utf-8")).hexdigest()[:32]
        if len(plain) > _MAX_ID_CHARACTERS:
            return digest
        if resolved:
            return digest if self.ledger.subject_kind(digest) is not None else plain
        return plain if self.ledger.subject_kind(plain) is None else digest

    # -- payouts -----------------------------------------------------------------

    def payout_run(self, period: str, *, actor: str, run_id: str | None = None) -> RecordResult:
        """SPEC §5: compute and record a run of every rep whose ``period`` is neither
        paid nor in another open run; refused when that is nobody, and on a
        broken chain (SPEC §6; approving, paying and exporting a run also check
        the run's own event against its link, `Ledger.guard_run`).

        The plan is checked again when the run is recorded, under the writer
        lock (`ledger.rules.payout_calculated`): should another run (another
        process) take some of its reps meanwhile, it is planned again, once.
        """
        self.ledger.guard_chain()
        for attempt in range(2):
            statements, at = self.reports.plan_run(period)
            wanted = str(statements[0]["period"])
            run = run_id or f"run-{wanted}-{uuid.uuid4().hex[:8]}"
            try:
                return self.ledger.record_payout_run(
                    run,
                    wanted,
                    statements,
                    position=at.position,
                    chain_head=at.head(),
                    actor=actor,
                )
            except BatchRejectedError as exc:
                if attempt or not _taken_meanwhile(exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def decide_run(
        self, run_id: str, *, actor: str, granted: bool = True, note: str | None = None
    ) -> RecordResult:
        """Approve (or reject) a payout run — maker-checker applies; an approval
        first passes the chain guard (SPEC §6)."""
        if self.ledger.subject_kind(run_id) != "run":
            raise NotFoundError(unknown_run(run_id), field="run_id")
        return self._record_decision(run_id, "run", actor=actor, granted=granted, note=note)

    def pay_run(self, run_id: str, *, actor: str) -> RecordResult:
        """Pay an approved run after the chain guard (SPEC §6); refused, paying
        nobody, when one of its reps' period was paid meanwhile (SPEC §5). A run
        id naming no run is not found, as reading or exporting it is — not an
        item refused in a batch of one (the id is the command's whole input)."""
        self.ledger.guard_chain()
        if self.ledger.subject_kind(run_id) != "run":
            raise NotFoundError(unknown_run(run_id), field="run_id")
        self.ledger.guard_run(run_id)
        return self.ledger.pay_run(run_id, actor=actor)

    def run_payout(
        self, period: str, *, actor: str, idempotency_key: str | None = None
    ) -> RunSummary:
        """Compute and record a payout run (SPEC §5). With an idempotency key the
        run id is derived from the actor and the key, so a retry — even one
        racing the first call — answers with the same run instead of a second."""
        run_id = None
        if idempotency_key:
            digest = hashlib.sha256(f"{actor}\n{idempotency_key}".encode()).hexdigest()
            run_id = f"run-{period}-{digest[:12]}"
            existing = self._existing_run(run_id)
            if existing is not None:
                return _summary(existing, created=False)
        try:
            result = self.payout_run(period, actor=actor, run_id=run_id)
        except LedgerError:
            # A concurrent retry with the same key may have won: its run then holds
            # the reps (this one covers nobody) or its id (a conflict).
            won = self._existing_run(run_id) if run_id is not None else None
            if won is None:
                raise
            return _summary(won, created=False)
        event_id = result.outcomes[0].event_id
        assert event_id is not None, "a recorded run has its event"
        recorded = self.ledger.event(event_id).data
        return _summary({**recorded, "paid": False, "approved": None}, created=True)

    def _existing_run(self, run_id: str) -> dict[str, Any] | None:
        try:
            return self.reports.run(run_id)
        except NotFoundError:
            return None


def _summary(run: dict[str, Any], *, created: bool) -> RunSummary:
    return RunSummary(
        run_id=run["run_id"],
        period=run["period"],
        position=run["position"],
        chain_head=run["chain_head"],
        reps=[s["rep_id"] for s in run["statements"]],
        approved=run.get("approved"),
        paid=run.get("paid", False),
        created=created,
    )


def no_subject(subject_id: str) -> NotFoundError:
    """The answer to a decision on an id that names no subject (or none its
    decider may learn of: `api.auth.reads_subject`)."""
    return NotFoundError(f"no subject {shown_id(subject_id)}", field="subject_id")


def check_resolution(outcome: str, amount: str | None) -> None:
    """SPEC §5 ``dispute resolve``: the outcome is upheld or rejected; an upheld
    dispute books a non-zero amount, a rejected one none. InvalidInputError
    naming the field otherwise (the amount's format is the adjustment's to check)."""
    if outcome not in _OUTCOMES:
        raise InvalidInputError(f"must be one of {', '.join(_OUTCOMES)}", field="outcome")
    if outcome == "upheld" and not _nonzero(amount):
        raise InvalidInputError("an upheld dispute books a non-zero amount", field="amount")
    if outcome != "upheld" and amount is not None:
        raise InvalidInputError("only an upheld dispute books an amount", field="amount")


def _resolved_otherwise(dispute_id: str, resolved_at: datetime, line: int) -> BatchRejectedError:
    """A second resolution of a dispute, unlike its first: refused as a
    conflict saying so (it was named as its adjustment's or resolution's
    "other content", to be corrected "with a later event", which no event is)."""
    reason = (
        f"dispute {dispute_id} was resolved on {resolved_at.date().isoformat()}, otherwise: "
        "a dispute is resolved once, and its resolution stands; money still owed or "
        "overpaid is an adjustment of its own"
    )
    return BatchRejectedError([LineError(line, "dispute_id", reason, "conflict", ConflictError)])


def _nonzero(amount: str | None) -> bool:
    """Whether ``amount`` is given and not zero (its format is the event's to check)."""
    if amount is None:
        return False
    try:
        return Decimal(amount) != 0
    except InvalidOperation:
        return True  # not a number: AdjustmentRequested names the field and why


def _taken_meanwhile(exc: BatchRejectedError) -> bool:
    """Whether a run was refused only because another run took some of its reps
    between its plan and its record (`ledger.rules.payout_calculated`)."""
    return all(
        e.status == "conflict" and (e.field or "").startswith("statements[") for e in exc.errors
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _keyed_dispute_id(actor: str, idempotency_key: str) -> str:
    """The dispute id of a request sent with an Idempotency-Key: of the id's
    random form (`new_dispute_id`), from the caller and the key."""
    digest = hashlib.sha256(f"dispute\n{actor}\n{idempotency_key}".encode()).hexdigest()
    return f"DSP-{digest[:12]}"


def new_dispute_id() -> str:
    """A fresh dispute id (`UseCases.raise_dispute`, and the dispute page's
    confirmation, which names the dispute it will record)."""
    return f"DSP-{uuid.uuid4().hex[:12]}"
