"""Which later events changed a paid period (SPEC §4): those whose removal from
the replay would change a line. `later_causes` works it out from the period's
totals; it must name exactly what working the whole period out again names."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.calculate import calculate_period
from policies.causes import (
    _shaped_amounts,
    changed_without,
    fact_event_ids,
    later_causes,
    without_event,
)
from policies.commission import credited_sales
from policies.corrections import line_key
from policies.facts import Decision, PeriodFacts
from policies.overrides import ManagerChange, ReportingLines, TeamSale
from policies.plan import load_plan
from policies.rounding import CALC
from policies.shapes import SALES_KPI
from policies.tiers import effective_target
from tests.builders import PLAN_TOML
from tests.unit.factories import (
    PLAN,
    adjustment,
    at,
    case,
    drawn_scores,
    facts,
    sale,
    score,
    target,
)
from tests.unit.shapes import ACCELERATOR, CREDITED_BANDS, shaped, spiff, tiers

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(300_000), places=2)


@st.composite
def period_facts(draw: st.DrawFn) -> PeriodFacts:
    """A period with sales (some split, some cancelled inside or outside the
    window), a target that may need an approval, scores, cases (some
    overturned, some red-line and approved) and adjustments."""
    sales = tuple(
        sale(
            str(draw(amounts)),
            share=draw(st.sampled_from(["1", "0.5", "0.333333"])),
            category=draw(st.sampled_from(["software", "hardware", None])),
            day=draw(st.integers(0, 85)),
            cancelled_after_days=draw(st.sampled_from([None, None, 10, 90, 91, 200])),
        )
        for _ in range(draw(st.integers(0, 6)))
    )
    n = draw(st.integers(0, 10**6))
    decided = Decision("approved", f"approval-{n}", "fin-bob")
    targets = tuple(
        target(str(draw(st.integers(1, 600)) * 1000), decision=d)
        for d in draw(st.lists(st.sampled_from([decided, Decision("not_required")]), max_size=2))
    )
    scores = drawn_scores(draw)
    cases = tuple(
        case(
            draw(st.sampled_from(["minor", "red_line"])),
            day=draw(st.integers(-200, 80)),
            amount=f"{draw(st.integers(1, 9999))}.00",
            decision=Decision("approved", f"case-approval-{i}-{n}", "cmp"),
            overturned=draw(st.booleans()),
        )
        for i in range(draw(st.integers(0, 3)))
    )
    adjustments = tuple(
        adjustment(f"{draw(st.integers(-5000, 5000)) or 1}.00")
        for _ in range(draw(st.integers(0, 2)))
    )
    return facts(
        sales=sales, targets=targets, kpi_scores=scores, cases=cases, adjustments=adjustments
    )


class TestLaterCauses:
    @settings(max_examples=300, deadline=None)
    @given(period_facts())
    def test_names_exactly_what_a_whole_recomputation_names(self, f: PeriodFacts) -> None:
        ids = fact_event_ids(f)
        causes = later_causes(PLAN, f, ids)
        for event_id in ids:
            expected = changed_without(PLAN, f, event_id)
            assert causes.get(event_id, frozenset()) == expected, event_id
        assert list(causes) == [e for e in ids if e in causes]  # in the order given

    def test_a_cancellation_outside_the_window_is_no_cause(self) -> None:
        """Cancelled 200 days after the sale: still credited, nothing moves."""
        late = sale("50000", cancelled_after_days=200)
        f = facts(sales=(late,), targets=(target("100000"),))
        assert late.cancellation is not None
        assert later_causes(PLAN, f, [late.cancellation.event_id]) == {}

    def test_a_cancellation_inside_the_window_moves_commission_and_bonus(self) -> None:
        """50000 of 100000 cancelled on day 10: commission 2500 → 0 and
        attainment 0.5 → 0, a bonus that was 0 either way is no change."""
        kept, cancelled = sale("100000"), sale("50000", cancelled_after_days=10)
        f = facts(
            sales=(kept, cancelled),
            targets=(target("100000"),),
            kpi_scores=(score("customer_satisfaction", "1"), score("market_feedback", "1")),
        )
        assert cancelled.cancellation is not None
        # credited 100000 (÷ 100000: score 1.0, tier 1.5); with it 150000 (score 1.3, tier 1.8)
        assert later_causes(PLAN, f, [cancelled.cancellation.event_id]) == {
            cancelled.cancellation.event_id: frozenset({("commission", None), ("bonus", None)})
        }

    def test_an_overturning_that_removed_a_fine_is_a_cause(self) -> None:
        """No line of the replay mentions the overturning of a red-line case; its
        removal brings the fine back (and forfeits the bonus)."""
        overturned = case(
            "red_line",
            amount="3200.00",
            decision=Decision("approved", "ok", "cmp"),
            overturned=True,
        )
        f = facts(
            cases=(overturned,),
            sales=(sale("100000"),),
            targets=(target("100000"),),
            kpi_scores=(score("customer_satisfaction", "1"), score("market_feedback", "1")),
        )
        assert overturned.overturned_by is not None
        causes = later_causes(PLAN, f, [overturned.overturned_by])
        assert causes == {
            overturned.overturned_by: frozenset(
                {("fine", f"case_id={overturned.case_id}"), ("bonus", None)}
            )
        }

    def test_without_an_approval_its_subject_is_pending(self) -> None:
        approved = adjustment("150.00")
        f = without_event(facts(adjustments=(approved,)), str(approved.decision.event_id))
        assert f.adjustments[0].decision.status == "pending"


# SPEC §3.1 plans the fast path must name exactly what a whole recomputation
# names: SPIFFs, tiers (marginal and retroactive, by money and by attainment),
# the per-sale and period caps, the gate, a prorated bonus and overrides.
_SHAPED_PLANS = {
    "spiffs": shaped(
        tail=spiff("fixed", "2026-07-01", "2026-08-31", amount="300", min_amount="20000")
        + spiff("rate", "2026-08-01", "2026-09-30", category="software", rate="0.01")
    ),
    "marginal-attainment-caps-gate": shaped(
        commission="per_sale_cap = 3000\nperiod_cap = 5000\ngate = 0.5\n",
        tail=tiers("attainment", "marginal", ACCELERATOR),
    ),
    "retroactive-credited": shaped(tail=tiers("credited", "retroactive", CREDITED_BANDS)),
    "marginal-credited-gate": shaped(
        commission="gate = 0.8\n", tail=tiers("credited", "marginal", CREDITED_BANDS)
    ),
    "prorated": load_plan(PLAN_TOML.replace("[bonus]\n", "[bonus]\nprorate = true\n"), "toml"),
    "override": shaped(tail="[override]\nrates = [0.02, 0.01]\n"),
}
# r2 reports to r1 (the manager), r3 to r2; r4 to no one in r1's line
_REPORTING = ReportingLines.of(
    [
        ManagerChange("r2", "r1", at(-100), 1, "enrol-r2"),
        ManagerChange("r3", "r2", at(-100), 2, "enrol-r3"),
        ManagerChange("r4", "r9", at(-100), 3, "enrol-r4"),
    ]
)


@st.composite
def shaped_period(draw: st.DrawFn) -> tuple[str, PeriodFacts]:
    """A period of one of `_SHAPED_PLANS`, with the facts of `period_facts`,
    and (for overrides) team sales, some clawed back, or (prorated) an
    enrolment inside the quarter."""
    name = draw(st.sampled_from(sorted(_SHAPED_PLANS)))
    f = draw(period_facts())
    if name == "prorated":
        f = replace(f, enrolled_on=at(draw(st.integers(-30, 60))).date())
    if name == "override":
        team = []
        clawed_back = []
        for i in range(draw(st.integers(0, 6))):
            n = draw(st.integers(0, 10**6))
            sold = TeamSale(
                draw(st.sampled_from(["r2", "r3", "r4"])),
                f"TS{i}",
                f"team-sale-{i}-{n}",
                at(draw(st.integers(0, 85))),
                draw(amounts),
            )
            if draw(st.booleans()):
                team.append(sold)
            else:
                clawed_back.append((sold, f"team-cancel-{i}-{n}"))
        f = replace(
            f, team_sales=tuple(team), team_clawed_back=tuple(clawed_back), reporting=_REPORTING
        )
    return name, f


class TestLaterCausesUnderShapes:
    @settings(max_examples=400, deadline=None)
    @given(shaped_period())
    def test_names_exactly_what_a_whole_recomputation_names(
        self, found: tuple[str, PeriodFacts]
    ) -> None:
        name, f = found
        plan = _SHAPED_PLANS[name]
        ids = fact_event_ids(f)
        causes = later_causes(plan, f, ids)
        for event_id in ids:
            expected = changed_without(plan, f, event_id)
            assert causes.get(event_id, frozenset()) == expected, (name, event_id)

    @settings(max_examples=300, deadline=None)
    @given(shaped_period())
    def test_the_shaped_amounts_are_the_lines_amounts(self, found: tuple[str, PeriodFacts]) -> None:
        """What the fast path works a shaped period's commission, cap and gate
        out as, from the credited sales alone, is what the lines say."""
        name, f = found
        plan = _SHAPED_PLANS[name]
        with localcontext(CALC):
            credited = credited_sales(plan, f.sales)
            target = effective_target(f.targets, SALES_KPI)
            worked_out = _shaped_amounts(plan, credited.by_sale, credited.total, target)
        lines = {line_key(x): x.amount for x in calculate_period(plan, f).lines}
        assert worked_out == {k: lines.get(k, Decimal(0)) for k in worked_out}, name

    def test_capped_and_gated_a_cancellation_moves_commission_cap_and_gate(self) -> None:
        """Two 100,000 sales at 5 % (5,000 each, cut to 3,000 by the per-sale
        cap): 6,000, the period cap takes 1,000, and at 0.4 of the 500,000
        target the gate takes the 5,000 left. A third, cancelled on day 10:
        without the cancellation commission is 9,000, the cap takes 4,000,
        and at 0.6 no gate applies — the bonus is 0 either way."""
        kept = (sale("100000"), sale("100000"))
        cancelled = sale("100000", cancelled_after_days=10)
        assert cancelled.cancellation is not None
        f = facts(sales=(*kept, cancelled), targets=(target("500000"),))
        plan = _SHAPED_PLANS["marginal-attainment-caps-gate"]
        with localcontext(CALC):
            credited = credited_sales(plan, f.sales)
            assert _shaped_amounts(plan, credited.by_sale, credited.total, f.targets[0]) == {
                ("commission", None): Decimal("6000.00"),
                ("cap", None): Decimal("-1000.00"),
                ("gate", None): Decimal("-5000.00"),
            }
        cause = cancelled.cancellation.event_id
        moved = {("commission", None), ("cap", None), ("gate", None)}
        assert later_causes(plan, f, [cause]) == {cause: frozenset(moved)}
        assert changed_without(plan, f, cause) == moved

    def test_a_cancelled_sale_is_named_on_its_spiff(self) -> None:
        """A 30,000 sale in July earns the fixed SPIFF (300); cancelled on day
        10, taking the cancellation out brings commission and SPIFF back."""
        cancelled = sale("30000", cancelled_after_days=10)
        assert cancelled.cancellation is not None
        plan = _SHAPED_PLANS["spiffs"]
        assert later_causes(plan, facts(sales=(cancelled,)), [cancelled.cancellation.event_id]) == {
            cancelled.cancellation.event_id: frozenset(
                {("commission", None), ("spiff", "spiff_id=fixed")}
            )
        }

    def test_a_cancelled_team_sale_is_named_on_its_override_level(self) -> None:
        """r3 (level 2) sold 50,000, cancelled inside the window: without the
        cancellation the level-2 override (1 %) is 500 again."""
        sold = TeamSale("r3", "TS", "team-sale", at(5), Decimal(50000))
        f = facts(team_clawed_back=((sold, "team-cancel"),), reporting=_REPORTING)
        plan = _SHAPED_PLANS["override"]
        assert without_event(f, "team-cancel").team_sales == (sold,)
        assert later_causes(plan, f, ["team-cancel", "team-sale"]) == {
            "team-cancel": frozenset({("override", "level=2")})
        }
