"""POST /whatif and POST /reps/{rep_id}/estimate (SPEC §5): who may ask, what
a bad request is told, and that nothing is recorded."""

from __future__ import annotations

from typing import Any

import pytest

from api import schemas
from demo import PLAN_TOML
from tests.api.conftest import Api

ACCELERATOR = """
[commission.tiers]
measure = "attainment"
method = "marginal"
bands = [ { from = 0.0, multiplier = 1.0 }, { from = 0.5, multiplier = 1.5 } ]
"""
CANDIDATE = PLAN_TOML.replace("version = 1", "version = 2").replace(
    "[bonus]", f"{ACCELERATOR}\n[bonus]"
)


def _whatif(api: Api, who: str, **body: Any) -> Any:
    payload = {"plan": CANDIDATE, "periods": ["2026-Q3", "2026-Q4"], **body}
    return api.client.post("/whatif", json=payload, headers=api.as_(who))


def _estimate(api: Api, who: str, rep_id: str = "rep-li", **body: Any) -> Any:
    payload = {"amount": "50000.00", "category": "software", "date": "2026-11-20", **body}
    return api.client.post(f"/reps/{rep_id}/estimate", json=payload, headers=api.as_(who))


class TestWhatIf:
    def test_finance_sees_every_rep_today_and_under_the_candidate(self, api: Api) -> None:
        head = api.head()
        response = _whatif(api, "finance")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["recorded"] is False
        assert {(r["rep_id"], r["period"]) for r in body["reps"]} == {
            (rep, period)
            for rep in ("rep-chen", "rep-li", "rep-wang")
            for period in ("2026-Q3", "2026-Q4")
        }
        li = next(r for r in body["reps"] if (r["rep_id"], r["period"]) == ("rep-li", "2026-Q4"))
        assert li["difference"]["total"] == "2300.00"
        assert li["moved"][0]["text"].startswith("correction")
        assert body["text"].startswith("What-if: plan field-sales version 2")
        assert api.head() == head

    def test_a_json_plan_document_works_like_toml(self, api: Api) -> None:
        from policies.plan import load_plan, plan_document

        document = plan_document(load_plan(CANDIDATE, "toml"))
        as_json = _whatif(api, "finance", plan=document).json()
        as_toml = _whatif(api, "finance").json()
        assert [r["difference"] for r in as_json["reps"]] == [
            r["difference"] for r in as_toml["reps"]
        ]

    def test_words_follow_accept_language(self, api: Api) -> None:
        response = api.client.post(
            "/whatif",
            json={"plan": CANDIDATE, "periods": ["2026-Q4"]},
            headers={**api.as_("finance"), "Accept-Language": "zh-CN"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["text"].startswith("假设分析")

    @pytest.mark.parametrize(
        ("body", "status", "field"),
        [
            ({"periods": ["2026-13"]}, 422, "period"),
            ({"periods": ["2026-07"]}, 422, "period"),
            ({"plan": CANDIDATE.replace("cap = 2.0", "cap = -1")}, 422, "plan.bonus.cap"),
            ({"plan": {"id": "field-sales", "version": 2, "bogus": 1}}, 422, None),
            ({"plan": PLAN_TOML}, 409, "plan.version"),  # as published: a conflict
            ({"rep_id": "rep-nobody"}, 404, "rep_id"),
        ],
    )
    def test_bad_input_names_the_field(
        self, api: Api, body: dict[str, Any], status: int, field: str | None
    ) -> None:
        head = api.head()
        response = _whatif(api, "finance", **body)
        assert response.status_code == status, response.text
        answer = response.json()
        assert set(answer) >= {"error", "detail"}
        if field is not None:
            assert answer["field"] == field
        else:
            assert answer["field"].startswith("plan.")
        assert api.head() == head


class TestEstimate:
    @pytest.mark.parametrize("who", ["rep", "manager", "finance"])
    def test_who_may_estimate_rep_li(self, api: Api, who: str) -> None:
        head = api.head()
        response = _estimate(api, who)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["recorded"] is False
        assert body["by_kind"] == {"commission": "4000.00"}
        assert "rep-li" in body["text"]
        assert api.head() == head

    def test_a_split_with_a_rep_one_may_not_see_never_tells_whether_they_exist(
        self, api: Api
    ) -> None:
        """Li's estimate split with Chen (who exists) and with a rep who does not
        get the same 404 naming the split: neither's existence leaks (SPEC §5)."""
        answers = [
            _estimate(
                api,
                "rep",
                splits=[{"rep_id": "rep-li", "share": "0.5"}, {"rep_id": other, "share": "0.5"}],
            )
            for other in ("rep-chen", "ghost-rep")
        ]
        assert [a.status_code for a in answers] == [404, 404]
        assert [a.json()["field"] for a in answers] == ["splits[1].rep_id"] * 2
        assert answers[0].json()["detail"].replace("rep-chen", "X") == answers[1].json()[
            "detail"
        ].replace("ghost-rep", "X")
        own = _estimate(
            api,
            "finance",
            splits=[{"rep_id": "rep-li", "share": "0.5"}, {"rep_id": "rep-chen", "share": "0.5"}],
        )
        assert own.status_code == 200, own.text

    @pytest.mark.parametrize("who", ["other_rep", "other_manager"])
    def test_another_rep_or_team_is_404(self, api: Api, who: str) -> None:
        response = _estimate(api, who)
        assert response.status_code == 404, response.text
        assert "4000" not in response.text

    @pytest.mark.parametrize("who", ["compliance", "integration"])
    def test_other_roles_are_403(self, api: Api, who: str) -> None:
        assert _estimate(api, who).status_code == 403

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"date": "2026-11-31"}, "date"),
            ({"date": "2026-08-01"}, "date"),  # Q3 is paid
            ({"amount": "12.345"}, "amount"),
            ({"splits": [{"rep_id": "rep-li", "share": "0.3"}]}, "splits"),
        ],
    )
    def test_bad_input_is_422_naming_the_field(
        self, api: Api, body: dict[str, Any], field: str
    ) -> None:
        response = _estimate(api, "finance", **body)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field

    def test_an_unknown_rep_is_404(self, api: Api) -> None:
        assert _estimate(api, "finance", rep_id="rep-nobody").status_code == 404


def test_the_answers_are_the_read_sides_models_worded(api: Api) -> None:
    """`WhatIfOut` and `EstimateOut` are `projections.whatif`'s `WhatIf` and
    `Estimate` with their words: each real body validates into them (a paid
    period's row as a `PaidWhatIfRowOut`) and gives back every key it has."""
    whatif = _whatif(api, "finance")
    estimate = _estimate(api, "rep")
    assert (whatif.status_code, estimate.status_code) == (200, 200), (whatif.text, estimate.text)
    for model, body in ((schemas.WhatIfOut, whatif.json()), (schemas.EstimateOut, estimate.json())):
        parsed = model.model_validate(body)
        assert parsed.model_dump(mode="json", by_alias=True) == body
    rows = schemas.WhatIfOut.model_validate(whatif.json()).reps
    paid = {r.period for r in rows if isinstance(r, schemas.PaidWhatIfRowOut)}
    assert paid == {"2026-Q3"}  # the demo's paid quarter, and only it
    assert all(isinstance(r, schemas.WhatIfRowOut) for r in rows if r.period == "2026-Q4")
