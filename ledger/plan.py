"""A published plan version (SPEC §3); natural key ``plan id @ version``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from ledger.domain import LedgerAggregate, created_by
from policies.pay_warnings import PlanTerms, folded, terms_in_force
from policies.periods import Period

__all__ = ["PlanInfo", "PlanVersion"]


class PlanVersion(LedgerAggregate):
    """One version of a plan; versions never change once published."""

    TOPIC = "incentive_ledger:aggregate:PlanVersion"
    KIND = "plan"

    @staticmethod
    def key_of(plan_id: str, version: int) -> str:
        return f"{plan_id}@{version}"

    __init__ = created_by("PlanPublished")


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

    @cached_property
    def first_in_force(self) -> date | None:
        """The earliest ``effective_from`` of its versions (None: none yet)."""
        return min((t.effective_from for t in self.terms), default=None)

    @cached_property
    def pays_on_collection(self) -> bool:
        """Whether some version pays on collection (SPEC §3.1)."""
        return any(t.collection for t in self.terms)

    def terms_for(self, period: Period) -> PlanTerms | None:
        """The version in force for ``period`` (SPEC §3), as the warnings read it."""
        return terms_in_force(self.terms, period)

    def with_version(self, terms: PlanTerms) -> PlanInfo:
        """This plan with one more version (or one replaced)."""
        kept = tuple(t for t in self.terms if t.version != terms.version)
        return PlanInfo(self.plan_id, self.currency, self.period, (*kept, terms))
