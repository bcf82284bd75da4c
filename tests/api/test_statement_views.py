"""A statement's views over HTTP (SPEC §4): ``?view=summary`` (subtotals per
kind and category, an ETag of its own), ``?offset=&limit=`` (pages of the full
view's steps), and a clear 422 naming the parameter for anything else."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from api.schemas import StatementOut
from tests.api.conftest import Api

PATH = "/reps/rep-li/statements/2026-Q3"


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for line in doc["lines"] for s in line["explanation"]]


class TestSummary:
    def test_the_summary_sums_up_the_full_view(self, api: Api) -> None:
        full = api.client.get(PATH, headers=api.as_("finance"))
        summary = api.client.get(f"{PATH}?view=summary", headers=api.as_("finance"))
        assert full.status_code == summary.status_code == 200, summary.text
        doc = summary.json()
        assert doc["view"] == "summary"
        assert doc["total"] == full.json()["total"]
        assert doc["steps"] == len(_steps(full.json()))
        assert sum(Decimal(x["amount"]) for x in doc["lines"]) == Decimal(doc["total"])
        keys = [(x["kind"], x["category"]) for x in doc["lines"]]
        assert ("commission", "software") in keys
        assert ("commission", "hardware") in keys
        assert doc["as_of"] == full.json()["as_of"]
        assert doc["chain_head"] == full.json()["chain_head"]
        # the response model describes it (the subtotals' keys kept as extras)
        assert StatementOut.model_validate(doc).model_dump(mode="json") == doc

    def test_a_paid_period_sums_up_what_was_paid(self, api: Api) -> None:
        """rep-li's Q3 is paid: its summary is of the recorded statement."""
        full = api.client.get(PATH, headers=api.as_("rep")).json()
        summary = api.client.get(f"{PATH}?view=summary", headers=api.as_("rep")).json()
        assert full["status"] == summary["status"] == "paid"
        assert summary["paid"] == full["paid"]
        assert summary["sha256"] == full["sha256"]
        assert summary["total"] == full["total"]

    def test_the_summary_has_its_own_etag(self, api: Api) -> None:
        headers = api.as_("finance")
        full = api.client.get(PATH, headers=headers)
        summary = api.client.get(f"{PATH}?view=summary", headers=headers)
        assert summary.headers["ETag"] != full.headers["ETag"]
        again = api.client.get(
            f"{PATH}?view=summary", headers={**headers, "If-None-Match": summary.headers["ETag"]}
        )
        assert again.status_code == 304
        assert again.content == b""
        stale = api.client.get(
            f"{PATH}?view=summary", headers={**headers, "If-None-Match": full.headers["ETag"]}
        )
        assert stale.status_code == 200
        assert stale.content == summary.content  # served again from what was kept: same bytes

    def test_the_summary_in_chinese(self, api: Api) -> None:
        zh = api.client.get(
            f"{PATH}?view=summary", headers={**api.as_("finance"), "Accept-Language": "zh-CN"}
        )
        en = api.client.get(f"{PATH}?view=summary", headers=api.as_("finance"))
        assert zh.status_code == 200, zh.text
        assert "小计" in zh.json()["lines"][0]["explanation"][0]["text"]
        assert [x["amount"] for x in zh.json()["lines"]] == [
            x["amount"] for x in en.json()["lines"]
        ]
        assert zh.headers["ETag"] != en.headers["ETag"]

    def test_as_of_a_position(self, api: Api) -> None:
        before = api.demo.adjustment_approval - 1
        doc = api.client.get(
            f"{PATH}?view=summary&as_of={before}", headers=api.as_("finance")
        ).json()
        assert doc["as_of"]["position"] == before
        assert not any(x["kind"] == "adjustment" for x in doc["lines"])

    def test_another_reps_summary_is_not_found(self, api: Api) -> None:
        response = api.client.get(
            "/reps/rep-chen/statements/2026-Q3?view=summary", headers=api.as_("rep")
        )
        assert response.status_code == 404


class TestPages:
    def test_the_pages_hold_every_step_once(self, api: Api) -> None:
        headers = api.as_("finance")
        full = api.client.get(PATH, headers=headers).json()
        seen: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = api.client.get(f"{PATH}?offset={offset}&limit=3", headers=headers)
            assert page.status_code == 200, page.text
            doc = page.json()
            assert doc["page"] == {
                "offset": offset,
                "limit": 3,
                "total": len(_steps(full)),
                "returned": len(_steps(doc)),
            }
            assert [x["amount"] for x in doc["lines"]] == [x["amount"] for x in full["lines"]]
            assert doc["total"] == full["total"]
            assert StatementOut.model_validate(doc).model_dump(mode="json") == doc
            seen += _steps(doc)
            offset += 3
            if offset >= doc["page"]["total"]:
                break
        assert seen == _steps(full)

    def test_a_line_says_where_its_steps_are(self, api: Api) -> None:
        doc = api.client.get(f"{PATH}?offset=2&limit=4", headers=api.as_("finance")).json()
        commission = doc["lines"][0]
        assert commission["explanation_offset"] == 2
        assert commission["explanation_count"] == len(commission["explanation"]) + 2
        shown = {e for s in commission["explanation"] for e in s["event_ids"]}
        assert set(commission["event_ids"]) == shown

    def test_only_a_limit_starts_at_zero(self, api: Api) -> None:
        doc = api.client.get(f"{PATH}?limit=2", headers=api.as_("finance")).json()
        assert doc["page"]["offset"] == 0
        assert doc["page"]["returned"] == 2

    def test_a_page_has_its_own_etag(self, api: Api) -> None:
        headers = api.as_("finance")
        one = api.client.get(f"{PATH}?offset=0&limit=2", headers=headers)
        two = api.client.get(f"{PATH}?offset=2&limit=2", headers=headers)
        assert one.headers["ETag"] != two.headers["ETag"]


class TestRefused:
    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("view=compact", "view"),
            ("view=", "view"),
            ("offset=-1", "offset"),
            ("offset=x", "offset"),
            ("offset=99999999999999999999999", "offset"),  # past a JSON number's exact range
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=many", "limit"),
            ("view=summary&offset=0", "offset"),
            ("view=summary&limit=10", "limit"),
        ],
    )
    def test_a_bad_parameter_is_422_naming_it(self, api: Api, query: str, field: str) -> None:
        response = api.client.get(f"{PATH}?{query}", headers=api.as_("finance"))
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error"] == "invalid"
        # FastAPI's validation names it first in the detail; a rule of the read
        # side, in its own "field"
        assert body.get("field") == field or body["detail"].startswith(f"{field}:"), body
