"""The CLI's statement words (`presentation.print_statement`) around the figures
a statement document holds: what a negative total means for the rep."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from presentation import print_statement

CARRIED = {
    "en": "A negative total pays nothing: it is carried into the rep's next period",
    "zh-CN": "负的合计不予支付：它作为结转余额计入该销售代表的下一期间。",
}


def statement(total: str, **more: Any) -> dict[str, Any]:
    """A statement document as served, with one adjustment line of ``total``."""
    return {
        "rep_id": "rep-li",
        "period": "2026-Q3",
        "currency": "CNY",
        "status": "open",
        "plan": {"id": "field-sales", "version": 1},
        "as_of": {"position": 12},
        "lines": [{"kind": "adjustment", "amount": total, "explanation": []}],
        "total": total,
        "payable": total if not total.startswith("-") else "0.00",
        "chain_head": {"position": 12, "hash": "ab12"},
        **more,
    }


def printed(s: dict[str, Any], locale: str = "en") -> str:
    """``s`` as the CLI prints it, on a terminal wide enough to keep lines whole."""
    console = Console(record=True, width=300)
    print_statement(console, s, locale)
    return console.export_text()


class TestANegativeTotal:
    """SPEC §3: payable is the total when positive, else 0, and a negative total
    is carried into the rep's next period as its carried balance line."""

    @pytest.mark.parametrize("locale", sorted(CARRIED))
    def test_a_total_a_cent_below_zero_says_it_is_carried(self, locale: str) -> None:
        """The statement says where the negative total goes, in each locale."""
        assert CARRIED[locale] in printed(statement("-0.01"), locale)

    @pytest.mark.parametrize("total", ["0.00", "0.01"])
    def test_a_total_of_zero_or_more_says_nothing_of_it(self, total: str) -> None:
        """Nothing is carried from a total of zero or more."""
        assert CARRIED["en"] not in printed(statement(total))


PENDING = {"kind": "target", "subject_id": "T-WANG-Q3-B", "event_id": "e-1"}
LOCKED = {
    "en": "This period is paid and stays as paid: a pending item approved now",
    "zh-CN": "本期间已支付，保持不变",
}


class TestAPendingItemOfAPaidPeriod:
    """SPEC §3 item 7: a paid period never changes; a late approval is booked as
    a correction in the rep's first unpaid period."""

    @pytest.mark.parametrize("locale", sorted(LOCKED))
    def test_a_paid_statement_says_a_late_approval_books_a_correction(self, locale: str) -> None:
        """Said beside the pending item, in each locale."""
        paid = statement("100.00", status="paid", pending=[PENDING], paid={"run_id": "R-1"})
        text = printed(paid, locale)
        assert LOCKED[locale] in text
        assert text.index("T-WANG-Q3-B") < text.index(LOCKED[locale])

    def test_an_open_statement_or_one_with_nothing_pending_says_nothing_of_it(self) -> None:
        """An open period changes when the item is approved; a paid one with
        nothing pending has nothing to say."""
        assert LOCKED["en"] not in printed(statement("100.00", pending=[PENDING]))
        paid = statement("100.00", status="paid", pending=[], paid={"run_id": "R-1"})
        assert LOCKED["en"] not in printed(paid)
