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
