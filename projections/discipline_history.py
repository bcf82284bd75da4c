"""The disciplinary history of a rep: cases, rungs, sanctions, coaching, appeals.

An overturned case is undone everywhere — it takes no rung and costs nothing,
and the rungs of the rep's later cases are counted without it — and its history
shows both events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from ledger.records import EventRecord
from policies.discipline import minor_rungs
from policies.periods import period_of
from projections.facts import LedgerFacts
from projections.rows import Row
from projections.statement import Calculator
from projections.versioning import ReadModel

__all__ = [
    "DISCIPLINE",
    "CaseEntry",
    "CoachingEntry",
    "HistoryEntry",
    "OverturnedEntry",
    "history",
    "history_entries",
]

# 2: entries in the order of their instants (09:00+08:00 before 03:00+00:00,
# which the text of the two put the other way round), and an overturned red-line
# case carries no sanction, as an overturned minor case takes no rung
# 3: every entry says when the ledger recorded it (``recorded_at``), a case when
# its approval or rejection was recorded (``approved_at``)
# 4: a decided case carries its decision's note (``decision_note``): a rejected
# red-line case's history says why it was rejected, as an overturning does
DISCIPLINE = ReadModel("discipline", 4, "each rep's disciplinary history, oldest first")


class CaseEntry(Row):
    """A violation case: its severity and code, the approval a red line needs,
    the rung of the minor ladder it takes, and the sanction it brings."""

    amount: str | None
    approval: str
    approval_event_id: str | None
    approved_at: str | None
    approved_by: str | None
    case_id: str
    code: str
    decision_note: str | None
    description: str
    event_id: str
    evidence: list[str] | None
    kind: Literal["case"]
    occurred_at: str
    overturned: bool
    period: str
    position: int
    recorded_at: str
    recorded_by: str
    rung: str | None
    sanction: str | None
    severity: Literal["minor", "red_line"]


class OverturnedEntry(Row):
    """A case overturned on appeal (undone everywhere), and why."""

    case_id: str
    event_id: str
    kind: Literal["overturned"]
    occurred_at: str
    position: int
    reason: str
    recorded_at: str
    recorded_by: str


class CoachingEntry(Row):
    """A coaching session logged for the rep."""

    event_id: str
    kind: Literal["coaching"]
    occurred_at: str
    position: int
    recorded_at: str
    recorded_by: str
    topic: str


HistoryEntry = Annotated[CaseEntry | OverturnedEntry | CoachingEntry, Field(discriminator="kind")]
_ENTRIES: TypeAdapter[list[HistoryEntry]] = TypeAdapter(list[HistoryEntry])


def history_entries(docs: Iterable[Mapping[str, Any]]) -> list[HistoryEntry]:
    """Stored history rows, each as its kind's type."""
    return _ENTRIES.validate_python(list(docs))


def history(facts: LedgerFacts, calc: Calculator, rep_id: str) -> list[dict[str, Any]]:
    """The rep's disciplinary history, oldest first: `CaseEntry`,
    `OverturnedEntry` and `CoachingEntry` rows, as stored."""
    entries: list[CaseEntry | OverturnedEntry | CoachingEntry] = []
    case_ids = facts.by_rep.get(rep_id, {}).get("cases", [])
    case_facts = [calc._case_fact(cid) for cid in case_ids]  # noqa: SLF001
    kind = facts.period_kind(rep_id)
    for case in case_facts:
        info = facts.cases[case.case_id]
        record = info.record
        period = period_of(record.occurred_at, kind)
        plan = facts.plan_for(rep_id, period)
        decided = facts.decisions.get(case.case_id) if case.decision.event_id else None
        rung = None
        if case.severity == "minor" and plan is not None:
            minors = [c for c in case_facts if c.severity == "minor"]
            rung = minor_rungs(plan.discipline.minor_ladder, minors).get(case.case_id)
        entries.append(
            CaseEntry(
                kind="case",
                case_id=case.case_id,
                **_recorded(record),
                period=str(period),
                code=case.code,
                severity=case.severity,
                description=record.data["description"],
                evidence=record.data.get("evidence", []),
                amount=record.data.get("amount"),
                approval=case.decision.status,
                approval_event_id=case.decision.event_id,
                approved_at=decided.record.recorded_at if decided is not None else None,
                approved_by=case.decision.actor,
                decision_note=decided.record.data.get("note") if decided is not None else None,
                rung=rung,
                sanction=(
                    None
                    if info.overturned is not None  # undone everywhere (SPEC §3)
                    else _sanction(case.severity, rung, case.decision.status, plan)
                ),
                overturned=info.overturned is not None,
            )
        )
        if info.overturned is not None:
            entries.append(
                OverturnedEntry(
                    kind="overturned",
                    case_id=case.case_id,
                    **_recorded(info.overturned),
                    reason=info.overturned.data["reason"],
                )
            )
    entries.extend(
        CoachingEntry(kind="coaching", **_recorded(coaching), topic=coaching.data["topic"])
        for coaching in facts.coaching.get(rep_id, [])
    )
    # oldest first by the instant, not the text: 09:00+08:00 is before 03:00+00:00
    entries.sort(key=lambda e: (datetime.fromisoformat(e.occurred_at), e.position))
    return [entry.doc() for entry in entries]


def _recorded(record: EventRecord) -> dict[str, Any]:
    """What every entry says of its event: which, where, when it occurred and
    was recorded, and who recorded it."""
    return {
        "event_id": record.event_id,
        "position": record.position,
        "occurred_at": record.occurred_at.isoformat(),
        "recorded_at": record.recorded_at,
        "recorded_by": record.actor,
    }


def _sanction(severity: str, rung: str | None, approval: str, plan: Any) -> str | None:
    if severity == "minor":
        return rung
    if approval not in {"approved", "not_required"}:
        return f"none while {approval}"
    if plan is None:
        return None
    parts = []
    if plan.discipline.red_line.forfeit_bonus:
        parts.append("bonus forfeited")
    if plan.discipline.red_line.fine == "amount":
        parts.append("fined the amount involved")
    return ", ".join(parts) or None
