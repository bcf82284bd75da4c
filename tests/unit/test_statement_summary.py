"""The summary view and the pages of a statement (SPEC §4), as pure functions
of the statement document (`projections.summary`): the subtotals add up to the
statement's total exactly, every sale is in exactly one subtotal of its kind,
and the pages of the full view hold every step once, in order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidInputError
from policies.calculate import calculate_period
from policies.plan import Plan
from policies.wording import render_step
from projections.summary import (
    MAX_RANGES,
    SUMMARY_WORDS,
    StepPage,
    expand_ranges,
    page_statement,
    ranges_of,
    step_count,
    summarise,
)
from tests.unit.factories import PLAN, adjustment, facts, sale, target
from tests.unit.shapes import ACCELERATOR, CREDITED_BANDS, shaped, tiers

_SPIFF = '\n[[spiffs]]\nid = "push"\nfrom = 2026-07-01\nto = 2026-09-30\nrate = 0.01\n'
PLANS: dict[str, Plan] = {
    "spec": PLAN,
    "marginal bands, per-sale cap, SPIFF": shaped(
        commission="per_sale_cap = 3000\n",
        tail=tiers("credited", "marginal", CREDITED_BANDS) + _SPIFF,
    ),
    "accelerator, period cap": shaped(
        commission="period_cap = 20000\n",
        tail=tiers("attainment", "retroactive", ACCELERATOR),
        default_rate="0.10",
    ),
}
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(200_000), places=2)


def statement_of(plan: Plan, result: Any, locale: str = "en") -> dict[str, Any]:
    """A statement document as the read side serves it (lines with their words)."""
    return {
        "rep_id": "r1",
        "period": "2026-Q3",
        "currency": "CNY",
        "lines": [
            {
                "kind": line.kind,
                "amount": str(line.amount),
                "explanation": [
                    {**s.to_dict(), "text": render_step(s, locale)} for s in line.steps
                ],
                "event_ids": list(line.event_ids),
            }
            for line in result.lines
        ],
        "total": str(result.total),
        "payable": str(result.payable),
        "plan": {"id": plan.id, "version": plan.version},
    }


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    plan = PLANS[draw(st.sampled_from(sorted(PLANS)))]
    first = draw(st.integers(1, 900))
    sales = tuple(
        sale(
            str(draw(amounts)),
            sale_id=draw(st.sampled_from([f"S-{first + i:04d}", f"crm/{i}x", f"T{i}"])),
            share=draw(st.sampled_from(["1", "0.5", "0.3333", "0.125"])),
            category=draw(st.sampled_from(["software", "hardware", "services", None])),
            day=draw(st.integers(0, 85)),
            cancelled_after_days=draw(st.sampled_from([None, None, None, 10, 120])),
        )
        for i in range(draw(st.integers(0, 40)))
    )
    targets = (target(str(draw(st.integers(1, 500)) * 1000)),) if draw(st.booleans()) else ()
    adjustments = tuple(
        adjustment(str(draw(st.integers(-5000, 5000)) or 1) + ".00")
        for _ in range(draw(st.integers(0, 3)))
    )
    result = calculate_period(plan, facts(sales=sales, targets=targets, adjustments=adjustments))
    return statement_of(plan, result)


def _credited_sales(statement: dict[str, Any], kind: str) -> list[str]:
    """The sales a kind of line sums in the full view (each once)."""
    ids = [
        s["values"]["sale_id"]
        for line in statement["lines"]
        if line["kind"] == kind
        for s in line["explanation"]
        if s["code"] in {"sale_commission", "sale_band", "spiff_sale"}
    ]
    return list(dict.fromkeys(ids))


class TestSummaryProperties:
    @settings(max_examples=150, deadline=None)
    @given(statements())
    def test_the_subtotals_add_up_to_the_total_exactly(self, statement: dict[str, Any]) -> None:
        summary = summarise(statement)
        total = sum((Decimal(line["amount"]) for line in summary["lines"]), Decimal(0))
        assert total == Decimal(statement["total"])
        assert summary["total"] == statement["total"]
        for kind in {line["kind"] for line in statement["lines"]}:
            full = sum(
                (Decimal(x["amount"]) for x in statement["lines"] if x["kind"] == kind), Decimal(0)
            )
            parts = sum(
                (Decimal(x["amount"]) for x in summary["lines"] if x["kind"] == kind), Decimal(0)
            )
            assert parts == full, kind

    @settings(max_examples=150, deadline=None)
    @given(statements())
    def test_every_sale_is_in_exactly_one_subtotal_of_its_kind(
        self, statement: dict[str, Any]
    ) -> None:
        summary = summarise(statement)
        for kind in ("commission", "spiff"):
            listed: list[str] = []
            for line in summary["lines"]:
                if line["kind"] != kind:
                    continue
                sales = line["sales"]
                if sales["more_ranges"] == 0:
                    listed += expand_ranges(sales["ranges"])
                else:  # too many runs to list: the count still holds
                    listed += ["?"] * sales["count"]
            credited = _credited_sales(statement, kind)
            assert len(listed) == len(credited)
            if "?" not in listed:
                assert sorted(listed) == sorted(credited)

    @settings(max_examples=100, deadline=None)
    @given(statements())
    def test_one_subtotal_per_kind_and_category(self, statement: dict[str, Any]) -> None:
        summary = summarise(statement)
        keys = [(line["kind"], line["category"]) for line in summary["lines"]]
        assert len(keys) == len(set(keys))
        assert summary["view"] == "summary"
        assert summary["steps"] == step_count(statement)
        for line in summary["lines"]:
            for s in line["explanation"]:
                assert all(isinstance(v, str) for v in s["values"].values())
                assert s["text"]

    @settings(max_examples=100, deadline=None)
    @given(statements(), st.integers(1, 30))
    def test_the_pages_hold_every_step_once_in_order(
        self, statement: dict[str, Any], limit: int
    ) -> None:
        full = [s for line in statement["lines"] for s in line["explanation"]]
        seen: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = page_statement(statement, StepPage(offset, limit))
            assert page["page"]["total"] == len(full)
            assert [line["amount"] for line in page["lines"]] == [
                line["amount"] for line in statement["lines"]
            ]
            shown = [s for line in page["lines"] for s in line["explanation"]]
            assert page["page"]["returned"] == len(shown) <= limit
            seen += shown
            offset += limit
            if offset >= len(full):
                break
        assert seen == full


class TestSummaryExamples:
    def _big(self, count: int) -> dict[str, Any]:
        sales = tuple(
            sale(
                "1234.57",
                sale_id=f"S{n:08d}",
                category=("software", "hardware", "services")[n % 3],
                share="0.3333",
            )
            for n in range(1, count + 1)
        )
        return statement_of(PLAN, calculate_period(PLAN, facts(sales=sales)))

    def test_a_subtotal_per_category_names_its_sales_as_ranges(self) -> None:
        statement = self._big(9)
        summary = summarise(statement)
        commission = [line for line in summary["lines"] if line["kind"] == "commission"]
        assert [line["category"] for line in commission] == ["hardware", "services", "software"]
        software = commission[-1]
        assert software["sales"]["count"] == 3
        assert expand_ranges(software["sales"]["ranges"]) == ["S00000003", "S00000006", "S00000009"]
        first = software["explanation"][0]
        assert first["code"] == "subtotal"
        assert first["values"]["category"] == "software"
        assert "S00000003, S00000006, S00000009" in first["text"]
        # the steps of the line as a whole follow its last subtotal
        codes = [s["code"] for s in software["explanation"]]
        assert codes[-3:] == ["line_subtotals", "commission_total", "rounded"]

    def test_the_rounding_of_the_line_is_shared_to_the_cent(self) -> None:
        """Three categories of 0.005 each: the line rounds 0.015 once (0.02)."""
        sales = tuple(
            sale("0.1", sale_id=f"S{n}", category=c) for n, c in enumerate(["a", "b", "c"])
        )
        statement = statement_of(PLAN, calculate_period(PLAN, facts(sales=sales)))
        (line,) = [x for x in statement["lines"] if x["kind"] == "commission"]
        assert line["amount"] == "0.02"
        summary = [x for x in summarise(statement)["lines"] if x["kind"] == "commission"]
        assert [x["amount"] for x in summary] == ["0.01", "0.01", "0.00"]
        shared = [s for x in summary for s in x["explanation"] if s["code"] == "subtotal_share"]
        assert len(shared) == 1  # 0.005 shown as 0.00: the line's one rounding said why

    def test_consecutive_ids_are_one_range(self) -> None:
        ids = [f"S{n:08d}" for n in range(1, 10_001)]
        assert ranges_of(ids) == [["S00000001", "S00010000"]]
        assert ranges_of(["S9", "S10", "S11", "x", "S012", "S013"]) == [
            ["S9", "S11"],
            ["x", "x"],
            ["S012", "S013"],
        ]
        assert expand_ranges([["S9", "S11"], ["S012", "S013"]]) == [
            "S9",
            "S10",
            "S11",
            "S012",
            "S013",
        ]

    def test_many_scattered_ids_list_at_most_the_cap_of_ranges(self) -> None:
        statement = self._big(200)
        for line in statement["lines"]:
            for s in line["explanation"]:
                if "sale_id" in s["values"]:  # every other id: no runs
                    s["values"]["sale_id"] = f"{s['values']['sale_id']}-{s['values']['sale_id']}"
        commission = [x for x in summarise(statement)["lines"] if x["kind"] == "commission"]
        for line in commission:
            assert len(line["sales"]["ranges"]) <= MAX_RANGES
            assert (
                line["sales"]["count"]
                == len(line["sales"]["ranges"]) + line["sales"]["more_ranges"]
            )
            assert "more" in line["explanation"][0]["text"]

    def test_ten_thousand_scattered_sales_stay_under_20_kb(self) -> None:
        """Ids a CRM hands out across reps (no two of one rep consecutive), with
        cancellations: at most `MAX_RANGES` runs listed per subtotal."""
        sales = tuple(
            sale(
                f"{100 + n % 900}.{n % 100:02d}",
                sale_id=f"CRM-{n * 7919 % 100_003:06d}",
                category=("software", "hardware", "services", None)[n % 4],
                cancelled_after_days=10 if n % 50 == 0 else None,
            )
            for n in range(1, 10_001)
        )
        statement = statement_of(PLAN, calculate_period(PLAN, facts(sales=sales)))
        body = orjson.dumps(summarise(statement))
        assert len(body) < 20_000, len(body)
        assert len(orjson.dumps(statement)) > 100 * len(body)

    def test_a_line_whose_steps_do_not_add_up_stays_whole(self) -> None:
        statement = self._big(6)
        line = next(x for x in statement["lines"] if x["kind"] == "commission")
        line["explanation"][0]["code"] = "sale_something_new"  # an amount not known here
        summary = summarise(statement)
        commission = [x for x in summary["lines"] if x["kind"] == "commission"]
        assert len(commission) == 1
        assert commission[0]["category"] is None
        assert commission[0]["amount"] == line["amount"]
        assert commission[0]["sales"]["count"] == 6  # every sale its steps name
        assert "sale_something_new" in {
            s["values"].get("code") for s in commission[0]["explanation"]
        }

    def test_chinese_words_same_numbers(self) -> None:
        statement = self._big(6)
        en, zh = summarise(statement), summarise(statement, "zh-CN")
        assert [x["amount"] for x in en["lines"]] == [x["amount"] for x in zh["lines"]]
        assert "小计" in zh["lines"][0]["explanation"][0]["text"]
        assert (
            en["lines"][0]["explanation"][0]["values"] == zh["lines"][0]["explanation"][0]["values"]
        )

    def test_both_locales_have_every_word(self) -> None:
        assert set(SUMMARY_WORDS["en"]) == set(SUMMARY_WORDS["zh-CN"])


class TestPageBounds:
    @pytest.mark.parametrize(
        ("offset", "limit", "field"), [(-1, 10, "offset"), (0, 0, "limit"), (0, 1001, "limit")]
    )
    def test_a_bad_window_is_refused_naming_the_field(
        self, offset: int, limit: int, field: str
    ) -> None:
        with pytest.raises(InvalidInputError) as refused:
            StepPage(offset, limit)
        assert refused.value.field == field

    def test_a_page_past_the_end_keeps_the_lines_without_steps(self) -> None:
        statement = statement_of(PLAN, calculate_period(PLAN, facts(sales=(sale("10"),))))
        page = page_statement(statement, StepPage(500, 10))
        assert page["page"]["returned"] == 0
        assert all(line["explanation"] == [] for line in page["lines"])
        assert [x["amount"] for x in page["lines"]] == [x["amount"] for x in statement["lines"]]
