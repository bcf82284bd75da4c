"""`projections.diff.diff_statements` keys lines as `policies.corrections`
does: two override levels, or two SPIFFs, of one period are two lines."""

from __future__ import annotations

from typing import Any

from projections.diff import diff_statements


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
