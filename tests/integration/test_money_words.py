"""Money reads alike in the words of every statement (SPEC §4: numbers and
money formatted for the locale): across the demo's statements — paid and
open, both plans, every rep and period, the full view and the summary, in
English and Chinese — each money value a step's words show (`STEP_VALUES`,
`SUMMARY_VALUES`) appears with 2 decimals at least, and never in a shorter
form beside them ("= 49" next to "980.00")."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from policies.explanation import Step
from policies.wording import LOCALES, STEP_VALUES, ValueKind, money_shown, words_of
from projections.service import Reports
from projections.summary import SUMMARY_VALUES, summarise
from tests.builders import demo_database

_MONEY = re.compile(r"-?\d+\.\d{2,}…?")


@pytest.fixture(scope="module")
def statements(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, dict[str, Any]]]:
    """Every statement of the demo, in each locale (the locale, the statement)."""
    url, _ = demo_database(tmp_path_factory.mktemp("money"))
    ledger = Ledger(url)
    try:
        reports = Reports(ledger)
        reports.fresh()
        keys = [(rep, period) for rep, period, _ in reports.projector.store.rows("statements")]
        return [
            (locale, reports.statement(rep, period, locale=locale))
            for rep, period in keys
            for locale in LOCALES
        ]
    finally:
        ledger.close()


def _standalone(number: str, text: str) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", text) is not None


def _steps(statement: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for line in statement["lines"]:
        yield from line["explanation"]


def _check(step: Mapping[str, Any], kinds: Mapping[str, ValueKind]) -> None:
    text, values = step["text"], step["values"]
    others = [str(v) for k, v in values.items() if kinds.get(k) != "money"]
    for name, kind in kinds.items():
        value = values.get(name)
        if kind != "money" or value is None or value == "—":
            continue
        shown = money_shown(value)
        assert _MONEY.fullmatch(shown), (step["code"], name, value)
        assert _standalone(shown, text), (step["code"], name, shown, text)
        if shown != value and not any(value in other for other in others):
            # not also quoted short (a count of 0 beside money of 0 is no money)
            bare = re.search(rf"(?<![\d.]){re.escape(value)}(?![\d.])", text)
            assert bare is None, (step["code"], name, text)


def test_every_money_value_of_every_step_has_its_cents(
    statements: list[tuple[str, dict[str, Any]]],
) -> None:
    codes: set[str] = set()
    for _, statement in statements:
        for step in _steps(statement):
            words = words_of(Step(step["code"], step["values"]))
            codes.add(words)
            _check(step, STEP_VALUES[words])
    # the demo's quarter and its second plan show money in all these ways
    assert {
        "sale_commission",
        "sale_clawed_back",
        "commission_total",
        "attainment",
        "tier_selected",
        "points_deducted",
        "bonus_after_points",
        "fine_red_line",
        "adjustment_approved",
        "correction",
        "correction_change",
        "sale_band",
        "per_sale_cap",
        "fx_converted",
        "spiff_sale",
        "spiff_total",
        "bonus_prorated",
        "draw_top_up",
        "draw_recovered",
        "draw_balance",
        "override_rep",
        "override_total",
    } <= codes


def test_a_summarys_money_has_its_cents(statements: list[tuple[str, dict[str, Any]]]) -> None:
    seen = 0
    for locale, statement in statements:
        for step in _steps(summarise(statement, locale)):
            kinds = SUMMARY_VALUES.get(step["code"])
            if kinds is None:  # a statement step kept as it is (checked above)
                continue
            seen += 1
            _check(step, kinds)
    assert seen


def test_the_step_values_stay_as_computed(tmp_path: Path) -> None:
    """Only the words changed: the values keep the forms stored statements,
    audit bundles and paid runs hold (a credited amount as computed)."""
    _, result = demo_database(tmp_path)
    (first, *_) = result.statement["lines"][0]["explanation"]
    assert first["values"]["credited"] == "120000"
    assert first["values"]["commission"] == "9600"
    assert "= 120000.00 credited" in first["text"]
    assert first["text"].endswith("= 9600.00")
