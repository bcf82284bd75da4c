"""Draws (SPEC §3.1): a guaranteed minimum payable per period.

A draw applies to the rep's periods from the one holding their enrolment to the
last one that starts on or before ``until`` — and on or before the day they left:
a rep who left is guaranteed nothing for the periods after. Let E be the period's total before
the draw (it may be negative). When E < ``amount``, a ``draw`` line of ``amount``
− max(E, 0) is added. When the draw is ``recoverable``, the draw lines form the
rep's draw balance, repaid by a ``draw_recovery`` line of −min(balance, E −
``amount``) in a draw period where E > ``amount``, and of −min(balance, E) in
later periods where E > 0; the statement shows the balance before and after. A
non-recoverable draw is forgiven. Every period counts, paid or not: the balance
carried in is the balance after the period before (`balance_after_of`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from policies.explanation import Line, money, step
from policies.periods import Period
from policies.plan import Draw
from policies.rounding import round_money

__all__ = ["DrawResult", "balance_after_of", "draw_applies", "draw_lines"]

_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DrawResult:
    lines: tuple[Line, ...]
    balance_before: Decimal
    balance_after: Decimal


def draw_applies(
    draw: Draw, period: Period, first_period: Period, left_on: date | None = None
) -> bool:
    """Whether ``period`` is a draw period: from the enrolment period on, while
    it starts on or before ``until`` (every period when there is no ``until``)
    and on or before ``left_on``, the day the rep left (if they did)."""
    if period < first_period:
        return False
    if left_on is not None and period.first_day > left_on:
        return False
    return draw.until is None or period.first_day <= draw.until


def draw_lines(
    draw: Draw,
    period: Period,
    span: tuple[Period, date | None],
    earned: Decimal,
    balance_before: Decimal,
    *,
    plan_event_id: str | None = None,
) -> DrawResult:
    """The period's ``draw`` and ``draw_recovery`` lines, given the rep's
    ``span`` (the period holding their enrolment, the day they left if they
    did), E (``earned``: the total before the draw) and the recoverable balance
    carried in."""
    first_period, left_on = span
    assert balance_before >= 0, "a draw balance is never negative"
    ids = (plan_event_id,)
    in_draw = draw_applies(draw, period, first_period, left_on)
    balance = balance_before if draw.recoverable else _ZERO
    lines: list[Line] = []
    common = {
        "draw_amount": money(draw.amount),
        "earned": money(earned),
        "recoverable": "yes" if draw.recoverable else "no",
        "until": draw.until.isoformat() if draw.until else None,
    }
    if in_draw and earned < draw.amount:
        # rounded as its line is: the balance holds what was paid out (a
        # 3-decimal currency's 0.004 top-up is a 0.00 line, never a 0.004 debt)
        top_up = round_money(draw.amount - max(earned, _ZERO))
        after = balance + top_up if draw.recoverable else _ZERO
        lines.append(
            Line.of(
                "draw",
                top_up,
                [
                    step("draw_top_up", ids, top_up=money(top_up), **common),
                    step("draw_balance", balance_before=money(balance), balance_after=money(after)),
                ],
            )
        )
        balance = after
    elif draw.recoverable and balance > 0:
        room = earned - draw.amount if in_draw else earned
        if room > 0:
            recovered = min(balance, round_money(room))
            after = balance - recovered
            lines.append(
                Line.of(
                    "draw_recovery",
                    -recovered,
                    [
                        step(
                            "draw_recovered",
                            ids,
                            room=money(room),
                            recovered=money(recovered),
                            in_draw_period="yes" if in_draw else "no",
                            **common,
                        ),
                        step(
                            "draw_balance",
                            balance_before=money(balance),
                            balance_after=money(after),
                        ),
                    ],
                )
            )
            balance = after
    return DrawResult(tuple(lines), balance_before, balance)


def balance_after_of(
    lines: Iterable[Mapping[str, object]], balance_before: Decimal
) -> tuple[Decimal, Decimal]:
    """The draw balance after a recorded (paid) statement whose balance carried
    in is ``balance_before`` now, and what it recovered beyond it.

    What a paid period drew or recovered is paid: its ``draw_balance`` step's
    movement (after less before, as recorded) applies to the balance as it
    stands now — which differs from the recorded one when an earlier period
    was paid later, or changed — so a draw replayed in an earlier period is
    still recovered, and one replayed away is not. A recovery beyond the
    balance now (the rep repaid a draw never paid) is over-recovered: the
    balance stops at 0 and the excess is the period's to correct."""
    moved = Decimal(0)
    for line in lines:
        if line.get("kind") not in {"draw", "draw_recovery"}:
            continue
        explanation = line.get("explanation")
        assert isinstance(explanation, list)
        for s in explanation:
            if s["code"] == "draw_balance":
                values = s["values"]
                moved = Decimal(values["balance_after"]) - Decimal(values["balance_before"])
    after = balance_before + moved
    return (after, Decimal(0)) if after >= 0 else (Decimal(0), -after)
