"""Warn, don't guess (issue 16): inputs the SPEC allows but that are probably a
typo that changes pay. The ledger accepts them as written — it never guesses
what was meant — and says so, in the write's answer and on the statement:

- ``unknown_kpi``: a TargetSet or KpiScored whose KPI is not in the rep's plan
  (``nsp``): it weighs nothing in the score;
- ``category_lookalike``: a sale whose category differs from a plan category
  only by case or spacing (``SaaS`` when the plan knows ``saas``, ``pre-sales``
  when it knows ``presales``): it earns the default rate, not that category's;
- ``rep_not_in_splits``: a sale recorded for a rep who is not among its splits:
  that rep is credited nothing;
- ``sale_after_leaving``: a sale dated after the day its rep (or a rep among its
  splits) left: that rep is credited nothing for it — nor is their manager's
  override — so the sale pays nobody until it is recorded again for a rep who
  has not left;
- ``override_unfollowed``: a plan version with ``[override]`` that no rep
  follows yet: whether its managers have reports cannot be checked (a plan
  whose followers all lack reports is refused instead, naming ``plan.override``);
- ``no_plan_in_force``: a sale dated in a period before any version of its rep's
  plan is in force: no statement of that period can be made, so it pays
  nothing until a version covering the period is published;
- ``manager_lookalike``: a rep's ``manager_id`` that is another rep's id in
  another spelling (``Lead-He`` for ``lead-he``): that rep manages them — the
  pages and the API compare the two as actors — but an override is paid only
  to a ``manager_id`` written as the manager's rep id;
- ``manager_left``: a rep enrolled or moved under a manager (a rep too) after
  the day that manager left: they report to someone gone, who earns no override
  on their sales from then on;
- ``transfer_same_instant``: a transfer of a rep that takes effect at the same
  instant as another of theirs and sets its manager or team otherwise: the one
  recorded last is in force, whatever the two were meant to say in order;
- ``kpi_score_replaces`` and ``kpi_score_outdated``: a second score of a rep's
  KPI for one period — the latest by ``occurred_at`` counts (then the one
  recorded last), so it replaces the one stored or, dated before it, is stored
  but does not count;
- ``target_replaces`` and ``target_outdated``: a second target of a rep's KPI
  for one period (another ``target_id``) — of those that count (approved, or
  needing no approval) the latest by ``occurred_at`` counts (then the one
  recorded last), so it replaces the one stored once it counts itself or,
  dated before it, does not count while that one does.

A warning is data like an explanation step: a stable code, its values and the
event ids it rests on (and, in a write's answer, the input field it is about);
its words are rendered separately (`policies.wording.render_warning`). The
checks read what the write rule already has (the plan's KPI names and rates),
so the write path stays cheap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

from policies.explanation import ratio
from policies.facts import PeriodFacts, UnsplitSaleFact
from policies.periods import Period
from policies.plan import Plan

__all__ = [
    "PayWarning",
    "PlanTerms",
    "category_warning",
    "folded",
    "kpi_warning",
    "manager_left_warning",
    "manager_warning",
    "no_plan_warning",
    "override_warning",
    "period_warnings",
    "rescored_warning",
    "retarget_warning",
    "same_instant_warning",
    "splits_warning",
    "terms_in_force",
]


class PayWarning(NamedTuple):
    """One warning: a stable code, its values (text), the events it rests on,
    and the input field it is about."""

    code: str
    values: Mapping[str, str]
    event_ids: tuple[str, ...] = ()
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "field": self.field,
            "values": dict(self.values),
            "event_ids": list(self.event_ids),
        }


@dataclass(frozen=True)
class PlanTerms:
    """What the warnings (and the write rules) read of one plan version: its
    KPIs and rates, and whether it pays on collection."""

    plan_id: str
    version: int
    effective_from: date
    kpis: tuple[str, ...]
    rates: tuple[tuple[str, Decimal], ...]
    default_rate: Decimal
    collection: bool = False  # SPEC §3.1 ``basis = "collection"``

    @cached_property
    def categories(self) -> frozenset[str]:
        """The categories with a rate of their own."""
        return frozenset(c for c, _ in self.rates)

    @classmethod
    def of(cls, plan: Plan) -> PlanTerms:
        return cls(
            plan.id,
            plan.version,
            plan.effective_from,
            tuple(k.kpi for k in plan.bonus.kpis),
            tuple(plan.commission.rates.items()),
            plan.commission.default_rate,
            plan.commission.basis == "collection",
        )

    @classmethod
    def of_document(cls, document: Mapping[str, Any]) -> PlanTerms:
        """From a stored plan document (`policies.plan.plan_document`), without
        validating the whole plan again."""
        commission = document["commission"]
        return cls(
            str(document["id"]),
            int(document["version"]),
            date.fromisoformat(str(document["effective_from"])),
            tuple(str(k["kpi"]) for k in document["bonus"]["kpis"]),
            tuple((str(c), Decimal(str(r))) for c, r in commission.get("rates", {}).items()),
            Decimal(str(commission["default_rate"])),
            commission.get("basis") == "collection",
        )


def terms_in_force(versions: Iterable[PlanTerms], period: Period) -> PlanTerms | None:
    """SPEC §3: the highest version whose effective_from is on or before the
    period's first day (as `policies.plan.plan_in_force`)."""
    eligible = [t for t in versions if t.effective_from <= period.first_day]
    return max(eligible, key=lambda t: t.version) if eligible else None


def kpi_warning(terms: PlanTerms, kpi: str, event_ids: Sequence[str] = ()) -> PayWarning | None:
    """A KPI the plan does not weigh: its target or score changes nothing."""
    if kpi in terms.kpis:
        return None
    return PayWarning(
        "unknown_kpi",
        {
            "kpi": kpi,
            "plan_id": terms.plan_id,
            "plan_version": str(terms.version),
            "plan_kpis": ", ".join(terms.kpis),
        },
        tuple(event_ids),
        "kpi",
    )


# What separates words in a category: whitespace (a plan's rate keys may hold
# it) and the separators an id allows in its place (``soft-ware``, ``soft_ware``).
_SPACING = re.compile(r"[\s_.-]+")


@lru_cache(maxsize=4096)
def folded(text: str) -> str:
    """``text`` without case or spacing (`_folded`), once per distinct text (a
    sale's category is one of a handful)."""
    return _folded(text)


def _folded(text: str) -> str:
    """``text`` without case or spacing: NFKC, case folded, whitespace and word
    separators removed (``Soft-Ware`` and ``software`` fold alike)."""
    return _SPACING.sub("", unicodedata.normalize("NFKC", text).casefold())


def category_warning(
    terms: PlanTerms, category: str | None, event_ids: Sequence[str] = (), *, sales: int = 1
) -> PayWarning | None:
    """A category that is not the plan's but differs from one of them only by
    case or spacing: it earns the default rate, not that category's."""
    rates = dict(terms.rates)
    if category is None or category in rates:
        return None
    folded = _folded(category)
    match = next((c for c, _ in terms.rates if _folded(c) == folded), None)
    if match is None:
        return None
    return PayWarning(
        "category_lookalike",
        {
            "category": category,
            "plan_category": match,
            "plan_rate": ratio(rates[match]),
            "default_rate": ratio(terms.default_rate),
            "plan_id": terms.plan_id,
            "sales": str(sales),
        },
        tuple(event_ids),
        "category",
    )


def splits_warning(
    sale_id: str,
    rep_id: str,
    splits: Sequence[tuple[str, Decimal]],
    event_ids: Sequence[str] = (),
) -> PayWarning | None:
    """A sale recorded for a rep who is not among its splits: credited nothing."""
    if not splits or any(r == rep_id for r, _ in splits):
        return None
    return PayWarning(
        "rep_not_in_splits",
        {
            "sale_id": sale_id,
            "rep_id": rep_id,
            "splits": ", ".join(f"{r} {ratio(share)}" for r, share in splits),
        },
        tuple(event_ids),
        "splits",
    )


def after_leaving_warning(
    sale_id: str, rep_id: str, left_on: date | None, event_ids: Sequence[str] = ()
) -> PayWarning:
    """A sale credited to ``rep_id`` on a day after they left: credited nothing.
    ``left_on`` None: the day is not the sender's to be told (they did not
    record the departure), only that the rep had left by the sale's day."""
    values = {"sale_id": sale_id, "rep_id": rep_id}
    if left_on is not None:
        values["left_on"] = left_on.isoformat()
    return PayWarning("sale_after_leaving", values, tuple(event_ids), "occurred_at")


def override_warning(plan_id: str, version: int) -> PayWarning:
    """A plan with ``[override]`` that nobody follows yet: accepted, and said."""
    return PayWarning(
        "override_unfollowed",
        {"plan_id": plan_id, "plan_version": str(version)},
        (),
        "plan.override",
    )


def manager_warning(rep_id: str, manager_id: str, manager_rep: str) -> PayWarning:
    """``rep_id``'s ``manager_id``, rep ``manager_rep``'s id in another spelling."""
    return PayWarning(
        "manager_lookalike",
        {"rep_id": rep_id, "manager_id": manager_id, "manager_rep": manager_rep},
        (),
        "manager_id",
    )


def manager_left_warning(rep_id: str, manager_id: str, left_on: date) -> PayWarning:
    """``rep_id`` put under ``manager_id`` after the day that manager left."""
    return PayWarning(
        "manager_left",
        {"rep_id": rep_id, "manager_id": manager_id, "left_on": left_on.isoformat()},
        (),
        "manager_id",
    )


def same_instant_warning(rep_id: str, occurred_at: datetime, fields: Sequence[str]) -> PayWarning:
    """A transfer of ``rep_id`` taking effect at the instant another one does,
    setting ``fields`` otherwise: the one recorded last is in force."""
    return PayWarning(
        "transfer_same_instant",
        {"rep_id": rep_id, "occurred_at": occurred_at.isoformat(), "fields": ", ".join(fields)},
        (),
        "occurred_at",
    )


def rescored_warning(
    rep_id: str, kpi: str, period: str, occurred_at: datetime, other_at: datetime
) -> PayWarning:
    """A second score of ``rep_id``'s ``kpi`` for ``period``, dated
    ``occurred_at``: the latest by ``occurred_at`` counts (ties: the one
    recorded last), so it replaces the score dated ``other_at`` or, dated
    before it, does not count."""
    code = "kpi_score_outdated" if occurred_at < other_at else "kpi_score_replaces"
    values = {"rep_id": rep_id, "kpi": kpi, "period": period, "other_at": other_at.isoformat()}
    return PayWarning(code, values, (), "occurred_at")


def retarget_warning(
    rep_id: str, kpi: str, period: str, occurred_at: datetime, other: tuple[str, datetime]
) -> PayWarning:
    """A second target of ``rep_id``'s ``kpi`` for ``period``, dated
    ``occurred_at``, where ``other`` (its target id and ``occurred_at``) is the
    latest stored: of the targets that count (approved, or needing no
    approval) the latest by ``occurred_at`` counts (ties: the one recorded
    last), so it replaces ``other`` from when it counts itself or, dated
    before it, does not count while ``other`` does. Either holds whichever
    of the two awaits approval."""
    other_id, other_at = other
    code = "target_outdated" if occurred_at < other_at else "target_replaces"
    values = {
        "rep_id": rep_id,
        "kpi": kpi,
        "period": period,
        "other_id": other_id,
        "other_at": other_at.isoformat(),
    }
    return PayWarning(code, values, (), "occurred_at")


def no_plan_warning(sale_id: str, plan_id: str, period: Period) -> PayWarning:
    """A sale in a period no version of the rep's plan is in force for."""
    return PayWarning(
        "no_plan_in_force",
        {"sale_id": sale_id, "plan_id": plan_id, "period": str(period)},
        (),
        "occurred_at",
    )


def _kpi_warnings(terms: PlanTerms, facts: PeriodFacts) -> list[tuple[int, PayWarning]]:
    by_kpi: dict[str, list[tuple[int, str]]] = {}
    for position, kpi, event_id in (
        *((t.position, t.kpi, t.event_id) for t in facts.targets),
        *((s.position, s.kpi, s.event_id) for s in facts.kpi_scores),
    ):
        if kpi not in terms.kpis:
            by_kpi.setdefault(kpi, []).append((position, event_id))
    found = []
    for kpi, events in by_kpi.items():
        events.sort()
        warning = kpi_warning(terms, kpi, [e for _, e in events])
        assert warning is not None
        found.append((events[0][0], warning))
    return found


def _category_warnings(terms: PlanTerms, facts: PeriodFacts) -> list[tuple[int, PayWarning]]:
    known = dict(terms.rates)
    by_category: dict[str, list[tuple[int, str]]] = {}
    for sale in facts.sales:
        if sale.category is not None and sale.category not in known:
            by_category.setdefault(sale.category, []).append((sale.position, sale.event_id))
    found = []
    for category, events in by_category.items():
        events.sort()
        warning = category_warning(terms, category, [e for _, e in events], sales=len(events))
        if warning is not None:
            found.append((events[0][0], warning))
    return found


def _splits_warnings(unsplit: Sequence[UnsplitSaleFact]) -> list[tuple[int, PayWarning]]:
    found = []
    for sale in unsplit:
        warning = splits_warning(sale.sale_id, sale.rep_id, sale.splits, (sale.event_id,))
        if warning is not None:
            found.append((sale.position, warning))
    return found


def _after_leaving_warnings(facts: PeriodFacts) -> list[tuple[int, PayWarning]]:
    left_on = facts.left_on
    if left_on is None:
        return []
    return [
        (s.position, after_leaving_warning(s.sale_id, facts.rep_id, left_on, (s.event_id,)))
        for s in facts.after_leaving
    ]


def period_warnings(plan: Plan, facts: PeriodFacts) -> tuple[PayWarning, ...]:
    """The statement's warnings: one per unknown KPI (with every target and
    score that names it), per look-alike category (with every sale), per sale
    whose own rep is not among its splits, per sale credited after the rep left;
    in the order of their first event."""
    terms = PlanTerms.of(plan)
    found = [
        *_kpi_warnings(terms, facts),
        *_category_warnings(terms, facts),
        *_splits_warnings(facts.unsplit_sales),
        *_after_leaving_warnings(facts),
    ]
    found.sort(key=lambda item: (item[0], item[1].code))
    return tuple(w._replace(field=None) for _, w in found)
