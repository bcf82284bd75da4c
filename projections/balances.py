"""Commission balances and tier attainment per rep and period (and the cached
statement they come from), computed from the facts at the projection's position."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from ledger.errors import NotFoundError
from policies.periods import Period
from projections.facts import LedgerFacts
from projections.periods import activity_periods
from projections.statement import Calculator
from projections.versioning import ReadModel

__all__ = ["ATTAINMENT", "BALANCES", "EVENTFUL", "STATEMENTS", "period_rows", "rep_rows"]

# 2: how many items the statement holds pending (a period's summary reads it here,
# not from the statement). 3 (and attainment 2, statements 3): a manager paid only
# overrides in a period has its rows (`activity_periods`: their reports' sales);
# statements 3 also quote a three-decimal amount whole (`policies.explanation.recorded`);
# balances 3 also say whether a paid period was corrected since (``corrected``);
# 4 (and statements 4): a paid period stays corrected once its correction is paid,
# its later events say where each correction went (``correction_in``), and a
# period paid before the one it carries from settles that balance; 5 (and
# attainment 3, statements 5): a sale dated after its rep left credits them nothing;
# statements 7: a paid period names (and its correction cites) the backdated
# transfers, plan assignments and team sales' rates that changed it, and an
# override line cites the rates its team's sales converted at; 8: a clawback step
# keeps the two moments it compared, a gate step the places that show why;
# 9: a correction, a carried balance or a draw balance booked in a period
# paid in another currency is converted (`balance_converted`), or waits under
# pending; 10: every money figure in a step's words shows its cents; 11: a
# paid period's correction names the exchange rate, recorded late, that moved
# only the conversion of a balance it settled (it named no event); 12: a draw
# balance converted in a period that drew and recovered nothing shows its
# conversion on the next draw line that shows it (it showed no step); 13: an
# unrounded amount of more than 10 decimals reads cut, with "…", in the words;
# 14: a paid period's correction names the later events that moved the
# balances it carried in (the causes of the total it carried from, and of a
# draw balance), as its later events do (it named none); 15: that carried
# balance names a late plan version that moved the total carried from, and the
# events that moved it before its own run when it was paid since (none); 16:
# a payment releases its sale's commission to the cent, cumulatively
# (`policies.collection.release`: its step says what was released before;
# balances 6: the commission that release pays); 17: a score that reads as
# the next tier's bound (0.99995 as 1.0000) and is below it says so in a step;
# 18: an attainment read so beside the next commission band's bound, likewise;
# 19 (and balances 7): a release into a period paid in another currency than
# its sale earned in (a move stored before the rule refusing it) is converted
# (`balance_converted`), or its payment waits under pending; 20: a payment
# waiting so is unreleased in its sale's booking period (it was counted as
# released), and a paid period's correction names the rate, recorded late,
# that such a release was converted at; 21 (and balances 8): a payment's share
# of a commission near SPEC §2's bounds (above 10^28) is released to the cent
# (`policies.rounding.scaled` kept 30 significant digits); 9: each row says
# whether it holds anything (``eventful``), which the period switches and the
# Overview read of every row instead of its status, pending count and amounts
BALANCES = ReadModel(
    "balances", 9, "each rep's sums per line kind, total, payable and items pending, by period"
)
ATTAINMENT = ReadModel("attainment", 3, "each rep's attainment, score and tier, by period")
STATEMENTS = ReadModel("statements", 22, "each rep's explained statement, by period")

LINE_KINDS = ("commission", "bonus", "fine", "adjustment", "correction", "carried_balance")
# The balances row's field that says whether it holds anything (`period_rows`).
EVENTFUL: Final = "eventful"


def rep_rows(
    facts: LedgerFacts, calc: Calculator, rep_id: str, start: Period | None = None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(balances, attainment, statements) rows of one rep, keyed by period
    (from ``start`` on, when given)."""
    balances: dict[str, Any] = {}
    attainment: dict[str, Any] = {}
    statements: dict[str, Any] = {}
    for period in activity_periods(facts, rep_id, facts.period_kind(rep_id)):
        if start is not None and period < start:
            continue
        try:
            statement = calc.statement(rep_id, period)
        except NotFoundError:
            continue  # no plan in force for that period: nothing to pay
        key = str(period)
        statements[key] = statement
        balances[key], attainment[key] = period_rows(facts, rep_id, statement)
    return balances, attainment, statements


def period_rows(
    facts: LedgerFacts, rep_id: str, statement: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The balances and attainment rows of one rep's statement of one period.

    A balances row says whether it holds more than a quiet period's zeros
    (`EVENTFUL`): a status past open, an item pending, or money in its total
    or in one of `LINE_KINDS` (the read model keeps a row for every period
    since the rep's first). The period switches offer the periods with such
    a row, and the Overview lists a team's period when one of its reps has
    one: they read this one field of every row (80,000 at 10,000 reps and 8
    quarters) where they read nine and worked it out."""
    key = str(statement["period"])
    sums = dict.fromkeys(LINE_KINDS, Decimal(0))
    for line in statement["lines"]:
        # SPEC §3.1 kinds (spiff, cap, ...) appear only in rows that have them
        sums[line["kind"]] = sums.get(line["kind"], Decimal(0)) + Decimal(line["amount"])
    pending = len(statement.get("pending", ()))
    balance: dict[str, Any] = {
        "rep_id": rep_id,
        "period": key,
        "status": statement["status"],
        "currency": statement["currency"],
        **{kind: format(amount, "f") for kind, amount in sums.items()},
        "total": statement["total"],
        "payable": statement["payable"],
        "pending": pending,
        # paid, and changed since: its correction booked in a later period
        "corrected": bool(statement.get("correction_to")),
        EVENTFUL: statement["status"] != "open"
        or pending != 0
        or Decimal(str(statement["total"])) != 0
        or any(sums[kind] != 0 for kind in LINE_KINDS),
    }
    held = facts.open_run_statement(rep_id, key) if statement["status"] == "open" else None
    if held is not None:  # what the open run will pay, beside what it would pay now
        balance["run"] = {"total": held["total"], "payable": held["payable"]}
    scored: dict[str, Any] = {
        "rep_id": rep_id,
        "period": key,
        "plan": statement.get("plan"),
        "attainment": statement["attainment"],
        "score": statement["score"],
        "tier_coefficient": statement["tier_coefficient"],
    }
    return balance, scored
