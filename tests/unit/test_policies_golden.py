"""Golden tests of SPEC §3: each rule on a hand-worked case, amount and explanation.

The plan is the SPEC's example: default rate 0.05, software 0.08; target bonus
10000 with weights sales 0.6 / satisfaction 0.2 / feedback 0.2; tiers from 0 → 0,
0.8 → 1.2, 1.0 → 1.5, 1.2 → 1.8; cap 2.0; clawback 90 days; point value 100;
ladder warning, points:2, points:5; red line forfeits the bonus and fines the amount.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from policies.calculate import PeriodResult, calculate_period
from policies.corrections import carried_balance_line, correction_line, diff_lines
from policies.discipline import minor_rungs
from policies.explanation import Line
from policies.facts import CarriedBalanceFact, CorrectionFact
from policies.rounding import round_money
from policies.wording import render_step
from tests.unit.factories import (
    APPROVED,
    PENDING,
    PLAN,
    adjustment,
    case,
    facts,
    sale,
    score,
    target,
)


def _line(result: PeriodResult, kind: str) -> Line:
    (line,) = [x for x in result.lines if x.kind == kind]
    return line


def _codes(line: Line) -> list[str]:
    return [s.code for s in line.steps]


class TestCommission:
    def test_rate_by_category_else_default(self) -> None:
        """software 100000 × 0.08 = 8000; hardware 50000 × 0.05 = 2500; total 10500."""
        result = calculate_period(
            PLAN, facts(sales=(sale("100000", category="software"), sale("50000")))
        )
        line = _line(result, "commission")
        assert line.amount == Decimal("10500.00")
        assert _codes(line) == ["sale_commission", "sale_commission", "commission_total"]
        assert len(line.event_ids) == 2

    def test_split_share(self) -> None:
        """A 60000 hardware deal split 0.3 to this rep: 18000 credited × 0.05 = 900."""
        result = calculate_period(PLAN, facts(sales=(sale("60000", share="0.3"),)))
        assert _line(result, "commission").amount == Decimal("900.00")

    @pytest.mark.parametrize(
        ("days", "clawed_back"),
        [(10, True), (90, True), (90.5, False), (91, False)],
        ids=["day 10", "day 90 exactly", "90 days and 12 hours", "day 91"],
    )
    def test_clawback_window(self, days: float, clawed_back: bool) -> None:
        """Cancelled at most 90 days after the sale: reversed; later: changes nothing."""
        result = calculate_period(PLAN, facts(sales=(sale("10000", cancelled_after_days=days),)))
        line = _line(result, "commission")
        # 10000 × 0.05 = 500 when it stays credited
        assert line.amount == (Decimal("0.00") if clawed_back else Decimal("500.00"))
        code = "sale_clawed_back" if clawed_back else "cancellation_outside_window"
        assert code in _codes(line)
        assert any(e.startswith("cancel-") for e in line.event_ids)

    @pytest.mark.parametrize(
        ("days", "locale", "words"),
        [
            (
                90 + 8 / 24,
                "en",
                (
                    "was cancelled at 2026-10-08T18:00:00+08:00, after its 90-day window ended "
                    "at 2026-10-08T10:00:00+08:00: it stays credited"
                ),
            ),
            (
                90 + 8 / 24,
                "zh-CN",
                (
                    "于 2026-10-08T18:00:00+08:00 取消，其 90 天回扣期已于 "
                    "2026-10-08T10:00:00+08:00 结束：仍计入"
                ),
            ),
            (
                90,
                "en",
                (
                    "cancelled at 2026-10-08T10:00:00+08:00, within its 90-day clawback window "
                    "(to 2026-10-08T10:00:00+08:00): not credited"
                ),
            ),
        ],
        ids=["day 90 at 18:00 en", "day 90 at 18:00 zh-CN", "day 90 exactly en"],
    )
    def test_the_clawback_words_show_the_moments_compared(
        self, days: float, locale: str, words: str
    ) -> None:
        """SPEC §3 rule 1 compares the moments ("at most window_days after"): a
        cancellation 90 days and 8 hours after the sale is outside a 90-day
        window, and its words say when each moment was — not "cancelled 90 days
        after it occurred, after the 90-day window", which whole days made it."""
        result = calculate_period(PLAN, facts(sales=(sale("10000", cancelled_after_days=days),)))
        texts = [render_step(s, locale) for s in _line(result, "commission").steps]
        assert any(words in text for text in texts), texts

    def test_rounding_half_up_once_per_line(self) -> None:
        """0.10 × 0.05 = 0.005 → 0.01 (half up), with a rounding step."""
        result = calculate_period(PLAN, facts(sales=(sale("0.10"),)))
        line = _line(result, "commission")
        assert line.amount == Decimal("0.01")
        assert _codes(line)[-1] == "rounded"


def _bonus_for(
    attainment: str, *, satisfaction: str = "1", feedback: str = "1", **more: object
) -> PeriodResult:
    """Target 100000; credited = attainment × 100000; other KPIs as given; ``more``
    facts (cases, say)."""
    credited = str(Decimal(attainment) * 100000)
    return calculate_period(
        PLAN,
        facts(
            sales=(sale(credited),) if Decimal(credited) > 0 else (),
            targets=(target("100000"),),
            kpi_scores=(
                score("customer_satisfaction", satisfaction),
                score("market_feedback", feedback),
            ),
            **more,
        ),
    )


class TestTiers:
    @pytest.mark.parametrize(
        ("attainment", "score_", "coefficient", "bonus"),
        [
            # score = 0.6 × attainment + 0.2 × 1 + 0.2 × 1
            ("0", "0.4", "0.0", "0.00"),  # 0.4 → tier 0
            ("0.6666", "0.79996", "0.0", "0.00"),  # just below 0.8
            ("0.6667", "0.80002", "1.2", "12000.00"),  # just above 0.8
            ("1", "1.0", "1.5", "15000.00"),  # exactly 1.0 (lower bound inclusive)
            ("0.9999", "0.99994", "1.2", "12000.00"),  # just below 1.0
            ("1.3333", "1.19998", "1.5", "15000.00"),  # just below 1.2
            ("1.3334", "1.20004", "1.8", "18000.00"),  # just above 1.2
        ],
    )
    def test_tier_at_each_boundary(
        self, attainment: str, score_: str, coefficient: str, bonus: str
    ) -> None:
        result = _bonus_for(attainment)
        assert result.score == Decimal(score_)
        assert result.tier_coefficient == Decimal(coefficient)
        assert _line(result, "bonus").amount == Decimal(bonus)

    def test_exact_boundary_score(self) -> None:
        """Satisfaction 0.5, feedback 0.5, attainment 1: 0.6 + 0.1 + 0.1 = 0.8 exactly → 1.2."""
        result = _bonus_for("1", satisfaction="0.5", feedback="0.5")
        assert result.score == Decimal("0.8")
        assert result.tier_coefficient == Decimal("1.2")

    def test_cap(self) -> None:
        """A coefficient above cap 2.0 would pay more than 20000: capped at 20000."""
        plan = PLAN.model_copy(
            update={"bonus": PLAN.bonus.model_copy(update={"cap": Decimal("1.6")})}
        )
        result = calculate_period(
            plan,
            facts(sales=(sale("200000"),), targets=(target("100000"),)),
        )
        # score = 0.6 × 2 = 1.2 → coefficient 1.8 → 18000 > 1.6 × 10000 = 16000
        line = _line(result, "bonus")
        assert line.amount == Decimal("16000.00")
        assert "bonus_capped" in _codes(line)

    def test_no_sales_target_no_bonus(self) -> None:
        result = calculate_period(PLAN, facts(sales=(sale("500000"),)))
        line = _line(result, "bonus")
        assert line.amount == 0
        assert _codes(line) == ["no_sales_target"]
        assert result.attainment is None

    def test_pending_target_change_counts_nothing_until_approved(self) -> None:
        """Original 100000 (before the period) vs a mid-period change to 80000."""
        original = target("100000", day=-20)
        changed_pending = target("80000", day=30, decision=PENDING, tid="T-NEW")
        changed_approved = target("80000", day=30, decision=APPROVED, tid="T-NEW")
        base = {"sales": (sale("80000"),)}
        pending = calculate_period(PLAN, facts(targets=(original, changed_pending), **base))
        approved = calculate_period(PLAN, facts(targets=(original, changed_approved), **base))
        # pending: 80000 ÷ 100000 = 0.8 → score 0.48 → tier 0
        assert pending.attainment == Decimal("0.8")
        assert [p.subject_id for p in pending.pending] == ["T-NEW"]
        # approved: 80000 ÷ 80000 = 1 → score 0.6 → tier 0 (other KPIs unscored)
        assert approved.attainment == Decimal(1)
        assert approved.pending == ()
        assert "approval-event" in _line(approved, "bonus").event_ids


class TestDiscipline:
    def test_ladder_rungs(self) -> None:
        """1st warning, 2nd points:2, 3rd points:5, 4th stays points:5."""
        cases = [case(day=d) for d in (0, 10, 20, 30)]
        rungs = minor_rungs(PLAN.discipline.minor_ladder, cases)
        assert list(rungs.values()) == ["warning", "points:2", "points:5", "points:5"]

    def test_ladder_counts_only_the_365_days_before(self) -> None:
        first = case(day=-400)
        second = case(day=0)
        assert (
            minor_rungs(PLAN.discipline.minor_ladder, [first, second])[second.case_id] == "warning"
        )

    def test_overturned_case_takes_no_rung(self) -> None:
        first = case(day=0, overturned=True)
        second = case(day=10)
        rungs = minor_rungs(PLAN.discipline.minor_ladder, [first, second])
        assert first.case_id not in rungs
        assert rungs[second.case_id] == "warning"

    def test_points_come_off_the_bonus(self) -> None:
        """Bonus 15000 (attainment 1); 2nd minor case → 2 × 100 = 200 off → 14800."""
        earlier, now = case(day=-100), case(day=5)
        result = _bonus_for("1", cases=(now,), minor_history=(earlier, now))
        line = _line(result, "bonus")
        assert line.amount == Decimal("14800.00")
        assert "points_deducted" in _codes(line)

    def test_red_line_forfeits_and_fines_once_approved(self) -> None:
        """Approved: bonus 0 and a −3200 fine; pending: nothing, listed as pending."""
        base = {
            "sales": (sale("100000"),),
            "targets": (target("100000"),),
        }
        approved = calculate_period(
            PLAN, facts(cases=(case("red_line", amount="3200.00", decision=APPROVED),), **base)
        )
        assert _line(approved, "bonus").amount == 0
        assert "bonus_forfeited" in _codes(_line(approved, "bonus"))
        assert _line(approved, "fine").amount == Decimal("-3200.00")
        # commission 5000 + bonus 0 − 3200 = 1800
        assert approved.total == Decimal("1800.00")
        pending = calculate_period(
            PLAN, facts(cases=(case("red_line", amount="3200.00", decision=PENDING),), **base)
        )
        assert [x.kind for x in pending.lines] == ["commission", "bonus"]
        assert [p.kind for p in pending.pending] == ["case"]


class TestTotals:
    def test_adjustments_corrections_and_carry(self) -> None:
        """commission 500 + approved adjustment −150 (a pending one counts nothing)
        + correction (1000 − 1300 = −300) + carried −75.55 = −25.55 → payable 0."""
        correction = CorrectionFact(
            "2026-Q2", "run-1", Decimal("1300.00"), Decimal("1000.00"), (), ("e1",)
        )
        result = calculate_period(
            PLAN,
            facts(
                sales=(sale("10000"),),
                adjustments=(adjustment("-150.00"), adjustment("999.00", PENDING)),
                corrections=(correction,),
                carried_in=CarriedBalanceFact("2026-Q2", Decimal("-75.55")),
            ),
        )
        assert [x.kind for x in result.lines] == [
            "commission",
            "bonus",
            "adjustment",
            "correction",
            "carried_balance",
        ]
        assert result.total == Decimal("-25.55")
        assert result.payable == 0
        assert result.carry_out == Decimal("-25.55")
        assert sum(x.amount for x in result.lines) == result.total

    def test_correction_line_explains_the_diff(self) -> None:
        paid = [Line.of("commission", Decimal(500), []), Line.of("bonus", Decimal(12000), [])]
        now = [Line.of("commission", Decimal(300), []), Line.of("bonus", Decimal(0), [])]
        changes = diff_lines(paid, now)
        line = correction_line(
            CorrectionFact("2026-Q2", "run-1", Decimal(12500), Decimal(300), changes, ())
        )
        # 300 − 12500 = −12200
        assert line.amount == Decimal("-12200.00")
        assert _codes(line) == ["correction", "correction_change", "correction_change"]

    def test_carried_balance_line(self) -> None:
        line = carried_balance_line(CarriedBalanceFact("2026-Q2", Decimal("-10.00")))
        assert (line.kind, line.amount) == ("carried_balance", Decimal("-10.00"))

    @pytest.mark.parametrize(
        ("raw", "rounded"),
        [("0.005", "0.01"), ("-0.005", "-0.01"), ("1.234", "1.23"), ("2.675", "2.68")],
    )
    def test_round_half_up(self, raw: str, rounded: str) -> None:
        assert round_money(Decimal(raw)) == Decimal(rounded)
