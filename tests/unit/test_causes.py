"""Which later events changed a paid period (SPEC §4): those whose removal from
the replay would change a line. `later_causes` works it out from the period's
totals; it must name exactly what working the whole period out again names."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.causes import changed_without, fact_event_ids, later_causes, without_event
from policies.facts import Decision, PeriodFacts
from tests.unit.factories import PLAN, adjustment, case, drawn_scores, facts, sale, score, target

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
