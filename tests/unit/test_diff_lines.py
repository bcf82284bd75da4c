"""`projections.diff.diff_statements` keys lines as `policies.corrections`
does: two override levels, or two SPIFFs, of one period are two lines. An
event a line no longer cites is worded as what it is: still recorded, no
longer counted there (events are never deleted) — or, back in time, not
recorded yet at the later point."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from presentation import print_diff
from projections.diff import EventSummary, diff_statements


def _override(level: str, amount: str) -> dict[str, Any]:
    return {
        "kind": "override",
        "amount": amount,
        "event_ids": [f"e-{level}"],
        "explanation": [{"code": "override_total", "values": {"level": level}}],
    }


def _statement(*lines: dict[str, Any]) -> dict[str, Any]:
    total = sum(float(x["amount"]) for x in lines)
    return {
        "rep_id": "m1",
        "period": "2026-Q3",
        "as_of": {"position": 1, "recorded_at": None},
        "total": f"{total:.2f}",
        "lines": list(lines),
    }


def test_a_change_of_one_override_level_is_that_line() -> None:
    before = _statement(_override("1", "100.00"), _override("2", "50.00"))
    after = _statement(_override("1", "120.00"), _override("2", "50.00"))
    (change,) = diff_statements(before, after, {}).changes
    assert (change.kind, change.subject, change.before, change.after) == (
        "override",
        "level=1",
        "100.00",
        "120.00",
    )


def test_causes_are_given_to_the_lines_they_moved() -> None:
    before = _statement(_override("1", "100.00"), _override("2", "50.00"))
    after = _statement(_override("1", "100.00"), _override("2", "80.00"))
    causes = {"e-sale": frozenset({("override", "level=2")})}
    (change,) = diff_statements(before, after, {}, causes).changes
    assert [e.event_id for e in change.caused_by] == ["e-sale"]


def _printed_removal(sale_position: int, to: int, locale: str) -> str:
    """m1's level-1 override line gone between two points: it cited sale
    ``e-1`` (recorded at ``sale_position``); the diff's later point is ``to``."""
    before = _statement(_override("1", "1000.00"))
    after = {**_statement(), "as_of": {"position": to, "recorded_at": None}}
    sale = EventSummary(
        event_id="e-1",
        type="SaleRecorded",
        position=sale_position,
        actor="crm",
        occurred_at="2026-07-10T10:00:00+08:00",
    )
    diff = diff_statements(before, after, {"e-1": sale})
    (change,) = diff.changes
    assert [e.event_id for e in change.events_removed] == ["e-1"]
    console = Console(record=True, width=200)
    print_diff(console, diff, locale)
    return console.export_text()


@pytest.mark.parametrize(
    ("sale_position", "to", "locale", "words"),
    [
        (1, 9, "en", "- SaleRecorded e-1: still recorded, no longer counted on this line"),
        (1, 9, "zh-CN", "- SaleRecorded e-1：事件仍在账，此行不再计入"),
        (9, 5, "en", "- SaleRecorded e-1: not recorded yet at position 5"),
        (9, 5, "zh-CN", "- SaleRecorded e-1：位置 5 时尚未记录"),
    ],
)
def test_an_event_a_line_no_longer_cites_is_not_said_to_be_removed(
    sale_position: int, to: int, locale: str, words: str
) -> None:
    """The sale stands (its rep left the team, say): only this line no longer
    counts it. Back in time (a backward diff), it is not recorded yet."""
    assert words in _printed_removal(sale_position=sale_position, to=to, locale=locale)
