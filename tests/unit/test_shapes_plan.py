"""The plan schema of SPEC §3.1: what it accepts, what it refuses (naming the field)."""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal

import pytest
from pydantic import ValidationError

from policies.plan import Plan, PlanError, load_plan, plan_document
from tests.builders import PLAN_TOML
from tests.unit.shapes import ACCELERATOR, CREDITED_BANDS, draw, plan_toml, shaped, spiff, tiers

FULL = plan_toml(
    commission='basis = "booking"\ngate = 0.5\nper_sale_cap = 20000\nperiod_cap = "200000.50"\n',
    tail=tiers(
        "attainment",
        "marginal",
        "{from = 0.0, multiplier = 0.5}, {from = 0.5, multiplier = 1.0}, "
        "{from = 1.0, multiplier = 1.5}, {from = 1.5, rate = 0.12}",
    )
    + spiff(
        "q4-software-push",
        "2026-10-01",
        "2026-12-31",
        category="software",
        min_amount="50000",
        amount="2000",
    )
    + draw("8000", "2026-06-30"),
)


def _structure(text: str) -> Plan:
    """A plan's structure alone (what a stored plan is read back with): the
    sections this version does not pay yet are refused only at the edge."""
    return Plan.from_stored(tomllib.loads(text, parse_float=Decimal))


def _refusal(text: str, fmt: str = "toml") -> dict[str, str]:
    with pytest.raises(PlanError) as caught:
        load_plan(text, fmt)  # type: ignore[arg-type]
    return dict(caught.value.errors)


class TestAccepted:
    def test_every_section_of_the_spec_example(self) -> None:
        plan = load_plan(FULL, "toml")
        assert plan.commission.tiers is not None
        assert plan.commission.tiers.bands[3].rate == Decimal("0.12")
        assert plan.commission.period_cap == Decimal("200000.50")  # decimal text
        assert plan.spiffs[0].from_.isoformat() == "2026-10-01"
        assert plan.draw is not None
        assert plan.draw.recoverable
        assert plan.override is None

    def test_override_and_collection_have_a_schema(self) -> None:
        """The sections are modelled..."""
        plan = _structure(
            plan_toml(
                commission='basis = "collection"\n', tail="[override]\nrates = [0.02, 0.01]\n"
            )
        )
        assert plan.commission.basis == "collection"
        assert plan.override is not None
        assert plan.override.rates == [Decimal("0.02"), Decimal("0.01")]

    def test_and_are_published_now_that_they_are_paid(self) -> None:
        """...and accepted at the edge: collection and overrides are paid."""
        plan = load_plan(
            plan_toml(commission='basis = "collection"\n', tail="[override]\nrates = [0.02]\n"),
            "toml",
        )
        assert plan.commission.basis == "collection"
        assert plan.override is not None

    def test_the_document_round_trips(self) -> None:
        plan = load_plan(FULL, "toml")
        document = plan_document(plan)
        assert Plan.model_validate(document) == plan
        assert load_plan(json.dumps(document), "json") == plan

    def test_a_plan_without_the_sections_keeps_its_document(self) -> None:
        """Stored bytes of a seed plan do not change: no new key appears."""
        document = plan_document(load_plan(PLAN_TOML, "toml"))
        assert set(document) == {
            "id",
            "version",
            "effective_from",
            "currency",
            "period",
            "commission",
            "bonus",
            "clawback",
            "discipline",
        }
        assert set(document["commission"]) == {"default_rate", "rates"}
        assert "prorate" not in document["bonus"]


class TestRefused:
    def test_band_with_both_multiplier_and_rate(self) -> None:
        bands = "{from = 0, multiplier = 1}, {from = 1, multiplier = 1.5, rate = 0.1}"
        errors = _refusal(plan_toml(tail=tiers("attainment", "marginal", bands)))
        assert "both" in errors["commission.tiers.bands[1]"]

    def test_band_with_neither(self) -> None:
        errors = _refusal(plan_toml(tail=tiers("attainment", "marginal", "{from = 0}")))
        assert "exactly one of 'multiplier' and 'rate'" in errors["commission.tiers.bands[0]"]

    @pytest.mark.parametrize(
        ("bands", "reason"),
        [
            (
                "{from = 0, rate = 0.01}, {from = 2, rate = 0.02}, {from = 1, rate = 0.03}",
                "ascending",
            ),
            (
                "{from = 0, rate = 0.01}, {from = 1.0, rate = 0.02}, {from = 1, rate = 0.03}",
                "repeats",
            ),
            ("{from = 0.1, rate = 0.01}", "starts from 0"),
        ],
        ids=["unsorted", "duplicate", "not from zero"],
    )
    def test_band_bounds(self, bands: str, reason: str) -> None:
        errors = _refusal(plan_toml(tail=tiers("attainment", "retroactive", bands)))
        assert reason in errors["commission.tiers.bands"]

    def test_a_float_in_a_json_plan(self) -> None:
        """JSON numbers with a fraction are refused, named; decimal text is fine."""
        document = plan_document(load_plan(FULL, "toml"))
        document["commission"]["gate"] = 0.5
        document["draw"]["amount"] = 8000.0
        text = json.dumps(document)
        errors = _refusal(text, "json")
        assert set(errors) == {"commission.gate", "draw.amount"}
        assert "exact decimals" in errors["commission.gate"]

    @pytest.mark.parametrize(
        ("commission", "tail", "field"),
        [
            ("gates = 0.5\n", "", "commission.gates"),
            (
                "",
                tiers("attainment", "marginal", ACCELERATOR).replace("method", "methd"),
                "commission.tiers.methd",
            ),
            ("", "[draw]\namount = 10\nrecoverable = true\nuntill = 2026-01-01\n", "draw.untill"),
            ("", "[override]\nrates = [0.01]\nlevels = 2\n", "override.levels"),
        ],
    )
    def test_an_unknown_key(self, commission: str, tail: str, field: str) -> None:
        errors = _refusal(plan_toml(commission=commission, tail=tail))
        assert field in errors

    def test_spiff_to_before_from(self) -> None:
        spiff = '[[spiffs]]\nid = "x"\nfrom = 2026-10-01\nto = 2026-09-30\namount = 10\n'
        errors = _refusal(plan_toml(tail=spiff))
        assert "before 'from' 2026-10-01" in errors["spiffs[0].to"]

    def test_spiff_one_day_window_is_fine(self) -> None:
        spiff = '[[spiffs]]\nid = "x"\nfrom = 2026-10-01\nto = 2026-10-01\nrate = 0.01\n'
        assert shaped(tail=spiff).spiffs[0].to.isoformat() == "2026-10-01"

    def test_spiff_needs_one_reward_and_a_unique_id(self) -> None:
        spiff = '[[spiffs]]\nid = "x"\nfrom = 2026-10-01\nto = 2026-10-02\n'
        assert "exactly one of 'amount' and 'rate'" in _refusal(plan_toml(tail=spiff))["spiffs[0]"]
        twice = (spiff + "amount = 1\n") * 2
        assert "appears twice" in _refusal(plan_toml(tail=twice))["spiffs[1].id"]

    def test_money_bounds(self) -> None:
        """20000.505 CNY is refused (two decimals); so is a credited band bound."""
        errors = _refusal(plan_toml(commission="per_sale_cap = 20000.505\n"))
        assert "at most 2 decimal places" in errors["commission.per_sale_cap"]
        bands = "{from = 0, rate = 0.01}, {from = 100.001, rate = 0.02}"
        errors = _refusal(plan_toml(tail=tiers("credited", "marginal", bands)))
        assert "commission.tiers.bands[1].from" in errors

    def test_override_levels(self) -> None:
        """One or two levels (direct reports, then theirs); none or three are refused.
        Whether the manager has reports at all is known from enrolments, not the plan."""
        for rates in ("[]", "[0.03, 0.02, 0.01]"):
            with pytest.raises(ValidationError) as caught:
                _structure(plan_toml(tail=f"[override]\nrates = {rates}\n"))
            assert caught.value.errors()[0]["loc"] == ("override", "rates")

    def test_bad_values(self) -> None:
        assert "commission.basis" in _refusal(plan_toml(commission='basis = "invoice"\n'))
        assert "draw.amount" in _refusal(
            plan_toml(tail="[draw]\namount = 0\nrecoverable = false\n")
        )
        assert "commission.tiers.bands[0].rate" in _refusal(
            plan_toml(tail=tiers("credited", "marginal", "{from = 0, rate = 1.5}"))
        )
        assert "commission.tiers.measure" in _refusal(
            plan_toml(tail=tiers("money", "marginal", CREDITED_BANDS))
        )
