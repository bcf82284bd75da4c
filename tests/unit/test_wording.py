"""Rendering step words: the compiled templates say exactly what the templates say."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.explanation import Step
from policies.wording import TEMPLATES, render_step, words_of

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["{x}", "{{", "}", "\\", "'", '"', "{_l0}", "1234.50", "—"]
)


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(TEMPLATES)), st.data())
def test_every_template_renders_as_format_map_would(locale: str, data: st.DataObject) -> None:
    """Any values, any of them missing ("—"), extra ones ignored, braces and quotes
    in values written as they are."""
    code = data.draw(st.sampled_from(sorted(TEMPLATES[locale])))
    fields = _fields(TEMPLATES[locale][code])
    values = {name: data.draw(texts) for name in fields if data.draw(st.booleans())}
    values["unrelated"] = "{unrelated}"
    # a step recorded without a value its code's words now need: its own words
    template = TEMPLATES[locale][words_of(Step(code, values))]
    expected = template.format_map({name: values.get(name, "—") for name in _fields(template)})
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
