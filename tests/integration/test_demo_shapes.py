"""The demo's second plan (SPEC §3.1 shapes, on reps of their own), golden, on
SQLite and PostgreSQL: the east team's quarter is untouched by it."""

from __future__ import annotations

from typing import Any

import pytest

from demo import DemoResult, run_demo
from ledger.application import Ledger
from projections.service import Reports


@pytest.fixture
def demo(ledger: Ledger) -> tuple[DemoResult, Reports]:
    return run_demo(ledger), Reports(ledger)


def _amounts(statement: dict[str, Any]) -> list[tuple[str, str]]:
    return [(x["kind"], x["amount"]) for x in statement["lines"]]


def _codes(statement: dict[str, Any], kind: str) -> list[str]:
    (found,) = [x for x in statement["lines"] if x["kind"] == kind]
    return [s["code"] for s in found["explanation"]]


def test_sun_august_accelerated_capped_with_a_spiff_on_a_usd_deal(
    demo: tuple[DemoResult, Reports],
) -> None:
    """S-2003, 15,000 USD × 7.1 = 106,500 CNY against a 100,000 quota: 6,000 +
    6,500 × 0.06 × 1.5 = 6,585, capped at 6,000; a software SPIFF of 1,000;
    attainment 1.065 reaches the bonus tier (2,000)."""
    result, _ = demo
    sun = result.shapes[0]
    assert (sun["rep_id"], sun["period"]) == ("rep-sun", "2026-08")
    assert _amounts(sun) == [("commission", "6000.00"), ("spiff", "1000.00"), ("bonus", "2000.00")]
    codes = _codes(sun, "commission")
    assert {"fx_converted", "per_sale_cap"} <= set(codes)
    assert sun["attainment"] == "1.0650"


def test_xu_a_new_hire_on_a_prorated_bonus_and_a_draw(demo: tuple[DemoResult, Reports]) -> None:
    """Enrolled 16 July: 16 of 31 days × 2,000 = 1,032.26; earned 480 + 1,032.26,
    topped up to the 5,000 draw; recovered from September."""
    result, reports = demo
    xu = result.shapes[1]
    assert _amounts(xu) == [("commission", "480.00"), ("bonus", "1032.26"), ("draw", "3487.74")]
    assert "bonus_prorated" in _codes(xu, "bonus")
    september = reports.statement("rep-xu", "2026-09")
    assert ("draw_recovery", "-200.00") in _amounts(september)


def test_lead_he_is_paid_an_override_on_the_team(demo: tuple[DemoResult, Reports]) -> None:
    """July: 0.02 × (Sun's 120,000 + Xu's 12,000) = 2,640."""
    _, reports = demo
    july = reports.statement("lead-he", "2026-07")
    assert ("override", "2640.00") in _amounts(july)
    assert _codes(july, "override") == ["override_rep", "override_rep", "override_total"]


def test_the_quarterly_run_covers_the_east_team_only(demo: tuple[DemoResult, Reports]) -> None:
    result, reports = demo
    run = reports.ledger.event(
        next(r.event_id for r in reports.ledger.iter_log() if r.type == "PayoutCalculated")
    )
    assert run.data["run_id"] == result.run_id
    assert [s["rep_id"] for s in run.data["statements"]] == ["rep-chen", "rep-li", "rep-wang"]
    assert result.statement["total"] == "33100.00"
