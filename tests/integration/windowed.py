"""Checking windowed replays against whole-log replays (both windowed-replay tests)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.periods import parse_period
from projections.service import Reports
from projections.statement import Calculator, canonical_bytes


def compare_windowed(
    reports: Reports, positions: Iterable[int], reps: Sequence[str], quarters: Sequence[str]
) -> dict[str, int]:
    """Windowed replays (and the public as-of path, whichever way it goes) equal
    whole-log replays at each of ``positions``; how many statements of each rep
    went the windowed way."""
    windowed = dict.fromkeys(reps, 0)
    for position in sorted(set(positions)):
        facts, at = reports.facts_at(position)
        whole = Calculator(facts, at)
        for rep in reps:
            for quarter in quarters:
                period = parse_period(quarter)
                expected = canonical_bytes(whole.statement(rep, period))
                found = reports._windowed_statement(rep, period, position, "en")
                if found is not None:
                    windowed[rep] += 1
                    assert canonical_bytes(found) == expected, (rep, quarter, position)
                public = reports.statement(rep, quarter, as_of=position)
                assert canonical_bytes(public) == expected, (rep, quarter, position)
    return windowed
