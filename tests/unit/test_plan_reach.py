"""SPEC §3: a plan version published changes the figures of the reps who
follow that plan, found from the fold's plan -> followers index
(`LedgerFacts._on_PlanPublished`) — a what-if folds its candidate version
too, and a sales force of thousands is not looked through for each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from demo import PLAN_TOML
from ledger.records import EventRecord
from policies.plan import load_plan, plan_document
from projections.facts import LedgerFacts, RepInfo

_FIELD = plan_document(load_plan(PLAN_TOML, "toml"))
_OTHER = {**_FIELD, "id": "other-sales"}
_AT = datetime(2026, 7, 1, tzinfo=UTC)


class _Looked(dict[str, RepInfo]):
    """``LedgerFacts.reps``, noting each rep looked at (by key or through)."""

    def __init__(self, reps: dict[str, RepInfo]) -> None:
        super().__init__(reps)
        self.looked: list[str] = []

    def __getitem__(self, key: str) -> RepInfo:
        self.looked.append(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.looked.append(key)
        return super().get(key, default)

    def items(self) -> Any:
        self.looked.extend(self.keys())
        return super().items()

    def values(self) -> Any:
        self.looked.extend(self.keys())
        return super().values()


def _facts(on_field: int, on_other: int) -> LedgerFacts:
    """``on_field`` reps enrolled on field-sales, ``on_other`` on
    other-sales, and ``mover``, enrolled on field-sales and moved to
    other-sales."""
    plans = [("PlanPublished", {"plan": _FIELD}), ("PlanPublished", {"plan": _OTHER})]
    enrolled = [
        ("RepEnrolled", {"rep_id": rep, "name": rep, "plan_id": plan_id})
        for plan_id, count in (("field-sales", on_field), ("other-sales", on_other))
        for rep in (f"{plan_id}-{n}" for n in range(count))
    ]
    moved = [
        ("RepEnrolled", {"rep_id": "mover", "name": "mover", "plan_id": "field-sales"}),
        ("RepPlanAssigned", {"rep_id": "mover", "plan_id": "other-sales"}),
    ]
    return LedgerFacts.of(
        EventRecord(n, f"e-{n}", type_, _AT, _AT.isoformat(), "t", data, "h", None)
        for n, (type_, data) in enumerate(plans + enrolled + moved, 1)
    )


def _version_2(facts: LedgerFacts, plan: dict[str, Any]) -> EventRecord:
    n = facts.position + 1
    data = {"plan": {**plan, "version": 2}}
    return EventRecord(n, f"e-{n}", "PlanPublished", _AT, _AT.isoformat(), "t", data, "h", None)


class TestAVersionPublished:
    def test_touches_the_reps_who_ever_followed_the_plan(self) -> None:
        """Those enrolled on it and the one moved off it (a version for a
        period before the move governs them), no one else."""
        facts = _facts(3, 2)
        touched = facts.apply(_version_2(facts, _FIELD))
        assert touched == {"field-sales-0", "field-sales-1", "field-sales-2", "mover"}
        touched = facts.apply(_version_2(facts, _OTHER))
        assert touched == {"other-sales-0", "other-sales-1", "mover"}

    def test_looks_through_no_rep(self) -> None:
        """Two hundred reps on field-sales, two on other-sales: a version of
        other-sales is read off the plan's followers, no rep's assignments
        looked at (it looked at all 203)."""
        facts = _facts(200, 2)
        facts.reps = looked = _Looked(facts.reps)
        touched = facts.apply(_version_2(facts, _OTHER))
        assert touched == {"mover", "other-sales-0", "other-sales-1"}
        assert looked.looked == []

    def test_a_forked_what_if_version_touches_the_same_reps(self) -> None:
        """A what-if's candidate version, folded into a fork, finds the
        followers the facts it forked from hold."""
        facts = _facts(4, 1)
        touched = facts.fork().apply(_version_2(facts, _OTHER))
        assert touched == {"other-sales-0", "mover"}
        assert 2 not in facts.plans["other-sales"]
