"""What a write did: one outcome per input, and the counts and warnings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from ledger.chain import ChainLink
from ledger.writes import StagedInput
from policies.pay_warnings import PayWarning

__all__ = ["Outcome", "RecordResult", "outcomes_of", "warnings_of"]


class Outcome(NamedTuple):
    """What became of one input (a named tuple: a batch makes one per event)."""

    line: int
    type: str
    status: str  # "stored" | "skipped"
    event_id: str | None = None
    position: int | None = None
    # accepted as written, but probably a typo that changes pay
    warnings: tuple[PayWarning, ...] = ()


@dataclass(frozen=True)
class RecordResult:
    """What a batch did: every input stored or skipped as an identical duplicate.

    ``outcomes`` has one entry per input, in input order (empty for an import
    run with ``keep_outcomes=False``); the counts and warnings are always there.
    """

    outcomes: list[Outcome]
    stored: int
    skipped: int
    # (line, warning) of every input accepted with one: kept even when the
    # outcomes are not (they are few, and each is worth reading)
    warnings: list[tuple[int, PayWarning]] = field(default_factory=list)


def outcomes_of(staged: Sequence[StagedInput], links: Sequence[ChainLink]) -> list[Outcome]:
    """One outcome per staged input: stored ones take the next link, in order."""
    appended = iter(links)
    outcomes = []
    for s in staged:
        if s.stored:
            link = next(appended)
            outcomes.append(
                Outcome(s.line, s.type, "stored", link.event_id, link.position, s.warnings)
            )
        else:
            outcomes.append(Outcome(s.line, s.type, "skipped"))
    return outcomes


def warnings_of(staged: Sequence[StagedInput]) -> list[tuple[int, PayWarning]]:
    """(line, warning) of the inputs staged with warnings."""
    return [(s.line, w) for s in staged if s.warnings for w in s.warnings]
