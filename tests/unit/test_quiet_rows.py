"""Which balances rows the pages count as having anything in them
(`api.pages.views.eventful`): the period switches offer those periods, and
the Overview's payouts by team list those teams' periods."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from api.pages import views

QUIET = {"status": "open", "pending": 0, "total": "0.00", "commission": "0.00", "fine": "-0.00"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, False, id="quiet"),
        pytest.param({"total": "0", "bonus": "+0.0"}, False, id="zeros-written-otherwise"),
        pytest.param({"commission": None}, False, id="no-field"),
        pytest.param({"total": "0.01"}, True, id="a-cent"),
        pytest.param({"fine": "-5.00"}, True, id="a-fine"),
        pytest.param({"carried_balance": "100"}, True, id="carried"),
        pytest.param({"correction": "1E+2"}, True, id="exponent"),
        pytest.param({"correction": "0E-8"}, False, id="exponent-zero"),
        pytest.param({"pending": 1}, True, id="pending"),
        pytest.param({"status": "paid"}, True, id="paid"),
    ],
)
def test_a_row_with_money_a_pending_item_or_a_run_is_eventful(
    changes: dict[str, Any], *, expected: bool
) -> None:
    """Money, a pending item or a status past open; a quiet period's zeros not."""
    row = QUIET | changes
    assert views.eventful(row) is expected
    fields = [None if row.get(n) is None else str(row[n]) for n in views.ACTIVITY_FIELDS]
    assert views._eventful_fields(fields) is expected


def test_a_quiet_rows_zeros_are_told_without_a_decimal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Overview asks this of every rep's row of every period, twice (160,000
    times at 10,000 reps and 8 quarters): a Decimal made of each of a quiet
    row's zeros was two of the page's three seconds."""
    made: list[str] = []

    def counted(text: str) -> Decimal:
        made.append(text)
        return Decimal(text)

    monkeypatch.setattr(views, "Decimal", counted)
    fields = ["open", "0", "0.00", *["0.00"] * 6]
    assert not views._eventful_fields(fields)
    assert made == []
    assert views.eventful(QUIET | {"total": "12.50"})
    assert made == ["12.50"]
