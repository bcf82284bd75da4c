"""``as_of`` outside the ledger over HTTP: 422 naming the field, never clamped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import Api


class TestAsOfOverHttp:
    def test_beyond_the_head_is_422_naming_as_of(self, api: Api) -> None:
        url = "/reps/rep-li/statements/2026-Q3"
        response = api.client.get(url, params={"as_of": api.head() + 1}, headers=api.as_("finance"))
        assert response.status_code == 422
        body = response.json()
        assert body["field"] == "as_of"
        assert "beyond the ledger's head" in body["detail"]
        assert (
            api.client.get(
                url, params={"as_of": api.head()}, headers=api.as_("finance")
            ).status_code
            == 200
        )

    def test_position_zero_and_the_future_are_422(self, api: Api) -> None:
        url = "/reps/rep-li/statements/2026-Q3"
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        for as_of in ("0", tomorrow, "2000-01-01T00:00:00+00:00"):
            response = api.client.get(url, params={"as_of": as_of}, headers=api.as_("finance"))
            assert response.status_code == 422, as_of
            assert response.json()["field"] == "as_of"

    def test_a_diff_names_the_bound_that_is_outside(self, api: Api) -> None:
        response = api.client.get(
            "/reps/rep-li/statements/2026-Q3/diff",
            params={"from": 1, "to": api.head() + 10},
            headers=api.as_("finance"),
        )
        assert response.status_code == 422
        assert response.json()["field"] == "to"
