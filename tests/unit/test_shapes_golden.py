"""Golden tests of SPEC §3.1 (shapes of pay): each rule on a hand-worked case,
amount and explanation steps, half of them at a boundary.

Sales are "hardware" (the default rate, 0.05, unless a plan says otherwise) in
2026-Q3, on 2026-07-10 (+08:00) unless a case moves them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from policies.calculate import PeriodResult, calculate_period
from policies.collection import PaymentFact, check_payment, release, unreleased
from policies.currency import BalanceConversion, Converted, FxRate, MissingRate, convert
from policies.draws import draw_lines
from policies.explanation import Line
from policies.facts import DrawCarried
from policies.overrides import ManagerChange, ReportingLines, TeamSale, override_lines
from policies.periods import parse_period
from policies.plan import Draw, Override, Plan, load_plan
from policies.proration import proration
from policies.wording import render_step
from tests.unit.factories import BASE, facts, sale, score, target
from tests.unit.shapes import (
    ACCELERATOR,
    CREDITED_BANDS,
    draw,
    plan_toml,
    shaped,
    spiff,
    tiers,
)


def _lines(result: PeriodResult, kind: str) -> list[Line]:
    return [x for x in result.lines if x.kind == kind]


def _line(result: PeriodResult, kind: str) -> Line:
    (line,) = _lines(result, kind)
    return line


def _codes(line: Line) -> list[str]:
    return [s.code for s in line.steps]


def _values(line: Line, code: str) -> list[dict[str, str]]:
    return [dict(s.values) for s in line.steps if s.code == code]


class TestTiersOnCreditedMoney:
    """The issue's example: bands 0-10,000 at 1 %, 10,000-50,000 at 2 %, 50,000+ at 3 %."""

    @pytest.mark.parametrize(
        ("amount", "retroactive", "marginal"),
        [
            ("5000", "50.00", "50.00"),  # 5,000 × 1 %
            ("15000", "300.00", "200.00"),  # all at 2 % | 10,000 × 1 % + 5,000 × 2 %
            ("60000", "1800.00", "1200.00"),  # all at 3 % | 100 + 40,000 × 2 % + 10,000 × 3 %
            ("10000", "200.00", "100.00"),  # exactly at a band: its lower bound is in it
            ("9999.99", "100.00", "100.00"),  # one cent below: 99.9999 → 100.00
        ],
    )
    def test_issue_example(self, amount: str, retroactive: str, marginal: str) -> None:
        """One sale a period: retroactive pays all of it at the band reached,
        marginal cuts it at each band's lower bound."""
        for method, expected in (("retroactive", retroactive), ("marginal", marginal)):
            plan = shaped(tail=tiers("credited", method, CREDITED_BANDS))
            line = _line(calculate_period(plan, facts(sales=(sale(amount),))), "commission")
            assert line.amount == Decimal(expected), method
            assert "tiers_reached" in _codes(line)

    def test_marginal_steps_cut_the_sale_at_each_bound(self) -> None:
        """60,000 crosses 10,000 and 50,000: three parts, each with its band and rate."""
        plan = shaped(tail=tiers("credited", "marginal", CREDITED_BANDS))
        line = _line(calculate_period(plan, facts(sales=(sale("60000"),))), "commission")
        parts = _values(line, "sale_band")
        assert [(p["credited"], p["band_from"], p["rate"], p["commission"]) for p in parts] == [
            ("10000", "0", "0.0100", "100"),
            ("40000", "10000", "0.0200", "800"),
            ("10000", "50000", "0.0300", "300"),
        ]
        (reached,) = _values(line, "tiers_reached")
        assert reached == {
            "measure": "credited",
            "method": "marginal",
            "band_from": "50000",
            "credited": "60000",
        }

    def test_marginal_runs_over_the_period_in_business_order(self) -> None:
        """Two sales, 8,000 then 4,000: the second is cut at 10,000 (2,000 at 1 %,
        2,000 at 2 %): 80 + 20 + 40 = 140; a sale recorded later but dated earlier
        counts first."""
        plan = shaped(tail=tiers("credited", "marginal", CREDITED_BANDS))
        late = sale("4000", sale_id="late", day=5)
        early = sale("8000", sale_id="early", day=1)
        line = _line(calculate_period(plan, facts(sales=(late, early))), "commission")
        assert line.amount == Decimal("140.00")
        assert [p["sale_id"] for p in _values(line, "sale_band")] == ["early", "late", "late"]


class TestTiersOnAttainment:
    def test_issue_accelerator(self) -> None:
        """Quota 100,000, base 10 %, ×1.5 above quota: 120,000 pays 10,000 + 3,000."""
        plan = shaped(tail=tiers("attainment", "marginal", ACCELERATOR), default_rate="0.10")
        result = calculate_period(plan, facts(sales=(sale("120000"),), targets=(target("100000"),)))
        line = _line(result, "commission")
        assert line.amount == Decimal("13000.00")
        parts = _values(line, "sale_band")
        assert [(p["credited"], p["multiplier"], p["rate"]) for p in parts] == [
            ("100000", "1.0000", "0.1000"),
            ("20000", "1.5000", "0.1500"),
        ]
        assert _values(line, "tiers_reached")[0]["attainment"] == "1.2000"

    def test_exactly_at_quota_reaches_the_accelerator_band_with_nothing_above(self) -> None:
        """100,000 on a 100,000 quota: attainment 1 exactly — band 1.0 reached
        (retroactive: all of it × 1.5), nothing above it (marginal: all × 1.0)."""
        for method, expected in (("marginal", "10000.00"), ("retroactive", "15000.00")):
            plan = shaped(tail=tiers("attainment", method, ACCELERATOR), default_rate="0.10")
            result = calculate_period(
                plan, facts(sales=(sale("100000"),), targets=(target("100000"),))
            )
            assert _line(result, "commission").amount == Decimal(expected), method

    def test_exact_ratio_at_the_band(self) -> None:
        """Target 7,000, sales 8,500 and a band from 17/14 written as decimals
        can never be hit exactly; a band from 1.2 is reached by 8,400 exactly."""
        bands = "{from = 0, multiplier = 1}, {from = 1.2, rate = 0.2}"
        plan = shaped(tail=tiers("attainment", "retroactive", bands))
        result = calculate_period(plan, facts(sales=(sale("8400"),), targets=(target("7000"),)))
        assert _line(result, "commission").amount == Decimal("1680.00")  # 8,400 × 0.2
        below = calculate_period(plan, facts(sales=(sale("8399.99"),), targets=(target("7000"),)))
        assert _line(below, "commission").amount == Decimal("420.00")  # 8,399.99 × 0.05

    def test_decelerator_and_category_rates(self) -> None:
        """Below half the quota software earns 0.08 × 0.5: 40,000 of 100,000 → 1,600."""
        bands = "{from = 0, multiplier = 0.5}, {from = 0.5, multiplier = 1.0}"
        plan = shaped(tail=tiers("attainment", "retroactive", bands))
        result = calculate_period(
            plan,
            facts(sales=(sale("40000", category="software"),), targets=(target("100000"),)),
        )
        line = _line(result, "commission")
        assert line.amount == Decimal("1600.00")
        (part,) = _values(line, "sale_band")
        assert (part["base_rate"], part["rate_source"], part["rate"]) == (
            "0.0800",
            "category",
            "0.0400",
        )

    def test_no_target_pays_base_rates_and_says_why(self) -> None:
        """With no approved sales target attainment bands do not apply."""
        plan = shaped(tail=tiers("attainment", "marginal", ACCELERATOR), default_rate="0.10")
        result = calculate_period(plan, facts(sales=(sale("120000"),)))
        line = _line(result, "commission")
        assert line.amount == Decimal("12000.00")
        assert "tiers_without_target" in _codes(line)
        assert "sale_band" not in _codes(line)


class TestCapsAndGate:
    def test_issue_per_deal_cap(self) -> None:
        """Per-deal cap 500 on a 10 % rate: a 10,000 sale earns 500, not 1,000."""
        plan = shaped(commission="per_sale_cap = 500\n", default_rate="0.10")
        line = _line(calculate_period(plan, facts(sales=(sale("10000"),))), "commission")
        assert line.amount == Decimal("500.00")
        (cut,) = _values(line, "per_sale_cap")
        assert cut == {
            "sale_id": cut["sale_id"],
            "commission": "1000",
            "cap": "500.00",
            "cut": "500",
        }

    def test_per_sale_cap_exactly_reached_cuts_nothing(self) -> None:
        plan = shaped(commission="per_sale_cap = 500\n", default_rate="0.10")
        line = _line(calculate_period(plan, facts(sales=(sale("5000"),))), "commission")
        assert line.amount == Decimal("500.00")
        assert "per_sale_cap" not in _codes(line)

    def test_period_cap_is_a_negative_cap_line(self) -> None:
        """Three sales of 10,000 at 10 % (3,000) against a period cap of 2,500."""
        plan = shaped(commission="period_cap = 2500\n", default_rate="0.10")
        sales = tuple(sale("10000") for _ in range(3))
        result = calculate_period(plan, facts(sales=sales))
        assert _line(result, "commission").amount == Decimal("3000.00")
        cap = _line(result, "cap")
        assert cap.amount == Decimal("-500.00")
        assert _codes(cap) == ["period_cap"]
        assert result.total == Decimal("2500.00")

    def test_period_cap_exactly_reached_adds_no_line(self) -> None:
        plan = shaped(commission="period_cap = 3000\n", default_rate="0.10")
        result = calculate_period(plan, facts(sales=tuple(sale("10000") for _ in range(3))))
        assert _lines(result, "cap") == []

    def test_caps_in_order_then_gate(self) -> None:
        """Per-sale cap 800, period cap 1,000, gate 0.5 on a 100,000 target:
        sales 10,000 and 30,000 at 10 % earn 1,000 and 3,000 → 800 each (cut),
        1,600 → cap −600; attainment 0.4 < 0.5 → gate −1,000: commission 0."""
        plan = shaped(
            commission="per_sale_cap = 800\nperiod_cap = 1000\ngate = 0.5\n", default_rate="0.10"
        )
        result = calculate_period(
            plan, facts(sales=(sale("10000"), sale("30000")), targets=(target("100000"),))
        )
        assert [(x.kind, x.amount) for x in result.lines[:3]] == [
            ("commission", Decimal("1600.00")),
            ("cap", Decimal("-600.00")),
            ("gate", Decimal("-1000.00")),
        ]
        (gate,) = _values(_line(result, "gate"), "gate_not_reached")
        assert gate == {
            "attainment": "0.4000",
            "gate": "0.5000",
            "attainment_shown": "0.4000",
            "gate_shown": "0.5000",
            "commission": "1000.00",
        }

    @pytest.mark.parametrize(
        ("locale", "words"),
        [
            ("en", "Attainment 0.4999999 is below the gate 0.5000000: the commission left"),
            ("zh-CN", "达成率 0.4999999 低于门槛 0.5000000：剩余佣金"),
        ],
    )
    def test_an_attainment_four_places_round_to_the_gate_is_shown_below_it(
        self, locale: str, words: str
    ) -> None:
        """49,999.99 / 100,000 is below the gate of 0.5 (compared exactly) but
        reads 0.5000 to 4 places: the step shows as many places as say why (it
        read "Attainment 0.5000 is below the gate 0.5000"). The statement's
        attainment stays 4 places (SPEC §3)."""
        plan = shaped(commission="gate = 0.5\n")
        result = calculate_period(
            plan, facts(sales=(sale("49999.99"),), targets=(target("100000"),))
        )
        (step,) = _line(result, "gate").steps
        assert step.values["attainment"] == "0.5000"
        assert words in render_step(step, locale)

    def test_attainment_exactly_at_the_gate_opens_it(self) -> None:
        plan = shaped(commission="gate = 0.5\n")
        result = calculate_period(plan, facts(sales=(sale("50000"),), targets=(target("100000"),)))
        assert _lines(result, "gate") == []
        assert _line(result, "commission").amount == Decimal("2500.00")

    def test_gate_without_target_does_not_apply(self) -> None:
        plan = shaped(commission="gate = 0.5\n")
        result = calculate_period(plan, facts(sales=(sale("1000"),)))
        assert _lines(result, "gate") == []
        assert "gate_without_target" in _codes(_line(result, "commission"))


_SPIFF = spiff(
    "q3-software-push",
    "2026-07-01",
    "2026-07-31",
    category="software",
    min_amount="50000",
    amount="2000",
)


class TestSpiffs:
    @pytest.mark.parametrize(
        ("day", "expected"),
        [
            (0, "2000.00"),  # 2026-07-10
            (21, "2000.00"),  # 2026-07-31 10:00 +08:00: the last day of the window
            (22, None),  # 2026-08-01: after it
        ],
    )
    def test_window_inclusive_by_the_sale_date(self, day: int, expected: str | None) -> None:
        plan = shaped(tail=_SPIFF)
        result = calculate_period(plan, facts(sales=(sale("50000", category="software", day=day),)))
        spiffs = _lines(result, "spiff")
        if expected is None:
            assert spiffs == []
        else:
            (line,) = spiffs
            assert line.amount == Decimal(expected)
            assert _codes(line) == ["spiff_sale", "spiff_total"]

    def test_the_window_is_the_sales_own_offset_date(self) -> None:
        """2026-07-31T23:30-05:00 is 08-01 in UTC, 07-31 where it happened: in."""
        plan = shaped(tail=_SPIFF)
        late = sale("60000", category="software")._replace(
            occurred_at=datetime.fromisoformat("2026-07-31T23:30:00-05:00")
        )
        assert _line(calculate_period(plan, facts(sales=(late,))), "spiff").amount == Decimal(
            "2000.00"
        )

    def test_category_and_minimum_credited_amount(self) -> None:
        """Hardware never qualifies; a half share of 100,000 is 50,000 credited
        (exactly the minimum: in) and earns 2,000 × 0.5; 99,999.98 split in half
        is below it."""
        plan = shaped(tail=_SPIFF)
        sales = (
            sale("80000", category="hardware"),
            sale("100000", category="software", share="0.5", sale_id="half"),
            sale("99999.98", category="software", share="0.5", sale_id="short"),
        )
        line = _line(calculate_period(plan, facts(sales=sales)), "spiff")
        assert line.amount == Decimal("1000.00")
        assert [v["sale_id"] for v in _values(line, "spiff_sale")] == ["half"]

    def test_rate_spiff_and_caps_leave_it_alone(self) -> None:
        """A 1 % SPIFF on 30,000 is 300, whatever the period cap does to commission."""
        tail = spiff("all", "2026-07-01", "2026-09-30", rate="0.01")
        plan = shaped(commission="period_cap = 100\n", tail=tail)
        result = calculate_period(plan, facts(sales=(sale("30000"),)))
        assert _line(result, "spiff").amount == Decimal("300.00")
        assert _line(result, "cap").amount == Decimal("-1400.00")

    def test_cancelled_within_the_clawback_window_earns_no_spiff(self) -> None:
        plan = shaped(tail=_SPIFF)
        sales = (sale("50000", category="software", cancelled_after_days=90),)
        assert _lines(calculate_period(plan, facts(sales=sales)), "spiff") == []
        kept = (sale("50000", category="software", cancelled_after_days=91),)
        assert len(_lines(calculate_period(plan, facts(sales=kept)), "spiff")) == 1


def _prorated() -> Plan:
    """The shaped plan with its bonus prorated over the days the rep was enrolled."""
    base = shaped()
    return base.model_copy(update={"bonus": base.bonus.model_copy(update={"prorate": True})})


class TestProration:
    def test_days_counted_at_both_ends(self) -> None:
        """Enrolled 2026-08-01, left 2026-09-15 in Q3 (92 days): 46 days."""
        p = proration(parse_period("2026-Q3"), date(2026, 8, 1), date(2026, 9, 15))
        assert (p.days, p.period_days) == (46, 92)
        whole = proration(parse_period("2026-Q3"), date(2026, 1, 5))
        assert (whole.days, whole.fraction) == (92, 1)
        last_day = proration(parse_period("2026-Q3"), date(2026, 9, 30))
        assert last_day.days == 1

    def test_no_sales_target_still_says_how_it_was_scaled(self) -> None:
        """No target: no bonus, and the steps name the enrolled days (46 of 92)."""
        result = calculate_period(
            _prorated(), facts(sales=(sale("100000"),), enrolled_on=date(2026, 8, 16))
        )
        bonus = _line(result, "bonus")
        assert bonus.amount == 0
        (step,) = _values(bonus, "bonus_prorated")
        assert (step["days"], step["period_days"], step["fraction"]) == ("46", "92", "0.5000")

    def test_prorated_bonus_amount_and_cap(self) -> None:
        """Score 1.5 (tier from 1.2, coefficient 1.8) on 31 of 92 days (enrolled
        on 2026-08-31): 10,000 × 31/92 × 1.8 = 6,065.217… → 6,065.22, rounded once."""
        result = calculate_period(
            _prorated(),
            facts(
                sales=(sale("150000"),),
                targets=(target("100000"),),
                kpi_scores=(score("customer_satisfaction", "1.5"), score("market_feedback", "1.5")),
                enrolled_on=date(2026, 8, 31),
            ),
        )
        bonus = _line(result, "bonus")
        assert bonus.amount == Decimal("6065.22")
        assert _codes(bonus)[-1] == "rounded"


class TestDraws:
    """The issue's example: a recoverable draw of 1,500 a month."""

    DRAW = Draw(amount=Decimal(1500), recoverable=True, until=date(2026, 12, 31))
    FIRST = parse_period("2026-07")

    def test_issue_recoverable_draw(self) -> None:
        """Month 1 earns 500: draw 1,000, pays 1,500, balance 1,000. Month 2 earns
        3,000: recovers 1,000 (≤ 3,000 − 1,500), pays 2,000, balance 0."""
        one = draw_lines(self.DRAW, self.FIRST, (self.FIRST, None), Decimal(500), Decimal(0))
        assert [(x.kind, x.amount) for x in one.lines] == [("draw", Decimal("1000.00"))]
        assert one.balance_after == Decimal(1000)
        assert _values(one.lines[0], "draw_balance") == [
            {"balance_before": "0.00", "balance_after": "1000.00"}
        ]
        two = draw_lines(
            self.DRAW, parse_period("2026-08"), (self.FIRST, None), Decimal(3000), one.balance_after
        )
        assert [(x.kind, x.amount) for x in two.lines] == [("draw_recovery", Decimal("-1000.00"))]
        assert Decimal(3000) + two.lines[0].amount == Decimal(2000)
        assert two.balance_after == 0

    def test_issue_non_recoverable_draw(self) -> None:
        """Non-recoverable: month 2 pays the 3,000 earned, nothing recovered."""
        draw = self.DRAW.model_copy(update={"recoverable": False})
        one = draw_lines(draw, self.FIRST, (self.FIRST, None), Decimal(500), Decimal(0))
        assert one.lines[0].amount == Decimal("1000.00")
        assert one.balance_after == 0
        two = draw_lines(
            draw, parse_period("2026-08"), (self.FIRST, None), Decimal(3000), Decimal(0)
        )
        assert two.lines == ()

    def test_recovery_leaves_the_draw_paid(self) -> None:
        """Balance 1,000, earns 2,000 in a draw period: recovers only 500 (E − amount)."""
        r = draw_lines(
            self.DRAW, parse_period("2026-08"), (self.FIRST, None), Decimal(2000), Decimal(1000)
        )
        assert r.lines[0].amount == Decimal("-500.00")
        assert r.balance_after == Decimal(500)

    def test_negative_earnings_draw_the_full_amount(self) -> None:
        r = draw_lines(self.DRAW, self.FIRST, (self.FIRST, None), Decimal(-300), Decimal(0))
        assert r.lines[0].amount == Decimal("1500.00")
        assert r.balance_after == Decimal(1500)

    def test_exactly_the_draw_earned_changes_nothing(self) -> None:
        r = draw_lines(self.DRAW, self.FIRST, (self.FIRST, None), Decimal(1500), Decimal(700))
        assert r.lines == ()
        assert r.balance_after == Decimal(700)

    def test_last_day_of_the_draw(self) -> None:
        """``until`` 2026-09-01: September (starts that day) has the draw, October
        does not — there the balance is recovered from all earnings (−min(balance, E))."""
        draw = self.DRAW.model_copy(update={"until": date(2026, 9, 1)})
        sep = draw_lines(
            draw, parse_period("2026-09"), (self.FIRST, None), Decimal(100), Decimal(0)
        )
        assert sep.lines[0].kind == "draw"
        october = parse_period("2026-10")
        empty = draw_lines(draw, october, (self.FIRST, None), Decimal(100), Decimal(0))
        assert empty.lines == ()
        oct_ = draw_lines(draw, october, (self.FIRST, None), Decimal(800), Decimal(1400))
        assert oct_.lines[0].amount == Decimal("-800.00")
        assert oct_.balance_after == Decimal(600)

    def test_before_enrolment_no_draw(self) -> None:
        r = draw_lines(
            self.DRAW, parse_period("2026-06"), (self.FIRST, None), Decimal(0), Decimal(0)
        )
        assert r.lines == ()

    def test_a_conversion_no_line_showed_is_shown_where_the_balance_is(self) -> None:
        """10,000.00 CNY owed came in as 1,400.00 at 0.14 in a period that drew
        and recovered nothing; this one earns nothing and draws 5,000.00: its
        draw line, which shows the 1,400.00, shows how it was converted — the
        steps hold each number it shows."""
        rate = FxRate("CNY", "USD", Decimal("0.14"), _T0, 7, "event-rate")
        fx = BalanceConversion("CNY", "USD", date(2026, 7, 1), rate)
        usd = plan_toml(tail=draw("5000", "2027-12-31")).replace("CNY", "USD")
        result = calculate_period(
            load_plan(usd, "toml"),
            facts(
                draw_balance_in=Decimal("1400.00"),
                draw_converted_before=(DrawCarried(Decimal("10000.00"), fx),),
            ),
        )
        line = _line(result, "draw")
        assert _codes(line) == ["balance_converted", "draw_top_up", "draw_balance"]
        assert _values(line, "balance_converted") == [
            {
                "balance": "draw_balance",
                "amount": "10000.00",
                "currency": "CNY",
                "rate": "0.14",
                "rate_from": _T0.isoformat(),
                "plan_currency": "USD",
                "converted": "1400.00",
            }
        ]
        assert _values(line, "draw_balance") == [
            {"balance_before": "1400.00", "balance_after": "6400.00"}
        ]
        assert "event-rate" in line.event_ids
        assert result.pending == ()


_T0 = datetime.fromisoformat("2026-07-01T00:00:00+08:00")


def _change(rep: str, manager: str | None, days: float, n: int) -> ManagerChange:
    return ManagerChange(rep, manager, _T0 + timedelta(days=days), n, f"rep-event-{n}")


def _team_sale(rep: str, sale_id: str, amount: str, days: float) -> TeamSale:
    return TeamSale(rep, sale_id, f"event-{sale_id}", _T0 + timedelta(days=days), Decimal(amount))


class TestOverrides:
    LINES = ReportingLines.of(
        [
            _change("lead", "boss", 0, 1),
            _change("r1", "lead", 0, 2),
            _change("r2", "lead", 0, 3),
            _change("r2", "other", 30, 4),  # transferred away on day 30
            _change("r3", "other", 0, 5),
            _change("r3", "lead", 45, 6),  # transferred in on day 45
        ]
    )

    def test_two_levels_following_transfers(self) -> None:
        """boss gets 2 % of lead's own sales (level 1) and 1 % of lead's reports' (level 2)."""
        sales = [
            _team_sale("lead", "L1", "10000", 5),
            _team_sale("r1", "A", "20000", 5),
            _team_sale("r2", "B", "30000", 29),  # still under lead
            _team_sale("r2", "C", "40000", 30),  # the day of the transfer: gone
            _team_sale("r3", "D", "50000", 45),  # the day they joined: in
            _team_sale("r3", "E", "60000", 44),  # before: not
        ]
        lines = override_lines(
            "boss", Override(rates=[Decimal("0.02"), Decimal("0.01")]), sales, self.LINES
        )
        assert [(x.kind, x.amount) for x in lines] == [
            ("override", Decimal("200.00")),  # 10,000 × 0.02
            ("override", Decimal("1000.00")),  # (20,000 + 30,000 + 50,000) × 0.01
        ]
        level2 = _values(lines[1], "override_rep")
        assert [(v["rep_id"], v["credited"]) for v in level2] == [
            ("r1", "20000"),
            ("r2", "30000"),
            ("r3", "50000"),
        ]
        assert "rep-event-6" in lines[1].event_ids

    def lines_for_wording(self) -> list[Line]:
        sales = [_team_sale("r1", "A", "20000", 5), _team_sale("lead", "L", "1000", 5)]
        return override_lines(
            "boss", Override(rates=[Decimal("0.02"), Decimal("0.01")]), sales, self.LINES
        )

    def test_one_level_plan_ignores_level_two(self) -> None:
        sales = [_team_sale("r1", "A", "20000", 5)]
        assert override_lines("boss", Override(rates=[Decimal("0.02")]), sales, self.LINES) == []
        lead = override_lines("lead", Override(rates=[Decimal("0.02")]), sales, self.LINES)
        assert lead[0].amount == Decimal("400.00")


_RATES = [
    FxRate(
        "USD", "CNY", Decimal("7.1"), datetime.fromisoformat("2026-07-01T00:00:00+08:00"), 1, "fx-1"
    ),
    FxRate(
        "USD",
        "CNY",
        Decimal("7.2345"),
        datetime.fromisoformat("2026-07-10T10:00:00+08:00"),
        2,
        "fx-2",
    ),
    FxRate(
        "CNY",
        "USD",
        Decimal("0.14"),
        datetime.fromisoformat("2026-06-01T00:00:00+08:00"),
        3,
        "fx-3",
    ),
]


class TestCurrency:
    def test_latest_rate_at_or_before_the_sale(self) -> None:
        """A rate set at the very moment of the sale applies: 1,000.01 × 7.2345 =
        7,234.572345 → 7,234.57, with the rate and its event."""
        converted = convert("S1", Decimal("1000.01"), "USD", "CNY", at=BASE, rates=_RATES)
        assert isinstance(converted, Converted)
        assert converted.amount == Decimal("7234.57")
        assert converted.step is not None
        assert converted.step.event_ids == ("fx-2",)
        assert converted.step.values["rate"] == "7.2345"

    def test_a_moment_before_takes_the_earlier_rate(self) -> None:
        earlier = BASE - timedelta(microseconds=1)
        converted = convert("S1", Decimal(1000), "USD", "CNY", at=earlier, rates=_RATES)
        assert isinstance(converted, Converted)
        assert converted.amount == Decimal("7100.00")

    def test_no_rate_for_exactly_that_pair(self) -> None:
        """A CNY→USD rate does not convert USD→CNY; before any rate: missing."""
        early = datetime.fromisoformat("2026-06-30T00:00:00+08:00")
        assert convert("S1", Decimal(1), "USD", "CNY", at=early, rates=_RATES) == MissingRate(
            "USD", "CNY", early
        )
        assert isinstance(
            convert("S1", Decimal(1), "EUR", "CNY", at=BASE, rates=_RATES), MissingRate
        )

    def test_same_currency_is_not_converted(self) -> None:
        assert convert("S1", Decimal(5), "CNY", "CNY", at=BASE, rates=()) == Converted(
            Decimal(5), None
        )


class TestCollection:
    def test_release_pro_rata(self) -> None:
        """40 % of a 10,000 sale paid releases 40 % of its 500 commission and 200 SPIFF."""
        payment = PaymentFact("P1", "S1", Decimal(4000), BASE, 9, "pay-1")
        r = release(payment, Decimal(10000), Decimal(500), Decimal(200), sale_event_id="sale-1")
        assert (r.commission, r.spiff) == (Decimal(200), Decimal(80))
        assert r.step.values["fraction"] == "0.4000"
        # what the fraction is taken of, and the sale it rests on beside the payment
        assert r.step.values["earned"] == "500"
        assert r.step.event_ids == ("pay-1", "sale-1")
        assert unreleased(Decimal(500), [r]) == Decimal(300)

    def test_thirds_add_up_to_the_whole(self) -> None:
        """Each third released to the cent, cumulatively: 33.33, 33.34, 33.33."""
        third = [
            release(
                PaymentFact(f"P{i}", "S1", Decimal(1), BASE, i, f"p{i}"),
                Decimal(3),
                Decimal(100),
                paid_before=Decimal(i),
            )
            for i in range(3)
        ]
        assert [r.commission for r in third] == [
            Decimal("33.33"),
            Decimal("33.34"),
            Decimal("33.33"),
        ]
        assert [r.step.values["released_before"] for r in third] == ["0", "33.33", "66.67"]

    def test_over_payment_refused(self) -> None:
        """Payments never sum above the sale's amount: 6,000 + 4,000 is exactly it."""
        assert check_payment("S1", Decimal(10000), [Decimal(6000)], Decimal(4000)) is None
        refused = check_payment("S1", Decimal(10000), [Decimal(6000)], Decimal("4000.01"))
        assert refused is not None
        assert "above its amount 10000.00" in refused.message
        assert check_payment("S1", Decimal(10000), [], Decimal(0)) is not None


class TestWording:
    def test_every_new_step_has_words_in_both_locales(self) -> None:
        """Each step code the shapes emit is worded in English and Simplified
        Chinese, with the same fields (no step falls back to its raw data)."""
        plan = shaped(
            commission="per_sale_cap = 500\nperiod_cap = 600\ngate = 0.5\n",
            tail=tiers("credited", "marginal", CREDITED_BANDS) + _SPIFF,
        )
        result = calculate_period(
            plan,
            facts(
                sales=(sale("60000", category="software"), sale("20000")),
                targets=(target("1000000"),),
            ),
        )
        steps = [s for line in result.lines for s in line.steps]
        steps += [s for line in TestOverrides().lines_for_wording() for s in line.steps]
        steps += list(
            draw_lines(
                TestDraws.DRAW, TestDraws.FIRST, (TestDraws.FIRST, None), Decimal(0), Decimal(0)
            )
            .lines[0]
            .steps
        )
        converted = convert("S", Decimal(1), "USD", "CNY", at=BASE, rates=_RATES)
        assert isinstance(converted, Converted)
        assert converted.step is not None
        steps.append(converted.step)
        steps.append(
            release(PaymentFact("P", "S", Decimal(1), BASE, 1, "p"), Decimal(2), Decimal(10)).step
        )
        codes = {s.code for s in steps}
        assert {
            "sale_band",
            "per_sale_cap",
            "period_cap",
            "gate_not_reached",
            "spiff_sale",
        } <= codes
        for s in steps:
            for locale in ("en", "zh-CN"):
                text = render_step(s, locale)
                assert not text.startswith(f"{s.code}:"), (locale, s.code)
                assert "—" not in text or s.code in {
                    "sale_band",
                    "spiff_sale",
                    "spiff_total",
                    "payment_released",
                    "tiers_reached",
                }
