"""Rendering step words: the compiled templates say exactly what the templates say."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.explanation import Step
from policies.wording import (
    STEP_VALUES,
    TEMPLATES,
    money_shown,
    render_step,
    shown_values,
    words_of,
)

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["{x}", "{{", "}", "\\", "'", '"', "{_l0}", "1234.50", "—", "49", "49.5", "-3", "1.0000"]
)


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(TEMPLATES)), st.data())
def test_every_template_renders_as_format_map_would(locale: str, data: st.DataObject) -> None:
    """Any values, any of them missing ("—"), extra ones ignored, braces and quotes
    in values written as they are — but money, shown with 2 decimals at least."""
    code = data.draw(st.sampled_from(sorted(TEMPLATES[locale])))
    fields = _fields(TEMPLATES[locale][code])
    values = {name: data.draw(texts) for name in fields if data.draw(st.booleans())}
    values["unrelated"] = "{unrelated}"
    # a step recorded without a value its code's words now need: its own words
    words = words_of(Step(code, values))
    template = TEMPLATES[locale][words]
    shown = shown_values(STEP_VALUES[words], values)
    expected = template.format_map({name: shown.get(name, "—") for name in _fields(template)})
    assert render_step(Step(code, values), locale) == expected


def test_an_unknown_locale_is_english_and_an_unknown_code_shows_its_data() -> None:
    step = Step("weighted_score", {"score": "0.9"})
    assert render_step(step, "fr") == render_step(step, "en") == "Weighted score: 0.9"
    assert render_step(Step("no_such_step", {"a": "1"})) == "no_such_step: {'a': '1'}"


class TestTheLedgersOwnWordsAreTranslated:
    """Where a rate came from is the ledger's word, not the plan's: zh-CN says it in Chinese."""

    def test_the_rate_source_of_a_sale_commission(self) -> None:
        from policies.explanation import Step
        from policies.wording import render_step

        values = {
            "sale_id": "S-1",
            "amount": "100.00",
            "share": "1.0000",
            "credited": "100",
            "rate": "0.0800",
            "category": "software",
            "commission": "8",
        }
        by_category = render_step(
            Step("sale_commission", {**values, "rate_source": "category"}), "zh-CN"
        )
        by_default = render_step(
            Step("sale_commission", {**values, "rate_source": "default"}), "zh-CN"
        )
        assert "类别费率" in by_category
        assert "默认费率" in by_default
        assert "category" not in by_category
        assert "default" not in by_default
        assert "(category rate" in render_step(
            Step("sale_commission", {**values, "rate_source": "category"}), "en"
        )

    def test_a_corrected_lines_kind_and_the_tier_measure_and_method(self) -> None:
        change = Step(
            "correction_change",
            {"kind": "bonus", "before": "15000.00", "after": "12000.00", "change": "-3000.00"},
        )
        assert render_step(change, "zh-CN") == "奖金：15000.00 → 12000.00（-3000.00）"
        assert render_step(change, "en") == "bonus: 15000.00 → 12000.00 (-3000.00)"
        band = render_step(
            Step(
                "tiers_reached", {"measure": "attainment", "method": "marginal", "band_from": "1"}
            ),
            "zh-CN",
        )
        assert "按 达成率 分档（边际累进）" in band
        assert "attainment" not in band
        assert "marginal" not in band


@pytest.mark.parametrize(
    ("step", "words"),
    [
        (
            Step(
                "cancellation_outside_window",
                {"sale_id": "S1", "days": "91", "window_days": "90"},
            ),
            (
                "Sale S1 was cancelled 91 days after it occurred, after the 90-day window: "
                "it stays credited"
            ),
        ),
        (
            Step(
                "gate_not_reached",
                {"attainment": "0.4000", "gate": "0.5000", "commission": "1000.00"},
            ),
            "Attainment 0.4000 is below the gate 0.5000: the commission left, 1000.00, is not paid",
        ),
    ],
)
def test_a_step_recorded_before_its_new_values_keeps_words_that_fit_it(
    step: Step, words: str
) -> None:
    """A paid statement recorded these steps with whole days and 4-place
    ratios only: worded again (another locale), they read as they did, not
    with "—" where the moments or the places shown are now."""
    assert render_step(step, "en") == words
    assert "—" not in render_step(step, "zh-CN")


def test_every_value_of_every_steps_words_is_classified() -> None:
    """Money is shown alike in every step because each value its words show
    is known to be money or not: a new step (or a new value in its words)
    fails here until `STEP_VALUES` says what it is."""
    assert set(TEMPLATES["en"]) == set(TEMPLATES["zh-CN"])
    assert set(STEP_VALUES) == set(TEMPLATES["en"])
    for code, kinds in STEP_VALUES.items():
        shown = {name for locale in TEMPLATES for name in _fields(TEMPLATES[locale][code])}
        assert set(kinds) == shown, code


def test_a_summarys_values_are_classified_too() -> None:
    """The summary's own words (`projections.summary`) show money the same way."""
    from projections.summary import SUMMARY_VALUES, SUMMARY_WORDS

    for locale, words in SUMMARY_WORDS.items():
        for key, text in words.items():
            assert set(_fields(text)) == set(SUMMARY_VALUES.get(key, {})), (locale, key)


SAMPLE = {
    "sale_id": "S3",
    "amount": "980.00",
    "share": "1.0000",
    "credited": "980",
    "category": "(none)",
    "rate": "0.0500",
    "rate_source": "default",
    "commission": "49",
}


class TestMoneyReadsAlike:
    """Every money figure of a step's words has its cents (SPEC §3: lines round
    to 0.01); an unrounded one is shown exactly; ratios, counts and recorded
    amounts keep their own forms; the step's values are not changed."""

    def test_the_sample_commission_step(self) -> None:
        step = Step("sale_commission", dict(SAMPLE))
        assert render_step(step) == (
            "Sale S3: 980.00 × share 1.0000 = 980.00 credited, × 0.0500 (default rate, "
            "category (none)) = 49.00"
        )
        assert render_step(step, "zh-CN") == (
            "销售 S3：980.00 × 分成 1.0000 = 计入 980.00，× 0.0500（类别 (none)，默认费率）= 49.00"
        )
        assert step.values == SAMPLE  # the data stays as computed

    def test_unrounded_money_is_shown_exactly(self) -> None:
        step = Step("sale_commission", {**SAMPLE, "credited": "980.1", "commission": "49.005"})
        assert "= 980.10 credited" in render_step(step)
        assert render_step(step).endswith("= 49.005")
        rounded = Step("rounded", {"unrounded": "49.005", "amount": "49.01"})
        assert render_step(rounded) == "Rounded half-up to the cent: 49.005 → 49.01"

    def test_a_three_decimal_amount_an_event_recorded_is_quoted_whole(self) -> None:
        step = Step("adjustment_approved", {"adjustment_id": "A1", "amount": "1.505"})
        assert "A1: 1.505 (" in render_step(step)

    def test_counts_ratios_and_ids_keep_their_forms(self) -> None:
        step = Step(
            "points_deducted",
            {"case_id": "C1", "code": "late", "rung": "points:2", "points": "2"},
        )
        assert "rung points:2, 2 points × " in render_step(step)
        total = Step(
            "commission_total",
            {"sales": "4", "credited_total": "230000", "commission": "16600", "plan_version": "1"},
        )
        assert render_step(total).startswith(
            "Commission on 4 credited sale(s) totalling 230000.00: 16600.00 (plan — v1)"
        )

    def test_a_band_bound_is_money_or_a_ratio_as_the_bands_measure(self) -> None:
        values = {"sale_id": "S1", "credited": "6500", "commission": "585"}
        by_money = render_step(Step("sale_band", {**values, "band_from": "100000"}))
        by_ratio = render_step(Step("sale_band", {**values, "band_from": "1.0000"}))
        assert "6500.00 credited in the band from 100000.00," in by_money
        assert "6500.00 credited in the band from 1.0000," in by_ratio

    def test_the_money_function_is_the_callers(self) -> None:
        """The web pages group thousands in the words as in their tables."""
        from api.pages.i18n import money

        step = Step("sale_commission", {**SAMPLE, "amount": "120000.00", "credited": "-60000"})
        assert "120,000.00 × share 1.0000 = −60,000.00 credited" in render_step(step, "en", money)

    def test_a_paid_step_recorded_before_is_worded_again_alike(self) -> None:
        """A paid statement recorded before the moments were kept (worded by
        `sale_clawed_back_days`, `_RECORDED_WITHOUT`), read in another locale."""
        step = Step(
            "sale_clawed_back",
            {"sale_id": "S1", "amount": "5000", "days": "3", "window_days": "90", "reason": "x"},
        )
        assert render_step(step, "zh-CN").startswith("销售 S1（5000.00）在发生后 3 天取消")

    @pytest.mark.parametrize(
        ("values", "words"),
        [
            ({"earned": "350", "released_before": "0"}, "of its commission 350.00 released"),
            ({"released_before": "0"}, "of its commission released = 140.00 (the sale's"),
            ({}, "of its commission released = 140.00, SPIFF"),
        ],
        ids=["now", "recorded-without-earned", "recorded-as-exact-share"],
    )
    def test_a_release_is_worded_as_it_was_recorded(
        self, values: dict[str, str], words: str
    ) -> None:
        """A payment's release shows what its sale earned; a paid one recorded
        before it did (or before releases were cumulative) keeps words that
        fit it, never a "—" where the earned amount would be."""
        step = Step(
            "payment_released",
            {"payment_id": "P1", "paid": "400.00", "sale_id": "S1", "sale_amount": "1000.00"}
            | {"fraction": "0.4000", "commission": "140.00"}
            | values,
        )
        assert words in render_step(step, "en")
        assert "—" not in render_step(step, "en").split("SPIFF")[0]
        assert "—" not in render_step(step, "zh-CN").split("专项奖励")[0]

    @pytest.mark.parametrize(
        ("text", "shown"),
        [
            ("49", "49.00"),
            ("49.5", "49.50"),
            ("49.005", "49.005"),
            ("980.00", "980.00"),
            ("-3", "-3.00"),
            ("-0.5", "-0.50"),
            ("-12.345", "-12.345"),
            ("0", "0.00"),
            ("—", "—"),
            ("", ""),
            ("1E+2", "1E+2"),
            ("12.3a", "12.3a"),
            ("\u0663", "\u0663"),  # a digit, but not an ASCII one
            ("1234567890.12", "1234567890.12"),
            ("0.0000000001", "0.0000000001"),  # ten decimals: whole
            ("4891.30434782608695652173913043", "4891.3043478260…"),
            ("-0.00000000005", "-0.0000000000…"),
        ],
    )
    def test_money_shown(self, text: str, shown: str) -> None:
        assert money_shown(text) == shown

    @pytest.mark.parametrize(
        ("text", "shown"),
        [
            ("4891.30434782608695652173913043", "4,891.3043478260…"),
            ("-0.00000000005", "−0.0000000000…"),  # cut to nothing, still negative
            ("-12.345678901234", "−12.3456789012…"),
            # 20 digits before the point and 12 after: past the default
            # context's 28 digits, cut all the same (was InvalidOperation: a 500)
            ("12345678901234567890.123456789012", "12,345,678,901,234,567,890.1234567890…"),
            # 31 digits, none cut: each shown (abs() rounded them to 28)
            ("123456789012345678901.1234567891", "123,456,789,012,345,678,901.1234567891"),
        ],
    )
    def test_the_pages_cut_an_unrounded_amount_as_the_words_do(self, text: str, shown: str) -> None:
        """The pages' `money` cuts past 10 decimals as `money_shown` does: the
        same digits, grouped, with a real minus sign."""
        from api.pages.i18n import money

        assert money(text) == shown
