"""What the tests of a paid period's quick causes compare with the causes
worked out whole (`projections.statement.Calculator.weigh_whole`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from ledger.application import Ledger
from projections.service import Reports
from projections.statement import Calculator
from tests.builders import jsonl, pay_period


def paid_q3(ledger: Ledger) -> int:
    """2026-Q3 paid out; the head's position then (what the late events follow)."""
    pay_period(Reports(ledger), "2026-Q3")
    head = ledger.head()
    assert head is not None
    return head.position


def recorded_late(ledger: Ledger, events: Iterable[dict[str, Any]], actor: str) -> int:
    """``events`` imported; the head's position after them."""
    ledger.import_lines(jsonl(*events), actor=actor)
    head = ledger.head()
    assert head is not None
    return head.position


def answers(
    ledger: Ledger, reps: Iterable[str], before: int, head: int, *, diff_of: set[str]
) -> dict[Any, Any]:
    """Each rep's paid 2026-Q3 and open Q4 as of ``head``, and, for the reps of
    ``diff_of``, the diff of Q3 from ``before`` to ``head``, line by line."""
    reports = Reports(ledger)
    found: dict[Any, Any] = {}
    for rep_id in reps:
        found[rep_id, "Q3"] = reports.statement(rep_id, "2026-Q3", as_of=head)
        found[rep_id, "Q4"] = reports.statement(rep_id, "2026-Q4", as_of=head)
        if rep_id not in diff_of:
            continue
        diff = reports.diff(rep_id, "2026-Q3", before, head)
        found[rep_id, "diff"] = [
            (c.kind, c.subject, str(c.before), str(c.after), [e.event_id for e in c.caused_by])
            for c in diff.changes
        ]
    return found


def replays_counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, each event a paid period is worked out again without (the
    whole replay a quick cause check spares), appended to the list returned."""
    replays: list[str] = []
    whole = Calculator._with_releases

    def counted(self: Calculator, *args: Any, **kwargs: Any) -> Any:
        without = kwargs.get("without", args[4] if len(args) > 4 else None)
        if without is not None:  # the period worked out again without an event
            replays.append(without.event_id)
        return whole(self, *args, **kwargs)

    monkeypatch.setattr(Calculator, "_with_releases", counted)
    return replays


def quick_as_whole(
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    reps: list[str],
    late: tuple[int, int],
    naming: str,
) -> None:
    """`answers` for ``reps`` (each diffed) across ``late`` (the positions
    before and after the late events), from the quick cause checks, are those
    of the definition worked out whole (`Calculator.weigh_whole`), and the
    first rep's paid Q3 names an event of type ``naming`` (a scenario that
    named none would test nothing)."""
    quick = answers(ledger, reps, *late, diff_of=set(reps))
    monkeypatch.setattr(Calculator, "weigh_whole", True)
    assert quick == answers(ledger, reps, *late, diff_of=set(reps))
    monkeypatch.undo()
    named = {ledger.event(e["event_id"]).type for e in quick[reps[0], "Q3"]["later_events"]}
    assert naming in named, named


def quick_answers_checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, every event a paid period weighs as a cause is weighed
    both ways, and the quick answer asserted to be the whole one's lines —
    kind, amount and unrounded amount (moving nothing: the period's own
    amounts); each event so checked appended to the list returned. The causes
    compare only which lines moved: a release or a bonus worked out wrong
    that still moved a line would pass there."""
    real = Calculator._lines_without
    checked: list[str] = []

    def both(self: Calculator, *args: Any, quick: Any) -> Any:
        found = real(self, *args, quick=quick)
        self.weigh_whole = True  # type: ignore[misc]
        try:
            whole = real(self, *args, quick=quick)
        finally:
            del self.weigh_whole  # type: ignore[misc]
        if found is None:
            assert [(x.kind, x.amount) for x in quick.lines] == [(x.kind, x.amount) for x in whole]
        else:
            exact = [(x.kind, x.amount, x.unrounded) for x in whole]
            assert [(x.kind, x.amount, x.unrounded) for x in found] == exact, args[-1]
        checked.append(args[-1])
        return found

    monkeypatch.setattr(Calculator, "_lines_without", both)
    return checked
