"""Which periods a rep has figures in."""

from __future__ import annotations

from policies.periods import Period, PeriodKind, parse_period, period_of
from projections.facts import LedgerFacts

__all__ = ["activity_periods"]


def _fact_periods(facts: LedgerFacts, rep_id: str, kind: PeriodKind) -> list[Period]:
    owned = facts.by_rep.get(rep_id, {})
    return [
        *facts.sales_by_period(rep_id, kind),
        *(parse_period(facts.targets[t].data["period"]) for t in owned.get("targets", [])),
        *(parse_period(facts.adjustments[a].data["period"]) for a in owned.get("adjustments", [])),
        *(period_of(facts.cases[c].record.occurred_at, kind) for c in owned.get("cases", [])),
        *(parse_period(s.data["period"]) for s in facts.kpi_scores.get(rep_id, [])),
        # sales recorded for the rep but split to others only: their warning
        *(period_of(s.occurred_at, kind) for s in facts.unsplit_by_rep.get(rep_id, [])),
        # an open run's period is the rep's; the period after a paid one holds
        # its corrections; a rejected run (a mistyped future period, say) leaves
        # no period behind
        *(
            parse_period(run.period).next() if run.paid is not None else parse_period(run.period)
            for run in facts.runs.values()
            if run.statement_of(rep_id) is not None and (run.paid is not None or facts.is_open(run))
        ),
        # SPEC §3.1 overrides: a manager is paid in the periods of their reports'
        # sales (two levels), with no fact of their own there
        *(
            p
            for report in _override_reports(facts, rep_id)
            for p in facts.sales_by_period(report, kind)
        ),
    ]


def _override_reports(facts: LedgerFacts, rep_id: str) -> list[str]:
    """The reps (and their reports) who ever reported to ``rep_id``, when a plan
    of ``rep_id``'s pays overrides; none otherwise."""
    if not facts.reads_other_reps(rep_id):
        return []
    ever = facts.managers_ever
    direct = [report for report, managers in ever.items() if rep_id in managers]
    second = [report for report, managers in ever.items() if not managers.isdisjoint(direct)]
    return sorted({*direct, *second} - {rep_id})


def activity_periods(facts: LedgerFacts, rep_id: str, kind: PeriodKind) -> list[Period]:
    """Every period from the rep's enrolment to the last one with a fact for them."""
    first = facts.first_period(rep_id, kind)
    last = max((p for p in _fact_periods(facts, rep_id, kind) if p.kind == kind), default=first)
    periods = [first]
    while periods[-1] < last:
        periods.append(periods[-1].next())
    return periods
