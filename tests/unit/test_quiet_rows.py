"""Which balances rows hold anything (`projections.balances.EVENTFUL`, written
by `period_rows`): the period switches offer those periods, and the Overview's
payouts by team lists those teams' periods. The flag is what the pages worked
out of each row's status, pending count and amounts until balances 9
(`worked_out`, kept here as the reference)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.balances import EVENTFUL, LINE_KINDS, period_rows
from projections.facts import LedgerFacts

# The fields the pages read of a balances row to tell whether it held anything.
_ACTIVITY_FIELDS = ("status", "pending", "total", *LINE_KINDS)


def worked_out(row: Mapping[str, Any]) -> bool:
    """Whether a balances row holds more than a quiet period's zeros, as the
    pages worked it out of its fields: a status past open, an item pending, or
    money in its total or a line kind of `LINE_KINDS`."""
    status, pending, *amounts = (row.get(name) for name in _ACTIVITY_FIELDS)
    if status not in {None, "open"} or str(pending) not in {"None", "0"}:
        return True
    return any(amount is not None and Decimal(str(amount)) != 0 for amount in amounts)


def _statement(
    lines: list[tuple[str, str]],
    *,
    status: str = "open",
    total: str | None = None,
    pending: int = 0,
) -> dict[str, Any]:
    amounts = [Decimal(amount) for _, amount in lines]
    return {
        "period": "2026-Q3",
        "status": status,
        "currency": "CNY",
        "lines": [{"kind": kind, "amount": amount} for kind, amount in lines],
        "total": format(sum(amounts, Decimal(0)), "f") if total is None else total,
        "payable": "0.00",
        "pending": [{"kind": "payment_waiting"}] * pending,
        "attainment": None,
        "score": None,
        "tier_coefficient": None,
    }


def _row(statement: dict[str, Any]) -> dict[str, Any]:
    balance, _ = period_rows(LedgerFacts(), "r1", statement)
    return balance


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        pytest.param(_statement([]), False, id="quiet"),
        pytest.param(_statement([("commission", "0.00")]), False, id="a-zero-line"),
        pytest.param(_statement([("fine", "-0.00")], total="-0.00"), False, id="a-negative-zero"),
        pytest.param(_statement([("commission", "0.01")]), True, id="a-cent"),
        pytest.param(_statement([("fine", "-5.00")]), True, id="a-fine"),
        pytest.param(
            _statement([("commission", "5.00"), ("fine", "-5.00")]), True, id="lines-netting-out"
        ),
        pytest.param(_statement([("carried_balance", "100")]), True, id="carried"),
        pytest.param(_statement([("correction", "1E+2")]), True, id="exponent"),
        pytest.param(_statement([("correction", "0E-8")]), False, id="exponent-zero"),
        pytest.param(_statement([], total="12.50"), True, id="a-total-only"),
        pytest.param(_statement([], pending=1), True, id="pending"),
        pytest.param(_statement([], status="paid"), True, id="paid-only"),
        # kinds past `LINE_KINDS` (SPEC §3.1's spiff, cap) were never read: a
        # spiff its cap takes back whole is a quiet row, as it was
        pytest.param(
            _statement([("spiff", "10.00"), ("cap", "-10.00")]), False, id="a-capped-spiff"
        ),
    ],
)
def test_a_row_says_whether_it_holds_money_a_pending_item_or_a_run(
    statement: dict[str, Any], *, expected: bool
) -> None:
    """Money, a pending item or a status past open; a quiet period's zeros not."""
    row = _row(statement)
    assert row[EVENTFUL] is expected
    assert worked_out(row) is expected


_AMOUNTS = st.sampled_from(["0", "0.00", "-0.00", "0E-8", "0.01", "-5.00", "12.50", "1E+2"])


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.tuples(st.sampled_from([*LINE_KINDS, "spiff", "cap"]), _AMOUNTS), max_size=4),
    status=st.sampled_from(["open", "paid"]),
    total=st.one_of(st.none(), _AMOUNTS),
    pending=st.integers(min_value=0, max_value=2),
)
def test_the_flag_is_what_the_pages_worked_out_of_the_row(
    lines: list[tuple[str, str]], status: str, total: str | None, pending: int
) -> None:
    """Whatever the statement, the row's flag is what its own fields say."""
    row = _row(_statement(lines, status=status, total=total, pending=pending))
    assert row[EVENTFUL] is worked_out(row)
