"""Warn, don't guess, over HTTP: POST /events answers each input's warnings;
the statement carries them (code, values, event ids, words)."""

from __future__ import annotations

from tests.api.conftest import Api


def _kpi_scored(kpi: str) -> dict[str, str]:
    """rep-li's score of 0.9 on ``kpi`` for 2026-Q4."""
    return {
        "type": "KpiScored",
        "occurred_at": "2026-11-28T17:00:00+08:00",
        "rep_id": "rep-li",
        "period": "2026-Q4",
        "kpi": kpi,
        "score": "0.9",
    }


class TestWarningsOverHttp:
    def test_an_unknown_kpi_is_stored_and_said(self, api: Api) -> None:
        response = api.client.post(
            "/events",
            json=[_kpi_scored("customer_satisfaction"), _kpi_scored("nsp")],
            headers=api.as_("manager"),
        )
        assert response.status_code == 201
        body = response.json()
        assert body["stored"] == 2
        assert body["events"][0]["warnings"] == []
        (warning,) = body["events"][1]["warnings"]
        assert (warning["code"], warning["field"], warning["values"]["kpi"]) == (
            "unknown_kpi",
            "kpi",
            "nsp",
        )
        assert warning["text"].startswith("KPI nsp is not in plan field-sales v1")

        statement = api.client.get(
            "/reps/rep-li/statements/2026-Q4", headers=api.as_("finance")
        ).json()
        (on_statement,) = statement["warnings"]
        assert on_statement["code"] == "unknown_kpi"
        assert on_statement["event_ids"] == [body["events"][1]["event_id"]]

    def test_a_lookalike_category_is_said(self, api: Api) -> None:
        response = api.client.post(
            "/events",
            json={
                "type": "SaleRecorded",
                "occurred_at": "2026-11-02T10:00:00+08:00",
                "sale_id": "S-SAAS",
                "rep_id": "rep-li",
                "amount": "1000.00",
                "currency": "CNY",
                "category": "Software",
            },
            headers=api.as_("integration"),
        )
        assert response.status_code == 201
        (warning,) = response.json()["events"][0]["warnings"]
        assert warning["code"] == "category_lookalike"
        assert warning["values"]["plan_category"] == "software"
